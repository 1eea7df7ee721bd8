"""Geometry of the kernels: int pairs, output sizes, sliding windows, and the checks of a conv or pool call.

The dispatcher (``gradlab/kernels/__init__.py``) calls these once per kernel
call, before it picks a backend; both twins then trust what they get.  Every
error names the op, the shapes and what was expected.

Size limit: the compiled kernels index with 32-bit BLAS ints, so every array
a call reads, writes or allocates (input, padded input, weight, output,
columns, windows), every geometry value and every index plane stays at or
below MAX_ELEMENTS = 2**31 - 1 elements.  The sizes are computed with Python
ints (they cannot overflow) and checked here, before either backend runs, so
both refuse the same calls with the same ValueError.
"""
import operator

import numpy as np

__all__ = ["pair", "conv2d_output_size", "pool2d_output_size", "sliding_windows",
           "conv_geometry", "pool_geometry", "shape4", "divisor", "check_grad_out", "MAX_ELEMENTS"]

MAX_ELEMENTS = 2**31 - 1


def pair(op, name, value, minimum=None):
    """(h, w) from an int or a sequence of one or two ints, each >= minimum (unless minimum is None).

    gradlab's int-pair parser: the kernels call it, and so do nn's functions
    and modules (through nn._utils._pair).  ``op`` (or None) starts the error
    message.
    """
    # fast paths first: these run on every call of every kernel
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int \
            and (minimum is None or (value[0] >= minimum and value[1] >= minimum)):
        return value
    if type(value) is int and (minimum is None or value >= minimum):
        return (value, value)
    where = f"{op}: " if op else ""
    try:
        if isinstance(value, (bool, np.bool_)):
            raise TypeError
        if isinstance(value, (int, np.integer)):
            result = (int(value), int(value))
        else:
            result = tuple(operator.index(v) for v in value)
            if len(result) == 1:
                result = result * 2
            if len(result) != 2:
                raise TypeError
    except TypeError:
        raise TypeError(f"{where}{name} must be an int or a pair of ints, got {value!r}") from None
    if minimum is not None and min(result) < minimum:
        raise ValueError(f"{where}{name} must be >= {minimum}, got {result}")
    return result


def conv2d_output_size(size, kernel, stride=1, padding=0, dilation=1):
    """Output length of a convolution along one axis: how many kernel positions fit."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool2d_output_size(size, kernel, stride, padding=0, dilation=1, ceil_mode=False):
    """PyTorch's pooling output length along one axis.

    floor mode: (size + 2*padding - dilation*(kernel-1) - 1) // stride + 1
    ceil mode rounds the division up instead, but then drops the last window
    if it would start beyond the input and its left padding (it would see
    only right padding).
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if ceil_mode:
        span += stride - 1            # turns the floor division into a ceil
    out = span // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def sliding_windows(xpad, out_hw, kernel_size, stride, dilation):
    """A (N, C, kh, kw, Ho, Wo) strided VIEW of a padded input, no data copied:

        windows[n, c, i, j, oh, ow] = xpad[n, c, oh*sh + i*dh, ow*sw + j*dw]
    """
    n, c = xpad.shape[:2]
    s_n, s_c, s_h, s_w = xpad.strides
    return np.lib.stride_tricks.as_strided(
        xpad,
        shape=(n, c) + tuple(kernel_size) + tuple(out_hw),
        strides=(s_n, s_c, s_h * dilation[0], s_w * dilation[1], s_h * stride[0], s_w * stride[1]),
        writeable=False,
    )


def shape4(op, name, shape):
    """A shape argument as 4 non-negative ints (N, C, H, W)."""
    try:
        shape = tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"{op}: {name} must be a tuple of ints, got {shape!r}") from None
    if len(shape) != 4 or min(shape) < 0 or max(shape) >= 2**63:
        raise ValueError(f"{op}: {name} must be 4 non-negative 64-bit ints (N, C, H, W), got {shape}")
    if shape[0] * shape[1] * shape[2] * shape[3] > MAX_ELEMENTS:
        _too_large(op, f"{name} {shape}", ((name, shape[0] * shape[1] * shape[2] * shape[3]),))
    return shape


def _too_large(op, context, sizes):
    """Raise the error of a call whose sizes pass MAX_ELEMENTS; sizes: (what, count) pairs."""
    over = ", ".join(f"{what} {count}" for what, count in sizes if count > MAX_ELEMENTS)
    raise ValueError(f"{op}: too large for the kernels: {over} (the limit is 2**31 - 1 = "
                     f"{MAX_ELEMENTS}); {context}")


def _check_values(op, context, **values):
    """Each geometry value (a pair) at most MAX_ELEMENTS, as a 32-bit int."""
    for name, (h, w) in values.items():
        if h > MAX_ELEMENTS or w > MAX_ELEMENTS:
            _too_large(op, context, ((name, max(h, w)),))


def check_grad_out(op, grad_out, expected):
    if tuple(grad_out.shape) != tuple(expected):
        raise ValueError(f"{op}: grad_out has shape {tuple(grad_out.shape)}, expected {tuple(expected)}")


def conv_geometry(op, x_shape, w_shape, stride, padding, dilation, groups, grad_out=None, columns=False):
    """Check a convolution's shapes (and grad_out's, if given); return the normalised
    geometry (stride, padding, dilation, groups).  With columns, the (N, C*kh*kw, Ho*Wo)
    matrix of im2col must fit the limit too."""
    stride = pair(op, "stride", stride, 1)
    padding = pair(op, "padding", padding, 0)
    dilation = pair(op, "dilation", dilation, 1)
    if type(groups) is not int:
        if isinstance(groups, (bool, np.bool_)) or not isinstance(groups, (int, np.integer)):
            raise TypeError(f"{op}: groups must be an int, got {groups!r}")
        groups = int(groups)
    if groups < 1:
        raise ValueError(f"{op}: groups must be >= 1, got {groups}")
    n, c, h, w = x_shape
    cout, cg, kh, kw = w_shape
    if c % groups or cout % groups:
        raise ValueError(f"{op}: groups={groups} must divide the input channels ({c}) and the "
                         f"output channels ({cout}); input {tuple(x_shape)}, weight {tuple(w_shape)}")
    if cg * groups != c:
        raise ValueError(f"{op}: input {tuple(x_shape)} has {c} channels but weight "
                         f"{tuple(w_shape)} with groups={groups} expects {cg * groups}")
    if kh < 1 or kw < 1:
        raise ValueError(f"{op}: weight {tuple(w_shape)} has an empty kernel")
    span_h = h + 2 * padding[0] - dilation[0] * (kh - 1) - 1     # >= 0 when the kernel fits
    span_w = w + 2 * padding[1] - dilation[1] * (kw - 1) - 1
    if span_h < 0 or span_w < 0:
        raise ValueError(f"{op}: kernel {(kh, kw)} with dilation {dilation} spans "
                         f"{(dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)}, larger than "
                         f"the padded input {(h + 2 * padding[0], w + 2 * padding[1])} "
                         f"(input {tuple(x_shape)}, padding {padding})")
    ho, wo = span_h // stride[0] + 1, span_w // stride[1] + 1
    hp, wp = h + 2 * padding[0], w + 2 * padding[1]
    kg = cg * kh * kw
    # the largest of: padded input, per-sample input, weight, output, output columns,
    # Kg, output channels, and the band workspace of the compiled kernels (2**30 there)
    cols = n * c * kh * kw * ho * wo if columns else 0
    if max(n * c * hp * wp, c * h * w, cout * kg, n * cout * ho * wo, max(n, 1) * ho * wo, kg, cols,
           cout, 2 * (ho + kh * dilation[0]) * wo, kh, kw, *stride, *padding, *dilation) > MAX_ELEMENTS:
        context = (f"input {tuple(x_shape)}, weight {tuple(w_shape)}, stride {stride}, padding {padding}, "
                   f"dilation {dilation}, groups {groups}")
        _check_values(op, context, stride=stride, padding=padding, dilation=dilation, kernel=(kh, kw))
        _too_large(op, context, (
            ("padded input elements", n * c * hp * wp), ("input elements per sample", c * h * w),
            ("weight elements", cout * kg), ("output elements", n * cout * ho * wo),
            ("output positions (N*Ho*Wo)", max(n, 1) * ho * wo), ("weights per filter (C/groups*kh*kw)", kg),
            ("output channels", cout), ("band workspace elements (2x)", 2 * (ho + kh * dilation[0]) * wo),
            ("column elements (N*C*kh*kw*Ho*Wo)", cols)))
    if grad_out is not None:
        check_grad_out(op, grad_out, (n, cout, ho, wo))
    return stride, padding, dilation, groups


def pool_geometry(op, x_shape, kernel_size, stride, padding, dilation, ceil_mode):
    """Check a pooling's window; return normalised (kernel, stride, padding, dilation, Ho, Wo)."""
    kernel = pair(op, "kernel_size", kernel_size, 1)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        stride = kernel                      # PyTorch's default: stride = kernel_size
    else:
        stride = pair(op, "stride", stride, 1)
    padding = pair(op, "padding", padding, 0)
    dilation = pair(op, "dilation", dilation, 1)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} must be at most half of the kernel size {kernel}")
    n, c, h, w = x_shape
    ho = pool2d_output_size(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    wo = pool2d_output_size(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    if ho < 1 or wo < 1:
        raise ValueError(f"{op}: input {tuple(x_shape)} is too small for kernel {kernel} "
                         f"(stride {stride}, padding {padding}, dilation {dilation}): "
                         f"the output would be {ho}x{wo}")
    # the padded input as the NumPy twin builds it (ceil mode may hang one window over)
    hp = max(h + 2 * padding[0], (ho - 1) * stride[0] + (kernel[0] - 1) * dilation[0] + 1)
    wp = max(w + 2 * padding[1], (wo - 1) * stride[1] + (kernel[1] - 1) * dilation[1] + 1)
    window = kernel[0] * kernel[1]
    if max(n * c * hp * wp, n * c * ho * wo * window, window, *stride, *dilation) > MAX_ELEMENTS:
        context = (f"input {tuple(x_shape)}, kernel {kernel}, stride {stride}, padding {padding}, "
                   f"dilation {dilation}")
        _check_values(op, context, kernel_size=kernel, stride=stride, dilation=dilation)
        _too_large(op, context, (("padded input elements", n * c * hp * wp),
                                 ("window elements (N*C*Ho*Wo*kh*kw)", n * c * ho * wo * window),
                                 ("window size (kh*kw)", window)))
    return kernel, stride, padding, dilation, ho, wo


def divisor(op, divisor_override):
    """avg_pool2d's divisor_override: None or a non-zero int."""
    if divisor_override is None:
        return None
    if isinstance(divisor_override, (bool, np.bool_)) or \
            not isinstance(divisor_override, (int, np.integer)):
        raise TypeError(f"{op}: divisor_override must be an int or None, got {divisor_override!r}")
    if divisor_override == 0:
        raise ValueError(f"{op}: divisor_override must be non-zero")
    if not -2**63 <= divisor_override < 2**63:
        raise ValueError(f"{op}: divisor_override {divisor_override} does not fit in 64 bits")
    return int(divisor_override)
