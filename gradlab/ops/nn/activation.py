"""Activations with fused backwards: each records one node whose backward is the derivative in closed form.

Backwards are written with Tensor ops, so that ``create_graph=True`` can
differentiate them again.  Softmax and log-softmax over the last axis (and
attention's masked softmax) run on the kernels of ``gradlab.kernels``
(softmax.py, the readable twin; gradlab_ext/softmax.pyx), forward and the
array-only fast backward (``fast=``).
"""
import math

import numpy as np

from ... import kernels, random
from ..._tensor import Tensor
from ...autograd.record import record
from ..compare import where
from ..unary import sigmoid
from .._common import normalize_dim
from ..registry import op
from ..join_split import cat
from ..shape import narrow
from ._common import _check_float, _float_array, _keep_output, _mask


def _inplace_backward_check(inplace, slope, op):
    """In place, the input is gone and backward reads the output: a negative slope makes that ambiguous."""
    if inplace and slope < 0:
        raise RuntimeError(f"In-place {op} backward calculation is triggered with a negative slope which is not "
                           "supported. This is caused by calling in-place forward function with a negative slope, "
                           "please call out-of-place version instead.")


@op(method=False, function=False, nn=True)
def leaky_relu(x, negative_slope=0.01, inplace=False):
    """x where x > 0, else negative_slope * x.  ``inplace`` only names the node as PyTorch's in-place op."""
    positive = x._data > 0
    out = np.where(positive, x._data, x._data * negative_slope)
    slope = Tensor._wrap(np.where(positive, 1.0, negative_slope).astype(x._data.dtype))

    def backward(g):
        _inplace_backward_check(inplace, negative_slope, "leakyReLu")
        return (g * slope,)
    return record(out, "LeakyReluBackward1" if inplace else "LeakyReluBackward0", backward, (x,))


@op(method=False, function=False, nn=True)
def elu(x, alpha=1.0, inplace=False):
    """x where x > 0, else alpha * (e^x - 1).  ``inplace`` only names the node as PyTorch's in-place op."""
    _check_float(x, "elu")
    positive = x._data > 0
    out = np.where(positive, x._data, alpha * np.expm1(np.minimum(x._data, 0)))
    keep = Tensor._wrap(positive)

    def backward(g):
        _inplace_backward_check(inplace, alpha, "elu")
        # below zero d/dx alpha*(e^x - 1) = alpha*e^x = out + alpha
        return (where(keep, g, g * (result + alpha)),)
    result = _keep_output(record(out, "EluBackward1" if inplace else "EluBackward0", backward, (x,)))
    return result


@op(method=False, function=False, nn="hardtanh relu6")
def hardtanh(x, min_val=-1.0, max_val=1.0):
    """x clipped to [min_val, max_val]; the gradient is 0 at and beyond the bounds (unlike clamp's, 1 at them)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val (got min_val={min_val}, "
                         f"max_val={max_val})")
    xd = x._data
    out = np.minimum(np.maximum(xd, min_val), max_val).astype(xd.dtype, copy=False)
    # written as PyTorch's test, so that a NaN input passes its gradient through
    inside = Tensor._wrap((~((xd <= min_val) | (xd >= max_val))).astype(xd.dtype))
    return record(out, "HardtanhBackward0", lambda g: (g * inside,), (x,))


@op(method=False, function=False, nn=True)
def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + e^(beta x)) / beta, and x itself where beta * x > threshold (as PyTorch)."""
    _check_float(x, "softplus")
    scaled = x._data * beta
    linear = scaled > threshold
    # log(1 + e^s) = log1p(e^-|s|) + max(s, 0): never overflows
    soft = (np.log1p(np.exp(-np.abs(scaled))) + np.maximum(scaled, 0)) / beta
    out = np.where(linear, x._data, soft).astype(x._data.dtype, copy=False)
    passthrough = Tensor._wrap(linear)

    def backward(g):
        # d/dx log(1 + e^(beta x)) / beta = sigmoid(beta x); 1 on the linear part
        return (where(passthrough, g, g * sigmoid(x * beta)),)
    return record(out, "SoftplusBackward0", backward, (x,), saved=(x,))


@op(method=False, function=False, nn=True)
def silu(x):
    _check_float(x, "silu")
    sig = 0.5 + 0.5 * np.tanh(0.5 * x._data)

    def backward(g):
        s = sigmoid(x)
        return (g * (s * (1 + x * (1 - s))),)
    return record(x._data * sig, "SiluBackward0", backward, (x,), saved=(x,))


def _normal_cdf(x):
    """Phi(x), the standard normal CDF; its derivative phi(x) is written with Tensor ops."""
    from scipy.special import ndtr

    def backward(g):
        return (g * (x * x * -0.5).exp() * (1 / math.sqrt(2 * math.pi)),)
    return record(ndtr(x._data).astype(x._data.dtype, copy=False), "NdtrBackward0", backward, (x,), saved=(x,))


_TANH_K = math.sqrt(2 / math.pi)  # constants of GELU's tanh approximation
_TANH_A = 0.044715


@op(method=False, function=False, nn=True)
def gelu(x, approximate="none"):
    """x * Phi(x) (exact) or the tanh approximation, as ``F.gelu``."""
    _check_float(x, "gelu")
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate argument must be either none or tanh, got {approximate!r}")
    if approximate == "none":
        from scipy.special import ndtr
        out = x._data * ndtr(x._data).astype(x._data.dtype, copy=False)

        def backward(g):
            # d/dx x*Phi(x) = Phi(x) + x*phi(x)
            pdf = (x * x * -0.5).exp() * (1 / math.sqrt(2 * math.pi))
            return (g * (_normal_cdf(x) + x * pdf),)
    else:
        xd = x._data
        out = 0.5 * xd * (1 + np.tanh(_TANH_K * (xd + _TANH_A * xd * xd * xd)))

        def backward(g):
            th = (_TANH_K * (x + _TANH_A * x * x * x)).tanh()
            inner = _TANH_K * (1 + 3 * _TANH_A * x * x)
            return (g * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * inner),)
    return record(out, "GeluBackward0", backward, (x,), saved=(x,))


@op(nn=True)
def softmax(x, dim, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``, with the max subtracted first so exp never overflows.

    ``dtype``: x is converted to it first.
    """
    if dtype is not None:
        x = x.to(dtype)
    _check_float(x, "softmax")
    if x._data.ndim == 0:
        return softmax(x.reshape(1), 0).reshape(())
    d = normalize_dim(dim, x._data.ndim, "softmax")
    fused = _on_kernels(x._data, d)
    if fused:
        e = kernels.softmax_forward(x._data)
    else:
        e = np.exp(x._data - x._data.max(axis=d, keepdims=True, initial=-np.inf))  # (initial: dim d may be empty)
        e /= e.sum(axis=d, keepdims=True)

    def backward(g):
        """grad_x = out * (g - sum(g * out, dim)) (out = softmax(x))"""
        # Jacobian-vector product of softmax: s * (g - <g, s>)
        return (out * (g - (g * out).sum(d, keepdim=True)),)

    def fast(g):
        return (Tensor._wrap(kernels.softmax_backward(g._data, e)),)
    out = _keep_output(record(e, "SoftmaxBackward0", backward, (x,), fast=fast if fused else None))
    return out


def _on_kernels(a, d):
    """Whether the softmax kernels take array ``a`` along axis ``d``: the last one, of float32/float64."""
    return d == a.ndim - 1 and (a.dtype == np.float32 or a.dtype == np.float64) and a.shape[d] > 0


def _log_softmax_array(a, d):
    """log(softmax(a)) along axis d, stably: (a - max) - log(sum(exp(a - max)))."""
    if _on_kernels(a, d):
        return kernels.log_softmax_forward(a)
    shifted = a - a.max(axis=d, keepdims=True, initial=-np.inf)  # (initial: axis d may be empty)
    return shifted - np.log(np.exp(shifted).sum(axis=d, keepdims=True))


@op(nn=True)
def log_softmax(x, dim, dtype=None):
    """log(softmax(x)) along ``dim``; ``dtype``: x is converted to it first."""
    if dtype is not None:
        x = x.to(dtype)
    _check_float(x, "log_softmax")
    if x._data.ndim == 0:
        return log_softmax(x.reshape(1), 0).reshape(())
    d = normalize_dim(dim, x._data.ndim, "log_softmax")

    def backward(g):
        """grad_x = g - exp(out) * sum(g, dim) (exp(out) = softmax(x))"""
        # d log_softmax: g - softmax * sum(g), with softmax = exp(out)
        return (g - out.exp() * g.sum(d, keepdim=True),)

    def fast(g):
        return (Tensor._wrap(kernels.log_softmax_backward(g._data, y)),)
    y = _log_softmax_array(x._data, d)
    out = _keep_output(record(y, "LogSoftmaxBackward0", backward, (x,),
                              fast=fast if _on_kernels(x._data, d) else None))
    return out


def attention_softmax(scores, scale, causal=False, mask=None):
    """Attention's weights from the raw scores Q K^T (..., L, S): softmax(scores * scale + mask) over the keys.

    One kernel call each way (gradlab.kernels.attention_softmax_forward).
    ``causal``: query i sees keys 0..i only; ``mask``: an additive (L, S)
    array (a constant) or None.  A query with no key left gets weights 0,
    and its gradient is 0 too.  Float32 and float64 scores.
    """
    weights = kernels.attention_softmax_forward(scores._data, scale, causal, mask)

    def backward(g):
        """grad_scores = scale * w * (g - sum(g * w, -1)) (w = the weights)"""
        return (scale * (out * (g - (g * out).sum(-1, keepdim=True))),)

    def fast(g):
        return (Tensor._wrap(kernels.attention_softmax_backward(g._data, weights, scale)),)
    out = _keep_output(record(weights, "SoftmaxBackward0", backward, (scores,), fast=fast))
    return out


def _log_sigmoid_array(a):
    """log(sigmoid(a)) = -(log1p(exp(-|a|)) + max(-a, 0)), finite for every a."""
    return -(np.log1p(np.exp(-np.abs(a))) + np.maximum(-a, 0))


@op(method=False, function=False, nn=True)
def prelu(x, weight):
    """x where x > 0, else weight * x, with one learned slope per channel (axis 1) or one for all."""
    xd = _float_array(x, "prelu")
    if weight._data.dtype != xd.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {x.dtype} (input) and {weight.dtype} (weight)")
    if weight._data.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.ndim}")
    channels = xd.shape[1] if xd.ndim >= 2 else 1
    n_weights = weight._data.size
    if n_weights != 1 and n_weights != channels:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                           f"{n_weights} and channel size = {channels}.")
    # the slopes broadcast along axis 1: (1, C, 1, ...), or a single slope everywhere
    slope_shape = (1, n_weights) + (1,) * (xd.ndim - 2) if n_weights > 1 else (1,) * xd.ndim
    positive = xd > 0
    out = np.where(positive, xd, weight._data.reshape(slope_shape) * xd)
    keep = _mask(positive)
    shared = tuple(a for a in range(xd.ndim) if not (n_weights > 1 and a == 1))  # axes one slope covers

    def backward(g):
        slopes = weight.reshape(slope_shape)
        grad_x = where(keep, g, g * slopes) if x._requires_grad else None
        grad_w = None
        if weight._requires_grad:  # d out / d slope = x where x <= 0
            below = where(keep, g * 0, g * x)
            grad_w = (below.sum(shared) if shared else below).reshape(weight._data.shape)
        return grad_x, grad_w
    return record(out, "PreluKernelBackward0", backward, (x, weight), saved=(x, weight))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@op(method=False, function=False, nn=True)
def selu(x, inplace=False):
    """scale * elu(x, alpha) with the self-normalizing constants; PyTorch names its node EluBackward."""
    xd = _float_array(x, "selu")
    positive = xd > 0
    out = _SELU_SCALE * np.where(positive, xd, _SELU_ALPHA * np.expm1(np.minimum(xd, 0)))
    keep = _mask(positive)

    def backward(g):
        # below zero d/dx scale*alpha*(e^x - 1) = scale*alpha*e^x = out + scale*alpha
        return (where(keep, g * _SELU_SCALE, g * (result + _SELU_SCALE * _SELU_ALPHA)),)
    result = _keep_output(record(out.astype(xd.dtype, copy=False), "EluBackward1" if inplace else "EluBackward0",
                                 backward, (x,)))
    return result


@op(method=False, function=False, nn=True)
def celu(x, alpha=1.0, inplace=False):
    """x where x > 0, else alpha * (e^(x / alpha) - 1): ELU with a slope continuous at 0 for every alpha."""
    xd = _float_array(x, "celu")
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    positive = xd > 0
    out = np.where(positive, xd, alpha * np.expm1(np.minimum(xd, 0) / alpha)).astype(xd.dtype, copy=False)
    keep = _mask(positive)

    def backward(g):
        # below zero d/dx alpha*(e^(x/alpha) - 1) = e^(x/alpha) = out / alpha + 1
        return (where(keep, g, g * (result / alpha + 1)),)
    result = _keep_output(record(out, "CeluBackward1" if inplace else "CeluBackward0", backward, (x,)))
    return result


@op(method=False, function=False, nn=True)
def mish(x):
    """x * tanh(softplus(x))."""
    xd = _float_array(x, "mish")
    soft = np.log1p(np.exp(-np.abs(xd))) + np.maximum(xd, 0)  # softplus, never overflowing

    def backward(g):
        t = softplus(x).tanh()
        return (g * (t + x * sigmoid(x) * (1 - t * t)),)
    return record(xd * np.tanh(soft), "MishBackward0", backward, (x,), saved=(x,))


@op(method=False, function=False, nn=True)
def hardswish(x):
    """x * relu6(x + 3) / 6: 0 below -3, x above 3, a parabola between."""
    xd = _float_array(x, "hardswish")
    out = xd * np.clip(xd + 3, 0, 6) / 6
    middle, above = _mask((xd > -3) & (xd < 3)), Tensor._wrap((xd >= 3).astype(xd.dtype))

    def backward(g):
        return (where(middle, g * (x / 3 + 0.5), g * above),)
    return record(out.astype(xd.dtype, copy=False), "HardswishBackward0", backward, (x,), saved=(x,))


@op(method=False, function=False, nn=True)
def hardsigmoid(x):
    """relu6(x + 3) / 6: a piecewise-linear sigmoid, slope 1/6 on (-3, 3)."""
    xd = _float_array(x, "hardsigmoid")
    out = (np.clip(xd + 3, 0, 6) / 6).astype(xd.dtype, copy=False)
    slope = Tensor._wrap((((xd > -3) & (xd < 3)) / 6).astype(xd.dtype))
    return record(out, "HardsigmoidBackward0", lambda g: (g * slope,), (x,))


def _check_lambd(x, lambd, op):
    if lambd < 0:
        raise RuntimeError(f"{op}: lambda must be in range [0, inf) for input dtype {x.dtype}, but found {lambd}")


@op(method=False, function=False, nn=True)
def hardshrink(x, lambd=0.5):
    """x where |x| > lambd, else 0."""
    xd = x._data
    keep = ~((xd >= -lambd) & (xd <= lambd))
    gate = Tensor._wrap(keep.astype(xd.dtype))
    return record(np.where(keep, xd, 0).astype(xd.dtype), "HardshrinkBackward0", lambda g: (g * gate,), (x,))


@op(method=False, function=False, nn=True)
def softshrink(x, lambd=0.5):
    """x shrunk towards 0 by lambd, and 0 where |x| <= lambd."""
    _check_lambd(x, lambd, "softshrink")
    xd = _float_array(x, "softshrink")
    keep = ~((xd >= -lambd) & (xd <= lambd))
    out = np.where(keep, xd - np.sign(xd) * lambd, 0).astype(xd.dtype)
    gate = Tensor._wrap(keep.astype(xd.dtype))
    return record(out, "SoftshrinkBackward0", lambda g: (g * gate,), (x,))


@op(method=False, function=False, nn=True)
def logsigmoid(x):
    """log(sigmoid(x)), finite for every x."""
    xd = _float_array(x, "log_sigmoid")
    # d/dx log sigmoid(x) = 1 - sigmoid(x) = sigmoid(-x)
    return record(_log_sigmoid_array(xd), "LogSigmoidBackward0", lambda g: (g * sigmoid(-x),), (x,),
                  saved=(x,))


@op(method=False, function=False, nn=True)
def glu(x, dim=-1):
    """a * sigmoid(b), where a and b are the two halves of x along ``dim`` (the gated linear unit)."""
    if x._data.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    _check_float(x, "glu")
    d = normalize_dim(dim, x._data.ndim, "glu")
    size = x._data.shape[d]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {size}")
    a, b = np.split(x._data, 2, axis=d)
    gate = 0.5 + 0.5 * np.tanh(0.5 * b)

    def backward(g):
        first, second = narrow(x, d, 0, size // 2), narrow(x, d, size // 2, size // 2)
        s = sigmoid(second)
        return (cat([g * s, g * first * s * (1 - s)], d),)
    return record(a * gate, "GluBackward0", backward, (x,), saved=(x,))


@op(method=False, function=False, nn=True)
def threshold(x, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    xd = x._data
    above = xd > threshold
    out = np.where(above, xd, value).astype(xd.dtype)
    gate = Tensor._wrap(above.astype(xd.dtype))
    return record(out, "ThresholdBackward1" if inplace else "ThresholdBackward0", lambda g: (g * gate,), (x,))


@op(method=False, function=False, nn=True)
def rrelu(x, lower=1 / 8, upper=1 / 3, training=False, inplace=False, generator=None):
    """Leaky ReLU with a random slope ~ U(lower, upper) for each negative element when training, else the mean."""
    xd = _float_array(x, "rrelu")
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    negative = xd <= 0  # as PyTorch: the slope applies at 0 too (where it makes no difference to the value)
    if training:
        drawn = random.generator_of(generator).uniform(lower, upper, xd.shape)
        slope = np.where(negative, drawn, 1).astype(xd.dtype)
    else:
        slope = np.where(negative, (lower + upper) / 2, 1).astype(xd.dtype)
    noise = Tensor._wrap(slope)
    name = "RreluWithNoiseBackward1" if inplace else "RreluWithNoiseBackward0"
    return record(xd * slope, name, lambda g: (g * noise,), (x,))
