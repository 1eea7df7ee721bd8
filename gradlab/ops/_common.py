"""Helpers shared by the op files: operand conversion and un-broadcasting."""
import numbers

import numpy as np

from .. import _dtype
from .._tensor import Tensor

_DEFAULT_FLOAT = _dtype._default


def as_tensor_operand(x, like=None):
    """A Tensor for ``x`` (a Tensor, array or nested list); Python scalars stay scalars."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, int, float)):
        return x
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, numbers.Number):
        return float(x)
    from .._tensor import tensor
    return tensor(x)


def promote(a, b):
    """Two Tensors of PyTorch's common dtype for a binary op on ``a`` and ``b``.

    Python scalars become zero-dim tensors of that dtype (they never widen a
    float32 tensor; an int tensor with a float scalar becomes float32).
    """
    a = as_tensor_operand(a)
    b = as_tensor_operand(b)
    a_is_t = isinstance(a, Tensor)
    b_is_t = isinstance(b, Tensor)
    if a_is_t and b_is_t:
        if a._data.dtype == b._data.dtype:
            return a, b
        dt = _dtype.result_type(a._data, b._data)
        return a.to(dt), b.to(dt)
    # astype wraps an out-of-range int as PyTorch does (uint8 tensor + 300), where np.array(300, uint8) raises
    if a_is_t:
        dt = _dtype.result_type(a._data, b)
        return a.to(dt), Tensor._wrap(np.asarray(b).astype(dt))
    dt = _dtype.result_type(a, b._data)
    return Tensor._wrap(np.asarray(a).astype(dt)), b.to(dt)


def sum_to(g, shape):
    """Sum gradient ``g`` down to ``shape``: undo broadcasting (one helper for every op)."""
    if g._data.shape == shape:
        return g
    lead = g._data.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g._data.shape[lead + i] != 1)
    if dims:
        g = g.sum(dims)
    return g.reshape(shape) if g._data.shape != shape else g


def normalize_dim(dim, ndim, op="op"):
    """A non-negative axis for ``dim``, with PyTorch's error for an out-of-range one."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def normalize_dims(dim, ndim, op="op"):
    """A sorted tuple of axes for ``dim`` (None, int, or a sequence)."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    axes = tuple(sorted(normalize_dim(int(d), ndim, op) for d in dims))
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"{op}: dim {axes[0]} appears multiple times in the list of dims {list(dims)}")
    # a zero-dim tensor accepts dim 0 / -1, but has no axis to reduce
    return axes if ndim else ()


def shape_arg(args):
    """Shapes given as ``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    return tuple(int(s) for s in args)


def broadcast_error(op, a, b):
    return RuntimeError(
        f"{op}: the size of tensor a ({list(a)}) must match the size of tensor b ({list(b)}): "
        f"shapes {tuple(a)} and {tuple(b)} are not broadcastable")
