"""Joining and splitting, from gradlab/ops/join_split.py: cat, stack, column_stack, dstack, split,
chunk, tensor_split, h/v/dsplit, unbind, broadcast_tensors, meshgrid.
"""
import numpy as np
from hypothesis import strategies as st

from gradlab.testing import OpSpec
from gradlab.testing.strategies import shapes as shape_strategy
from ._common import SMALL, _dim, _kw, _VECTORS


def _same_except(dims_strategy):
    """Three shapes equal except along one axis, for cat."""
    @st.composite
    def make(draw, dtype=None):
        shape = draw(shape_strategy(min_dims=1, max_dims=3, max_side=3))
        d = draw(st.integers(0, len(shape) - 1))
        return tuple(shape[:d] + (draw(st.integers(0 if i else 1, 3)),) + shape[d + 1:] for i in range(3))
    return make()


def _cat_kwargs(shapes):
    nd = len(shapes[0])
    dims = [d for d in range(nd) if all(s[:d] + s[d + 1:] == shapes[0][:d] + shapes[0][d + 1:] for s in shapes)]
    return st.fixed_dictionaries({"dim": st.sampled_from(dims + [d - nd for d in dims])})


@st.composite
def _split_kwargs(draw, shapes):
    shape = shapes[0]
    d = draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[d]
    if draw(st.booleans()):
        return {"dim": d, "split": draw(st.integers(1, n + 1))}
    sections, left = [], n
    while left:
        sections.append(draw(st.integers(1, left)))
        left -= sections[-1]
    return {"dim": d, "split": sections}


def _np_split(x, dim, split):
    n = x.shape[dim]
    sizes = split if isinstance(split, list) else [min(split, n - i) for i in range(0, n, split)]
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=dim))


def _np_chunk(x, dim, chunks):
    n = x.shape[dim]
    step = -(-n // chunks)
    return _np_split(x, dim, step)


def _np_meshgrid(a, b, indexing):
    return tuple(np.meshgrid(a, b, indexing=indexing))


def _np_tensor_split(x, dim, sections):
    return tuple(np.array_split(x, sections, axis=dim))


@st.composite
def _column_shapes(draw, dtype=None):
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    return draw(st.sampled_from([((n,), (n, k), (n,)), ((1,), (), (1, k)), ((n, k), (n, 1), (n, 2))]))


@st.composite
def _depth_shapes(draw, dtype=None):
    m, n, k = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return draw(st.sampled_from([((m, n), (m, n, k), (m, n)), ((n,), (n,), (1, n, k)), ((), (1, 1, k), ())]))


SPECS = [
    OpSpec("cat", lambda lib, a, b, c, dim: lib.cat([a, b, c], dim), lambda a, b, c, dim: np.concatenate(
        [a, b, c], dim), arity=3, shapes=_same_except(None), kwargs=_cat_kwargs, int_dtypes=("int64",)),
    OpSpec("cat_tuple_default_dim", lambda lib, a, b: lib.cat((a, b)), lambda a, b: np.concatenate([a, b]),
           arity=2, broadcast=False, min_dims=1),
    OpSpec("stack", lambda lib, a, b, c, dim: lib.stack([a, b, c], dim=dim),
           lambda a, b, c, dim: np.stack([a, b, c], dim), arity=3, broadcast=False,
           kwargs=_kw(dim=lambda nd: st.integers(-nd - 1, nd))),
    OpSpec("split", lambda lib, x, dim, split: x.split(split, dim), _np_split, min_dims=1, max_side=5,
           kwargs=_split_kwargs),
    OpSpec("lib_split", lambda lib, x, dim, split: lib.split(x, split, dim=dim), _np_split, min_dims=1,
           max_side=5, kwargs=_split_kwargs),
    OpSpec("chunk", lambda lib, x, dim, chunks: x.chunk(chunks, dim), _np_chunk, min_dims=1, max_side=5,
           kwargs=_kw(dim=lambda nd: st.integers(-nd, nd - 1), chunks=lambda nd: st.integers(1, 6))),
    OpSpec("broadcast_tensors", lambda lib, x, y: lib.broadcast_tensors(x, y), lambda x, y: np.broadcast_arrays(
        x, y), arity=2),
    OpSpec("meshgrid", lambda lib, a, b, indexing: lib.meshgrid(a, b, indexing=indexing), _np_meshgrid, arity=2,
           shapes=_VECTORS, kwargs={"indexing": st.sampled_from(["ij", "xy"])}),
    OpSpec("select_unbind", lambda lib, x: (x.select(-1, 0),) + tuple(x.unbind(0)),
           lambda x: (x[..., 0],) + tuple(x), min_dims=1),
    OpSpec("tensor_split", lambda lib, x, dim, sections: x.tensor_split(sections, dim), _np_tensor_split,
           min_dims=1, max_side=5, kwargs=_kw(dim=_dim, sections=lambda nd: st.integers(1, 6))),
    # hsplit / vsplit / dsplit at indices (any size) and, via a tuple of equal sections, as NumPy's
    OpSpec("hsplit_vsplit_dsplit", lambda lib, x, cut: x.hsplit([cut]) + lib.vsplit(x, [cut]) + x.dsplit(2),
           lambda x, cut: tuple(np.hsplit(x, [cut]) + np.vsplit(x, [cut]) + np.dsplit(x, 2)),
           shapes=shape_strategy(min_dims=3, max_dims=4, min_side=1, max_side=4).map(
               lambda s: (s[:2] + (2 * s[2],) + s[3:],)), kwargs={"cut": st.integers(0, 4)}),
    OpSpec("column_stack", lambda lib, *ts: lib.column_stack(ts), lambda *xs: np.column_stack(xs), arity=3,
           shapes=_column_shapes()),
    OpSpec("dstack", lambda lib, *ts: lib.dstack(ts), lambda *xs: np.dstack(xs), arity=3, shapes=_depth_shapes()),
]

GRADGRAD_SPECS = [
    OpSpec("split_unbind_stack", lambda lib, x: lib.stack([p * p for p in x.unbind(0)] + [x.split(1)[0][0] ** 3]),
           min_dims=1, **SMALL),
]
