"""Pooling as autograd ops over the pooling kernels (``gradlab.kernels``).

Max pooling remembers, for each output, where in its input plane the maximum
was (the flat index h * W + w, as PyTorch's ``return_indices``).  Its
gradient sends each output gradient back to that one input position
(``scatter_by_index``); the gradient of that scatter is the matching gather,
so max pooling is differentiable twice.  Average pooling spreads each output
gradient evenly over its window.  Adaptive average pooling is two small
matrix products (rows, then columns); its gradient is the transposed products.
"""
import numpy as np

from .. import kernels
from .._tensor import Tensor
from ..autograd import grad_mode
from ..autograd.record import record


def _check_input(x, op):
    if x.ndim not in (3, 4):
        raise RuntimeError(f"{op}: Expected 3D or 4D (batch mode) tensor for input, got shape {tuple(x.shape)}")
    _check_float(x, op)


def _check_float(x, op):
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating-point input, got {x.dtype}")


def _check_window(x, kernel_size, stride, padding, dilation, op):
    if min(kernel_size) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise RuntimeError(f"{op}: kernel_size, stride and dilation must be positive, got kernel_size="
                           f"{kernel_size}, stride={stride}, dilation={dilation}")
    if padding[0] * 2 > kernel_size[0] or padding[1] * 2 > kernel_size[1]:
        raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, but got pad={padding}, "
                           f"kernel_size={kernel_size}")


def _unbatched(fn, x, *args):
    """Run a pooling op on a (C, H, W) input as a batch of one."""
    result = fn(x.unsqueeze(0), *args)
    if isinstance(result, tuple):
        return tuple(r.squeeze(0) if r is not None else None for r in result)
    return result.squeeze(0)


def max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices=False):
    """(output, indices or None): the maximum of each window and its flat position h * W + w.

    An unbatched (C, H, W) input is pooled as a batch of one inside the same node.
    """
    _check_input(x, "max_pool2d")
    _check_window(x, kernel_size, stride, padding, dilation, "max_pool2d")
    geometry = (kernel_size, stride, padding, dilation, ceil_mode)
    # the argmax positions are kept only when backward or the caller needs them
    need_indices = return_indices or (grad_mode.state.enabled and x._requires_grad)
    batched = x._data.ndim == 4
    xd = x._data if batched else x._data[None]
    y, indices = kernels.max_pool2d_forward(xd, *geometry, return_indices=need_indices)
    shape = xd.shape

    def backward(g):  # a recorded scatter, differentiable again
        """grad_x = g sent to the position of each window's max, 0 elsewhere"""
        if batched:
            return (scatter_by_index(g, indices, shape),)
        return (scatter_by_index(g.unsqueeze(0), indices, shape).squeeze(0),)

    def fast(g):
        grad = kernels.max_pool2d_backward(g._data if batched else g._data[None], indices, shape)
        return (Tensor._wrap(grad if batched else grad[0]),)
    out = record(y if batched else y[0], "MaxPool2DWithIndicesBackward0", backward, (x,), fast=fast)
    if not return_indices:
        return out, None
    return out, Tensor._wrap(indices if batched else indices[0])


def scatter_by_index(g, indices, shape):
    """Zeros of ``shape`` (N, C, H, W) with g[n, c, i, j] added at flat plane position indices[n, c, i, j]."""
    n, c, h, w = shape
    out = np.zeros((n * c, h * w), dtype=g._data.dtype)
    rows = np.arange(n * c)[:, None]
    per_plane = int(np.prod(indices.shape[2:]))  # (not -1: it cannot be inferred for an empty batch)
    np.add.at(out, (rows, indices.reshape(n * c, per_plane)), g._data.reshape(n * c, per_plane))
    return record(out.reshape(shape), "MaxPool2DWithIndicesBackwardBackward0",
                  lambda gg: (gather_by_index(gg, indices),), (g,))


def gather_by_index(x, indices):
    """out[n, c, i, j] = x[n, c].flat[indices[n, c, i, j]]: reading the positions max pooling chose."""
    n, c = x._data.shape[:2]
    flat = x._data.reshape(n * c, int(np.prod(x._data.shape[2:])))
    out = np.take_along_axis(flat, indices.reshape(n * c, int(np.prod(indices.shape[2:]))), 1)
    out = out.reshape(indices.shape)
    shape = x._data.shape
    return record(out, "GatherBackward0", lambda g: (scatter_by_index(g, indices, shape),), (x,))


def avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad=True, divisor_override=None):
    """The mean of each window (divided by the window's size, or by ``divisor_override``).

    An unbatched (C, H, W) input is pooled as a batch of one inside the same node.
    """
    _check_input(x, "avg_pool2d")
    _check_window(x, kernel_size, stride, padding, (1, 1), "avg_pool2d")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("avg_pool2d: divisor must be not zero")
    geometry = (kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    batched = x._data.ndim == 4
    y = kernels.avg_pool2d_forward(x._data if batched else x._data[None], *geometry)
    shape = x._data.shape

    def backward(g):
        """grad_x = g / window size, spread over each window"""
        # linear in g: its backward is avg_pool2d again (the kernel's backward is its adjoint)
        return (_avg_pool2d_adjoint(g, shape, geometry),)
    return record(y if batched else y[0], "AvgPool2DBackward0", backward, (x,))


def _avg_pool2d_adjoint(g, shape, geometry):
    """The gradient of avg_pool2d for an input of ``shape``, (N, C, H, W) or (C, H, W)."""
    if len(shape) == 4:
        out = kernels.avg_pool2d_backward(g._data, shape, *geometry)
    else:
        out = kernels.avg_pool2d_backward(g._data[None], (1,) + shape, *geometry)[0]
    return record(out, "AvgPool2DBackwardBackward0", lambda u: (avg_pool2d(u, *geometry),), (g,))


def _bin_matrix(size, out_size, dtype):
    """(out_size, size): row i averages input positions floor(i*size/out) .. ceil((i+1)*size/out) - 1."""
    m = np.zeros((out_size, size), dtype=dtype)
    for i in range(out_size):
        start, end = (i * size) // out_size, -(-((i + 1) * size) // out_size)
        m[i, start:end] = 1.0 / (end - start)
    return m


def adaptive_avg_pool2d(x, output_size):
    """Average over an output_size grid of bins: rows_matrix @ x @ cols_matrix^T, one node.

    A 1x1 output is the mean over the plane, which PyTorch records as a mean.
    """
    _check_input(x, "adaptive_avg_pool2d")
    oh, ow = output_size
    h, w = x.shape[-2:]
    if oh < 0 or ow < 0 or (h == 0 or w == 0):
        raise RuntimeError(f"adaptive_avg_pool2d: invalid output_size {output_size} for input of shape "
                           f"{tuple(x.shape)}")
    if (oh, ow) == (1, 1):
        return x.mean((-2, -1), keepdim=True)
    rows = _bin_matrix(h, oh, x._data.dtype)
    cols = _bin_matrix(w, ow, x._data.dtype)
    return _pool_bins(x, rows, cols)


def _pool_bins(x, rows, cols):
    """rows @ x @ cols^T over the last two axes; its gradient is the transposed product, recorded too."""
    return record(rows @ x._data @ cols.T, "AdaptiveAvgPool2DBackward0",
                  lambda g: (_spread_bins(g, rows, cols),), (x,))


def _spread_bins(g, rows, cols):
    """rows^T @ g @ cols: each output's gradient shared evenly over its bin (the adjoint of _pool_bins)."""
    return record(rows.T @ g._data @ cols, "AdaptiveAvgPool2DBackwardBackward0",
                  lambda u: (_pool_bins(u, rows, cols),), (g,))


def adaptive_max_pool2d(x, output_size):
    """(maxima over an output_size grid of bins, their flat positions h * W + w)."""
    _check_input(x, "adaptive_max_pool2d")
    if x.ndim == 3:
        return _unbatched(adaptive_max_pool2d, x, output_size)
    n, c, h, w = x._data.shape
    oh, ow = output_size
    y = np.empty((n, c, oh, ow), dtype=x._data.dtype)
    indices = np.empty((n, c, oh, ow), dtype=np.int64)
    for i in range(oh):
        h0, h1 = (i * h) // oh, -(-((i + 1) * h) // oh)
        for j in range(ow):
            w0, w1 = (j * w) // ow, -(-((j + 1) * w) // ow)
            window = x._data[:, :, h0:h1, w0:w1].reshape(n, c, (h1 - h0) * (w1 - w0))
            best = window.argmax(axis=2)
            y[:, :, i, j] = np.take_along_axis(window, best[..., None], 2)[..., 0]
            indices[:, :, i, j] = (h0 + best // (w1 - w0)) * w + w0 + best % (w1 - w0)
    shape = x._data.shape
    out = record(y, "AdaptiveMaxPool2DBackward0", lambda g: (scatter_by_index(g, indices, shape),), (x,))
    return out, Tensor._wrap(indices)


# ---- 1-D pooling: 2-D pooling over a height-1 axis, as PyTorch (unsqueeze, pool, squeeze) ---------------
def _check_1d(x, op):
    if x.ndim not in (2, 3):
        raise RuntimeError(f"{op}: Expected 2D or 3D (batch mode) tensor for input, got shape {tuple(x.shape)}")
    _check_float(x, op)  # (here, so that the error names the 1-D op rather than the 2-D one it calls)


def _check_window_1d(op, kernel_size, stride, padding, dilation=1):
    """PyTorch's checks of a 1-D window, so that errors name the 1-D op and its 1-D arguments."""
    for name, value in (("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
        if value < 1:
            raise RuntimeError(f"{op}() {name} must be greater than zero, but got {value}")
    if padding * 2 > kernel_size:
        raise RuntimeError(f"{op}() padding should be at most half of kernel size, but got padding={padding} and "
                           f"kernel_size={kernel_size}")


def max_pool1d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices=False):
    """(output, indices or None) of max pooling along the last axis of (N, C, L) or (C, L)."""
    _check_1d(x, "max_pool1d")
    _check_window_1d("max_pool1d", kernel_size, stride, padding, dilation)
    out, indices = max_pool2d(x.unsqueeze(-2), (1, kernel_size), (1, stride), (0, padding), (1, dilation),
                              ceil_mode, return_indices)
    return out.squeeze(-2), None if indices is None else indices.squeeze(-2)


def avg_pool1d(x, kernel_size, stride, padding, ceil_mode, count_include_pad=True):
    _check_1d(x, "avg_pool1d")
    _check_window_1d("avg_pool1d", kernel_size, stride, padding)
    out = avg_pool2d(x.unsqueeze(-2), (1, kernel_size), (1, stride), (0, padding), ceil_mode, count_include_pad)
    return out.squeeze(-2)


def adaptive_avg_pool1d(x, output_size):
    _check_1d(x, "adaptive_avg_pool1d")
    return adaptive_avg_pool2d(x.unsqueeze(-2), (1, output_size)).squeeze(-2)


def adaptive_max_pool1d(x, output_size):
    """(maxima over output_size bins of the last axis, their positions along it)."""
    _check_1d(x, "adaptive_max_pool1d")
    out, indices = adaptive_max_pool2d(x.unsqueeze(-2), (1, output_size))
    return out.squeeze(-2), indices.squeeze(-2)
