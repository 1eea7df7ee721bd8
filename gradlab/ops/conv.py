"""Convolution (1-D and 2-D, ordinary and transposed) as autograd ops over the conv kernels.

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

A 1-D convolution is a 2-D one over a height-1 image: (N, C, L) is seen as
(N, C, 1, L) with stride (1, s), padding (0, p) and dilation (1, d).

A transposed convolution (``conv_transpose2d``, the "deconvolution" of
generators and decoders) is exactly the input-gradient map of a convolution,
grad_x above, applied to an image.  So its forward is ``conv2d_input_grad``
and its gradients are an ordinary convolution (for its input) and a weight
correlation (for its weight), in one ``ConvolutionBackward0`` node.

``unfold`` (im2col) and ``fold`` (col2im), the two halves of that machinery,
are ops of their own at the end of this file (``F.unfold``, ``F.fold``).
"""
import numpy as np

from .. import kernels
from ..autograd.record import record
from .._tensor import Tensor


# ---- 1-D as 2-D: a height-1 axis ---------------------------------------------------------------------
def _lift(a):
    """An (N, C, L) ndarray as (N, C, 1, L) (a view); 4-D arrays pass through."""
    return a[:, :, None] if a.ndim == 3 else a


def _lower(a, spatial):
    """Undo _lift on a kernel result when the op is 1-D."""
    return a[:, :, 0] if spatial == 1 else a


def _lift_tensor(t, spatial):
    return t.unsqueeze(2) if spatial == 1 else t


def _lower_tensor(t, spatial):
    return t.squeeze(2) if spatial == 1 else t


def _sizes(values, spatial):
    """The spatial entries of a 2-D geometry or shape that a user of the 1-D or 2-D op knows."""
    return tuple(values[-spatial:])


def _check(op, x, weight, bias, stride, padding, dilation, groups, transposed=False):
    """PyTorch's argument checks, with messages that name the shapes.

    x and weight are batched, (N, C, L) / (N, C, H, W); the geometry is in 2-D form.
    """
    xs, ws = x._data.shape, weight._data.shape
    spatial = len(xs) - 2
    if len(ws) != spatial + 2:
        raise RuntimeError(f"{op}: Expected {len(ws)}-dimensional input for {len(ws)}-dimensional weight "
                           f"{list(ws)}, but got {len(xs)}-dimensional input of size {list(xs)} instead")
    if x._data.dtype.kind != "f" or x._data.dtype != weight._data.dtype:
        raise RuntimeError(f"{op}: Input type ({x.dtype}) and weight type ({weight.dtype}) should be the same "
                           f"floating-point type")
    out_channels = ws[1] * groups if transposed else ws[0]
    if groups < 1 or ws[0] % groups:
        raise RuntimeError(f"{op}: groups must be a positive divisor of weight.size(0), got groups={groups} for "
                           f"weight of shape {ws}")
    in_channels = ws[0] if transposed else ws[1] * groups
    if xs[1] != in_channels:
        given = "transposed=1, weight" if transposed else f"groups={groups}, weight"
        raise RuntimeError(f"Given {given} of size {list(ws)}, expected input{list(xs)} to have {in_channels} "
                           f"channels, but got {xs[1]} channels instead")
    if bias is not None and bias._data.shape != (out_channels,):
        raise RuntimeError(f"Given weight of size {list(ws)}, expected bias to be 1-dimensional with "
                           f"{out_channels} elements, but got bias of size {list(bias._data.shape)} instead")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise RuntimeError(f"{op}: stride and dilation must be positive and padding non-negative, got "
                           f"stride={_sizes(stride, spatial)}, padding={_sizes(padding, spatial)}, "
                           f"dilation={_sizes(dilation, spatial)}")
    if transposed:
        return
    padded = [n + 2 * p for n, p in zip(xs[2:], _sizes(padding, spatial))]
    spans = [d * (k - 1) + 1 for d, k in zip(_sizes(dilation, spatial), ws[2:])]
    if any(n < s for n, s in zip(padded, spans)):
        raise RuntimeError(f"{op}: Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
                           f"Kernel size: ({' x '.join(map(str, ws[2:]))}). Kernel size can't be greater than "
                           f"actual input size")


def _unbatched(fn, x, *args):
    """Run a convolution on an input without batch axis as a batch of one (as PyTorch: then a squeeze)."""
    return fn(x.unsqueeze(0), *args).squeeze(0)


def conv2d(x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """y[n, o] = bias[o] + sum over c, i, j of weight[o, c, i, j] * xpad[n, c, s*h + d*i, s*w + d*j]."""
    if x._data.ndim == 3:  # unbatched (C, H, W)
        return _unbatched(conv2d, x, weight, bias, stride, padding, dilation, groups)
    if x._data.ndim != 4:
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: "
                           f"{list(x._data.shape)}")
    return _convolution("conv2d", x, weight, bias, stride, padding, dilation, groups)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, o, l] = bias[o] + sum over c, i of weight[o, c, i] * xpad[n, c, s*l + d*i]: conv2d at height 1."""
    if x._data.ndim == 2:  # unbatched (C, L)
        return _unbatched(conv1d, x, weight, bias, stride, padding, dilation, groups)
    if x._data.ndim != 3:
        raise RuntimeError(f"Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: "
                           f"{list(x._data.shape)}")
    return _convolution("conv1d", x, weight, bias, (1, stride), (0, padding), (1, dilation), groups)


def _convolution(op, x, weight, bias, stride, padding, dilation, groups):
    """The ConvolutionBackward0 node of conv1d and conv2d (a batched input, the geometry in 2-D form)."""
    _check(op, x, weight, bias, stride, padding, dilation, groups)
    spatial = x._data.ndim - 2
    geometry = (stride, padding, dilation, groups)
    x4, w4 = _lift(x._data), _lift(weight._data)
    y = kernels.conv2d_forward(x4, w4, None if bias is None else bias._data, *geometry)

    def backward(g):  # gradients as recorded (differentiable) ops
        """grad_x = conv_transpose2d(g, weight); grad_weight = conv2d of x by g (per channel pair); grad_bias = g summed over N, H, W"""
        g4 = _lift_tensor(g, spatial)
        gx = gw = gb = None
        if x._requires_grad:
            gx = _lower_tensor(conv2d_input_grad(g4, _lift_tensor(weight, spatial), x4.shape, *geometry), spatial)
        if weight._requires_grad:
            gw = _lower_tensor(conv2d_weight_grad(g4, _lift_tensor(x, spatial), w4.shape, *geometry), spatial)
        if bias is not None and bias._requires_grad:
            gb = g4.sum((0, 2, 3))
        return (gx, gw) if bias is None else (gx, gw, gb)

    def fast(g):  # the kernels' backward, on arrays
        grads = kernels.conv2d_backward(_lift(g._data), x4, w4, *geometry, need_input=x._requires_grad,
                                        need_weight=weight._requires_grad,
                                        need_bias=bias is not None and bias._requires_grad)
        gx, gw, gb = (None if a is None else Tensor._wrap(a if a.ndim == 1 else _lower(a, spatial)) for a in grads)
        return (gx, gw) if bias is None else (gx, gw, gb)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return record(_lower(y, spatial), "ConvolutionBackward0", backward, inputs, saved=(x, weight), fast=fast)


# ---- transposed convolution --------------------------------------------------------------------------
def conv_transpose2d(x, weight, bias=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), groups=1,
                     dilation=(1, 1)):
    """The adjoint of conv2d: every input pixel adds weight[c] (scaled by it) into a stride-spaced output.

    weight is (in_channels, out_channels // groups, kh, kw); the output side is
    (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1.
    """
    if x._data.ndim == 3:
        return _unbatched(conv_transpose2d, x, weight, bias, stride, padding, output_padding, groups, dilation)
    if x._data.ndim != 4:
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to conv_transpose2d, but got input of "
                           f"size: {list(x._data.shape)}")
    return _transposed("conv_transpose2d", x, weight, bias, stride, padding, output_padding, dilation, groups)


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """conv_transpose2d at height 1: weight (in_channels, out_channels // groups, k)."""
    if x._data.ndim == 2:
        return _unbatched(conv_transpose1d, x, weight, bias, stride, padding, output_padding, groups, dilation)
    if x._data.ndim != 3:
        raise RuntimeError(f"Expected 2D (unbatched) or 3D (batched) input to conv_transpose1d, but got input of "
                           f"size: {list(x._data.shape)}")
    return _transposed("conv_transpose1d", x, weight, bias, (1, stride), (0, padding), (0, output_padding),
                       (1, dilation), groups)


def _transposed_size(op, size, kernel, stride, padding, output_padding, dilation):
    """One axis of a transposed convolution's output, with PyTorch's output_padding rule."""
    if output_padding >= stride and output_padding >= dilation:
        raise RuntimeError(f"{op}: output padding must be smaller than either stride or dilation, but got "
                           f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    if out < 1:
        raise RuntimeError(f"{op}: the output would have size {out} along an axis of input size {size} (kernel "
                           f"{kernel}, stride {stride}, padding {padding}, dilation {dilation}); it must be "
                           f"positive")
    return out


def _zeros_past_the_end(x, image, kernel, stride, padding, dilation):
    """x padded at the end to the size of the conv of an ``image``-sized output.

    That conv has x's size, plus output_padding // stride when output_padding reaches the stride (allowed when
    dilation is larger): those extra positions see zeros of x."""
    spatial = x._data.ndim - 2
    extra = [(n + 2 * p - d * (k - 1) - 1) // s + 1 - h for n, p, d, k, s, h in
             zip(image, padding, dilation, kernel, stride, _lift(x._data).shape[2:])]
    if max(extra) <= 0:
        return x
    from .nn.padding import constant_pad
    return constant_pad(x, [0, extra[1]] + ([0, extra[0]] if spatial == 2 else []), 0.0)


def _transposed(op, x, weight, bias, stride, padding, output_padding, dilation, groups):
    """The ConvolutionBackward0 node of a transposed convolution: forward = conv2d_input_grad."""
    _check(op, x, weight, bias, stride, padding, dilation, groups, transposed=True)
    spatial = x._data.ndim - 2
    w4 = _lift(weight._data)
    image = tuple(_transposed_size(op, *args) for args in
                  zip(_lift(x._data).shape[2:], w4.shape[2:], stride, padding, output_padding, dilation))
    x = _zeros_past_the_end(x, image, w4.shape[2:], stride, padding, dilation)
    geometry = (stride, padding, dilation, groups)
    x4 = _lift(x._data)
    out_shape = (x4.shape[0], w4.shape[1] * groups) + image
    y = kernels.conv2d_input_grad(x4, w4, out_shape, *geometry)
    if bias is not None:
        y += bias._data[:, None, None]

    def backward(g):  # recorded ops, differentiable again
        """grad_x = conv2d(g, weight); grad_weight = conv2d of g by x (per channel pair); grad_bias = g summed over N, H, W"""
        g4 = _lift_tensor(g, spatial)
        gx = gw = gb = None
        if x._requires_grad:
            gx = _lower_tensor(conv2d(g4, _lift_tensor(weight, spatial), None, *geometry), spatial)
        if weight._requires_grad:
            gw = _lower_tensor(conv2d_weight_grad(_lift_tensor(x, spatial), g4, w4.shape, *geometry), spatial)
        if bias is not None and bias._requires_grad:
            gb = g4.sum((0, 2, 3))
        return (gx, gw) if bias is None else (gx, gw, gb)

    def fast(g):  # the same with the kernels, on arrays
        g4 = _lift(g._data)
        gx = gw = gb = None
        if x._requires_grad:
            gx = Tensor._wrap(_lower(kernels.conv2d_forward(g4, w4, None, *geometry), spatial))
        if weight._requires_grad:
            gw = Tensor._wrap(_lower(kernels.conv2d_weight_grad(x4, g4, w4.shape, *geometry), spatial))
        if bias is not None and bias._requires_grad:
            gb = Tensor._wrap(g4.sum((0, 2, 3)))
        return (gx, gw) if bias is None else (gx, gw, gb)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return record(_lower(y, spatial), "ConvolutionBackward0", backward, inputs, saved=(x, weight), fast=fast)


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
