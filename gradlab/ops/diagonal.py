"""Diagonals and triangles: diag, diagonal, tril, triu, diag_embed, diagflat and the triangle indices."""
import numpy as np

from .._tensor import Tensor
from ..autograd.record import record
from ._common import normalize_dim
from .registry import op
from .shape import _view



@op()
def diag(a, diagonal=0):
    if a._data.ndim == 1:
        out = np.diag(a._data, diagonal)
        return record(out, "DiagEmbedBackward0", lambda g: (g.diagonal(diagonal),), (a,))
    if a._data.ndim != 2:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {a._data.ndim}D")
    out = _diagonal_of(a._data, diagonal, 0, 1).copy()  # PyTorch's diag copies a matrix's diagonal
    return record(out, "DiagonalBackward0_copy",
                  lambda g: (_diagonal_backward(g, a._data.shape, diagonal, 0, 1),), (a,))


@op()
def diagonal(a, offset=0, dim1=0, dim2=1):
    """The diagonal as a view, as in PyTorch: ``x.diagonal().fill_(0)`` clears x's diagonal."""
    nd = a._data.ndim
    d1, d2 = normalize_dim(dim1, nd, "diagonal"), normalize_dim(dim2, nd, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    shape = a._data.shape
    return _view(_diagonal_of(a._data, offset, d1, d2), "DiagonalBackward0",
                 lambda g: (_diagonal_backward(g, shape, offset, d1, d2),), a,
                 lambda t: t.diagonal(offset, d1, d2))


def _diagonal_of(x, offset, d1, d2):
    """A writable NumPy view of x's diagonal (np.diagonal's own view is read-only).

    The diagonal goes last; ``offset`` > 0 starts it ``offset`` steps along
    d2, < 0 along d1.
    """
    start = [slice(None)] * x.ndim
    start[d2 if offset >= 0 else d1] = slice(abs(offset), None)
    shifted = x[tuple(start)]  # its first element is the diagonal's first
    read_only = np.diagonal(shifted, 0, d1, d2)
    return np.lib.stride_tricks.as_strided(shifted, read_only.shape, read_only.strides,
                                           writeable=x.flags.writeable)


def _diagonal_backward(g, shape, offset, d1, d2):
    """g on the diagonal of zeros: a copy into a diagonal view, itself differentiable."""
    grad = Tensor._wrap(np.zeros(shape, dtype=g._data.dtype))
    diagonal(grad, offset, d1, d2).copy_(g)
    return grad


def _check_matrices(a, op):
    if a._data.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions, got shape {list(a._data.shape)}")


@op(inplace=True)
def tril(a, diagonal=0):
    """The lower triangle of the last two dims (at and below ``diagonal``), zeros above."""
    return _triangle(a, diagonal, np.tril, "tril", "TrilBackward0")


@op(inplace=True)
def triu(a, diagonal=0):
    """The upper triangle of the last two dims (at and above ``diagonal``), zeros below."""
    return _triangle(a, diagonal, np.triu, "triu", "TriuBackward0")


def _triangle(a, diagonal, np_fn, op, node):
    _check_matrices(a, op)
    mask = np_fn(np.ones(a._data.shape[-2:], dtype=bool), diagonal)
    return record(np.where(mask, a._data, 0).astype(a._data.dtype), node,
                  lambda g: (getattr(g, op)(diagonal),), (a,))


@op()
def diag_embed(a, offset=0, dim1=-2, dim2=-1):
    """Each row (last axis) of ``a`` put on the ``offset`` diagonal of a new matrix in dims (dim1, dim2)."""
    nd = a._data.ndim + 1
    d1, d2 = normalize_dim(dim1, nd, "diag_embed"), normalize_dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    n = a._data.shape[-1] + abs(offset)
    rest = iter(a._data.shape[:-1])
    shape = tuple(n if i in (d1, d2) else next(rest) for i in range(nd))
    out = np.zeros(shape, dtype=a._data.dtype)
    _diagonal_of(out, offset, d1, d2)[...] = a._data
    return record(out, "DiagEmbedBackward0", lambda g: (diagonal(g, offset, d1, d2),), (a,))


@op()
def diagflat(a, offset=0):
    """The flattened ``a`` on the ``offset`` diagonal of a square matrix."""
    return diag_embed(a.reshape(-1), offset, 0, 1)


def _triangle_indices(row, col, offset, dtype, op, np_fn):
    from .. import _dtype
    if row < 0:
        raise RuntimeError(f"{op}: row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"{op}: col must be non-negative, got{col}")
    np_dtype = _dtype.to_numpy_dtype(dtype) if dtype is not None else np.dtype(np.int64)
    if np_dtype.kind not in "iu":
        raise NotImplementedError(f'"{op}" not implemented for {dtype}: it gives indices, int32 or int64')
    rows, cols = np_fn(row, offset, col)
    return Tensor._wrap(np.stack([rows, cols]).astype(np_dtype).reshape(2, -1))


@op(method=False)
def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (row, column) indices of the lower triangle of a row x col matrix, row by row (a 2 x N tensor)."""
    return _triangle_indices(row, col, offset, dtype, "tril_indices", np.tril_indices)


@op(method=False)
def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (row, column) indices of the upper triangle of a row x col matrix, row by row (a 2 x N tensor)."""
    return _triangle_indices(row, col, offset, dtype, "triu_indices", np.triu_indices)
