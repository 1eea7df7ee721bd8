"""pdist: the p-norm distance between every pair of rows, as one node."""
import math

import numpy as np

from ..._tensor import Tensor
from ...autograd.record import record
from ..compare import where
from ..registry import op
from ._common import _check_float, _keep_output


@op(method=False, function=False, nn=True)
def pdist(x, p=2.0):
    """The p-norm distance between every pair of rows i < j of an (N, M) input, as a vector of N(N-1)/2."""
    if x._data.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {x._data.ndim}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    _check_float(x, "pdist")
    n = x._data.shape[0]
    first, second = np.triu_indices(n, 1)
    # row k of this matrix takes the difference x[first[k]] - x[second[k]]
    pairs = np.zeros((first.size, n), dtype=x._data.dtype)
    pairs[np.arange(first.size), first] = 1
    pairs[np.arange(first.size), second] = -1
    diff = x._data[first] - x._data[second]
    dist = _norm_rows(diff, p)

    def backward(g):
        d = Tensor._wrap(pairs) @ x
        return (Tensor._wrap(pairs).t() @ (_norm_rows_grad(d, result, p) * g.unsqueeze(1)),)
    result = _keep_output(record(dist, "PdistBackward0", backward, (x,), saved=(x,)))
    return result


def _norm_rows(a, p):
    """The p-norm of each row of array ``a`` (p = 0 counts the non-zeros, p = inf is the largest |entry|)."""
    if p == 0:
        return (a != 0).sum(1).astype(a.dtype)
    if p == math.inf:
        return np.abs(a).max(1, initial=0)
    return (np.abs(a) ** p).sum(1) ** (1 / p)


def _norm_rows_grad(d, dist, p):
    """d ||d_k||_p / d d_k for each row k of Tensor ``d`` (0 where the row is all zeros, as PyTorch)."""
    dist = dist.unsqueeze(1)
    zero = Tensor._wrap(dist._data == 0)
    if p == 0:
        return d * 0
    if p == 1:
        return d.sign()
    if p == math.inf:
        return d.sign() * Tensor._wrap(np.abs(d._data) == dist._data)
    safe = where(zero, dist * 0 + 1, dist)
    if p == 2:
        return where(zero, d * 0, d / safe)
    if p < 1:  # |d|^(p - 1) is infinite at a zero entry, whose gradient PyTorch sets to 0
        zero = Tensor._wrap(zero._data | (d._data == 0))
        d_safe = where(zero, d * 0 + 1, d)
        return where(zero, d * 0, d.sign() * d_safe.abs().pow(p - 1) / safe.pow(p - 1))
    return where(zero, d * 0, d.sign() * d.abs().pow(p - 1) / safe.pow(p - 1))
