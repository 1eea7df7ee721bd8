"""The former home of the elementwise ops, kept so that old imports work: they live in
``arithmetic.py`` (binary math), ``compare.py`` (comparisons, logic, where) and ``unary.py``."""
from . import _common, arithmetic, compare, unary

_RENAMED = {"_broadcasting": _common.broadcasting, "_not_implemented": _common.not_implemented}


def __getattr__(name):
    if name in _RENAMED:
        return _RENAMED[name]
    for module in (arithmetic, compare, unary):
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"module 'gradlab.ops.elementwise' has no attribute '{name}'")
