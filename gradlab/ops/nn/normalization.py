"""Batch, layer and group norm: standardize over some axes, then scale and shift, as one graph node.

Each backward is the closed form of standardization: for
xhat = (x - mean) * invstd over a set of axes and an upstream gradient gh
reaching xhat,

    d x = invstd * (gh - mean(gh) - xhat * mean(gh * xhat))      (means over those axes)

Batch norm standardizes each channel (axis 1) over the batch and the spatial
axes; layer norm standardizes each sample over its last axes
(``normalized_shape``) and has per-element weight and bias of that shape;
group norm standardizes each group of channels of a sample and has
per-channel weight and bias.

Float32 and float64 batch and layer norm run on the fused kernels of
``gradlab.kernels`` (norm.py, the readable twin; gradlab_ext/norm.pyx): one
call each way, which keeps only mean and invstd for the fast backward
(``fast=``, what the engine runs without ``create_graph``).  Group norm (and
float16) keeps xhat and invstd as arrays for its fast backward.  ``backward``
rebuilds them from x with Tensor ops, so that a ``create_graph`` backward can
be differentiated again.
"""
import numpy as np

from ... import kernels
from ..._tensor import Tensor
from ...autograd.record import record
from ..registry import op

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


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


def _record_standardized(out, name, grads, x, weight, bias, xhat, invstd, rebuild):
    """Record a normalization node: ``grads(g, xh, inv)`` gives (dx, dweight, dbias).

    The fast backward reads the forward's arrays ``xhat`` and ``invstd``; the
    differentiable one gets them from ``rebuild()``, Tensor ops on x.
    """
    def backward(g):
        return _present(grads(g, *rebuild()), (x, weight, bias))

    def fast(g):
        return _present(grads(g, Tensor._wrap(xhat), Tensor._wrap(invstd)), (x, weight, bias))
    inputs = tuple(t for t in (x, weight, bias) if t is not None)
    return record(out, name, backward, inputs, saved=inputs, fast=fast)


def _record_kernel(out, name, grads, x, weight, bias, rebuild, kernel_backward):
    """As _record_standardized, with a fast backward on the arrays: ``kernel_backward(g, need_x, need_w, need_b)``
    gives (dx, dweight, dbias) arrays of the inputs' shapes (None for what is not needed)."""
    def backward(g):
        return _present(grads(g, *rebuild()), (x, weight, bias))

    def fast(g):
        arrays = kernel_backward(g._data, x._requires_grad, weight is not None and weight._requires_grad,
                                 bias is not None and bias._requires_grad)
        return _present([None if a is None else Tensor._wrap(a) for a in arrays], (x, weight, bias))
    inputs = tuple(t for t in (x, weight, bias) if t is not None)
    return record(out, name, backward, inputs, saved=inputs, fast=fast)


def _flat(t):
    """A parameter's array as 1-D, or None."""
    return None if t is None else t._data.reshape(-1)


# ---- batch norm -------------------------------------------------------------------------------
def _shaped(grads, x_shape, weight, bias):
    """A norm kernel's (gx, gw, gb) in the shapes of x, weight and bias (None stays None)."""
    gx, gw, gb = grads
    return (None if gx is None else gx.reshape(x_shape), None if gw is None else gw.reshape(weight.shape),
            None if gb is None else gb.reshape(bias.shape))


@op(method=False, function=False, nn="batch_norm")
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
    fused = xd.dtype in _KERNEL_DTYPES and all(t is None or t._data.dtype == xd.dtype for t in (weight, bias))
    if fused:   # one kernel: (N, C, positions)
        x3 = xd.reshape(xd.shape[0], xd.shape[1], -1)
        y, mean, var, invstd = kernels.batch_norm_forward(x3, _flat(weight), _flat(bias), eps)
        out = y.reshape(xd.shape)
    else:
        mean = xd.mean(axis=axes, keepdims=True)
        centered = xd - mean
        var = np.mean(centered * centered, axis=axes, keepdims=True)
        invstd = 1 / np.sqrt(var + eps)
        xhat = centered * invstd
        out = _affine(xhat, weight, bias, shape)
    if running_mean is not None:
        running_mean._data *= 1 - momentum
        running_mean._data += momentum * mean.reshape(-1)
        running_mean._version_counter[0] += 1
    if running_var is not None:
        running_var._data *= 1 - momentum
        running_var._data += (momentum * count / (count - 1)) * var.reshape(-1)
        running_var._version_counter[0] += 1

    def grads(g, xh, inv):
        grad_w = (g * xh).sum(axes) if weight is not None and weight._requires_grad else None
        grad_b = g.sum(axes) if bias is not None and bias._requires_grad else None
        grad_x = None
        if x._requires_grad:
            grad_x = _standardize_grad(g, xh, inv if weight is None else inv * weight.reshape(shape), axes)
        return grad_x, grad_w, grad_b
    rebuild = lambda: _standardize_tensors(x, axes, eps)  # noqa: E731
    if fused:
        def kernel_backward(g, need_x, need_w, need_b):
            return _shaped(kernels.batch_norm_backward(g.reshape(x3.shape), x3, mean, invstd, _flat(weight),
                                                need_x, need_w, need_b), xd.shape, weight, bias)
        return _record_kernel(out, "NativeBatchNormBackward0", grads, x, weight, bias, rebuild, kernel_backward)
    return _record_standardized(out, "NativeBatchNormBackward0", grads, x, weight, bias, xhat, invstd, rebuild)


@op(method=False, function=False, nn="batch_norm")
def batch_norm_eval(x, running_mean, running_var, weight, bias, eps):
    """Normalize each channel (axis 1) by the running statistics, which act as constants.

    out = (x - running_mean) * invstd * weight + bias, with invstd = 1 / sqrt(running_var + eps).
    """
    xd = x._data
    axes = (0,) + tuple(range(2, xd.ndim))
    shape = (1, xd.shape[1]) + (1,) * (xd.ndim - 2)
    mean = running_mean._data.reshape(shape).astype(xd.dtype)  # a copy: later updates do not reach backward
    invstd = (1 / np.sqrt(running_var._data.reshape(shape) + eps)).astype(xd.dtype, copy=False)
    out = _affine((xd - mean) * invstd, weight, bias, shape)

    def backward(g):
        inv = Tensor._wrap(invstd)
        grad_x = grad_w = grad_b = None
        if x._requires_grad:
            grad_x = g * (inv if weight is None else inv * weight.reshape(shape))
        if weight is not None and weight._requires_grad:
            grad_w = (g * ((x - Tensor._wrap(mean)) * inv)).sum(axes)
        if bias is not None and bias._requires_grad:
            grad_b = g.sum(axes)
        return _present((grad_x, grad_w, grad_b), (x, weight, bias))
    inputs = tuple(t for t in (x, weight, bias) if t is not None)
    return record(out, "NativeBatchNormBackward0", backward, inputs, saved=inputs)


# ---- layer norm -------------------------------------------------------------------------------
@op(method=False, function=False, nn=True)
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Standardize each sample over its last len(normalized_shape) axes, then * weight + bias."""
    _check_dtypes(x, weight, bias, "layer_norm")
    k = len(normalized_shape)
    axes = tuple(range(x._data.ndim - k, x._data.ndim))
    lead = tuple(range(x._data.ndim - k))  # the axes weight and bias are shared over
    xd = x._data
    features = int(np.prod(xd.shape[xd.ndim - k:]))
    fused = xd.dtype in _KERNEL_DTYPES and xd.size > 0
    if fused:   # one kernel: (rows, features)
        rows = xd.reshape(-1, features)
        y, mean, invstd = kernels.layer_norm_forward(rows, _flat(weight), _flat(bias), eps)
        out = y.reshape(xd.shape)
    else:
        xhat, invstd = _standardize(xd, axes, eps)
        out = _affine(xhat, weight, bias, normalized_shape)

    def grads(g, xh, inv):
        grad_x = grad_w = grad_b = None
        if x._requires_grad:
            grad_x = _standardize_grad(g if weight is None else g * weight, xh, inv, axes)
        if weight is not None and weight._requires_grad:
            grad_w = (g * xh).sum(lead) if lead else g * xh
        if bias is not None and bias._requires_grad:
            grad_b = g.sum(lead) if lead else g
        return grad_x, grad_w, grad_b
    rebuild = lambda: _standardize_tensors(x, axes, eps)  # noqa: E731
    if fused:
        def kernel_backward(g, need_x, need_w, need_b):
            return _shaped(kernels.layer_norm_backward(g.reshape(rows.shape), rows, mean, invstd, _flat(weight),
                                                need_x, need_w, need_b), xd.shape, weight, bias)
        return _record_kernel(out, "NativeLayerNormBackward0", grads, x, weight, bias, rebuild, kernel_backward)
    return _record_standardized(out, "NativeLayerNormBackward0", grads, x, weight, bias, xhat, invstd, rebuild)


# ---- group norm -------------------------------------------------------------------------------
@op(method=False, function=False, nn=True)
def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Standardize each group of C / num_groups channels of each sample of an (N, C, *) input."""
    _check_dtypes(x, weight, bias, "group_norm")
    shape = x._data.shape
    # (N, G, channels-in-group * spatial), spelled out: -1 cannot be inferred for an empty batch
    grouped = (shape[0], num_groups, int(np.prod(shape[1:])) // num_groups)
    channel_shape = (1, shape[1]) + (1,) * (len(shape) - 2)
    shared = (0,) + tuple(range(2, len(shape)))  # the axes a channel's weight is shared over
    xhat_g, invstd_g = _standardize(x._data.reshape(grouped), (2,), eps)
    out = _affine(xhat_g.reshape(shape), weight, bias, channel_shape)

    def grads(g, xh_g, inv_g):
        grad_x = grad_w = grad_b = None
        if x._requires_grad:
            gh = g if weight is None else g * weight.reshape(channel_shape)
            grad_x = _standardize_grad(gh.reshape(grouped), xh_g, inv_g, (2,)).reshape(shape)
        if weight is not None and weight._requires_grad:
            grad_w = (g * xh_g.reshape(shape)).sum(shared)
        if bias is not None and bias._requires_grad:
            grad_b = g.sum(shared)
        return grad_x, grad_w, grad_b
    return _record_standardized(out, "NativeGroupNormBackward0", grads, x, weight, bias, xhat_g, invstd_g,
                                lambda: _standardize_tensors(x.reshape(grouped), (2,), eps))
