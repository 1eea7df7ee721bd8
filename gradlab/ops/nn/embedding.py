"""embedding and embedding bags: rows of a weight picked by indices (and summed, averaged or maxed per bag).

The backward scatters each gradient back into the rows that were read.
"""
import numpy as np

from ... import kernels
from ..._tensor import Tensor
from ...autograd.record import record
from ..registry import op


@op(method=False, function=False, nn=True)
def embedding(weight, indices, padding_idx=None, scale_grad_by_freq=False):
    """Rows ``weight[indices]``; the row at ``padding_idx`` gets no gradient."""
    idx = indices._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"embedding: Expected tensor for argument #1 'indices' to have one of the following "
                           f"scalar types: Long, Int; but got {indices.dtype} instead")
    n_rows = weight._data.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n_rows):
        raise IndexError(f"embedding: index out of range in self (indices in [{idx.min()}, {idx.max()}], "
                         f"weight has {n_rows} rows)")
    row_scale = None
    if padding_idx is not None or scale_grad_by_freq:
        row_scale = np.ones(idx.shape, dtype=weight._data.dtype)
        if padding_idx is not None:
            row_scale[idx == padding_idx] = 0
        if scale_grad_by_freq:
            counts = np.bincount(idx.reshape(-1), minlength=n_rows)
            row_scale /= counts[idx]

    def backward(g):
        if row_scale is not None:
            g = g * Tensor._wrap(row_scale[..., None])
        return (_scatter_rows(g, idx, n_rows),)
    return record(weight._data[idx], "EmbeddingBackward0", backward, (weight,))


def _scatter_rows(g, idx, n_rows):
    """Zeros (n_rows, D) with g[i] added into row idx[i] (repeated rows sum): embedding's adjoint."""
    rows = g._data.shape[idx.ndim:]
    if len(rows) == 1 and g._data.dtype.kind == "f":     # the usual (n_rows, D) weight: the kernel
        out = kernels.embedding_backward(g._data.reshape(idx.size, rows[0]), idx.reshape(-1), n_rows)
    else:
        out = np.zeros((n_rows,) + rows, dtype=g._data.dtype)
        np.add.at(out, idx, g._data)
    return record(out, "EmbeddingBackwardBackward0", lambda gg: (embedding(gg, Tensor._wrap(idx)),), (g,))


# ---- embedding bags ---------------------------------------------------------------------------
def _zeros_like(weight):
    return Tensor._wrap(np.zeros(weight._data.shape, dtype=weight._data.dtype))


@op(method=False, function=False, nn="embedding_bag")
def embedding_bag_sum(weight, idx, bag_of, bags, used, psw, mean):
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
            grad_w = _zeros_like(weight)
            grad_w = grad_w.index_add(0, idx_t, g_rows * scale_t.unsqueeze(1))
        if psw is not None and psw._requires_grad:
            looked_up = weight.index_select(0, idx_t) * Tensor._wrap(used.astype(weight._data.dtype)).unsqueeze(1)
            grad_psw = (g_rows * looked_up).sum(1)
        return grad_w, grad_psw
    inputs = (weight, psw) if psw is not None else (weight,)
    return record(out, "EmbeddingBagBackward0", lambda g: backward(g)[:len(inputs)], inputs, saved=inputs)


@op(method=False, function=False, nn="embedding_bag")
def embedding_bag_max(weight, idx, bag_of, bags, used):
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
        return (_zeros_like(weight).scatter_add(0, winner_t, g * filled),)
    return record(out, "EmbeddingBagBackward0", backward, (weight,))
