"""The pointwise one-input ops of gradlab/ops/unary.py: exp, log, trigonometry, rounding, clamp, relu,
sigmoid, sign, ...
"""
import numpy as np
from hypothesis import strategies as st

from gradlab.testing import OpSpec, grid_floats
from gradlab.testing.strategies import shapes as shape_strategy
from ._common import INT, ODD_64THS, SMALL, SPECIAL_VALUES, _f64, _function, _method, second_order


def _sigmoid(x):
    return 1 / (1 + np.exp(-x.astype(np.float64)))


@st.composite
def _clamp_kwargs(draw, shapes):
    lo, hi = draw(st.one_of(st.none(), ODD_64THS)), draw(st.one_of(st.none(), ODD_64THS))
    if lo is None and hi is None:
        lo = draw(ODD_64THS)
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return {"min": lo, "max": hi}


def _np_log_nan_to_num(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num(np.log(x))


@st.composite
def _clamp_tensors_case(draw, dtype=None):
    """Shapes for clamp(x, lo, hi) with tensor bounds that broadcast to x's shape."""
    x = draw(shape_strategy(max_dims=3, max_side=4))
    return (x,) + tuple(tuple(1 if draw(st.booleans()) else s for s in x[draw(st.integers(0, len(x))):])
                        for _ in range(2))


def _clamp_tensors(lib, x, lo, hi, which):
    return x.clamp(min=lo if which != "max" else None, max=hi if which != "min" else None)


def _np_clamp_tensors(x, lo, hi, which):
    return np.clip(x, lo if which != "max" else None, hi if which != "min" else None)


# bounds off the inputs' 1/32 grid, below and above zero: lo < hi, no input sits on a kink
_LOWER = st.integers(-96, -1).map(lambda i: (2 * i + 1) / 64)
_UPPER = st.integers(0, 95).map(lambda i: (2 * i + 1) / 64)


SPECS = [
    OpSpec("neg", lambda lib, x: -x, np.negative, int_dtypes=("int64",)),
    OpSpec("abs", _method("abs"), np.abs, avoid=(0,), int_dtypes=("int64",)),
    OpSpec("abs_builtin", lambda lib, x: abs(x), np.abs, avoid=(0,)),
    OpSpec("exp", _method("exp"), np.exp, int_dtypes=("int64",)),
    OpSpec("log", _method("log"), np.log, domain=(0.1, 5), int_dtypes=("int64",)),
    OpSpec("sqrt", _method("sqrt"), np.sqrt, domain=(0.1, 5), int_dtypes=("int64",)),
    OpSpec("sin", _method("sin"), np.sin, int_dtypes=("int64",)),
    OpSpec("cos", _method("cos"), np.cos, int_dtypes=("int64",)),
    OpSpec("tanh", _method("tanh"), np.tanh, int_dtypes=("int64",)),
    OpSpec("sigmoid", _method("sigmoid"), _sigmoid, domain=(-8, 8), int_dtypes=("int64",)),
    OpSpec("relu", _method("relu"), lambda x: np.maximum(x, 0), avoid=(0,), int_dtypes=("int64",)),
    OpSpec("square", _method("square"), np.square),
    OpSpec("reciprocal", _method("reciprocal"), lambda x: 1 / x, elements=grid_floats(-3, 3, avoid=(0,), margin=0.2)),
    OpSpec("lib_exp", lambda lib, x: lib.exp(x), np.exp),
    OpSpec("lib_sigmoid", lambda lib, x: lib.sigmoid(x), _sigmoid),
    OpSpec("lib_relu", lambda lib, x: lib.relu(x), lambda x: np.maximum(x, 0), avoid=(0,)),
    OpSpec("clamp", lambda lib, x, min, max: x.clamp(min=min, max=max), lambda x, min, max: np.clip(x, min, max),
           kwargs=_clamp_kwargs),
    OpSpec("clamp_int", lambda lib, x, min, max: lib.clamp(x, min, max), lambda x, min, max: np.clip(x, min, max),
           dtypes=(), int_dtypes=("int64",), kwargs={"min": st.integers(-3, 0), "max": st.integers(0, 3)}),
    OpSpec("clamp_min_above_max", lambda lib, x: x.clamp(min=1.0, max=-1.0), lambda x: np.full_like(x, -1.0)),
    OpSpec("nan_to_num", lambda lib, x: x.log().nan_to_num(), _np_log_nan_to_num,
           elements=st.sampled_from([0.0, -1.0, 0.5, 2.0, 1.5]), grad=False),
    OpSpec("rounding", lambda lib, x: (x.floor(), x.ceil(), x.round(), x.trunc(), x.frac(), x.sign()),
           lambda x: (np.floor(x), np.ceil(x), np.round(x), np.trunc(x), x - np.trunc(x), np.sign(x)),
           elements=ODD_64THS),
    OpSpec("log_family", lambda lib, x: (x.log2(), x.log1p(), x.rsqrt()),
           lambda x: (np.log2(x), np.log1p(x), 1 / np.sqrt(x)), domain=(0.25, 4)),
    OpSpec("exp_family", lambda lib, x: (x.expm1(), x.tan()), lambda x: (np.expm1(x), np.tan(x)), domain=(-1.2, 1.2)),
    OpSpec("clone_contiguous", lambda lib, x: (x.clone(), x.t().contiguous() if x.dim() == 2 else x.contiguous()),
           lambda x: (x, x.T if x.ndim == 2 else x)),
    OpSpec("clamp_tensor_bounds", _clamp_tensors, _np_clamp_tensors, arity=3, shapes=_clamp_tensors_case(),
           elements=[grid_floats(-3, 3), _LOWER, _UPPER],
           kwargs={"which": st.sampled_from(["both", "min", "max"])}),
    OpSpec("round_decimals", lambda lib, x: x.round(decimals=1), lambda x: np.round(x, 1), elements=ODD_64THS),
    OpSpec("nan_to_num_grad", lambda lib, x: (x * 2).nan_to_num(), lambda x: x * 2),
    OpSpec("asin", _method("asin"), _f64(np.arcsin), domain=(-0.9, 0.9), int_dtypes=INT),
    OpSpec("acos", _function("acos"), _f64(np.arccos), domain=(-0.9, 0.9), int_dtypes=INT),
    OpSpec("atan", _method("atan"), _f64(np.arctan), int_dtypes=INT),
    OpSpec("arc_aliases", lambda lib, x: (lib.arcsin(x), x.arccos(), lib.arctan(x), x.arctan2(x + 4)),
           lambda x: (np.arcsin(x), np.arccos(x), np.arctan(x), np.arctan2(x, x + 4)), domain=(-0.9, 0.9)),
    OpSpec("sinh", _method("sinh"), _f64(np.sinh), int_dtypes=INT),
    OpSpec("cosh", _function("cosh"), _f64(np.cosh), int_dtypes=INT),
    OpSpec("deg2rad", _method("deg2rad"), _f64(np.deg2rad), domain=(-360, 360), int_dtypes=INT),
    OpSpec("rad2deg", _function("rad2deg"), _f64(np.rad2deg), int_dtypes=INT),
    OpSpec("exp2", _method("exp2"), _f64(np.exp2), int_dtypes=INT),
    OpSpec("log10", _function("log10"), _f64(np.log10), domain=(0.1, 5), int_dtypes=INT),
    OpSpec("sgn", _method("sgn"), np.sign, avoid=(0,), int_dtypes=INT),
    OpSpec("clamp_min", lambda lib, x, b: lib.clamp_min(x, b), lambda x, b: np.maximum(x, b),
           kwargs={"b": ODD_64THS}, int_dtypes=INT),
    OpSpec("clamp_max", lambda lib, x, b: x.clamp_max(b), lambda x, b: np.minimum(x, b),
           kwargs={"b": ODD_64THS}, int_dtypes=INT),
    OpSpec("clamp_min_tensor", lambda lib, x, b: x.clamp_min(b), np.maximum, arity=2,
           elements=[grid_floats(-3, 3), ODD_64THS]),
    OpSpec("clamp_max_tensor", lambda lib, x, b: lib.clamp_max(x, b), np.minimum, arity=2,
           elements=[grid_floats(-3, 3), ODD_64THS]),
    OpSpec("clamp_min_max_nan", lambda lib, x: (x.clamp_min(0.5), lib.clamp_max(x, -0.5)),
           lambda x: (np.maximum(x, 0.5), np.minimum(x, -0.5)), elements=SPECIAL_VALUES, grad=False),
]

GRADGRAD_SPECS = second_order(SPECS, "asin", "acos", "atan", "sinh", "cosh", "exp2", "log10", "clamp_min_tensor") + [
    OpSpec("exp", lambda lib, x: x.exp(), **SMALL),
    OpSpec("log", lambda lib, x: x.log(), domain=(0.3, 3), **SMALL),
    OpSpec("sqrt", lambda lib, x: x.sqrt(), domain=(0.3, 3), **SMALL),
    OpSpec("tanh", lambda lib, x: x.tanh(), **SMALL),
    OpSpec("sigmoid", lambda lib, x: x.sigmoid(), **SMALL),
    OpSpec("clamp_tensor_bounds", lambda lib, x, lo, hi: (x * x).clamp(lo, hi + 3.01), arity=3,
           elements=[grid_floats(-2, 2), grid_floats(-1.5, -0.5), grid_floats(0.5, 1.5)], **SMALL),
]
