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


def gather(a, dim, index):
    d = normalize_dim(dim, a._data.ndim, "gather")
    if index._data.dtype != np.int64:
        raise RuntimeError(f"gather(): Expected dtype int64 for index, got {index.dtype}")
    if index._data.ndim != a._data.ndim:
        raise RuntimeError(f"gather(): Index tensor must have the same number of dimensions as input tensor "
                           f"(input shape {list(a._data.shape)}, index shape {list(index._data.shape)})")
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


def _zero_dim_as_one_element(a, t):
    """PyTorch reads a 0-d index (or src) of a 1-d tensor as one element: tensor(3) -> tensor([3])."""
    if isinstance(t, Tensor) and t._data.ndim == 0 and a._data.ndim == 1:
        return t.reshape(1)
    return t


def scatter_add(a, dim, index, src):
    d = normalize_dim(dim, a._data.ndim, "scatter_add")
    index, src = _zero_dim_as_one_element(a, index), _zero_dim_as_one_element(a, src)
    _check_scatter("scatter_add", a, d, index, src)
    out = a._data.copy()
    _scatter_add(out, d, index._data, src._data)

    def backward(g):
        return g, _src_grad(g, d, index, src._data.shape) if src._requires_grad else None
    return record(out, "ScatterAddBackward0", backward, (a, src))


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


def index_select(a, dim, index):
    d = normalize_dim(dim, a._data.ndim, "index_select")
    idx = (slice(None),) * d + (index._data.reshape(-1),)
    return _gathered(a, idx, _check_index(a, idx), "IndexSelectBackward0")


def masked_select(a, mask):
    """The elements of ``a`` where ``mask`` (broadcast with a) is True, as a 1-D tensor."""
    a_b, m_b = np.broadcast_arrays(a._data, mask._data)
    shape = a._data.shape

    def backward(g):
        return (sum_to(index_put_into_zeros(g, m_b, m_b.shape, False), shape),)
    return record(a_b[m_b], "MaskedSelectBackward0", backward, (a,))


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


def take_along_dim(a, indices, dim):
    return gather(a, dim, indices)


def index_add(a, dim, index, source, alpha=1):
    d = normalize_dim(dim, a._data.ndim, "index_add")
    src = source * alpha if alpha != 1 else source
    idx = (slice(None),) * d + (index._data,)
    out = a._data.copy()
    np.add.at(out, idx, src._data)

    def backward(g):
        return g, getitem(g, idx) if src._requires_grad else None
    return record(out, "IndexAddBackward0", backward, (a, src))
