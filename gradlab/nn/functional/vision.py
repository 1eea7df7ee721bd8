"""Vision: interpolation (``F.interpolate``, ``F.upsample*``), pixel and channel shuffle, ``F.unfold`` / ``F.fold``.

The ops are in ``ops/nn/vision.py``; unfold and fold (im2col, col2im) in ``ops/conv.py``.
"""
import math
import warnings

import numpy as np

from ...ops import conv as _conv
from ...ops import pool as _pool
from ...ops.nn import vision as _op
from ...ops.nn.vision import channel_shuffle

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle", "native_channel_shuffle", "unfold", "fold"]

native_channel_shuffle = channel_shuffle


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
    return _op.resample(input, rows, cols, _NAMES[mode].format(spatial))


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
        return _op.nearest_matrix(in_size, out_size, scale_factor, exact=mode == "nearest-exact",
                                        shortcuts=mode == "nearest" and spatial == 2)
    if in_size == out_size and mode in ("linear", "bilinear"):
        return np.eye(in_size)  # PyTorch's (bi)linear kernel copies an axis whose size is unchanged, whatever the scale
    if mode == "bicubic":
        return _op.cubic_matrix(in_size, out_size, bool(align_corners), scale_factor)
    return _op.linear_matrix(in_size, out_size, bool(align_corners), scale_factor)


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
    return _op.pixel_shuffle(input, int(upscale_factor))


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), the inverse of pixel_shuffle."""
    return _op.pixel_unshuffle(input, int(downscale_factor))
