"""Elementwise ops: each forward on NumPy arrays, its backward right beside it.

Binary ops broadcast; their backward sums the gradient back to each input's
shape with ``sum_to``.  A backward computes a gradient only for inputs that
require one.
"""
import numpy as np

from .. import _dtype, kernels
from .._tensor import Tensor
from ..autograd.function import record
from ._common import broadcast_error, promote, sum_to


def _broadcasting(op, fn, a, b):
    try:
        return fn(a._data, b._data)
    except ValueError:
        raise broadcast_error(op, a._data.shape, b._data.shape) from None


def add(a, b, alpha=1):
    a, b = promote(a, b)
    if alpha != 1:
        b = b * alpha
    out = _broadcasting("add", np.add, a, b)

    def backward(g):
        return (sum_to(g, a._data.shape) if a._requires_grad else None,
                sum_to(g, b._data.shape) if b._requires_grad else None)
    return record(out, "AddBackward0", backward, (a, b))


def _is_bool(x):
    return isinstance(x, bool) or (isinstance(x, Tensor) and x._data.dtype == np.bool_)


def sub(a, b, alpha=1):
    if _is_bool(a) or _is_bool(b):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    a, b = promote(a, b)
    if alpha != 1:
        b = b * alpha
    out = _broadcasting("sub", np.subtract, a, b)

    def backward(g):
        return (sum_to(g, a._data.shape) if a._requires_grad else None,
                sum_to(-g, b._data.shape) if b._requires_grad else None)
    return record(out, "SubBackward0", backward, (a, b))


def rsub(a, b, alpha=1):
    """``b - alpha * a`` (``2 - x`` calls it): PyTorch's RsubBackward1 for a number b, RsubBackward0 for a tensor."""
    if _is_bool(a) or _is_bool(b):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    number = not isinstance(b, Tensor)
    a, b = promote(a, b)
    if alpha != 1:
        a = a * alpha
    out = _broadcasting("rsub", np.subtract, b, a)
    if number:
        return record(out, "RsubBackward1", lambda g: (-g,), (a,))

    def backward(g):
        return (sum_to(-g, a._data.shape) if a._requires_grad else None,
                sum_to(g, b._data.shape) if b._requires_grad else None)
    return record(out, "RsubBackward0", backward, (a, b))


def mul(a, b):
    a, b = promote(a, b)
    out = _broadcasting("mul", np.multiply, a, b)

    def backward(g):
        return (sum_to(g * b, a._data.shape) if a._requires_grad else None,
                sum_to(g * a, b._data.shape) if b._requires_grad else None)
    return record(out, "MulBackward0", backward, (a, b), saved=(a, b))


def div(a, b, rounding_mode=None):
    if rounding_mode is not None:
        return _rounded_div(a, b, rounding_mode)
    a, b = promote(a, b)
    if a._data.dtype.kind != "f":  # int / int gives the default float, as in PyTorch
        a, b = _float_input(a, "div"), _float_input(b, "div")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _broadcasting("div", np.true_divide, a, b)

    def backward(g):
        return (sum_to(g / b, a._data.shape) if a._requires_grad else None,
                sum_to(-g * a / (b * b), b._data.shape) if b._requires_grad else None)
    return record(out, "DivBackward0", backward, (a, b), saved=(a, b))


def rdiv(a, b):
    """``b / a`` (``2 / x`` calls it); for a number b computed as PyTorch does: reciprocal(a) * b."""
    if isinstance(b, (int, float)) and not isinstance(b, bool):
        return mul(reciprocal(a), b)
    return div(b, a)


def _rounded_div(a, b, rounding_mode):
    """a / b rounded down ("floor") or toward zero ("trunc"): a step function, so its gradient is 0."""
    if rounding_mode not in ("floor", "trunc"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"'{rounding_mode}'")
    a, b = promote(a, b)
    q = floor_divide(a, b) if rounding_mode == "floor" else _trunc_divide(a, b)

    def backward(g):
        zero = g * 0
        return (sum_to(zero, a._data.shape) if a._requires_grad else None,
                sum_to(zero, b._data.shape) if b._requires_grad else None)
    return record(q._data, "DivBackward2", backward, (a, b))


def _no_bool(op, a):
    if a._data.dtype == np.bool_:
        raise RuntimeError(f'"{op}" not implemented for \'Bool\' tensors; convert with .long() or .float() first')


def _no_integer_zero_divisor(op, a, b):
    """Integers have no inf or NaN: PyTorch refuses to divide them by 0 (NumPy gives 0 and a warning)."""
    if a._data.dtype.kind in "iu" and not np.all(b._data):
        raise RuntimeError(f"ZeroDivisionError: {op} of integer tensors ({a.dtype}) by a divisor that holds 0")


def floor_divide(a, b):
    a, b = promote(a, b)
    _no_bool("floor_divide", a)
    _no_integer_zero_divisor("floor_divide", a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return Tensor._wrap(_broadcasting("floor_divide", np.floor_divide, a, b))


def _trunc_divide(a, b):
    a, b = promote(a, b)
    _no_integer_zero_divisor("div", a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = _broadcasting("div", np.true_divide, a, b)
    return Tensor._wrap(np.trunc(q).astype(a._data.dtype))


def remainder(a, b):
    number = not isinstance(b, Tensor)
    a, b = promote(a, b)
    _no_bool("remainder", a)
    _no_integer_zero_divisor("remainder", a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _broadcasting("remainder", np.mod, a, b)
    if number:  # PyTorch's tensor % number: the gradient passes through unchanged
        return record(out, "RemainderBackward0", lambda g: (g,), (a,))

    def backward(g):
        return (sum_to(g, a._data.shape) if a._requires_grad else None,
                sum_to(-g * (a // b), b._data.shape) if b._requires_grad else None)
    return record(out, "RemainderBackward1", backward, (a, b), saved=(a, b))


def fmod(a, b):
    """The remainder of a division rounded toward zero (C's fmod): it takes a's sign, where ``%`` takes b's."""
    number = not isinstance(b, Tensor)
    a, b = promote(a, b)
    _no_bool("fmod", a)
    _no_integer_zero_divisor("fmod", a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _broadcasting("fmod", np.fmod, a, b)
    if number:
        return record(out, "FmodBackward0", lambda g: (g,), (a,))

    def backward(g):
        return (sum_to(g, a._data.shape) if a._requires_grad else None,
                sum_to(-g * (a / b).trunc(), b._data.shape) if b._requires_grad else None)
    return record(out, "FmodBackward1", backward, (a, b), saved=(a, b))


def pow(a, b):
    if isinstance(b, bool) and isinstance(a, Tensor) and a._data.dtype == np.bool_:
        return Tensor._wrap(a._data.copy() if b else np.ones_like(a._data))  # x ** True is x, x ** False is 1
    scalar_exponent, scalar_base = not isinstance(b, Tensor), not isinstance(a, Tensor)
    a, b = promote(a, b)
    _no_bool("pow", a)
    if a._data.dtype.kind in "iu" and (b._data < 0).any():
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _broadcasting("pow", np.power, a, b)

    def backward(g):
        with np.errstate(divide="ignore", invalid="ignore"):  # the where() below discards 0 * inf
            return _pow_grads(g)

    def _pow_grads(g):
        ga = gb = None
        if a._requires_grad:
            # d/da a**b = b * a**(b-1), taken as 0 where b == 0 and a is 0 or NaN (not 0 * inf or NaN);
            # masking only there keeps the derivative with respect to b right at b == 0
            ga = sum_to(where((b == 0) & ((a == 0) | isnan(a)), 0.0, g * b * a ** (b - 1)), a._data.shape)
        if b._requires_grad:
            # d/db a**b = a**b * log(a), taken as 0 where a == 0 and b >= 0
            gb = sum_to(where((a == 0) & (b >= 0), 0.0, g * a ** b * log(a)), b._data.shape)
        return ga, gb
    # PyTorch's three overloads: tensor ** scalar, tensor ** tensor, scalar ** tensor (one graph input for a scalar)
    if scalar_exponent:
        return record(out, "PowBackward0", lambda g: backward(g)[:1], (a,), saved=(a,))
    if scalar_base:
        return record(out, "PowBackward2", lambda g: backward(g)[1:], (b,), saved=(b,))
    return record(out, "PowBackward1", backward, (a, b), saved=(a, b))


def rpow(a, b):
    return pow(b, a)


def maximum(a, b):
    a, b = promote(a, b)
    out = _broadcasting("maximum", np.maximum, a, b)

    def backward(g):
        return _extreme_pair_grads(g, a, b, a < b, a > b)
    return record(out, "MaximumBackward0", backward, (a, b), saved=(a, b))


def _extreme_pair_grads(g, a, b, a_loses, b_loses):
    """maximum / minimum's gradients, as PyTorch: each side gets g unless it lost, ties split g evenly, and where
    a NaN is compared (it neither wins nor loses) both sides get g."""
    tie = (a == b).to(g.dtype) * 0.5
    return (sum_to(g * (1 - a_loses.to(g.dtype) - tie), a._data.shape) if a._requires_grad else None,
            sum_to(g * (1 - b_loses.to(g.dtype) - tie), b._data.shape) if b._requires_grad else None)


def minimum(a, b):
    a, b = promote(a, b)
    out = _broadcasting("minimum", np.minimum, a, b)

    def backward(g):
        return _extreme_pair_grads(g, a, b, a > b, a < b)
    return record(out, "MinimumBackward0", backward, (a, b), saved=(a, b))


def fmax(a, b):
    """The larger of a and b, ignoring NaN (NaN only where both are NaN); a tie's gradient goes to a."""
    a, b = promote(a, b)
    out = _broadcasting("fmax", np.fmax, a, b)

    def backward(g):
        pick_a = (a >= b) | isnan(b)
        return (sum_to(where(pick_a, g, 0.0), a._data.shape) if a._requires_grad else None,
                sum_to(where(pick_a, 0.0, g), b._data.shape) if b._requires_grad else None)
    return record(out, "FmaxBackward0", backward, (a, b), saved=(a, b))


def fmin(a, b):
    """The smaller of a and b, ignoring NaN (NaN only where both are NaN); a tie's gradient goes to a."""
    a, b = promote(a, b)
    out = _broadcasting("fmin", np.fmin, a, b)

    def backward(g):
        pick_a = (a <= b) | isnan(b)
        return (sum_to(where(pick_a, g, 0.0), a._data.shape) if a._requires_grad else None,
                sum_to(where(pick_a, 0.0, g), b._data.shape) if b._requires_grad else None)
    return record(out, "FminBackward0", backward, (a, b), saved=(a, b))


def _float_pair(a, b, op):
    """a and b in their common dtype, integers computing in the default float dtype (as atan2 and xlogy do)."""
    a, b = promote(a, b)
    if a._data.dtype.kind != "f":
        a, b = _float_input(a, op), _float_input(b, op)
    return a, b


# PyTorch's names for dtypes in its "not implemented for" messages
_SCALAR_TYPE_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char", "int16": "Short",
                      "int32": "Int", "int64": "Long", "uint8": "Byte", "bool": "Bool"}


def _not_implemented(op, a, expected):
    return NotImplementedError(f'"{op}" not implemented for \'{_SCALAR_TYPE_NAMES[a._data.dtype.name]}\' '
                               f"(a {a.dtype} tensor): {op} takes {expected} tensors")


def _floating_pair(op, a, b):
    """a and b in their common dtype, which must be floating point (hypot and logaddexp refuse integers)."""
    a, b = promote(a, b)
    if a._data.dtype.kind != "f":
        raise _not_implemented(op, a, "floating-point")
    return a, b


def atan2(a, b):
    """The angle of the point (b, a) (a is the y coordinate), in [-pi, pi]."""
    a, b = _float_pair(a, b, "atan2")
    out = _broadcasting("atan2", np.arctan2, a, b)

    def backward(g):
        r2 = a * a + b * b
        r2 = where(r2 == 0, 1.0, r2)  # at the origin both gradients are 0 (0 / 1), as PyTorch, not 0 / 0
        return (sum_to(g * b / r2, a._data.shape) if a._requires_grad else None,
                sum_to(-g * a / r2, b._data.shape) if b._requires_grad else None)
    return record(out, "Atan2Backward0", backward, (a, b), saved=(a, b))


def hypot(a, b):
    """sqrt(a**2 + b**2), without overflow for large a or b."""
    a, b = _floating_pair("hypot", a, b)
    out = record(_broadcasting("hypot", np.hypot, a, b), "HypotBackward0",
                 lambda g: (sum_to(g * a / out, a._data.shape) if a._requires_grad else None,
                            sum_to(g * b / out, b._data.shape) if b._requires_grad else None),
                 (a, b), saved=(a, b), saves_output=True)
    return out


def logaddexp(a, b):
    """log(exp(a) + exp(b)), without overflow; each input's gradient is its softmax weight."""
    a, b = _floating_pair("logaddexp", a, b)
    with np.errstate(invalid="ignore"):  # (inf and -inf in both: NaN, without a warning)
        out = _broadcasting("logaddexp", np.logaddexp, a, b)

    def backward(g):
        weight_a = sigmoid(a - b)  # exp(a) / (exp(a) + exp(b))
        return (sum_to(g * weight_a, a._data.shape) if a._requires_grad else None,
                sum_to(g * (1 - weight_a), b._data.shape) if b._requires_grad else None)
    return record(out, "LogaddexpBackward0", backward, (a, b), saved=(a, b))


def logaddexp2(a, b):
    """log2(2**a + 2**b), without overflow."""
    a, b = _floating_pair("logaddexp2", a, b)
    with np.errstate(invalid="ignore"):
        out = _broadcasting("logaddexp2", np.logaddexp2, a, b)

    def backward(g):
        weight_a = sigmoid((a - b) * np.log(2.0))  # 2**a / (2**a + 2**b)
        return (sum_to(g * weight_a, a._data.shape) if a._requires_grad else None,
                sum_to(g * (1 - weight_a), b._data.shape) if b._requires_grad else None)
    return record(out, "Logaddexp2Backward0", backward, (a, b), saved=(a, b))


def float_power(a, exponent):
    """a ** exponent computed in float64 whatever the inputs' dtypes (the graph is pow's on float64 copies)."""
    def as_double(x):
        return x.double() if isinstance(x, Tensor) else float(x)
    return pow(as_double(a), as_double(exponent))


def ldexp(a, b):
    """a * 2 ** b."""
    a, b = _float_pair(a, b, "ldexp")
    with np.errstate(over="ignore", invalid="ignore"):
        out = _broadcasting("ldexp", lambda x, e: x * np.exp2(e), a, b)

    def backward(g):
        scale = exp2(b)
        return (sum_to(g * scale, a._data.shape) if a._requires_grad else None,
                sum_to(g * a * scale * np.log(2.0), b._data.shape) if b._requires_grad else None)
    return record(out, "LdexpBackward0", backward, (a, b), saved=(a, b))


def _integer_pair(op, a, b):
    a, b = promote(a, b)
    if a._data.dtype.kind not in "iu":
        raise _not_implemented(op, a, "integer")
    return a, b


def gcd(a, b):
    """The greatest common divisor, elementwise (integers only; gcd(0, 0) is 0)."""
    a, b = _integer_pair("gcd", a, b)
    return Tensor._wrap(_broadcasting("gcd", np.gcd, a, b))


def lcm(a, b):
    """The least common multiple, elementwise (integers only; never negative)."""
    a, b = _integer_pair("lcm", a, b)
    return Tensor._wrap(_broadcasting("lcm", np.lcm, a, b))


def heaviside(a, values):
    """The step function: 0 where a < 0, 1 where a > 0, ``values`` where a == 0 (NaN counts as below 0).

    Its derivative is 0 almost everywhere and undefined at the step: the result does not require grad.
    """
    if not isinstance(values, Tensor) or a._data.dtype != values._data.dtype:
        raise RuntimeError(f"heaviside is not yet implemented for tensors with different dtypes (input {a.dtype}, "
                           f"values {values.dtype if isinstance(values, Tensor) else type(values).__name__}); "
                           "give values as a tensor of the input's dtype")
    x = a._data
    try:
        out = np.where(x == 0, values._data, x > 0).astype(x.dtype)
    except ValueError:
        raise broadcast_error("heaviside", x.shape, values._data.shape) from None
    return Tensor._wrap(out)


# ---- comparisons and logic: bool results, no gradient -----------------------------------------
def _compare(op, fn):
    def compare(a, b):
        a, b = promote(a, b)
        return Tensor._wrap(_broadcasting(op, fn, a, b))
    compare.__name__ = op
    return compare


eq = _compare("eq", np.equal)
ne = _compare("ne", np.not_equal)
lt = _compare("lt", np.less)
le = _compare("le", np.less_equal)
gt = _compare("gt", np.greater)
ge = _compare("ge", np.greater_equal)
logical_and = _compare("logical_and", np.logical_and)
logical_or = _compare("logical_or", np.logical_or)
logical_xor = _compare("logical_xor", np.logical_xor)


def _bitwise(op, fn):
    def bitwise(a, b):
        a, b = promote(a, b)
        if a._data.dtype.kind == "f":
            raise _not_implemented(op, a, "integer or bool")
        return Tensor._wrap(_broadcasting(op, fn, a, b))
    bitwise.__name__ = op
    return bitwise


bitwise_and = _bitwise("bitwise_and", np.bitwise_and)
bitwise_or = _bitwise("bitwise_or", np.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", np.bitwise_xor)


def logical_not(a):
    return Tensor._wrap(np.logical_not(a._data))


def bitwise_not(a):
    if a._data.dtype.kind == "f":
        raise RuntimeError("bitwise_not: not implemented for floating-point tensors")
    return Tensor._wrap(np.invert(a._data))


def isnan(a):
    return Tensor._wrap(np.isnan(a._data))


def isinf(a):
    return Tensor._wrap(np.isinf(a._data))


def isfinite(a):
    return Tensor._wrap(np.isfinite(a._data))


def isposinf(a):
    return Tensor._wrap(a._data == np.inf if a._data.dtype.kind == "f" else np.zeros(a._data.shape, bool))


def isneginf(a):
    return Tensor._wrap(a._data == -np.inf if a._data.dtype.kind == "f" else np.zeros(a._data.shape, bool))


def signbit(a):
    """True where the sign bit is set: negative numbers, -0.0 and NaNs with the sign bit."""
    return Tensor._wrap(np.signbit(a._data) if a._data.dtype.kind != "b" else np.zeros(a._data.shape, bool))


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return Tensor._wrap(np.isclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(a, b):
    return a._data.shape == b._data.shape and bool((a._data == b._data).all())


# ---- unary ops ---------------------------------------------------------------------------------
def _float_input(a, op):
    """Unary math ops on integer tensors compute in the default float dtype, as PyTorch."""
    return a if a._data.dtype.kind == "f" else a.to(_dtype.get_default_dtype())


def neg(a):
    if a._data.dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    return record(np.negative(a._data), "NegBackward0", lambda g: (-g,), (a,))


def abs(a):
    def backward(g):
        return (g * sign(a),)
    return record(np.abs(a._data), "AbsBackward0", backward, (a,), saved=(a,))


def _sign(x):
    """-1, 0 or 1 (a bool stays itself; NaN gives 0, as PyTorch)."""
    if x.dtype.kind == "b":
        return x.copy()
    out = np.sign(x)
    return np.where(np.isnan(x), x.dtype.type(0), out) if x.dtype.kind == "f" else out


def sign(a):
    return record(_sign(a._data), "SignBackward0", lambda g: (g * 0,), (a,))


def sgn(a):
    """sign(a) for real tensors (PyTorch's sgn is a / |a| for complex ones, which gradlab does not have)."""
    return record(_sign(a._data), "SgnBackward0", lambda g: (g * 0,), (a,))


def exp(a):
    a = _float_input(a, "exp")
    out = record(np.exp(a._data), "ExpBackward0", lambda g: (g * out,), (a,), saves_output=True)
    return out


def log(a):
    a = _float_input(a, "log")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(a._data)
    return record(out, "LogBackward0", lambda g: (g / a,), (a,), saved=(a,))


def log2(a):
    a = _float_input(a, "log2")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log2(a._data)
    return record(out, "Log2Backward0", lambda g: (g / (a * np.log(2.0)),), (a,), saved=(a,))


def log10(a):
    a = _float_input(a, "log10")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(a._data)
    return record(out, "Log10Backward0", lambda g: (g / (a * np.log(10.0)),), (a,), saved=(a,))


def exp2(a):
    a = _float_input(a, "exp2")
    with np.errstate(over="ignore"):
        out = record(np.exp2(a._data), "Exp2Backward0", lambda g: (g * out * np.log(2.0),), (a,),
                     saves_output=True)
    return out


def log1p(a):
    a = _float_input(a, "log1p")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log1p(a._data)
    return record(out, "Log1PBackward0", lambda g: (g / (a + 1),), (a,), saved=(a,))


def expm1(a):
    a = _float_input(a, "expm1")
    return record(np.expm1(a._data), "Expm1Backward0", lambda g: (g * (a.exp()),), (a,), saved=(a,))


def sqrt(a):
    a = _float_input(a, "sqrt")
    with np.errstate(invalid="ignore"):
        out = record(np.sqrt(a._data), "SqrtBackward0", lambda g: (g / (2 * out),), (a,), saves_output=True)
    return out


def rsqrt(a):
    a = _float_input(a, "rsqrt")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1.0 / np.sqrt(a._data)
    return record(out, "RsqrtBackward0", lambda g: (-0.5 * g * a ** -1.5,), (a,), saved=(a,))


def reciprocal(a):
    a = _float_input(a, "reciprocal")
    with np.errstate(divide="ignore"):
        out = record(1.0 / a._data, "ReciprocalBackward0", lambda g: (-g * out * out,), (a,), saves_output=True)
    return out


def square(a):
    return pow(a, 2)  # as PyTorch (PowBackward0)


def sin(a):
    a = _float_input(a, "sin")
    return record(np.sin(a._data), "SinBackward0", lambda g: (g * cos(a),), (a,), saved=(a,))


def cos(a):
    a = _float_input(a, "cos")
    return record(np.cos(a._data), "CosBackward0", lambda g: (-g * sin(a),), (a,), saved=(a,))


def tan(a):
    a = _float_input(a, "tan")
    out = record(np.tan(a._data), "TanBackward0", lambda g: (g * (1 + out * out),), (a,), saves_output=True)
    return out


def tanh(a):
    a = _float_input(a, "tanh")
    out = record(np.tanh(a._data), "TanhBackward0", lambda g: (g * (1 - out * out),), (a,), saves_output=True)
    return out


def asin(a):
    a = _float_input(a, "asin")
    with np.errstate(invalid="ignore"):
        out = np.arcsin(a._data)
    return record(out, "AsinBackward0", lambda g: (g * rsqrt(1 - a * a),), (a,), saved=(a,))


def acos(a):
    a = _float_input(a, "acos")
    with np.errstate(invalid="ignore"):
        out = np.arccos(a._data)
    return record(out, "AcosBackward0", lambda g: (-g * rsqrt(1 - a * a),), (a,), saved=(a,))


def atan(a):
    a = _float_input(a, "atan")
    return record(np.arctan(a._data), "AtanBackward0", lambda g: (g / (1 + a * a),), (a,), saved=(a,))


def sinh(a):
    a = _float_input(a, "sinh")
    with np.errstate(over="ignore"):
        out = np.sinh(a._data)
    return record(out, "SinhBackward0", lambda g: (g * cosh(a),), (a,), saved=(a,))


def cosh(a):
    a = _float_input(a, "cosh")
    with np.errstate(over="ignore"):
        out = np.cosh(a._data)
    return record(out, "CoshBackward0", lambda g: (g * sinh(a),), (a,), saved=(a,))


def asinh(a):
    a = _float_input(a, "asinh")
    return record(np.arcsinh(a._data), "AsinhBackward0", lambda g: (g * rsqrt(a * a + 1),), (a,), saved=(a,))


def acosh(a):
    """Defined for a >= 1 (NaN below, as PyTorch); the gradient 1 / sqrt(a^2 - 1) is infinite at 1."""
    a = _float_input(a, "acosh")
    with np.errstate(invalid="ignore"):
        out = np.arccosh(a._data)
    # (a - 1)(a + 1) rather than a^2 - 1: no cancellation near 1
    return record(out, "AcoshBackward0", lambda g: (g * rsqrt((a - 1) * (a + 1)),), (a,), saved=(a,))


def atanh(a):
    """Defined on (-1, 1), +-inf at +-1 and NaN outside, as PyTorch."""
    a = _float_input(a, "atanh")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.arctanh(a._data)
    return record(out, "AtanhBackward0", lambda g: (g / (1 - a * a),), (a,), saved=(a,))


def copysign(a, b):
    """|a| with the sign of b (of -0.0 too); the result is floating point even for integer inputs."""
    b_is_scalar = not isinstance(b, Tensor)
    a, b = _float_pair(a, b, "copysign")
    out = _broadcasting("copysign", np.copysign, a, b)

    def grad_a(g):
        # d|a|sign(b)/da = sign(a) sign(b) = out / a, and 0 where a is 0 (as PyTorch)
        safe_a = where(a == 0, 1.0, a)
        return sum_to(where(a == 0, 0.0, g * out_t / safe_a), a._data.shape)

    if b_is_scalar:
        out_t = record(out, "CopysignBackward1", lambda g: (grad_a(g),), (a,), saved=(a,), saves_output=True)
    else:
        # b only chooses a sign: its gradient is zero
        out_t = record(out, "CopysignBackward0",
                       lambda g: (grad_a(g) if a._requires_grad else None,
                                  sum_to(g * 0, b._data.shape) if b._requires_grad else None),
                       (a, b), saved=(a,), saves_output=True)
    return out_t


def positive(a):
    """Unary plus: ``a`` itself (no copy, no graph node), as PyTorch; refused for bool tensors."""
    if a._data.dtype.kind == "b":
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return a


def deg2rad(a):
    a = _float_input(a, "deg2rad")
    return record(np.deg2rad(a._data), "Deg2RadBackward0", lambda g: (g * (np.pi / 180),), (a,))


def rad2deg(a):
    a = _float_input(a, "rad2deg")
    return record(np.rad2deg(a._data), "Rad2DegBackward0", lambda g: (g * (180 / np.pi),), (a,))


def sigmoid(a):
    a = _float_input(a, "sigmoid")
    x = a._data
    # 0.5 * (1 + tanh(x / 2)) equals 1 / (1 + exp(-x)) and never overflows
    out = record(0.5 + 0.5 * np.tanh(0.5 * x), "SigmoidBackward0",
                 lambda g: (g * out * (1 - out),), (a,), saves_output=True)
    return out


def relu(a):
    """max(a, 0); the gradient passes where the output is not <= 0 (as PyTorch: NaN lets it through).
    Float arrays go to the relu kernels (gradlab.kernels), one pass each way."""
    x = a._data
    out = kernels.relu_forward(x) if x.dtype.kind == "f" else np.maximum(x, x.dtype.type(0))

    def backward(g):  # a recorded multiply by the (constant) mask, differentiable again
        return (g * Tensor._wrap(~(out <= 0)),)

    def fast(g):
        return (Tensor._wrap(kernels.relu_backward(g._data, out)),)
    return record(out, "ReluBackward0", backward, (a,), saves_output=True, fast=fast)


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


def clamp_min(a, min):
    """max(a, min) with NaN kept (a number or a tensor bound): ClampMinBackward0 / ClampMinBackward1."""
    return _clamp_one_side("clamp_min", a, min, np.maximum, lambda x, bound: x >= bound, lambda x, bound: x < bound)


def clamp_max(a, max):
    """min(a, max) with NaN kept (a number or a tensor bound): ClampMaxBackward0 / ClampMaxBackward1."""
    return _clamp_one_side("clamp_max", a, max, np.minimum, lambda x, bound: x <= bound, lambda x, bound: x > bound)


def _clamp_one_side(op, a, bound, np_fn, keeps_a, takes_bound):
    """np_fn(a, bound); the gradient goes to a where ``keeps_a`` (a inside the bound), to the bound where
    ``takes_bound``."""
    number = not isinstance(bound, Tensor)
    a, bound = promote(a, bound)
    out = _broadcasting(op, np_fn, a, bound)
    name = "ClampMin" if op == "clamp_min" else "ClampMax"
    if number:
        return record(out, name + "Backward0", lambda g: (where(keeps_a(a, bound), g, 0.0),), (a,), saved=(a,))

    def backward(g):  # (a NaN on either side passes its NaN on, and neither input gets a gradient)
        return (sum_to(where(keeps_a(a, bound), g, 0.0), a._data.shape) if a._requires_grad else None,
                sum_to(where(takes_bound(a, bound), g, 0.0), bound._data.shape) if bound._requires_grad else None)
    return record(out, name + "Backward1", backward, (a, bound), saved=(a, bound))


def _no_grad_unary(name, fn):
    def op(a):
        return record(fn(a._data), name, lambda g: (g * 0,), (a,))
    return op


floor = _no_grad_unary("FloorBackward0", np.floor)
ceil = _no_grad_unary("CeilBackward0", np.ceil)
trunc = _no_grad_unary("TruncBackward0", np.trunc)


def round(a, decimals=None):
    # PyTorch's two overloads: round() and round(decimals=...)
    return record(np.round(a._data, decimals or 0), "RoundBackward0" if decimals is None else "RoundBackward1",
                  lambda g: (g * 0,), (a,))


def frac(a):
    return record(a._data - np.trunc(a._data), "FracBackward0", lambda g: (g,), (a,))


def where(condition, a, b):
    """``a`` where ``condition`` holds, else ``b`` (all three broadcast)."""
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype {cond.dtype}")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):  # two numbers: PyTorch's dtype for a number
        a = np.array(a)
        a = Tensor._wrap(a.astype(np.float32) if a.dtype.kind == "f" else a)
    a, b = promote(a, b)
    try:
        out = np.where(cond, a._data, b._data)
    except ValueError:
        raise RuntimeError(f"where: shapes {cond.shape}, {a._data.shape} and {b._data.shape} are not broadcastable") from None
    keep = Tensor._wrap(cond)

    def backward(g):
        zero = g * 0
        return (sum_to(where(keep, g, zero), a._data.shape) if a._requires_grad else None,
                sum_to(where(keep, zero, g), b._data.shape) if b._requires_grad else None)
    return record(out, "WhereBackward0", backward, (a, b))


def masked_fill(a, mask, value):
    """``a`` with ``value`` where ``mask`` is True (mask broadcasts to a's shape; value is a number or 0-dim tensor)."""
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {m.dtype}")
    value_t = value if isinstance(value, Tensor) else None
    if value_t is not None and value_t._data.ndim != 0:
        raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor "
                           f"with {value_t._data.ndim} dimension(s).")
    fill = np.asarray(value_t._data if value_t is not None else value).astype(a._data.dtype)
    try:
        out = np.where(m, fill, a._data)
    except ValueError:
        raise broadcast_error("masked_fill", a._data.shape, m.shape) from None
    if out.shape != a._data.shape:
        raise RuntimeError(f"masked_fill: mask of shape {list(m.shape)} does not broadcast to the input's shape "
                           f"{list(a._data.shape)}")
    keep = Tensor._wrap(~m)

    def backward(g):
        zero = g * 0
        ga = where(keep, g, zero) if a._requires_grad else None
        gv = where(keep, zero, g).sum().to(value_t.dtype) if value_t is not None and value_t._requires_grad else None
        return ga, gv
    if value_t is None:
        return record(out, "MaskedFillBackward0", lambda g: backward(g)[:1], (a,))
    return record(out, "MaskedFillBackward1", backward, (a, value_t))


def _same_dtype(*tensors):
    """The tensors converted to their common dtype, as PyTorch promotes them."""
    dt = _dtype.result_type(*[t._data for t in tensors])
    return [t if t._data.dtype == dt else t.to(dt) for t in tensors]


def lerp(a, b, weight):
    """a + weight * (b - a): LerpBackward0 for a number weight, LerpBackward1 for a tensor one."""
    if not isinstance(weight, Tensor):
        a, b = promote(a, b)
        out = _broadcasting("lerp", lambda x, y: x + weight * (y - x), a, b)

        def backward(g):
            return (sum_to(g * (1 - weight), a._data.shape) if a._requires_grad else None,
                    sum_to(g * weight, b._data.shape) if b._requires_grad else None)
        return record(out, "LerpBackward0", backward, (a, b))
    a, b, w = _same_dtype(a, b, weight)
    try:
        out = a._data + w._data * (b._data - a._data)
    except ValueError:
        raise RuntimeError(f"lerp: shapes {list(a._data.shape)}, {list(b._data.shape)} and {list(w._data.shape)} "
                           "do not broadcast") from None

    def backward_tensor(g):
        return (sum_to(g * (1 - w), a._data.shape) if a._requires_grad else None,
                sum_to(g * w, b._data.shape) if b._requires_grad else None,
                sum_to(g * (b - a), w._data.shape) if w._requires_grad else None)
    return record(out, "LerpBackward1", backward_tensor, (a, b, w), saved=(a, b, w))


def to_dtype(a, dtype):
    """Cast ``a`` (a no-op returning ``a`` when the dtype already matches)."""
    np_dtype = _dtype.to_numpy_dtype(dtype) if not isinstance(dtype, np.dtype) else dtype
    if a._data.dtype == np_dtype:
        return a
    src = a._data.dtype

    def backward(g):
        return (g.to(src),)
    out = record(a._data.astype(np_dtype), "ToCopyBackward0", backward, (a,))
    if out._requires_grad and np_dtype.kind != "f":
        out.grad_fn = None
        out._requires_grad = False
    return out


def clone(a, memory_format=None):
    return record(a._data.copy(), "CloneBackward0", lambda g: (g,), (a,))


def addcmul(a, t1, t2, value=1):
    """a + value * t1 * t2, one op (as optimizers' update rules use it)."""
    a, t1, t2 = _same_dtype(a, t1, t2)
    try:
        out = a._data + value * (t1._data * t2._data)
    except ValueError:
        raise RuntimeError(f"addcmul: shapes {list(a._data.shape)}, {list(t1._data.shape)} and "
                           f"{list(t2._data.shape)} do not broadcast") from None

    def backward(g):
        return (sum_to(g, a._data.shape) if a._requires_grad else None,
                sum_to(g * t2 * value, t1._data.shape) if t1._requires_grad else None,
                sum_to(g * t1 * value, t2._data.shape) if t2._requires_grad else None)
    return record(out, "AddcmulBackward0", backward, (a, t1, t2), saved=(t1, t2))


def addcdiv(a, t1, t2, value=1):
    """a + value * t1 / t2, one op."""
    a, t1, t2 = _same_dtype(a, t1, t2)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = a._data + value * (t1._data / t2._data)
    except ValueError:
        raise RuntimeError(f"addcdiv: shapes {list(a._data.shape)}, {list(t1._data.shape)} and "
                           f"{list(t2._data.shape)} do not broadcast") from None

    def backward(g):
        return (sum_to(g, a._data.shape) if a._requires_grad else None,
                sum_to(g * value / t2, t1._data.shape) if t1._requires_grad else None,
                sum_to(-g * value * t1 / (t2 * t2), t2._data.shape) if t2._requires_grad else None)
    return record(out, "AddcdivBackward0", backward, (a, t1, t2), saved=(t1, t2))


def nan_to_num(a, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf and -inf replaced by ``nan`` and the dtype's largest / smallest finite values."""
    if a._data.dtype.kind != "f":
        return clone(a)
    finite = Tensor._wrap(np.isfinite(a._data))  # the replaced elements get no gradient
    return record(np.nan_to_num(a._data, nan=nan, posinf=posinf, neginf=neginf), "NanToNumBackward0",
                  lambda g: (where(finite, g, 0.0),), (a,))
