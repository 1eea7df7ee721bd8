"""Indexing: ``x[idx]`` (basic, advanced and boolean), ``x[idx] = v``, gather/scatter, one_hot.

The backward of reading ``x[idx]`` writes the gradient into zeros of x's shape
at ``idx`` (adding where an index repeats); the backward of that is reading
``g[idx]`` again, so both are differentiable twice.
"""
import numpy as np

from .._tensor import Tensor
from ..autograd import grad_mode
from ..autograd.function import record
from ._common import after_inplace, check_view_inplace, mark_view, normalize_dim, promote, sum_to


def _to_index(idx):
    """A NumPy index from a gradlab one (tensors become arrays)."""
    if isinstance(idx, Tensor):
        return idx._data
    if isinstance(idx, tuple):
        return tuple(_to_index(i) for i in idx)
    if isinstance(idx, list) and any(isinstance(i, Tensor) for i in idx):
        return np.array([i._data if isinstance(i, Tensor) else i for i in idx])
    return idx


def _is_basic(idx):
    parts = idx if isinstance(idx, tuple) else (idx,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice, np.integer)) for p in parts)


def _check_index(a, idx):
    try:
        out = a._data[idx]
        if not isinstance(out, np.ndarray):  # x[i, j] picked one element: keep it a 0-dim view, as PyTorch
            out = a._data[(idx if isinstance(idx, tuple) else (idx,)) + (Ellipsis,)]
        return out
    except IndexError as e:
        raise IndexError(f"index {idx!r} is out of bounds for tensor of shape {list(a._data.shape)}: {e}") from None


def getitem(a, idx):
    idx = _to_index(idx)
    out = _check_index(a, idx)
    basic = _is_basic(idx)
    shape = a._data.shape

    def backward(g):
        return (index_put_into_zeros(g, idx, shape, basic),)
    result = record(out, "SelectBackward0" if isinstance(idx, int) else "SliceBackward0" if basic
                    else "IndexBackward0", backward, (a,))
    if basic:  # a view, as in PyTorch
        result._version_counter = a._version_counter
        mark_view(result, a, lambda t: t[idx])
    return result


def index_put_into_zeros(g, idx, shape, basic):
    """Zeros of ``shape`` with ``g`` added at ``idx``."""
    out = np.zeros(shape, dtype=g._data.dtype)
    if basic:
        out[idx] = g._data
    else:
        np.add.at(out, idx, g._data)
    return record(out, "IndexPutBackward0", lambda gg: (getitem(gg, idx),), (g,))


def setitem(a, idx, value):
    """``a[idx] = value`` in place; recorded in the graph when grad is on."""
    idx = _to_index(idx)
    tracking = grad_mode.state.enabled and (a._requires_grad or (isinstance(value, Tensor) and value._requires_grad))
    if tracking and a.grad_fn is None and a._requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    if tracking:
        check_view_inplace(a)
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
    node_out = record(a._data, "CopySlices", backward, inputs)
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


def scatter_add(a, dim, index, src):
    d = normalize_dim(dim, a._data.ndim, "scatter_add")
    _check_scatter("scatter_add", a, d, index, src)
    out = a._data.copy()
    _scatter_add(out, d, index._data, src._data)

    def backward(g):
        return g, _src_grad(g, d, index, src._data.shape) if src._requires_grad else None
    return record(out, "ScatterAddBackward0", backward, (a, src))


def scatter(a, dim, index, src=None, value=None):
    d = normalize_dim(dim, a._data.ndim, "scatter")
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
    return record(out, "ScatterBackward0", lambda g: backward(g)[:len(inputs)], inputs)


def index_select(a, dim, index):
    d = normalize_dim(dim, a._data.ndim, "index_select")
    return getitem(a, (slice(None),) * d + (index._data.reshape(-1),))


def masked_select(a, mask):
    a_b, m_b = np.broadcast_arrays(a._data, mask._data)
    if a_b.shape != a._data.shape:
        a = a.expand(a_b.shape)
    return getitem(a, m_b)


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
