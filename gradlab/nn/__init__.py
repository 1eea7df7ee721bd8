"""Neural networks (as ``torch.nn``): ``Module``, ``Parameter``, the layers, ``init`` and ``functional``."""
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from . import functional, init, parameter, utils

__all__ = (["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer", "functional", "init", "utils"]
           + list(_modules_all))
