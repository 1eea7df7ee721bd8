"""Scatter ops: write values into a tensor at given positions (scatter, index_put, index_add, masked_scatter,
put, ...), each forward on NumPy arrays and its backward beside it."""
import numpy as np

from .._tensor import Tensor
from ..autograd.record import record
from ._common import normalize_dim, sum_to
from .index import (_check_index, _scatter_add, gather, getitem, index_put_into_zeros, index_select, masked_select,
                    select, slice_view)
from .registry import op



def _src_grad(g, dim, index, src_shape):
    """Gradient of scatter's ``src``: the gathered entries, zero where src was not used."""
    picked = gather(g, dim, index)
    if picked._data.shape == src_shape:
        return picked
    return index_put_into_zeros(picked, tuple(slice(0, s) for s in index._data.shape), src_shape, True)


def _check_scatter(op, a, d, index, src):
    fits = index._data.ndim == a._data.ndim and all(
        i <= s for k, (i, s) in enumerate(zip(index._data.shape, a._data.shape)) if k != d)
    if isinstance(src, Tensor):
        fits = fits and index._data.ndim == src._data.ndim and all(
            i <= s for i, s in zip(index._data.shape, src._data.shape))
    if not fits:
        raise RuntimeError(f"{op}(): Expected index {list(index._data.shape)} to be no larger than self "
                           f"{list(a._data.shape)} apart from dimension {d}"
                           + (f" and to be no larger than src {list(src._data.shape)}" if isinstance(src, Tensor) else ""))
    if isinstance(src, Tensor) and src._data.dtype != a._data.dtype:
        raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype, got {a.dtype} and {src.dtype}")


def _zero_dim_as_one_element(a, t):
    """PyTorch reads a 0-d index (or src) of a 1-d tensor as one element: tensor(3) -> tensor([3])."""
    if isinstance(t, Tensor) and t._data.ndim == 0 and a._data.ndim == 1:
        return t.reshape(1)
    return t


@op(inplace=True)
def scatter_add(a, dim, index, src):
    d = normalize_dim(dim, a._data.ndim, "scatter_add")
    index, src = _zero_dim_as_one_element(a, index), _zero_dim_as_one_element(a, src)
    _check_scatter("scatter_add", a, d, index, src)
    out = a._data.copy()
    _scatter_add(out, d, index._data, src._data)

    def backward(g):
        return g, _src_grad(g, d, index, src._data.shape) if src._requires_grad else None
    return record(out, "ScatterAddBackward0", backward, (a, src))


@op(inplace=True)
def scatter(a, dim, index, src=None, value=None):
    d = normalize_dim(dim, a._data.ndim, "scatter")
    index, src = _zero_dim_as_one_element(a, index), _zero_dim_as_one_element(a, src)
    _check_scatter("scatter", a, d, index, src)
    out = a._data.copy()
    grids = np.indices(index._data.shape, sparse=True)
    full = tuple(index._data if k == d else grids[k] for k in range(index._data.ndim))
    if isinstance(src, Tensor):
        out[full] = src._data[tuple(slice(0, s) for s in index._data.shape)]
    else:
        out[full] = src if value is None else value
    mask = np.ones(a._data.shape, dtype=bool)
    mask[full] = False

    def backward(g):
        ga = g * Tensor._wrap(mask.astype(g._data.dtype))
        gs = _src_grad(g, d, index, src._data.shape) if isinstance(src, Tensor) and src._requires_grad else None
        return ga, gs
    inputs = (a, src) if isinstance(src, Tensor) else (a,)
    name = "ScatterBackward0" if isinstance(src, Tensor) else "ScatterBackward1"  # PyTorch's src / value overloads
    return record(out, name, lambda g: backward(g)[:len(inputs)], inputs)


@op(inplace=True)
def index_add(a, dim, index, source, alpha=1):
    d = normalize_dim(dim, a._data.ndim, "index_add")
    src = source * alpha if alpha != 1 else source
    idx = (slice(None),) * d + (index._data,)
    out = a._data.copy()
    np.add.at(out, idx, src._data)

    def backward(g):
        return g, getitem(g, idx) if src._requires_grad else None
    return record(out, "IndexAddBackward0", backward, (a, src))


# ---- index_copy, index_fill, index_put, masked_scatter -------------------------------------------------------
def _check_long_index(index, op, allow_int32=False):
    kinds = (np.int64, np.int32) if allow_int32 else (np.int64,)
    if index._data.dtype not in kinds:
        raise RuntimeError(f"{op}(): Expected a long tensor for index, but got {index.dtype}")
    if index._data.ndim > 1:
        raise IndexError(f"{op}(): Index should have dimension 1 or 0 (got {index._data.ndim})")


@op(inplace=True)
def index_copy(a, dim, index, source):
    """A copy of ``a`` whose slices ``index[i]`` along ``dim`` are ``source``'s slices i."""
    if a._data.ndim == 0:  # a scalar is copied into as a one-element vector
        return index_copy(a.reshape(1), 0, index.reshape(-1), source.reshape(1)).reshape(())
    d = normalize_dim(dim, a._data.ndim, "index_copy")
    _check_long_index(index, "index_copy_")
    idx = index._data.reshape(-1)
    if source._data.dtype != a._data.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                           f"{a.dtype} and (source) {source.dtype}")
    src = source._data if source._data.ndim else source._data.reshape(1)
    if src.ndim != a._data.ndim:
        raise IndexError(f"index_copy_(): When source and destination are not scalars, their dimensionality must "
                         f"match. Source dimensionality ({source._data.ndim}), destination dimensionality "
                         f"({a._data.ndim})")
    if src.shape[d] != idx.size:
        raise IndexError(f"index_copy_(): Number of indices ({idx.size}) should be equal to source.size(dim) "
                         f"({src.shape[d]})")
    for k, (s, t) in enumerate(zip(a._data.shape, src.shape)):
        if k != d and s != t:
            raise RuntimeError(f"index_copy_(): Source/destination tensor must have same slice shapes. "
                               f"Destination slice shape: {s} at dimension {k} and source slice shape: {t} at "
                               f"dimension {k}.")
    size = a._data.shape[d]
    bad = idx[(idx < 0) | (idx >= size)]
    if bad.size:
        raise IndexError(f"index_copy_(): index {bad[0]} is out of bounds for dimension {d} with size {size}")
    out = a._data.copy()
    key = (slice(None),) * d + (idx,)
    out[key] = src
    flat_index = Tensor._wrap(idx)

    def backward(g):
        return (index_fill(g, d, flat_index, 0) if a._requires_grad else None,
                index_select(g, d, flat_index).reshape(source._data.shape) if source._requires_grad else None)
    return record(out, "IndexCopyBackward0", backward, (a, source))


@op(inplace=True)
def index_fill(a, dim, index, value):
    """A copy of ``a`` with the slices ``index`` along ``dim`` set to ``value`` (a number or a 0-d tensor)."""
    d = normalize_dim(dim, a._data.ndim, "index_fill")
    if index._data.dtype != np.int64:
        raise IndexError(f"index_fill_(): Expected dtype int64 for index (got {index.dtype}).")
    if isinstance(value, Tensor) and value._data.ndim:
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{value._data.ndim} dimension(s).")
    size = a._data.shape[d] if a._data.ndim else 1
    idx = index._data.reshape(-1)
    bad = idx[(idx < -size) | (idx >= size)]
    if bad.size:
        raise IndexError(f"index_fill: index {bad[0]} is out of bounds for dimension {d} with size {size}")
    out = a._data.copy()
    key = (slice(None),) * d + (idx,) if a._data.ndim else ...
    out[key] = value._data if isinstance(value, Tensor) else value
    filled = Tensor._wrap(np.where(idx < 0, idx + size, idx))

    def backward(g):
        g_value = None
        if isinstance(value, Tensor) and value._requires_grad:
            once = Tensor._wrap(np.unique(filled._data))  # a slot named twice is still filled once
            g_value = index_select(g, d, once).sum() if a._data.ndim else g
        return (index_fill(g, d, filled, 0) if a._requires_grad else None, g_value)
    if isinstance(value, Tensor):
        return record(out, "IndexFillBackward1", backward, (a, value))
    return record(out, "IndexFillBackward0", lambda g: backward(g)[:1], (a,))


def _put_index(indices, op):
    """A NumPy index from index_put's tuple of index tensors (bytes act as masks, as in PyTorch)."""
    parts = []
    for t in indices:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected a tuple of Tensors as indices, but got an element of type "
                            f"{type(t).__name__}")
        if t._data.dtype.kind not in "biu":
            raise IndexError(f"{op}: tensors used as indices must be long, int, byte or bool tensors (got {t.dtype})")
        parts.append(t._data.astype(bool) if t._data.dtype == np.uint8 else t._data)
    return tuple(parts)


@op(inplace=True)
def index_put(a, indices, values, accumulate=False):
    """A copy of ``a`` with ``a[indices] = values`` (or ``+=``, adding repeats, with ``accumulate``)."""
    idx = _put_index(indices, "index_put")
    if values._data.dtype != a._data.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got {a.dtype} for the "
                           f"destination and {values.dtype} for the source.")
    out = a._data.copy()
    slot = _check_index(a, idx)
    try:
        placed = np.broadcast_to(values._data, slot.shape)
    except ValueError:
        raise RuntimeError(f"index_put: shape mismatch: value tensor of shape {list(values._data.shape)} cannot be "
                           f"broadcast to indexing result of shape {list(slot.shape)}") from None
    if accumulate:
        np.add.at(out, idx, placed)
    else:
        out[idx] = placed
    zero = Tensor._wrap(np.zeros((), dtype=a._data.dtype))

    def backward(g):
        g_self = None
        if a._requires_grad:
            g_self = g if accumulate else index_put(g, indices, zero.to(g.dtype))
        g_values = sum_to(getitem(g, idx), values._data.shape) if values._requires_grad else None
        return g_self, g_values
    return record(out, "IndexPutBackward0", backward, (a, values))


@op(inplace=True)
def masked_scatter(a, mask, source):
    """A copy of ``a`` (broadcast with ``mask``) whose elements where ``mask`` is True are, in order, the first
    elements of ``source``."""
    if mask._data.dtype != np.bool_:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype {mask.dtype}")
    if source._data.dtype != a._data.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got {a.dtype} and "
                           f"{source.dtype}")
    try:
        base, where_ = np.broadcast_arrays(a._data, mask._data)
    except ValueError:
        raise RuntimeError(f"masked_scatter: the mask of shape {list(mask._data.shape)} does not broadcast with "
                           f"the tensor of shape {list(a._data.shape)}") from None
    count = int(where_.sum())
    if count > source._data.size:
        raise RuntimeError(f"masked_scatter: Number of elements of source < number of ones in mask "
                           f"({source._data.size} < {count})")
    out = base.copy()
    out[where_] = source._data.reshape(-1)[:count]
    where_t = Tensor._wrap(np.array(where_))

    def backward(g):
        g_self = sum_to(g.masked_fill(where_t, 0), a._data.shape) if a._requires_grad else None
        g_source = None
        if source._requires_grad:
            used = masked_select(g, where_t)
            rest = Tensor._wrap(np.zeros(source._data.size - count, dtype=g._data.dtype))
            from .join_split import cat
            g_source = cat([used, rest]).reshape(source._data.shape)
        return g_self, g_source
    return record(out, "MaskedScatterBackward0", backward, (a, source))


# ---- scatter_reduce, select_scatter, slice_scatter ----------------------------------------------------------
_SCATTER_UFUNCS = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}


def _scatter_positions(index, d):
    """The advanced index that puts element i of ``index`` at ``index[i]`` along d (and in place elsewhere)."""
    grids = np.indices(index.shape, sparse=True)
    return tuple(index if k == d else grids[k] for k in range(index.ndim))


def _identity(reduce, dtype):
    """The value that leaves ``reduce`` unchanged (placed where ``include_self=False`` drops a's values)."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


@op(inplace=True)
def scatter_reduce(a, dim, index, src, reduce, *, include_self=True):
    """A copy of ``a`` into which each ``src[i]`` is reduced at position ``index[i]`` along ``dim``.

    ``reduce`` is "sum", "prod", "mean", "amax" or "amin"; with
    ``include_self=False`` a's own values at the written positions do not take
    part.  Integer means round down, as PyTorch.  The gradients are
    PyTorch's, with one difference: for amax/amin with ``include_self=False``
    a value of ``a`` that equals the result but was left out does not take a
    share of the gradient (PyTorch gives it one, then zeroes it).
    """
    if reduce not in _SCATTER_UFUNCS:
        raise RuntimeError(f"scatter_reduce: reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce!r}")
    d = normalize_dim(dim, a._data.ndim, "scatter_reduce")
    if index._data.dtype.kind not in "iu":
        raise RuntimeError(f"scatter_reduce(): Expected dtype int64 for index, got {index.dtype}")
    if src._data.dtype != a._data.dtype:
        raise RuntimeError(f"scatter_reduce(): Expected self.dtype to be equal to src.dtype (got {a.dtype} and "
                           f"{src.dtype})")
    index = index if index._data.dtype == np.int64 else Tensor._wrap(index._data.astype(np.int64))
    index, src = _zero_dim_as_one_element(a, index), _zero_dim_as_one_element(a, src)
    if index._data.ndim != a._data.ndim:
        raise RuntimeError(f"scatter_reduce(): Index tensor must have the same number of dimensions as self tensor "
                           f"(index shape {list(index._data.shape)}, self shape {list(a._data.shape)})")
    _check_scatter("scatter_reduce", a, d, index, src)
    size = a._data.shape[d] if a._data.ndim else 1
    bad = index._data[(index._data < 0) | (index._data >= size)]
    if bad.size:
        raise RuntimeError(f"scatter_reduce(): index {bad[0]} is out of bounds for dimension {d} with size {size}")
    out = _scatter_reduce_array(a._data, d, index._data, src._data, reduce, include_self)
    cut = tuple(slice(0, s) for s in index._data.shape)

    def backward(g):
        used = src if src._data.shape == index._data.shape else getitem(src, cut)
        g_self, g_used = _scatter_reduce_grads(g, a, d, index, used, reduce, include_self, result)
        g_src = None
        if src._requires_grad:
            g_src = g_used if used is src else index_put_into_zeros(g_used, cut, src._data.shape, True)
        return (g_self if a._requires_grad else None), g_src
    result = record(out, "ScatterReduceBackward0", backward, (a, src), saved=(a, src), saves_output=True)
    return result


def _scatter_reduce_array(x, d, index, src, reduce, include_self):
    out = x.copy()
    if x.ndim == 0:
        out, index, src = out.reshape(1), index.reshape(-1), src.reshape(-1)
    positions = _scatter_positions(index, d)
    values = src[tuple(slice(0, s) for s in index.shape)]
    if not include_self:
        out[positions] = _identity(reduce, x.dtype)
    _SCATTER_UFUNCS[reduce].at(out, positions, values)
    if reduce == "mean":
        counts = np.full(out.shape, 1 if include_self else 0, dtype=np.int64)
        np.add.at(counts, positions, 1)
        counts = np.maximum(counts, 1)
        out = out // counts if x.dtype.kind in "iu" else (out / counts).astype(x.dtype)
    return out.reshape(x.shape)


def _scatter_reduce_grads(g, a, d, index, used, reduce, include_self, result):
    """PyTorch's gradients of scatter_reduce for a and for the part of src that was used, with Tensor ops."""
    from .compare import where
    dtype = g.dtype
    if reduce == "sum":
        g_self, g_used = g, gather(g, d, index)
    elif reduce == "mean":
        counts = Tensor._wrap(np.full(g._data.shape, 1 if include_self else 0, dtype=g._data.dtype))
        counts = scatter_add(counts, d, index, Tensor._wrap(np.ones(index._data.shape, dtype=g._data.dtype)))
        counts = counts.masked_fill(counts == 0, 1)
        g_self, g_used = g / counts, gather(g, d, index) / gather(counts, d, index)
    elif reduce == "prod":
        # a zero in a (or a single zero among the values reduced into one place) gets the product of the others
        a_no_zeros = a.masked_fill(a == 0, 1)
        g_self = g * scatter_reduce(a_no_zeros, d, index, used, "prod", include_self=include_self) / a_no_zeros
        used_zero = used == 0
        zeros_there = gather(scatter_add(Tensor._wrap(np.zeros(a._data.shape, dtype=g._data.dtype)), d, index,
                                         used_zero.to(dtype)), d, index)
        single_zero = used_zero.logical_and(zeros_there == 1)
        without_it = scatter_reduce(a, d, index, used.masked_fill(single_zero, 1), "prod", include_self=include_self)
        g_used = where(single_zero, gather(g * without_it, d, index),
                       gather(g * result, d, index) / used.masked_fill(used_zero, 1))
    else:  # amax, amin: the elements equal to the result share its gradient evenly
        value = gather(result, d, index)
        self_is = (a == result).to(dtype)
        if not include_self:
            self_is = scatter(self_is, d, index, 0)
        used_is = (used == value).to(dtype)
        share = g / scatter_add(self_is, d, index, used_is)
        g_self, g_used = self_is * share, used_is * gather(share, d, index)
    if not include_self:
        g_self = scatter(g_self, d, index, 0)
    return g_self, g_used


@op()
def select_scatter(a, src, dim, index):
    """A copy of ``a`` whose slice at ``index`` along ``dim`` is ``src``."""
    d = normalize_dim(dim, a._data.ndim, "select_scatter")
    slot = select(Tensor._wrap(a._data), d, index)._data
    return _scatter_slot(a, src, (slice(None),) * d + (index,), slot.shape, "select_scatter",
                         "SelectScatterBackward0", lambda g: select(g, d, index))


@op()
def slice_scatter(a, src, dim=0, start=None, end=None, step=1):
    """A copy of ``a`` whose slice ``start:end:step`` along ``dim`` is ``src``."""
    d = normalize_dim(dim, a._data.ndim, "slice_scatter")
    span = slice(start, end, step)
    key = (slice(None),) * d + (span,)
    return _scatter_slot(a, src, key, a._data[key].shape, "slice_scatter", "SliceScatterBackward0",
                         lambda g: slice_view(g, d, span))


def _scatter_slot(a, src, key, slot_shape, op, name, read_slot):
    """select_scatter / slice_scatter: ``src`` written into a copy of ``a`` at ``key``; the gradient splits there."""
    if src._data.shape != slot_shape:
        raise RuntimeError(f"{op}: expected src to have a size equal to the slice of self. src size = "
                           f"{list(src._data.shape)}, slice size = {list(slot_shape)}")
    out = a._data.copy()
    out[key] = src._data
    keep = np.ones(a._data.shape, dtype=bool)
    keep[key] = False

    def backward(g):
        return (g * Tensor._wrap(keep.astype(g._data.dtype)) if a._requires_grad else None,
                read_slot(g).to(src.dtype) if src._requires_grad else None)
    return record(out, name, backward, (a, src))


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
