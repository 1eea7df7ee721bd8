"""Special functions (erf, the gamma family, logit, xlogy, sinc) and the NaN-ignoring reductions.

The forward values come from ``scipy.special``; each backward is written
with tensor ops (often another special function: lgamma's derivative is
digamma, digamma's is polygamma(1, .)), so higher derivatives come for free.
"""
import numpy as np
from scipy import special as sp

from .. import _dtype
from .._tensor import Tensor
from ..autograd.function import record
from ._common import broadcast_error, normalize_dims, sum_to
from .elementwise import _float_input, _float_pair, exp, isnan, where
from .reduce import _expand_back
from .registry import op

_TWO_OVER_SQRT_PI = 2 / np.sqrt(np.pi)


def _in_dtype_of(values, a):
    """scipy may widen float32 / float16 results to float64: give back a's dtype."""
    return np.asarray(values).astype(a._data.dtype, copy=False)


# ---- the error function ------------------------------------------------------------------------
@op(inplace=True)
def erf(a):
    a = _float_input(a, "erf")
    return record(_in_dtype_of(sp.erf(a._data), a), "ErfBackward0",
                  lambda g: (g * _TWO_OVER_SQRT_PI * exp(-a * a),), (a,), saved=(a,))


@op(inplace=True)
def erfc(a):
    """1 - erf(a), accurate where erf(a) is close to 1."""
    a = _float_input(a, "erfc")
    return record(_in_dtype_of(sp.erfc(a._data), a), "ErfcBackward0",
                  lambda g: (-g * _TWO_OVER_SQRT_PI * exp(-a * a),), (a,), saved=(a,))


@op(inplace=True)
def erfinv(a):
    """The inverse of erf on (-1, 1); its derivative is 1 / erf'(erfinv(a))."""
    a = _float_input(a, "erfinv")
    out = record(_in_dtype_of(sp.erfinv(a._data), a), "ErfinvBackward0",
                 lambda g: (g / _TWO_OVER_SQRT_PI * exp(out * out),), (a,), saves_output=True)
    return out


# ---- the gamma family --------------------------------------------------------------------------
@op(inplace=True)
def lgamma(a):
    """log |Gamma(a)|; its derivative is digamma(a)."""
    a = _float_input(a, "lgamma")
    out = np.where(a._data == -np.inf, np.inf, sp.gammaln(a._data))  # lgamma(-inf) is inf, as PyTorch
    return record(_in_dtype_of(out, a), "LgammaBackward0", lambda g: (g * digamma(a),), (a,),
                  saved=(a,))


@op(inplace=True)
def digamma(a):
    """The derivative of lgamma; its own derivative is polygamma(1, a)."""
    a = _float_input(a, "digamma")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = sp.digamma(a._data)
    return record(_in_dtype_of(out, a), "DigammaBackward0", lambda g: (g * polygamma(1, a),), (a,), saved=(a,))


@op(method=False)
def polygamma(n, input):
    """The n-th derivative of digamma (polygamma(0, x) is digamma(x)); its derivative is polygamma(n + 1, x)."""
    return _polygamma(n, input, "PolygammaBackward0")


@op(method="polygamma", function=False)
def polygamma_method(a, n):
    """``a.polygamma(n)``: ``polygamma(n, a)``."""
    return _polygamma(n, a, "PolygammaBackward0")


@op(method=False, function=False, inplace="polygamma_")
def polygamma_self(a, n):
    """``a.polygamma_(n)`` computes this (PyTorch names the in-place overload's node PolygammaBackward1)."""
    return _polygamma(n, a, "PolygammaBackward1")


polygamma_self.__name__ = "polygamma"


def _polygamma(n, input, node):
    if n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n (got n = {n})")
    a = _float_input(input, "polygamma")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = sp.polygamma(n, a._data)
    if n:  # no limit at -inf (poles at every negative integer): NaN, as PyTorch
        out = np.where(a._data == -np.inf, np.nan, out)
    return record(_in_dtype_of(out, a), node, lambda g: (g * polygamma(n + 1, a),), (a,), saved=(a,))


# ---- log-odds and logs of products -------------------------------------------------------------
@op(inplace=True)
def logit(a, eps=None):
    """log(a / (1 - a)), the inverse of sigmoid; with ``eps``, a is first clamped to [eps, 1 - eps].

    Outside [0, 1] (without eps) the result and the gradient are NaN; where the
    clamp is active (with eps) the gradient is 0, as PyTorch.
    """
    a = _float_input(a, "logit")
    x = a._data if eps is None else np.clip(a._data, eps, 1 - eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(x / (1 - x))

    def backward(g):
        if eps is None:
            outside, fill = (a < 0) | (a > 1), float("nan")
        else:
            outside, fill = (a < eps) | (a > 1 - eps), 0.0
        at_end = ((a == 0) | (a == 1)) & ~outside  # where the slope 1 / (a (1 - a)) is infinite
        # a safe 0.5 where the formula is not used keeps inf and NaN out of higher derivatives
        inner = where(outside | at_end, 0.5, a)
        slope = where(at_end, float("inf"), 1 / (inner * (1 - inner)))
        return (where(outside, fill, g * slope),)
    return record(out, "LogitBackward0", backward, (a,), saved=(a,))


@op(inplace=True)
def xlogy(a, b):
    """a * log(b), taken as 0 where a == 0 (unless b is NaN), so that 0 * log(0) is 0.

    PyTorch's three overloads: tensor-tensor XlogyBackward0, number a XlogyBackward1,
    number b XlogyBackward2 (one graph input for a number).
    """
    number_a, number_b = not isinstance(a, Tensor), not isinstance(b, Tensor)
    a, b = _float_pair(a, b, "xlogy")
    with np.errstate(divide="ignore", invalid="ignore"):
        try:
            out = np.where((a._data == 0) & ~np.isnan(b._data), 0, a._data * np.log(b._data)).astype(a._data.dtype)
        except ValueError:
            raise broadcast_error("xlogy", a._data.shape, b._data.shape) from None

    def grad_a(g):  # log(b), but 0 where a == 0 and b <= 0 (where a * log(b) is held at 0)
        return sum_to(where((a == 0) & (b <= 0), 0.0, xlogy(g, b)), a._data.shape)

    def grad_b(g):
        return sum_to(g * a / b, b._data.shape)
    if number_a:
        return record(out, "XlogyBackward1", lambda g: (grad_b(g),), (b,), saved=(a, b))
    if number_b:
        return record(out, "XlogyBackward2", lambda g: (grad_a(g),), (a,), saved=(a, b))
    return record(out, "XlogyBackward0", lambda g: (grad_a(g) if a._requires_grad else None,
                                                   grad_b(g) if b._requires_grad else None), (a, b), saved=(a, b))


@op(inplace=True)
def sinc(a):
    """sin(pi a) / (pi a), and 1 at a == 0 (the normalized sinc, as NumPy's)."""
    a = _float_input(a, "sinc")

    def backward(g):
        # (cos(pi a) - sinc(a)) / a, and 0 at a == 0; a safe divisor keeps 0 / 0 out of higher derivatives
        at_zero = a == 0
        safe = where(at_zero, 1.0, a)
        pi_a = safe * np.pi
        slope = (pi_a.cos() - pi_a.sin() / pi_a) / safe
        return (g * where(at_zero, 0.0, slope),)
    with np.errstate(invalid="ignore"):  # (sinc(inf) is NaN)
        out = np.sinc(a._data)
    return record(out, "SincBackward0", backward, (a,), saved=(a,))


# ---- reductions that skip NaN ------------------------------------------------------------------
@op()
def nansum(a, dim=None, keepdim=False, dtype=None):
    """The sum of the non-NaN elements (0 where all are NaN); NaN elements get no gradient."""
    dims = None if dim is None else normalize_dims(dim, a._data.ndim, "nansum") or None
    if dtype is not None:
        acc = _dtype.to_numpy_dtype(dtype)
    else:  # integer and bool sums accumulate in int64, as sum's
        acc = np.int64 if a._data.dtype.kind in "biu" else a._data.dtype
    out = np.asarray(np.nansum(a._data, axis=dims, keepdims=keepdim, dtype=acc), dtype=acc)
    shape = a._data.shape
    all_dims = dims if dims is not None else tuple(range(len(shape)))

    def backward(g):  # (in a's dtype when ``dtype`` asked for another)
        return (where(isnan(a), 0.0, _expand_back(g, shape, all_dims, keepdim)).to(a.dtype),)
    return record(out, "NansumBackward0", backward, (a,), saved=(a,))


@op()
def nanmean(a, dim=None, keepdim=False, dtype=None):
    """The mean of the non-NaN elements (NaN where all are NaN): nansum / their count, as PyTorch computes it."""
    if a._data.dtype.kind != "f":
        raise RuntimeError(f"nanmean(): expected input to have floating point dtype but got {a.dtype}; "
                           "convert with .float() first")
    count = isnan(a).logical_not().sum(dim, keepdim=keepdim)
    return nansum(a, dim, keepdim, dtype) / count
