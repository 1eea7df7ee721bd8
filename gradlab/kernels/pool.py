"""2-D max and average pooling in plain NumPy: the readable twin of gradlab_ext/pool.pyx.

Same names, signatures and results as the compiled kernels.  Shapes are NCHW.

Which input positions does output (oh, ow) look at?  Exactly as PyTorch:
    rows    oh*sh - ph + i*dh   for i in range(kh)
    columns ow*sw - pw + j*dw   for j in range(kw)
Positions outside the input (the padding) never take part: for max pooling
they are -inf, for average pooling they are 0 and count in the divisor only
when count_include_pad is True.

Max pooling also returns, when asked, the argmax of each window as a flat
index ih*W + iw into the input plane (PyTorch's convention), which is all
the backward pass needs: the gradient of a max flows only to the winner.
"""
import numpy as np

from .geometry import pool2d_output_size, sliding_windows

__all__ = [
    "max_pool2d_forward",
    "max_pool2d_backward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
]


def _window_view(xpad, out_hw, kernel_size, stride, dilation):
    """(N, C, Ho, Wo, kh, kw) strided view: view[..., oh, ow, i, j] = xpad[..., oh*sh + i*dh, ow*sw + j*dw]."""
    return sliding_windows(xpad, out_hw, kernel_size, stride, dilation).transpose(0, 1, 4, 5, 2, 3)


def _pad(x, out_hw, kernel_size, stride, padding, dilation, value):
    """Pad x with `value`: `padding` on every side, plus whatever the last
    window needs on the bottom/right in ceil mode (it may hang over)."""
    n, c, h, w = x.shape
    ho, wo = out_hw
    kh, kw = kernel_size
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    need_h = (ho - 1) * sh + (kh - 1) * dh + 1    # padded rows the windows reach
    need_w = (wo - 1) * sw + (kw - 1) * dw + 1
    hp = max(h + 2 * ph, need_h)
    wp = max(w + 2 * pw, need_w)
    xpad = np.full((n, c, hp, wp), value, dtype=x.dtype)
    xpad[:, :, ph:ph + h, pw:pw + w] = x
    return xpad


def max_pool2d_forward(x, kernel_size, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False,
                       return_indices=False):
    """(y, indices): the max over each window, and where it was (None unless return_indices).

    Tie rule (PyTorch's): the first maximum in row-major window order wins,
    except that a NaN always wins (and then the last NaN of the window).
    A window with no input position at all gives -inf and index -1.
    """
    n, c, h, w = x.shape
    kh, kw = kernel_size
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    ho = pool2d_output_size(h, kh, sh, ph, dh, ceil_mode)
    wo = pool2d_output_size(w, kw, sw, pw, dw, ceil_mode)
    if n * c == 0:
        return np.empty((n, c, ho, wo), x.dtype), np.empty((n, c, ho, wo), np.int64) if return_indices else None
    xpad = _pad(x, (ho, wo), kernel_size, stride, padding, dilation, -np.inf)
    windows = _window_view(xpad, (ho, wo), kernel_size, stride, dilation)
    windows = windows.reshape(n, c, ho, wo, kh * kw)          # copies
    y = windows.max(axis=-1)                                   # NaN propagates
    if not return_indices:
        return y, None

    # input row/column of every window slot, and whether it is a real input position
    rows = (np.arange(ho) * sh - ph)[:, None] + (np.arange(kh) * dh)[None, :]   # (Ho, kh)
    cols = (np.arange(wo) * sw - pw)[:, None] + (np.arange(kw) * dw)[None, :]   # (Wo, kw)
    inside = (((rows >= 0) & (rows < h))[:, None, :, None]
              & ((cols >= 0) & (cols < w))[None, :, None, :]).reshape(ho, wo, kh * kw)

    # slots holding the window's max (NaN windows: slots holding NaN)
    is_nan = np.isnan(y)[..., None]
    hit = inside & np.where(is_nan, np.isnan(windows), windows == y[..., None])
    first = hit.argmax(axis=-1)                                # first True
    last = kh * kw - 1 - hit[..., ::-1].argmax(axis=-1)        # last True
    k = np.where(is_nan[..., 0], last, first)                  # winning slot
    i, j = np.divmod(k, kw)                                    # slot -> kernel tap
    ih = (np.arange(ho) * sh - ph)[:, None] + i * dh
    iw = (np.arange(wo) * sw - pw)[None, :] + j * dw
    indices = np.where(hit.any(axis=-1), ih * w + iw, -1).astype(np.int64)
    return y, indices


def max_pool2d_backward(grad_out, indices, input_shape):
    """Route each output gradient to its window's argmax.

    Windows overlap when stride < kernel, so one input pixel can win several
    windows; np.add.at adds every contribution (a plain fancy-index
    assignment would keep only one of them).
    """
    n, c, h, w = input_shape
    if np.any((indices < -1) | (indices >= h * w)):
        raise ValueError(f"max_pool2d_backward: indices out of range for an input plane of "
                         f"{h}x{w} (expected -1 or 0 <= index < {h * w})")
    grad_x = np.zeros((n, c, h * w), dtype=grad_out.dtype)
    sample = np.arange(n).reshape(n, 1, 1, 1)
    channel = np.arange(c).reshape(1, c, 1, 1)
    sample, channel = np.broadcast_arrays(sample, channel, indices)[:2]
    keep = indices >= 0                                        # -1: empty window
    np.add.at(grad_x, (sample[keep], channel[keep], indices[keep]), grad_out[keep])
    return grad_x.reshape(n, c, h, w)


def _avg_divisors(h, w, out_hw, kernel_size, stride, padding, count_include_pad, divisor_override):
    """(Ho, Wo) array: what each window's sum is divided by."""
    ho, wo = out_hw
    kh, kw = kernel_size
    sh, sw = stride
    ph, pw = padding
    if divisor_override is not None:
        return np.full((ho, wo), divisor_override)
    h0 = np.arange(ho) * sh - ph                  # window start (padded coordinates)
    w0 = np.arange(wo) * sw - pw
    h1 = np.minimum(h0 + kh, h + ph)              # end, clipped to the padded input
    w1 = np.minimum(w0 + kw, w + pw)
    if not count_include_pad:                     # clip to the real input too
        h0, w0 = np.maximum(h0, 0), np.maximum(w0, 0)
        h1, w1 = np.minimum(h1, h), np.minimum(w1, w)
    area = np.maximum(h1 - h0, 0)[:, None] * np.maximum(w1 - w0, 0)[None, :]
    return np.maximum(area, 1)                    # an empty window sums to 0 anyway


def avg_pool2d_forward(x, kernel_size, stride, padding=(0, 0), ceil_mode=False,
                       count_include_pad=True, divisor_override=None):
    """Mean over each window (sum of the input positions / divisor)."""
    n, c, h, w = x.shape
    kh, kw = kernel_size
    sh, sw = stride
    ph, pw = padding
    ho = pool2d_output_size(h, kh, sh, ph, 1, ceil_mode)
    wo = pool2d_output_size(w, kw, sw, pw, 1, ceil_mode)
    if n * c == 0:
        return np.empty((n, c, ho, wo), x.dtype)
    xpad = _pad(x, (ho, wo), kernel_size, stride, padding, (1, 1), 0)
    sums = _window_view(xpad, (ho, wo), kernel_size, stride, (1, 1)).sum(axis=(4, 5))
    div = _avg_divisors(h, w, (ho, wo), kernel_size, stride, padding, count_include_pad,
                        divisor_override)
    return (sums / div).astype(x.dtype, copy=False)


def avg_pool2d_backward(grad_out, input_shape, kernel_size, stride, padding=(0, 0), ceil_mode=False,
                        count_include_pad=True, divisor_override=None):
    """Every input position of a window receives grad / divisor of that window.

    Loop over the kh*kw kernel taps: tap (i, j) of all windows at once is a
    strided slice of the padded gradient, so each tap is one vectorised add.
    """
    n, c, h, w = input_shape
    kh, kw = kernel_size
    sh, sw = stride
    ph, pw = padding
    ho, wo = grad_out.shape[2:]
    if n * c * h * w == 0:     # (the loop over the kernel taps below could be long)
        return np.zeros(input_shape, dtype=grad_out.dtype)
    div = _avg_divisors(h, w, (ho, wo), kernel_size, stride, padding, count_include_pad,
                        divisor_override)
    share = (grad_out / div).astype(grad_out.dtype, copy=False)
    gpad = _pad(np.zeros(input_shape, dtype=grad_out.dtype), (ho, wo), kernel_size, stride,
                padding, (1, 1), 0)
    for i in range(kh):
        for j in range(kw):
            gpad[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw] += share
    return gpad[:, :, ph:ph + h, pw:pw + w].copy()
