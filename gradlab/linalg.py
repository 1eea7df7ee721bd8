"""``gradlab.linalg``: the ``torch.linalg`` namespace.

The decompositions and their backwards live in ``gradlab/ops/decompositions.py``,
the products, det and inverses in ``gradlab/ops/linalg.py`` (each backward
beside its forward); this module gives them PyTorch's names and arguments and
builds the norms, ranks and products from them.
"""
from collections import namedtuple

import numpy as np

from ._tensor import Tensor
from .ops import decompositions as _decompositions
from .ops import linalg as _ops
from .ops import reduce as _reduce
from .ops._common import normalize_dim

__all__ = ["vector_norm", "matrix_norm", "norm", "inv", "det", "slogdet", "solve", "lstsq", "qr", "svd", "svdvals",
           "eigh", "eigvalsh", "cholesky", "pinv", "matrix_rank", "matrix_power", "cross", "multi_dot", "vecdot",
           "matmul", "LinAlgError"]


LinAlgError = _ops.LinAlgError  # singular or not positive-definite input (a RuntimeError)
inv, det, matmul, matrix_power = _ops.inverse, _ops.det, _ops.matmul, _ops.matrix_power
solve, lstsq, qr, svd, svdvals = (_decompositions.solve, _decompositions.lstsq, _decompositions.qr,
                                  _decompositions.svd, _decompositions.svdvals)
eigh, eigvalsh, cholesky = _decompositions.eigh, _decompositions.eigvalsh, _decompositions.cholesky


slogdet_result = namedtuple("linalg_slogdet", ["sign", "logabsdet"])


def slogdet(A):
    """(sign, log|det|) of each square matrix, as gradlab.slogdet (named linalg_slogdet, as PyTorch's)."""
    return slogdet_result(*_ops.slogdet(A))


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """(sum |x|^ord)^(1/ord) over ``dim`` (all elements by default); ord = inf / -inf: max / min |x|."""
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: Expected a number as ord, but got {ord!r}")
    return _reduce.norm(x, ord, dim, keepdim, dtype)


def _matrix_dims(A, dim, op):
    if A._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if len(dim) != 2:
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {tuple(dim)}")
    dims = tuple(normalize_dim(d, A._data.ndim, op) for d in dim)
    if dims[0] == dims[1]:
        raise RuntimeError(f"{op}: dims must be different. Got ({dim[0]}, {dim[1]})")
    return dims


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """The matrix norm over the two dims ``dim``: 'fro', 'nuc' (the sum of the singular values), 2 / -2
    (the largest / smallest one), inf / -inf (max / min absolute row sum), 1 / -1 (... column sum)."""
    if dtype is not None:
        A = A.to(dtype)
    rows, cols = _matrix_dims(A, dim, "linalg.matrix_norm")
    if ord == "fro":
        return _reduce.norm(A, 2, (rows, cols), keepdim)
    if ord not in ("nuc", 2, -2, 1, -1, float("inf"), float("-inf")):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if A._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.matrix_norm: Expected a floating point or complex tensor as input. Got {A.dtype}")
    if ord in ("nuc", 2, -2):
        s = svdvals(A.movedim((rows, cols), (-2, -1)))
        out = s.sum(-1) if ord == "nuc" else s.amax(-1) if ord == 2 else s.amin(-1)
    else:
        summed, other = (cols, rows) if abs(ord) == float("inf") else (rows, cols)
        if not keepdim and other > summed:
            other -= 1  # the sum removed a dim before it
        sums = A.abs().sum(summed, keepdim=keepdim)
        return sums.amax(other, keepdim=keepdim) if ord > 0 else sums.amin(other, keepdim=keepdim)
    if keepdim:
        for d in sorted((rows, cols)):
            out = out.unsqueeze(d)
    return out


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """A vector norm (ord a number, or None = 2 over all elements) or a matrix norm (ord a string, or a
    2-tuple dim), as torch.linalg.norm chooses."""
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 2 or (dim is None and ord is not None and A._data.ndim == 2):
        return matrix_norm(A, "fro" if ord is None else ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    if dim is None and ord is not None and A._data.ndim != 1:
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                           f"{A._data.ndim}D.")
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.norm: ord={ord!r} needs a matrix (a 2D input or a 2-tuple dim)")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """The pseudo-inverse, dropping singular values <= max(atol, rtol * the largest); rtol defaults to
    eps * max(m, n) when neither is given (as PyTorch)."""
    if A._data.ndim < 2:
        raise RuntimeError("linalg.pinv: The input tensor A must have at least 2 dimensions.")
    return _ops.pinv_with_tolerance(A, *_tolerances(A, atol, rtol))


def _tolerances(A, atol, rtol):
    atol = 0.0 if atol is None else float(atol)
    if rtol is None:
        rtol = np.finfo(A._data.dtype).eps * max(A._data.shape[-2:]) if atol == 0 else 0.0
    return atol, float(rtol)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """The number of singular values > max(atol, rtol * the largest) of each matrix (int64, no gradient)."""
    if A._data.ndim < 2:
        raise RuntimeError("linalg.matrix_rank: The input tensor A must have at least 2 dimensions.")
    if A._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.matrix_rank: Expected a floating point or complex tensor as input. Got {A.dtype}")
    atol, rtol = _tolerances(A, atol, rtol)
    s = np.linalg.svd(A._data, compute_uv=False)
    largest = s[..., :1] if s.shape[-1] else np.zeros(s.shape[:-1] + (1,), s.dtype)
    return Tensor._wrap(np.asarray((s > np.maximum(atol, rtol * largest)).sum(-1), dtype=np.int64))


def cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along ``dim`` (-1 by default)."""
    return _ops.cross(input, other, dim)


def multi_dot(tensors):
    """The product of the matrices in order (the first may be a row vector, the last a column vector),
    computed left to right."""
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        expected = (1, 2) if i in (0, len(tensors) - 1) else (2,)
        if t._data.ndim not in expected:
            raise RuntimeError(f"multi_dot(): tensor {i} must be {'1D or ' if len(expected) == 2 else ''}2D but "
                               f"got {t._data.ndim}D")
    for i in range(len(tensors) - 1):
        a, b = tensors[i]._data.shape, tensors[i + 1]._data.shape
        if a[-1] != b[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {list(a)} and {list(b)} cannot be "
                               "multiplied")
    out = tensors[0]
    for t in tensors[1:]:
        out = _ops.matmul(out, t)
    return out


def vecdot(x, y, *, dim=-1):
    """The dot product of x and y along ``dim`` (batch dims broadcast)."""
    if x._data.ndim == 1 and y._data.ndim == 1:
        return _ops.vdot(x, y)
    return (x * y).sum(dim)


# PyTorch's keyword names and the NumPy ones it takes (input=, x=, axis=, keepdims=): ops/registry.py
from .ops.registry import take_keyword_names as _take_keyword_names  # noqa: E402

_take_keyword_names(globals(), __all__)
