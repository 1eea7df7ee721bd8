"""Padding layers: a border of constants, zeros, a reflection, a replica of the edge, or a wrap-around.

Each is ``F.pad`` with a fixed amount: an int pads every side of the last one
(1d), two (2d) or three (3d) axes; a tuple is (left, right[, top, bottom[, front, back]]).
"""
from .. import functional as F
from .module import Module

__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d",
           "CircularPad2d"]


def _amounts(padding, dims):
    """An int repeated for both sides of ``dims`` axes, or the given tuple."""
    if isinstance(padding, (tuple, list)):
        return tuple(padding)
    return (padding,) * (2 * dims)


class _Pad(Module):
    """F.pad(input, padding, mode); ``dims`` is the number of padded axes."""

    mode = "constant"
    dims = 2

    def __init__(self, padding):
        super().__init__()
        self.padding = _amounts(padding, self.dims)

    def forward(self, input):
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPad(_Pad):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class _ZeroPad:
    """A constant padding layer whose constant is zero (mixed in before the ConstantPad class)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ConstantPad1d(_ConstantPad):
    """Pad the last axis with ``value``."""
    dims = 1


class ConstantPad2d(_ConstantPad):
    """Pad the last two axes with ``value``."""
    dims = 2


class ZeroPad1d(_ZeroPad, ConstantPad1d):
    """Pad the last axis with zeros."""


class ZeroPad2d(_ZeroPad, ConstantPad2d):
    """Pad the last two axes with zeros."""


class ConstantPad3d(_ConstantPad):
    """Pad the last three axes with ``value``."""
    dims = 3


class ZeroPad3d(_ZeroPad, ConstantPad3d):
    """Pad the last three axes with zeros."""


class ReflectionPad1d(_Pad):
    """Pad the last axis with its mirror image (the edge itself not repeated): 1 2 3 -> 2 1 2 3 2."""
    mode, dims = "reflect", 1


class ReflectionPad2d(_Pad):
    """Pad the last two axes with their mirror image (the edge itself not repeated)."""
    mode, dims = "reflect", 2


class ReplicationPad1d(_Pad):
    """Pad the last axis by repeating its edge values: 1 2 3 -> 1 1 2 3 3."""
    mode, dims = "replicate", 1


class ReplicationPad2d(_Pad):
    """Pad the last two axes by repeating their edge values."""
    mode, dims = "replicate", 2


class _CircularPad(_Pad):
    mode = "circular"

    def forward(self, input):
        if input.ndim not in (self.dims + 1, self.dims + 2):
            raise ValueError(f"expected {self.dims + 1}D or {self.dims + 2}D input (got {input.ndim}D input)")
        return F.pad(input, self.padding, "circular")


class CircularPad1d(_CircularPad):
    """Pad the last axis by wrapping around: 1 2 3 -> 3 1 2 3 1."""
    dims = 1


class CircularPad2d(_CircularPad):
    """Pad the last two axes by wrapping around (a torus)."""
    dims = 2
