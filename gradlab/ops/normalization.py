"""Layer norm and group norm: standardize over some axes of each sample, then scale and shift.

Both are one graph node with the closed-form backward of standardization,
the same one batch norm uses (``nn_ops.batch_norm_train``): for
xhat = (x - mean) * invstd over a set of axes and an upstream gradient gh
reaching xhat,

    d x = invstd * (gh - mean(gh) - xhat * mean(gh * xhat))      (means over those axes)

Layer norm standardizes over the last axes (``normalized_shape``) and has
per-element weight and bias of that shape; group norm standardizes each group
of channels of a sample and has per-channel weight and bias.
"""
import numpy as np

from .._tensor import Tensor
from ..autograd.function import record


def _standardize(a, axes, eps):
    """(xhat, invstd) of array ``a`` over ``axes`` with the biased variance, as arrays."""
    mean = a.mean(axis=axes, keepdims=True)
    centered = a - mean
    var = np.mean(centered * centered, axis=axes, keepdims=True)
    invstd = 1 / np.sqrt(var + eps)
    return centered * invstd, invstd


def _standardize_tensors(x, axes, eps):
    """_standardize with Tensor ops, so that a create_graph backward can be differentiated again."""
    mu = x.mean(axes, keepdim=True)
    centered = x - mu
    inv = ((centered * centered).mean(axes, keepdim=True) + eps).rsqrt()
    return centered * inv, inv


def _standardize_grad(gh, xhat, invstd, axes):
    """The gradient reaching x through xhat = (x - mean) * invstd, given the gradient gh reaching xhat."""
    return invstd * (gh - gh.mean(axes, keepdim=True) - xhat * (gh * xhat).mean(axes, keepdim=True))


def _affine(xhat, weight, bias, shape):
    """xhat * weight + bias on arrays, with weight and bias reshaped to ``shape`` (either may be None)."""
    out = xhat * weight._data.reshape(shape) if weight is not None else xhat.copy()
    if bias is not None:
        out += bias._data.reshape(shape)
    return out


def _check_dtypes(x, weight, bias, op):
    """A floating-point input, and parameters of its dtype (PyTorch does not mix them on the CPU)."""
    if x._data.dtype.kind != "f":
        raise NotImplementedError(f"{op}: expected a floating-point input, got {x.dtype}")
    for t in (weight, bias):
        if t is not None and t._data.dtype != x._data.dtype:
            raise RuntimeError(f"{op}: mixed dtype: expected the parameters to have the input's dtype {x.dtype}, "
                               f"got {t.dtype}")


def _present(grads, tensors):
    """The gradients of the tensors that are not None, in order (the node's inputs)."""
    return tuple(g for g, t in zip(grads, tensors) if t is not None)


# ---- layer norm -------------------------------------------------------------------------------
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Standardize each sample over its last len(normalized_shape) axes, then * weight + bias."""
    _check_dtypes(x, weight, bias, "layer_norm")
    k = len(normalized_shape)
    axes = tuple(range(x._data.ndim - k, x._data.ndim))
    lead = tuple(range(x._data.ndim - k))  # the axes weight and bias are shared over
    xhat, invstd = _standardize(x._data, axes, eps)
    out = _affine(xhat, weight, bias, normalized_shape)

    def grads(g, xh, inv):
        grad_x = grad_w = grad_b = None
        if x._requires_grad:
            grad_x = _standardize_grad(g if weight is None else g * weight, xh, inv, axes)
        if weight is not None and weight._requires_grad:
            grad_w = (g * xh).sum(lead) if lead else g * xh
        if bias is not None and bias._requires_grad:
            grad_b = g.sum(lead) if lead else g
        return _present((grad_x, grad_w, grad_b), (x, weight, bias))

    def backward(g):  # the statistics rebuilt from x with Tensor ops, so that they are differentiated too
        return grads(g, *_standardize_tensors(x, axes, eps))

    def fast(g):  # the forward's statistics
        return grads(g, Tensor._wrap(xhat), Tensor._wrap(invstd))
    inputs = tuple(t for t in (x, weight, bias) if t is not None)
    return record(out, "NativeLayerNormBackward0", backward, inputs, saved=inputs, fast=fast)


# ---- group norm -------------------------------------------------------------------------------
def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Standardize each group of C / num_groups channels of each sample of an (N, C, *) input."""
    _check_dtypes(x, weight, bias, "group_norm")
    shape = x._data.shape
    # (N, G, channels-in-group * spatial), spelled out: -1 cannot be inferred for an empty batch
    grouped = (shape[0], num_groups, int(np.prod(shape[1:])) // num_groups)
    channel_shape = (1, shape[1]) + (1,) * (len(shape) - 2)
    shared = (0,) + tuple(range(2, len(shape)))  # the axes a channel's weight is shared over
    xhat_g, invstd_g = _standardize(x._data.reshape(grouped), (2,), eps)
    xhat = xhat_g.reshape(shape)
    out = _affine(xhat, weight, bias, channel_shape)

    def grads(g, xh_g, inv_g):
        grad_x = grad_w = grad_b = None
        if x._requires_grad:
            gh = g if weight is None else g * weight.reshape(channel_shape)
            grad_x = _standardize_grad(gh.reshape(grouped), xh_g, inv_g, (2,)).reshape(shape)
        if weight is not None and weight._requires_grad:
            grad_w = (g * xh_g.reshape(shape)).sum(shared)
        if bias is not None and bias._requires_grad:
            grad_b = g.sum(shared)
        return _present((grad_x, grad_w, grad_b), (x, weight, bias))

    def backward(g):  # the statistics rebuilt from x with Tensor ops, so that they are differentiated too
        return grads(g, *_standardize_tensors(x.reshape(grouped), (2,), eps))

    def fast(g):  # the forward's statistics
        return grads(g, Tensor._wrap(xhat_g), Tensor._wrap(invstd_g))
    inputs = tuple(t for t in (x, weight, bias) if t is not None)
    return record(out, "NativeGroupNormBackward0", backward, inputs, saved=inputs, fast=fast)
