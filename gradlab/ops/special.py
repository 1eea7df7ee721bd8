"""Special functions (erf, the gamma family, logit, xlogy, sinc) and the NaN-ignoring reductions.

The forward values come from ``scipy.special``; each backward is written
with tensor ops (often another special function: lgamma's derivative is
digamma, digamma's is polygamma(1, .)), so higher derivatives come for free.
"""
import math

import numpy as np
from scipy import special as sp

from .. import _dtype
from .._tensor import Tensor
from ..autograd.record import record
from ._common import broadcast_error, normalize_dims, sum_to
from .arithmetic import _by_number, _float_pair
from .compare import isnan, where
from .unary import _float_input, exp
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


# ---- gradlab.special's own functions (the rest of that namespace are aliases of the ops above) ----------


_SQRT_2 = math.sqrt(2.0)


_SQRT_2PI = math.sqrt(2.0 * math.pi)


# ---- the standard normal distribution ------------------------------------------------------------------------------
@op(method=False, function=False)
def ndtr(input):
    """The standard normal CDF, (1 + erf(x / sqrt(2))) / 2 (built from erf, as PyTorch: its node is MulBackward1)."""
    x = _float_input(input, "special.ndtr")
    return _by_number(erf(x / _SQRT_2) + 1, 0.5, "Mul")


@op(method=False, function=False)
def ndtri(input):
    """The inverse of ndtr on (0, 1); its derivative is 1 / ndtr'(ndtri(p)) = sqrt(2 pi) exp(ndtri(p)^2 / 2)."""
    p = _float_input(input, "special.ndtri")
    out = record(_in_dtype_of(sp.ndtri(p._data), p), "SpecialNdtriBackward0",
                 lambda g: (g * _SQRT_2PI * (out * out * 0.5).exp(),), (p,), saves_output=True)
    return out


@op(method=False, function=False)
def log_ndtr(input):
    """log(ndtr(x)), accurate far in the left tail; its derivative is exp(-x^2 / 2 - log_ndtr(x)) / sqrt(2 pi)."""
    x = _float_input(input, "special.log_ndtr")
    out = record(_in_dtype_of(sp.log_ndtr(x._data), x), "SpecialLogNdtrBackward0",
                 lambda g: (g * (-(x * x) * 0.5 - out).exp() / _SQRT_2PI,), (x,), saved=(x,), saves_output=True)
    return out


# ---- logs of products and entropy ------------------------------------------------------------------------------------
@op(method=False, function=False)
def xlog1py(input, other):
    """input * log1p(other), taken as 0 where input == 0 (unless other is NaN), as xlogy."""
    a, b = _float_pair(input, other, "special.xlog1py")
    with np.errstate(divide="ignore", invalid="ignore"):
        try:
            out = np.where((a._data == 0) & ~np.isnan(b._data), 0, a._data * np.log1p(b._data))
        except ValueError:
            raise broadcast_error("special.xlog1py", a._data.shape, b._data.shape) from None

    def backward(g):
        # d/da = log1p(b) (held at 0 where a == 0 and b <= -1); d/db = a / (1 + b)
        ga = sum_to(where((a == 0) & (b <= -1), 0.0, xlog1py(g, b)), a._data.shape) if a._requires_grad else None
        gb = sum_to(g * a / (b + 1), b._data.shape) if b._requires_grad else None
        return ga, gb
    return record(out.astype(a._data.dtype, copy=False), "SpecialXlog1PyBackward0", backward, (a, b), saved=(a, b))


@op(method=False, function=False)
def entr(input):
    """The elementwise entropy -x log(x): 0 at x = 0, -inf for x < 0; its derivative is -(1 + log x)."""
    x = _float_input(input, "special.entr")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(x._data > 0, -sp.xlogy(x._data, x._data), np.where(x._data == 0, 0.0, -np.inf))
    return record(_in_dtype_of(np.where(np.isnan(x._data), np.nan, out), x), "SpecialEntrBackward0",
                  lambda g: (-g * (x.log() + 1),), (x,), saved=(x,))


# ---- modified Bessel functions of the first kind ---------------------------------------------------------------------
@op(method=False, function=False)
def i0(input):
    """I0(x); its derivative is I1(x)."""
    x = _float_input(input, "special.i0")
    return record(_in_dtype_of(sp.i0(x._data), x), "I0Backward0", lambda g: (g * i1(x),), (x,), saved=(x,))


@op(method=False, function=False)
def i1(input):
    """I1(x); its derivative is I0(x) - I1(x) / x (1/2 at x = 0)."""
    x = _float_input(input, "special.i1")

    def backward(g):
        at_zero = x == 0
        safe = where(at_zero, 1.0, x)  # keeps 0 / 0 out of the formula and of its derivatives
        return (g * where(at_zero, 0.5, i0(x) - i1(safe) / safe),)
    return record(_in_dtype_of(sp.i1(x._data), x), "SpecialI1Backward0", backward, (x,), saved=(x,))


@op(method=False, function=False)
def i0e(input):
    """exp(-|x|) I0(x), which stays finite for large |x|; its derivative is i1e(x) - sign(x) i0e(x)."""
    x = _float_input(input, "special.i0e")
    out = record(_in_dtype_of(sp.i0e(x._data), x), "SpecialI0EBackward0",
                 lambda g: (g * (i1e(x) - x.sign() * out),), (x,), saved=(x,), saves_output=True)
    return out


@op(method=False, function=False)
def i1e(input):
    """exp(-|x|) I1(x); its derivative is i0e(x) - i1e(x) (sign(x) + 1 / x) (1/2 at x = 0)."""
    x = _float_input(input, "special.i1e")

    def backward(g):
        at_zero = x == 0
        safe = where(at_zero, 1.0, x)
        return (g * where(at_zero, 0.5, i0e(safe) - i1e(safe) * (safe.sign() + 1 / safe)),)
    return record(_in_dtype_of(sp.i1e(x._data), x), "SpecialI1EBackward0", backward, (x,), saved=(x,))


# ---- the scaled complementary error function and the multivariate log-gamma ------------------------------------------
@op(method=False, function=False)
def erfcx(input):
    """exp(x^2) erfc(x), accurate where erfc(x) underflows; its derivative is 2 x erfcx(x) - 2 / sqrt(pi)."""
    x = _float_input(input, "special.erfcx")
    out = record(_in_dtype_of(sp.erfcx(x._data), x), "SpecialErfcxBackward0",
                 lambda g: (g * (2 * x * out - 2 / math.sqrt(math.pi)),), (x,), saved=(x,), saves_output=True)
    return out


@op(method=False, function=False)
def multigammaln(input, p):
    """The log of the multivariate gamma function of dimension p:
    p (p - 1) / 4 log(pi) + sum_{j < p} lgamma(a - j / 2); its derivative is sum_{j < p} digamma(a - j / 2)."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    a = _float_input(input, "special.multigammaln")
    halves = np.arange(p) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        out = p * (p - 1) / 4 * math.log(math.pi) + sp.gammaln(a._data[..., None] - halves).sum(-1)

    def backward(g):
        shifted = a.unsqueeze(-1) - Tensor._wrap(halves.astype(a._data.dtype))
        return (g * digamma(shifted).sum(-1),)
    return record(_in_dtype_of(out, a), "MvlgammaBackward0", backward, (a,), saved=(a,))
