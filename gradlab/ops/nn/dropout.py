"""dropout: one random mask, the same in forward and backward."""
import numpy as np

from ... import random
from ..._tensor import Tensor
from ...autograd.record import record
from ..registry import op


@op(method=False, function=False, nn="dropout dropout2d")
def dropout(x, p, generator=None, channelwise=False):
    """Zero each element with probability p and scale the rest by 1 / (1 - p).

    ``channelwise`` draws one decision per (sample, channel) and applies it to
    the whole feature map, as ``dropout2d``.
    """
    shape = x._data.shape[:2] + (1,) * (x._data.ndim - 2) if channelwise else x._data.shape
    if p == 1:
        mask = np.zeros(shape, dtype=x._data.dtype)
    else:
        rng = random.generator_of(generator)
        keep = rng.random(shape, dtype=np.float32 if x._data.dtype == np.float32 else np.float64) >= p
        mask = keep.astype(x._data.dtype) * np.asarray(1 / (1 - p), dtype=x._data.dtype)
    scale = Tensor._wrap(mask)

    def backward(g):
        """grad_x = g * mask (mask: 0 where dropped, 1 / (1 - p) where kept)"""
        return (g * scale,)
    return record(x._data * mask, "MulBackward0", backward, (x,))  # PyTorch's name on the CPU
