"""Writing by index, from gradlab/ops/scatter.py: scatter, scatter_add, scatter_reduce, index_copy,
index_fill, index_put, masked_scatter, select_scatter / slice_scatter.
"""
import numpy as np
from hypothesis import strategies as st

from gradlab.testing import OpSpec
from gradlab.testing.strategies import shapes as shape_strategy
from ._common import EVEN, ODD, _dim, _gather_case, _take


@st.composite
def _scatter_case(draw, shapes):
    """dim and an index with distinct targets per slice (torch's scatter is nondeterministic on repeats)."""
    shape = shapes[0]
    d = draw(st.integers(0, len(shape) - 1))
    perm = np.array(draw(st.permutations(list(range(shape[d])))), dtype=np.int64)
    keep = draw(st.integers(1, shape[d]))
    index = np.broadcast_to(perm[:keep].reshape((1,) * d + (keep,) + (1,) * (len(shape) - d - 1)),
                            shape[:d] + (keep,) + shape[d + 1:]).copy()
    return {"dim": d, "index": index}


def _np_scatter(x, src, dim, index):
    out = x.copy()
    np.put_along_axis(out, index, np.take_along_axis(src, np.zeros_like(index), dim) * 0 + _src_part(src, index),
                      dim)
    return out


def _cut(src, index):
    """src cut to the index's shape (torch's backward rejects a larger src)."""
    return src[tuple(slice(0, s) for s in index.shape)]


def _src_part(src, index):
    return src[tuple(slice(0, s) for s in index.shape)]


def _np_scatter_add(x, src, dim, index):
    out = x.copy()
    grids = np.indices(index.shape, sparse=True)
    full = tuple(index if k == dim else grids[k] for k in range(index.ndim))
    np.add.at(out, full, _src_part(src, index))
    return out


@st.composite
def _index_copy_case(draw, shapes):
    shape = shapes[0]
    dim = draw(_dim(len(shape)))
    count = draw(st.integers(0, shape[dim]))
    index = draw(st.permutations(range(shape[dim])))[:count]
    return {"dim": dim, "index": np.array(index, dtype=np.int64)}


def _np_index_copy(x, y, dim, index):
    out = x.copy()
    key = (slice(None),) * (dim % x.ndim) + (index,)
    out[key] = np.take(y, np.arange(len(index)), axis=dim)
    return out


@st.composite
def _index_fill_case(draw, shapes, negative=True):
    shape = shapes[0]
    dim = draw(_dim(len(shape)))
    n = shape[dim]
    index = draw(st.lists(st.integers(-n if negative else 0, n - 1), max_size=4))
    return {"dim": dim, "index": np.array(index, dtype=np.int64), "value": draw(st.sampled_from([-1.5, 0.0, 2]))}


def _np_index_fill(x, dim, index, value):
    out = x.copy()
    out[(slice(None),) * (dim % x.ndim) + (index,)] = value
    return out


@st.composite
def _index_put_shapes(draw, dtype=None):
    x = draw(shape_strategy(min_dims=1, max_dims=3, max_side=4))
    if draw(st.booleans()):
        return x, (draw(st.integers(0, 4)),) + x[1:]  # one value row per index
    return x, x[1 + draw(st.integers(0, len(x) - 1)):]  # values broadcast over the indexed rows


@st.composite
def _index_put_case(draw, shapes):
    x, values = shapes
    accumulate = draw(st.booleans())
    count = values[0] if len(values) == len(x) else draw(st.integers(0, 4))
    if accumulate:
        rows = draw(st.lists(st.integers(-x[0], x[0] - 1), min_size=count, max_size=count))
    else:  # distinct rows: with repeats, which write wins is undefined
        count = min(count, x[0])
        rows = draw(st.permutations(range(x[0])))[:count]
    return {"rows": np.array(rows, dtype=np.int64), "accumulate": accumulate}


def _index_put(lib, x, v, rows, accumulate):
    if v.dim() == x.dim() and v.shape[0] != len(rows):
        v = v[:len(rows)]
    return x.index_put((lib.from_numpy(rows),), v, accumulate=accumulate)


def _np_index_put(x, v, rows, accumulate):
    if v.ndim == x.ndim and v.shape[0] != len(rows):
        v = v[:len(rows)]
    out = x.copy()
    v = np.broadcast_to(v, (len(rows),) + x.shape[1:])
    if accumulate:
        np.add.at(out, rows, v)
    else:
        out[rows] = v
    return out


@st.composite
def _mask_case(draw, shapes):
    shape = shapes[0]
    return {"mask": np.array(draw(st.lists(st.booleans(), min_size=int(np.prod(shape)),
                                           max_size=int(np.prod(shape))))).reshape(shape)}


def _np_masked_scatter(x, src, mask):
    out = x.copy()
    out[mask] = src.reshape(-1)[:mask.sum()]
    return out


@st.composite
def _scatter_reduce_case(draw, shapes, whole_src=False):
    """dim, index, reduce and include_self; the index covers all of src when ``whole_src``."""
    x, src = shapes
    dim = draw(_dim(len(x)))
    if whole_src:  # a dim off which src is no larger than x
        dim = draw(st.sampled_from([d for d in range(len(x)) if all(src[k] <= x[k] for k in range(len(x)) if k != d)]))
        index_shape = src
    else:
        index_shape = tuple(draw(st.integers(1, min(a, b))) if k != dim % len(x) else draw(st.integers(1, b))
                            for k, (a, b) in enumerate(zip(x, src)))
    index = draw(st.lists(st.integers(0, x[dim] - 1), min_size=int(np.prod(index_shape)),
                          max_size=int(np.prod(index_shape))))
    return {"dim": dim, "index": np.array(index, dtype=np.int64).reshape(index_shape),
            "reduce": draw(st.sampled_from(["sum", "prod", "mean", "amax", "amin"])),
            "include_self": draw(st.booleans())}


# x, and a src as large as x except along one dim (any size there)
_SCATTER_SHAPES = st.tuples(shape_strategy(min_dims=1, max_dims=3, max_side=3), st.integers(0, 2),
                            st.integers(1, 3)).map(
    lambda p: (p[0], tuple(p[2] if k == p[1] % len(p[0]) else min(s, 2) for k, s in enumerate(p[0]))))


def _np_scatter_reduce(x, src, dim, index, reduce, include_self):
    """A plain loop over the index, gathering each position's values, then reducing them."""
    gathered = {}
    d = dim % x.ndim
    for pos in np.ndindex(*index.shape):
        target = pos[:d] + (index[pos],) + pos[d + 1:]
        gathered.setdefault(target, [x[target]] if include_self else []).append(src[pos])
    out = x.copy()
    for target, values in gathered.items():
        values = np.array(values)
        if reduce == "mean":
            total = values.sum()
            out[target] = total // len(values) if x.dtype.kind == "i" else total / len(values)
        else:
            out[target] = {"sum": np.sum, "prod": np.prod, "amax": np.max, "amin": np.min}[reduce](values)
    return out


@st.composite
def _slot_case(draw, shapes):
    shape = shapes[0]
    dim = draw(_dim(len(shape)))
    n = shape[dim]
    start = draw(st.one_of(st.none(), st.integers(-n, n)))
    return {"dim": dim, "index": draw(st.integers(-n, n - 1)), "start": start,
            "end": draw(st.one_of(st.none(), st.integers(-n, n + 2))), "step": draw(st.integers(1, 3))}


def _select_and_slice_scatter(lib, x, y, dim, index, start, end, step):
    """select_scatter and slice_scatter of slices of y (of x's shape) into x."""
    chosen = lib.select_scatter(x, y.select(dim, 0), dim, index)
    width = len(range(*slice(start, end, step).indices(x.shape[dim])))
    sliced = x.slice_scatter(y.narrow(dim, 0, width), dim, start, end, step)
    return chosen, sliced


def _np_select_and_slice_scatter(x, y, dim, index, start, end, step):
    d = dim % x.ndim
    chosen = x.copy()
    chosen[(slice(None),) * d + (index,)] = np.take(y, 0, axis=d)
    sliced = x.copy()
    key = (slice(None),) * d + (slice(start, end, step),)
    sliced[key] = np.take(y, np.arange(sliced[key].shape[d]), axis=d)
    return chosen, sliced


SPECS = [
    OpSpec("scatter", lambda lib, x, src, dim, index: x.scatter(dim, _take(lib, index), _cut(src, index)),
           _np_scatter,
           arity=2, broadcast=False, min_dims=1, kwargs=_scatter_case),
    OpSpec("scatter_value_", lambda lib, x, dim, index: (x * 1).scatter_(dim, _take(lib, index), 2.5),
           lambda x, dim, index: _np_scatter(x, np.full_like(x, 2.5), dim, index), min_dims=1, kwargs=_scatter_case),
    OpSpec("scatter_add", lambda lib, x, src, dim, index: x.scatter_add(dim, _take(lib, index), _cut(src, index)),
           _np_scatter_add, arity=2, broadcast=False, min_dims=1, kwargs=lambda shapes: _gather_case(shapes, True)),
    OpSpec("index_copy", lambda lib, x, y, dim, index: x.index_copy(dim, lib.from_numpy(index),
                                                                      y.narrow(dim, 0, len(index))),
           _np_index_copy, arity=2, broadcast=False, min_dims=1, kwargs=_index_copy_case, int_dtypes=("int64",)),
    OpSpec("index_copy_", lambda lib, x, y, dim, index: (x * 1).index_copy_(dim, lib.from_numpy(index),
                                                                             y.narrow(dim, 0, len(index))),
           _np_index_copy, arity=2, broadcast=False, min_dims=1, kwargs=_index_copy_case),
    OpSpec("index_fill", lambda lib, x, dim, index, value: x.index_fill(dim, lib.from_numpy(index), value),
           _np_index_fill, min_dims=1, kwargs=_index_fill_case, int_dtypes=("int64",)),
    OpSpec("index_fill_tensor_", lambda lib, x, v, dim, index, value: (x * 1).index_fill_(
        dim, lib.from_numpy(index), v),
           lambda x, v, dim, index, value: _np_index_fill(x, dim, index, v), arity=2,
           shapes=shape_strategy(min_dims=1, max_dims=3).map(lambda s: (s, ())),
           kwargs=lambda shapes: _index_fill_case(shapes, negative=False)),
    OpSpec("index_put", _index_put, _np_index_put, arity=2, shapes=_index_put_shapes(), kwargs=_index_put_case,
           int_dtypes=("int64",)),
    OpSpec("index_put_mask_", lambda lib, x, v, mask: (x * 1).index_put_((lib.from_numpy(mask),), v),
           lambda x, v, mask: np.where(mask, v, x), arity=2,
           shapes=shape_strategy(min_dims=1, max_dims=3).map(lambda s: (s, ())), kwargs=_mask_case),
    OpSpec("masked_scatter", lambda lib, x, src, mask: x.masked_scatter(lib.from_numpy(mask), src),
           _np_masked_scatter, arity=2, broadcast=False, kwargs=_mask_case, int_dtypes=("int64",)),
    OpSpec("masked_scatter_", lambda lib, x, src, mask: (x * 1).masked_scatter_(lib.from_numpy(mask), src),
           _np_masked_scatter, arity=2, broadcast=False, kwargs=_mask_case),
    # x and src on grids that never meet, so amax / amin never tie between them; src no larger than x off dim
    # (PyTorch's backward fails when the index covers only part of src: that case is checked by gradcheck alone)
    OpSpec("scatter_reduce", lambda lib, x, src, dim, index, reduce, include_self: x.scatter_reduce(
        dim, lib.from_numpy(index), src, reduce, include_self=include_self), _np_scatter_reduce, arity=2,
        broadcast=False, unique=True, elements=[EVEN, ODD],
        kwargs=lambda shapes: _scatter_reduce_case(shapes, whole_src=True), shapes=_SCATTER_SHAPES),
    OpSpec("scatter_reduce_partial_src", lambda lib, x, src, dim, index, reduce, include_self: x.scatter_reduce(
        dim, lib.from_numpy(index), src, reduce, include_self=include_self), _np_scatter_reduce, arity=2,
        broadcast=False, unique=True, elements=[EVEN, ODD], kwargs=_scatter_reduce_case, torch=False,
        shapes=st.tuples(shape_strategy(min_dims=1, max_dims=3, max_side=3), shape_strategy(min_dims=3, max_side=3))
        .map(lambda p: (p[0], tuple(p[1][:len(p[0])])))),
    OpSpec("scatter_reduce_int", lambda lib, x, src, dim, index, reduce, include_self: lib.scatter_reduce(
        x, dim, lib.from_numpy(index), src, reduce, include_self=include_self), _np_scatter_reduce, arity=2,
        broadcast=False, min_dims=1, dtypes=(), int_dtypes=("int64",), elements=st.integers(-9, 9),
        kwargs=_scatter_reduce_case),
    OpSpec("select_slice_scatter", _select_and_slice_scatter, _np_select_and_slice_scatter, arity=2,
           broadcast=False, min_dims=1, kwargs=_slot_case),
]

GRADGRAD_SPECS = []
