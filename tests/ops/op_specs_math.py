"""The pointwise math ops (trigonometry, exponentials, special functions, NaN-aware
reductions, integer and bit ops) as OpSpecs for the factory in test_math_ops.py.

As in op_specs.py, each ``fn(lib, ...)`` runs on gradlab and on torch and ``ref``
is the NumPy / SciPy reference.  Domains keep gradient checks off poles (lgamma's
non-positive integers), branch cuts (atan2 along the negative x axis) and kinks
(clamp bounds sit off the inputs' 1/32 grid).
"""
import numpy as np
from hypothesis import strategies as st
from scipy import special as sp

from gradlab.testing import OpSpec, grid_floats
from op_specs import ODD_64THS, _reduce_ref, reduce_kwargs

NAN, INF = float("nan"), float("inf")
INT = ("int64",)


def _method(name, *args):
    return lambda lib, x: getattr(x, name)(*args)


def _function(name):
    return lambda lib, *xs: getattr(lib, name)(*xs)


def _f64(np_fn):
    """The reference computed in float64 (integer inputs compute in float, as the ops do)."""
    return lambda *xs, **kw: np_fn(*[np.asarray(x, dtype=np.float64) for x in xs], **kw)


# values away from lgamma's poles at 0, -1, -2, ...
GAMMA_DOMAIN = grid_floats(-2.9, 4, avoid=(0, -1, -2), margin=0.1)
# clamp bounds and eps values off the 1/32 grid: no input sits on a kink
BOUNDS = st.integers(-96, 95).map(lambda i: (2 * i + 1) / 64)
WITH_NAN = st.one_of(grid_floats(-3, 3), st.just(NAN))
SPECIAL_VALUES = st.sampled_from([0.0, -0.0, 1.5, -2.0, INF, -INF, NAN])

TRIG = [
    OpSpec("asin", _method("asin"), _f64(np.arcsin), domain=(-0.9, 0.9), int_dtypes=INT),
    OpSpec("acos", _function("acos"), _f64(np.arccos), domain=(-0.9, 0.9), int_dtypes=INT),
    OpSpec("atan", _method("atan"), _f64(np.arctan), int_dtypes=INT),
    OpSpec("arc_aliases", lambda lib, x: (lib.arcsin(x), x.arccos(), lib.arctan(x), x.arctan2(x + 4)),
           lambda x: (np.arcsin(x), np.arccos(x), np.arctan(x), np.arctan2(x, x + 4)), domain=(-0.9, 0.9)),
    # y == 0 would straddle the jump from pi to -pi on the negative x axis
    OpSpec("atan2", _function("atan2"), _f64(np.arctan2), arity=2,
           elements=[grid_floats(-3, 3, avoid=(0,), margin=0.1), grid_floats(-3, 3)], int_dtypes=INT),
    OpSpec("sinh", _method("sinh"), _f64(np.sinh), int_dtypes=INT),
    OpSpec("cosh", _function("cosh"), _f64(np.cosh), int_dtypes=INT),
    OpSpec("deg2rad", _method("deg2rad"), _f64(np.deg2rad), domain=(-360, 360), int_dtypes=INT),
    OpSpec("rad2deg", _function("rad2deg"), _f64(np.rad2deg), int_dtypes=INT),
    OpSpec("hypot", _function("hypot"), np.hypot, arity=2,
           elements=[grid_floats(-3, 3, avoid=(0,), margin=0.1), grid_floats(-3, 3)]),
]

EXP_LOG = [
    OpSpec("exp2", _method("exp2"), _f64(np.exp2), int_dtypes=INT),
    OpSpec("log10", _function("log10"), _f64(np.log10), domain=(0.1, 5), int_dtypes=INT),
    OpSpec("logaddexp", _function("logaddexp"), np.logaddexp, arity=2),
    OpSpec("logaddexp2", lambda lib, x, y: x.logaddexp2(y), np.logaddexp2, arity=2),
    OpSpec("ldexp", _function("ldexp"), _f64(lambda x, e: x * 2.0 ** e), arity=2, int_dtypes=INT),
    OpSpec("float_power", _function("float_power"), _f64(np.power), arity=2, domain=[(0.25, 3), (-2, 2)],
           int_dtypes=INT),
    OpSpec("float_power_scalar_exponent", lambda lib, x, s: x.float_power(s),
           lambda x, s: np.power(x.astype(np.float64), s), domain=(0.25, 3),
           kwargs={"s": st.sampled_from([2, 3, 0.5, -1.5])}, int_dtypes=INT),
    OpSpec("float_power_scalar_base", lambda lib, x, s: lib.float_power(s, x),
           lambda x, s: np.power(s, x.astype(np.float64)), kwargs={"s": st.sampled_from([2, 0.5, 3.25])},
           int_dtypes=INT),
]

SPECIAL = [
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
]

SIGNS_AND_STEPS = [
    OpSpec("sgn", _method("sgn"), np.sign, avoid=(0,), int_dtypes=INT),
    OpSpec("signbit", _function("signbit"), np.signbit, elements=SPECIAL_VALUES, grad=False),
    OpSpec("signbit_int", _method("signbit"), np.signbit, dtypes=(), int_dtypes=("int64", "int32")),
    OpSpec("isposinf_isneginf", lambda lib, x: (lib.isposinf(x), x.isneginf()),
           lambda x: (np.isposinf(x), np.isneginf(x)), elements=SPECIAL_VALUES, grad=False),
    OpSpec("heaviside", lambda lib, x, v: lib.heaviside(x, v), lambda x, v: np.where(x == 0, v, x > 0).astype(x.dtype),
           arity=2, elements=st.sampled_from([0.0, -0.0, 1.5, -2.0, 0.5]), grad=False, int_dtypes=INT),
    OpSpec("clamp_min", lambda lib, x, b: lib.clamp_min(x, b), lambda x, b: np.maximum(x, b),
           kwargs={"b": BOUNDS}, int_dtypes=INT),
    OpSpec("clamp_max", lambda lib, x, b: x.clamp_max(b), lambda x, b: np.minimum(x, b),
           kwargs={"b": BOUNDS}, int_dtypes=INT),
    OpSpec("clamp_min_tensor", lambda lib, x, b: x.clamp_min(b), np.maximum, arity=2,
           elements=[grid_floats(-3, 3), ODD_64THS]),
    OpSpec("clamp_max_tensor", lambda lib, x, b: lib.clamp_max(x, b), np.minimum, arity=2,
           elements=[grid_floats(-3, 3), ODD_64THS]),
    OpSpec("clamp_min_max_nan", lambda lib, x: (x.clamp_min(0.5), lib.clamp_max(x, -0.5)),
           lambda x: (np.maximum(x, 0.5), np.minimum(x, -0.5)), elements=SPECIAL_VALUES, grad=False),
    # ties (a == b) give the whole gradient to a: inputs on two disjoint grids never tie
    OpSpec("fmax", _function("fmax"), np.fmax, arity=2, elements=[grid_floats(-3, 3), ODD_64THS], int_dtypes=INT),
    OpSpec("fmin", lambda lib, x, y: x.fmin(y), np.fmin, arity=2, elements=[grid_floats(-3, 3), ODD_64THS],
           int_dtypes=INT),
    # a NaN in one input picks the other (whose gradient it gets); NaN in both stays NaN
    OpSpec("fmax_fmin_nan_other", lambda lib, x, y: (lib.fmax(x, y), lib.fmin(x, y)),
           lambda x, y: (np.fmax(x, y), np.fmin(x, y)), arity=2,
           elements=[grid_floats(-3, 3), st.one_of(ODD_64THS, st.just(NAN))]),
    OpSpec("fmax_fmin_nan_both", lambda lib, x, y: (x.fmax(y), x.fmin(y)), lambda x, y: (np.fmax(x, y), np.fmin(x, y)),
           arity=2, elements=WITH_NAN, grad=False),
]

INTEGER = [
    OpSpec(name, _function(name), getattr(np, name), arity=2, dtypes=(), int_dtypes=("int64", "int32"),
           elements=st.integers(-20, 20))
    for name in ("gcd", "lcm")
] + [
    OpSpec(name, _function(name), getattr(np, name), arity=2, dtypes=(), int_dtypes=("int64", "int32", "bool"),
           domain=(-20, 20))
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor")
] + [
    OpSpec("bitwise_methods_scalar", lambda lib, x: (x.bitwise_and(6), x.bitwise_or(1), x.bitwise_xor(3)),
           lambda x: (x & 6, x | 1, x ^ 3), dtypes=(), int_dtypes=("int64", "int32"), domain=(-20, 20)),
    OpSpec("bitwise_operators", lambda lib, x, y: (x & y, x | y, x ^ y, ~x), lambda x, y: (x & y, x | y, x ^ y, ~x),
           arity=2, dtypes=(), int_dtypes=("int64", "bool"), domain=(-20, 20)),
]

NAN_REDUCTIONS = [
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


def _np_nanmean(x, axis=None, keepdims=False):
    with np.errstate(invalid="ignore", divide="ignore"):  # all-NaN slices: NaN, as PyTorch (NumPy also warns)
        return np.asarray(np.nansum(x, axis=axis, keepdims=keepdims)
                          / np.sum(~np.isnan(x), axis=axis, keepdims=keepdims)).astype(x.dtype)


MATH_SPECS = TRIG + EXP_LOG + SPECIAL + SIGNS_AND_STEPS + INTEGER + NAN_REDUCTIONS
