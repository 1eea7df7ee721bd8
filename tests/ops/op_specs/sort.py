"""The order statistics of gradlab/ops/sort.py: sort, argsort, topk, median, kthvalue, mode, nanmedian,
msort.
"""
import numpy as np
from hypothesis import strategies as st

from gradlab.testing import OpSpec
from ._common import SMALL, WITH_NAN, _dim, _dim_keepdim, _kw, reduce_kwargs


def _np_median_dim(x, dim, keepdim):
    """The lower median along dim and where it came from (distinct values, so the index is unique)."""
    if x.ndim == 0:
        return x, np.zeros((), np.int64)
    order = np.argsort(x, axis=dim)
    index = np.take(order, [(x.shape[dim] - 1) // 2], axis=dim)
    values = np.take_along_axis(x, index, dim)
    return (values, index) if keepdim else (values.squeeze(dim), index.squeeze(dim))


def _np_sort(x, dim, descending):
    order = np.argsort(-x if descending else x, axis=dim, kind="stable")
    return np.take_along_axis(x, order, dim), order


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


SPECS = [
    OpSpec("median", lambda lib, x: x.median(), lambda x: np.sort(x, axis=None)[(x.size - 1) // 2],
           unique=True, min_side=1, int_dtypes=("int64",)),
    OpSpec("median_dim", lambda lib, x, dim, keepdim: tuple(lib.median(x, dim, keepdim)), _np_median_dim,
           unique=True, kwargs=reduce_kwargs(allow_none=False, allow_tuple=False), int_dtypes=("int64",)),
    OpSpec("sort", lambda lib, x, dim, descending: tuple(x.sort(dim, descending=descending)),
           lambda x, dim, descending: _np_sort(x, dim, descending), unique=True, min_dims=1,
           kwargs=_kw(dim=_dim, descending=lambda nd: st.booleans()), int_dtypes=("int64",)),
    OpSpec("argsort", lambda lib, x, dim: lib.argsort(x, dim, descending=True),
           lambda x, dim: _np_sort(x, dim, True)[1], unique=True, min_dims=1, grad=False, kwargs=_kw(dim=_dim)),
    OpSpec("topk", lambda lib, x, k, dim, largest: tuple(x.topk(min(k, x.shape[dim]), dim, largest)),
           lambda x, k, dim, largest: tuple(a.take(np.arange(min(k, x.shape[dim])), axis=dim)
                                            for a in _np_sort(x, dim, largest)),
           unique=True, min_dims=1, kwargs=_kw(k=lambda nd: st.integers(1, 3), dim=_dim,
                                               largest=lambda nd: st.booleans())),
    OpSpec("sort_stable", lambda lib, x, dim: tuple(lib.sort(x, dim=dim, stable=True)),
           lambda x, dim: _np_sort(x, dim, False), unique=True, min_dims=1, kwargs=_kw(dim=_dim)),
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
]

GRADGRAD_SPECS = [
    OpSpec("sort_topk", lambda lib, x: (x.sort(0)[0] ** 2, x.topk(1, 0)[0] ** 2), unique=True, min_dims=1, **SMALL),
]
