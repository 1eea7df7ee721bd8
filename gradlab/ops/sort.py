"""Ops that order values: sort, argsort, msort, topk, unique, kthvalue, mode, median and nanmedian."""
import numpy as np

from .._tensor import Tensor
from ..autograd.record import record
from ._common import normalize_dim
from .reduce import _RESULTS, _extreme, scatter_into_zeros, values_indices
from .registry import op



@op()
def median(a, dim=None, keepdim=False):
    """The lower of the two middle values (PyTorch's median does not average); NaN where there is one."""
    if dim is None and a._data.size == 0:
        return Tensor._wrap(np.array(np.nan, dtype=a._data.dtype))
    return _extreme(a, dim, keepdim, lambda x: x.reshape(-1)[_median_index(x.reshape(-1), 0)], _median_index,
                    "median", nodes=("Backward1", "Backward0"))


def _median_index(x, axis):
    """Where the lower median of x along ``axis`` sits (of equal values, the one a stable sort puts there)."""
    order = np.argsort(x, axis=axis, kind="stable")
    index = np.take(order, (x.shape[axis] - 1) // 2, axis=axis)
    if x.dtype.kind == "f":  # a NaN is the median of its row, as in PyTorch
        nan = np.isnan(x)
        index = np.where(nan.any(axis=axis), np.argmax(nan, axis=axis), index)
    return index


# ---- sorting ------------------------------------------------------------------------------------------
def _sort_order(x, d, descending):
    """Indices that sort x along d, stably (equal values keep their order, also when descending)."""
    if not descending:
        return np.argsort(x, axis=d, kind="stable")
    # sort the reversed array ascending, then reverse: ties come out in their original order
    reversed_order = np.argsort(np.flip(x, d), axis=d, kind="stable")
    return x.shape[d] - 1 - np.flip(reversed_order, d)


def _taken(a, idx, d, name):
    """a's values at ``idx`` along d (sort, topk); the gradient goes back to where each value came from."""
    shape = a._data.shape
    x = a._data if shape else a._data.reshape(1)
    values = np.take_along_axis(x, idx, d)
    index = Tensor._wrap(idx)

    def backward(g):
        return (scatter_into_zeros(g, index, d, shape),)
    return record(values if shape or values.size != 1 else values.reshape(()), name, backward, (a,))


@op()
def sort(a, dim=-1, descending=False, stable=None):
    """(values, indices) sorted along ``dim``; equal values keep their order."""
    d = normalize_dim(dim, a._data.ndim, "sort")
    x = a._data if a._data.ndim else a._data.reshape(1)
    idx = _sort_order(x, d, descending)
    values = _taken(a, idx, d, "SortBackward0" if stable is None else "SortBackward1")
    return values_indices(values, Tensor._wrap(idx.astype(np.int64).reshape(values._data.shape)))


@op()
def argsort(a, dim=-1, descending=False, stable=False):
    return sort(a, dim, descending)[1]


@op()
def unique(a, sorted=True, return_inverse=False, return_counts=False, dim=None):
    res = np.unique(a._data, return_inverse=return_inverse, return_counts=return_counts, axis=dim)
    if not (return_inverse or return_counts):
        return Tensor._wrap(res)
    out = [Tensor._wrap(res[0])]
    out += [Tensor._wrap(r.reshape(a._data.shape) if i == 1 and return_inverse else r).long() for i, r in
            enumerate(res[1:], 1)]
    return tuple(out)


@op()
def topk(a, k, dim=-1, largest=True, sorted=True):
    """The k largest (or smallest) values along ``dim``, sorted, and their indices."""
    d = normalize_dim(dim, a._data.ndim, "topk")
    x = a._data if a._data.ndim else a._data.reshape(1)
    if not 0 <= k <= x.shape[d]:
        raise RuntimeError(f"topk(): selected index k out of range (k={k}, but dimension {d} of the input "
                           f"has size {x.shape[d]})")
    idx = np.take(_sort_order(x, d, largest), np.arange(k), axis=d)
    values = _taken(a, idx, d, "TopkBackward0")
    return values_indices(values, Tensor._wrap(idx.astype(np.int64).reshape(values._data.shape)))


def _check_reduction_size(a, d, name):
    if a._data.ndim and a._data.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size "
                         f"(input shape {list(a._data.shape)}).")


@op()
def kthvalue(a, k, dim=-1, keepdim=False):
    """The k-th smallest value along ``dim`` (k counts from 1) and its index."""
    dim = -1 if dim is None else dim
    d = normalize_dim(dim, a._data.ndim, "kthvalue")
    _check_reduction_size(a, d, "kthvalue")
    size = a._data.shape[d] if a._data.ndim else 1
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d} "
                           f"(k={k}, but the dimension has size {size})")

    def kth_index(x, axis):
        return np.take(np.argsort(x, axis=axis, kind="stable"), k - 1, axis=axis)
    return _extreme(a, d, keepdim, None, kth_index, "kthvalue", result=_RESULTS["kthvalue"])


@op()
def mode(a, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` (the smallest of equally frequent ones) and the index of its last
    occurrence, as PyTorch."""
    d = normalize_dim(dim, a._data.ndim, "mode")
    _check_reduction_size(a, d, "mode")
    return _extreme(a, d, keepdim, None, _mode_index, "mode", result=_RESULTS["mode"])


def _mode_index(x, axis):
    rows = np.moveaxis(x, axis, -1)
    n = rows.shape[-1]
    ordered = np.sort(rows, axis=-1)
    starts = np.ones(ordered.shape, dtype=bool)
    starts[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    positions = np.arange(n)
    run_start = np.maximum.accumulate(np.where(starts, positions, 0), axis=-1)
    ends = np.ones(ordered.shape, dtype=bool)
    ends[..., :-1] = starts[..., 1:]
    run_end = np.flip(np.minimum.accumulate(np.flip(np.where(ends, positions, n - 1), -1), axis=-1), -1)
    best = np.argmax(run_end - run_start, axis=-1)  # the first longest run: the smallest of the most frequent
    value = np.take_along_axis(ordered, best[..., None], -1)
    last = n - 1 - np.argmax(np.flip(rows == value, -1), axis=-1)
    return last


@op()
def nanmedian(a, dim=None, keepdim=False):
    """``median`` ignoring NaN: the lower median of the other values (NaN only where all are NaN)."""
    if dim is None and a._data.size == 0:
        return Tensor._wrap(np.array(np.nan, dtype=a._data.dtype))
    return _extreme(a, dim, keepdim, lambda x: x.reshape(-1)[_nanmedian_index(x.reshape(-1), 0)],
                    _nanmedian_index, "nanmedian", nodes=("Backward1", "Backward0"), result=_RESULTS["nanmedian"])


def _nanmedian_index(x, axis):
    """Where the lower median of the non-NaN values of x along ``axis`` sits (NaNs sort last)."""
    order = np.argsort(x, axis=axis, kind="stable")
    if x.dtype.kind == "f":
        counts = np.sum(~np.isnan(x), axis=axis)
    else:
        counts = np.full(np.delete(x.shape, axis), x.shape[axis])
    middle = np.expand_dims(np.maximum(counts - 1, 0) // 2, axis)
    return np.squeeze(np.take_along_axis(order, middle, axis), axis)


@op()
def msort(a):
    """``a`` sorted along its first dimension (the values of ``sort(a, 0)``)."""
    return sort(a, 0).values
