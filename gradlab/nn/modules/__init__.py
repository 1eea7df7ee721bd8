"""The layers: ``Module`` and the containers, then one file per topic, as ``nn/functional``."""
from . import activation, attention, container, conv, distance, dropout, flatten, lazy, linear, loss
from . import normalization
from . import padding, pooling, rnn, sparse, transformer, vision
from .activation import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .container import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .flatten import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .module import Module
from .normalization import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from .vision import *  # noqa: F401,F403

__all__ = ["Module"] + [name for topic in (container, linear, conv, pooling, normalization, activation, attention,
                                           dropout, flatten, sparse, loss, padding, vision, rnn, distance,
                                           transformer)
                        for name in topic.__all__]
