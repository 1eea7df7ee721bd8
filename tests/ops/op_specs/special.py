"""The special functions of gradlab/ops/special.py (erf, lgamma, digamma, polygamma, logit, xlogy,
sinc, ...) and its NaN-aware reductions nansum / nanmean.
"""
import numpy as np
from hypothesis import strategies as st
from scipy import special as sp

from gradlab.testing import OpSpec, grid_floats
from ._common import INT, WITH_NAN, _f64, _function, _method, reduce_kwargs, _reduce_ref, second_order

# values away from lgamma's poles at 0, -1, -2, ...
GAMMA_DOMAIN = grid_floats(-2.9, 4, avoid=(0, -1, -2), margin=0.1)


def _np_nanmean(x, axis=None, keepdims=False):
    with np.errstate(invalid="ignore", divide="ignore"):  # all-NaN slices: NaN, as PyTorch (NumPy also warns)
        return np.asarray(np.nansum(x, axis=axis, keepdims=keepdims)
                          / np.sum(~np.isnan(x), axis=axis, keepdims=keepdims)).astype(x.dtype)


SPECS = [
    OpSpec("erf", _method("erf"), _f64(sp.erf), int_dtypes=INT),
    OpSpec("erfc", _function("erfc"), _f64(sp.erfc), int_dtypes=INT),
    OpSpec("erfinv", _method("erfinv"), _f64(sp.erfinv), domain=(-0.9, 0.9), int_dtypes=INT),
    OpSpec("lgamma", _method("lgamma"), _f64(sp.gammaln), elements=GAMMA_DOMAIN, int_dtypes=INT),
    OpSpec("digamma", _function("digamma"), _f64(sp.digamma), elements=GAMMA_DOMAIN, int_dtypes=INT),
    OpSpec("polygamma", lambda lib, x, n: lib.polygamma(n, x), lambda x, n: sp.polygamma(n, x.astype(np.float64)),
           domain=(0.25, 4), kwargs={"n": st.sampled_from([0, 1, 2])}, int_dtypes=INT),
    OpSpec("polygamma_method", lambda lib, x: x.polygamma(1), _f64(lambda x: sp.polygamma(1, x)), domain=(0.25, 4)),
    OpSpec("logit", _method("logit"), _f64(sp.logit), domain=(0.05, 0.95)),
    # with eps the input is clamped to [eps, 1 - eps] first (the gradient is 0 outside)
    OpSpec("logit_eps", lambda lib, x, eps: lib.logit(x, eps=eps),
           lambda x, eps: sp.logit(np.clip(x.astype(np.float64), eps, 1 - eps)), domain=(-0.5, 1.5),
           kwargs={"eps": st.sampled_from([0.1, 0.3, 1e-3])}, int_dtypes=INT),
    OpSpec("xlogy", _function("xlogy"), _f64(sp.xlogy), arity=2, domain=[(-3, 3), (0.25, 3)], int_dtypes=INT),
    OpSpec("xlogy_scalar_other", lambda lib, x, s: x.xlogy(s), lambda x, s: sp.xlogy(x.astype(np.float64), s),
           kwargs={"s": st.sampled_from([0.5, 2, 3.5])}, int_dtypes=INT),
    OpSpec("xlogy_scalar_self", lambda lib, x, s: lib.xlogy(s, x), lambda x, s: sp.xlogy(s, x.astype(np.float64)),
           domain=(0.25, 3), kwargs={"s": st.sampled_from([0, 1.5, -2])}),
    # 0 * log(0) is 0, 0 * log(-1) is 0, x * log(0) is -inf
    OpSpec("xlogy_zeros", _function("xlogy"), _f64(sp.xlogy), arity=2,
           elements=st.sampled_from([0.0, 0.0, 1.5, -2.0, 0.5]), grad=False),
    OpSpec("sinc", _method("sinc"), _f64(np.sinc), int_dtypes=INT),
    # nansum of an all-NaN slice is 0; NaN elements get no gradient
    OpSpec("nansum", lambda lib, x, dim, keepdim: lib.nansum(x, dim, keepdim), _reduce_ref(np.nansum),
           kwargs=reduce_kwargs(), elements=WITH_NAN),
    OpSpec("nansum_method_int", lambda lib, x, dim, keepdim: x.nansum(dim, keepdim=keepdim), _reduce_ref(np.sum),
           kwargs=reduce_kwargs(), dtypes=(), int_dtypes=("int64", "int32", "bool"), domain=(-20, 20)),
    OpSpec("nansum_dtype", lambda lib, x: x.nansum(dtype=lib.float64), lambda x: np.nansum(x.astype(np.float64)),
           elements=WITH_NAN, dtypes=("float32",)),
    # (an all-NaN slice gives NaN, whose finite differences are NaN: the gradient check is in test_math_ops.py)
    OpSpec("nanmean_nan", lambda lib, x, dim, keepdim: lib.nanmean(x, dim, keepdim),
           _reduce_ref(lambda x, **kw: _np_nanmean(x, **kw)), kwargs=reduce_kwargs(), elements=WITH_NAN,
           grad=False),
    OpSpec("nanmean", lambda lib, x, dim, keepdim: x.nanmean(dim, keepdim=keepdim), _reduce_ref(np.mean),
           kwargs=reduce_kwargs()),
]

GRADGRAD_SPECS = second_order(SPECS, "erf", "erfc", "erfinv", "lgamma", "digamma", "polygamma", "logit", "logit_eps",
                              "xlogy", "xlogy_scalar_other", "nansum", "nanmean")
# sinc's second derivative at 0 is masked as PyTorch masks the first: keep the inputs off 0
GRADGRAD_SPECS += second_order(SPECS, "sinc", avoid=(0,))
