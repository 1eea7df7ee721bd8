"""Convolution layers: ``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d`` and their lazy forms.

They share one base, ``_ConvNd``, as in PyTorch: the same arguments, the same
default initialisation and the same printout; ``dims`` (1, 2 or 3) is the number
of spatial axes, and the transposed layers keep their weight as
(in_channels, out_channels // groups, *kernel_size).
"""
import math

from .. import functional as F
from .. import init
from .._utils import _pair, _single
from .lazy import LazyModuleMixin, lazy_form, uninitialized_weight_and_bias
from .linear import add_weight_and_bias
from .module import Module

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "LazyConv1d",
           "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(value, dims, name):
    """A tuple of ``dims`` ints from an int or a sequence (of one or ``dims`` ints)."""
    if dims == 3:
        if isinstance(value, (tuple, list)) and len(value) not in (1, 3):
            raise ValueError(f"{name} must be an int or a sequence of 1 or 3 ints, got {value!r}")
        if isinstance(value, (tuple, list)) and len(value) == 3:
            return tuple(int(v) for v in value)
        return (_single(value, name),) * 3
    return _pair(value, name) if dims == 2 else (_single(value, name),)


# ---- 3-D convolutions as 2-D ones over depth planes --------------------------------------------------
# Tap k of the kernel's depth axis meets, for output plane t, input plane t * stride + k * dilation: so a
# 3-D convolution is the sum over k of a 2-D convolution of those planes (taken as a batch of images) by
# weight[:, :, k].  Built from recorded ops, it is differentiable as they are.
def _batched_5d(op, input):
    if input.dim() not in (4, 5):
        raise RuntimeError(f"Expected 4D (unbatched) or 5D (batched) input to {op}, but got input of size: "
                           f"{list(input.shape)}")
    return input.dim() == 4, input.unsqueeze(0) if input.dim() == 4 else input


def _conv3d(input, weight, bias, stride, padding, dilation, groups):
    """out[n, o] = bias[o] + sum over c of weight[o, c] (cross-correlated in 3-D with) input[n, c]."""
    unbatched, x = _batched_5d("conv3d", input)
    if padding[0]:
        x = F.pad(x, [0, 0, 0, 0, padding[0], padding[0]])
    n, c, depth_in, h, w = x.shape
    kd = weight.shape[2]
    depth = (depth_in - dilation[0] * (kd - 1) - 1) // stride[0] + 1
    if depth < 1:
        raise RuntimeError(f"conv3d: the padded input depth {depth_in} is smaller than the kernel's "
                           f"dilated depth {dilation[0] * (kd - 1) + 1}")
    out = None
    for k in range(kd):
        first = k * dilation[0]
        planes = x[:, :, first:first + stride[0] * (depth - 1) + 1:stride[0]]
        planes = planes.transpose(1, 2).reshape(n * depth, c, h, w)
        y = F.conv2d(planes, weight[:, :, k], None, stride[1:], padding[1:], dilation[1:], groups)
        out = y if out is None else out + y
    out = out.reshape(n, depth, *out.shape[1:]).transpose(1, 2)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1, 1)
    return out.squeeze(0) if unbatched else out


def _conv_transpose3d(input, weight, bias, stride, padding, output_padding, groups, dilation):
    """The adjoint of _conv3d: input plane t, through tap k, lands on output plane t * stride + k * dilation."""
    unbatched, x = _batched_5d("conv_transpose3d", input)
    n, c, depth_in, h, w = x.shape
    kd = weight.shape[2]
    if output_padding[0] >= stride[0] and output_padding[0] >= dilation[0]:
        raise RuntimeError(f"conv_transpose3d: output padding must be smaller than either stride or dilation, but "
                           f"got output_padding={output_padding}, stride={stride}, dilation={dilation}")
    spread = (depth_in - 1) * stride[0] + 1  # the input planes stride apart
    full = spread + dilation[0] * (kd - 1) + output_padding[0]
    if full - 2 * padding[0] < 1:
        raise RuntimeError(f"conv_transpose3d: the output depth would be {full - 2 * padding[0]}; it must be "
                           f"positive")
    planes = x.transpose(1, 2).reshape(n * depth_in, c, h, w)
    out = None
    for k in range(kd):
        y = F.conv_transpose2d(planes, weight[:, :, k], None, stride[1:], padding[1:], output_padding[1:],
                               groups, dilation[1:])
        y = y.reshape(n, depth_in, *y.shape[1:])
        if stride[0] > 1:  # stride - 1 planes of zeros after each input plane
            y = F.pad(y.unsqueeze(2), [0, 0, 0, 0, 0, 0, 0, stride[0] - 1]).reshape(n, -1, *y.shape[2:])[:, :spread]
        first = k * dilation[0]
        y = F.pad(y, [0, 0, 0, 0, 0, 0, first, full - first - spread])
        out = y if out is None else out + y
    out = out[:, padding[0]:full - padding[0]].transpose(1, 2)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1, 1)
    return out.squeeze(0) if unbatched else out


class _ConvNd(Module):
    """What the convolution layers share: arguments, parameters, default init, printout."""

    dims = 2
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", output_padding=0, device=None, dtype=None):
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {list(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        dims = self.dims
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _ntuple(kernel_size, dims, "kernel_size")
        self.stride = _ntuple(stride, dims, "stride")
        self.dilation = _ntuple(dilation, dims, "dilation")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Invalid padding string '{padding}', should be one of {{'valid', 'same'}}")
            if padding == "same" and self.stride != (1,) * dims:
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _ntuple(padding, dims, "padding")
        self.groups = groups
        self.padding_mode = padding_mode
        self.output_padding = _ntuple(output_padding, dims, "output_padding")
        if self.transposed:
            weight_shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            weight_shape = (out_channels, in_channels // groups) + self.kernel_size
        add_weight_and_bias(self, weight_shape, out_channels, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: kaiming_uniform_ with a=sqrt(5), bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        zeros, ones = (0,) * self.dims, (1,) * self.dims
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != zeros:
            s += f", padding={self.padding}"
        if self.dilation != ones:
            s += f", dilation={self.dilation}"
        if self.output_padding != zeros:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """An ordinary convolution; padding modes other than zeros pad explicitly first (with F.pad)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, device, dtype)

    def _explicit_padding(self):
        """(left, right[, top, bottom]) amounts for F.pad when padding_mode is not 'zeros'."""
        if self.padding == "valid":
            return [0, 0] * self.dims
        if self.padding == "same":
            amounts = []
            for d, k in zip(reversed(self.dilation), reversed(self.kernel_size)):
                total = d * (k - 1)
                amounts += [total // 2, total - total // 2]
            return amounts
        amounts = []
        for p in reversed(self.padding):
            amounts += [p, p]
        return amounts

    def _conv_forward(self, input, weight, bias):
        """The convolution with given weight and bias (as PyTorch's, for subclasses that transform the weight)."""
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._explicit_padding(), mode=self.padding_mode)
            return self._conv(padded, weight, bias, 0)
        return self._conv(input, weight, bias, self.padding)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """out[n, o] = bias[o] + sum over in-channels c of weight[o, c] (cross-correlated with) input[n, c].

    Input (N, C, L) or (C, L); weight (out_channels, in_channels // groups, k).
    """

    dims = 1

    def _conv(self, input, weight, bias, padding):
        return F.conv1d(input, weight, bias, self.stride, padding, self.dilation, self.groups)


class Conv2d(_Conv):
    """out[n, o] = bias[o] + sum over in-channels c of weight[o, c] (cross-correlated with) input[n, c].

    Weight shape (out_channels, in_channels // groups, kh, kw).  ``padding`` is
    an int, a pair, 'valid' or 'same'; ``padding_mode`` chooses what the
    padding holds (zeros, or a reflection / replica / wrap-around of the input).
    """

    dims = 2

    def _conv(self, input, weight, bias, padding):
        return F.conv2d(input, weight, bias, self.stride, padding, self.dilation, self.groups)


class Conv3d(_Conv):
    """out[n, o] = bias[o] + sum over in-channels c of weight[o, c] (cross-correlated with) input[n, c].

    Input (N, C, D, H, W) or (C, D, H, W); weight (out_channels, in_channels // groups, kd, kh, kw).
    """

    dims = 3

    def _conv(self, input, weight, bias, padding):
        if isinstance(padding, str):  # 'valid' or 'same': pad explicitly (the odd one at the end)
            input, padding = F.pad(input, self._explicit_padding()), 0
        if isinstance(padding, int):  # 0 from the explicit padding of the other padding modes
            padding = (padding,) * 3
        return _conv3d(input, weight, bias, self.stride, padding, self.dilation, self.groups)


class _ConvTranspose(_ConvNd):
    """A transposed convolution: the adjoint of the convolution with the same arguments."""

    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device, dtype)

    def _output_padding(self, input, output_size):
        """output_padding from a requested output_size (which may include the batch and channel sizes)."""
        if output_size is None:
            return self.output_padding
        dims = self.dims
        leading = 2 if input.ndim == dims + 2 else 1
        if len(output_size) == leading + dims:
            output_size = output_size[leading:]
        if len(output_size) != dims:
            raise ValueError(f"ConvTranspose{dims}D: for {input.ndim}D input, output_size must have {dims} or "
                             f"{leading + dims} elements (got {len(output_size)})")
        sizes = input.shape[leading:]
        min_sizes = [(n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in
                     zip(sizes, self.stride, self.padding, self.dilation, self.kernel_size)]
        max_sizes = [m + s - 1 for m, s in zip(min_sizes, self.stride)]
        for size, low, high in zip(output_size, min_sizes, max_sizes):
            if not low <= size <= high:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes range from "
                                 f"{min_sizes} to {max_sizes} (for an input of {tuple(sizes)})")
        return tuple(int(size) - low for size, low in zip(output_size, min_sizes))

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return self._conv_transpose(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                    self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """The adjoint of Conv1d: input (N, C_in, L) -> (N, C_out, (L - 1) * s - 2 * p + d * (k - 1) + op + 1).

    Weight shape (in_channels, out_channels // groups, k).
    """

    dims = 1
    _conv_transpose = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """The adjoint of Conv2d, the upsampling layer of generators and decoders (DCGAN, U-Net).

    Each output side is (n - 1) * stride - 2 * padding + dilation * (k - 1) +
    output_padding + 1; weight shape (in_channels, out_channels // groups, kh, kw).
    """

    dims = 2
    _conv_transpose = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    """The adjoint of Conv3d; weight shape (in_channels, out_channels // groups, kd, kh, kw)."""

    dims = 3
    _conv_transpose = staticmethod(_conv_transpose3d)


# ---- lazy forms: in_channels read from the first input ------------------------------------------------
class _LazyConv(LazyModuleMixin):
    """in_channels from the first input's channel axis; weight and bias uninitialised until then."""

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):
        # in_channels is read even when a loaded state_dict gave the weight its shape (PyTorch leaves it 0)
        ranks = (self.dims + 1, self.dims + 2)
        if input.dim() not in ranks:
            raise RuntimeError(f"Expected {ranks[0]}D (unbatched) or {ranks[1]}D (batched) input to "
                               f"{type(self).__name__}, but got input of size: {list(input.shape)}")
        self.in_channels = input.shape[1] if input.dim() == ranks[1] else input.shape[0]
        if self.in_channels % self.groups != 0:
            raise ValueError(f"in_channels must be divisible by groups (in_channels={self.in_channels} read from "
                             f"the input, groups={self.groups})")
        if not self.has_uninitialized_params():
            return
        if self.transposed:
            self.weight.materialize((self.in_channels, self.out_channels // self.groups) + self.kernel_size)
        else:
            self.weight.materialize((self.out_channels, self.in_channels // self.groups) + self.kernel_size)
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()


class _LazyConvSame(_LazyConv):
    # the ordinary convolutions' argument order: (out_channels, kernel_size, stride, padding, dilation, groups, ...)
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode, device, dtype)
        self.out_channels = out_channels
        uninitialized_weight_and_bias(self, bias, device, dtype)


class _LazyConvTransposed(_LazyConv):
    # the transposed ones': (out_channels, kernel_size, stride, padding, output_padding, groups, bias, dilation, ...)
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True,
                 dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False, dilation, padding_mode,
                         device, dtype)
        self.out_channels = out_channels
        uninitialized_weight_and_bias(self, bias, device, dtype)


LazyConv1d, LazyConv2d, LazyConv3d = (lazy_form(plain, _LazyConvSame, "in_channels")
                                      for plain in (Conv1d, Conv2d, Conv3d))
LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d = (
    lazy_form(plain, _LazyConvTransposed, "in_channels") for plain in (ConvTranspose1d, ConvTranspose2d,
                                                                        ConvTranspose3d))
