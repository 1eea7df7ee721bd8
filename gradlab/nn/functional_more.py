"""Max unpooling, power-average pooling, channel shuffle, alpha dropout and embedding bags.

``nn.functional`` re-exports every name in ``__all__`` here (through
functional_extra.py).  Each op's forward and backward sit side by side; the
backward uses tensor ops, so gradients of gradients work.
"""
import math

import numpy as np

from .. import _creation, random
from .._tensor import Tensor
from ..autograd.function import record
from ..ops import elementwise as _ew
from ..ops import inplace_update as _inplace_update
from ._utils import _pair, _single

__all__ = ["max_unpool1d", "max_unpool2d", "lp_pool1d", "lp_pool2d", "channel_shuffle", "native_channel_shuffle",
           "alpha_dropout", "feature_alpha_dropout", "embedding_bag"]


# ---- max unpooling ----------------------------------------------------------------------------
def _unpool_output_size(input, kernel_size, stride, padding, output_size):
    """The default size (in - 1) * stride + kernel - 2 * padding, or ``output_size`` if it is within a stride of it."""
    spatial = input.shape[-len(kernel_size):]
    default = [(n - 1) * s + k - 2 * p for n, s, k, p in zip(spatial, stride, kernel_size, padding)]
    if output_size is None:
        return default
    output_size = list(output_size)
    if len(output_size) == len(kernel_size) + 2:  # (N, C, *spatial) given: keep the spatial part
        output_size = output_size[2:]
    if len(output_size) != len(kernel_size):
        raise ValueError(f"output_size should be a sequence containing {len(kernel_size)} or {len(kernel_size) + 2} "
                         f"elements, but it has a length of '{len(output_size)}'")
    for d, (size, base, s) in enumerate(zip(output_size, default, stride)):
        if not base - s < size < base + s:
            raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be between {base - s} and {base + s})')
    return output_size


def _max_unpool(input, indices, out_hw):
    """Each value of ``input`` put at its flat position ``indices`` in a zero (..., *out_hw) map."""
    if input.shape != indices.shape:
        raise RuntimeError(f"max_unpool2d: Expected shape of indices to be same as that of the input tensor "
                           f"({list(indices.shape)}) but got {list(input.shape)}")
    if indices._data.dtype.kind not in "iu":
        raise RuntimeError(f"max_unpool2d: elements in indices should be type int64 but got: {indices.dtype}")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"max_unpool2d: Expected 3d or 4d tensor, but got a {input.ndim}-D tensor of shape "
                           f"{list(input.shape)}")
    plane = int(np.prod(out_hw))
    lead = input.shape[:-2]
    rows = int(np.prod(lead))
    values = input._data.reshape(rows, -1)
    idx = indices._data.reshape(rows, -1)
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        bad = idx.max() if idx.max() >= plane else idx.min()
        raise RuntimeError(f"max_unpool2d: Found an invalid max index: {bad} (output volumes are of size "
                           f"{out_hw[0]}x{out_hw[1]})")
    out = np.zeros((rows, plane), dtype=input._data.dtype)
    np.put_along_axis(out, idx, values, axis=1)
    flat_idx = Tensor._wrap(idx.astype(np.int64))

    def backward(g):
        # each input value's gradient is the output gradient at the place it was put
        return (g.reshape(rows, plane).gather(1, flat_idx).reshape(input.shape),)
    return record(out.reshape(*lead, *out_hw), "MaxUnpool2DBackward0", backward, (input,))


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d: the maxima back at their ``indices``, zeros elsewhere."""
    kernel_size = _pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else _pair(stride, "stride")
    padding = _pair(padding, "padding")
    out_hw = _unpool_output_size(input, kernel_size, stride, padding, output_size)
    return _max_unpool(input, indices, out_hw)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool1d, as max_unpool2d over a trailing axis of size 1 (as PyTorch)."""
    kernel_size = (_single(kernel_size, "kernel_size"),)
    stride = kernel_size if stride is None else (_single(stride, "stride"),)
    padding = (_single(padding, "padding"),)
    out_len = _unpool_output_size(input, kernel_size, stride, padding, output_size)
    return _max_unpool(input.unsqueeze(-1), indices.unsqueeze(-1), list(out_len) + [1]).squeeze(-1)


# ---- power-average pooling --------------------------------------------------------------------
def _lp_from_average(input, average, norm_type, window):
    """(window * average of x^p)^(1/p); the sign/relu keeps a negative rounding error from giving NaN."""
    return (_ew.sign(average) * _ew.relu(average.abs())).mul(window).pow(1.0 / norm_type)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x^p)^(1/p); p = inf is max pooling of |x|."""
    from . import functional as F
    kh, kw = _pair(kernel_size, "kernel_size")
    if norm_type == math.inf:
        return F.max_pool2d(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -F.max_pool2d(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    average = F.avg_pool2d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return _lp_from_average(input, average, norm_type, kh * kw)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x^p)^(1/p) along the last axis; p = inf is max pooling of |x|."""
    from . import functional as F
    if norm_type == math.inf:
        return F.max_pool1d(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -F.max_pool1d(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    average = F.avg_pool1d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return _lp_from_average(input, average, norm_type, _single(kernel_size, "kernel_size"))


# ---- channel shuffle --------------------------------------------------------------------------
def channel_shuffle(input, groups):
    """Channels (g groups of C/g) reordered to C/g groups of g: channel i*C/g + j moves to j*g + i."""
    if input.ndim <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with sizes "
                           f"{list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    n, c = input.shape[0], input.shape[1]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    rest = input._data.shape[2:]
    out = input._data.reshape(n, groups, c // groups, *rest).swapaxes(1, 2).reshape(input._data.shape)

    def backward(g):
        return (channel_shuffle(g, c // groups),)  # shuffling with C/g groups undoes it
    return record(np.ascontiguousarray(out), "ChannelShuffleBackward0", backward, (input,))


native_channel_shuffle = channel_shuffle


# ---- alpha dropout ----------------------------------------------------------------------------
_SELU_ALPHA = 1.7580993408473766  # -scale * alpha of SELU: the value a dropped unit takes


def _alpha_dropout(input, p, training, inplace, feature):
    """x * a * keep + b, where a dropped unit becomes SELU's saturation value and a and b restore the
    mean and variance of a zero-mean unit-variance input (PyTorch's formula)."""
    if p < 0 or p > 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if feature and input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if p == 0 or not training or input.numel() == 0:
        return input
    if p == 1:
        out = input * _creation.zeros((), dtype=input.dtype)
    else:
        shape = input.shape[:2] + (1,) * (input.ndim - 2) if feature else input.shape
        keep = (random.generator_of(None).random(tuple(shape)) >= p).astype(input._data.dtype)
        a = 1.0 / math.sqrt((_SELU_ALPHA ** 2 * p + 1) * (1 - p))
        b = (keep - 1) * (_SELU_ALPHA * a) + _SELU_ALPHA * a * p
        out = input * Tensor._wrap(keep * a) + Tensor._wrap(b)
    return _inplace_update(input, out) if inplace else out


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: dropped units are set to SELU's negative saturation, keeping mean and variance."""
    return _alpha_dropout(input, p, training, inplace, feature=False)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels of an (N, C, *) input."""
    return _alpha_dropout(input, p, training, inplace, feature=True)


# ---- embedding bag ----------------------------------------------------------------------------
def _bag_layout(input, offsets, include_last_offset):
    """The flat indices and, for each, the bag it belongs to, plus the number of bags."""
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             f"fixed length sequences. However, found offsets of type {type(offsets)}")
        bags, length = input.shape
        return input._data.reshape(-1), np.repeat(np.arange(bags), length), bags
    if input.ndim != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    if offsets is None or offsets.ndim != 1:
        raise ValueError(f"offsets has to be a 1D Tensor but got {None if offsets is None else offsets.ndim}")
    starts = offsets._data.astype(np.int64)
    if starts.size and starts[0] != 0:
        raise RuntimeError("offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                           f"position 0. However, got {starts[0]}")
    n = input.shape[0]
    if starts.size and (np.any(np.diff(starts) < 0) or starts[-1] > n):
        raise RuntimeError(f"embedding_bag: offsets must be non-decreasing and at most the input length {n}, "
                           f"got {starts.tolist()}")
    bounds = starts if include_last_offset else np.append(starts, n)
    bags = len(bounds) - 1
    bag_of = np.repeat(np.arange(bags), np.diff(bounds))
    return input._data[:bounds[-1]] if bags else input._data[:0], bag_of, bags


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sum, mean or max of the embedding rows of each bag, without building the (n, D) lookup.

    A 2-D ``input`` is one bag per row; a 1-D one is split into bags at ``offsets``.
    Entries equal to ``padding_idx`` are left out (and do not count towards a mean);
    an empty bag gives zeros.
    """
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, but got {mode!r}")
    if scale_grad_by_freq:
        if mode == "max":
            raise ValueError("max mode does not support scaling the gradient by the frequency")
        raise NotImplementedError("embedding_bag: scale_grad_by_freq=True is not supported by gradlab")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                      f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
                                      "on GitHub.")
        if per_sample_weights.shape != input.shape:
            raise ValueError(f"embedding_bag: If per_sample_weights ({list(per_sample_weights.shape)}) is not None, "
                             f"then it must have the same shape as the input ({list(input.shape)})")
    if input._data.dtype.kind not in "iu":
        raise RuntimeError(f"embedding_bag: Expected tensor for argument #1 'indices' to have one of the following "
                           f"scalar types: Long, Int; but got {input.dtype} instead")
    rows = weight.shape[0]
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise AssertionError(f"padding_idx must be within the number of embeddings, -{rows} through {rows - 1}, "
                                 f"but got {padding_idx}")
        padding_idx %= rows
    idx, bag_of, bags = _bag_layout(input, offsets, include_last_offset)
    if idx.size and (idx.min() < 0 or idx.max() >= rows):
        raise IndexError(f"embedding_bag: index out of range in self (indices must be in [0, {rows}), "
                         f"got {idx.min()} .. {idx.max()})")
    if max_norm is not None:
        from .functional import _renorm_rows_
        _renorm_rows_(weight, Tensor._wrap(idx), max_norm, norm_type)
    used = idx != padding_idx if padding_idx is not None else np.ones(idx.shape, dtype=bool)
    psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)[:len(idx)]
    if mode == "max":
        return _bag_max(weight, idx, bag_of, bags, used)
    return _bag_sum(weight, idx, bag_of, bags, used, psw, mean=mode == "mean")


def _bag_sum(weight, idx, bag_of, bags, used, psw, mean):
    """out[b] = sum over the bag's used entries i of scale_i * weight[idx_i], scale_i being 1, 1/count or psw_i."""
    counts = np.bincount(bag_of[used], minlength=bags)
    scale = used.astype(weight._data.dtype)
    if mean:
        scale = scale / np.maximum(counts, 1)[bag_of]
    scale_t = Tensor._wrap(scale)
    if psw is not None:
        scale_t = scale_t * psw  # (a tensor op: per_sample_weights gets its gradient through it)
    rows = weight._data[idx] * scale_t._data[:, None]
    out = np.zeros((bags, weight.shape[1]), dtype=weight._data.dtype)
    np.add.at(out, bag_of, rows)
    idx_t, bag_t = Tensor._wrap(idx.astype(np.int64)), Tensor._wrap(bag_of.astype(np.int64))

    def backward(g):
        g_rows = g.index_select(0, bag_t)  # each entry receives its bag's gradient
        grad_w = grad_psw = None
        if weight._requires_grad:
            grad_w = _creation.zeros(weight.shape, dtype=weight.dtype)
            grad_w = grad_w.index_add(0, idx_t, g_rows * scale_t.unsqueeze(1))
        if psw is not None and psw._requires_grad:
            looked_up = weight.index_select(0, idx_t) * Tensor._wrap(used.astype(weight._data.dtype)).unsqueeze(1)
            grad_psw = (g_rows * looked_up).sum(1)
        return grad_w, grad_psw
    inputs = (weight, psw) if psw is not None else (weight,)
    return record(out, "EmbeddingBagBackward0", lambda g: backward(g)[:len(inputs)], inputs, saved=inputs)


def _bag_max(weight, idx, bag_of, bags, used):
    """out[b, d] = the largest weight[i, d] over the bag's used entries; the gradient goes to that one row."""
    dim = weight.shape[1]
    out = np.full((bags, dim), -np.inf, dtype=weight._data.dtype)
    winner = np.full((bags, dim), -1, dtype=np.int64)  # the embedding row each maximum came from
    for pos in np.flatnonzero(used):  # (bags are short: a loop over entries keeps ties on the first, as PyTorch)
        b, row = bag_of[pos], weight._data[idx[pos]]
        better = row > out[b]
        out[b][better] = row[better]
        winner[b][better] = idx[pos]
    empty = winner < 0
    out[empty] = 0
    winner_t = Tensor._wrap(np.where(empty, 0, winner))
    filled = Tensor._wrap((~empty).astype(weight._data.dtype))

    def backward(g):
        return (_creation.zeros(weight.shape, dtype=weight.dtype).scatter_add(0, winner_t, g * filled),)
    return record(out, "EmbeddingBagBackward0", backward, (weight,))
