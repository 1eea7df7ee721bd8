"""2-D convolution as an autograd op over the conv kernels (``gradlab.kernels``).

A convolution y = conv(x, w) is linear in x and linear in w, so its
gradients are convolutions too:

    grad_x = conv2d_input_grad(g, w)    a transposed convolution of g by w
    grad_w = conv2d_weight_grad(g, x)   the correlation of x with g
    grad_b = g summed over batch and pixels

During an ordinary backward one kernel call (``conv2d_backward``) computes
only the gradients that are needed: no grad_x for the first layer of a
network, whose input is data.  Under ``create_graph=True`` the gradients are
built from ``conv2d_input_grad`` and ``conv2d_weight_grad`` below, which are
recorded ops themselves; their backwards are again the three maps above, so
convolution can be differentiated any number of times.
"""
from .. import kernels
from ..autograd import grad_mode
from ..autograd.function import record
from .._tensor import Tensor


def _check(x, weight, bias, stride, padding, dilation, groups):
    """PyTorch's argument checks, with messages that name the shapes."""
    xs, ws = x._data.shape, weight._data.shape
    if len(ws) != 4:
        raise RuntimeError(f"conv2d: expected a 4-D weight (out_channels, in_channels / groups, kh, kw), got "
                           f"shape {ws}")
    if len(xs) != 4:
        raise RuntimeError(f"conv2d: Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of "
                           f"size: {list(xs)}")
    if x._data.dtype.kind != "f" or x._data.dtype != weight._data.dtype:
        raise RuntimeError(f"conv2d: Input type ({x.dtype}) and weight type ({weight.dtype}) should be the same "
                           f"floating-point type")
    if groups < 1 or ws[0] % groups:
        raise RuntimeError(f"conv2d: groups must be a positive divisor of out_channels, got groups={groups} for "
                           f"weight of shape {ws}")
    if xs[1] != ws[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(ws)}, expected input{list(xs)} to have "
                           f"{ws[1] * groups} channels, but got {xs[1]} channels instead")
    if bias is not None and bias._data.shape != ws[:1]:
        raise RuntimeError(f"conv2d: bias should have shape ({ws[0]},), got {bias._data.shape}")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise RuntimeError(f"conv2d: stride and dilation must be positive and padding non-negative, got "
                           f"stride={stride}, padding={padding}, dilation={dilation}")
    padded = (xs[2] + 2 * padding[0], xs[3] + 2 * padding[1])
    if padded[0] < dilation[0] * (ws[2] - 1) + 1 or padded[1] < dilation[1] * (ws[3] - 1) + 1:
        raise RuntimeError(f"conv2d: Calculated padded input size per channel: ({padded[0]} x {padded[1]}). "
                           f"Kernel size: ({ws[2]} x {ws[3]}). Kernel size can't be greater than actual input size")


def conv2d(x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """y[n, o] = bias[o] + sum over c, i, j of weight[o, c, i, j] * xpad[n, c, s*h + d*i, s*w + d*j]."""
    if x._data.ndim == 3:  # unbatched (C, H, W)
        return conv2d(x.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    _check(x, weight, bias, stride, padding, dilation, groups)
    geometry = (stride, padding, dilation, groups)
    y = kernels.conv2d_forward(x._data, weight._data, None if bias is None else bias._data, *geometry)

    def backward(g):
        need_x, need_w = x._requires_grad, weight._requires_grad
        need_b = bias is not None and bias._requires_grad
        if grad_mode.state.enabled:  # create_graph: gradients as recorded (differentiable) ops
            gx = conv2d_input_grad(g, weight, x.shape, *geometry) if need_x else None
            gw = conv2d_weight_grad(g, x, weight.shape, *geometry) if need_w else None
            gb = g.sum((0, 2, 3)) if need_b else None
        else:
            gx, gw, gb = kernels.conv2d_backward(g._data, x._data, weight._data, *geometry, need_input=need_x,
                                                 need_weight=need_w, need_bias=need_b)
            gx, gw, gb = (None if a is None else Tensor._wrap(a) for a in (gx, gw, gb))
        return (gx, gw) if bias is None else (gx, gw, gb)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return record(y, "ConvolutionBackward0", backward, inputs, saved=(x, weight))


def conv2d_input_grad(g, weight, input_shape, stride, padding, dilation, groups):
    """The gradient of conv2d with respect to its input: a transposed convolution of g by weight.

    It is linear in g and in weight; with u its output gradient (input-shaped),
    d/dg = conv2d(u, weight) and d/dweight = conv2d_weight_grad(g, u).
    """
    geometry = (stride, padding, dilation, groups)
    out = kernels.conv2d_input_grad(g._data, weight._data, tuple(input_shape), *geometry)

    def backward(u):
        return (conv2d(u, weight, None, *geometry) if g._requires_grad else None,
                conv2d_weight_grad(g, u, weight.shape, *geometry) if weight._requires_grad else None)
    return record(out, "ConvolutionBackwardBackward0", backward, (g, weight), saved=(g, weight))


def conv2d_weight_grad(g, x, weight_shape, stride, padding, dilation, groups):
    """The gradient of conv2d with respect to its weight: the correlation of x with g.

    With u its output gradient (weight-shaped), d/dg = conv2d(x, u) and
    d/dx = conv2d_input_grad(g, u).
    """
    geometry = (stride, padding, dilation, groups)
    out = kernels.conv2d_weight_grad(g._data, x._data, tuple(weight_shape), *geometry)

    def backward(u):
        return (conv2d(x, u, None, *geometry) if g._requires_grad else None,
                conv2d_input_grad(g, u, x.shape, *geometry) if x._requires_grad else None)
    return record(out, "ConvolutionBackwardBackward0", backward, (g, x), saved=(g, x))
