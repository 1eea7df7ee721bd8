"""``apply_`` and ``map_``: a plain Python function run on every element, in place.

As in PyTorch these are outside autograd: they refuse tensors that require
grad, and, like PyTorch's, they do not bump the version counter.  Each
element reaches the function as a Python number (int, float or bool, by the
tensor's dtype) and the result is stored back converted to that dtype
(a float stored into an integer tensor is truncated).
"""
import numbers

import numpy as np

from .._tensor import Tensor
from ._common import check_writeable
from .registry import op


def _refuse_grad(op, *tensors):
    if any(t._requires_grad for t in tensors):
        raise RuntimeError(f"Can't call {op}() on Variable that requires grad. Use var.detach().{op}() instead.")


def _storable(value, dtype, op):
    """``value`` (a function's result) as a number of ``dtype``, with PyTorch's errors."""
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: must be real number, not {type(value).__name__}")
    if dtype.kind == "b":
        return bool(value)
    if dtype.kind in "iu":
        value = int(value)
        info = np.iinfo(dtype)
        if not info.min <= value <= info.max:
            raise RuntimeError(f"{op}: value cannot be converted to type {dtype} without overflow")
    return value


@op(function=False)
def apply_(a, callable):
    """Replace each element x of ``a`` by ``callable(x)``; returns ``a``."""
    _refuse_grad("apply_", a)
    check_writeable(a)
    x = a._data
    for position in np.ndindex(x.shape):
        x[position] = _storable(callable(x[position].item()), x.dtype, "apply_")
    return a


@op(function=False)
def map_(a, other, callable):
    """Replace each element x of ``a`` by ``callable(x, y)``, y the matching element of ``other``
    (broadcast to a's shape); returns ``a``."""
    if not isinstance(other, Tensor):
        raise TypeError(f"map_(): argument 'other' (position 1) must be Tensor, not {type(other).__name__}")
    if other._data.dtype != a._data.dtype:
        raise TypeError(f"map_: expected {a.dtype.tensor_type} for 'other' (got {other.dtype.tensor_type})")
    _refuse_grad("map_", a, other)
    check_writeable(a)
    try:
        others = np.broadcast_to(other._data, a._data.shape)
    except ValueError:
        raise RuntimeError(f"map_: The expanded size of the tensor ({list(a._data.shape)}) must match the existing "
                           f"size of other ({list(other._data.shape)}): other must broadcast to the tensor's shape") \
            from None
    x = a._data
    for position in np.ndindex(x.shape):
        x[position] = _storable(callable(x[position].item(), others[position].item()), x.dtype, "map_")
    return a
