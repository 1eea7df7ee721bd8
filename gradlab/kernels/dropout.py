"""Dropout in plain NumPy: the readable twin of gradlab_ext/dropout.pyx.

The mask comes from a counter-based generator: element i (the flat C-order
index) of a call with key ``seed`` is kept when

    splitmix64(seed, i) >> 32  >=  threshold,   threshold = ceil(p * 2**32)

where ``splitmix64(seed, i)`` is the i-th output of the SplitMix64 generator
started at ``seed`` (a multiply-add and a 64-bit finaliser, Steele, Lea and
Flood 2014).  Each element's decision depends on (seed, i) only, so the mask
is the same bits whatever the number of threads, the dtype or the backend, and
the backward draws it again from the seed instead of keeping it.  A kept
element is scaled by 1 / (1 - p) (in the input's dtype); a dropped one is
multiplied by 0, as PyTorch does (so NaN and inf stay NaN).  p = 0 keeps all
(threshold 0), p = 1 drops all (threshold 2**32 is above every 32-bit value).
"""
import math

import numpy as np

__all__ = ["dropout_forward", "dropout_backward"]

_GAMMA = np.uint64(0x9E3779B97F4A7C15)     # SplitMix64's increment (2**64 / golden ratio, odd)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _bits(seed, n):
    """SplitMix64's outputs 0..n-1 from seed: z = seed + (i + 1) * gamma, then the finaliser."""
    z = np.arange(1, n + 1, dtype=np.uint64) * _GAMMA + np.uint64(seed)    # uint64 arithmetic wraps mod 2**64
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _multipliers(shape, dtype, p, seed):
    """1 / (1 - p) where element i is kept, 0 where it is dropped."""
    threshold = min(2 ** 32, math.ceil(p * 2 ** 32))
    keep = (_bits(seed, math.prod(shape)) >> np.uint64(32)) >= np.uint64(threshold)
    scale = dtype.type(1 / (1 - p)) if p < 1 else dtype.type(0)
    return np.where(keep, scale, dtype.type(0)).reshape(shape)


def dropout_forward(x, p, seed):
    """x * mask: each element kept with probability 1 - p and scaled by 1 / (1 - p), else times 0."""
    with np.errstate(invalid="ignore"):     # inf * 0 where dropped: NaN, as PyTorch, without a warning
        return x * _multipliers(x.shape, x.dtype, p, seed)


def dropout_backward(grad_out, p, seed):
    """grad_out * mask, the mask of the forward with the same p and seed."""
    with np.errstate(invalid="ignore"):
        return grad_out * _multipliers(grad_out.shape, grad_out.dtype, p, seed)
