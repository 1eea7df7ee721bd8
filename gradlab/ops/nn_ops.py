"""Neural-network ops with fused backwards: linear, activations, softmax, losses,
batch norm, dropout, embedding, padding.

Each op computes its forward on NumPy arrays in a few calls and records one
graph node whose backward is the op's derivative in closed form (for example
``softmax - onehot`` for cross-entropy), instead of the chain of nodes that
composing elementwise ops would record.

Backwards are written with Tensor ops wherever that is cheap, so that
``create_graph=True`` can differentiate them again.  Where the closed form is
best computed on arrays (cross-entropy, batch norm), the backward checks
``grad_mode.state.enabled``: it is off during an ordinary backward (the fast
array path) and on only under ``create_graph=True`` (the Tensor-op path).
"""
import math

import numpy as np

from .. import random
from .._tensor import Tensor
from ..autograd import grad_mode
from ..autograd.function import record
from . import elementwise
from ._common import normalize_dim, promote, sum_to
from .linalg import _product
from .shape import cat, narrow

_REDUCTIONS = ("none", "mean", "sum")


def _keep_output(out):
    """Mark ``out`` as a value its own backward reads (version-checked like any saved input)."""
    if out.grad_fn is not None:
        out.grad_fn.saved = ((out, out._version_counter[0]),)
    return out


def _check_float(x, op):
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating-point input, got {x.dtype}")


# ---- linear -----------------------------------------------------------------------------------
def linear(x, weight, bias=None):
    """y = x @ W^T + b in one node (W is out_features x in_features, as nn.Linear stores it)."""
    if x._data.ndim == 0 or x._data.shape[-1] != weight._data.shape[-1]:
        rows = int(np.prod(x._data.shape[:-1])) if x._data.ndim else 1
        cols = x._data.shape[-1] if x._data.ndim else 1
        raise RuntimeError(f"linear: mat1 and mat2 shapes cannot be multiplied ({rows}x{cols} and "
                           f"{weight._data.shape[-1]}x{weight._data.shape[0]}): input {tuple(x.shape)}, "
                           f"weight {tuple(weight.shape)}")
    if x._data.dtype != weight._data.dtype:
        raise RuntimeError(f"linear: mat1 and mat2 must have the same dtype, but got {x.dtype} (input) and "
                           f"{weight.dtype} (weight)")
    n_out, n_in = weight._data.shape
    # leading dims flattened into rows: one 2-D product on the matmul kernel, whatever the input's rank
    rows = x._data if x._data.ndim == 2 else x._data.reshape(-1, n_in)
    out = _product(rows, weight._data.T)
    if x._data.ndim != 2:
        out = out.reshape(x._data.shape[:-1] + (n_out,))
    if bias is not None:
        out += bias._data

    def backward(g):
        g2 = g if g._data.ndim == 2 else g.reshape(-1, n_out)
        gx = None
        if x._requires_grad:
            gx = g2 @ weight if x._data.ndim == 2 else (g2 @ weight).reshape(x.shape)
        gw = g2.t() @ x.reshape(-1, n_in) if weight._requires_grad else None
        gb = g2.sum(0) if bias is not None and bias._requires_grad else None
        return (gx, gw) if bias is None else (gb, gx, gw)
    if bias is None:
        return record(out, "MmBackward0", backward, (x, weight), saved=(x, weight))
    # inputs in addmm's order (bias, x, weight), so next_functions read as PyTorch's
    return record(out, "AddmmBackward0", backward, (bias, x, weight), saved=(x, weight))


# ---- activations ------------------------------------------------------------------------------
relu = elementwise.relu


def _inplace_backward_check(inplace, slope, op):
    """In place, the input is gone and backward reads the output: a negative slope makes that ambiguous."""
    if inplace and slope < 0:
        raise RuntimeError(f"In-place {op} backward calculation is triggered with a negative slope which is not "
                           "supported. This is caused by calling in-place forward function with a negative slope, "
                           "please call out-of-place version instead.")


def leaky_relu(x, negative_slope=0.01, inplace=False):
    """x where x > 0, else negative_slope * x.  ``inplace`` only names the node as PyTorch's in-place op."""
    positive = x._data > 0
    out = np.where(positive, x._data, x._data * negative_slope)
    slope = Tensor._wrap(np.where(positive, 1.0, negative_slope).astype(x._data.dtype))

    def backward(g):
        _inplace_backward_check(inplace, negative_slope, "leakyReLu")
        return (g * slope,)
    return record(out, "LeakyReluBackward1" if inplace else "LeakyReluBackward0", backward, (x,))


def elu(x, alpha=1.0, inplace=False):
    """x where x > 0, else alpha * (e^x - 1).  ``inplace`` only names the node as PyTorch's in-place op."""
    _check_float(x, "elu")
    positive = x._data > 0
    out = np.where(positive, x._data, alpha * np.expm1(np.minimum(x._data, 0)))
    keep = Tensor._wrap(positive)

    def backward(g):
        _inplace_backward_check(inplace, alpha, "elu")
        # below zero d/dx alpha*(e^x - 1) = alpha*e^x = out + alpha
        return (elementwise.where(keep, g, g * (result + alpha)),)
    result = _keep_output(record(out, "EluBackward1" if inplace else "EluBackward0", backward, (x,)))
    return result


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
        return (elementwise.where(passthrough, g, g * elementwise.sigmoid(x * beta)),)
    return record(out, "SoftplusBackward0", backward, (x,), saved=(x,))


def silu(x):
    _check_float(x, "silu")
    sig = 0.5 + 0.5 * np.tanh(0.5 * x._data)

    def backward(g):
        s = elementwise.sigmoid(x)
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


def softmax(x, dim):
    """exp(x) / sum(exp(x)) along ``dim``, with the max subtracted first so exp never overflows."""
    _check_float(x, "softmax")
    if x._data.ndim == 0:
        return softmax(x.reshape(1), 0).reshape(())
    d = normalize_dim(dim, x._data.ndim, "softmax")
    e = np.exp(x._data - x._data.max(axis=d, keepdims=True, initial=-np.inf))  # (initial: dim d may be empty)
    e /= e.sum(axis=d, keepdims=True)

    def backward(g):
        # Jacobian-vector product of softmax: s * (g - <g, s>)
        return (out * (g - (g * out).sum(d, keepdim=True)),)
    out = _keep_output(record(e, "SoftmaxBackward0", backward, (x,)))
    return out


def _log_softmax_array(a, d):
    """log(softmax(a)) along axis d, stably: (a - max) - log(sum(exp(a - max)))."""
    shifted = a - a.max(axis=d, keepdims=True, initial=-np.inf)  # (initial: axis d may be empty)
    return shifted - np.log(np.exp(shifted).sum(axis=d, keepdims=True))


def log_softmax(x, dim):
    _check_float(x, "log_softmax")
    if x._data.ndim == 0:
        return log_softmax(x.reshape(1), 0).reshape(())
    d = normalize_dim(dim, x._data.ndim, "log_softmax")

    def backward(g):
        # d log_softmax: g - softmax * sum(g), with softmax = exp(out)
        return (g - out.exp() * g.sum(d, keepdim=True),)
    out = _keep_output(record(_log_softmax_array(x._data, d), "LogSoftmaxBackward0", backward, (x,)))
    return out


# ---- more activations -------------------------------------------------------------------------
def _float_array(x, op):
    _check_float(x, op)
    return x._data


def _mask(condition):
    """A boolean array as a constant Tensor (backward multiplies or selects by it)."""
    return Tensor._wrap(condition)


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
        grad_x = elementwise.where(keep, g, g * slopes) if x._requires_grad else None
        grad_w = None
        if weight._requires_grad:  # d out / d slope = x where x <= 0
            below = elementwise.where(keep, g * 0, g * x)
            grad_w = (below.sum(shared) if shared else below).reshape(weight._data.shape)
        return grad_x, grad_w
    return record(out, "PreluKernelBackward0", backward, (x, weight), saved=(x, weight))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x, inplace=False):
    """scale * elu(x, alpha) with the self-normalizing constants; PyTorch names its node EluBackward."""
    xd = _float_array(x, "selu")
    positive = xd > 0
    out = _SELU_SCALE * np.where(positive, xd, _SELU_ALPHA * np.expm1(np.minimum(xd, 0)))
    keep = _mask(positive)

    def backward(g):
        # below zero d/dx scale*alpha*(e^x - 1) = scale*alpha*e^x = out + scale*alpha
        return (elementwise.where(keep, g * _SELU_SCALE, g * (result + _SELU_SCALE * _SELU_ALPHA)),)
    result = _keep_output(record(out.astype(xd.dtype, copy=False), "EluBackward1" if inplace else "EluBackward0",
                                 backward, (x,)))
    return result


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
        return (elementwise.where(keep, g, g * (result / alpha + 1)),)
    result = _keep_output(record(out, "CeluBackward1" if inplace else "CeluBackward0", backward, (x,)))
    return result


def mish(x):
    """x * tanh(softplus(x))."""
    xd = _float_array(x, "mish")
    soft = np.log1p(np.exp(-np.abs(xd))) + np.maximum(xd, 0)  # softplus, never overflowing

    def backward(g):
        t = softplus(x).tanh()
        return (g * (t + x * elementwise.sigmoid(x) * (1 - t * t)),)
    return record(xd * np.tanh(soft), "MishBackward0", backward, (x,), saved=(x,))


def hardswish(x):
    """x * relu6(x + 3) / 6: 0 below -3, x above 3, a parabola between."""
    xd = _float_array(x, "hardswish")
    out = xd * np.clip(xd + 3, 0, 6) / 6
    middle, above = _mask((xd > -3) & (xd < 3)), Tensor._wrap((xd >= 3).astype(xd.dtype))

    def backward(g):
        return (elementwise.where(middle, g * (x / 3 + 0.5), g * above),)
    return record(out.astype(xd.dtype, copy=False), "HardswishBackward0", backward, (x,), saved=(x,))


def hardsigmoid(x):
    """relu6(x + 3) / 6: a piecewise-linear sigmoid, slope 1/6 on (-3, 3)."""
    xd = _float_array(x, "hardsigmoid")
    out = (np.clip(xd + 3, 0, 6) / 6).astype(xd.dtype, copy=False)
    slope = Tensor._wrap((((xd > -3) & (xd < 3)) / 6).astype(xd.dtype))
    return record(out, "HardsigmoidBackward0", lambda g: (g * slope,), (x,))


def _check_lambd(x, lambd, op):
    if lambd < 0:
        raise RuntimeError(f"{op}: lambda must be in range [0, inf) for input dtype {x.dtype}, but found {lambd}")


def hardshrink(x, lambd=0.5):
    """x where |x| > lambd, else 0."""
    xd = x._data
    keep = ~((xd >= -lambd) & (xd <= lambd))
    gate = Tensor._wrap(keep.astype(xd.dtype))
    return record(np.where(keep, xd, 0).astype(xd.dtype), "HardshrinkBackward0", lambda g: (g * gate,), (x,))


def softshrink(x, lambd=0.5):
    """x shrunk towards 0 by lambd, and 0 where |x| <= lambd."""
    _check_lambd(x, lambd, "softshrink")
    xd = _float_array(x, "softshrink")
    keep = ~((xd >= -lambd) & (xd <= lambd))
    out = np.where(keep, xd - np.sign(xd) * lambd, 0).astype(xd.dtype)
    gate = Tensor._wrap(keep.astype(xd.dtype))
    return record(out, "SoftshrinkBackward0", lambda g: (g * gate,), (x,))


def logsigmoid(x):
    """log(sigmoid(x)), finite for every x."""
    xd = _float_array(x, "log_sigmoid")
    # d/dx log sigmoid(x) = 1 - sigmoid(x) = sigmoid(-x)
    return record(_log_sigmoid_array(xd), "LogSigmoidBackward0", lambda g: (g * elementwise.sigmoid(-x),), (x,),
                  saved=(x,))


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
        s = elementwise.sigmoid(second)
        return (cat([g * s, g * first * s * (1 - s)], d),)
    return record(a * gate, "GluBackward0", backward, (x,), saved=(x,))


def threshold(x, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    xd = x._data
    above = xd > threshold
    out = np.where(above, xd, value).astype(xd.dtype)
    gate = Tensor._wrap(above.astype(xd.dtype))
    return record(out, "ThresholdBackward1" if inplace else "ThresholdBackward0", lambda g: (g * gate,), (x,))


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


# ---- losses -----------------------------------------------------------------------------------
def _check_reduction(reduction, op):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction (expected 'none', 'mean' "
                         f"or 'sum')")


def _reduce(losses, reduction, denominator=None):
    """Reduce per-element losses (an array) as ``reduction`` says."""
    if reduction == "none":
        return losses
    total = losses.sum(dtype=losses.dtype)
    if reduction == "sum":
        return total
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / (losses.size if denominator is None else denominator)


def _grad_scale(g, reduction, denominator, class_axis=None):
    """The factor each element's loss gradient is multiplied by: g, g / count, or g per element."""
    if reduction == "mean":
        return g / denominator
    if reduction == "none" and class_axis is not None:
        return g.unsqueeze(class_axis)  # broadcast a per-sample gradient over the classes
    return g


def _grad_scale_array(g, reduction, denominator):
    """_grad_scale on arrays, for a class axis 1 (the array path of cross_entropy's backward)."""
    if reduction == "mean":
        return g / denominator
    return np.expand_dims(g, 1) if reduction == "none" else g


def _class_weight_shape(x):
    """(1, C, 1, ...): the class weights broadcast against an (N, C, d1, ...) input."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _class_targets(x, target, weight, ignore_index, op):
    """Class-index targets t (N, d1, ...) of an input x (N, C, d1, ...), checked, as three arrays.

    ``at``     the index of each sample's target entry: x[at] is x[i, t_i, d...]
               (an ignored target points at class 0)
    ``coef``   each sample's weight, weight[t_i], and 0 where t_i is ignored;
               None when every sample weighs 1
    ``valid``  False where t_i == ignore_index; None when nothing is ignored
    """
    t = target._data
    if t.dtype != np.int64:
        raise RuntimeError(f"{op}: expected target of dtype int64 (class indices) or a floating dtype "
                           f"(class probabilities), got {target.dtype}")
    expected = x._data.shape[:1] + x._data.shape[2:]
    if t.shape != expected:
        raise ValueError(f"{op}: expected target of shape {expected} for input of shape {tuple(x.shape)}, "
                         f"got target of shape {tuple(target.shape)}")
    n_classes = x._data.shape[1]
    valid = None
    if ignore_index is not None and (t == ignore_index).any():
        valid = t != ignore_index
        t = np.where(valid, t, 0)
    if t.size and (t.min() < 0 or t.max() >= n_classes):
        bad = t.max() if t.max() >= n_classes else t.min()
        raise IndexError(f"{op}: Target {bad} is out of bounds (expected class indices in [0, {n_classes}))")
    grid = np.indices(t.shape, sparse=True)
    at = (grid[0], t) + tuple(grid[1:])
    coef = None if weight is None else weight._data[t]
    if valid is not None:
        coef = valid.astype(x._data.dtype) if coef is None else coef * valid
    return at, coef, valid


def nll_loss(x, target, weight=None, ignore_index=-100, reduction="mean"):
    """-weight[t] * x[t] for log-probabilities x (N, C, d...) and class indices t (N, d...)."""
    _check_reduction(reduction, "nll_loss")
    if x._data.ndim == 1:  # unbatched: input (C,), target ()
        out = nll_loss(x.unsqueeze(0), target.reshape(1), weight, ignore_index, reduction)
        return out.reshape(()) if reduction == "none" else out
    if x._data.ndim < 1:
        raise ValueError(f"nll_loss: expected input with 1 or more dimensions, got shape {tuple(x.shape)}")
    at, coef, valid = _class_targets(x, target, weight, ignore_index, "nll_loss")
    picked = x._data[at]
    losses = -picked if coef is None else -coef * picked
    denominator = losses.size if coef is None else coef.sum()
    out = _reduce(losses, reduction, denominator)

    def backward(g):
        # d loss / d x is -weight[t] at the target entry, 0 elsewhere: a constant times g
        slope = np.zeros(x._data.shape, dtype=x._data.dtype)
        slope[at] = -1 if coef is None else -coef
        grad = Tensor._wrap(slope) * _grad_scale(g, reduction, denominator, 1)
        if reduction == "mean" and denominator == 0:  # g / 0 reaches only the picked entries, as PyTorch's kernel
            picked = np.zeros(x._data.shape, dtype=bool)
            picked[at] = True if valid is None else valid
            grad = elementwise.where(Tensor._wrap(picked), grad, 0.0)
        return (grad,)
    return record(out, _nll_node(x), backward, (x,))


def _ignored_rows(x, valid):
    """True over the classes of each ignored sample: a mask of x's shape (N, C, d...) from valid (N, d...).

    When every target is ignored the mean's denominator is 0; PyTorch's kernels skip the ignored samples, so
    their gradient is 0, not 0 * (g / 0) = nan."""
    return np.broadcast_to(~np.expand_dims(valid, 1), x._data.shape)


def _nll_node(x):
    """PyTorch's node name: NllLoss2d for an image of class scores (N, C, H, W), else NllLoss."""
    return "NllLoss2DBackward0" if x._data.ndim == 4 else "NllLossBackward0"


def cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """log_softmax + nll_loss in one node, with optional label smoothing or probability targets.

    Every variant is  loss_i = -sum_c q_ic * log p_ic  for some target weights q,
    so the gradient with respect to the logits is always  p_i * sum_c q_ic - q_i
    (``softmax - onehot`` in the plain case).
    """
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    _check_float(x, "cross_entropy")
    if x._data.ndim == 1:  # unbatched: input (C,), target () or (C,)
        out = cross_entropy(x.unsqueeze(0), target.unsqueeze(0), weight, ignore_index, reduction,
                            label_smoothing)
        return out.reshape(()) if reduction == "none" else out
    if x._data.ndim == 0:
        raise ValueError("cross_entropy: expected input of shape (C,), (N, C) or (N, C, d1, ...), got a scalar")
    n_classes = x._data.shape[1]
    eps = float(label_smoothing)
    w = None if weight is None else weight._data.reshape(_class_weight_shape(x._data))
    logp = _log_softmax_array(x._data, 1)
    probabilities = target._data.dtype.kind == "f"
    at = coef = valid = None
    if probabilities:
        q, losses = _probability_target_losses(x, target, logp, w, eps)
        denominator = losses.size
    else:
        at, coef, valid = _class_targets(x, target, weight, ignore_index, "cross_entropy")
        losses = _class_target_losses(logp, at, coef, valid, w, eps)
        denominator = losses.size if coef is None else coef.sum()
    out = _reduce(losses, reduction, denominator)

    def target_weights():
        """The dense q of the docstring (N, C, d...) for class-index targets."""
        dense = np.zeros(x._data.shape, dtype=x._data.dtype)
        dense[at] = (1 - eps) * (1 if coef is None else coef)
        if eps:
            spread = (eps / n_classes) * (w if w is not None else 1)
            dense += spread if valid is None else spread * np.expand_dims(valid, 1)
        return dense

    # one-hot targets with unit weights: sum_c q_ic = 1 and the gradient is softmax - onehot
    plain = not probabilities and not eps and coef is None

    def backward(g):
        all_ignored = valid is not None and reduction == "mean" and denominator == 0
        if grad_mode.state.enabled:  # create_graph: the same formula in differentiable Tensor ops
            grad_x, grad_t = _cross_entropy_grads_differentiable(
                x, target, w, eps, q if probabilities else target_weights(),
                _grad_scale(g, reduction, denominator, 1), probabilities)
            if all_ignored and grad_x is not None:
                grad_x = elementwise.where(Tensor._wrap(_ignored_rows(x, valid)), 0.0, grad_x)
            return grad_x, grad_t
        scale = _grad_scale_array(g._data, reduction, denominator)
        grad_x = np.exp(logp)  # the softmax
        if plain:
            grad_x[at] -= 1
        else:
            qd = q if probabilities else target_weights()
            grad_x = grad_x * qd.sum(axis=1, keepdims=True) - qd
        grad_x *= scale
        if all_ignored:
            grad_x[_ignored_rows(x, valid)] = 0
        grad_t = None
        if probabilities and target._requires_grad:
            grad_t = Tensor._wrap(-(1 - eps) * (logp if w is None else logp * w) * scale)
        return Tensor._wrap(grad_x) if x._requires_grad else None, grad_t
    return record(out, _nll_node(x), backward, (x, target))


def _probability_target_losses(x, target, logp, w, eps):
    """(q, -sum_c q_c log p_c) for class-probability targets, q being the smoothed and weighted target."""
    if target._data.shape != x._data.shape:
        raise ValueError(f"cross_entropy: class-probability targets must have the input's shape "
                         f"{tuple(x.shape)}, got {tuple(target.shape)}")
    q = target._data * (1 - eps) + eps / x._data.shape[1] if eps else target._data
    q = q * w if w is not None else q
    return q, -(q * logp).sum(axis=1)


def _class_target_losses(logp, at, coef, valid, w, eps):
    """-weight[t] log p_t per sample (0 where t is ignored), mixed with the mean over the classes when smoothing."""
    losses = -logp[at] if coef is None else -coef * logp[at]
    if eps:
        smooth = -(logp * w).sum(axis=1) if w is not None else -logp.sum(axis=1)
        losses = (1 - eps) * losses + (eps / logp.shape[1]) * (smooth if valid is None else smooth * valid)
    return losses


def _cross_entropy_grads_differentiable(x, target, w, eps, q, scale, probabilities):
    """Gradients of cross_entropy as Tensor ops on x (and a probability target), for create_graph."""
    w_t = None if w is None else Tensor._wrap(w)
    if probabilities and target._requires_grad:
        q = target * (1 - eps) + eps / x.shape[1]
        q = q * w_t if w_t is not None else q
    else:
        q = Tensor._wrap(np.asarray(q))
    grad_x = (softmax(x, 1) * q.sum(1, keepdim=True) - q) * scale if x._requires_grad else None
    grad_t = None
    if probabilities and target._requires_grad:
        logp = log_softmax(x, 1)
        grad_t = -(1 - eps) * (logp if w_t is None else logp * w_t) * scale
    return grad_x, grad_t


def _check_same_shape(x, target, op):
    if x._data.shape != target._data.shape:
        raise ValueError(f"{op}: Using a target size ({tuple(target.shape)}) that is different to the input size "
                         f"({tuple(x.shape)}) is deprecated. Please ensure they have the same size.")


def mse_loss(x, target, reduction="mean"):
    _check_reduction(reduction, "mse_loss")
    x, target = promote(x, target)  # PyTorch's result dtype: a float32 input with an int64 target stays float32
    diff = elementwise._broadcasting("mse_loss", np.subtract, x, target)
    losses = diff * diff
    out = _reduce(losses, reduction)
    count = losses.size
    shape_x, shape_t = x._data.shape, target._data.shape

    def backward(g):
        grad = 2 * (x - target) * _grad_scale(g, reduction, count)
        return (sum_to(grad, shape_x) if x._requires_grad else None,
                sum_to(-grad, shape_t) if target._requires_grad else None)
    return record(out, "MseLossBackward0", backward, (x, target), saved=(x, target))


def l1_loss(x, target, reduction="mean"):
    _check_reduction(reduction, "l1_loss")
    x, target = promote(x, target)  # PyTorch's result dtype: a float32 input with an int64 target stays float32
    diff = elementwise._broadcasting("l1_loss", np.subtract, x, target)
    out = _reduce(np.abs(diff), reduction)
    count = diff.size
    shape_x, shape_t = x._data.shape, target._data.shape
    sign = Tensor._wrap(np.sign(diff))

    def backward(g):
        grad = sign * _grad_scale(g, reduction, count)
        return (sum_to(grad, shape_x) if x._requires_grad else None,
                sum_to(-grad, shape_t) if target._requires_grad else None)
    return record(out, "L1LossBackward0", backward, (x, target))


def binary_cross_entropy(x, target, weight=None, reduction="mean"):
    """-w * (t log x + (1 - t) log(1 - x)), each log clamped at -100 as PyTorch."""
    _check_reduction(reduction, "binary_cross_entropy")
    _check_same_shape(x, target, "binary_cross_entropy")
    p = x._data
    if p.size and ((p < 0).any() or (p > 1).any()):
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1")
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), -100)
        log_1mp = np.maximum(np.log1p(-p), -100)
    t = target._data
    losses = -(t * log_p + (1 - t) * log_1mp)
    if weight is not None:
        losses = losses * weight._data
    out = _reduce(losses, reduction)
    count = losses.size

    def backward(g):
        scale = _grad_scale(g, reduction, count)
        if weight is not None:
            scale = scale * weight
        grad_x = grad_t = None
        if x._requires_grad:
            grad_x = (x - target) / (x * (1 - x)).clamp(min=1e-12) * scale
        if target._requires_grad:  # Tensor ops in x too, for the mixed second derivative (unclamped, as PyTorch)
            with np.errstate(divide="ignore"):
                grad_t = ((-x).log1p() - x.log()) * scale
        return grad_x, grad_t
    return record(out, "BinaryCrossEntropyBackward0", backward, (x, target), saved=(x, target))


def _log_sigmoid_array(a):
    """log(sigmoid(a)) = -(log1p(exp(-|a|)) + max(-a, 0)), finite for every a."""
    return -(np.log1p(np.exp(-np.abs(a))) + np.maximum(-a, 0))


def binary_cross_entropy_with_logits(x, target, weight=None, reduction="mean", pos_weight=None):
    """sigmoid + binary cross-entropy in one stable node.

    loss = -[pw * t * log s(x) + (1 - t) * log(1 - s(x))], and log(1 - s(x)) = log s(x) - x.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    _check_same_shape(x, target, "binary_cross_entropy_with_logits")
    xd, t = x._data, target._data
    log_sig = _log_sigmoid_array(xd)
    if pos_weight is None:
        losses = (1 - t) * xd - log_sig
    else:
        losses = (1 - t) * xd - (1 + (pos_weight._data - 1) * t) * log_sig
    if weight is not None:
        losses = losses * weight._data
    out = _reduce(losses, reduction)
    count = losses.size

    def backward(g):
        scale = _grad_scale(g, reduction, count)
        if weight is not None:
            scale = scale * weight
        grad_x = grad_t = None
        if x._requires_grad:
            s = elementwise.sigmoid(x)
            if pos_weight is None:
                grad_x = (s - target) * scale
            else:
                pw_t = pos_weight * target
                grad_x = (s * (pw_t + 1 - target) - pw_t) * scale
        if target._requires_grad:
            if pos_weight is None:
                grad_t = -x * scale
            else:
                log_sig_x = -((-x.abs()).exp().log1p() + (-x).relu())  # log sigmoid(x), differentiable
                grad_t = (-x + (1 - pos_weight) * log_sig_x) * scale
        return sum_to(grad_x, x._data.shape) if grad_x is not None else None, \
            sum_to(grad_t, t.shape) if grad_t is not None else None
    return record(out, "BinaryCrossEntropyWithLogitsBackward0", backward, (x, target), saved=(x, target))


def _pointwise_loss(x, target, losses, reduction, slope, name):
    """Record an elementwise loss of x - target whose derivative in x is ``slope(diff)`` (a Tensor function).

    The derivative in target is minus that; both are summed back to their shapes when they broadcast.
    """
    out = _reduce(losses, reduction)
    count = losses.size
    shape_x, shape_t = x._data.shape, target._data.shape

    def backward(g):
        grad = slope(x - target) * _grad_scale(g, reduction, count)
        return (sum_to(grad, shape_x) if x._requires_grad else None,
                sum_to(-grad, shape_t) if target._requires_grad else None)
    return record(out, name, backward, (x, target), saved=(x, target))


def smooth_l1_loss(x, target, reduction="mean", beta=1.0):
    """0.5 * d^2 / beta where |d| < beta, else |d| - 0.5 * beta, for d = x - target (L1 when beta is 0)."""
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    x, target = promote(x, target)
    d = elementwise._broadcasting("smooth_l1_loss", np.subtract, x, target)
    ad = np.abs(d)
    losses = np.where(ad < beta, 0.5 * d * d / (beta or 1), ad - 0.5 * beta).astype(d.dtype, copy=False)

    def slope(diff):  # d/beta inside the quadratic zone, sign(d) outside
        if beta == 0:
            return diff.sign()
        return elementwise.where(diff.abs() < beta, diff / beta, diff.sign())
    return _pointwise_loss(x, target, losses, reduction, slope, "SmoothL1LossBackward0")


def huber_loss(x, target, reduction="mean", delta=1.0):
    """0.5 * d^2 where |d| <= delta, else delta * (|d| - 0.5 * delta): smooth L1 scaled by delta."""
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    x, target = promote(x, target)
    d = elementwise._broadcasting("huber_loss", np.subtract, x, target)
    ad = np.abs(d)
    losses = np.where(ad <= delta, 0.5 * d * d, delta * (ad - 0.5 * delta)).astype(d.dtype, copy=False)

    def slope(diff):  # d inside the quadratic zone, delta * sign(d) outside
        return elementwise.where(diff.abs() <= delta, diff, diff.sign() * delta)
    return _pointwise_loss(x, target, losses, reduction, slope, "HuberLossBackward0")


def soft_margin_loss(x, target, reduction="mean"):
    """log(1 + exp(-target * x)) for targets +-1: the logistic loss."""
    _check_reduction(reduction, "soft_margin_loss")
    _check_same_shape(x, target, "soft_margin_loss")
    if target._requires_grad:
        raise RuntimeError("The function 'soft_margin_loss' is not differentiable with respect to argument "
                           "'target'. This input cannot have requires_grad True.")
    losses = -_log_sigmoid_array(target._data * x._data)
    count = losses.size

    def backward(g):
        # d/dx log(1 + e^(-y x)) = -y * sigmoid(-y x)
        return (-target * elementwise.sigmoid(-target * x) * _grad_scale(g, reduction, count), None)
    return record(_reduce(losses, reduction), "SoftMarginLossBackward0", backward, (x, target), saved=(x, target))


def _class_index_targets(x, target, op):
    """An (N, C) view of x and (N,) class indices for multi_margin_loss's 1-D or 2-D input."""
    if x._data.ndim > 2:
        raise RuntimeError(f"{op}: Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{list(x.shape)}")
    t = target._data.reshape(-1)
    n = 1 if x._data.ndim <= 1 else x._data.shape[0]
    if t.shape[0] != n:
        raise RuntimeError(f"{op}: inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(x.shape)}")
    classes = x._data.shape[-1] if x._data.ndim else 1
    if t.size and (t.min() < 0 or t.max() >= classes):
        raise RuntimeError(f"{op}: target out of range (class indices in [{t.min()}, {t.max()}] for {classes} "
                           "classes)")
    return t, n, classes


def multi_margin_loss(x, target, p=1, margin=1.0, weight=None, reduction="mean"):
    """sum over classes j != y of max(0, margin - x[y] + x[j])^p / C, times weight[y]: the multi-class hinge loss."""
    _check_reduction(reduction, "multi_margin_loss")
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    t, n, classes = _class_index_targets(x, target, "multi_margin_loss")
    x2 = x._data.reshape(n, classes)
    rows = np.arange(n)
    z = margin - x2[rows, t][:, None] + x2  # the margin each class j keeps from the target's score
    active = z > 0
    active[rows, t] = False  # the target class is not compared with itself
    coef = np.ones(n, dtype=x2.dtype) if weight is None else weight._data[t].astype(x2.dtype)
    terms = np.where(active, z if p == 1 else z * z, 0) * (coef[:, None] / classes)
    losses = terms.sum(1).reshape(x._data.shape[:-1] if x._data.ndim == 2 else ())
    out = _reduce(losses, reduction)
    count = losses.size
    onehot = np.zeros_like(x2)
    onehot[rows, t] = 1

    def backward(g):
        # each active term adds dz to x[j] and -dz to x[y]; dz = 1 (p = 1) or 2z (p = 2), scaled by w[y] / C
        scale = Tensor._wrap(active * (coef[:, None] / classes))
        if p == 2:
            xs = x.reshape(n, classes)
            z_t = margin - (xs * Tensor._wrap(onehot)).sum(1, keepdim=True) + xs
            scale = scale * z_t * 2
        per_class = scale - Tensor._wrap(onehot) * scale.sum(1, keepdim=True)
        upstream = _grad_scale(g, reduction, count)
        upstream = upstream.reshape(n, 1) if reduction == "none" else upstream
        return ((per_class * upstream).reshape(x._data.shape), None)
    return record(out, "MultiMarginLossBackward0", backward, (x, target), saved=(x,))


def multilabel_margin_loss(x, target, reduction="mean"):
    """sum over target classes j and non-target classes i of max(0, 1 - (x[j] - x[i])) / C.

    Each row of ``target`` lists a sample's classes, ended by the first -1.
    """
    _check_reduction(reduction, "multilabel_margin_loss")
    if x._data.ndim > 2 or tuple(target.shape) != tuple(x.shape):
        raise RuntimeError(f"multilabel_margin_loss: inconsistent target size: {list(target.shape)} for input of "
                           f"size: {list(x.shape)}")
    classes = x._data.shape[-1] if x._data.ndim else 1
    x2, t2 = x._data.reshape(-1, classes), target._data.reshape(-1, classes)
    if t2.size and (t2.min() < -1 or t2.max() >= classes):
        raise RuntimeError(f"multilabel_margin_loss: target out of range (expected class indices in [0, {classes}) "
                           "or -1)")
    listed = np.cumprod(t2 != -1, axis=1).astype(bool)  # entries before each row's first -1
    times_listed = np.zeros(x2.shape)  # a class listed twice counts twice, as PyTorch
    np.add.at(times_listed, (np.nonzero(listed)[0], t2[listed]), 1)
    is_target = times_listed > 0
    # z[k, j, i] = 1 - (x[k, j] - x[k, i]) for a target class j and a non-target class i
    z = 1 - x2[:, :, None] + x2[:, None, :]
    terms = (is_target[:, :, None] & ~is_target[:, None, :] & (z > 0)) * times_listed[:, :, None]
    losses = ((terms * z).sum((1, 2)) / classes).astype(x2.dtype)
    losses = losses.reshape(x._data.shape[:-1] if x._data.ndim == 2 else ())
    # the loss is piecewise linear: its gradient is a constant per element, +1/C for each active term where
    # the class is the non-target i, -1/C where it is the target j
    slope = (terms.sum(1) - terms.sum(2)) / classes
    count = losses.size

    def backward(g):
        upstream = _grad_scale(g, reduction, count)
        upstream = upstream.reshape(-1, 1) if reduction == "none" else upstream
        return ((Tensor._wrap(slope.astype(x2.dtype)) * upstream).reshape(x._data.shape), None)
    return record(_reduce(losses, reduction), "MultilabelMarginLossBackward0", backward, (x, target))


def pdist(x, p=2.0):
    """The p-norm distance between every pair of rows i < j of an (N, M) input, as a vector of N(N-1)/2."""
    if x._data.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {x._data.ndim}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    _check_float(x, "pdist")
    n = x._data.shape[0]
    first, second = np.triu_indices(n, 1)
    # row k of this matrix takes the difference x[first[k]] - x[second[k]]
    pairs = np.zeros((first.size, n), dtype=x._data.dtype)
    pairs[np.arange(first.size), first] = 1
    pairs[np.arange(first.size), second] = -1
    diff = x._data[first] - x._data[second]
    dist = _norm_rows(diff, p)

    def backward(g):
        d = Tensor._wrap(pairs) @ x
        return (Tensor._wrap(pairs).t() @ (_norm_rows_grad(d, result, p) * g.unsqueeze(1)),)
    result = _keep_output(record(dist, "PdistBackward0", backward, (x,), saved=(x,)))
    return result


def _norm_rows(a, p):
    """The p-norm of each row of array ``a`` (p = 0 counts the non-zeros, p = inf is the largest |entry|)."""
    if p == 0:
        return (a != 0).sum(1).astype(a.dtype)
    if p == math.inf:
        return np.abs(a).max(1, initial=0)
    return (np.abs(a) ** p).sum(1) ** (1 / p)


def _norm_rows_grad(d, dist, p):
    """d ||d_k||_p / d d_k for each row k of Tensor ``d`` (0 where the row is all zeros, as PyTorch)."""
    dist = dist.unsqueeze(1)
    zero = Tensor._wrap(dist._data == 0)
    if p == 0:
        return d * 0
    if p == 1:
        return d.sign()
    if p == math.inf:
        return d.sign() * Tensor._wrap(np.abs(d._data) == dist._data)
    safe = elementwise.where(zero, dist * 0 + 1, dist)
    if p == 2:
        return elementwise.where(zero, d * 0, d / safe)
    if p < 1:  # |d|^(p - 1) is infinite at a zero entry, whose gradient PyTorch sets to 0
        zero = Tensor._wrap(zero._data | (d._data == 0))
        d_safe = elementwise.where(zero, d * 0 + 1, d)
        return elementwise.where(zero, d * 0, d.sign() * d_safe.abs().pow(p - 1) / safe.pow(p - 1))
    return elementwise.where(zero, d * 0, d.sign() * d.abs().pow(p - 1) / safe.pow(p - 1))


# ---- batch norm, dropout, embedding ---------------------------------------------------------------
def batch_norm_train(x, weight, bias, eps, running_mean=None, running_var=None, momentum=0.1):
    """Normalize with the batch's statistics over every axis but the channel axis 1.

    Updates ``running_mean``/``running_var`` in place (the variance unbiased, as
    PyTorch) when they are given.
    """
    xd = x._data
    axes = (0,) + tuple(range(2, xd.ndim))
    count = xd.size // xd.shape[1]
    if count <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {list(x.shape)}")
    shape = (1, xd.shape[1]) + (1,) * (xd.ndim - 2)
    mean = xd.mean(axis=axes, keepdims=True)
    centered = xd - mean
    var = np.mean(centered * centered, axis=axes, keepdims=True)
    invstd = 1 / np.sqrt(var + eps)
    xhat = centered * invstd
    out = xhat * weight._data.reshape(shape) if weight is not None else xhat.copy()
    if bias is not None:
        out += bias._data.reshape(shape)
    if running_mean is not None:
        running_mean._data *= 1 - momentum
        running_mean._data += momentum * mean.reshape(-1)
        running_mean._version_counter[0] += 1
    if running_var is not None:
        running_var._data *= 1 - momentum
        running_var._data += (momentum * count / (count - 1)) * var.reshape(-1)
        running_var._version_counter[0] += 1

    def backward(g):
        if grad_mode.state.enabled:  # create_graph: rebuild the statistics from x with Tensor ops
            mu = x.mean(axes, keepdim=True)
            var_t = ((x - mu) * (x - mu)).mean(axes, keepdim=True)
            inv = (var_t + eps).rsqrt()
            xh = (x - mu) * inv
        else:
            inv, xh = Tensor._wrap(invstd), Tensor._wrap(xhat)
        grad_w = (g * xh).sum(axes) if weight is not None and weight._requires_grad else None
        grad_b = g.sum(axes) if bias is not None and bias._requires_grad else None
        grad_x = None
        if x._requires_grad:
            scale = inv if weight is None else inv * weight.reshape(shape)
            # d xhat: (g - mean(g) - xhat * mean(g * xhat)) * invstd, times the affine weight
            grad_x = scale * (g - g.mean(axes, keepdim=True) - xh * (g * xh).mean(axes, keepdim=True))
        return tuple(gr for gr, t in zip((grad_x, grad_w, grad_b), (x, weight, bias)) if t is not None)
    inputs = tuple(t for t in (x, weight, bias) if t is not None)
    return record(out, "NativeBatchNormBackward0", backward, inputs, saved=inputs)


def batch_norm_eval(x, running_mean, running_var, weight, bias, eps):
    """Normalize each channel (axis 1) by the running statistics, which act as constants.

    out = (x - running_mean) * invstd * weight + bias, with invstd = 1 / sqrt(running_var + eps).
    """
    xd = x._data
    axes = (0,) + tuple(range(2, xd.ndim))
    shape = (1, xd.shape[1]) + (1,) * (xd.ndim - 2)
    mean = running_mean._data.reshape(shape).astype(xd.dtype)  # a copy: later updates do not reach backward
    invstd = (1 / np.sqrt(running_var._data.reshape(shape) + eps)).astype(xd.dtype, copy=False)
    xhat = (xd - mean) * invstd
    out = xhat * weight._data.reshape(shape) if weight is not None else xhat.copy()
    if bias is not None:
        out += bias._data.reshape(shape)

    def backward(g):
        inv = Tensor._wrap(invstd)
        grad_x = grad_w = grad_b = None
        if x._requires_grad:
            grad_x = g * (inv if weight is None else inv * weight.reshape(shape))
        if weight is not None and weight._requires_grad:
            grad_w = (g * ((x - Tensor._wrap(mean)) * inv)).sum(axes)
        if bias is not None and bias._requires_grad:
            grad_b = g.sum(axes)
        return tuple(gr for gr, t in zip((grad_x, grad_w, grad_b), (x, weight, bias)) if t is not None)
    inputs = tuple(t for t in (x, weight, bias) if t is not None)
    return record(out, "NativeBatchNormBackward0", backward, inputs, saved=inputs)


def dropout(x, p, generator=None, channelwise=False):
    """Zero each element with probability p and scale the rest by 1 / (1 - p).

    ``channelwise`` draws one decision per (sample, channel) and applies it to
    the whole feature map, as ``dropout2d``.
    """
    shape = x._data.shape[:2] + (1,) * (x._data.ndim - 2) if channelwise else x._data.shape
    if p == 1:
        mask = np.zeros(shape, dtype=x._data.dtype)
    else:
        rng = random.generator_of(generator)
        keep = rng.random(shape, dtype=np.float32 if x._data.dtype == np.float32 else np.float64) >= p
        mask = keep.astype(x._data.dtype) * np.asarray(1 / (1 - p), dtype=x._data.dtype)
    scale = Tensor._wrap(mask)
    return record(x._data * mask, "MulBackward0", lambda g: (g * scale,), (x,))  # PyTorch's name on the CPU


def embedding(weight, indices, padding_idx=None, scale_grad_by_freq=False):
    """Rows ``weight[indices]``; the row at ``padding_idx`` gets no gradient."""
    idx = indices._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"embedding: Expected tensor for argument #1 'indices' to have one of the following "
                           f"scalar types: Long, Int; but got {indices.dtype} instead")
    n_rows = weight._data.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n_rows):
        raise IndexError(f"embedding: index out of range in self (indices in [{idx.min()}, {idx.max()}], "
                         f"weight has {n_rows} rows)")
    row_scale = None
    if padding_idx is not None or scale_grad_by_freq:
        row_scale = np.ones(idx.shape, dtype=weight._data.dtype)
        if padding_idx is not None:
            row_scale[idx == padding_idx] = 0
        if scale_grad_by_freq:
            counts = np.bincount(idx.reshape(-1), minlength=n_rows)
            row_scale /= counts[idx]

    def backward(g):
        if row_scale is not None:
            g = g * Tensor._wrap(row_scale[..., None])
        return (_scatter_rows(g, idx, n_rows),)
    return record(weight._data[idx], "EmbeddingBackward0", backward, (weight,))


def _scatter_rows(g, idx, n_rows):
    """Zeros (n_rows, D) with g[i] added into row idx[i] (repeated rows sum): embedding's adjoint."""
    out = np.zeros((n_rows,) + g._data.shape[idx.ndim:], dtype=g._data.dtype)
    np.add.at(out, idx, g._data)
    return record(out, "EmbeddingBackwardBackward0", lambda gg: (embedding(gg, Tensor._wrap(idx)),), (g,))


# ---- padding ----------------------------------------------------------------------------------
def constant_pad(x, pads, value=0.0):
    """Pad the last len(pads) // 2 axes; ``pads`` lists (left, right) pairs from the last axis back.

    Negative amounts crop, as PyTorch.
    """
    widths = [(0, 0)] * (x._data.ndim - len(pads) // 2)
    widths += [(pads[2 * i], pads[2 * i + 1]) for i in reversed(range(len(pads) // 2))]
    sizes = [n + lo + hi for n, (lo, hi) in zip(x._data.shape, widths)]
    if min(sizes, default=0) < 0:
        raise RuntimeError(f"pad: the negative padding {list(pads)} crops more than input of shape "
                           f"{list(x._data.shape)} holds (the output size would be {sizes})")
    crop = tuple(slice(max(-lo, 0), x._data.shape[a] - max(-hi, 0)) for a, (lo, hi) in enumerate(widths))
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    out = np.pad(x._data[crop], grow, constant_values=value)
    inner = tuple(slice(lo, lo + s.stop - s.start) for (lo, _), s in zip(grow, crop))
    shape = x._data.shape

    def backward(g):
        # the gradient reaching the kept region, put back where that region sat in x
        return (constant_pad(g[inner], _pads_of(crop, shape)),)
    return record(out, "ConstantPadNdBackward0", backward, (x,))


def _pads_of(crop, shape):
    """The (left, right) pads, last axis first, that restore ``shape`` around ``crop``."""
    pads = []
    for s, n in reversed(list(zip(crop, shape))):
        pads += [s.start, n - s.stop]
    return pads


_PAD_NODES = {"reflect": "ReflectionPad", "replicate": "ReplicationPad"}


def index_pad(x, pads, mode):
    """'reflect', 'replicate' or 'circular' padding as a gather: each output element reads one input element.

    One node whose gradient is the matching scatter-add.  Reflect and replicate
    are named by mode and rank (ReflectionPad2DBackward0 pads the last two axes);
    circular padding is CopySlices, as PyTorch, which copies slices of x into
    the output.
    """
    n_axes = len(pads) // 2
    index = []
    for i in range(n_axes):
        axis = x._data.ndim - 1 - i
        index.insert(0, _pad_positions(x, axis, pads[2 * i], pads[2 * i + 1], mode))
    lead = x._data.ndim - n_axes
    where = (slice(None),) * lead + np.ix_(*index)
    if mode == "circular":  # named as PyTorch's last node, and its gradient as the last node of that gradient
        return _gather_pad(x, where, "CopySlices", "SliceBackwardBackward0")
    name = f"{_PAD_NODES[mode]}{n_axes}DBackward0"
    return _gather_pad(x, where, name, name.replace("Backward0", "BackwardBackward0"))


def _pad_positions(x, axis, left, right, mode):
    """For each output position along ``axis``, the input position it copies."""
    size = x._data.shape[axis]
    if mode == "reflect" and (left >= size or right >= size):
        raise RuntimeError(f"pad: padding size should be less than the corresponding input dimension, but got "
                           f"padding ({left}, {right}) at dimension {axis} of input {tuple(x.shape)}")
    if mode == "circular" and (left > size or right > size):
        raise RuntimeError(f"pad: padding value causes wrapping around more than once (padding ({left}, "
                           f"{right}) at dimension {axis} of input {tuple(x.shape)})")
    pos = np.arange(-left, size + right)
    if mode == "reflect":
        period = 2 * (size - 1) if size > 1 else 1
        pos = np.abs(pos) % period
        return np.where(pos >= size, period - pos, pos)
    if mode == "replicate":
        return np.clip(pos, 0, size - 1)
    return pos % size


def _gather_pad(x, where, name, adjoint_name):
    """x[where] as the padding node ``name``.

    Its backward, node ``adjoint_name``, adds each output gradient back where it was read.
    """
    shape = x._data.shape
    return record(x._data[where], name, lambda g: (_scatter_pad(g, where, shape, name, adjoint_name),), (x,))


def _scatter_pad(g, where, shape, name, adjoint_name):
    """Zeros of ``shape`` with g added at ``where`` (the padding's adjoint); its own gradient is the gather."""
    out = np.zeros(shape, dtype=g._data.dtype)
    np.add.at(out, where, g._data)
    return record(out, adjoint_name, lambda gg: (_gather_pad(gg, where, name, adjoint_name),), (g,))
