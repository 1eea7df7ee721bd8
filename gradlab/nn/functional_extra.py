"""More of ``torch.nn.functional``: normalisation layers, activations, losses and distances.

``nn.functional`` re-exports every name in ``__all__`` here, so users write
``F.layer_norm`` as in PyTorch.  As in ``functional.py``, each function checks
its arguments the way PyTorch does and then calls one op (``ops/normalization``,
``ops/nn_ops``) or composes a few, where PyTorch composes them too.
"""
import math
import numbers
import warnings

import numpy as np

from .._tensor import Size, Tensor
from ..ops import elementwise as _ew
from ..ops import _shadow
from ..ops import inplace_update as _inplace_update
from ..ops import nn_ops as _nn
from ..ops import normalization as _norm
# functional.py imports this file at its end, when everything below is defined
from .functional import (_legacy_reduction, _warn_size_mismatch, batch_norm, elu, hardtanh, l1_loss, leaky_relu,
                         pad, softmax)

__all__ = [
    "layer_norm", "group_norm", "instance_norm", "rms_norm", "local_response_norm",
    "prelu", "selu", "selu_", "celu", "celu_", "mish", "hardswish", "hardsigmoid", "hardshrink", "softshrink",
    "tanhshrink", "softsign", "softmin", "logsigmoid", "glu", "threshold", "threshold_", "rrelu", "rrelu_",
    "elu_", "leaky_relu_", "hardtanh_",
    "smooth_l1_loss", "huber_loss", "kl_div", "soft_margin_loss", "margin_ranking_loss", "hinge_embedding_loss",
    "cosine_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss", "multi_margin_loss",
    "multilabel_margin_loss", "multilabel_soft_margin_loss", "poisson_nll_loss", "gaussian_nll_loss",
    "cosine_similarity", "pairwise_distance", "pdist",
]


# ---- normalisation ----------------------------------------------------------------------------
def _shape_tuple(normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


def _check_normalized_shape(input, normalized_shape, weight, bias, op, star="*, "):
    k = len(normalized_shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != normalized_shape:
        raise RuntimeError(f"{op}: Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[{star}{', '.join(map(str, normalized_shape))}], but got input of size"
                           f"{list(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != normalized_shape:
            raise RuntimeError(f"{op}: Expected {name} to be of same shape as normalized_shape, but got {name} of "
                               f"shape {list(t.shape)} and normalized_shape = {list(normalized_shape)}")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Standardize over the last axes (``normalized_shape``), then * weight + bias, element by element."""
    normalized_shape = _shape_tuple(normalized_shape)
    _check_normalized_shape(input, normalized_shape, weight, bias, "layer_norm")
    return _norm.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Standardize each group of channels of each sample of an (N, C, *) input, then * weight + bias per channel."""
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: Expected at least 2 dimensions for input tensor but received {input.ndim}")
    channels = input.shape[1]
    if channels % num_groups:
        raise RuntimeError(f"group_norm: Expected number of channels in input to be divisible by num_groups, but "
                           f"got input of shape {list(input.shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (channels,):
            raise RuntimeError(f"group_norm: Expected {name} to be a vector of size equal to the number of channels "
                               f"in input, but got {name} of shape {list(t.shape)} and input of shape "
                               f"{list(input.shape)}")
    return _norm.group_norm(input, int(num_groups), weight, bias, eps)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Standardize each channel of each sample of an (N, C, *) input over its spatial axes.

    As PyTorch: batch norm of the input seen as one sample of N*C channels,
    its running statistics (when given) the average over the N samples.
    """
    shape = tuple(input.shape)
    if use_input_stats:
        spatial = int(np.prod(shape[2:]))
        if spatial == 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                             f"{Size(shape)}")
    n, c = shape[:2]
    stacked = input.reshape((1, n * c) + shape[2:])
    repeated = [None if t is None else Tensor._wrap(np.tile(t._data, n)) for t in (running_mean, running_var)]
    out = batch_norm(stacked, repeated[0], repeated[1], None if weight is None else weight.repeat(n),
                     None if bias is None else bias.repeat(n), use_input_stats, momentum, eps)
    for running, stacked_stat in zip((running_mean, running_var), repeated):
        if running is not None and use_input_stats:  # fold the per-sample statistics back into one per channel
            running._data[...] = stacked_stat._data.reshape(n, c).mean(0)
            running._version_counter[0] += 1
    return out.view(shape)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """input / sqrt(mean(input^2) + eps) over the last axes, * weight; eps defaults to the dtype's machine epsilon."""
    normalized_shape = _shape_tuple(normalized_shape)
    _check_normalized_shape(input, normalized_shape, weight, None, "rms_norm", star="*")
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    axes = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    out = input * ((input * input).mean(axes, keepdim=True) + eps).rsqrt()
    return out if weight is None else out * weight


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """input / (k + alpha * mean of input^2 over ``size`` neighbouring channels)^beta (AlexNet's normalization).

    The window of channel c spans channels c - size // 2 .. c + (size - 1) // 2, zero-padded at the edges.
    """
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
    if input.numel() == 0:
        return input
    channels = input.shape[1]
    # pads list (before, after) pairs from the last axis back: zero pairs up to the channel axis 1
    padded = pad(input * input, [0, 0] * (input.ndim - 2) + [size // 2, (size - 1) // 2])
    window_sum = padded.narrow(1, 0, channels)
    for shift in range(1, size):
        window_sum = window_sum + padded.narrow(1, shift, channels)
    div = (window_sum / size * alpha + k).pow(beta)
    return input / div


# ---- activations ------------------------------------------------------------------------------
def _maybe_inplace(input, result, inplace):
    return _inplace_update(input, result) if inplace else result


def _on_old_values(input, inplace):
    """The input an op should read: in place, a copy of the old values when backward needs them."""
    return _shadow(input) if inplace else input


def prelu(input, weight):
    """input where input > 0, else weight * input; ``weight`` holds one slope or one per channel (axis 1)."""
    return _nn.prelu(input, weight)


def selu(input, inplace=False):
    """scale * elu(input, alpha) with alpha ~ 1.6733 and scale ~ 1.0507 (self-normalizing networks)."""
    return _maybe_inplace(input, _nn.selu(input, inplace), inplace)


def selu_(input):
    return selu(input, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    return _maybe_inplace(input, _nn.celu(input, alpha, inplace), inplace)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def mish(input, inplace=False):
    """input * tanh(softplus(input))."""
    return _maybe_inplace(input, _nn.mish(_on_old_values(input, inplace)), inplace)  # backward reads the input


def hardswish(input, inplace=False):
    """input * relu6(input + 3) / 6 (MobileNetV3)."""
    return _maybe_inplace(input, _nn.hardswish(_on_old_values(input, inplace)), inplace)  # backward reads the input


def hardsigmoid(input, inplace=False):
    """relu6(input + 3) / 6."""
    return _maybe_inplace(input, _nn.hardsigmoid(input), inplace)


def hardshrink(input, lambd=0.5):
    """input where |input| > lambd, else 0."""
    return _nn.hardshrink(input, lambd)


def softshrink(input, lambd=0.5):
    """input - lambd above lambd, input + lambd below -lambd, else 0."""
    return _nn.softshrink(input, lambd)


def tanhshrink(input):
    """input - tanh(input) (two nodes, as PyTorch)."""
    return input - input.tanh()


def softsign(input):
    """input / (1 + |input|) (composed, as PyTorch)."""
    return input / (input.abs() + 1)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-input) along ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    return softmax(-input, dim, _stacklevel + 1)


def logsigmoid(input):
    """log(sigmoid(input)), stable for large |input|."""
    return _nn.logsigmoid(input)


def glu(input, dim=-1):
    """a * sigmoid(b) for the halves a, b of input along ``dim`` (the gated linear unit)."""
    return _nn.glu(input, dim)


def threshold(input, threshold, value, inplace=False):
    """input where input > threshold, else value."""
    return _maybe_inplace(input, _nn.threshold(input, threshold, value, inplace), inplace)


def threshold_(input, threshold, value):
    return _maybe_inplace(input, _nn.threshold(input, threshold, value, True), True)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU whose negative slope is drawn from U(lower, upper) per element when training,
    and is (lower + upper) / 2 otherwise."""
    return _maybe_inplace(input, _nn.rrelu(input, lower, upper, training, inplace), inplace)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


# ---- losses -----------------------------------------------------------------------------------
def _legacy(size_average, reduce, reduction):
    return _legacy_reduction(size_average, reduce, reduction)


def _check_reduction(reduction, op):
    _nn._check_reduction(reduction, op)


def _reduce(losses, reduction):
    """Per-element losses (a Tensor) reduced by mean, sum, or kept ('none')."""
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def _clamped_in_value(t, low):
    """t with its values raised to at least ``low``, its gradient passing as if unclamped.

    PyTorch clamps some denominators this way, in place under no_grad.
    """
    return t + Tensor._wrap(np.maximum(t._data, low) - t._data)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Squared error (halved, / beta) for |input - target| < beta, absolute error (- beta / 2) beyond."""
    _warn_size_mismatch(input, target)
    if beta == 0.0:  # no quadratic zone left: plain L1, as PyTorch
        return l1_loss(input, target, reduction=_legacy(size_average, reduce, reduction))
    return _nn.smooth_l1_loss(input, target, _legacy(size_average, reduce, reduction), float(beta))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Squared error (halved) for |input - target| <= delta, delta * (absolute error - delta / 2) beyond."""
    _warn_size_mismatch(input, target)
    if weight is None:
        return _nn.huber_loss(input, target, reduction, float(delta))
    _check_reduction(reduction, "huber_loss")
    losses = _nn.huber_loss(input, target, "none", float(delta))
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")
    return _reduce(losses * weight, reduction)  # unlike mse_loss's, 'mean' is the plain mean (as PyTorch)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || model) for log-probabilities ``input``: target * (log target - input), pointwise.

    'batchmean' divides the sum by the batch size (the true KL divergence per sample);
    'mean' divides by the number of elements, as PyTorch, which warns about it.
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_target:
        pointwise = target.exp() * (target - input)
    else:
        pointwise = target.xlogy(target) - target * input  # xlogy: 0 * log 0 = 0
    if reduction == "batchmean":
        total = pointwise.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(pointwise, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)) for targets +-1 (two-class logistic loss)."""
    return _nn.soft_margin_loss(input, target, _legacy(size_average, reduce, reduction))


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -target * (input1 - input2) + margin): input1 should rank above input2 where target is 1."""
    reduction = _legacy(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} ")
    _check_reduction(reduction, "margin_ranking_loss")
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """input where target is 1, max(0, margin - input) where target is -1 (input is usually a distance)."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "hinge_embedding_loss")
    zeros = input * 0
    below_margin = _ew.where(target != 1, (margin - input).clamp(min=0), zeros)
    itself = _ew.where(target != -1, input, zeros)
    return _reduce(below_margin + itself, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where target is -1 (rows of 2-D inputs)."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "cosine_embedding_loss")
    if target.ndim not in (0, 1):
        raise RuntimeError(f"0D or 1D target tensor expected, multi-target not supported, got {target.ndim}D")
    if target.ndim == 1 and (input1.ndim != 2 or input2.ndim != 2):
        raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with sizes "
                           f"{list(input1.shape)} and {list(input2.shape)}.")
    if target.ndim == 0 and (input1.ndim != 1 or input2.ndim != 1):
        raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with sizes "
                           f"{list(input1.shape)} and {list(input2.shape)}.")
    dim = input1.ndim - 1
    eps = 1e-12  # PyTorch's: keeps the denominator positive for a zero vector
    dot = (input1 * input2).sum(dim)
    norms = ((input1 * input1).sum(dim) + eps) * ((input2 * input2).sum(dim) + eps)
    cos = dot / norms.sqrt()
    zeros = cos * 0
    similar = _ew.where(target == 1, 1 - cos, zeros)
    dissimilar = _ew.where(target == -1, (cos - margin).clamp(min=0), zeros)
    return _reduce(similar + dissimilar, reduction)


def _check_triplet(anchor, positive, negative):
    a, p, n = anchor.ndim, positive.ndim, negative.ndim
    if not a == p == n:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {a}D, positive {p}D, and negative {n}D inputs")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(0, d(anchor, positive) - d(anchor, negative) + margin) with d the pairwise p-norm distance."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "triplet_margin_loss")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet(anchor, positive, negative)
    dist_pos = pairwise_distance(anchor, positive, p, eps)
    dist_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:  # the harder of the two negatives' distances
        dist_neg = _ew.minimum(dist_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + dist_pos - dist_neg).clamp(min=0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean"):
    """triplet_margin_loss with any distance (pairwise_distance by default)."""
    _check_reduction(reduction, "triplet_margin_with_distance_loss")
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: expected margin to be greater than 0, got {margin} "
                         "instead")
    _check_triplet(anchor, positive, negative)
    distance = pairwise_distance if distance_function is None else distance_function
    dist_pos = distance(anchor, positive)
    dist_neg = distance(anchor, negative)
    if swap:
        dist_neg = _ew.minimum(dist_neg, distance(positive, negative))
    return _reduce((margin + dist_pos - dist_neg).clamp(min=0), reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """The multi-class hinge loss: each wrong class j scores at least ``margin`` below the target y, or pays
    (margin - x[y] + x[j])^p / C, times weight[y]."""
    reduction = _legacy(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    if weight is not None and weight.requires_grad:
        raise RuntimeError("The function 'multi_margin_loss' is not differentiable with respect to argument "
                           "'weight'. This input cannot have requires_grad True.")
    return _nn.multi_margin_loss(input, target, p, float(margin), weight, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """The hinge loss between every target class and every other class; target rows list classes, then -1."""
    return _nn.multilabel_margin_loss(input, target, _legacy(size_average, reduce, reduction))


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Binary logistic loss per class, averaged over the classes (the last axis)."""
    reduction = _legacy(size_average, reduce, reduction)
    losses = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        losses = losses * weight
    class_dim = input.ndim - 1
    losses = losses.sum(class_dim) / input.shape[class_dim]
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    return _reduce(losses, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Negative log-likelihood of a Poisson target with rate exp(input) (``log_input``) or input.

    ``full`` adds Stirling's approximation of log(target!) where target > 1.
    """
    reduction = _legacy(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not a valid value for reduction")
    if log_input:
        losses = input.exp() - target * input
    else:
        losses = input - target * (input + eps).log()
    if full:
        stirling = target.xlogy(target) - target + 0.5 * (2 * math.pi * target).log()
        losses = losses + stirling.masked_fill(target <= 1, 0)
    return _reduce(losses, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 * (log var + (input - target)^2 / var): the negative log-likelihood of target under N(input, var).

    ``var`` is per element, or one short of the input's shape, or broadcast along one axis; it is clamped
    to at least ``eps`` in value, its gradient passing as if unclamped (as PyTorch).
    """
    if isinstance(var, numbers.Number):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = Tensor._wrap(np.full(input._data.shape, var, dtype=input._data.dtype))
    elif (var._data < 0).any():
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):  # one variance per sample (homoscedastic)
            var = var.unsqueeze(-1)
        elif not (input.ndim == var.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = _clamped_in_value(var, eps)
    losses = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        losses = losses + 0.5 * math.log(2 * math.pi)
    return _reduce(losses, reduction)


# ---- distances --------------------------------------------------------------------------------
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (||x1|| * ||x2||) along ``dim``, each norm at least ``eps`` (in value, as PyTorch)."""
    n1 = _clamped_in_value(x1.norm(2, dim, keepdim=True), eps)
    n2 = _clamped_in_value(x2.norm(2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last axis (eps keeps the norm differentiable where x1 = x2)."""
    last = max(x1.ndim, x2.ndim) - 1
    return (x1 - x2 + eps).norm(p, last, keepdim=keepdim)


def pdist(input, p=2):
    """The p-norm distance between every pair of rows i < j of an (N, M) input: N(N-1)/2 values."""
    return _nn.pdist(input, float(p))


# max unpooling, power-average pooling, channel shuffle, alpha dropout, embedding bags: functional_more.py
from .functional_more import *  # noqa: E402,F401,F403
from .functional_more import __all__ as _more_all  # noqa: E402

__all__ += _more_all
