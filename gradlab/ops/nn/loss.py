"""Losses with fused backwards: each records one node whose backward is the loss's derivative in closed form.

cross_entropy's backward has an array-only fast path (``fast=``) that the
engine runs when no graph of the backward is wanted; its ``backward`` is the
same formula in Tensor ops, for ``create_graph=True``.
"""
import numpy as np

from ..._tensor import Tensor
from ...autograd.record import record
from .._common import broadcasting
from ..compare import where
from ..unary import sigmoid
from .._common import promote, sum_to
from ..registry import op
from ._common import _check_float
from .activation import _log_sigmoid_array, _log_softmax_array, log_softmax, softmax

_REDUCTIONS = ("none", "mean", "sum")


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


@op(method=False, function=False, nn=True)
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
        """grad_x = -g * weight[target] at each row's target entry, 0 elsewhere (/ the weight total for mean)"""
        # d loss / d x is -weight[t] at the target entry, 0 elsewhere: a constant times g
        slope = np.zeros(x._data.shape, dtype=x._data.dtype)
        slope[at] = -1 if coef is None else -coef
        grad = Tensor._wrap(slope) * _grad_scale(g, reduction, denominator, 1)
        if reduction == "mean" and denominator == 0:  # g / 0 reaches only the picked entries, as PyTorch's kernel
            picked = np.zeros(x._data.shape, dtype=bool)
            picked[at] = True if valid is None else valid
            grad = where(Tensor._wrap(picked), grad, 0.0)
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


@op(method=False, function=False, nn=True)
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
    all_ignored = valid is not None and reduction == "mean" and denominator == 0

    def backward(g):  # Tensor ops, for create_graph
        """grad_x = g * (softmax(x) - onehot(target)) (/ N for mean; smoothed or weighted targets alike)"""
        grad_x, grad_t = _cross_entropy_grads_differentiable(
            x, target, w, eps, q if probabilities else target_weights(),
            _grad_scale(g, reduction, denominator, 1), probabilities)
        if all_ignored and grad_x is not None:
            grad_x = where(Tensor._wrap(_ignored_rows(x, valid)), 0.0, grad_x)
        return grad_x, grad_t

    def fast(g):  # the same on arrays
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
    return record(out, _nll_node(x), backward, (x, target), fast=fast)


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


@op(method=False, function=False, nn=True)
def mse_loss(x, target, reduction="mean"):
    _check_reduction(reduction, "mse_loss")
    x, target = promote(x, target)  # PyTorch's result dtype: a float32 input with an int64 target stays float32
    diff = broadcasting("mse_loss", np.subtract, x, target)
    return _pointwise_loss(x, target, diff * diff, reduction, lambda d: 2 * d, "MseLossBackward0")


@op(method=False, function=False, nn=True)
def l1_loss(x, target, reduction="mean"):
    _check_reduction(reduction, "l1_loss")
    x, target = promote(x, target)  # PyTorch's result dtype: a float32 input with an int64 target stays float32
    diff = broadcasting("l1_loss", np.subtract, x, target)
    out = _reduce(np.abs(diff), reduction)
    count = diff.size
    shape_x, shape_t = x._data.shape, target._data.shape
    sign = Tensor._wrap(np.sign(diff))

    def backward(g):
        grad = sign * _grad_scale(g, reduction, count)
        return (sum_to(grad, shape_x) if x._requires_grad else None,
                sum_to(-grad, shape_t) if target._requires_grad else None)
    return record(out, "L1LossBackward0", backward, (x, target))


def _weighted_losses(losses, weight, reduction):
    """(the reduced loss, the element count) of per-element ``losses`` times the optional Tensor ``weight``."""
    if weight is not None:
        losses = losses * weight._data
    return _reduce(losses, reduction), losses.size


def _weighted_grad_scale(g, reduction, count, weight):
    """_grad_scale times the optional element weights."""
    scale = _grad_scale(g, reduction, count)
    return scale if weight is None else scale * weight


@op(method=False, function=False, nn=True)
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
    out, count = _weighted_losses(losses, weight, reduction)

    def backward(g):
        scale = _weighted_grad_scale(g, reduction, count, weight)
        grad_x = grad_t = None
        if x._requires_grad:
            grad_x = (x - target) / (x * (1 - x)).clamp(min=1e-12) * scale
        if target._requires_grad:  # Tensor ops in x too, for the mixed second derivative (unclamped, as PyTorch)
            with np.errstate(divide="ignore"):
                grad_t = ((-x).log1p() - x.log()) * scale
        return grad_x, grad_t
    return record(out, "BinaryCrossEntropyBackward0", backward, (x, target), saved=(x, target))


@op(method=False, function=False, nn=True)
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
    out, count = _weighted_losses(losses, weight, reduction)

    def backward(g):
        scale = _weighted_grad_scale(g, reduction, count, weight)
        grad_x = grad_t = None
        if x._requires_grad:
            s = sigmoid(x)
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
        """grad_x = g * loss'(x - target) (2 * (x - target) for mse; / N for mean); grad_target = -grad_x"""
        grad = slope(x - target) * _grad_scale(g, reduction, count)
        return (sum_to(grad, shape_x) if x._requires_grad else None,
                sum_to(-grad, shape_t) if target._requires_grad else None)
    return record(out, name, backward, (x, target), saved=(x, target))


@op(method=False, function=False, nn=True)
def smooth_l1_loss(x, target, reduction="mean", beta=1.0):
    """0.5 * d^2 / beta where |d| < beta, else |d| - 0.5 * beta, for d = x - target (L1 when beta is 0)."""
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    x, target = promote(x, target)
    d = broadcasting("smooth_l1_loss", np.subtract, x, target)
    ad = np.abs(d)
    losses = np.where(ad < beta, 0.5 * d * d / (beta or 1), ad - 0.5 * beta).astype(d.dtype, copy=False)

    def slope(diff):  # d/beta inside the quadratic zone, sign(d) outside
        if beta == 0:
            return diff.sign()
        return where(diff.abs() < beta, diff / beta, diff.sign())
    return _pointwise_loss(x, target, losses, reduction, slope, "SmoothL1LossBackward0")


@op(method=False, function=False, nn=True)
def huber_loss(x, target, reduction="mean", delta=1.0):
    """0.5 * d^2 where |d| <= delta, else delta * (|d| - 0.5 * delta): smooth L1 scaled by delta."""
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    x, target = promote(x, target)
    d = broadcasting("huber_loss", np.subtract, x, target)
    ad = np.abs(d)
    losses = np.where(ad <= delta, 0.5 * d * d, delta * (ad - 0.5 * delta)).astype(d.dtype, copy=False)

    def slope(diff):  # d inside the quadratic zone, delta * sign(d) outside
        return where(diff.abs() <= delta, diff, diff.sign() * delta)
    return _pointwise_loss(x, target, losses, reduction, slope, "HuberLossBackward0")


@op(method=False, function=False, nn=True)
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
        return (-target * sigmoid(-target * x) * _grad_scale(g, reduction, count), None)
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


@op(method=False, function=False, nn=True)
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


@op(method=False, function=False, nn=True)
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
