"""``ConstantPad3d`` and ``ZeroPad3d``: a border of constants (or zeros) around the last three axes of an
(N, C, D, H, W) or (C, D, H, W) input; a tuple is (left, right, top, bottom, front, back)."""
from .padding import _ConstantPad

__all__ = ["ConstantPad3d", "ZeroPad3d"]


class ConstantPad3d(_ConstantPad):
    """Pad the last three axes with ``value``."""
    dims = 3


class ZeroPad3d(ConstantPad3d):
    """Pad the last three axes with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"
