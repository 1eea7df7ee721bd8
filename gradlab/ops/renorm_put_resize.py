"""``renorm`` (cap the norm of each slice), ``put`` (write values at flat indices) and ``resize_``
(change a tensor's shape in place, keeping its data in order)."""
import math

import numpy as np

from .._tensor import Tensor
from ..autograd.function import record
from . import elementwise as ew
from .registry import op


# ---- renorm -------------------------------------------------------------------------------------
def _slice_norm(x, p, dims):
    """The p-norm of each slice (summing over ``dims``, kept as size-1 axes)."""
    if p == math.inf:
        return x.abs().amax(dim=dims, keepdim=True)
    return x.abs().pow(p).sum(dim=dims, keepdim=True).pow(1.0 / p)


@op(inplace=True)
def renorm(a, p, dim, maxnorm):
    """Each slice a.select(dim, i) scaled down to p-norm maxnorm if its norm is above it (others unchanged).

    The factor is maxnorm / (norm + 1e-7), as PyTorch.
    """
    if a.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {a.ndim} dimensions")
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if a._data.dtype.kind != "f":
        raise RuntimeError(f"renorm: expected a floating-point tensor, got {a.dtype}")
    dim = dim % a.ndim
    dims = tuple(d for d in range(a.ndim) if d != dim)
    x = Tensor._wrap(a._data)
    norm = _slice_norm(x, p, dims)
    over = norm > maxnorm
    factor = ew.where(over, maxnorm / (norm + 1e-7), 1.0)

    def backward(g):
        # out = a * factor(norm(a)): the product rule, factor' = -maxnorm / (norm + 1e-7)^2 where capped
        norm = _slice_norm(a, p, dims)
        factor = ew.where(over, maxnorm / (norm + 1e-7), 1.0)
        d_factor = ew.where(over, -maxnorm / (norm + 1e-7) ** 2, 0.0)
        if p == math.inf:
            d_norm = a.sign() * (a.abs() == norm)
        else:
            safe = ew.where(norm == 0, 1.0, norm)
            d_norm = a.sign() * (a.abs() / safe).pow(p - 1)
        return (g * factor + d_norm * d_factor * (g * a).sum(dim=dims, keepdim=True),)
    return record((x * factor)._data, "RenormBackward0", backward, (a,), saved=(a,))


# ---- put ----------------------------------------------------------------------------------------
def _check_put(a, index, source):
    if index._data.dtype != np.int64:
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got {index.dtype}")
    if source._data.dtype != a._data.dtype:
        raise RuntimeError(f"put_(): self ({a.dtype}) and source ({source.dtype}) must have the same scalar type")
    if index.numel() != source.numel():
        raise IndexError(f"put_(): Expected source and index to have the same number of elements, but got "
                         f"source.numel() = {source.numel()}, index.numel() = {index.numel()}")
    n = a.numel()
    flat = index._data.reshape(-1)
    bad = flat[(flat >= n) | (flat < -n)]
    if bad.size:
        raise IndexError(f"out of range: tried to access index {bad[0]} on a tensor of {n} elements.")
    return flat % n if n else flat


@op(inplace=True)
def put(a, index, source, accumulate=False):
    """A copy of ``a`` (seen flat) with source's values written at ``index`` (added there if accumulate)."""
    flat_idx = _check_put(a, index, source)
    out = a._data.copy()
    values = source._data.reshape(-1)
    if accumulate:
        np.add.at(out.reshape(-1), flat_idx, values)
    else:
        out.reshape(-1)[flat_idx] = values
    idx_t = Tensor._wrap(flat_idx)

    def backward(g):
        grad_a = grad_source = None
        if a._requires_grad:  # overwritten places do not reach a
            grad_a = g if accumulate else put(g, idx_t, g.new_zeros(idx_t.shape))
        if source._requires_grad:
            grad_source = g.reshape(-1).index_select(0, idx_t).reshape(source.shape)
        return grad_a, grad_source
    return record(out, "PutBackward0", backward, (a, source))


# ---- resize_ ------------------------------------------------------------------------------------
@op(function=False)
def resize_(a, *sizes, memory_format=None):
    """``a`` reshaped in place to ``sizes``, its elements kept in order; new elements are zeros
    (PyTorch leaves them uninitialised).  Refused for tensors that require grad, as PyTorch."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    sizes = tuple(int(s) for s in sizes)
    if a._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"resize_: Trying to create tensor with negative dimension {min(sizes)}: {list(sizes)}")
    n = int(np.prod(sizes))
    flat = a._data.reshape(-1)  # (a view when a is contiguous, so that shrinking keeps sharing memory)
    if n <= flat.size and np.shares_memory(flat, a._data):
        a._data = flat[:n].reshape(sizes)
    else:
        data = np.zeros(n, dtype=a._data.dtype)
        data[:min(n, flat.size)] = flat[:n]
        a._data = data.reshape(sizes)
    a._version_counter[0] += 1
    return a
