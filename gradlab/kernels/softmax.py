"""Softmax and log-softmax over the last axis, and attention's masked softmax, in plain NumPy: the readable twin
of gradlab_ext/softmax.pyx.

    softmax(x)_j = exp(x_j - max(x)) / sum_k exp(x_k - max(x))        (the max keeps exp from overflowing)
    log_softmax(x)_j = (x_j - max(x)) - log(sum_k exp(x_k - max(x)))

Backward, for an upstream gradient g and the forward's output y:

    softmax:      gx = y * (g - sum(g * y))
    log_softmax:  gx = g - exp(y) * sum(g)                            (exp(y) is the softmax)

Attention's softmax is softmax(scores * scale + mask) with the mask applied
in the same pass: ``causal`` lets query i (row i of each L x S matrix) see
keys 0..i only, ``mask`` is an additive (L, S) mask; a row with no key left
gives weights 0.  Its backward is softmax's times the scale.  Sums are added
in float64, as the compiled twin does.
"""
import numpy as np

__all__ = ["softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward",
           "attention_softmax_forward", "attention_softmax_backward"]


def softmax_forward(x):
    """exp(x - max) / sum(exp(x - max)) over the last axis (a row of -inf gives NaN, as PyTorch)."""
    e = np.exp(x - x.max(axis=-1, keepdims=True, initial=-np.inf))
    return e / e.sum(axis=-1, keepdims=True, dtype=np.float64).astype(x.dtype)


def softmax_backward(grad_out, out):
    """out * (grad_out - sum(grad_out * out)) over the last axis (out = softmax_forward(x))."""
    return attention_softmax_backward(grad_out, out, 1.0)


def log_softmax_forward(x):
    """(x - max) - log(sum(exp(x - max))) over the last axis."""
    shifted = x - x.max(axis=-1, keepdims=True, initial=-np.inf)
    total = np.exp(shifted).sum(axis=-1, keepdims=True, dtype=np.float64)
    return shifted - np.log(total).astype(x.dtype)


def log_softmax_backward(grad_out, out):
    """grad_out - exp(out) * sum(grad_out) over the last axis (out = log_softmax_forward(x))."""
    return grad_out - np.exp(out) * grad_out.sum(axis=-1, keepdims=True, dtype=np.float64).astype(out.dtype)


def attention_softmax_forward(scores, scale, causal, mask):
    """softmax(scores * scale + mask) over the last axis of scores (..., L, S).

    ``causal``: query i (row i of each L x S matrix) sees keys 0..i only.
    ``mask``: None or an additive (L, S) mask of scores' dtype (-inf blocks a key).
    A row with no key left to attend to gives weights 0.
    """
    z = scores * scores.dtype.type(scale)
    if mask is not None:
        z = z + mask
    if causal:
        queries, keys = scores.shape[-2:]
        z = np.where(np.tri(queries, keys, dtype=bool), z, -np.inf)
    top = z.max(axis=-1, keepdims=True, initial=-np.inf)
    blocked = top == -np.inf                                  # no key to attend to
    e = np.exp(z - np.where(blocked, 0, top))                 # exp(-inf) = 0 where a key is blocked
    total = e.sum(axis=-1, keepdims=True, dtype=np.float64)
    return np.where(blocked, 0, e / np.where(blocked, 1, total)).astype(scores.dtype)


def attention_softmax_backward(grad_out, out, scale):
    """Gradient of the raw scores: scale * out * (grad_out - sum(grad_out * out)) over the last axis."""
    dot = (grad_out * out).sum(axis=-1, keepdims=True, dtype=np.float64).astype(out.dtype)
    return out.dtype.type(scale) * out * (grad_out - dot)
