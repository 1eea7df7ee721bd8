"""Convolutions: ``F.conv1d``, ``F.conv2d`` and the transposed ones, on the ops in ``ops/conv.py``."""
from ...ops import conv as _conv
from .._utils import _int, _pair, _single
from .padding import pad

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch) over an (N, C, H, W) or (C, H, W) input.

    ``padding`` is an int, a pair, or 'valid' (none) / 'same' (output as large as
    the input; stride must be 1).
    """
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    if isinstance(padding, str):
        input, padding = _string_padding(input, weight, padding, stride, dilation)
    else:
        padding = _pair(padding, "padding")
    return _conv.conv2d(input, weight, bias, stride, padding, dilation, _int(groups, "groups"))

def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation) over an (N, C, L) or (C, L) input; weight (out, in / groups, k).

    ``padding`` is an int, 'valid' (none) or 'same' (output as long as the input; stride must be 1).
    """
    stride, dilation = _single(stride, "stride"), _single(dilation, "dilation")
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise RuntimeError(f"conv1d: Invalid padding string: {padding!r} (expected 'valid' or 'same')")
        total = 0 if padding == "valid" else dilation * (weight.shape[-1] - 1)
        if padding == "same" and stride != 1:
            raise RuntimeError("conv1d: padding='same' is not supported for strided convolutions")
        if total % 2:  # the odd one goes on the right, as PyTorch
            input = pad(input, [0, 1])
        padding = total // 2
    return _conv.conv1d(input, weight, bias, stride, _single(padding, "padding"), dilation, _int(groups, "groups"))


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-D convolution (the adjoint of conv1d); weight (in, out / groups, k)."""
    return _conv.conv_transpose1d(input, weight, bias, _single(stride, "stride"), _single(padding, "padding"),
                                  _single(output_padding, "output_padding"), _int(groups, "groups"),
                                  _single(dilation, "dilation"))


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution (the adjoint of conv2d); weight (in, out / groups, kh, kw).

    Output side: (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1.
    """
    return _conv.conv_transpose2d(input, weight, bias, _pair(stride, "stride"), _pair(padding, "padding"),
                                  _pair(output_padding, "output_padding"), _int(groups, "groups"), _pair(dilation, "dilation"))

def _string_padding(x, weight, mode, stride, dilation):
    """Padding 'valid' is zero; 'same' pads dilation*(k-1) in total, the odd one on the right/bottom."""
    if mode == "valid":
        return x, (0, 0)
    if mode != "same":
        raise RuntimeError(f"conv2d: Invalid padding string: {mode!r} (expected 'valid' or 'same')")
    if stride != (1, 1):
        raise RuntimeError("conv2d: padding='same' is not supported for strided convolutions")
    totals = [d * (k - 1) for d, k in zip(dilation, weight.shape[-2:])]
    if any(t % 2 for t in totals):
        x = pad(x, [0, totals[1] % 2, 0, totals[0] % 2])
    return x, (totals[0] // 2, totals[1] // 2)
