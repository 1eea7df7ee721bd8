"""dropout: one random mask, the same in forward and backward.

The mask is not drawn as an array: the op draws one 64-bit key from gradlab's
generator (so ``manual_seed`` reproduces it), and the kernel decides each
element from a hash of (key, element index) (``gradlab/kernels/dropout.py``).
The backward draws the same mask again from the key instead of keeping it, and
the mask is the same bits in float32 and float64, on either backend and for any
number of threads.
"""
import numpy as np

from ... import kernels, random
from ..._tensor import Tensor
from ...autograd.record import record
from ..registry import op


def _key(generator):
    """One 64-bit draw from the generator: the key of a mask."""
    return int(random.generator_of(generator).bit_generator.random_raw())


@op(method=False, function=False, nn="dropout dropout2d")
def dropout(x, p, generator=None, channelwise=False):
    """Zero each element with probability p and scale the rest by 1 / (1 - p).

    ``channelwise`` draws one decision per (sample, channel) and applies it to
    the whole feature map, as ``dropout2d``.
    """
    seed = _key(generator)
    if not channelwise:
        return _masked(x, p, seed)
    data = x._data
    mask = kernels.dropout_forward(np.ones(data.shape[:2], data.dtype), p, seed).reshape(data.shape[:2] + (1,) * (data.ndim - 2))
    scale = Tensor._wrap(mask)

    def backward(g):
        """grad_x = g * mask (mask: 0 where dropped, 1 / (1 - p) where kept)"""
        return (g * scale,)
    return record(data * mask, "MulBackward0", backward, (x,))  # PyTorch's name on the CPU


def _masked(x, p, seed):
    """x * mask for the mask of (p, seed); its backward is the same op on the gradient (so it has one too)."""
    def backward(g):
        """grad_x = g * mask (mask: 0 where dropped, 1 / (1 - p) where kept)"""
        return (_masked(g, p, seed),)

    def fast(g):
        return (Tensor._wrap(kernels.dropout_backward(g._data, p, seed)),)
    return record(kernels.dropout_forward(x._data, p, seed), "MulBackward0", backward, (x,), fast=fast)
