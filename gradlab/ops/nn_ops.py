"""The old home of the nn ops, now in ``gradlab/ops/nn/`` by topic; its names, re-exported."""
from .elementwise import relu  # noqa: F401
from .nn.activation import *  # noqa: F401,F403
from .nn.distance import *  # noqa: F401,F403
from .nn.dropout import *  # noqa: F401,F403
from .nn.embedding import *  # noqa: F401,F403
from .nn.linear import *  # noqa: F401,F403
from .nn.loss import *  # noqa: F401,F403
from .nn.normalization import batch_norm_eval, batch_norm_train  # noqa: F401
from .nn.padding import *  # noqa: F401,F403
