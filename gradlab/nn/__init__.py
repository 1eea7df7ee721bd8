"""Neural networks (as ``torch.nn``): ``Module``, ``Parameter``, the layers, ``init`` and ``functional``."""
from .parameter import Buffer, Parameter
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from . import functional, init, utils

__all__ = ["Parameter", "Buffer", "functional", "init", "utils"] + list(_modules_all)
