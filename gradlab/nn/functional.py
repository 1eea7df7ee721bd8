"""``gradlab.nn.functional`` (as ``torch.nn.functional``): the layers as plain functions.

Each function checks and normalises its arguments the way PyTorch does, then
calls one op from ``gradlab/ops`` (``nn_ops``, ``conv``, ``pool``), where the
forward and backward live.  The ``nn`` layers call these functions.
"""
import numbers
import warnings

import numpy as np

from .. import _dtype
from ..ops import conv as _conv
from ..ops import elementwise as _ew
from ..ops import index as _index
from ..ops import inplace_update as _inplace_update
from ..ops import nn_ops as _nn
from ..ops import pool as _pool
from ..ops import shape as _shape
from ._utils import _pair

__all__ = [
    "linear", "bilinear", "conv2d", "max_pool2d", "max_pool2d_with_indices", "avg_pool2d", "adaptive_avg_pool2d",
    "adaptive_max_pool2d", "batch_norm", "dropout", "dropout2d", "embedding", "relu", "relu_", "relu6",
    "leaky_relu", "elu", "silu", "gelu", "sigmoid", "tanh", "hardtanh", "softplus", "softmax", "log_softmax",
    "mse_loss", "l1_loss", "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "pad", "one_hot", "flatten", "normalize", "unfold", "fold",
]


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


# ---- linear and convolution -------------------------------------------------------------------
def linear(input, weight, bias=None):
    """y = input @ weight^T + bias."""
    return _nn.linear(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """y_k = x1^T W_k x2 + b_k for weight (out, in1, in2)."""
    from .. import _functional
    # the leading dims flattened into one: einsum's backward cannot sum out an ellipsis
    batch = input1.shape[:-1]
    flat1, flat2 = input1.reshape(-1, input1.shape[-1]), input2.reshape(-1, input2.shape[-1])
    out = _functional.einsum("bi,kij,bj->bk", flat1, weight, flat2).reshape(*batch, weight.shape[0])
    return out if bias is None else out + bias


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch) over an (N, C, H, W) or (C, H, W) input.

    ``padding`` is an int, a pair, or 'valid' (none) / 'same' (output as large as
    the input; stride must be 1).
    """
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    if isinstance(padding, str):
        input, padding = _string_padding(input, weight, padding, stride, dilation)
    else:
        padding = _pair(padding, "padding")
    return _conv.conv2d(input, weight, bias, stride, padding, dilation, int(groups))


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Every kernel_size block of an (N, C, H, W) input as a column: (N, C*kh*kw, L) (im2col).

    L is the number of block positions; an unbatched (C, H, W) input gives (C*kh*kw, L).
    """
    return _conv.unfold(input, kernel_size, dilation, padding, stride)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum blocks (N, C*kh*kw, L) back into an (N, C, *output_size) image, the adjoint of unfold (col2im).

    Pixels covered by several blocks receive the sum of their values; (C*kh*kw, L) gives (C, H, W).
    """
    return _conv.fold(input, output_size, kernel_size, dilation, padding, stride)


def _string_padding(x, weight, mode, stride, dilation):
    """Padding 'valid' is zero; 'same' pads dilation*(k-1) in total, the odd one on the right/bottom."""
    if mode == "valid":
        return x, (0, 0)
    if mode != "same":
        raise RuntimeError(f"conv2d: Invalid padding string: {mode!r} (expected 'valid' or 'same')")
    if stride != (1, 1):
        raise RuntimeError("conv2d: padding='same' is not supported for strided convolutions")
    totals = [d * (k - 1) for d, k in zip(dilation, weight.shape[-2:])]
    if any(t % 2 for t in totals):
        x = pad(x, [0, totals[1] % 2, 0, totals[0] % 2])
    return x, (totals[0] // 2, totals[1] // 2)


# ---- pooling ----------------------------------------------------------------------------------
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each window; with ``return_indices`` also the flat (h * W + w) index of each max."""
    kernel_size = _pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None or stride == [] or stride == () else _pair(stride, "stride")
    out, indices = _pool.max_pool2d(input, kernel_size, stride, _pair(padding, "padding"),
                                    _pair(dilation, "dilation"), bool(ceil_mode), bool(return_indices))
    return (out, indices) if return_indices else out


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    kernel_size = _pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None or stride == [] or stride == () else _pair(stride, "stride")
    return _pool.avg_pool2d(input, kernel_size, stride, _pair(padding, "padding"), bool(ceil_mode),
                            bool(count_include_pad), divisor_override)


def _output_size_pair(input, output_size):
    """(oh, ow) from an int, a pair, or a pair with None (keep that input size)."""
    size = output_size
    if isinstance(size, numbers.Integral):
        size = (size, size)
    size = tuple(size)
    if len(size) != 2:
        raise ValueError(f"adaptive pooling: output_size must be an int or a pair, got {output_size!r}")
    return tuple(int(input.shape[-2 + i]) if s is None else int(s) for i, s in enumerate(size))


def adaptive_avg_pool2d(input, output_size):
    """Average over ``output_size`` bins that tile the input (bin i spans floor(i*H/oh) .. ceil((i+1)*H/oh))."""
    return _pool.adaptive_avg_pool2d(input, _output_size_pair(input, output_size))


def adaptive_max_pool2d(input, output_size, return_indices=False):
    out, indices = _pool.adaptive_max_pool2d(input, _output_size_pair(input, output_size))
    return (out, indices) if return_indices else out


# ---- normalisation, dropout, embedding --------------------------------------------------------
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
        return _nn.batch_norm_train(input, weight, bias, eps, running_mean, running_var, momentum)
    if running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: running_mean and running_var must be defined in evaluation mode")
    return _nn.batch_norm_eval(input, running_mean, running_var, weight, bias, eps)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero elements with probability ``p`` and scale the rest by 1 / (1 - p); the identity when not training."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    out = _nn.dropout(input, p)
    return _inplace_update(input, out) if inplace else out


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels (feature maps) of an (N, C, H, W) input with probability ``p``."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated and will "
                      "result in an error in a future release. Use dropout instead.", stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim.",
                      stacklevel=2)
    if not training or p == 0.0:
        return input
    out = _nn.dropout(input, p, channelwise=True)
    return _inplace_update(input, out) if inplace else out


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` picked by the integer ``input``; row ``padding_idx`` receives no gradient."""
    rows = weight.shape[0]
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise AssertionError(f"Padding_idx must be within num_embeddings (got {padding_idx} for {rows} rows)")
        padding_idx %= rows
    if max_norm is not None:
        _renorm_rows_(weight, input, max_norm, norm_type)
    return _nn.embedding(weight, input, padding_idx, scale_grad_by_freq)


def _renorm_rows_(weight, input, max_norm, norm_type):
    """Rescale, in place, the rows that ``input`` reads whose norm exceeds ``max_norm`` (as PyTorch)."""
    rows = np.unique(input._data)
    w = weight._data
    norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    w[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None]
    weight._version_counter[0] += 1


# ---- activations ------------------------------------------------------------------------------
def _maybe_inplace(input, result, inplace):
    return _inplace_update(input, result) if inplace else result


def relu(input, inplace=False):
    return input.relu_() if inplace else _nn.relu(input)


def relu_(input):
    return input.relu_()


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """input clipped to [min_val, max_val]; unlike clamp, the gradient is 0 at the bounds (as PyTorch)."""
    return _maybe_inplace(input, _nn.hardtanh(input, min_val, max_val), inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _maybe_inplace(input, _nn.leaky_relu(input, negative_slope, inplace), inplace)


def elu(input, alpha=1.0, inplace=False):
    return _maybe_inplace(input, _nn.elu(input, alpha, inplace), inplace)


def silu(input, inplace=False):
    # in place, backward still reads the old values: silu runs on a copy of them
    from ..ops import _shadow
    return _maybe_inplace(input, _nn.silu(_shadow(input) if inplace else input), inplace)


def gelu(input, approximate="none"):
    return _nn.gelu(input, approximate)


def sigmoid(input):
    return _ew.sigmoid(input)


def tanh(input):
    return _ew.tanh(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (as PyTorch)."""
    return _nn.softplus(input, beta, threshold)


def _softmax_dim(ndim):
    warnings.warn("Implicit dimension choice for softmax has been deprecated. Change the call to include dim=X "
                  "as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return _nn.softmax(input, _softmax_dim(input.ndim) if dim is None else dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return _nn.log_softmax(input, _softmax_dim(input.ndim) if dim is None else dim)


# ---- losses -----------------------------------------------------------------------------------
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


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    _warn_size_mismatch(input, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if weight is not None:
        _nn._check_reduction(reduction, "mse_loss")
        return _weighted_elementwise_loss(_nn.mse_loss(input, target, "none"), weight, reduction)
    return _nn.mse_loss(input, target, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    _warn_size_mismatch(input, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if weight is not None:
        _nn._check_reduction(reduction, "l1_loss")
        return _weighted_elementwise_loss(_nn.l1_loss(input, target, "none"), weight, reduction)
    return _nn.l1_loss(input, target, reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """log_softmax over the class axis 1, then the negative log-likelihood of the target, in one stable op.

    ``target`` holds class indices (int64, shape (N, d1, ...)) or class
    probabilities (float, the input's shape).
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _nn.cross_entropy(input, target, weight, ignore_index, reduction, float(label_smoothing))


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _nn.nll_loss(input, target, weight, ignore_index, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _nn.binary_cross_entropy(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _nn.binary_cross_entropy_with_logits(input, target, weight, reduction, pos_weight)


# ---- shape helpers ----------------------------------------------------------------------------
def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 axes; ``pad`` = (left, right, top, bottom, ...) from the last axis back."""
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: padding length must be even and at most twice the number of dimensions "
                         f"({input.ndim}), got {len(pad)}")
    if mode == "constant":
        return _nn.constant_pad(input, pad, 0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: unsupported padding mode {mode!r} (expected 'constant', 'reflect', "
                                  "'replicate' or 'circular')")
    if value:
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in value argument")
    if input.ndim - len(pad) // 2 not in (1, 2):
        raise NotImplementedError(f"pad: padding size {len(pad)} is not supported for {input.ndim}D input in mode "
                                  f"{mode!r}: pad the last k dimensions of a (k+1)-D or (k+2)-D input (k = 1, 2, 3)")
    if any(p < 0 for p in pad):
        raise NotImplementedError(f"pad: negative padding is only supported in 'constant' mode, got {pad}")
    return _nn.index_pad(input, pad, mode)


def one_hot(tensor, num_classes=-1):
    return _index.one_hot(tensor, num_classes)


def flatten(input, start_dim=0, end_dim=-1):
    return _shape.flatten(input, start_dim, end_dim)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p along dim, eps)."""
    norm = input.norm(p, dim, keepdim=True).clamp(min=eps)
    return input / norm


# normalisation layers, more activations, losses and distances live in functional_extra.py
from .functional_extra import *  # noqa: E402,F401,F403
from .functional_extra import __all__ as _extra_all  # noqa: E402

__all__ += _extra_all

# 1-D convolution and pooling, transposed convolution, interpolation, pixel shuffle: functional_spatial.py
from .functional_spatial import *  # noqa: E402,F401,F403
from .functional_spatial import __all__ as _spatial_all  # noqa: E402

__all__ += _spatial_all

# scaled dot-product and multi-head attention: functional_attention.py
from .functional_attention import *  # noqa: E402,F401,F403
from .functional_attention import __all__ as _attention_all  # noqa: E402

__all__ += _attention_all
