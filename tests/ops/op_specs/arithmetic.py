"""The binary arithmetic ops of gradlab/ops/arithmetic.py: + - * / // % **, their scalar and
reflected forms, maximum / minimum, fmax / fmin, atan2, hypot, logaddexp, ldexp, float_power, lerp,
addcmul / addcdiv, gcd / lcm and heaviside.
"""
import operator

import numpy as np
from hypothesis import strategies as st

from gradlab.testing import OpSpec, grid_floats
from ._common import (INT, NAN, ODD_64THS, SCALARS, SMALL, WITH_NAN, _binary, _f64, _function, _np_scalar, _scalar_right,
                      second_order)

POSITIVE_SCALARS = st.one_of(grid_floats(0.25, 2.5, step=0.25), st.integers(1, 3))


def _scalar_left(op):
    return lambda lib, x, s: op(s, x)


def _np_scalar_left(op):
    return lambda x, s: np.asarray(op(s, x.astype(np.float64) if isinstance(s, float) else x))


QUARTERS = st.integers(-12, 12).filter(bool).map(lambda i: i / 4)


SPECS = [
    OpSpec("add", _binary(operator.add), np.add, arity=2, int_dtypes=("int64", "int32")),
    OpSpec("sub", _binary(operator.sub), np.subtract, arity=2, int_dtypes=("int64",)),
    OpSpec("mul", _binary(operator.mul), np.multiply, arity=2, int_dtypes=("int64", "int32")),
    OpSpec("div", _binary(operator.truediv), np.true_divide, arity=2, avoid=(0,), domain=(-3, 3),
           elements=[grid_floats(-3, 3), grid_floats(-3, 3, avoid=(0,), margin=0.2)], int_dtypes=("int64",)),
    OpSpec("floordiv", _binary(operator.floordiv), np.floor_divide, arity=2, elements=[ODD_64THS, QUARTERS],
           grad=False),
    OpSpec("floordiv_int", _binary(operator.floordiv), np.floor_divide, arity=2, dtypes=(),
           int_dtypes=("int64", "int32"), elements=[st.integers(-20, 20), st.integers(-5, 5).filter(bool)]),
    OpSpec("mod", _binary(operator.mod), np.mod, arity=2, elements=[ODD_64THS, QUARTERS]),
    OpSpec("mod_int", _binary(operator.mod), np.mod, arity=2, dtypes=(), int_dtypes=("int64",),
           elements=[st.integers(-20, 20), st.integers(-5, 5).filter(bool)]),
    OpSpec("fmod", lambda lib, x, y: lib.fmod(x, y), np.fmod, arity=2, elements=[ODD_64THS, QUARTERS]),
    OpSpec("fmod_int", lambda lib, x, y: x.fmod(y), np.fmod, arity=2, dtypes=(), int_dtypes=("int64",),
           elements=[st.integers(-20, 20), st.integers(-5, 5).filter(bool)]),
    OpSpec("fmod_scalar", lambda lib, x, s: x.fmod(s), _np_scalar(np.fmod), elements=ODD_64THS,
           kwargs={"s": st.sampled_from([2, 3, -2, 0.25, 1.5])}, int_dtypes=("int64",)),
    OpSpec("pow", _binary(operator.pow), np.power, arity=2, domain=[(0.25, 3), (-2, 2)]),
    OpSpec("pow_int", _binary(operator.pow), np.power, arity=2, dtypes=(), int_dtypes=("int64",),
           elements=[st.integers(-4, 4), st.integers(0, 3)]),
    OpSpec("maximum", lambda lib, x, y: lib.maximum(x, y), np.maximum, arity=2, unique=True),
    OpSpec("minimum", lambda lib, x, y: lib.minimum(x, y), np.minimum, arity=2, unique=True),
    OpSpec("div_scalar_right", _scalar_right(operator.truediv), _np_scalar(operator.truediv),
           kwargs={"s": SCALARS}, int_dtypes=("int64",)),
    OpSpec("div_scalar_left", _scalar_left(operator.truediv), _np_scalar_left(operator.truediv),
           kwargs={"s": SCALARS}, avoid=(0,), domain=(-3, 3), int_dtypes=("int64",)),
    OpSpec("floordiv_scalar", _scalar_right(operator.floordiv), _np_scalar(operator.floordiv),
           kwargs={"s": st.sampled_from([2, 3, -2, 0.25, 1.5])}, elements=ODD_64THS, grad=False,
           int_dtypes=("int64",)),
    OpSpec("mod_scalar", _scalar_right(operator.mod), _np_scalar(operator.mod),
           kwargs={"s": st.sampled_from([2, 3, -2, 0.25, 1.5])}, elements=ODD_64THS, int_dtypes=("int64",)),
    OpSpec("pow_scalar_exponent", _scalar_right(operator.pow), _np_scalar(operator.pow),
           kwargs={"s": st.sampled_from([2, 3, 0.5, -1, -2.5, 1.5])}, domain=(0.25, 3)),
    OpSpec("pow_int_exponent_any_sign", _scalar_right(operator.pow), _np_scalar(operator.pow),
           kwargs={"s": st.sampled_from([0, 1, 2, 3])}, int_dtypes=("int64",)),
    OpSpec("rpow_scalar_base", _scalar_left(operator.pow), _np_scalar_left(operator.pow),
           kwargs={"s": POSITIVE_SCALARS}, domain=(-2, 2)),
    OpSpec("add_alpha", lambda lib, x, y, alpha: lib.add(x, y, alpha=alpha),
           lambda x, y, alpha: x + alpha * y, arity=2, kwargs={"alpha": st.sampled_from([2, 0.5, -1.5])}),
    OpSpec("sub_alpha", lambda lib, x, y, alpha: x.sub(y, alpha=alpha),
           lambda x, y, alpha: x - alpha * y, arity=2, kwargs={"alpha": st.sampled_from([2, 0.5])}),
    OpSpec("max_binary", lambda lib, x, y: lib.max(x, y), np.maximum, arity=2, unique=True),
    OpSpec("lerp", lambda lib, a, b, w: a.lerp(b, w), lambda a, b, w: a + w * (b - a), arity=2,
           kwargs={"w": st.sampled_from([0.25, 0.5, 1.5])}),
    OpSpec("lerp_tensor_weight", lambda lib, a, b, w: lib.lerp(a, b, w), lambda a, b, w: a + w * (b - a), arity=3),
    OpSpec("rsub", lambda lib, x, y: lib.rsub(x, y), lambda x, y: y - x, arity=2),
    OpSpec("rsub_scalar", lambda lib, x, s: lib.rsub(x, s), lambda x, s: np.asarray(s - x), kwargs={"s": SCALARS}),
    OpSpec("div_rounding", lambda lib, x, y, mode: x.div(y, rounding_mode=mode),
           lambda x, y, mode: np.floor(x / y) if mode == "floor" else np.trunc(x / y), arity=2,
           elements=[ODD_64THS, QUARTERS], kwargs={"mode": st.sampled_from(["floor", "trunc"])}),
    OpSpec("addcmul_addcdiv", lambda lib, x, a, b: (lib.addcmul(x, a, b, value=0.5), x.addcdiv(a, b, value=-2)),
           lambda x, a, b: (x + 0.5 * a * b, x - 2 * a / b), arity=3,
           elements=[grid_floats(-3, 3), grid_floats(-3, 3), grid_floats(0.5, 3)]),
    # y == 0 would straddle the jump from pi to -pi on the negative x axis
    OpSpec("atan2", _function("atan2"), _f64(np.arctan2), arity=2,
           elements=[grid_floats(-3, 3, avoid=(0,), margin=0.1), grid_floats(-3, 3)], int_dtypes=INT),
    OpSpec("hypot", _function("hypot"), np.hypot, arity=2,
           elements=[grid_floats(-3, 3, avoid=(0,), margin=0.1), grid_floats(-3, 3)]),
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
    OpSpec("heaviside", lambda lib, x, v: lib.heaviside(x, v), lambda x, v: np.where(x == 0, v, x > 0).astype(x.dtype),
           arity=2, elements=st.sampled_from([0.0, -0.0, 1.5, -2.0, 0.5]), grad=False, int_dtypes=INT),
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

for _name, _op in [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul)]:
    SPECS += [
        OpSpec(f"{_name}_scalar_right", _scalar_right(_op), _np_scalar(_op), kwargs={"s": SCALARS},
               int_dtypes=("int64", "int32")),
        OpSpec(f"{_name}_scalar_left", _scalar_left(_op), _np_scalar_left(_op), kwargs={"s": SCALARS},
               int_dtypes=("int64",)),
    ]
SPECS += [
    OpSpec(name, _function(name), getattr(np, name), arity=2, dtypes=(), int_dtypes=("int64", "int32"),
           elements=st.integers(-20, 20))
    for name in ("gcd", "lcm")
]

GRADGRAD_SPECS = second_order(SPECS, "atan2", "hypot", "logaddexp", "logaddexp2", "ldexp", "float_power", "fmax") + [
    OpSpec("mul", lambda lib, x, y: x * y, arity=2, **SMALL),
    OpSpec("div", lambda lib, x, y: x / y, arity=2, domain=[(-2, 2), (0.5, 2)], **SMALL),
    OpSpec("pow", lambda lib, x, y: x ** y, arity=2, domain=[(0.5, 2), (-1.5, 2)], **SMALL),
    OpSpec("pow_scalar", lambda lib, x: x ** 3, **SMALL),
    OpSpec("rdiv", lambda lib, x: 2 / x, domain=(0.5, 2), **SMALL),
    OpSpec("lerp_tensor_weight", lambda lib, a, b, w: (a * a).lerp(b, w), arity=3, **SMALL),
    OpSpec("addcmul_addcdiv", lambda lib, x, a, b: (lib.addcmul(x, a, b * b), lib.addcdiv(x, a * a, b)), arity=3,
           elements=[grid_floats(-2, 2), grid_floats(-2, 2), grid_floats(0.5, 2)], **SMALL),
]
