"""The layers: ``Module`` and the containers, then one file per layer family."""
from . import activation, batchnorm, container, conv, dropout, flatten, fold, linear, loss, pooling, sparse
from . import distance, normalization
from . import channelshuffle, padding, pixelshuffle, rnn, transformer, upsampling
from .channelshuffle import *  # noqa: F401,F403
from . import padding3d
from .padding3d import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .batchnorm import *  # noqa: F401,F403
from .container import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .flatten import *  # noqa: F401,F403
from .fold import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .module import Module
from .normalization import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .pixelshuffle import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from .upsampling import *  # noqa: F401,F403

__all__ = ["Module"] + [name for family in (container, linear, conv, pooling, batchnorm, activation, dropout,
                                            flatten, fold, sparse, loss, normalization, padding,
                                            pixelshuffle, upsampling, rnn, distance, transformer, channelshuffle,
                                            padding3d)
                                  for name in family.__all__]
