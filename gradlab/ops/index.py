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
from ..autograd.function import record
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


def _src_grad(g, dim, index, src_shape):
    """Gradient of scatter's ``src``: the gathered entries, zero where src was not used."""
    picked = gather(g, dim, index)
    if picked._data.shape == src_shape:
        return picked
    return index_put_into_zeros(picked, tuple(slice(0, s) for s in index._data.shape), src_shape, True)


def scatter_add_into_zeros(g, dim, index, shape):
    out = np.zeros(shape, dtype=g._data.dtype)
    _scatter_add(out, dim, index._data, g._data)
    return record(out, "ScatterAddBackward0", lambda gg: (gather(gg, dim, index),), (g,))


def _scatter_add(out, dim, index, src):
    """out[..., index[i, j], ...] += src[i, j] along ``dim`` (duplicates add up)."""
    grids = np.indices(index.shape, sparse=True)
    full = tuple(index if k == dim else grids[k] for k in range(index.ndim))
    np.add.at(out, full, src[tuple(slice(0, s) for s in index.shape)])


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
            from .shape import cat
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
    from .elementwise import where
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
