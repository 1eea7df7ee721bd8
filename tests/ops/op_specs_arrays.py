"""Reduction, shape, indexing and linear-algebra ops, described as OpSpecs for the factory in test_array_ops.py.

Each ``fn(lib, ...)`` runs unchanged on gradlab and on torch; ``ref`` is an
independent NumPy reference.  Inputs that would make a gradient ambiguous are
kept away: ``unique=True`` where ties would (max-like ops), matrices shifted
by a multiple of the identity where det / inverse need them well-conditioned,
grids offset from each other where a difference must never be zero.
"""
import numpy as np
from hypothesis import strategies as st

from gradlab.testing import OpSpec, grid_floats
from gradlab.testing.strategies import broadcastable_shapes, shapes as shape_strategy

INF = float("inf")
# two grids that never meet: multiples of 1/16 and odd multiples of 1/32 (x - y is never 0)
EVEN = st.integers(-48, 48).map(lambda i: i / 16)
ODD = st.integers(-48, 47).map(lambda i: (2 * i + 1) / 32)


def _dim(nd):
    n = max(nd, 1)
    return st.integers(-n, n - 1)


def _kw(**strategies_of_rank):
    """kwargs from functions of the first input's rank: ``_kw(dim=lambda nd: st.integers(...))``."""
    return lambda shapes: st.fixed_dictionaries({k: f(len(shapes[0])) for k, f in strategies_of_rank.items()})


def _dim_keepdim(allow_none=False):
    def make(shapes):
        nd = len(shapes[0])
        dims = st.one_of(st.none(), _dim(nd)) if allow_none else _dim(nd)
        return st.fixed_dictionaries({"dim": dims, "keepdim": st.booleans()})
    return make


def _along(x, dim, keepdim, row_fn):
    """Apply ``row_fn(row) -> (value, index)`` to every 1-D row of x along ``dim`` (a 0-d x is one row)."""
    if x.ndim == 0:
        value, index = row_fn(x.reshape(1))
        return np.asarray(value, x.dtype), np.asarray(index, np.int64)
    moved = np.moveaxis(x, dim, -1)
    values = np.empty(moved.shape[:-1], x.dtype)
    indices = np.empty(moved.shape[:-1], np.int64)
    for pos in np.ndindex(*moved.shape[:-1]):
        values[pos], indices[pos] = row_fn(moved[pos])
    if keepdim:
        values, indices = np.expand_dims(values, dim % x.ndim), np.expand_dims(indices, dim % x.ndim)
    return values, indices


# ---- reductions and scans ------------------------------------------------------------------------------------
def _np_aminmax(x, dim, keepdim):
    if x.ndim == 0:
        return x, x
    return np.min(x, axis=dim, keepdims=keepdim), np.max(x, axis=dim, keepdims=keepdim)


def _np_running(x, dim, better):
    """Running extreme along dim and where it was reached, by a plain loop."""
    if x.ndim == 0:
        return x, np.zeros((), np.int64)
    moved = np.moveaxis(x, dim, -1)
    values, indices = np.empty_like(moved), np.empty(moved.shape, np.int64)
    for pos in np.ndindex(*moved.shape[:-1]):
        best = 0
        for i in range(moved.shape[-1]):
            if better(moved[pos][i], moved[pos][best]) or i == best:
                best = i
            values[pos + (i,)], indices[pos + (i,)] = moved[pos][best], best
    return np.moveaxis(values, -1, dim), np.moveaxis(indices, -1, dim)


def _np_logcumsumexp(x, dim):
    if x.ndim == 0:
        return x
    return np.log(np.cumsum(np.exp(x.astype(np.float64)), axis=dim)).astype(x.dtype)


@st.composite
def _kth_case(draw, shapes):
    shape = shapes[0]
    dim = draw(_dim(len(shape)))
    size = shape[dim] if shape else 1
    return {"k": draw(st.integers(1, size)), "dim": dim, "keepdim": draw(st.booleans())}


def _np_kthvalue(x, k, dim, keepdim):
    def row(r):
        order = np.argsort(r)
        return r[order[k - 1]], order[k - 1]
    return _along(x, dim, keepdim, row)


def _np_mode(x, dim, keepdim):
    def row(r):
        values, counts = np.unique(r, return_counts=True)
        best = values[np.argmax(counts)]  # the smallest of the most frequent
        return best, np.flatnonzero(r == best)[-1]
    return _along(x, dim, keepdim, row)


def _np_nanmedian(x, dim, keepdim):
    def row(r):
        kept = np.flatnonzero(~np.isnan(r))
        if not kept.size:
            return np.nan, 0
        order = kept[np.argsort(r[kept])]
        i = order[(kept.size - 1) // 2]
        return r[i], i
    return _along(x, dim, keepdim, row)


def _np_nanmedian_all(x):
    values = np.sort(x[~np.isnan(x)])
    return np.asarray(values[(values.size - 1) // 2] if values.size else np.nan, x.dtype)


def _np_dist(x, y, p):
    d = np.abs((x - y).astype(np.float64)).reshape(-1)
    if p == 0:
        return np.asarray(np.count_nonzero(d), np.float64)
    return np.sum(d ** p) ** (1 / p)


def _inplace_scan(name):
    def fn(lib, x, dim):
        y = x * 1
        getattr(y, name)(dim)
        return y
    return fn


# nonzero values whose absolute values never tie (odd 32nds above zero, even 32nds below)
DISTINCT_SIZES = st.one_of(st.integers(0, 47).map(lambda i: (2 * i + 1) / 32),
                           st.integers(1, 48).map(lambda i: -2 * i / 32))
WITH_NAN = st.one_of(grid_floats(-3, 3), st.just(float("nan")))

REDUCTIONS = [
    OpSpec("aminmax", lambda lib, x, dim, keepdim: tuple(x.aminmax(dim=dim, keepdim=keepdim)), _np_aminmax,
           unique=True, kwargs=_dim_keepdim(allow_none=True), int_dtypes=("int64",)),
    OpSpec("aminmax_function", lambda lib, x: tuple(lib.aminmax(x)), lambda x: (np.min(x), np.max(x)), unique=True),
    OpSpec("cummax", lambda lib, x, dim: tuple(x.cummax(dim)), lambda x, dim: _np_running(x, dim, np.greater),
           unique=True, kwargs=_kw(dim=_dim), int_dtypes=("int64",)),
    OpSpec("cummin", lambda lib, x, dim: tuple(lib.cummin(x, dim)), lambda x, dim: _np_running(x, dim, np.less),
           unique=True, kwargs=_kw(dim=_dim)),
    OpSpec("logcumsumexp", lambda lib, x, dim: lib.logcumsumexp(x, dim), _np_logcumsumexp, kwargs=_kw(dim=_dim)),
    OpSpec("kthvalue", lambda lib, x, k, dim, keepdim: tuple(x.kthvalue(k, dim, keepdim)), _np_kthvalue,
           unique=True, kwargs=_kth_case, int_dtypes=("int64",)),
    # repeated values: the mode's value and index (no gradient check: moving one copy changes the mode)
    OpSpec("mode_repeats", lambda lib, x, dim, keepdim: tuple(lib.mode(x, dim, keepdim)), _np_mode,
           elements=st.sampled_from([-1.0, 0.5, 2.0]), kwargs=_dim_keepdim(), grad=False, int_dtypes=("int64",),
           max_side=5),
    OpSpec("mode_distinct", lambda lib, x, dim, keepdim: tuple(x.mode(dim, keepdim)), _np_mode,
           unique=True, kwargs=_dim_keepdim()),
    OpSpec("nanmedian_dim", lambda lib, x, dim, keepdim: tuple(x.nanmedian(dim, keepdim)), _np_nanmedian,
           unique=True, kwargs=_dim_keepdim()),
    OpSpec("nanmedian_all", lambda lib, x: lib.nanmedian(x), _np_nanmedian_all, unique=True),
    OpSpec("nanmedian_with_nan", lambda lib, x, dim: (x.nanmedian(), lib.nanmedian(x, dim)[0]),
           lambda x, dim: (_np_nanmedian_all(x), _np_nanmedian(x, dim, False)[0]), elements=WITH_NAN,
           kwargs=_kw(dim=_dim), grad=False),
    OpSpec("msort", lambda lib, x: lib.msort(x), lambda x: np.sort(x, axis=0), unique=True, min_dims=1,
           int_dtypes=("int64",)),
    OpSpec("dist", lambda lib, x, y, p: lib.dist(x, y, p), _np_dist, arity=2, elements=[EVEN, ODD],
           kwargs={"p": st.sampled_from([1, 1.5, 2, 3])}),
    # p = 0 counts the nonzero differences: no gradient (PyTorch's backward fails there)
    OpSpec("dist_p0", lambda lib, x, y: lib.dist(x, y, 0), lambda x, y: _np_dist(x, y, 0), arity=2, grad=False,
           elements=st.sampled_from([0.0, 1.0, 2.0])),
    OpSpec("dist_method_inf", lambda lib, x: x.dist(lib.zeros_like(x), INF), lambda x: np.max(np.abs(x)),
           elements=DISTINCT_SIZES, unique=True),
    OpSpec("cumsum_", _inplace_scan("cumsum_"), lambda x, dim: np.cumsum(x, axis=dim) if x.ndim else x, min_dims=1,
           kwargs=_kw(dim=_dim)),
    OpSpec("cumprod_", _inplace_scan("cumprod_"), lambda x, dim: np.cumprod(x, axis=dim) if x.ndim else x,
           min_dims=1, kwargs=_kw(dim=_dim), domain=(-2, 2)),
]


# ---- shape ops --------------------------------------------------------------------------------------------
@st.composite
def _rot90_case(draw, shapes):
    nd = len(shapes[0])
    dims = draw(st.permutations(range(nd)).map(lambda p: p[:2]))
    return {"k": draw(st.integers(-3, 5)), "dims": tuple(d - nd if draw(st.booleans()) else d for d in dims)}


@st.composite
def _column_shapes(draw, dtype=None):
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    return draw(st.sampled_from([((n,), (n, k), (n,)), ((1,), (), (1, k)), ((n, k), (n, 1), (n, 2))]))


@st.composite
def _depth_shapes(draw, dtype=None):
    m, n, k = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return draw(st.sampled_from([((m, n), (m, n, k), (m, n)), ((n,), (n,), (1, n, k)), ((), (1, 1, k), ())]))


@st.composite
def _diag_embed_case(draw, shapes):
    nd = len(shapes[0]) + 1
    dims = draw(st.permutations(range(-nd, 0)).map(lambda p: p[:2]))
    return {"offset": draw(st.integers(-2, 2)), "dim1": dims[0], "dim2": dims[1]}


def _np_diag_embed(x, offset, dim1, dim2):
    n = x.shape[-1]
    size = n + abs(offset)
    out = np.zeros(x.shape[:-1] + (size, size), x.dtype)
    for i in range(n):
        out[..., i + max(-offset, 0), i + max(offset, 0)] = x[..., i]
    return np.moveaxis(out, (-2, -1), (dim1, dim2))


@st.composite
def _diff_case(draw, shapes):
    return {"n": draw(st.integers(0, 3)), "dim": draw(_dim(len(shapes[0])))}


@st.composite
def _glued_shapes(draw, dtype=None):
    """x, prepend and append, differing only in the last dim."""
    lead = draw(shape_strategy(max_dims=2, max_side=3))
    return tuple(lead + (draw(st.integers(1, 3)),) for _ in range(3))


@st.composite
def _strided_case(draw, shapes):
    """A size, stride and storage offset that stay inside the input's elements (overlaps allowed)."""
    numel = int(np.prod(shapes[0]))
    size = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    stride = tuple(draw(st.integers(0, 3)) for _ in size)
    reach = sum((s - 1) * st_ for s, st_ in zip(size, stride))
    if reach >= numel:  # shrink to fit
        size, stride, reach = (1,) * len(size), stride, 0
    offset = draw(st.integers(0, numel - 1 - reach))
    return {"size": size, "stride": stride, "offset": offset}


def _np_as_strided(x, size, stride, offset):
    flat = x.reshape(-1)
    return np.lib.stride_tricks.as_strided(flat[offset:], size, [s * flat.itemsize for s in stride]).copy()


@st.composite
def _sum_to_case(draw, shapes):
    shape = shapes[0]
    kept = shape[draw(st.integers(0, len(shape))):]
    return {"size": tuple(1 if draw(st.booleans()) else s for s in kept)}


def _np_sum_to(x, size):
    lead = x.ndim - len(size)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(size) if s == 1 and x.shape[lead + i] != 1)
    return np.sum(x, axis=axes).reshape(size) if axes else x


_SMALL_PAIR = st.tuples(shape_strategy(max_dims=3, max_side=3), shape_strategy(max_dims=3, max_side=3))

SHAPES = [
    OpSpec("moveaxis", lambda lib, x, src, dst: x.moveaxis(src, dst), lambda x, src, dst: np.moveaxis(x, src, dst),
           min_dims=1,
           kwargs=_kw(src=_dim, dst=_dim)),
    OpSpec("ravel", lambda lib, x: (lib.ravel(x), x.transpose(0, -1).ravel()),
           lambda x: (x.ravel(), np.swapaxes(x, 0, -1).ravel()), min_dims=1, int_dtypes=("int64",)),
    OpSpec("fliplr_flipud", lambda lib, x: (lib.fliplr(x), x.flipud()), lambda x: (np.fliplr(x), np.flipud(x)),
           min_dims=2),
    OpSpec("rot90", lambda lib, x, k, dims: x.rot90(k, dims), lambda x, k, dims: np.rot90(x, k, dims), min_dims=2,
           kwargs=_rot90_case, int_dtypes=("int64",)),
    OpSpec("column_stack", lambda lib, *ts: lib.column_stack(ts), lambda *xs: np.column_stack(xs), arity=3,
           shapes=_column_shapes()),
    OpSpec("dstack", lambda lib, *ts: lib.dstack(ts), lambda *xs: np.dstack(xs), arity=3, shapes=_depth_shapes()),
    OpSpec("diag_embed", lambda lib, x, offset, dim1, dim2: x.diag_embed(offset, dim1, dim2), _np_diag_embed,
           min_dims=1, kwargs=_diag_embed_case),
    OpSpec("diagflat", lambda lib, x, k: lib.diagflat(x, k), lambda x, k: np.diagflat(x, k), max_dims=2,
           kwargs={"k": st.integers(-2, 2)}),
    OpSpec("diff", lambda lib, x, n, dim: x.diff(n, dim), lambda x, n, dim: np.diff(x, n, axis=dim), min_dims=1,
           kwargs=_diff_case, int_dtypes=("int64",)),
    OpSpec("diff_prepend_append", lambda lib, x, p, a: lib.diff(x, 2, -1, prepend=p, append=a),
           lambda x, p, a: np.diff(x, 2, axis=-1, prepend=p, append=a), arity=3, shapes=_glued_shapes()),
    OpSpec("as_strided", lambda lib, x, size, stride, offset: x.as_strided(size, stride, offset), _np_as_strided,
           kwargs=_strided_case, int_dtypes=("int64",)),
    OpSpec("sum_to_size", lambda lib, x, size: x.sum_to_size(size), _np_sum_to, kwargs=_sum_to_case),
    OpSpec("kron", lambda lib, a, b: lib.kron(a, b), np.kron, arity=2, shapes=_SMALL_PAIR, int_dtypes=("int64",)),
    # PyTorch 2.13's vander cannot backward (its own in-place write trips its version check): values against
    # torch, gradients against finite differences only
    OpSpec("vander", lambda lib, x, n, increasing: lib.vander(x, n, increasing),
           lambda x, n, increasing: np.vander(x, n, increasing), min_dims=1, max_dims=1, domain=(-2, 2),
           kwargs={"n": st.one_of(st.none(), st.integers(0, 4)), "increasing": st.booleans()}, int_dtypes=("int64",),
           grad=False),
    OpSpec("vander_grad", lambda lib, x, n, increasing: lib.vander(x, n, increasing),
           lambda x, n, increasing: np.vander(x, n, increasing), min_dims=1, max_dims=1, domain=(-2, 2),
           kwargs={"n": st.integers(2, 4), "increasing": st.booleans()}, torch=False),
]


# ---- indexing ----------------------------------------------------------------------------------------------
@st.composite
def _take_case(draw, shapes):
    n = int(np.prod(shapes[0]))
    shape = draw(shape_strategy(max_dims=2, max_side=3))
    return {"index": np.array(draw(st.lists(st.integers(-n, n - 1), min_size=int(np.prod(shape)),
                                            max_size=int(np.prod(shape))))).reshape(shape).astype(np.int64)}


def _np_take(x, index):
    return x.reshape(-1)[index]


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


def _np_unique_consecutive(x, dim):
    if dim is None:
        flat = x.reshape(-1)
        keep = np.r_[True, flat[1:] != flat[:-1]] if flat.size else np.zeros(0, bool)
        return flat[keep], (np.cumsum(keep) - 1).reshape(x.shape), np.diff(np.r_[np.flatnonzero(keep), flat.size])
    rows = [np.take(x, i, axis=dim) for i in range(x.shape[dim])]
    keep = [i == 0 or not np.array_equal(rows[i], rows[i - 1]) for i in range(len(rows))]
    return (np.compress(keep, x, axis=dim), np.cumsum(keep) - 1,
            np.diff(np.r_[np.flatnonzero(keep), len(rows)]))


@st.composite
def _histc_case(draw, shapes):
    low = draw(st.integers(-12, 4)) / 4
    return {"bins": draw(st.sampled_from([1, 2, 4, 8])), "min": low, "max": low + draw(st.sampled_from([1, 2, 4]))}


def _np_histc(x, bins, min, max):
    return np.histogram(x.astype(np.float64), bins, (min, max))[0].astype(x.dtype)


def _boundaries(lib, b):
    return lib.from_numpy(np.sort(b))


INDEXING = [
    OpSpec("take", lambda lib, x, index: x.take(lib.from_numpy(index)), _np_take, kwargs=_take_case,
           int_dtypes=("int64",)),
    OpSpec("argwhere", lambda lib, x: lib.argwhere(x > 0), lambda x: np.argwhere(x > 0), grad=False),
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
           kwargs=lambda shapes: _index_fill_case(shapes, negative=False)),  # (PyTorch's backward fails on -1)
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
    OpSpec("unique_consecutive", lambda lib, x, dim: lib.unique_consecutive(x, True, True, dim),
           _np_unique_consecutive, elements=st.sampled_from([0.0, 1.0, 2.5]), grad=False, int_dtypes=("int64",),
           kwargs=lambda shapes: st.fixed_dictionaries({"dim": st.one_of(st.none(), _dim(len(shapes[0])))
                                                        if shapes[0] else st.none()})),
    OpSpec("histc", lambda lib, x, bins, min, max: x.histc(bins, min, max), _np_histc, grad=False,
           kwargs=_histc_case),
    OpSpec("bucketize", lambda lib, x, b, right: lib.bucketize(x, _boundaries(lib, b), right=right),
           lambda x, b, right: np.searchsorted(np.sort(b), x, "right" if right else "left"), grad=False,
           elements=st.integers(-8, 8).map(lambda i: i / 4),
           kwargs={"b": st.lists(st.integers(-8, 8).map(lambda i: i / 4), max_size=5).map(np.array),
                   "right": st.booleans()}),
    OpSpec("searchsorted_rows", lambda lib, s, v, side: lib.searchsorted(s.sort().values, v, side=side),
           lambda s, v, side: np.stack([np.searchsorted(r, w, side) for r, w in zip(
               np.sort(s, -1).reshape(-1, s.shape[-1]), v.reshape(-1, v.shape[-1]))]).reshape(v.shape),
           arity=2, broadcast=False, grad=False, elements=st.integers(-8, 8).map(lambda i: i / 4),
           shapes=st.tuples(shape_strategy(min_dims=1, max_dims=3, max_side=4), st.integers(1, 4)).map(
               lambda p: (p[0], p[0][:-1] + (p[1],))),
           kwargs={"side": st.sampled_from(["left", "right"])}),
]


# ---- linear algebra ------------------------------------------------------------------------------------------
@st.composite
def _addmv_shapes(draw, dtype=None):
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return draw(st.sampled_from([(n,), (1,), ()])), (n, k), (k,)


@st.composite
def _addr_shapes(draw, dtype=None):
    n, m = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return draw(st.sampled_from([(n, m), (m,), (n, 1), ()])), (n,), (m,)


@st.composite
def _batch_shapes(draw, dtype=None, summed=False):
    b, n, k, m = (draw(st.integers(1, 3)) for _ in range(4))
    bias = draw(st.sampled_from([(n, m), (m,), (1, m), ()] if summed else [(b, n, m), (n, m), (b, 1, m), ()]))
    return bias, (b, n, k), (b, k, m)


SCALES = {"beta": st.sampled_from([1, 0.5, 0]), "alpha": st.sampled_from([1, -2])}


@st.composite
def _contraction_case(draw, shapes):
    """Pairs of dims of equal size (distinct on each side) to contract."""
    a, b = shapes
    pairs = [(i, j) for i in range(len(a)) for j in range(len(b)) if a[i] == b[j]]
    chosen, used_a, used_b = [], set(), set()
    for i, j in draw(st.permutations(pairs)) if pairs else []:
        if i not in used_a and j not in used_b and draw(st.booleans()):
            chosen.append((i, j))
            used_a.add(i)
            used_b.add(j)
    return {"dims": ([i for i, _ in chosen], [j for _, j in chosen])}


def _eye(lib, x):
    return lib.eye(x.shape[-1], dtype=x.dtype)


def _square_shapes(max_batch=1):
    return st.tuples(shape_strategy(max_dims=max_batch, max_side=2), st.integers(1, 3)).map(
        lambda p: (p[0] + (p[1], p[1]),))


def _np_logdet(x):
    sign, logabsdet = np.linalg.slogdet(x)
    return np.asarray(np.nan if sign < 0 else logabsdet)


def _np_matrix_power(x, n):
    return np.linalg.matrix_power(x + 4 * np.eye(x.shape[-1], dtype=x.dtype), n)


@st.composite
def _cov_case(draw, shapes):
    observations = shapes[0][-1] if shapes[0] else 1
    weights = {}
    if draw(st.booleans()):
        weights["fweights"] = np.array(draw(st.lists(st.integers(1, 3), min_size=observations,
                                                     max_size=observations)), dtype=np.int64)
    if draw(st.booleans()):
        weights["aweights"] = np.array(draw(st.lists(st.sampled_from([0.5, 1.0, 2.0]), min_size=observations,
                                                     max_size=observations)))
    return {"correction": draw(st.sampled_from([0, 1])), "weights": weights}


def _cov(lib, x, correction, weights):
    return lib.cov(x, correction=correction, **{k: lib.from_numpy(w) for k, w in weights.items()})


def _np_cov(x, correction, weights):
    return np.asarray(np.cov(x, ddof=correction, **weights), dtype=x.dtype if x.dtype.kind == "f" else np.float32)


@st.composite
def _cross_shapes(draw, dtype=None):
    a, b = draw(broadcastable_shapes(2, max_dims=2, max_side=3))
    a, b = ((1,) * (len(b) - len(a)) + a, (1,) * (len(a) - len(b)) + b)  # as many dims (PyTorch requires it)
    position = draw(st.integers(0, min(len(a), len(b))))
    return (a[:len(a) - position] + (3,) + a[len(a) - position:], b[:len(b) - position] + (3,) + b[len(b) - position:])


@st.composite
def _trapezoid_points_shapes(draw, dtype=None):
    y = draw(shape_strategy(min_dims=1, max_dims=3, max_side=4))
    return y, y[-1:]


LINALG = [
    OpSpec("addmv", lambda lib, b, m, v, beta, alpha: lib.addmv(b, m, v, beta=beta, alpha=alpha),
           lambda b, m, v, beta, alpha: beta * b + alpha * (m @ v), arity=3, shapes=_addmv_shapes(), kwargs=SCALES),
    OpSpec("addr", lambda lib, b, u, v, beta, alpha: b.addr(u, v, beta=beta, alpha=alpha),
           lambda b, u, v, beta, alpha: beta * b + alpha * np.outer(u, v), arity=3, shapes=_addr_shapes(),
           kwargs=SCALES),
    OpSpec("addr_int", lambda lib, b, u, v, beta, alpha: lib.addr(b, u, v, beta=beta, alpha=alpha),
           lambda b, u, v, beta, alpha: beta * b + alpha * np.outer(u, v), arity=3, shapes=_addr_shapes(),
           kwargs={"beta": st.sampled_from([1, 0, 2]), "alpha": st.sampled_from([1, -2])}, dtypes=(),
           int_dtypes=("int64",)),
    OpSpec("baddbmm", lambda lib, b, x, y, beta, alpha: lib.baddbmm(b, x, y, beta=beta, alpha=alpha),
           lambda b, x, y, beta, alpha: beta * b + alpha * (x @ y), arity=3, shapes=_batch_shapes(), kwargs=SCALES),
    OpSpec("addbmm", lambda lib, b, x, y, beta, alpha: b.addbmm(x, y, beta=beta, alpha=alpha),
           lambda b, x, y, beta, alpha: beta * b + alpha * (x @ y).sum(0), arity=3,
           shapes=_batch_shapes(summed=True), kwargs=SCALES),
    OpSpec("addmm_method_", lambda lib, b, x, y: (b.expand(x.shape[0], y.shape[1]) * 1).addmm_(x, y, alpha=0.5),
           lambda b, x, y: b + 0.5 * (x @ y), arity=3, shapes=st.tuples(st.integers(1, 3), st.integers(1, 3),
                                                                         st.integers(1, 3)).map(
               lambda t: ((t[2],), (t[0], t[1]), (t[1], t[2])))),
    OpSpec("vdot", lambda lib, a, b: lib.vdot(a, b), np.vdot, arity=2, min_dims=1, max_dims=1, broadcast=False),
    OpSpec("tensordot", lambda lib, a, b, dims: lib.tensordot(a, b, dims), lambda a, b, dims: np.tensordot(a, b, dims),
           arity=2, shapes=st.tuples(shape_strategy(max_dims=3, min_side=2, max_side=3),
                                     shape_strategy(max_dims=3, min_side=2, max_side=3)), kwargs=_contraction_case),
    OpSpec("tensordot_int", lambda lib, a, b: lib.tensordot(a, b, 1), lambda a, b: np.tensordot(a, b, 1), arity=2,
           shapes=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)).map(
               lambda t: ((t[0], t[1]), (t[1], t[2], t[0])))),
    OpSpec("det", lambda lib, x: lib.det(x + 4 * _eye(lib, x)),
           lambda x: np.linalg.det(x + 4 * np.eye(x.shape[-1])), shapes=_square_shapes(), domain=(-1, 1)),
    OpSpec("det_method", lambda lib, x: x.det(), np.linalg.det, shapes=_square_shapes(0), unique=True),
    OpSpec("slogdet_logdet", lambda lib, x: tuple(lib.slogdet(x + 4 * _eye(lib, x))) + (x.logdet(),),
           lambda x: tuple(np.linalg.slogdet(x + 4 * np.eye(x.shape[-1]))) + (_np_logdet(x),),
           shapes=_square_shapes(0), domain=(-1, 1), unique=True, grad=False),
    OpSpec("logdet_positive", lambda lib, x: (x @ x.mT + _eye(lib, x)).logdet(),
           lambda x: np.log(np.linalg.det(x @ np.swapaxes(x, -1, -2) + np.eye(x.shape[-1]))),
           shapes=_square_shapes(), domain=(-1, 1)),
    OpSpec("inverse", lambda lib, x: (x + 4 * _eye(lib, x)).inverse(),
           lambda x: np.linalg.inv(x + 4 * np.eye(x.shape[-1])), shapes=_square_shapes(), domain=(-1, 1)),
    OpSpec("matrix_power", lambda lib, x, n: lib.matrix_power(x + 4 * _eye(lib, x), n), _np_matrix_power,
           shapes=_square_shapes(0), domain=(-1, 1), kwargs={"n": st.integers(-2, 5)}),
    # (named apart: a batch's last node is a matmul's, which PyTorch names by decomposition)
    OpSpec("matrix_power_batched", lambda lib, x, n: x.add(4 * _eye(lib, x)).matrix_power(n), _np_matrix_power,
           shapes=st.tuples(st.integers(1, 2), st.integers(1, 3)).map(lambda p: ((p[0], p[1], p[1]),)),
           domain=(-1, 1), kwargs={"n": st.integers(-2, 5)}),
    OpSpec("pinverse", lambda lib, x: (x + lib.eye(*x.shape[-2:], dtype=x.dtype) * 3).pinverse(),
           lambda x: np.linalg.pinv(x + 3 * np.eye(*x.shape[-2:])), domain=(-1, 1),
           shapes=st.tuples(st.integers(1, 3), st.integers(1, 3)).map(lambda s: (s,))),
    OpSpec("cov", _cov, _np_cov, min_dims=1, max_dims=2, min_side=2, kwargs=_cov_case, int_dtypes=("int64",)),
    OpSpec("cross", lambda lib, a, b: lib.cross(a, b, dim=a.shape.index(3) - a.dim()),
           lambda a, b: np.cross(a, b, axis=a.shape.index(3) - a.ndim), arity=2, shapes=_cross_shapes()),
    OpSpec("trapezoid_dx", lambda lib, y, dx, dim: lib.trapezoid(y, dim=dim) if dx is None else
           lib.trapezoid(y, dx=dx, dim=dim),
           lambda y, dx, dim: np.trapezoid(y, dx=1 if dx is None else dx, axis=dim), min_dims=1,
           kwargs=_kw(dx=lambda nd: st.sampled_from([None, 0.5, 2]), dim=_dim), int_dtypes=("int64",)),
    OpSpec("trapz_points", lambda lib, y, x: lib.trapz(y, x), lambda y, x: np.trapezoid(y, x), arity=2,
           shapes=_trapezoid_points_shapes()),
]

ARRAY_SPECS = REDUCTIONS + SHAPES + INDEXING + LINALG
