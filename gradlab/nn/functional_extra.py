"""More of ``torch.nn.functional``: normalisation layers, activations, losses and distances.

``nn.functional`` re-exports every name in ``__all__`` here, so users write
``F.layer_norm`` as in PyTorch.  As in ``functional.py``, each function checks
its arguments the way PyTorch does and then calls one op (``ops/normalization``,
``ops/nn_ops``) or composes a few, where PyTorch composes them too.
"""
import math
import numbers

import numpy as np

from .. import _dtype
from .._tensor import Size, Tensor
from ..ops import elementwise as _ew
from ..ops import inplace_update as _inplace_update
from ..ops import nn_ops as _nn
from ..ops import normalization as _norm

__all__ = [
    "layer_norm", "group_norm", "instance_norm", "rms_norm", "local_response_norm",
    "prelu", "selu", "selu_", "celu", "celu_", "mish", "hardswish", "hardsigmoid", "hardshrink", "softshrink",
    "tanhshrink", "softsign", "softmin", "logsigmoid", "glu", "threshold", "threshold_", "rrelu", "rrelu_",
    "elu_", "leaky_relu_", "hardtanh_",
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
    from .functional import batch_norm
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
    from .functional import pad
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
    return _maybe_inplace(input, _nn.mish(input), inplace)


def hardswish(input, inplace=False):
    """input * relu6(input + 3) / 6 (MobileNetV3)."""
    return _maybe_inplace(input, _nn.hardswish(input), inplace)


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
    from .functional import softmax
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
    from .functional import elu
    return elu(input, alpha, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    from .functional import leaky_relu
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    from .functional import hardtanh
    return hardtanh(input, min_val, max_val, inplace=True)
