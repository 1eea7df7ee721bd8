"""The neural-network ops, one file per topic, as ``nn/functional`` and ``nn/modules``.

activation, loss, normalization (batch, layer, group norm), dropout,
embedding (and embedding bags), padding, linear, distance (pdist), pooling
(max unpooling), vision (interpolation, pixel and channel shuffle).  Each op
computes its forward on arrays and records one node whose backward is the
derivative in closed form; each is declared with the registry decorator.
"""
from . import activation, distance, dropout, embedding, linear, loss  # noqa: F401
from . import normalization, padding, pooling, vision  # noqa: F401
