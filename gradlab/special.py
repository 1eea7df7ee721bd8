"""``gradlab.special``: the ``torch.special`` namespace.

Most names are aliases of functions gradlab already has (``expit`` is
``sigmoid``, ``gammaln`` is ``lgamma``, ...).  The functions new here (the
normal distribution's ndtr / ndtri / log_ndtr, xlog1py, entr, the Bessel
functions i0 / i1 and their scaled forms i0e / i1e, erfcx and multigammaln)
compute their values with ``scipy.special`` and write their backward with
tensor ops, so that higher derivatives work.
"""
from .ops import reduce as _reduce
from .ops import special as _special
from .ops import unary as _unary
from .ops.special import (entr, erfcx, i0, i0e, i1, i1e, log_ndtr, multigammaln, ndtr, ndtri,  # noqa: F401
                          xlog1py)

__all__ = ["erf", "erfc", "erfinv", "expit", "logit", "xlogy", "xlog1py", "gammaln", "digamma", "psi", "polygamma",
           "log_softmax", "softmax", "logsumexp", "sinc", "round", "exp2", "expm1", "log1p", "entr", "i0", "i1",
           "i0e", "i1e", "erfcx", "multigammaln", "ndtr", "ndtri", "log_ndtr"]


# ---- aliases of gradlab's own functions ----------------------------------------------------------------------------
erf, erfc, erfinv, logit, xlogy, digamma, polygamma, sinc = (_special.erf, _special.erfc, _special.erfinv,
                                                             _special.logit, _special.xlogy, _special.digamma,
                                                             _special.polygamma, _special.sinc)
psi, gammaln = _special.digamma, _special.lgamma
expit, exp2, expm1, log1p = _unary.sigmoid, _unary.exp2, _unary.expm1, _unary.log1p


def round(input, *, decimals=0):
    """Round half to even (to ``decimals`` decimal places); the gradient is 0."""
    return _unary.round(input, decimals=decimals)


def logsumexp(input, dim, keepdim=False):
    return _reduce.logsumexp(input, dim, keepdim)


def softmax(input, dim, *, dtype=None):
    from .nn import functional
    return functional.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    from .nn import functional
    return functional.log_softmax(input, dim, dtype=dtype)


# PyTorch's keyword names and the NumPy ones it takes (input=, x=, axis=, keepdims=): ops/registry.py
from .ops.registry import take_keyword_names as _take_keyword_names  # noqa: E402

_take_keyword_names(globals(), __all__)
