"""Unary math (``neg``, ``exp``, ``sin``, ``sigmoid``, ``relu``, ``clamp``, rounding, ...), ``clone`` and
dtype casts: each forward on NumPy arrays, its backward right beside it."""
import numpy as np

from .. import _dtype, kernels
from .._tensor import Tensor
from ..autograd.record import record
from ._common import broadcasting, promote, sum_to
from .compare import where
from .registry import op


# PyTorch's names for dtypes in its "not implemented for" messages
# ---- unary ops ---------------------------------------------------------------------------------
def _float_input(a, op):
    """Unary math ops on integer tensors compute in the default float dtype, as PyTorch."""
    return a if a._data.dtype.kind == "f" else a.to(_dtype.get_default_dtype())


@op(inplace=True, operator="__neg__", alias="negative")
def neg(a):
    if a._data.dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")

    def backward(g):
        """grad_a = -g"""
        return (-g,)
    return record(np.negative(a._data), "NegBackward0", backward, (a,))


@op(inplace=True, operator="__abs__", alias="absolute")
def abs(a):
    def backward(g):
        """grad_a = g * sign(a)"""
        return (g * sign(a),)
    return record(np.abs(a._data), "AbsBackward0", backward, (a,), saved=(a,))


def _sign(x):
    """-1, 0 or 1 (a bool stays itself; NaN gives 0, as PyTorch)."""
    if x.dtype.kind == "b":
        return x.copy()
    out = np.sign(x)
    return np.where(np.isnan(x), x.dtype.type(0), out) if x.dtype.kind == "f" else out


@op(inplace=True)
def sign(a):
    def backward(g):
        """grad_a = 0 (sign is flat wherever it is differentiable)"""
        return (g * 0,)
    return record(_sign(a._data), "SignBackward0", backward, (a,))


@op(inplace=True)
def sgn(a):
    """sign(a) for real tensors (PyTorch's sgn is a / |a| for complex ones, which gradlab does not have)."""

    def backward(g):
        """grad_a = 0 (sgn is flat wherever it is differentiable)"""
        return (g * 0,)
    return record(_sign(a._data), "SgnBackward0", backward, (a,))


@op(inplace=True)
def exp(a):
    a = _float_input(a, "exp")

    def backward(g):
        """grad_a = g * out (out = exp(a))"""
        return (g * out,)
    out = record(np.exp(a._data), "ExpBackward0", backward, (a,), saves_output=True)
    return out


@op(inplace=True)
def log(a):
    a = _float_input(a, "log")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(a._data)

    def backward(g):
        """grad_a = g / a"""
        return (g / a,)
    return record(out, "LogBackward0", backward, (a,), saved=(a,))


@op(inplace=True)
def log2(a):
    a = _float_input(a, "log2")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log2(a._data)

    def backward(g):
        """grad_a = g / (a * log(2))"""
        return (g / (a * np.log(2.0)),)
    return record(out, "Log2Backward0", backward, (a,), saved=(a,))


@op(inplace=True)
def log10(a):
    a = _float_input(a, "log10")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(a._data)

    def backward(g):
        """grad_a = g / (a * log(10))"""
        return (g / (a * np.log(10.0)),)
    return record(out, "Log10Backward0", backward, (a,), saved=(a,))


@op(inplace=True)
def exp2(a):
    a = _float_input(a, "exp2")
    with np.errstate(over="ignore"):
        def backward(g):
            """grad_a = g * out * log(2) (out = 2**a)"""
            return (g * out * np.log(2.0),)
        out = record(np.exp2(a._data), "Exp2Backward0", backward, (a,),
                     saves_output=True)
    return out


@op(inplace=True)
def log1p(a):
    a = _float_input(a, "log1p")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log1p(a._data)

    def backward(g):
        """grad_a = g / (1 + a)"""
        return (g / (a + 1),)
    return record(out, "Log1PBackward0", backward, (a,), saved=(a,))


@op(inplace=True)
def expm1(a):
    a = _float_input(a, "expm1")

    def backward(g):
        """grad_a = g * exp(a)"""
        return (g * (a.exp()),)
    return record(np.expm1(a._data), "Expm1Backward0", backward, (a,), saved=(a,))


@op(inplace=True)
def sqrt(a):
    a = _float_input(a, "sqrt")
    with np.errstate(invalid="ignore"):
        def backward(g):
            """grad_a = g / (2 * out) (out = sqrt(a))"""
            return (g / (2 * out),)
        out = record(np.sqrt(a._data), "SqrtBackward0", backward, (a,), saves_output=True)
    return out


@op(inplace=True)
def rsqrt(a):
    a = _float_input(a, "rsqrt")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1.0 / np.sqrt(a._data)

    def backward(g):
        """grad_a = -0.5 * g * a**-1.5"""
        return (-0.5 * g * a ** -1.5,)
    return record(out, "RsqrtBackward0", backward, (a,), saved=(a,))


@op(inplace=True)
def reciprocal(a):
    a = _float_input(a, "reciprocal")
    with np.errstate(divide="ignore"):
        def backward(g):
            """grad_a = -g * out**2 (out = 1 / a)"""
            return (-g * out * out,)
        out = record(1.0 / a._data, "ReciprocalBackward0", backward, (a,), saves_output=True)
    return out


@op(inplace=True)
def square(a):
    return pow(a, 2)  # as PyTorch (PowBackward0)


@op(inplace=True)
def sin(a):
    a = _float_input(a, "sin")

    def backward(g):
        """grad_a = g * cos(a)"""
        return (g * cos(a),)
    return record(np.sin(a._data), "SinBackward0", backward, (a,), saved=(a,))


@op(inplace=True)
def cos(a):
    a = _float_input(a, "cos")

    def backward(g):
        """grad_a = -g * sin(a)"""
        return (-g * sin(a),)
    return record(np.cos(a._data), "CosBackward0", backward, (a,), saved=(a,))


@op(inplace=True)
def tan(a):
    a = _float_input(a, "tan")

    def backward(g):
        """grad_a = g * (1 + out**2) (out = tan(a))"""
        return (g * (1 + out * out),)
    out = record(np.tan(a._data), "TanBackward0", backward, (a,), saves_output=True)
    return out


@op(inplace=True)
def tanh(a):
    a = _float_input(a, "tanh")

    def backward(g):
        """grad_a = g * (1 - out**2) (out = tanh(a))"""
        return (g * (1 - out * out),)
    out = record(np.tanh(a._data), "TanhBackward0", backward, (a,), saves_output=True)
    return out


@op(inplace=True, alias="arcsin")
def asin(a):
    a = _float_input(a, "asin")
    with np.errstate(invalid="ignore"):
        out = np.arcsin(a._data)

    def backward(g):
        """grad_a = g / sqrt(1 - a**2)"""
        return (g * rsqrt(1 - a * a),)
    return record(out, "AsinBackward0", backward, (a,), saved=(a,))


@op(inplace=True, alias="arccos")
def acos(a):
    a = _float_input(a, "acos")
    with np.errstate(invalid="ignore"):
        out = np.arccos(a._data)

    def backward(g):
        """grad_a = -g / sqrt(1 - a**2)"""
        return (-g * rsqrt(1 - a * a),)
    return record(out, "AcosBackward0", backward, (a,), saved=(a,))


@op(inplace=True, alias="arctan")
def atan(a):
    a = _float_input(a, "atan")

    def backward(g):
        """grad_a = g / (1 + a**2)"""
        return (g / (1 + a * a),)
    return record(np.arctan(a._data), "AtanBackward0", backward, (a,), saved=(a,))


@op(inplace=True)
def sinh(a):
    a = _float_input(a, "sinh")
    with np.errstate(over="ignore"):
        out = np.sinh(a._data)

    def backward(g):
        """grad_a = g * cosh(a)"""
        return (g * cosh(a),)
    return record(out, "SinhBackward0", backward, (a,), saved=(a,))


@op(inplace=True)
def cosh(a):
    a = _float_input(a, "cosh")
    with np.errstate(over="ignore"):
        out = np.cosh(a._data)

    def backward(g):
        """grad_a = g * sinh(a)"""
        return (g * sinh(a),)
    return record(out, "CoshBackward0", backward, (a,), saved=(a,))


@op(inplace=True, alias="arcsinh")
def asinh(a):
    a = _float_input(a, "asinh")

    def backward(g):
        """grad_a = g / sqrt(a**2 + 1)"""
        return (g * rsqrt(a * a + 1),)
    return record(np.arcsinh(a._data), "AsinhBackward0", backward, (a,), saved=(a,))


@op(inplace=True, alias="arccosh")
def acosh(a):
    """Defined for a >= 1 (NaN below, as PyTorch); the gradient 1 / sqrt(a^2 - 1) is infinite at 1."""
    a = _float_input(a, "acosh")
    with np.errstate(invalid="ignore"):
        out = np.arccosh(a._data)
    # (a - 1)(a + 1) rather than a^2 - 1: no cancellation near 1

    def backward(g):
        """grad_a = g / sqrt(a**2 - 1)"""
        return (g * rsqrt((a - 1) * (a + 1)),)
    return record(out, "AcoshBackward0", backward, (a,), saved=(a,))


@op(inplace=True, alias="arctanh")
def atanh(a):
    """Defined on (-1, 1), +-inf at +-1 and NaN outside, as PyTorch."""
    a = _float_input(a, "atanh")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.arctanh(a._data)

    def backward(g):
        """grad_a = g / (1 - a**2)"""
        return (g / (1 - a * a),)
    return record(out, "AtanhBackward0", backward, (a,), saved=(a,))


@op(operator="__pos__")
def positive(a):
    """Unary plus: ``a`` itself (no copy, no graph node), as PyTorch; refused for bool tensors."""
    if a._data.dtype.kind == "b":
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return a


@op(inplace=True)
def deg2rad(a):
    a = _float_input(a, "deg2rad")

    def backward(g):
        """grad_a = g * pi / 180"""
        return (g * (np.pi / 180),)
    return record(np.deg2rad(a._data), "Deg2RadBackward0", backward, (a,))


@op(inplace=True)
def rad2deg(a):
    a = _float_input(a, "rad2deg")

    def backward(g):
        """grad_a = g * 180 / pi"""
        return (g * (180 / np.pi),)
    return record(np.rad2deg(a._data), "Rad2DegBackward0", backward, (a,))


@op(inplace=True)
def sigmoid(a):
    a = _float_input(a, "sigmoid")
    x = a._data
    # 0.5 * (1 + tanh(x / 2)) equals 1 / (1 + exp(-x)) and never overflows

    def backward(g):
        """grad_a = g * out * (1 - out) (out = sigmoid(a))"""
        return (g * out * (1 - out),)
    out = record(0.5 + 0.5 * np.tanh(0.5 * x), "SigmoidBackward0",
                 backward, (a,), saves_output=True)
    return out


@op(inplace=True)
def relu(a):
    """max(a, 0); the gradient passes where the output is not <= 0 (as PyTorch: NaN lets it through).
    Float arrays go to the relu kernels (gradlab.kernels), one pass each way."""
    x = a._data
    out = kernels.relu_forward(x) if x.dtype.kind == "f" else np.maximum(x, x.dtype.type(0))

    def backward(g):  # a recorded multiply by the (constant) mask, differentiable again
        """grad_a = g where out > 0, else 0"""
        return (g * Tensor._wrap(~(out <= 0)),)

    def fast(g):
        return (Tensor._wrap(kernels.relu_backward(g._data, out)),)
    return record(out, "ReluBackward0", backward, (a,), saves_output=True, fast=fast)


@op(inplace=True, alias="clip")
def clamp(a, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return _clamp_tensors(a, min, max)
    lo, hi = min, max
    # PyTorch's promotion with the bounds: an integer tensor clamped to 0.5 gives the default float dtype
    out_dtype = _dtype.result_type(a._data, *(bound for bound in (lo, hi) if bound is not None))
    out = np.clip(a._data, lo, hi).astype(out_dtype, copy=False)

    def backward(g):
        """grad_a = g where min <= a <= max, else 0"""
        inside = np.ones(a._data.shape, dtype=bool)
        if lo is not None:
            inside &= a._data >= lo
        if hi is not None:
            inside &= a._data <= hi
        return (g * Tensor._wrap(inside.astype(g._data.dtype)),)
    return record(out, "ClampBackward1", backward, (a,), saved=(a,))


def _clamp_tensors(a, min, max):
    """clamp with tensor bounds (broadcast with a): each output element's gradient goes to the one of
    a, min and max it was taken from (max wins where min > max, as PyTorch)."""
    lo = min if min is None or isinstance(min, Tensor) else Tensor._wrap(np.asarray(min, dtype=a._data.dtype))
    hi = max if max is None or isinstance(max, Tensor) else Tensor._wrap(np.asarray(max, dtype=a._data.dtype))
    out = np.clip(a._data, None if lo is None else lo._data, None if hi is None else hi._data)
    if a._data.dtype.kind == "f":
        out = out.astype(a._data.dtype, copy=False)

    def backward(g):
        """grad_a = g where min <= a <= max; grad_min = g where a < min; grad_max = g where a > max"""
        if lo is not None and hi is not None:
            picks = ((a >= lo) & (a <= hi), (a < lo) & (lo < hi), (a > hi) | (hi < lo))
        elif lo is not None:
            picks = (a >= lo, a < lo, None)
        else:
            picks = (a <= hi, None, a > hi)
        return tuple(sum_to(where(pick, g, 0.0), t._data.shape) if t is not None and t._requires_grad else None
                     for t, pick in zip((a, lo, hi), picks) if t is not None)
    inputs = tuple(t for t in (a, lo, hi) if t is not None)
    return record(out, "ClampBackward0", backward, inputs, saved=inputs)


@op(inplace=True)
def clamp_min(a, min):
    """max(a, min) with NaN kept (a number or a tensor bound): ClampMinBackward0 / ClampMinBackward1."""
    return _clamp_one_side("clamp_min", a, min, np.maximum, lambda x, bound: x >= bound, lambda x, bound: x < bound)


@op(inplace=True)
def clamp_max(a, max):
    """min(a, max) with NaN kept (a number or a tensor bound): ClampMaxBackward0 / ClampMaxBackward1."""
    return _clamp_one_side("clamp_max", a, max, np.minimum, lambda x, bound: x <= bound, lambda x, bound: x > bound)


def _clamp_one_side(op, a, bound, np_fn, keeps_a, takes_bound):
    """np_fn(a, bound); the gradient goes to a where ``keeps_a`` (a inside the bound), to the bound where
    ``takes_bound``."""
    number = not isinstance(bound, Tensor)
    a, bound = promote(a, bound)
    out = broadcasting(op, np_fn, a, bound)
    name = "ClampMin" if op == "clamp_min" else "ClampMax"
    if number:
        def backward_number(g):
            """grad_a = g where a is inside the bound, else 0"""
            return (where(keeps_a(a, bound), g, 0.0),)
        return record(out, name + "Backward0", backward_number, (a,), saved=(a,))

    def backward(g):  # (a NaN on either side passes its NaN on, and neither input gets a gradient)
        """grad_a = g where a is inside the bound, else 0; grad_bound = g where the bound was taken"""
        return (sum_to(where(keeps_a(a, bound), g, 0.0), a._data.shape) if a._requires_grad else None,
                sum_to(where(takes_bound(a, bound), g, 0.0), bound._data.shape) if bound._requires_grad else None)
    return record(out, name + "Backward1", backward, (a, bound), saved=(a, bound))


def _no_grad_unary(op_name, node, fn):
    def unary(a):
        def backward(g):
            """grad_a = 0 (a step function: flat wherever it is differentiable)"""
            return (g * 0,)
        return record(fn(a._data), node, backward, (a,))
    unary.__name__ = unary.__qualname__ = op_name
    return unary


floor = op(inplace=True)(_no_grad_unary("floor", "FloorBackward0", np.floor))


ceil = op(inplace=True)(_no_grad_unary("ceil", "CeilBackward0", np.ceil))


trunc = op(inplace=True)(_no_grad_unary("trunc", "TruncBackward0", np.trunc))


@op(inplace=True)
def round(a, decimals=None):
    # PyTorch's two overloads: round() and round(decimals=...)

    def backward(g):
        """grad_a = 0 (a step function: flat wherever it is differentiable)"""
        return (g * 0,)
    return record(np.round(a._data, decimals or 0), "RoundBackward0" if decimals is None else "RoundBackward1",
                  backward, (a,))


@op(inplace=True)
def frac(a):
    def backward(g):
        """grad_a = g"""
        return (g,)
    return record(a._data - np.trunc(a._data), "FracBackward0", backward, (a,))


def to_dtype(a, dtype):
    """Cast ``a`` (a no-op returning ``a`` when the dtype already matches)."""
    np_dtype = _dtype.to_numpy_dtype(dtype) if not isinstance(dtype, np.dtype) else dtype
    if a._data.dtype == np_dtype:
        return a
    src = a._data.dtype

    def backward(g):
        """grad_a = g, cast back to a's dtype"""
        return (g.to(src),)
    out = record(a._data.astype(np_dtype), "ToCopyBackward0", backward, (a,))
    if out._requires_grad and np_dtype.kind != "f":
        out.grad_fn = None
        out._requires_grad = False
    return out


@op()
def clone(a, memory_format=None):
    def backward(g):
        """grad_a = g"""
        return (g,)
    return record(a._data.copy(), "CloneBackward0", backward, (a,))


@op(inplace=True)
def nan_to_num(a, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf and -inf replaced by ``nan`` and the dtype's largest / smallest finite values."""
    if a._data.dtype.kind != "f":
        return clone(a)
    finite = Tensor._wrap(np.isfinite(a._data))  # the replaced elements get no gradient

    def backward(g):
        """grad_a = g where a is finite, else 0"""
        return (where(finite, g, 0.0),)
    return record(np.nan_to_num(a._data, nan=nan, posinf=posinf, neginf=neginf), "NanToNumBackward0",
                  backward, (a,))
