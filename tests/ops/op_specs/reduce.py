"""The reductions and scans of gradlab/ops/reduce.py: sum, mean, prod, max / min, var / std, norm,
logsumexp, cumsum / cumprod, cummax / cummin, aminmax, dist, any / all.
"""
import numpy as np
from hypothesis import strategies as st

from gradlab.testing import OpSpec
from ._common import EVEN, INF, ODD, SMALL, _dim, _dim_keepdim, _kw, reduce_kwargs, _reduce_ref


def _call_reduce(name):
    """x.name() when dim is None (torch has no keepdim for full reductions of max/min), else x.name(dim, keepdim)."""
    def fn(lib, x, dim=None, keepdim=False, **kw):
        method = getattr(x, name)
        if dim is None:
            return method(**kw) if not keepdim else method(dim=tuple(range(x.dim())), keepdim=True, **kw)
        return method(dim=dim, keepdim=keepdim, **kw)
    return fn


# nonzero values whose absolute values never tie (odd 32nds above zero, even 32nds below): max |x| has no kink
DISTINCT_SIZES = st.one_of(st.integers(0, 47).map(lambda i: (2 * i + 1) / 32),
                           st.integers(1, 48).map(lambda i: -2 * i / 32))


def _fro_dims(p, dim):
    """p, or 2 where torch refuses "fro" (over more than two dims): the same norm."""
    return 2 if p == "fro" and isinstance(dim, tuple) and len(dim) > 2 else p


def _np_norm(x, p, dim, keepdim):
    p = 2 if p == "fro" else p
    a = np.abs(x.astype(np.float64))
    kw = {"axis": dim, "keepdims": keepdim}
    if p == INF:
        return np.max(a, **kw)
    return np.sum(a ** p, **kw) ** (1 / p)


def _np_logsumexp(x, dim, keepdim):
    peak = np.max(x, axis=dim, keepdims=True)
    out = np.log(np.sum(np.exp(x - peak), axis=dim, keepdims=True)) + peak
    return out if keepdim else np.squeeze(out, axis=dim)


def _np_cumprod(x, dim, dtype=None):
    if x.ndim == 0:
        return x.astype(np.int64 if x.dtype.kind == "i" else x.dtype)
    return np.cumprod(x, axis=dim % x.ndim, dtype=dtype if dtype is not None else
                      (np.int64 if x.dtype.kind == "i" else None))


def _np_norm_any(x, p, dim, keepdim):
    a = np.abs(x.astype(np.float64))
    kw = {"axis": dim, "keepdims": keepdim}
    if p == -INF:
        return np.min(a, **kw)
    if p == 0:
        return np.sum(a != 0, **kw).astype(np.float64)
    return np.sum(a ** p, **kw) ** (1 / p)


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


SPECS = [
    OpSpec("sum", _call_reduce("sum"), _reduce_ref(np.sum), kwargs=reduce_kwargs(), max_dims=4,
           int_dtypes=("int64", "int32")),
    OpSpec("mean", _call_reduce("mean"), _reduce_ref(np.mean), kwargs=reduce_kwargs(), max_dims=4),
    OpSpec("prod", lambda lib, x, dim, keepdim: x.prod() if dim is None else x.prod(dim, keepdim=keepdim),
           lambda x, dim, keepdim: np.prod(x, axis=dim, keepdims=keepdim and dim is not None and x.ndim > 0),
           kwargs=reduce_kwargs(allow_tuple=False),
           domain=(0.5, 1.5), int_dtypes=("int64",)),
    # (magnitudes up to 1.25: the product of 48 elements stays small enough for a finite difference along all)
    OpSpec("prod_with_zeros", lambda lib, x, dim: x.prod(dim) if dim is not None else x.prod(),
           lambda x, dim: np.prod(x, axis=dim), elements=st.sampled_from([0.0, 0.0, 1.0, -1.25, 0.5]),
           kwargs=lambda shapes: st.fixed_dictionaries({"dim": st.one_of(st.none(), _dim(len(shapes[0])))})),
    OpSpec("max_all", lambda lib, x: x.max(), np.max, unique=True, int_dtypes=("int64",)),
    OpSpec("min_all", lambda lib, x: x.min(), np.min, unique=True),
    OpSpec("max_dim", lambda lib, x, dim, keepdim: tuple(x.max(dim, keepdim)),
           lambda x, dim, keepdim: (np.max(x, axis=dim if x.ndim else None, keepdims=keepdim and x.ndim > 0),
                                    np.argmax(x, axis=dim if x.ndim else None, keepdims=keepdim and x.ndim > 0)),
           unique=True, kwargs=reduce_kwargs(allow_none=False, allow_tuple=False), int_dtypes=("int64",)),
    OpSpec("min_dim", lambda lib, x, dim, keepdim: tuple(x.min(dim=dim, keepdim=keepdim)),
           lambda x, dim, keepdim: (np.min(x, axis=dim if x.ndim else None, keepdims=keepdim and x.ndim > 0),
                                    np.argmin(x, axis=dim if x.ndim else None, keepdims=keepdim and x.ndim > 0)),
           unique=True, kwargs=reduce_kwargs(allow_none=False, allow_tuple=False)),
    OpSpec("argmax", lambda lib, x, dim, keepdim: x.argmax(dim=dim, keepdim=keepdim),
           lambda x, dim, keepdim: np.argmax(x, axis=dim if x.ndim else None,
                                             keepdims=keepdim and x.ndim > 0),
           unique=True, grad=False, int_dtypes=("int64",), kwargs=reduce_kwargs(allow_tuple=False)),
    OpSpec("argmin", lambda lib, x, dim, keepdim: lib.argmin(x, dim=dim, keepdim=keepdim),
           lambda x, dim, keepdim: np.argmin(x, axis=dim if x.ndim else None,
                                             keepdims=keepdim and x.ndim > 0),
           unique=True, grad=False, kwargs=reduce_kwargs(allow_tuple=False)),
    OpSpec("var", _call_reduce("var"), lambda x, dim, keepdim, unbiased: np.var(
        x, axis=dim, keepdims=keepdim, ddof=int(unbiased)),
           kwargs=reduce_kwargs(unbiased=st.booleans()), min_dims=1, min_side=2, unique=True),
    OpSpec("std", _call_reduce("std"), lambda x, dim, keepdim, correction: np.std(
        x, axis=dim, keepdims=keepdim, ddof=correction),
           kwargs=reduce_kwargs(correction=st.sampled_from([0, 1])), min_dims=1, min_side=2, unique=True),
    OpSpec("norm", lambda lib, x, p, dim, keepdim: x.norm(p=_fro_dims(p, dim), dim=dim, keepdim=keepdim),
           lambda x, p, dim, keepdim: _np_norm(x, p, dim, keepdim),
           kwargs=reduce_kwargs(p=st.sampled_from([2, 1, 3, INF, "fro"])), elements=DISTINCT_SIZES, unique=True),
    OpSpec("lib_norm_default", lambda lib, x: lib.norm(x), lambda x: np.sqrt(np.sum(x.astype(np.float64) ** 2)),
           avoid=(0,)),
    OpSpec("cumsum", lambda lib, x, dim: x.cumsum(dim), lambda x, dim: np.cumsum(x, axis=dim % max(x.ndim, 1))
           if x.ndim else x.astype(np.int64 if x.dtype.kind == "i" else x.dtype), kwargs=_kw(dim=_dim), int_dtypes=("int64",)),
    OpSpec("logsumexp", lambda lib, x, dim, keepdim: x.logsumexp(dim, keepdim), _np_logsumexp, min_dims=1,
           kwargs=reduce_kwargs(allow_none=False), domain=(-20, 20)),
    OpSpec("amax", lambda lib, x, dim, keepdim: x.amax(dim, keepdim), lambda x, dim, keepdim: np.max(
        x, axis=dim, keepdims=keepdim), min_dims=1, unique=True, kwargs=reduce_kwargs(allow_none=False)),
    OpSpec("amin", lambda lib, x, dim, keepdim: lib.amin(x, dim, keepdim), lambda x, dim, keepdim: np.min(
        x, axis=dim, keepdims=keepdim), min_dims=1, unique=True, kwargs=reduce_kwargs(allow_none=False)),
    OpSpec("any_all", lambda lib, x, dim: (x.gt(0).any(), x.gt(0).all(), x.gt(0).any(dim), x.gt(0).all(dim)),
           lambda x, dim: ((x > 0).any(), (x > 0).all(), (x > 0).any(dim), (x > 0).all(dim)), min_dims=1,
           grad=False, kwargs=_kw(dim=_dim)),
    OpSpec("cumprod", lambda lib, x, dim: x.cumprod(dim), _np_cumprod, kwargs=_kw(dim=_dim), domain=(-2, 2),
           int_dtypes=("int64",)),
    OpSpec("cumprod_with_zeros", lambda lib, x, dim: lib.cumprod(x, dim), _np_cumprod, kwargs=_kw(dim=_dim),
           elements=st.sampled_from([0.0, 0.0, 1.0, -2.0, 0.5, 1.5]), max_side=5),
    OpSpec("cumprod_dtype", lambda lib, x, dim: x.cumprod(dim, dtype=lib.float64),
           lambda x, dim: _np_cumprod(x.astype(np.float64), dim), kwargs=_kw(dim=_dim), dtypes=("float32",),
           int_dtypes=("int64",)),
    OpSpec("var_mean", lambda lib, x, dim, keepdim, correction: lib.var_mean(
        x, dim, keepdim=keepdim, correction=correction), lambda x, dim, keepdim, correction: (
        np.var(x, axis=dim, keepdims=keepdim, ddof=correction), np.mean(x, axis=dim, keepdims=keepdim)),
           kwargs=reduce_kwargs(correction=st.sampled_from([0, 1])), min_dims=1, min_side=2, unique=True),
    OpSpec("std_mean", lambda lib, x, dim, keepdim: lib.std_mean(x, dim, keepdim=keepdim),
           lambda x, dim, keepdim: (np.std(x, axis=dim, keepdims=keepdim, ddof=1),
                                    np.mean(x, axis=dim, keepdims=keepdim)),
           kwargs=reduce_kwargs(), min_dims=1, min_side=2, unique=True),
    OpSpec("norm_more_p", lambda lib, x, p, dim, keepdim: x.norm(p=p, dim=dim, keepdim=keepdim),
           lambda x, p, dim, keepdim: _np_norm_any(x, p, dim, keepdim),
           kwargs=reduce_kwargs(p=st.sampled_from([0, 0.5, 1.5, -INF])), elements=DISTINCT_SIZES, unique=True),
    OpSpec("aminmax", lambda lib, x, dim, keepdim: tuple(x.aminmax(dim=dim, keepdim=keepdim)), _np_aminmax,
           unique=True, kwargs=_dim_keepdim(allow_none=True), int_dtypes=("int64",)),
    OpSpec("aminmax_function", lambda lib, x: tuple(lib.aminmax(x)), lambda x: (np.min(x), np.max(x)), unique=True),
    OpSpec("cummax", lambda lib, x, dim: tuple(x.cummax(dim)), lambda x, dim: _np_running(x, dim, np.greater),
           unique=True, kwargs=_kw(dim=_dim), int_dtypes=("int64",)),
    OpSpec("cummin", lambda lib, x, dim: tuple(lib.cummin(x, dim)), lambda x, dim: _np_running(x, dim, np.less),
           unique=True, kwargs=_kw(dim=_dim)),
    OpSpec("logcumsumexp", lambda lib, x, dim: lib.logcumsumexp(x, dim), _np_logcumsumexp, kwargs=_kw(dim=_dim)),
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

UNIQUE = dict(unique=True, min_dims=1, min_side=2, max_dims=2, max_side=3)
GRADGRAD_SPECS = [
    OpSpec("sum", lambda lib, x, dim, keepdim: (x * x).sum(dim, keepdim=keepdim) if dim is not None
           else (x * x).sum(), kwargs=reduce_kwargs(), **SMALL),
    OpSpec("mean", lambda lib, x, dim, keepdim: (x ** 3).mean(dim, keepdim=keepdim) if dim is not None
           else (x ** 3).mean(), kwargs=reduce_kwargs(), **SMALL),
    OpSpec("norm", lambda lib, x: x.norm(), avoid=(0,), **SMALL),
    OpSpec("norm_dim", lambda lib, x: x.norm(dim=-1), avoid=(0,), min_dims=1, **SMALL),
    OpSpec("norm_p", lambda lib, x, p: x.norm(p), kwargs={"p": st.sampled_from([1, 2, 3, 1.5, float("inf")])},
           elements=DISTINCT_SIZES, unique=True, **SMALL),
    OpSpec("logsumexp", lambda lib, x, dim, keepdim: x.logsumexp(dim if dim is not None else tuple(range(x.ndim)),
                                                                 keepdim=keepdim),
           kwargs=reduce_kwargs(), **SMALL),
    OpSpec("var", lambda lib, x, dim, keepdim, correction: x.var(dim, keepdim=keepdim, correction=correction),
           kwargs=reduce_kwargs(correction=st.sampled_from([0, 1])), **UNIQUE),
    OpSpec("std", lambda lib, x, dim, keepdim: x.std(dim, keepdim=keepdim), kwargs=reduce_kwargs(), **UNIQUE),
    OpSpec("var_mean", lambda lib, x: lib.var_mean(x, 0), **UNIQUE),
    OpSpec("std_mean", lambda lib, x: lib.std_mean(x, -1), **UNIQUE),
    OpSpec("cumprod", lambda lib, x, dim: x.cumprod(dim), kwargs=_kw(dim=_dim), domain=(-2, 2), **SMALL),
    OpSpec("cumprod_with_zeros", lambda lib, x, dim: x.cumprod(dim), kwargs=_kw(dim=_dim),
           elements=st.sampled_from([0.0, 1.0, -2.0, 0.5]), **SMALL),
]
