"""Arithmetic: the binary ops (``+ - * / // % **``, maximum, atan2, ...), each forward on NumPy arrays
and its backward right beside it.

Binary ops broadcast; their backward sums the gradient back to each input's shape with ``sum_to``.
A backward computes a gradient only for inputs that require one.
"""
import numpy as np

from .. import _dtype
from .._tensor import Tensor
from ..autograd.record import record
from ._common import broadcast_error, broadcasting, not_implemented, promote, sum_to
from .compare import isnan, where
from .registry import op
from .unary import _float_input, exp2, log, reciprocal, sigmoid


@op(inplace="add_ __iadd__", operator="__add__ __radd__")
def add(a, b, alpha=1):
    a, b = promote(a, b)
    if alpha != 1:
        b = b * alpha
    out = broadcasting("add", np.add, a, b)

    def backward(g):
        """grad_a = g; grad_b = g (each summed back to its input's shape)"""
        return (sum_to(g, a._data.shape) if a._requires_grad else None,
                sum_to(g, b._data.shape) if b._requires_grad else None)
    return record(out, "AddBackward0", backward, (a, b))


def _is_bool(x):
    return isinstance(x, bool) or (isinstance(x, Tensor) and x._data.dtype == np.bool_)


@op(inplace="sub_ subtract_ __isub__", operator="__sub__", alias="subtract")
def sub(a, b, alpha=1):
    if _is_bool(a) or _is_bool(b):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    a, b = promote(a, b)
    if alpha != 1:
        b = b * alpha
    out = broadcasting("sub", np.subtract, a, b)

    def backward(g):
        """grad_a = g; grad_b = -g (each summed back to its input's shape)"""
        return (sum_to(g, a._data.shape) if a._requires_grad else None,
                sum_to(-g, b._data.shape) if b._requires_grad else None)
    return record(out, "SubBackward0", backward, (a, b))


@op(method=False, operator="__rsub__", reflect=False)
def rsub(a, b, alpha=1):
    """``b - alpha * a`` (``2 - x`` calls it): PyTorch's RsubBackward1 for a number b, RsubBackward0 for a tensor."""
    if _is_bool(a) or _is_bool(b):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    number = not isinstance(b, Tensor)
    a, b = promote(a, b)
    if alpha != 1:
        a = a * alpha
    out = broadcasting("rsub", np.subtract, b, a)
    if number:

        def backward_number(g):
            """grad_a = -g"""
            return (-g,)
        return record(out, "RsubBackward1", backward_number, (a,))

    def backward(g):
        """grad_a = -g; grad_b = g (each summed back to its input's shape)"""
        return (sum_to(-g, a._data.shape) if a._requires_grad else None,
                sum_to(g, b._data.shape) if b._requires_grad else None)
    return record(out, "RsubBackward0", backward, (a, b))


@op(inplace="mul_ multiply_ __imul__", operator="__mul__ __rmul__", alias="multiply")
def mul(a, b):
    a, b = promote(a, b)
    out = broadcasting("mul", np.multiply, a, b)

    def backward(g):
        """grad_a = g * b; grad_b = g * a (each summed back to its input's shape)"""
        return (sum_to(g * b, a._data.shape) if a._requires_grad else None,
                sum_to(g * a, b._data.shape) if b._requires_grad else None)
    return record(out, "MulBackward0", backward, (a, b), saved=(a, b))


@op(inplace="div_ divide_ true_divide_ __itruediv__", operator="__truediv__", alias="divide true_divide")
def div(a, b, rounding_mode=None):
    if rounding_mode is not None:
        return _rounded_div(a, b, rounding_mode)
    a, b = promote(a, b)
    if a._data.dtype.kind != "f":  # int / int gives the default float, as in PyTorch
        a, b = _float_input(a, "div"), _float_input(b, "div")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = broadcasting("div", np.true_divide, a, b)

    def backward(g):
        """grad_a = g / b; grad_b = -g * a / b**2 (each summed back to its input's shape)"""
        return (sum_to(g / b, a._data.shape) if a._requires_grad else None,
                sum_to(-g * a / (b * b), b._data.shape) if b._requires_grad else None)
    return record(out, "DivBackward0", backward, (a, b), saved=(a, b))


@op(method=False, function=False, operator="__rtruediv__", reflect=False)
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
        """grad_a = 0; grad_b = 0 (a rounded quotient is a step function)"""
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


@op(inplace="floor_divide_ __ifloordiv__", operator="__floordiv__ __rfloordiv__")
def floor_divide(a, b):
    a, b = promote(a, b)
    _no_bool("floor_divide", a)
    _no_integer_zero_divisor("floor_divide", a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return Tensor._wrap(broadcasting("floor_divide", np.floor_divide, a, b))


def _trunc_divide(a, b):
    a, b = promote(a, b)
    _no_integer_zero_divisor("div", a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = broadcasting("div", np.true_divide, a, b)
    return Tensor._wrap(np.trunc(q).astype(a._data.dtype))


@op(inplace="remainder_ __imod__", operator="__mod__ __rmod__")
def remainder(a, b):
    number = not isinstance(b, Tensor)
    a, b = promote(a, b)
    _no_bool("remainder", a)
    _no_integer_zero_divisor("remainder", a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = broadcasting("remainder", np.mod, a, b)
    if number:  # PyTorch's tensor % number: the gradient passes through unchanged

        def backward_number(g):
            """grad_a = g"""
            return (g,)
        return record(out, "RemainderBackward0", backward_number, (a,))

    def backward(g):
        """grad_a = g; grad_b = -g * floor(a / b)"""
        return (sum_to(g, a._data.shape) if a._requires_grad else None,
                sum_to(-g * (a // b), b._data.shape) if b._requires_grad else None)
    return record(out, "RemainderBackward1", backward, (a, b), saved=(a, b))


@op(inplace=True)
def fmod(a, b):
    """The remainder of a division rounded toward zero (C's fmod): it takes a's sign, where ``%`` takes b's."""
    number = not isinstance(b, Tensor)
    a, b = promote(a, b)
    _no_bool("fmod", a)
    _no_integer_zero_divisor("fmod", a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = broadcasting("fmod", np.fmod, a, b)
    if number:

        def backward_number(g):
            """grad_a = g"""
            return (g,)
        return record(out, "FmodBackward0", backward_number, (a,))

    def backward(g):
        """grad_a = g; grad_b = -g * trunc(a / b)"""
        return (sum_to(g, a._data.shape) if a._requires_grad else None,
                sum_to(-g * (a / b).trunc(), b._data.shape) if b._requires_grad else None)
    return record(out, "FmodBackward1", backward, (a, b), saved=(a, b))


@op(inplace="pow_ __ipow__", operator="__pow__ __rpow__")
def pow(a, b):
    if isinstance(b, bool) and isinstance(a, Tensor) and a._data.dtype == np.bool_:
        return Tensor._wrap(a._data.copy() if b else np.ones_like(a._data))  # x ** True is x, x ** False is 1
    scalar_exponent, scalar_base = not isinstance(b, Tensor), not isinstance(a, Tensor)
    a, b = promote(a, b)
    _no_bool("pow", a)
    if a._data.dtype.kind in "iu" and (b._data < 0).any():
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = broadcasting("pow", np.power, a, b)

    def backward(g):
        """grad_a = g * b * a**(b - 1); grad_b = g * a**b * log(a)"""
        with np.errstate(divide="ignore", invalid="ignore"):  # the where() below discards 0 * inf
            return _pow_grads(g)

    def backward_exponent_number(g):
        """grad_a = g * b * a**(b - 1)  (b a number)"""
        return backward(g)[:1]

    def backward_base_number(g):
        """grad_b = g * a**b * log(a)  (a a number)"""
        return backward(g)[1:]

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
        return record(out, "PowBackward0", backward_exponent_number, (a,), saved=(a,))
    if scalar_base:
        return record(out, "PowBackward2", backward_base_number, (b,), saved=(b,))
    return record(out, "PowBackward1", backward, (a, b), saved=(a, b))


def rpow(a, b):
    return pow(b, a)


@op()
def maximum(a, b):
    a, b = promote(a, b)
    out = broadcasting("maximum", np.maximum, a, b)

    def backward(g):
        """grad_a = g where a > b; grad_b = g where b > a; a tie splits g evenly"""
        return _extreme_pair_grads(g, a, b, a < b, a > b)
    return record(out, "MaximumBackward0", backward, (a, b), saved=(a, b))


def _extreme_pair_grads(g, a, b, a_loses, b_loses):
    """maximum / minimum's gradients, as PyTorch: each side gets g unless it lost, ties split g evenly, and where
    a NaN is compared (it neither wins nor loses) both sides get g."""
    tie = (a == b).to(g.dtype) * 0.5
    return (sum_to(g * (1 - a_loses.to(g.dtype) - tie), a._data.shape) if a._requires_grad else None,
            sum_to(g * (1 - b_loses.to(g.dtype) - tie), b._data.shape) if b._requires_grad else None)


@op()
def minimum(a, b):
    a, b = promote(a, b)
    out = broadcasting("minimum", np.minimum, a, b)

    def backward(g):
        """grad_a = g where a < b; grad_b = g where b < a; a tie splits g evenly"""
        return _extreme_pair_grads(g, a, b, a > b, a < b)
    return record(out, "MinimumBackward0", backward, (a, b), saved=(a, b))


@op()
def fmax(a, b):
    """The larger of a and b, ignoring NaN (NaN only where both are NaN); a tie's gradient goes to a."""
    return _nan_ignoring_extreme(a, b, "fmax", np.fmax, lambda a, b: a >= b, "FmaxBackward0")


@op()
def fmin(a, b):
    """The smaller of a and b, ignoring NaN (NaN only where both are NaN); a tie's gradient goes to a."""
    return _nan_ignoring_extreme(a, b, "fmin", np.fmin, lambda a, b: a <= b, "FminBackward0")


def _nan_ignoring_extreme(a, b, op, np_fn, a_wins, node):
    a, b = promote(a, b)
    out = broadcasting(op, np_fn, a, b)

    def backward(g):
        """grad_a = g where a was picked, else 0; grad_b = g elsewhere"""
        pick_a = a_wins(a, b) | isnan(b)
        return (sum_to(where(pick_a, g, 0.0), a._data.shape) if a._requires_grad else None,
                sum_to(where(pick_a, 0.0, g), b._data.shape) if b._requires_grad else None)
    return record(out, node, backward, (a, b), saved=(a, b))


def _float_pair(a, b, op):
    """a and b in their common dtype, integers computing in the default float dtype (as atan2 and xlogy do)."""
    a, b = promote(a, b)
    if a._data.dtype.kind != "f":
        a, b = _float_input(a, op), _float_input(b, op)
    return a, b


def _floating_pair(op, a, b):
    """a and b in their common dtype, which must be floating point (hypot and logaddexp refuse integers)."""
    a, b = promote(a, b)
    if a._data.dtype.kind != "f":
        raise not_implemented(op, a, "floating-point")
    return a, b


@op(inplace=True, alias="arctan2")
def atan2(a, b):
    """The angle of the point (b, a) (a is the y coordinate), in [-pi, pi]."""
    a, b = _float_pair(a, b, "atan2")
    out = broadcasting("atan2", np.arctan2, a, b)

    def backward(g):
        """grad_a = g * b / (a**2 + b**2); grad_b = -g * a / (a**2 + b**2)"""
        r2 = a * a + b * b
        r2 = where(r2 == 0, 1.0, r2)  # at the origin both gradients are 0 (0 / 1), as PyTorch, not 0 / 0
        return (sum_to(g * b / r2, a._data.shape) if a._requires_grad else None,
                sum_to(-g * a / r2, b._data.shape) if b._requires_grad else None)
    return record(out, "Atan2Backward0", backward, (a, b), saved=(a, b))


@op(inplace=True)
def hypot(a, b):
    """sqrt(a**2 + b**2), without overflow for large a or b."""
    a, b = _floating_pair("hypot", a, b)

    def backward(g):
        """grad_a = g * a / out; grad_b = g * b / out"""
        return (sum_to(g * a / out, a._data.shape) if a._requires_grad else None,
                sum_to(g * b / out, b._data.shape) if b._requires_grad else None)
    out = record(broadcasting("hypot", np.hypot, a, b), "HypotBackward0", backward, (a, b), saved=(a, b),
                 saves_output=True)
    return out


@op()
def logaddexp(a, b):
    """log(exp(a) + exp(b)), without overflow; each input's gradient is its softmax weight."""
    a, b = _floating_pair("logaddexp", a, b)
    with np.errstate(invalid="ignore"):  # (inf and -inf in both: NaN, without a warning)
        out = broadcasting("logaddexp", np.logaddexp, a, b)

    def backward(g):
        """grad_a = g * sigmoid(a - b); grad_b = g * sigmoid(b - a)"""
        weight_a = sigmoid(a - b)  # exp(a) / (exp(a) + exp(b))
        return (sum_to(g * weight_a, a._data.shape) if a._requires_grad else None,
                sum_to(g * (1 - weight_a), b._data.shape) if b._requires_grad else None)
    return record(out, "LogaddexpBackward0", backward, (a, b), saved=(a, b))


@op()
def logaddexp2(a, b):
    """log2(2**a + 2**b), without overflow."""
    a, b = _floating_pair("logaddexp2", a, b)
    with np.errstate(invalid="ignore"):
        out = broadcasting("logaddexp2", np.logaddexp2, a, b)

    def backward(g):
        """grad_a = g * 2**a / (2**a + 2**b); grad_b = g * 2**b / (2**a + 2**b)"""
        weight_a = sigmoid((a - b) * np.log(2.0))  # 2**a / (2**a + 2**b)
        return (sum_to(g * weight_a, a._data.shape) if a._requires_grad else None,
                sum_to(g * (1 - weight_a), b._data.shape) if b._requires_grad else None)
    return record(out, "Logaddexp2Backward0", backward, (a, b), saved=(a, b))


@op()
def float_power(a, exponent):
    """a ** exponent computed in float64 whatever the inputs' dtypes (the graph is pow's on float64 copies)."""
    def as_double(x):
        return x.double() if isinstance(x, Tensor) else float(x)
    return pow(as_double(a), as_double(exponent))


@op(inplace=True)
def ldexp(a, b):
    """a * 2 ** b."""
    a, b = _float_pair(a, b, "ldexp")
    with np.errstate(over="ignore", invalid="ignore"):
        out = broadcasting("ldexp", lambda x, e: x * np.exp2(e), a, b)

    def backward(g):
        """grad_a = g * 2**b; grad_b = g * a * 2**b * log(2)"""
        scale = exp2(b)
        return (sum_to(g * scale, a._data.shape) if a._requires_grad else None,
                sum_to(g * a * scale * np.log(2.0), b._data.shape) if b._requires_grad else None)
    return record(out, "LdexpBackward0", backward, (a, b), saved=(a, b))


def _integer_pair(op, a, b):
    a, b = promote(a, b)
    if a._data.dtype.kind not in "iu":
        raise not_implemented(op, a, "integer")
    return a, b


@op(inplace=True)
def gcd(a, b):
    """The greatest common divisor, elementwise (integers only; gcd(0, 0) is 0)."""
    a, b = _integer_pair("gcd", a, b)
    return Tensor._wrap(broadcasting("gcd", np.gcd, a, b))


@op(inplace=True)
def lcm(a, b):
    """The least common multiple, elementwise (integers only; never negative)."""
    a, b = _integer_pair("lcm", a, b)
    return Tensor._wrap(broadcasting("lcm", np.lcm, a, b))


@op(inplace=True)
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


@op(inplace=True)
def copysign(a, b):
    """|a| with the sign of b (of -0.0 too); the result is floating point even for integer inputs."""
    b_is_scalar = not isinstance(b, Tensor)
    a, b = _float_pair(a, b, "copysign")
    out = broadcasting("copysign", np.copysign, a, b)

    def grad_a(g):
        """grad_a = g * out / a (0 where a == 0)"""
        # d|a|sign(b)/da = sign(a) sign(b) = out / a, and 0 where a is 0 (as PyTorch)
        safe_a = where(a == 0, 1.0, a)
        return sum_to(where(a == 0, 0.0, g * out_t / safe_a), a._data.shape)

    def backward_number(g):
        """grad_a = g * out / a (0 where a == 0)"""
        return (grad_a(g),)

    def backward(g):
        """grad_a = g * out / a (0 where a == 0); grad_b = 0 (b only chooses a sign)"""
        return (grad_a(g) if a._requires_grad else None,
                sum_to(g * 0, b._data.shape) if b._requires_grad else None)
    if b_is_scalar:
        out_t = record(out, "CopysignBackward1", backward_number, (a,), saved=(a,), saves_output=True)
    else:
        out_t = record(out, "CopysignBackward0", backward, (a, b), saved=(a,), saves_output=True)
    return out_t


def _same_dtype(*tensors):
    """The tensors converted to their common dtype, as PyTorch promotes them."""
    dt = _dtype.result_type(*[t._data for t in tensors])
    return [t if t._data.dtype == dt else t.to(dt) for t in tensors]


@op(inplace=True)
def lerp(a, b, weight):
    """a + weight * (b - a): LerpBackward0 for a number weight, LerpBackward1 for a tensor one."""
    if not isinstance(weight, Tensor):
        a, b = promote(a, b)
        out = broadcasting("lerp", lambda x, y: x + weight * (y - x), a, b)

        def backward(g):
            """grad_a = g * (1 - weight); grad_b = g * weight"""
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
        """grad_a = g * (1 - w); grad_b = g * w; grad_w = g * (b - a)"""
        return (sum_to(g * (1 - w), a._data.shape) if a._requires_grad else None,
                sum_to(g * w, b._data.shape) if b._requires_grad else None,
                sum_to(g * (b - a), w._data.shape) if w._requires_grad else None)
    return record(out, "LerpBackward1", backward_tensor, (a, b, w), saved=(a, b, w))


@op(inplace=True)
def addcmul(a, t1, t2, value=1):
    """a + value * t1 * t2, one op (as optimizers' update rules use it)."""
    a, t1, t2 = _same_dtype(a, t1, t2)
    try:
        out = a._data + value * (t1._data * t2._data)
    except ValueError:
        raise RuntimeError(f"addcmul: shapes {list(a._data.shape)}, {list(t1._data.shape)} and "
                           f"{list(t2._data.shape)} do not broadcast") from None

    def backward(g):
        """grad_a = g; grad_t1 = g * t2 * value; grad_t2 = g * t1 * value"""
        return (sum_to(g, a._data.shape) if a._requires_grad else None,
                sum_to(g * t2 * value, t1._data.shape) if t1._requires_grad else None,
                sum_to(g * t1 * value, t2._data.shape) if t2._requires_grad else None)
    return record(out, "AddcmulBackward0", backward, (a, t1, t2), saved=(t1, t2))


@op(inplace=True)
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
        """grad_a = g; grad_t1 = g * value / t2; grad_t2 = -g * value * t1 / t2**2"""
        return (sum_to(g, a._data.shape) if a._requires_grad else None,
                sum_to(g * value / t2, t1._data.shape) if t1._requires_grad else None,
                sum_to(-g * value * t1 / (t2 * t2), t2._data.shape) if t2._requires_grad else None)
    return record(out, "AddcdivBackward0", backward, (a, t1, t2), saved=(t1, t2))


def _by_number(t, number, op):
    """t * number or t / number as PyTorch's number overloads record them (MulBackward1, DivBackward1)."""
    if t._data.dtype.kind != "f":
        t = t.float()  # an integer sum divided (or scaled) by a float number is float32, as PyTorch
    def backward_mul(g):
        """grad_a = g * number"""
        return (g * number,)

    def backward_div(g):
        """grad_a = g / number"""
        return (g / number,)
    if op == "Mul":
        return record(t._data * t._data.dtype.type(number), "MulBackward1", backward_mul, (t,))
    return record(t._data / t._data.dtype.type(number), "DivBackward1", backward_div, (t,))
