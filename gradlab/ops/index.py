"""Indexing: ``x[idx]`` (basic, advanced and boolean), ``x[idx] = v``, gather/scatter, one_hot.

A basic index (ints, slices, None, Ellipsis) gives a view.  While a graph is
recorded it is taken as PyTorch takes it, one view op per part of the index
(``select``, ``slice_view``, ``unsqueeze``; ``alias`` when nothing is left to
do), so that ``x[0, 1:]`` has PyTorch's graph.  An advanced index gives a copy
in one node.  The backward of reading ``x[idx]`` writes the gradient into
zeros of x's shape at ``idx`` (adding where an index repeats); the backward of
that is reading ``g[idx]`` again, so both are differentiable twice.
"""
import numpy as np

from .._tensor import Tensor
from ..autograd import grad_mode
from ..autograd.record import record
from ._common import (after_inplace, check_inference_inplace, check_view_inplace, check_writeable, mark_view,
                      normalize_dim, sum_to)
from .registry import op


def _to_index(idx):
    """A NumPy index from a gradlab one (tensors become arrays; a 0-dim integer tensor, an int)."""
    if isinstance(idx, Tensor):
        if idx._data.ndim == 0 and idx._data.dtype.kind in "iu":
            return int(idx._data)
        return idx._data
    if isinstance(idx, tuple):
        return tuple(_to_index(i) for i in idx)
    if isinstance(idx, list) and any(isinstance(i, Tensor) for i in idx):
        return np.array([i._data if isinstance(i, Tensor) else i for i in idx])
    return idx


def _is_int(p):
    return isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_))


def _is_basic(idx):
    parts = idx if isinstance(idx, tuple) else (idx,)
    return all(p is None or p is Ellipsis or isinstance(p, slice) or _is_int(p) for p in parts)


def _check_index(a, idx):
    try:
        out = a._data[idx]
        if not isinstance(out, np.ndarray):  # x[i, j] picked one element: keep it a 0-dim view, as PyTorch
            out = a._data[(idx if isinstance(idx, tuple) else (idx,)) + (Ellipsis,)]
        return out
    except IndexError as e:
        raise IndexError(f"index {idx!r} is out of bounds for tensor of shape {list(a._data.shape)}: {e}") from None


def _basic_view(array, name, backward, a, view_fn):
    """Record ``array`` (a NumPy view of ``a``) as a view of ``a`` (shared memory and version counter)."""
    out = record(array, name, backward, (a,))
    out._version_counter = a._version_counter
    return mark_view(out, a, view_fn)


def _put_back(key, shape):
    """The backward of reading ``x[key]`` (a basic index): the gradient written into zeros of x's shape."""
    return lambda g: (index_put_into_zeros(g, key, shape, True),)


@op()
def select(a, dim, index):
    """The slice at ``index`` along ``dim``, that axis removed (a view)."""
    d = normalize_dim(dim, a._data.ndim, "select")
    n = a._data.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(a._data.shape)} at "
                         f"dimension {d}")
    key = (slice(None),) * d + (index,)
    return _basic_view(a._data[key + (Ellipsis,)], "SelectBackward0", _put_back(key, a._data.shape), a,
                       lambda t: select(t, d, index))


def slice_view(a, dim, span):
    """``a`` cut to ``span`` (a Python slice) along ``dim`` (a view)."""
    key = (slice(None),) * dim + (span,)
    return _basic_view(a._data[key], "SliceBackward0", _put_back(key, a._data.shape), a,
                       lambda t: slice_view(t, dim, span))


def alias(a):
    """A new view of all of ``a`` (what ``x[...]`` returns)."""
    return _basic_view(a._data.view(), "AliasBackward0", lambda g: (g,), a, lambda t: alias(t))


def _covers(span, n):
    """True when slice ``span`` keeps a whole axis of size n in order (PyTorch then skips it)."""
    return (span.start in (None, 0) and (span.stop is None or span.stop >= n) and span.step in (None, 1))


def _basic_steps(a, idx):
    """``a[idx]`` for a basic index as PyTorch computes it: one view op per part of the index.

    An int selects, a slice slices (unless, inside a tuple, it keeps the whole
    axis), None unsqueezes, and Ellipsis skips the axes no other part names.
    When nothing was done, the result is an alias of ``a``.
    """
    parts = idx if isinstance(idx, tuple) else (idx,)
    named = sum(1 for p in parts if p is not None and p is not Ellipsis)
    out, dim = a, 0
    for p in parts:
        if p is Ellipsis:
            dim += a._data.ndim - named
        elif p is None:
            out, dim = out.unsqueeze(dim), dim + 1
        elif isinstance(p, slice):
            if not isinstance(idx, tuple) or not _covers(p, out._data.shape[dim]):
                out = slice_view(out, dim, p)
            dim += 1
        else:
            out = select(out, dim, int(p))
    return alias(a) if out is a else out


@op(method=False, function=False, operator="__getitem__")
def getitem(a, idx):
    idx = _to_index(idx)
    if _is_basic(idx):
        out = _check_index(a, idx)  # checks the index, and is the result when no graph is recorded
        if grad_mode.state.enabled and a._requires_grad:
            return _basic_steps(a, idx)
        result = Tensor._wrap(out)
        result._version_counter = a._version_counter  # a view, as in PyTorch
        return mark_view(result, a, lambda t: t[idx])
    return _gathered(a, idx, _check_index(a, idx), "IndexBackward0")


def _gathered(a, idx, out, name):
    """Record ``out = a[idx]`` (a copy, for an advanced index); the gradient adds back at ``idx``."""
    shape = a._data.shape
    basic = isinstance(idx, (bool, np.bool_))  # x[True] adds an axis (as None does): plain assignment puts back

    def backward(g):
        return (index_put_into_zeros(g, idx, shape, basic),)
    return record(out, name, backward, (a,))


def index_put_into_zeros(g, idx, shape, basic):
    """Zeros of ``shape`` with ``g`` added at ``idx``."""
    out = np.zeros(shape, dtype=g._data.dtype)
    if basic:
        out[idx] = g._data
    else:
        np.add.at(out, idx, g._data)
    return record(out, "IndexPutBackward0", lambda gg: (getitem(gg, idx),), (g,))


def _setitem_name(idx, shape, value):
    """PyTorch's node for ``x[idx] = value``: index_put for an advanced index; a copy (or fill, for a
    number) into x itself when the index keeps all of x; else a copy into a view of x (CopySlices)."""
    parts = idx if isinstance(idx, tuple) else (idx,)
    if any(isinstance(p, (bool, np.bool_)) or (isinstance(p, np.ndarray) and p.ndim == 0 and p.dtype == np.bool_)
           for p in parts):
        return "CopySlices"  # PyTorch turns a True / False index into a new axis: a view, written into
    if not _is_basic(idx):
        return "IndexPutBackward0"
    named = sum(1 for p in parts if p is not None and p is not Ellipsis)
    dim = 0
    for p in parts:
        if p is Ellipsis:
            dim += len(shape) - named
        elif isinstance(p, slice) and _covers(p, shape[dim]):
            dim += 1
        else:
            return "CopySlices"
    return "CopyBackwards" if isinstance(value, Tensor) else "FillBackward3"


@op(method=False, function=False, operator="__setitem__")
def setitem(a, idx, value):
    """``a[idx] = value`` in place; recorded in the graph when grad is on."""
    idx = _to_index(idx)
    check_inference_inplace(a)
    check_writeable(a)
    tracking = grad_mode.state.enabled and (a._requires_grad or (isinstance(value, Tensor) and value._requires_grad))
    if tracking and a.grad_fn is None and a._requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    if grad_mode.state.enabled:
        check_view_inplace(a, isinstance(value, Tensor) and value._requires_grad)
    if isinstance(value, Tensor) and value._data.dtype != a._data.dtype:
        value = value.to(a.dtype)
    if not tracking:
        try:
            a._data[idx] = value._data if isinstance(value, Tensor) else value
        except ValueError as e:
            raise RuntimeError(f"setitem: cannot assign a value of shape {np.shape(value)} to a slice of shape "
                               f"{np.shape(a._data[idx])} of tensor of shape {list(a._data.shape)}: {e}") from None
        a._version_counter[0] += 1
        return
    old = Tensor._wrap(a._data.copy())
    old.grad_fn, old._requires_grad, old._out_nr = a.grad_fn, a._requires_grad, a._out_nr
    value_t = value if isinstance(value, Tensor) else None
    a._data[idx] = value._data if value_t is not None else value
    slot_shape = np.shape(old._data[idx])

    def backward(g):
        g_old = None
        if old._requires_grad:
            keep = np.ones(g._data.shape, dtype=g._data.dtype)
            keep[idx] = 0
            g_old = g * Tensor._wrap(keep)
        g_value = None
        if value_t is not None and value_t._requires_grad:
            g_value = sum_to(getitem(g, idx), value_t._data.shape) if slot_shape else getitem(g, idx)
        return g_old, g_value
    inputs = (old, value_t) if value_t is not None else (old,)
    node_out = record(a._data, _setitem_name(idx, a._data.shape, value), backward, inputs)
    a._version_counter[0] += 1
    after_inplace(a, node_out)


@op()
def gather(a, dim, index):
    d = normalize_dim(dim, a._data.ndim, "gather")
    if index._data.dtype != np.int64:
        raise RuntimeError(f"gather(): Expected dtype int64 for index, got {index.dtype}")
    if index._data.ndim != a._data.ndim:
        raise RuntimeError(f"gather(): Index tensor must have the same number of dimensions as input tensor "
                           f"(input shape {list(a._data.shape)}, index shape {list(index._data.shape)})")
    if any(i > s for k, (i, s) in enumerate(zip(index._data.shape, a._data.shape)) if k != d):
        raise RuntimeError(f"gather(): Size does not match: expected index {list(index._data.shape)} to be no "
                           f"larger than self {list(a._data.shape)} apart from dimension {d}")
    # the output has the index's shape: other axes of the input are cut to it (NumPy would broadcast)
    source = a._data[_leading_region(index._data.shape, d)]
    out = np.take_along_axis(source, index._data, d)
    shape = a._data.shape

    def backward(g):
        return (scatter_add_into_zeros(g, d, index, shape),)
    return record(out, "GatherBackward0", backward, (a,))


def _leading_region(shape, dim):
    """The slices selecting the first ``shape[k]`` entries of every axis k except ``dim``."""
    return tuple(slice(None) if k == dim else slice(0, s) for k, s in enumerate(shape))


@op()
def index_select(a, dim, index):
    d = normalize_dim(dim, a._data.ndim, "index_select")
    if index._data.ndim > 1:
        raise IndexError(f"index_select(): Index is supposed to be a vector, got shape {list(index._data.shape)}")
    idx = (slice(None),) * d + (index._data.reshape(-1),)
    return _gathered(a, idx, _check_index(a, idx), "IndexSelectBackward0")


@op()
def masked_select(a, mask):
    """The elements of ``a`` where ``mask`` (broadcast with a) is True, as a 1-D tensor."""
    a_b, m_b = np.broadcast_arrays(a._data, mask._data)
    shape = a._data.shape

    def backward(g):
        return (sum_to(index_put_into_zeros(g, m_b, m_b.shape, False), shape),)
    return record(a_b[m_b], "MaskedSelectBackward0", backward, (a,))


@op()
def nonzero(a, as_tuple=False):
    if a._data.ndim == 0:  # one "row" per nonzero scalar, with no index columns, as PyTorch
        count = int(bool(a._data))
        if as_tuple:
            return (Tensor._wrap(np.zeros(count, dtype=np.int64)),)
        return Tensor._wrap(np.zeros((count, 0), dtype=np.int64))
    idx = np.nonzero(a._data)
    if as_tuple:
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in idx)
    return Tensor._wrap(np.stack(idx, axis=1).astype(np.int64))


def one_hot(tensor, num_classes=-1):
    """Class indices (int64) to one-hot rows of int64, as ``F.one_hot``."""
    if tensor._data.dtype != np.int64:
        raise RuntimeError(f"one_hot is only applicable to index tensor of type int64, got {tensor.dtype}")
    labels = tensor._data
    if num_classes == -1:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise RuntimeError(f"one_hot: class values must be in [0, {num_classes}), got values in "
                           f"[{labels.min()}, {labels.max()}]")
    out = np.zeros(labels.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return Tensor._wrap(out)


@op()
def take_along_dim(a, indices, dim=None):
    """``gather`` after broadcasting a and indices against each other in every dim but ``dim``, as PyTorch;
    ``dim=None`` indexes the flattened ``a``."""
    if dim is None:
        return gather(a.reshape(-1), 0, indices.reshape(-1))
    if a._data.ndim != indices._data.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {a._data.ndim} dimensions for input, and {indices._data.ndim} dimensions "
                           f"for indices")
    d = normalize_dim(dim, a._data.ndim, "take_along_dim")
    a_shape, i_shape = list(a._data.shape), list(indices._data.shape)
    a_shape[d] = i_shape[d] = 1
    common = list(np.broadcast_shapes(tuple(a_shape), tuple(i_shape)))
    a_size, i_size = list(common), list(common)
    a_size[d], i_size[d] = a._data.shape[d], indices._data.shape[d]
    return gather(a.expand(*a_size), d, indices.expand(*i_size))


# ---- take, argwhere, counting and searching: bincount, bucketize, searchsorted, histc ---------------------
@op()
def take(a, index):
    """The elements of ``a`` (read as one flat row) at ``index``; the result has the index's shape."""
    if index._data.dtype != np.int64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {index.dtype}")
    n = a._data.size
    idx = index._data
    bad = idx[(idx >= n) | (idx < -n)]
    if bad.size:
        raise IndexError(f"take(): out of range: tried to access index {bad.flat[0]} on a tensor of {n} elements.")
    flat = np.where(idx < 0, idx + n, idx)
    shape = a._data.shape

    def backward(g):
        zeros = Tensor._wrap(np.zeros(n, dtype=g._data.dtype))
        from .scatter import index_add
        return (index_add(zeros, 0, Tensor._wrap(flat.reshape(-1)), g.reshape(-1)).reshape(shape),)
    return record(a._data.reshape(-1)[flat], "TakeBackward0", backward, (a,))


@op()
def argwhere(a):
    """The indices of the nonzero elements, one row each (``nonzero(a)``)."""
    return nonzero(a)


def _check_integer_vector(t, op):
    if t._data.dtype.kind not in "iu" or t._data.ndim != 1 or (t._data.size and t._data.min() < 0):
        raise RuntimeError(f"{op} only supports 1-d non-negative integral inputs (got a {t.dtype} tensor of shape "
                           f"{list(t._data.shape)})")


@op()
def bincount(input, weights=None, minlength=0):
    """How often each value 0, 1, 2, ... occurs in ``input`` (or the sum of their ``weights``).

    Not differentiable, as in PyTorch; with weights the counts are float
    (float32 for float32 weights, float64 for any other dtype).
    """
    _check_integer_vector(input, "bincount")
    if minlength < 0:
        raise RuntimeError(f"bincount: minlength should be >= 0 (got {minlength})")
    if weights is None or input._data.size == 0:  # (PyTorch gives int64 counts for an empty input, weights or not)
        return Tensor._wrap(np.bincount(input._data, minlength=minlength).astype(np.int64))
    if weights._data.ndim != 1 or weights._data.shape != input._data.shape:
        raise RuntimeError(f"bincount: weights should be 1-d and have the same length as input (got weights of "
                           f"shape {list(weights._data.shape)} for input of shape {list(input._data.shape)})")
    dtype = np.float32 if weights._data.dtype == np.float32 else np.float64
    return Tensor._wrap(np.bincount(input._data, weights._data.astype(np.float64), minlength).astype(dtype))


def _index_dtype(out_int32):
    return np.int32 if out_int32 else np.int64


@op(method=False)
def bucketize(input, boundaries, *, out_int32=False, right=False):
    """For each value, the index of the bucket it falls in: boundaries[i-1] < x <= boundaries[i]
    (with ``right=True``: boundaries[i-1] <= x < boundaries[i])."""
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries tensor must be 1 dimension, but got dim({boundaries._data.ndim})")
    values = input._data if isinstance(input, Tensor) else np.asarray(input)
    side = "right" if right else "left"
    return Tensor._wrap(np.searchsorted(boundaries._data, values, side).astype(_index_dtype(out_int32)))


@op(method=False)
def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None, sorter=None):
    """Where each value would be inserted into the innermost rows of ``sorted_sequence`` to keep them sorted.

    A 1-D sequence serves every value; an N-D one has one row per row of
    ``values`` (their leading dims must match).  ``side="right"`` (or
    ``right=True``) puts a value after equal ones.
    """
    if side is not None and side not in ("left", "right"):
        raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
    if side == "left" and right:
        raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left while "
                           "right was True")
    side = side or ("right" if right else "left")
    seq = sorted_sequence._data
    if sorter is not None:
        seq = np.take_along_axis(seq, sorter._data, -1)
    vals = values._data if isinstance(values, Tensor) else np.asarray(values)
    dtype = _index_dtype(out_int32)
    if seq.ndim <= 1:
        return Tensor._wrap(np.asarray(np.searchsorted(seq, vals, side)).astype(dtype))
    if vals.ndim != seq.ndim or vals.shape[:-1] != seq.shape[:-1]:
        raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                           f"dimensions of boundaries tensor and input value tensor must match, but we got "
                           f"boundaries tensor {list(seq.shape)} and input value tensor {list(vals.shape)}")
    out = np.empty(vals.shape, dtype=dtype)
    for row in np.ndindex(*seq.shape[:-1]):  # each row has its own sorted sequence
        out[row] = np.searchsorted(seq[row], vals[row], side)
    return Tensor._wrap(out)


@op()
def histc(input, bins=100, min=0, max=0):
    """A histogram of ``bins`` equal-width bins over [min, max] (the data's range when both are 0).

    Values outside the range and NaNs are left out; a value equal to max
    counts in the last bin.  Not differentiable, as in PyTorch.
    """
    x = input._data
    if x.dtype.kind != "f":
        raise NotImplementedError(f'"histc" not implemented for {input.dtype}: it needs a floating point input')
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins}")
    lo, hi = float(min), float(max)
    if lo == hi and x.size:
        lo, hi = float(np.min(x)), float(np.max(x))
    if lo == hi:  # one value (or no data): a range of width 2 around it, as PyTorch
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
    if lo > hi:
        raise RuntimeError(f"torch.histc: max must be larger than min (got min={lo}, max={hi})")
    inside = x[(x >= lo) & (x <= hi)]
    # the bin is computed in the input's dtype, as PyTorch does, so that edges fall where they fall there
    bin_of = ((inside - x.dtype.type(lo)) * bins / x.dtype.type(hi - lo)).astype(np.int64)
    counts = np.bincount(np.minimum(bin_of, bins - 1), minlength=bins)
    return Tensor._wrap(counts.astype(x.dtype))


# ---- unique_consecutive ------------------------------------------------------------------------------------
@op()
def unique_consecutive(a, return_inverse=False, return_counts=False, dim=None):
    """``a`` with each run of equal consecutive elements (or slices along ``dim``) kept once.

    The inverse maps each element (slice) to its run; the counts are the runs'
    lengths.  Not differentiable.
    """
    if dim is None:
        x = a._data.reshape(-1)
        starts = np.ones(x.shape, dtype=bool)
        starts[1:] = x[1:] != x[:-1]
        output = x[starts]
        inverse_shape = a._data.shape
    else:
        d = normalize_dim(dim, a._data.ndim, "unique_consecutive")
        rows = np.moveaxis(a._data, d, 0).reshape(a._data.shape[d], a._data.size // max(a._data.shape[d], 1))
        starts = np.ones(rows.shape[0], dtype=bool)
        starts[1:] = (rows[1:] != rows[:-1]).any(axis=1)
        output = np.compress(starts, a._data, axis=d)
        inverse_shape = (a._data.shape[d],)
    result = [Tensor._wrap(output)]
    if return_inverse:
        result.append(Tensor._wrap((np.cumsum(starts) - 1).astype(np.int64).reshape(inverse_shape)))
    if return_counts:
        bounds = np.append(np.flatnonzero(starts), starts.size)
        result.append(Tensor._wrap(np.diff(bounds).astype(np.int64)))
    return result[0] if len(result) == 1 else tuple(result)


def scatter_add_into_zeros(g, dim, index, shape):
    out = np.zeros(shape, dtype=g._data.dtype)
    _scatter_add(out, dim, index._data, g._data)
    return record(out, "ScatterAddBackward0", lambda gg: (gather(gg, dim, index),), (g,))


def _scatter_add(out, dim, index, src):
    """out[..., index[i, j], ...] += src[i, j] along ``dim`` (duplicates add up)."""
    grids = np.indices(index.shape, sparse=True)
    full = tuple(index if k == dim else grids[k] for k in range(index.ndim))
    np.add.at(out, full, src[tuple(slice(0, s) for s in index.shape)])


def __getattr__(name):
    """scatter, index_put, index_add and the other scatter ops moved to scatter.py; old imports still work."""
    from . import scatter
    try:
        return getattr(scatter, name)
    except AttributeError:
        raise AttributeError(f"module 'gradlab.ops.index' has no attribute '{name}'") from None
