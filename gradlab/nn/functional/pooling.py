"""Pooling: max, average, adaptive, power-average (lp) pooling and max unpooling, 1-D and 2-D.

The pools run on the ops in ``ops/pool.py`` (Cython kernels); max unpooling is ``ops/nn/pooling.py``.
"""
import math
import numbers

from ...ops.unary import relu as _relu
from ...ops.unary import sign as _sign
from ...ops import pool as _pool
from ...ops.nn import pooling as _unpool
from .._utils import _pair, _single

__all__ = ["max_pool1d", "max_pool2d", "max_pool1d_with_indices", "max_pool2d_with_indices", "avg_pool1d",
           "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
           "adaptive_max_pool1d_with_indices", "max_unpool1d", "max_unpool2d", "lp_pool1d", "lp_pool2d"]


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each window; with ``return_indices`` also the flat (h * W + w) index of each max."""
    kernel_size = _pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None or (isinstance(stride, (list, tuple)) and not stride) else _pair(stride, "stride")
    out, indices = _pool.max_pool2d(input, kernel_size, stride, _pair(padding, "padding"),
                                    _pair(dilation, "dilation"), bool(ceil_mode), bool(return_indices))
    return (out, indices) if return_indices else out


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    kernel_size = _pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None or (isinstance(stride, (list, tuple)) and not stride) else _pair(stride, "stride")
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

def _stride_or_kernel(stride, kernel_size):
    if stride is None or (isinstance(stride, (list, tuple)) and not stride):
        return kernel_size
    return _single(stride, "stride")


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each window of the last axis; with ``return_indices`` also each max's position."""
    kernel_size = _single(kernel_size, "kernel_size")
    out, indices = _pool.max_pool1d(input, kernel_size, _stride_or_kernel(stride, kernel_size),
                                    _single(padding, "padding"), _single(dilation, "dilation"), bool(ceil_mode),
                                    bool(return_indices))
    return (out, indices) if return_indices else out


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    """max_pool1d returning (output, indices) whatever ``return_indices`` says (as PyTorch)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    kernel_size = _single(kernel_size, "kernel_size")
    return _pool.avg_pool1d(input, kernel_size, _stride_or_kernel(stride, kernel_size), _single(padding, "padding"),
                            bool(ceil_mode), bool(count_include_pad))


def _output_length(input, output_size):
    """The number of bins: an int or a one-element sequence; None keeps the input's length."""
    if isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = output_size[0]
    return int(input.shape[-1]) if output_size is None else _single(output_size, "output_size")


def adaptive_avg_pool1d(input, output_size):
    """Average over ``output_size`` bins that tile the last axis."""
    return _pool.adaptive_avg_pool1d(input, _output_length(input, output_size))


def adaptive_max_pool1d(input, output_size, return_indices=False):
    out, indices = _pool.adaptive_max_pool1d(input, _output_length(input, output_size))
    return (out, indices) if return_indices else out


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    """adaptive_max_pool1d returning (output, indices) whatever ``return_indices`` says (as PyTorch)."""
    return adaptive_max_pool1d(input, output_size, True)

def _unpool_output_size(input, kernel_size, stride, padding, output_size):
    """The default size (in - 1) * stride + kernel - 2 * padding, or ``output_size`` if it is within a stride of it."""
    spatial = input.shape[-len(kernel_size):]
    default = [(n - 1) * s + k - 2 * p for n, s, k, p in zip(spatial, stride, kernel_size, padding)]
    if output_size is None:
        return default
    output_size = list(output_size)
    if len(output_size) == len(kernel_size) + 2:  # (N, C, *spatial) given: keep the spatial part
        output_size = output_size[2:]
    if len(output_size) != len(kernel_size):
        raise ValueError(f"output_size should be a sequence containing {len(kernel_size)} or {len(kernel_size) + 2} "
                         f"elements, but it has a length of '{len(output_size)}'")
    for d, (size, base, s) in enumerate(zip(output_size, default, stride)):
        if not base - s < size < base + s:
            raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be between {base - s} and {base + s})')
    return output_size

def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d: the maxima back at their ``indices``, zeros elsewhere."""
    kernel_size = _pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else _pair(stride, "stride")
    padding = _pair(padding, "padding")
    out_hw = _unpool_output_size(input, kernel_size, stride, padding, output_size)
    return _unpool.max_unpool(input, indices, out_hw)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool1d, as max_unpool2d over a trailing axis of size 1 (as PyTorch)."""
    kernel_size = (_single(kernel_size, "kernel_size"),)
    stride = kernel_size if stride is None else (_single(stride, "stride"),)
    padding = (_single(padding, "padding"),)
    out_len = _unpool_output_size(input, kernel_size, stride, padding, output_size)
    return _unpool.max_unpool(input.unsqueeze(-1), indices.unsqueeze(-1), list(out_len) + [1]).squeeze(-1)


# ---- power-average pooling --------------------------------------------------------------------
def _lp_from_average(input, average, norm_type, window):
    """(window * average of x^p)^(1/p); the sign/relu keeps a negative rounding error from giving NaN."""
    return (_sign(average) * _relu(average.abs())).mul(window).pow(1.0 / norm_type)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x^p)^(1/p); p = inf is max pooling of |x|."""
    kh, kw = _pair(kernel_size, "kernel_size")
    if norm_type == math.inf:
        return max_pool2d(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -max_pool2d(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    average = avg_pool2d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return _lp_from_average(input, average, norm_type, kh * kw)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x^p)^(1/p) along the last axis; p = inf is max pooling of |x|."""
    if norm_type == math.inf:
        return max_pool1d(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -max_pool1d(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    average = avg_pool1d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return _lp_from_average(input, average, norm_type, _single(kernel_size, "kernel_size"))
