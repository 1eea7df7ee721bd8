"""2-D convolution in plain NumPy: the readable twin of gradlab_ext/conv.pyx.

Every function here has the same name, signature and result (up to float
rounding) as its compiled twin.  Read this file first; the .pyx does the same
work, only in a loop order that keeps the data in cache.

Shapes (NCHW, as PyTorch):
    x        (N, C, H, W)            input batch
    w        (Cout, C // groups, kh, kw)
    b        (Cout,) or None
    y        (N, Cout, Ho, Wo)       with Ho = (H + 2*ph - dh*(kh-1) - 1) // sh + 1

The idea ("im2col"): every output pixel is a dot product between the kernel
and one kh x kw patch of the input.  Copy each patch into a column of a
matrix ``cols`` of shape (C*kh*kw, Ho*Wo); the convolution of one sample is
then a single matrix product ``w.reshape(Cout, -1) @ cols``.
"""
import numpy as np

from .geometry import conv2d_output_size, sliding_windows

__all__ = [
    "im2col",
    "col2im",
    "conv2d_forward",
    "conv2d_backward",
    "conv2d_input_grad",
    "conv2d_weight_grad",
]


def _padded_windows(x, kernel_size, stride, padding, dilation):
    """A (N, C, kh, kw, Ho, Wo) strided VIEW of the zero-padded input (see geometry.sliding_windows)."""
    ph, pw = padding
    ho = conv2d_output_size(x.shape[2], kernel_size[0], stride[0], ph, dilation[0])
    wo = conv2d_output_size(x.shape[3], kernel_size[1], stride[1], pw, dilation[1])
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    return sliding_windows(xpad, (ho, wo), kernel_size, stride, dilation)


def im2col(x, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Unfold x (N, C, H, W) into cols (N, C*kh*kw, Ho*Wo).

    Row (c, i, j) of cols[n] holds input channel c seen through kernel tap
    (i, j) at every output position, zero where the tap falls in the padding.
    """
    windows = _padded_windows(x, kernel_size, stride, padding, dilation)
    n, c, kh, kw, ho, wo = windows.shape
    if x.size == 0:
        return np.zeros((n, c * kh * kw, ho * wo), dtype=x.dtype)
    return windows.reshape(n, c * kh * kw, ho * wo)  # reshape of a view copies


def col2im(cols, input_shape, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Fold cols (N, C*kh*kw, Ho*Wo) back into an (N, C, H, W) array.

    The adjoint of im2col: every column entry is ADDED to the input position
    it was copied from, so a pixel seen by several windows sums their values.
    np.add.at does that unbuffered add (plain fancy-index += would keep only
    one of the repeated positions).
    """
    n, c, h, w = input_shape
    if cols.size == 0:
        return np.zeros(input_shape, dtype=cols.dtype)
    kh, kw = kernel_size
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    ho = conv2d_output_size(h, kh, sh, ph, dh)
    wo = conv2d_output_size(w, kw, sw, pw, dw)
    # padded row / column read by tap (i, j) at output (oh, ow)
    rows = (np.arange(kh) * dh)[:, None] + (np.arange(ho) * sh)[None, :]  # (kh, Ho)
    colx = (np.arange(kw) * dw)[:, None] + (np.arange(wo) * sw)[None, :]  # (kw, Wo)
    # broadcast to (C, kh, kw, Ho, Wo), the order of the rows and columns of cols
    ci = np.arange(c)[:, None, None, None, None]
    ri = rows[None, :, None, :, None]
    wi = colx[None, None, :, None, :]
    xpad = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    values = cols.reshape(n, c, kh, kw, ho, wo)
    np.add.at(xpad, (slice(None), ci, ri, wi), values)
    return xpad[:, :, ph:ph + h, pw:pw + w].copy()


def conv2d_forward(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """y = conv2d(x, w) + b, computed as (weights) @ (im2col columns).

    With groups, the C input channels are split into `groups` slices of
    C // groups channels, and each slice is convolved with its own Cout // groups
    filters; the group axis is just one more batch axis for np.matmul.
    """
    n, c, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    ho = conv2d_output_size(h, kh, stride[0], padding[0], dilation[0])
    wo = conv2d_output_size(wd, kw, stride[1], padding[1], dilation[1])
    if x.size == 0 or w.size == 0:      # nothing to multiply (and the columns could be huge)
        y = np.zeros((n, cout, ho, wo), dtype=x.dtype)
    else:
        cols = im2col(x, (kh, kw), stride, padding, dilation)      # (N, C*kh*kw, L)
        cols = cols.reshape(n, groups, cg * kh * kw, ho * wo)        # (N, G, Kg, L)
        wmat = w.reshape(groups, cout // groups, cg * kh * kw)       # (G, Cog, Kg)
        y = np.matmul(wmat, cols).reshape(n, cout, ho, wo)           # (N, G, Cog, L) -> NCHW
    if b is not None:
        y += b.reshape(1, cout, 1, 1)
    return y


def conv2d_backward(grad_out, x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                    need_input=True, need_weight=True, need_bias=True):
    """Gradients of conv2d_forward: (grad_x, grad_w, grad_b), None where not needed.

    With y = W @ cols (per sample and group) and g = dL/dy:
        grad_b    = g summed over batch and pixels
        grad_w    = sum over the batch of  g @ cols^T
        grad_cols = W^T @ g, folded back onto the input by col2im
    """
    grad_x = grad_w = grad_b = None
    if need_bias:
        grad_b = grad_out.sum(axis=(0, 2, 3))
    if need_weight:
        grad_w = conv2d_weight_grad(grad_out, x, w.shape, stride, padding, dilation, groups)
    if need_input:
        grad_x = conv2d_input_grad(grad_out, w, x.shape, stride, padding, dilation, groups)
    return grad_x, grad_w, grad_b


def conv2d_input_grad(grad_out, w, input_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                      groups=1):
    """grad_x = col2im(W^T @ grad_out): a transposed convolution of grad_out."""
    n, cout, ho, wo = grad_out.shape
    cout, cg, kh, kw = w.shape
    if grad_out.size == 0 or w.size == 0:    # a zero gradient (and the columns could be huge)
        return np.zeros(tuple(input_shape), dtype=grad_out.dtype)
    g = grad_out.reshape(n, groups, cout // groups, ho * wo)     # (N, G, Cog, L)
    wmat = w.reshape(groups, cout // groups, cg * kh * kw)       # (G, Cog, Kg)
    grad_cols = np.matmul(wmat.transpose(0, 2, 1), g)            # (N, G, Kg, L)
    grad_cols = grad_cols.reshape(n, groups * cg * kh * kw, ho * wo)
    return col2im(grad_cols, tuple(input_shape), (kh, kw), stride, padding, dilation)


def conv2d_weight_grad(grad_out, x, weight_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                       groups=1):
    """grad_w = sum over the batch of grad_out @ cols^T."""
    n, _, ho, wo = grad_out.shape
    cout, cg, kh, kw = weight_shape
    if grad_out.size == 0 or x.size == 0:    # a zero gradient (and the columns could be huge)
        return np.zeros(tuple(weight_shape), dtype=grad_out.dtype)
    cols = im2col(x, (kh, kw), stride, padding, dilation)
    cols = cols.reshape(n, groups, cg * kh * kw, ho * wo)        # (N, G, Kg, L)
    g = grad_out.reshape(n, groups, cout // groups, ho * wo)     # (N, G, Cog, L)
    grad_w = np.matmul(g, cols.transpose(0, 1, 3, 2)).sum(axis=0)  # (G, Cog, Kg)
    return grad_w.reshape(weight_shape)
