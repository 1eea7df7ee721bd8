"""More of ``torch.nn.functional``: 1-D convolution and pooling, transposed convolution, resampling.

Each function normalises its arguments as PyTorch does and calls one op in
``gradlab/ops`` (``conv``, ``pool``, ``resample``), where forward and backward live.
"""
import math
import warnings

import numpy as np

from ..ops import conv as _conv
from ..ops import pool as _pool
from ..ops import resample as _resample
from ._utils import _pair, _single

__all__ = [
    "conv1d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool1d_with_indices", "avg_pool1d",
    "adaptive_avg_pool1d", "adaptive_max_pool1d", "adaptive_max_pool1d_with_indices", "interpolate", "upsample",
    "upsample_nearest", "upsample_bilinear", "pixel_shuffle", "pixel_unshuffle",
]


# ---- convolution ------------------------------------------------------------------------------
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation) over an (N, C, L) or (C, L) input; weight (out, in / groups, k).

    ``padding`` is an int, 'valid' (none) or 'same' (output as long as the input; stride must be 1).
    """
    stride, dilation = _single(stride, "stride"), _single(dilation, "dilation")
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise RuntimeError(f"conv1d: Invalid padding string: {padding!r} (expected 'valid' or 'same')")
        total = 0 if padding == "valid" else dilation * (weight.shape[-1] - 1)
        if padding == "same" and stride != 1:
            raise RuntimeError("conv1d: padding='same' is not supported for strided convolutions")
        if total % 2:  # the odd one goes on the right, as PyTorch
            from .functional import pad
            input = pad(input, [0, 1])
        padding = total // 2
    return _conv.conv1d(input, weight, bias, stride, _single(padding, "padding"), dilation, int(groups))


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-D convolution (the adjoint of conv1d); weight (in, out / groups, k)."""
    return _conv.conv_transpose1d(input, weight, bias, _single(stride, "stride"), _single(padding, "padding"),
                                  _single(output_padding, "output_padding"), int(groups),
                                  _single(dilation, "dilation"))


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution (the adjoint of conv2d); weight (in, out / groups, kh, kw).

    Output side: (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1.
    """
    return _conv.conv_transpose2d(input, weight, bias, _pair(stride, "stride"), _pair(padding, "padding"),
                                  _pair(output_padding, "output_padding"), int(groups), _pair(dilation, "dilation"))


# ---- 1-D pooling ------------------------------------------------------------------------------
def _stride_or_kernel(stride, kernel_size):
    if stride is None or stride == [] or stride == ():
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


# ---- resampling -------------------------------------------------------------------------------
_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
_NAMES = {"nearest": "UpsampleNearest{}DBackward0", "nearest-exact": "UpsampleNearestExact{}DBackward0",
          "linear": "UpsampleLinear1DBackward0", "bilinear": "UpsampleBilinear2DBackward0",
          "bicubic": "UpsampleBicubic2DBackward0"}


def _per_axis(value, spatial, what, input_sizes):
    """A value per spatial axis from a number or a sequence, with PyTorch's error for a wrong length."""
    if isinstance(value, (tuple, list)):
        letter = "s" if what == "scale_factor" else "o"
        if len(value) != spatial:
            raise ValueError(f"Input and {what} must have the same number of spatial dimensions, but got input with "
                             f"spatial dimensions of {list(input_sizes)} and {what} of shape {tuple(value)}. Please "
                             f"provide input tensor in (N, C, d1, d2, ...,dK) format and {what} in "
                             f"({letter}1, {letter}2, ...,{letter}K) format.")
        return list(value)
    return [value] * spatial


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial axes of an (N, C, L) or (N, C, H, W) input to ``size`` or by ``scale_factor``.

    Modes 'nearest', 'nearest-exact' and 'area' (either layout), 'linear' (3-D
    input), 'bilinear' and 'bicubic' (4-D input), with PyTorch's ``align_corners`` rule.
    """
    spatial = input.ndim - 2
    _check_interpolate(input, size, scale_factor, mode, align_corners, antialias)
    in_sizes = tuple(input.shape[2:])
    out_sizes, scales = _sizes_and_scales(in_sizes, size, scale_factor, recompute_scale_factor)
    if mode == "area":  # the mean over each output pixel's share of the input, as PyTorch
        if spatial == 1:
            return _pool.adaptive_avg_pool1d(input, out_sizes[0])
        return _pool.adaptive_avg_pool2d(input, tuple(out_sizes))
    mats = [_axis_matrix(mode, n, o, align_corners, s, spatial) for n, o, s in zip(in_sizes, out_sizes, scales)]
    rows, cols = (None, mats[0]) if spatial == 1 else mats
    return _resample.resample(input, rows, cols, _NAMES[mode].format(spatial))


def _check_interpolate(input, size, scale_factor, mode, align_corners, antialias):
    """PyTorch's argument errors, in its order; then what gradlab does not implement."""
    spatial = input.ndim - 2
    if mode not in _MODES or spatial not in (1, 2, 3):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for "
                                  f"the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
                                  f"nearest-exact (got {mode})")
    if align_corners is not None and mode not in ("linear", "bilinear", "bicubic", "trilinear"):
        raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear | "
                         "bicubic | trilinear")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    needs = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(mode)
    if needs is not None and needs != spatial:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {needs + 2}D input")
    if spatial == 3 or (mode not in _NAMES and mode != "area") or antialias:
        raise NotImplementedError(f"interpolate: mode {mode!r} on a {input.ndim}-D input"
                                  f"{' with antialias' if antialias else ''} is not implemented in gradlab "
                                  f"(it has nearest, nearest-exact, linear, bilinear, bicubic and area on 3-D / "
                                  f"4-D inputs)")
    if not input.dtype.is_floating_point and mode not in ("nearest", "nearest-exact"):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not implemented for {input.dtype} inputs in "
                                  f"gradlab (nearest modes copy integer values; convert to float for the others)")


def _sizes_and_scales(in_sizes, size, scale_factor, recompute_scale_factor):
    """The output size of each axis, and the scale_factor its coordinates use (None: in / out)."""
    spatial = len(in_sizes)
    if size is not None:
        out_sizes, scales = [int(s) for s in _per_axis(size, spatial, "output size", in_sizes)], [None] * spatial
    else:
        scales = [float(s) for s in _per_axis(scale_factor, spatial, "scale_factor", in_sizes)]
        out_sizes = [int(math.floor(n * s)) for n, s in zip(in_sizes, scales)]
        if recompute_scale_factor:
            scales = [None] * spatial
    if min(out_sizes) < 1 or min(in_sizes) < 1:
        raise RuntimeError(f"interpolate: Input and output sizes should be greater than 0, but got input "
                           f"{in_sizes} output {tuple(out_sizes)}")
    return out_sizes, scales


def _axis_matrix(mode, in_size, out_size, align_corners, scale_factor, spatial):
    if mode in ("nearest", "nearest-exact"):
        return _resample.nearest_matrix(in_size, out_size, scale_factor, exact=mode == "nearest-exact",
                                        shortcuts=mode == "nearest" and spatial == 2)
    if in_size == out_size and mode in ("linear", "bilinear"):
        return np.eye(in_size)  # PyTorch's (bi)linear kernel copies an axis whose size is unchanged, whatever the scale
    if mode == "bicubic":
        return _resample.cubic_matrix(in_size, out_size, bool(align_corners), scale_factor)
    return _resample.linear_matrix(in_size, out_size, bool(align_corners), scale_factor)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pixel_shuffle(input, upscale_factor):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r) with r = upscale_factor (sub-pixel convolution's last step)."""
    return _resample.pixel_shuffle(input, int(upscale_factor))


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), the inverse of pixel_shuffle."""
    return _resample.pixel_unshuffle(input, int(downscale_factor))
