"""Vision ops: interpolation (nearest, linear, bilinear, bicubic), pixel (un)shuffle and channel shuffle.

Interpolation along one axis is a matrix: output position i reads input
positions with fixed weights (one weight 1 for nearest, two weights
1 - t and t for linear, four cubic-convolution weights for bicubic).  Resampling an image is therefore

    out = rows @ x @ cols^T      (rows: out_h x in_h, cols: out_w x in_w)

and its gradient the transposed product rows^T @ g @ cols, which is again
linear, so both directions are recorded and can be differentiated again.
A 1-D signal has no ``rows`` matrix.

Pixel shuffle moves channel blocks into space, (C*r*r, H, W) -> (C, H*r, W*r);
pixel unshuffle is its inverse, so each is the other's gradient.  Channel
shuffle with g groups is undone by channel shuffle with C / g groups.
"""
import numpy as np

from ...autograd.record import record
from ..registry import op


# ---- interpolation matrices --------------------------------------------------------------------------
def _scale(in_size, out_size, align_corners, scale_factor):
    """PyTorch's source-per-destination step along one axis."""
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    if scale_factor is not None and scale_factor > 0:
        return 1.0 / scale_factor
    return in_size / out_size


def nearest_matrix(in_size, out_size, scale_factor=None, exact=False, shortcuts=False):
    """(out, in) with a single 1 per row: out[i] = x[floor(i * scale)] ('nearest-exact': centres, +0.5).

    ``shortcuts``: PyTorch's 2-D 'nearest' kernel copies an axis whose size is
    unchanged and repeats each input of an axis whose size doubles, whatever
    the scale_factor (its 1-D kernel does not).
    """
    scale = np.float32(_scale(in_size, out_size, False, scale_factor))  # float32, as PyTorch's kernel
    dst = np.arange(out_size, dtype=np.float32) + (np.float32(0.5) if exact else np.float32(0))
    src = np.minimum(np.floor(dst * scale).astype(np.int64), in_size - 1)
    if shortcuts and out_size == in_size:
        src = np.arange(out_size)
    elif shortcuts and out_size == 2 * in_size:
        src = np.arange(out_size) // 2
    m = np.zeros((out_size, in_size))
    m[np.arange(out_size), src] = 1.0
    return m


def linear_matrix(in_size, out_size, align_corners, scale_factor=None):
    """(out, in) with weights 1 - t and t on the two input positions around each output's source point."""
    scale = _scale(in_size, out_size, align_corners, scale_factor)
    dst = np.arange(out_size, dtype=np.float64)
    src = dst * scale if align_corners else np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    left = np.minimum(src.astype(np.int64), in_size - 1)
    right = np.minimum(left + 1, in_size - 1)
    t = np.clip(src - left, 0.0, 1.0)
    m = np.zeros((out_size, in_size))
    np.add.at(m, (np.arange(out_size), left), 1.0 - t)
    np.add.at(m, (np.arange(out_size), right), t)
    return m


def cubic_matrix(in_size, out_size, align_corners, scale_factor=None):
    """(out, in) with Keys' cubic convolution weights (A = -0.75, as PyTorch) on four input positions.

    Positions past the edges read the edge value, so their weights add onto it.
    """
    scale = _scale(in_size, out_size, align_corners, scale_factor)
    dst = np.arange(out_size, dtype=np.float64)
    src = dst * scale if align_corners else (dst + 0.5) * scale - 0.5  # not clamped at 0 (unlike linear)
    first = np.floor(src).astype(np.int64)
    t = src - first
    a = -0.75
    near = lambda d: ((a + 2) * d - (a + 3)) * d * d + 1  # noqa: E731  |d| <= 1
    far = lambda d: ((a * d - 5 * a) * d + 8 * a) * d - 4 * a  # noqa: E731  1 < |d| < 2
    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    m = np.zeros((out_size, in_size))
    for k, w in enumerate(weights):
        np.add.at(m, (np.arange(out_size), np.clip(first - 1 + k, 0, in_size - 1)), w)
    return m


# ---- the recorded op ---------------------------------------------------------------------------------
@op(method=False, function=False, nn="interpolate")
def resample(x, rows, cols, name):
    """rows @ x @ cols^T over the last two axes (rows None: x @ cols^T over the last axis)."""
    rows = None if rows is None else rows.astype(x._data.dtype)
    cols = cols.astype(x._data.dtype)
    out = x._data @ cols.T
    if rows is not None:
        out = rows @ out
    return record(out, name, lambda g: (_resample_adjoint(g, rows, cols, name),), (x,))


def _resample_adjoint(g, rows, cols, name):
    """rows^T @ g @ cols: each output's gradient sent back to the input positions it read."""
    out = g._data @ cols
    if rows is not None:
        out = rows.T @ out
    return record(out, name.replace("Backward0", "BackwardBackward0"),
                  lambda u: (resample(u, rows, cols, name),), (g,))


# ---- pixel shuffle -----------------------------------------------------------------------------------
def _check_shuffle(op, x, factor, divisible_axis):
    if x.ndim < 3:
        raise RuntimeError(f"{op} expects input to have at least 3 dimensions, but got input with {x.ndim} "
                           f"dimension(s)")
    if factor < 1:
        raise RuntimeError(f"{op} expects a positive factor, but got {factor}")
    size = x.shape[divisible_axis]
    if divisible_axis == -3 and size % (factor * factor):
        raise RuntimeError(f"{op} expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={size} is not divisible by {factor * factor}")
    if divisible_axis != -3 and size % factor:
        what = "height" if divisible_axis == -2 else "width"
        raise RuntimeError(f"{op} expects {what} to be divisible by downscale_factor, but "
                           f"input.size({divisible_axis})={size} is not divisible by {factor}")


@op(method=False, function=False, nn=True)
def pixel_shuffle(x, r):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r): out[c, h*r + i, w*r + j] = x[c*r*r + i*r + j, h, w]."""
    _check_shuffle("pixel_shuffle", x, r, -3)
    *batch, c, h, w = x._data.shape
    blocks = x._data.reshape(*batch, c // (r * r), r, r, h, w)
    k = len(batch)
    out = blocks.transpose(*range(k), k, k + 3, k + 1, k + 4, k + 2).reshape(*batch, c // (r * r), h * r, w * r)
    return record(out, "PixelShuffleBackward0", lambda g: (pixel_unshuffle(g, r),), (x,))


@op(method=False, function=False, nn=True)
def pixel_unshuffle(x, r):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), the inverse of pixel_shuffle."""
    _check_shuffle("pixel_unshuffle", x, r, -2)
    _check_shuffle("pixel_unshuffle", x, r, -1)
    *batch, c, hr, wr = x._data.shape
    k = len(batch)
    blocks = x._data.reshape(*batch, c, hr // r, r, wr // r, r)
    out = blocks.transpose(*range(k), k, k + 2, k + 4, k + 1, k + 3).reshape(*batch, c * r * r, hr // r, wr // r)
    return record(out, "PixelUnshuffleBackward0", lambda g: (pixel_shuffle(g, r),), (x,))


# ---- channel shuffle ---------------------------------------------------------------------------------
@op(method=False, function=False, nn="channel_shuffle native_channel_shuffle")
def channel_shuffle(input, groups):
    """Channels (g groups of C/g) reordered to C/g groups of g: channel i*C/g + j moves to j*g + i."""
    if input.ndim <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with sizes "
                           f"{list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    n, c = input.shape[0], input.shape[1]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    rest = input._data.shape[2:]
    out = input._data.reshape(n, groups, c // groups, *rest).swapaxes(1, 2).reshape(input._data.shape)

    def backward(g):
        return (channel_shuffle(g, c // groups),)  # shuffling with C/g groups undoes it
    return record(np.ascontiguousarray(out), "ChannelShuffleBackward0", backward, (input,))
