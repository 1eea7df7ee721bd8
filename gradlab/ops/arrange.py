"""Arranging tensors: atleast_1d / 2d / 3d, cartesian_prod and combinations.

All are built from view and index ops (reshape, unsqueeze, meshgrid,
index_select, stack), so their gradients are those ops' gradients.
"""
import itertools

import numpy as np

from .._tensor import Tensor
from .registry import op


def _each(tensors, lift):
    """atleast_*d's calling convention: one tensor gives one tensor, several (or a sequence) give a tuple."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
        return tuple(lift(t) for t in tensors)
    return lift(tensors[0]) if len(tensors) == 1 else tuple(lift(t) for t in tensors)


@op(method=False)
def atleast_1d(*tensors):
    """A 0-d tensor as shape (1,); others as they are."""
    return _each(tensors, lambda t: t.reshape(1) if t._data.ndim == 0 else t)


@op(method=False)
def atleast_2d(*tensors):
    """0-d as (1, 1), 1-d (n,) as (1, n); others as they are."""
    def lift(t):
        if t._data.ndim == 0:
            return t.reshape(1, 1)
        return t.unsqueeze(0) if t._data.ndim == 1 else t
    return _each(tensors, lift)


@op(method=False)
def atleast_3d(*tensors):
    """0-d as (1, 1, 1), (n,) as (1, n, 1), (m, n) as (m, n, 1); others as they are."""
    def lift(t):
        if t._data.ndim == 0:
            return t.reshape(1, 1, 1)
        if t._data.ndim == 1:
            return t.unsqueeze(0).unsqueeze(-1)
        return t.unsqueeze(-1) if t._data.ndim == 2 else t
    return _each(tensors, lift)


def _check_vector(t):
    if t._data.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(t._data.shape)}")


@op(method=False)
def cartesian_prod(*tensors):
    """All tuples (a_i, b_j, ...) of the vectors' elements, in row-major order: (N_a * N_b * ..., k)."""
    for t in tensors:
        _check_vector(t)
    if len(tensors) == 1:
        return tensors[0]
    from .shape import meshgrid, stack
    grids = meshgrid(*tensors, indexing="ij")
    return stack([grid.flatten() for grid in grids], 1)


@op(method=False)
def combinations(input, r=2, with_replacement=False):
    """The r-length combinations of the vector's elements (itertools.combinations order), as rows of an
    (n_combinations, r) tensor; with_replacement allows repeats (combinations_with_replacement)."""
    _check_vector(input)
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return Tensor._wrap(np.zeros((0,), dtype=input._data.dtype))
    choose = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = np.array(list(choose(range(input._data.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    from .shape import stack
    return stack([input.index_select(0, Tensor._wrap(np.ascontiguousarray(rows[:, k]))) for k in range(r)], 1)
