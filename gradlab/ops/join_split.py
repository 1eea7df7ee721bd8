"""Ops that join tensors into one or cut one into many: cat, stack, split, chunk, unbind, meshgrid,
atleast_*, cartesian_prod, ..."""
import itertools

import numpy as np

from .._tensor import Tensor
from ..autograd.record import record, record_outputs
from ._common import mark_view, normalize_dim
from .index import select, slice_view
from .registry import op



@op(method=False, alias="concat concatenate")
def cat(tensors, dim=0):
    tensors = [t for t in tensors]
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    tensors = [t for t in tensors if not (t._data.ndim == 1 and t._data.size == 0)] or tensors[:1]
    from .. import _dtype
    dt = _dtype.result_type(*[t._data for t in tensors])
    tensors = [t.to(dt) for t in tensors]
    d = normalize_dim(dim, tensors[0]._data.ndim, "cat")
    try:
        out = np.concatenate([t._data for t in tensors], axis=d)
    except ValueError:
        raise RuntimeError(f"torch.cat(): Sizes of tensors must match except in dimension {d}. Got shapes "
                           f"{[list(t._data.shape) for t in tensors]}") from None
    bounds = np.cumsum([0] + [t._data.shape[d] for t in tensors])

    def backward(g):
        return tuple(g.narrow(d, int(bounds[i]), int(bounds[i + 1] - bounds[i])) if t._requires_grad else None
                     for i, t in enumerate(tensors))
    return record(out, "CatBackward0", backward, tuple(tensors))


concat = concatenate = cat


@op(method=False)
def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shapes = {t._data.shape for t in tensors}
    if len(shapes) > 1:
        raise RuntimeError(f"stack expects each tensor to be equal size, but got shapes "
                           f"{[list(t._data.shape) for t in tensors]}")
    from .. import _dtype
    dt = _dtype.result_type(*[t._data for t in tensors])
    tensors = [t.to(dt) for t in tensors]
    d = normalize_dim(dim, tensors[0]._data.ndim + 1, "stack")

    def backward(g):
        return tuple(part if t._requires_grad else None for part, t in zip(g.unbind(d), tensors))
    return record(np.stack([t._data for t in tensors], axis=d), "StackBackward0", backward, tuple(tensors))


@op(method=False)
def hstack(tensors):
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


@op(method=False)
def vstack(tensors):
    return cat([t if t._data.ndim > 1 else t.unsqueeze(0) for t in tensors], 0)


@op()
def split(a, split_size_or_sections, dim=0):
    d = normalize_dim(dim, a._data.ndim, "split")
    n = a._data.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and n > 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={step}")
        sizes = [min(step, n - i) for i in range(0, n, step)] if n else [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                               f"dimension {d}), but got split_sizes={sizes}")
    name = "SplitBackward0" if isinstance(split_size_or_sections, int) else "SplitWithSizesBackward0"
    return _pieces(a, d, sizes, name)


@op()
def split_with_sizes(a, split_sizes, dim=0):
    """Pieces of the given sizes along ``dim`` (``split`` with a list of sizes)."""
    if isinstance(split_sizes, int):
        raise TypeError(f"split_with_sizes(): argument 'split_sizes' (position 1) must be tuple of ints, not int "
                        f"(got {split_sizes}; use split() for pieces of one size)")
    return split(a, list(split_sizes), dim)


def _pieces(a, d, sizes, name):
    """Views of consecutive pieces of ``a`` along ``d``: one node with an output per piece."""
    bounds = np.cumsum([0] + list(sizes)).tolist()
    spans = [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
    arrays = [a._data[(slice(None),) * d + (span,)] for span in spans]

    def backward(grads):
        # the pieces' gradients side by side, with zeros for a piece that got none
        like = next(g for g in grads if g is not None)
        return (cat([g if g is not None else Tensor._wrap(np.zeros(x.shape, like._data.dtype))
                     for g, x in zip(grads, arrays)], d),)
    outs = record_outputs(arrays, name, backward, (a,))
    for out, span in zip(outs, spans):
        out._version_counter = a._version_counter
        mark_view(out, a, lambda t, span=span: slice_view(t, d, span), multi_output=True)
    return tuple(outs)


@op()
def chunk(a, chunks, dim=0):
    d = normalize_dim(dim, a._data.ndim, "chunk")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = a._data.shape[d]
    step = -(-n // chunks) if n else 1
    return split(a, step, d)


@op()
def tensor_split(a, indices_or_sections, dim=0):
    """Pieces of ``a`` along ``dim``: n sections of nearly equal size, or cut before each given index."""
    d = normalize_dim(dim, a._data.ndim, "tensor_split")
    n = a._data.shape[d]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        sections = indices_or_sections
        if sections <= 0:
            raise RuntimeError(f"tensor_split: number of sections must be larger than 0, got {sections}")
        size, extra = divmod(n, sections)  # the first ``extra`` sections get one more element
        bounds = [i * size + min(i, extra) for i in range(sections + 1)]
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    return tuple(slice_view(a, d, slice(lo, hi)) for lo, hi in zip(bounds[:-1], bounds[1:]))


def _split_along(a, sections, dim, name, min_dims):
    """hsplit / vsplit / dsplit: tensor_split along a fixed dim, sections dividing it evenly."""
    if a._data.ndim < min_dims:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dims} dimension, "
                           f"but got a tensor with {a._data.ndim} dimensions!")
    size = a._data.shape[dim]
    if isinstance(sections, int) and (sections == 0 or size % sections):
        raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the "
                           f"dimension {size} is not divisible by the split_size {sections}!")
    return tensor_split(a, sections, dim)


@op()
def hsplit(a, sections):
    return _split_along(a, sections, 0 if a._data.ndim == 1 else 1, "hsplit", 1)


@op()
def vsplit(a, sections):
    return _split_along(a, sections, 0, "vsplit", 2)


@op()
def dsplit(a, sections):
    return _split_along(a, sections, 2, "dsplit", 3)


@op()
def unbind(a, dim=0):
    d = normalize_dim(dim, a._data.ndim, "unbind")
    arrays = [a._data[(slice(None),) * d + (i, Ellipsis)] for i in range(a._data.shape[d])]

    def backward(grads):
        # the slices' gradients stacked back, with zeros for a slice that got none
        like = next(g for g in grads if g is not None)
        return (stack([g if g is not None else Tensor._wrap(np.zeros(x.shape, like._data.dtype))
                       for g, x in zip(grads, arrays)], d),)
    outs = record_outputs(arrays, "UnbindBackward0", backward, (a,))
    for i, out in enumerate(outs):
        out._version_counter = a._version_counter
        mark_view(out, a, lambda t, i=i: select(t, d, i), multi_output=True)
    return tuple(outs)


@op(method=False)
def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape (views)."""
    try:
        shape = np.broadcast_shapes(*[t._data.shape for t in tensors])
    except ValueError:
        raise RuntimeError(f"broadcast_tensors: shapes {[list(t._data.shape) for t in tensors]} are not "
                           "broadcastable") from None
    return tuple(t if t._data.shape == shape else t.expand(shape) for t in tensors)  # as PyTorch


@op(method=False)
def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors (``indexing="xy"`` swaps the first two output axes, as NumPy)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    n = len(tensors)
    swap = indexing == "xy" and n > 1  # "xy" is "ij" of the first two inputs swapped, outputs swapped back
    if swap:
        tensors = (tensors[1], tensors[0]) + tuple(tensors[2:])
    shape = tuple(t._data.size for t in tensors)
    grids = [t.view((1,) * i + (-1,) + (1,) * (n - i - 1)).expand(shape) for i, t in enumerate(tensors)]
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


@op(method=False)
def column_stack(tensors):
    """Tensors side by side as columns: scalars and vectors become (n, 1) columns, then ``hstack``."""
    if not len(tensors):
        raise RuntimeError("column_stack expects a non-empty TensorList")
    columns = [t.reshape(t._data.size, 1) if t._data.ndim <= 1 else t for t in tensors]
    return cat(columns, 1)


def _at_least_3d(t):
    """(1, 1, 1) for a scalar, (1, n, 1) for a vector, (m, n, 1) for a matrix, as NumPy's atleast_3d."""
    if t._data.ndim == 0:
        return t.reshape(1, 1, 1)
    if t._data.ndim == 1:
        return t.reshape(1, -1, 1)
    if t._data.ndim == 2:
        return t.unsqueeze(2)
    return t


@op(method=False)
def dstack(tensors):
    """Tensors stacked along the third (depth) axis, each lifted to 3-D first."""
    if not len(tensors):
        raise RuntimeError("dstack expects a non-empty TensorList")
    return cat([_at_least_3d(t) for t in tensors], 2)


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
    return stack([input.index_select(0, Tensor._wrap(np.ascontiguousarray(rows[:, k]))) for k in range(r)], 1)
