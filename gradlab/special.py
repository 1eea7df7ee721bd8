"""``gradlab.special``: the ``torch.special`` namespace.

Most names are aliases of functions gradlab already has (``expit`` is
``sigmoid``, ``gammaln`` is ``lgamma``, ...).  The functions new here (the
normal distribution's ndtr / ndtri / log_ndtr, xlog1py, entr, the Bessel
functions i0 / i1 and their scaled forms i0e / i1e, erfcx and multigammaln)
compute their values with ``scipy.special`` and write their backward with
tensor ops, so that higher derivatives work.
"""
import math

import numpy as np
from scipy import special as _sp

from ._tensor import Tensor
from .autograd.function import record
from .ops import elementwise as _elementwise
from .ops import reduce as _reduce
from .ops import special as _special
from .ops._common import broadcast_error, sum_to
from .ops.linalg import _by_number
from .ops.elementwise import _float_input, _float_pair, where

__all__ = ["erf", "erfc", "erfinv", "expit", "logit", "xlogy", "xlog1py", "gammaln", "digamma", "psi", "polygamma",
           "log_softmax", "softmax", "logsumexp", "sinc", "round", "exp2", "expm1", "log1p", "entr", "i0", "i1",
           "i0e", "i1e", "erfcx", "multigammaln", "ndtr", "ndtri", "log_ndtr"]

_SQRT_2 = math.sqrt(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)

# ---- aliases of gradlab's own functions ----------------------------------------------------------------------------
erf, erfc, erfinv, logit, xlogy, digamma, polygamma, sinc = (_special.erf, _special.erfc, _special.erfinv,
                                                             _special.logit, _special.xlogy, _special.digamma,
                                                             _special.polygamma, _special.sinc)
psi, gammaln = _special.digamma, _special.lgamma
expit, exp2, expm1, log1p = _elementwise.sigmoid, _elementwise.exp2, _elementwise.expm1, _elementwise.log1p


def round(input, *, decimals=0):
    """Round half to even (to ``decimals`` decimal places); the gradient is 0."""
    return _elementwise.round(input, decimals=decimals)


def logsumexp(input, dim, keepdim=False):
    return _reduce.logsumexp(input, dim, keepdim)


def softmax(input, dim, *, dtype=None):
    from .nn import functional
    return functional.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    from .nn import functional
    return functional.log_softmax(input, dim, dtype=dtype)


def _in_dtype_of(values, a):
    return np.asarray(values).astype(a._data.dtype, copy=False)


# ---- the standard normal distribution ------------------------------------------------------------------------------
def ndtr(input):
    """The standard normal CDF, (1 + erf(x / sqrt(2))) / 2 (built from erf, as PyTorch: its node is MulBackward1)."""
    x = _float_input(input, "special.ndtr")
    return _by_number(_special.erf(x / _SQRT_2) + 1, 0.5, "Mul")


def ndtri(input):
    """The inverse of ndtr on (0, 1); its derivative is 1 / ndtr'(ndtri(p)) = sqrt(2 pi) exp(ndtri(p)^2 / 2)."""
    p = _float_input(input, "special.ndtri")
    out = record(_in_dtype_of(_sp.ndtri(p._data), p), "SpecialNdtriBackward0",
                 lambda g: (g * _SQRT_2PI * (out * out * 0.5).exp(),), (p,), saves_output=True)
    return out


def log_ndtr(input):
    """log(ndtr(x)), accurate far in the left tail; its derivative is exp(-x^2 / 2 - log_ndtr(x)) / sqrt(2 pi)."""
    x = _float_input(input, "special.log_ndtr")
    out = record(_in_dtype_of(_sp.log_ndtr(x._data), x), "SpecialLogNdtrBackward0",
                 lambda g: (g * (-(x * x) * 0.5 - out).exp() / _SQRT_2PI,), (x,), saved=(x,), saves_output=True)
    return out


# ---- logs of products and entropy ------------------------------------------------------------------------------------
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


def entr(input):
    """The elementwise entropy -x log(x): 0 at x = 0, -inf for x < 0; its derivative is -(1 + log x)."""
    x = _float_input(input, "special.entr")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(x._data > 0, -_sp.xlogy(x._data, x._data), np.where(x._data == 0, 0.0, -np.inf))
    return record(_in_dtype_of(np.where(np.isnan(x._data), np.nan, out), x), "SpecialEntrBackward0",
                  lambda g: (-g * (x.log() + 1),), (x,), saved=(x,))


# ---- modified Bessel functions of the first kind ---------------------------------------------------------------------
def i0(input):
    """I0(x); its derivative is I1(x)."""
    x = _float_input(input, "special.i0")
    return record(_in_dtype_of(_sp.i0(x._data), x), "I0Backward0", lambda g: (g * i1(x),), (x,), saved=(x,))


def i1(input):
    """I1(x); its derivative is I0(x) - I1(x) / x (1/2 at x = 0)."""
    x = _float_input(input, "special.i1")

    def backward(g):
        at_zero = x == 0
        safe = where(at_zero, 1.0, x)  # keeps 0 / 0 out of the formula and of its derivatives
        return (g * where(at_zero, 0.5, i0(x) - i1(safe) / safe),)
    return record(_in_dtype_of(_sp.i1(x._data), x), "SpecialI1Backward0", backward, (x,), saved=(x,))


def i0e(input):
    """exp(-|x|) I0(x), which stays finite for large |x|; its derivative is i1e(x) - sign(x) i0e(x)."""
    x = _float_input(input, "special.i0e")
    out = record(_in_dtype_of(_sp.i0e(x._data), x), "SpecialI0EBackward0",
                 lambda g: (g * (i1e(x) - x.sign() * out),), (x,), saved=(x,), saves_output=True)
    return out


def i1e(input):
    """exp(-|x|) I1(x); its derivative is i0e(x) - i1e(x) (sign(x) + 1 / x) (1/2 at x = 0)."""
    x = _float_input(input, "special.i1e")

    def backward(g):
        at_zero = x == 0
        safe = where(at_zero, 1.0, x)
        return (g * where(at_zero, 0.5, i0e(safe) - i1e(safe) * (safe.sign() + 1 / safe)),)
    return record(_in_dtype_of(_sp.i1e(x._data), x), "SpecialI1EBackward0", backward, (x,), saved=(x,))


# ---- the scaled complementary error function and the multivariate log-gamma ------------------------------------------
def erfcx(input):
    """exp(x^2) erfc(x), accurate where erfc(x) underflows; its derivative is 2 x erfcx(x) - 2 / sqrt(pi)."""
    x = _float_input(input, "special.erfcx")
    out = record(_in_dtype_of(_sp.erfcx(x._data), x), "SpecialErfcxBackward0",
                 lambda g: (g * (2 * x * out - 2 / math.sqrt(math.pi)),), (x,), saved=(x,), saves_output=True)
    return out


def multigammaln(input, p):
    """The log of the multivariate gamma function of dimension p:
    p (p - 1) / 4 log(pi) + sum_{j < p} lgamma(a - j / 2); its derivative is sum_{j < p} digamma(a - j / 2)."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    a = _float_input(input, "special.multigammaln")
    halves = np.arange(p) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        out = p * (p - 1) / 4 * math.log(math.pi) + _sp.gammaln(a._data[..., None] - halves).sum(-1)

    def backward(g):
        shifted = a.unsqueeze(-1) - Tensor._wrap(halves.astype(a._data.dtype))
        return (g * digamma(shifted).sum(-1),)
    return record(_in_dtype_of(out, a), "MvlgammaBackward0", backward, (a,), saved=(a,))
