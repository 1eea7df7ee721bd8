"""Losses (``F.cross_entropy``, ``F.mse_loss``, ...): PyTorch's argument handling (the legacy
``size_average``/``reduce`` flags, weights), then the op in ``ops/nn/loss.py``, or a composition of
Tensor ops where PyTorch composes them too.
"""
import math
import numbers
import warnings

import numpy as np

from ..._tensor import Tensor
from ...ops.arithmetic import minimum as _minimum
from ...ops.compare import where as _where
from ...ops.nn import loss as _op
from .activation import logsigmoid
from .distance import _clamped_in_value, pairwise_distance

__all__ = ["mse_loss", "l1_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "smooth_l1_loss", "huber_loss", "kl_div", "soft_margin_loss",
           "margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss", "triplet_margin_loss",
           "triplet_margin_with_distance_loss", "multi_margin_loss", "multilabel_margin_loss",
           "multilabel_soft_margin_loss", "poisson_nll_loss", "gaussian_nll_loss"]


def _legacy_reduction(size_average, reduce, reduction):
    """The old ``size_average``/``reduce`` flags as a ``reduction`` string (as PyTorch)."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='"
                  f"{'none' if reduce is False else 'mean' if size_average is not False else 'sum'}' instead.",
                  stacklevel=3)
    if reduce is False:
        return "none"
    return "sum" if size_average is False else "mean"

def _warn_size_mismatch(input, target):
    if tuple(input.shape) != tuple(target.shape):
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have "
                      "the same size.", stacklevel=3)


def _weighted_elementwise_loss(losses, weight, reduction):
    """``weight`` * per-element losses, reduced; 'mean' divides by the sum of the weights (as PyTorch)."""
    if tuple(weight.shape) != tuple(losses.shape):
        raise ValueError("Weights and input must have the same size.")
    weighted = losses * weight
    if reduction == "none":
        return weighted
    return weighted.sum() if reduction == "sum" else weighted.sum() / weight.sum()


def _regression_loss(op, input, target, reduction, weight):
    """The op's loss; with ``weight``, the weighted mean (or sum) of its per-element losses."""
    if weight is None:
        return op(input, target, reduction)
    _op._check_reduction(reduction, op.__name__)
    return _weighted_elementwise_loss(op(input, target, "none"), weight, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    _warn_size_mismatch(input, target)
    return _regression_loss(_op.mse_loss, input, target, _legacy_reduction(size_average, reduce, reduction), weight)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    _warn_size_mismatch(input, target)
    return _regression_loss(_op.l1_loss, input, target, _legacy_reduction(size_average, reduce, reduction), weight)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """log_softmax over the class axis 1, then the negative log-likelihood of the target, in one stable op.

    ``target`` holds class indices (int64, shape (N, d1, ...)) or class
    probabilities (float, the input's shape).
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _op.cross_entropy(input, target, weight, ignore_index, reduction, float(label_smoothing))


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _op.nll_loss(input, target, weight, ignore_index, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _op.binary_cross_entropy(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _op.binary_cross_entropy_with_logits(input, target, weight, reduction, pos_weight)

def _legacy(size_average, reduce, reduction):
    return _legacy_reduction(size_average, reduce, reduction)


def _check_reduction(reduction, op):
    _op._check_reduction(reduction, op)


def _reduce(losses, reduction):
    """Per-element losses (a Tensor) reduced by mean, sum, or kept ('none')."""
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Squared error (halved, / beta) for |input - target| < beta, absolute error (- beta / 2) beyond."""
    _warn_size_mismatch(input, target)
    if beta == 0.0:  # no quadratic zone left: plain L1, as PyTorch
        return l1_loss(input, target, reduction=_legacy(size_average, reduce, reduction))
    return _op.smooth_l1_loss(input, target, _legacy(size_average, reduce, reduction), float(beta))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Squared error (halved) for |input - target| <= delta, delta * (absolute error - delta / 2) beyond."""
    _warn_size_mismatch(input, target)
    if weight is None:
        return _op.huber_loss(input, target, reduction, float(delta))
    _check_reduction(reduction, "huber_loss")
    losses = _op.huber_loss(input, target, "none", float(delta))
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
    return _op.soft_margin_loss(input, target, _legacy(size_average, reduce, reduction))


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
    below_margin = _where(target != 1, (margin - input).clamp(min=0), zeros)
    itself = _where(target != -1, input, zeros)
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
    similar = _where(target == 1, 1 - cos, zeros)
    dissimilar = _where(target == -1, (cos - margin).clamp(min=0), zeros)
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
        dist_neg = _minimum(dist_neg, pairwise_distance(positive, negative, p, eps))
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
        dist_neg = _minimum(dist_neg, distance(positive, negative))
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
    return _op.multi_margin_loss(input, target, p, float(margin), weight, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """The hinge loss between every target class and every other class; target rows list classes, then -1."""
    return _op.multilabel_margin_loss(input, target, _legacy(size_average, reduce, reduction))


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
