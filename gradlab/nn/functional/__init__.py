"""``gradlab.nn.functional`` (as ``torch.nn.functional``): the layers as plain functions, one file per topic.

The topics match ``nn/modules``: activation, loss, linear, conv, pooling,
normalization, dropout, sparse (embeddings), padding, vision (interpolation,
pixel and channel shuffle, fold and unfold), attention, distance, flatten.
Each function checks and normalises its arguments the way PyTorch does, then
calls one op from ``gradlab/ops`` (``ops/nn/<topic>.py``, ``ops/conv.py``,
``ops/pool.py``), where the forward and backward live.  The ``nn`` layers call
these functions.
"""
from . import activation, attention, conv, distance, dropout, flatten, linear, loss, normalization, padding
from . import pooling, sparse, vision

__all__ = [name for topic in (linear, conv, pooling, normalization, dropout, sparse, activation, loss, padding,
                              flatten, vision, distance, attention)
           for name in topic.__all__]

# F's namespace is torch.nn.functional's, functions only: F.linear is the function, not the topic file
del activation, attention, conv, distance, dropout, flatten, linear, loss, normalization, padding, pooling
del sparse, vision

from .activation import *  # noqa: E402,F401,F403
from .attention import *  # noqa: E402,F401,F403
from .conv import *  # noqa: E402,F401,F403
from .distance import *  # noqa: E402,F401,F403
from .dropout import *  # noqa: E402,F401,F403
from .flatten import *  # noqa: E402,F401,F403
from .linear import *  # noqa: E402,F401,F403
from .loss import *  # noqa: E402,F401,F403
from .loss import _legacy_reduction  # noqa: E402,F401  (the loss modules read it)
from .normalization import *  # noqa: E402,F401,F403
from .padding import *  # noqa: E402,F401,F403
from .pooling import *  # noqa: E402,F401,F403
from .sparse import *  # noqa: E402,F401,F403
from .vision import *  # noqa: E402,F401,F403


# PyTorch's keyword names and the NumPy ones it takes (input=, x=, axis=, keepdims=): ops/registry.py
from ...ops.registry import take_keyword_names as _take_keyword_names  # noqa: E402

_take_keyword_names(globals(), __all__)
