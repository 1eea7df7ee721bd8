"""Normalization: batch, layer, group, instance, RMS and local response norm, and ``F.normalize``.

Batch, layer and group norm are ops (``ops/nn/normalization.py``); the others compose them or Tensor ops,
as PyTorch does.
"""
import numbers

import numpy as np

from ... import _dtype
from ..._tensor import Size, Tensor
from ...ops.nn import normalization as _op
from .padding import pad

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm", "local_response_norm", "normalize"]


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-05):
    """Normalise each channel (axis 1): by the batch's statistics when training, else by the running ones.

    In training the running statistics, when given, are updated in place:
    running = (1 - momentum) * running + momentum * batch statistic.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dimensions (N, C, ...), got shape "
                         f"{tuple(input.shape)}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and tuple(t.shape) != (channels,):
            raise RuntimeError(f"batch_norm: {name} should contain {channels} elements, not {t.numel()} "
                               f"(input shape {tuple(input.shape)})")
        # as PyTorch on the CPU: no mixed dtypes, except a float16 input with float32 parameters
        if t is not None and t.dtype != input.dtype and (input.dtype, t.dtype) != (_dtype.float16, _dtype.float32):
            raise RuntimeError(f"batch_norm: mixed dtype: expected {name} to have the input's dtype {input.dtype}, "
                               f"got {t.dtype}")
    if training:
        return _op.batch_norm_train(input, weight, bias, eps, running_mean, running_var, momentum)
    if running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: running_mean and running_var must be defined in evaluation mode")
    return _op.batch_norm_eval(input, running_mean, running_var, weight, bias, eps)

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
    return _op.layer_norm(input, normalized_shape, weight, bias, eps)


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
    return _op.group_norm(input, int(num_groups), weight, bias, eps)


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

def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p along dim, eps)."""
    norm = input.norm(p, dim, keepdim=True).clamp(min=eps)
    return input / norm
