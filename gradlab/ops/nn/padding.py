"""Padding: constant (np.pad, cropping for negative amounts) and reflect / replicate / circular (a gather)."""
import numpy as np

from ...autograd.record import record
from ..registry import op


@op(method=False, function=False, nn="pad")
def constant_pad(x, pads, value=0.0):
    """Pad the last len(pads) // 2 axes; ``pads`` lists (left, right) pairs from the last axis back.

    Negative amounts crop, as PyTorch.
    """
    widths = [(0, 0)] * (x._data.ndim - len(pads) // 2)
    widths += [(pads[2 * i], pads[2 * i + 1]) for i in reversed(range(len(pads) // 2))]
    sizes = [n + lo + hi for n, (lo, hi) in zip(x._data.shape, widths)]
    if min(sizes, default=0) < 0:
        raise RuntimeError(f"pad: the negative padding {list(pads)} crops more than input of shape "
                           f"{list(x._data.shape)} holds (the output size would be {sizes})")
    crop = tuple(slice(max(-lo, 0), x._data.shape[a] - max(-hi, 0)) for a, (lo, hi) in enumerate(widths))
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    out = np.pad(x._data[crop], grow, constant_values=value)
    inner = tuple(slice(lo, lo + s.stop - s.start) for (lo, _), s in zip(grow, crop))
    shape = x._data.shape

    def backward(g):
        # the gradient reaching the kept region, put back where that region sat in x
        return (constant_pad(g[inner], _pads_of(crop, shape)),)
    return record(out, "ConstantPadNdBackward0", backward, (x,))


def _pads_of(crop, shape):
    """The (left, right) pads, last axis first, that restore ``shape`` around ``crop``."""
    pads = []
    for s, n in reversed(list(zip(crop, shape))):
        pads += [s.start, n - s.stop]
    return pads


_PAD_NODES = {"reflect": "ReflectionPad", "replicate": "ReplicationPad"}


@op(method=False, function=False, nn="pad")
def index_pad(x, pads, mode):
    """'reflect', 'replicate' or 'circular' padding as a gather: each output element reads one input element.

    One node whose gradient is the matching scatter-add.  Reflect and replicate
    are named by mode and rank (ReflectionPad2DBackward0 pads the last two axes);
    circular padding is CopySlices, as PyTorch, which copies slices of x into
    the output.
    """
    n_axes = len(pads) // 2
    index = []
    for i in range(n_axes):
        axis = x._data.ndim - 1 - i
        index.insert(0, _pad_positions(x, axis, pads[2 * i], pads[2 * i + 1], mode))
    lead = x._data.ndim - n_axes
    where = (slice(None),) * lead + np.ix_(*index)
    if mode == "circular":  # named as PyTorch's last node, and its gradient as the last node of that gradient
        return _gather_pad(x, where, "CopySlices", "SliceBackwardBackward0")
    name = f"{_PAD_NODES[mode]}{n_axes}DBackward0"
    return _gather_pad(x, where, name, name.replace("Backward0", "BackwardBackward0"))


def _pad_positions(x, axis, left, right, mode):
    """For each output position along ``axis``, the input position it copies."""
    size = x._data.shape[axis]
    if mode == "reflect" and (left >= size or right >= size):
        raise RuntimeError(f"pad: padding size should be less than the corresponding input dimension, but got "
                           f"padding ({left}, {right}) at dimension {axis} of input {tuple(x.shape)}")
    if mode == "circular" and (left > size or right > size):
        raise RuntimeError(f"pad: padding value causes wrapping around more than once (padding ({left}, "
                           f"{right}) at dimension {axis} of input {tuple(x.shape)})")
    pos = np.arange(-left, size + right)
    if mode == "reflect":
        period = 2 * (size - 1) if size > 1 else 1
        pos = np.abs(pos) % period
        return np.where(pos >= size, period - pos, pos)
    if mode == "replicate":
        return np.clip(pos, 0, size - 1)
    return pos % size


def _gather_pad(x, where, name, adjoint_name):
    """x[where] as the padding node ``name``.

    Its backward, node ``adjoint_name``, adds each output gradient back where it was read.
    """
    shape = x._data.shape
    return record(x._data[where], name, lambda g: (_scatter_pad(g, where, shape, name, adjoint_name),), (x,))


def _scatter_pad(g, where, shape, name, adjoint_name):
    """Zeros of ``shape`` with g added at ``where`` (the padding's adjoint); its own gradient is the gather."""
    out = np.zeros(shape, dtype=g._data.dtype)
    np.add.at(out, where, g._data)
    return record(out, adjoint_name, lambda gg: (_gather_pad(gg, where, name, adjoint_name),), (g,))
