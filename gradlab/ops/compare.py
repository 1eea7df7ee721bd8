"""Comparisons, logic and bitwise ops (bool or integer results, no gradient), and the selections
``where`` and ``masked_fill``."""
import numpy as np

from .._tensor import Tensor
from ..autograd.record import record
from ._common import broadcast_error, broadcasting, not_implemented, promote, sum_to
from .inplace import predicate_inplace
from .registry import op


# ---- comparisons and logic: bool results, no gradient -----------------------------------------
def _compare(op, fn):
    def compare(a, b):
        a, b = promote(a, b)
        return Tensor._wrap(broadcasting(op, fn, a, b))
    compare.__name__ = op
    return compare


# In place, a comparison keeps a's dtype and takes the 0 / 1 result (predicate_inplace)
eq = op(inplace=True, operator="__eq__", inplace_by=predicate_inplace)(_compare("eq", np.equal))


ne = op(inplace=True, operator="__ne__", alias="not_equal", inplace_by=predicate_inplace)(
    _compare("ne", np.not_equal))


lt = op(inplace=True, operator="__lt__", alias="less", inplace_by=predicate_inplace)(_compare("lt", np.less))


le = op(inplace=True, operator="__le__", alias="less_equal", inplace_by=predicate_inplace)(
    _compare("le", np.less_equal))


gt = op(inplace=True, operator="__gt__", alias="greater", inplace_by=predicate_inplace)(_compare("gt", np.greater))


ge = op(inplace=True, operator="__ge__", alias="greater_equal", inplace_by=predicate_inplace)(
    _compare("ge", np.greater_equal))


logical_and = op(inplace=True, inplace_by=predicate_inplace)(_compare("logical_and", np.logical_and))


logical_or = op(inplace=True, inplace_by=predicate_inplace)(_compare("logical_or", np.logical_or))


logical_xor = op(inplace=True, inplace_by=predicate_inplace)(_compare("logical_xor", np.logical_xor))


def _bitwise(op, fn):
    def bitwise(a, b):
        a, b = promote(a, b)
        if a._data.dtype.kind == "f":
            raise not_implemented(op, a, "integer or bool")
        return Tensor._wrap(broadcasting(op, fn, a, b))
    bitwise.__name__ = op
    return bitwise


bitwise_and = op(inplace="bitwise_and_ __iand__")(_bitwise("bitwise_and", np.bitwise_and))


bitwise_or = op(inplace="bitwise_or_ __ior__")(_bitwise("bitwise_or", np.bitwise_or))


bitwise_xor = op(inplace="bitwise_xor_ __ixor__")(_bitwise("bitwise_xor", np.bitwise_xor))


@op(method=False, function=False, operator="__and__ __rand__", reflect=False)
def _and(a, b):
    """``a & b``: logical for bool tensors, bitwise for integers."""
    return logical_and(a, b) if a._data.dtype == np.bool_ else bitwise_and(a, b)


@op(method=False, function=False, operator="__or__ __ror__", reflect=False)
def _or(a, b):
    return logical_or(a, b) if a._data.dtype == np.bool_ else bitwise_or(a, b)


@op(method=False, function=False, operator="__xor__ __rxor__", reflect=False)
def _xor(a, b):
    return logical_xor(a, b) if a._data.dtype == np.bool_ else bitwise_xor(a, b)


@op(method=False, function=False, operator="__invert__")
def _invert(a):
    """``~a``: logical not for bool tensors, bitwise not for integers."""
    return logical_not(a) if a._data.dtype == np.bool_ else bitwise_not(a)


@op(inplace=True, inplace_by=predicate_inplace)
def logical_not(a):
    return Tensor._wrap(np.logical_not(a._data))


@op(inplace=True)
def bitwise_not(a):
    if a._data.dtype.kind == "f":
        raise RuntimeError("bitwise_not: not implemented for floating-point tensors")
    return Tensor._wrap(np.invert(a._data))


@op()
def isnan(a):
    return Tensor._wrap(np.isnan(a._data))


@op()
def isinf(a):
    return Tensor._wrap(np.isinf(a._data))


@op()
def isfinite(a):
    return Tensor._wrap(np.isfinite(a._data))


@op()
def isposinf(a):
    return Tensor._wrap(a._data == np.inf if a._data.dtype.kind == "f" else np.zeros(a._data.shape, bool))


@op()
def isneginf(a):
    return Tensor._wrap(a._data == -np.inf if a._data.dtype.kind == "f" else np.zeros(a._data.shape, bool))


@op()
def signbit(a):
    """True where the sign bit is set: negative numbers, -0.0 and NaNs with the sign bit."""
    return Tensor._wrap(np.signbit(a._data) if a._data.dtype.kind != "b" else np.zeros(a._data.shape, bool))


@op()
def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


@op()
def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return Tensor._wrap(np.isclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


@op()
def equal(a, b):
    return a._data.shape == b._data.shape and bool((a._data == b._data).all())


@op(method=False)
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


@op(method="where", function=False)
def where_self(a, condition, other):
    """``a.where(condition, other)``: ``gradlab.where(condition, a, other)``."""
    return where(condition, a, other)


@op(inplace=True)
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
