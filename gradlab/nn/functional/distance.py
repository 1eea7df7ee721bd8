"""Distances: ``F.cosine_similarity`` and ``F.pairwise_distance`` (Tensor ops), ``F.pdist`` (the op in
``ops/nn/distance.py``)."""
import numpy as np

from ..._tensor import Tensor
from ...ops.nn import distance as _op

__all__ = ["cosine_similarity", "pairwise_distance", "pdist"]


def _clamped_in_value(t, low):
    """t with its values raised to at least ``low``, its gradient passing as if unclamped.

    PyTorch clamps some denominators this way, in place under no_grad.
    """
    return t + Tensor._wrap(np.maximum(t._data, low) - t._data)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (||x1|| * ||x2||) along ``dim``, each norm at least ``eps`` (in value, as PyTorch)."""
    n1 = _clamped_in_value(x1.norm(2, dim, keepdim=True), eps)
    n2 = _clamped_in_value(x2.norm(2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last axis (eps keeps the norm differentiable where x1 = x2)."""
    last = max(x1.ndim, x2.ndim) - 1
    return (x1 - x2 + eps).norm(p, last, keepdim=keepdim)


def pdist(input, p=2):
    """The p-norm distance between every pair of rows i < j of an (N, M) input: N(N-1)/2 values."""
    return _op.pdist(input, float(p))
