"""Embeddings: ``F.embedding``, ``F.embedding_bag`` (the ops in ``ops/nn/embedding.py``) and ``F.one_hot``."""
import numpy as np

from ..._tensor import Tensor
from ...ops import index as _index
from ...ops.nn import embedding as _op

__all__ = ["embedding", "embedding_bag", "one_hot"]


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` picked by the integer ``input``; row ``padding_idx`` receives no gradient."""
    rows = weight.shape[0]
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise AssertionError(f"Padding_idx must be within num_embeddings (got {padding_idx} for {rows} rows)")
        padding_idx %= rows
    if max_norm is not None:
        _renorm_rows_(weight, input, max_norm, norm_type)
    return _op.embedding(weight, input, padding_idx, scale_grad_by_freq)


def _renorm_rows_(weight, input, max_norm, norm_type):
    """Rescale, in place, the rows that ``input`` reads whose norm exceeds ``max_norm`` (as PyTorch)."""
    rows = np.unique(input._data)
    w = weight._data
    norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    w[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None]
    weight._version_counter[0] += 1

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
        _renorm_rows_(weight, Tensor._wrap(idx), max_norm, norm_type)
    used = idx != padding_idx if padding_idx is not None else np.ones(idx.shape, dtype=bool)
    psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)[:len(idx)]
    if mode == "max":
        return _op.embedding_bag_max(weight, idx, bag_of, bags, used)
    return _op.embedding_bag_sum(weight, idx, bag_of, bags, used, psw, mean=mode == "mean")

def one_hot(tensor, num_classes=-1):
    return _index.one_hot(tensor, num_classes)
