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

``unfold`` (im2col) and ``fold`` (col2im), the two halves of that machinery,
are ops of their own at the end of this file (``F.unfold``, ``F.fold``).
"""
import numpy as np

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


# ---- unfold (im2col) and fold (col2im) ----------------------------------------------------------------
# unfold copies every kernel-sized block of an image into a column; fold adds columns back into an image,
# summing where blocks overlap.  Each is the other's adjoint, <unfold(x), c> == <x, fold(c)>, so the
# backward of each is the other one, and both can be differentiated any number of times.

_LIMITS = {  # argument: (its name in messages, prefix of its two values, smallest allowed value)
    "kernel_size": ("kernel size", "kernel", 1),
    "dilation": ("dilation", "dilation", 1),
    "padding": ("padding", "pad", 0),
    "stride": ("stride", "stride", 1),
}


def _int_pair(op, name, value):
    """(h, w) from an int or a sequence of two ints, with PyTorch's errors for anything else."""
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        return value  # already normalised (the backward passes call with such tuples)
    try:
        items = tuple(value)
    except TypeError:
        items = (value, value)  # one value stands for both axes
    for pos, item in enumerate(items):
        if not _is_int(item):
            raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, but found element of type "
                            f"{type(item).__name__} at pos {pos}")
    if len(items) != 2:
        raise RuntimeError(f"{op}: It is expected {name} equals to 2, but got size {len(items)}")
    return (int(items[0]), int(items[1]))


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _geometry(op, order, **pairs):
    """Normalise the kernel_size, dilation, padding and stride arguments, checked in PyTorch's order."""
    pairs = {name: _int_pair(op, name, value) for name, value in pairs.items()}
    for name in order:
        label, prefix, smallest = _LIMITS[name]
        h, w = pairs[name]
        if h < smallest or w < smallest:
            bound = "greater than zero" if smallest else "non-negative"
            raise RuntimeError(f"{op}: {label} should be {bound}, but got {prefix}_height: {h} {prefix}_width: {w}")
    return pairs["kernel_size"], pairs["dilation"], pairs["padding"], pairs["stride"]


def _blocks(size, kernel, dilation, padding, stride):
    """Number of block positions along one axis (floor division: it may be <= 0 when the kernel does not fit)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _float_array(op, array):
    """The array in a dtype the kernels take: bool (allowed by PyTorch) is computed as float32."""
    if array.dtype.kind == "f":
        return array
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    raise NotImplementedError(f"{op}: not implemented for dtype {array.dtype}; expected a floating point "
                              f"(or bool) tensor")


def _like(result, array):
    """Cast a kernel result back to the input's dtype (bool: nonzero is True)."""
    return result != 0 if array.dtype == np.bool_ else result


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) -> (N, C*kh*kw, L), every block as a column; (C, H, W) -> (C*kh*kw, L).

    Row c*kh*kw + i*kw + j of column l holds channel c at kernel tap (i, j) of
    block l (blocks in row-major order), zero where the tap falls in the padding.
    """
    kernel, dilation, padding, stride = _geometry("unfold", ("kernel_size", "dilation", "padding", "stride"),
                                                  kernel_size=kernel_size, dilation=dilation,
                                                  padding=padding, stride=stride)
    shape = x._data.shape
    if len(shape) not in (3, 4) or 0 in shape[-3:]:
        raise RuntimeError(f"unfold: Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other "
                           f"non-zero dimensions for input, but got: {list(shape)}")
    image_size = shape[-2:]
    blocks = tuple(_blocks(*args) for args in zip(image_size, kernel, dilation, padding, stride))
    if min(blocks) < 1:
        raise RuntimeError(f"unfold: Given input with spatial size {image_size}, kernel_size={kernel}, "
                           f"dilation={dilation}, padding={padding}, calculated shape of the array of sliding "
                           f"blocks as {blocks}, but its components must be at least one.")
    batched = len(shape) == 4
    images = x._data if batched else x._data[None]
    cols = kernels.im2col(_float_array("unfold", images), kernel, stride, padding, dilation)
    cols = _like(cols if batched else cols[0], x._data)

    def backward(g):
        return (fold(g, image_size, kernel, dilation, padding, stride),)
    return record(cols, "Im2ColBackward0", backward, (x,))


def fold(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im: (N, C*kh*kw, L) -> (N, C, H, W) with (H, W) = output_size; (C*kh*kw, L) -> (C, H, W).

    Every column entry is added at the pixel unfold would have read it from,
    so a pixel covered by several blocks receives their sum.
    """
    output_size = _int_pair("fold", "output_size", output_size)
    kernel, dilation, padding, stride = _geometry("fold", ("kernel_size", "stride", "dilation", "padding"),
                                                  kernel_size=kernel_size, dilation=dilation,
                                                  padding=padding, stride=stride)
    shape = cols._data.shape
    if len(shape) not in (2, 3) or 0 in shape[-2:]:
        raise RuntimeError(f"fold: Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and "
                           f"non-zero dimensions for input, but got: {list(shape)}")
    rows, length = shape[-2:]
    taps = kernel[0] * kernel[1]
    if rows % taps:
        raise RuntimeError(f"fold: Expected size of input's dimension 1 to be divisible by the product of "
                           f"kernel_size, but got input.size(1)={rows} and kernel_size={kernel}.")
    blocks = tuple(_blocks(*args) for args in zip(output_size, kernel, dilation, padding, stride))
    given = f"Given output_size={output_size}, kernel_size={kernel}, dilation={dilation}, padding={padding}, " \
            f"stride={stride}"
    if length != blocks[0] * blocks[1]:
        raise RuntimeError(f"fold: {given}, expected size of input's dimension 2 to match the calculated number of "
                           f"sliding blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but got "
                           f"input.size(2)={length}.")
    if min(blocks) < 1:
        raise RuntimeError(f"fold: {given}, calculated shape of the array of sliding blocks as {blocks}, which is "
                           f"too small (non-positive)")
    if min(output_size) < 1:
        raise RuntimeError(f"fold: Expected output spatial size to be positive, but got: output_size={output_size}.")
    batched = len(shape) == 3
    columns = cols._data if batched else cols._data[None]
    image_shape = (columns.shape[0], rows // taps) + output_size
    images = kernels.col2im(_float_array("fold", columns), image_shape, kernel, stride, padding, dilation)
    images = _like(images if batched else images[0], cols._data)

    def backward(g):
        return (unfold(g, kernel, dilation, padding, stride),)
    return record(images, "Col2ImBackward0", backward, (cols,))
