"""The shape ops and views of gradlab/ops/shape.py: reshape, view, flatten, squeeze, permute, transpose,
expand, flip, roll, tile, repeat, narrow, diff, as_strided, kron, vander, ...
"""
import numpy as np
from hypothesis import strategies as st

from gradlab.testing import OpSpec
from gradlab.testing.strategies import shapes as shape_strategy
from ._common import SMALL, _dim, _kw


# ---- shape ops -----------------------------------------------------------------------------------
@st.composite
def _reshape_target(draw, shape):
    """A different shape with the same number of elements (maybe with one -1)."""
    n = int(np.prod(shape))
    factors = []
    rest = n
    for _ in range(draw(st.integers(0, 3))):
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = draw(st.sampled_from(divisors))
        factors.append(d)
        rest //= d
    factors.append(rest)
    factors = draw(st.permutations(factors))
    if draw(st.booleans()):
        factors[draw(st.integers(0, len(factors) - 1))] = -1
    return tuple(factors)


def _permutation(nd):
    return st.permutations(list(range(nd))).map(tuple)


@st.composite
def _expand_case(draw, shapes):
    shape = shapes[0]
    target = tuple(draw(st.integers(1, 3)) if s == 1 else s for s in shape)
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    target = lead + target
    if target and draw(st.booleans()):  # -1 keeps a size
        i = draw(st.integers(len(lead), len(target) - 1)) if len(target) > len(lead) else None
        if i is not None:
            target = target[:i] + (-1,) + target[i + 1:]
    return {"size": target}


def _np_expand(x, size):
    lead = len(size) - x.ndim
    return np.broadcast_to(x, tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(size)))


def _flatten_kwargs(nd):
    n = max(nd, 1)
    return st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).map(sorted).flatmap(
        lambda se: st.fixed_dictionaries({"start": st.sampled_from([se[0], se[0] - n]),
                                          "end": st.sampled_from([se[1], se[1] - n])}))


def _np_flatten(x, start, end):
    if x.ndim == 0:
        return x.reshape(1)
    s, e = start % x.ndim, end % x.ndim
    return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:]) if x.size else x.reshape(
        x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:])


def _np_squeeze(x, dim):
    if x.ndim == 0:
        return x
    return np.squeeze(x, dim) if x.shape[dim] == 1 else x


def _np_roll(x, shifts, dims):
    return np.roll(x, shifts, dims)


# ---- shape ops --------------------------------------------------------------------------------------------
@st.composite
def _rot90_case(draw, shapes):
    nd = len(shapes[0])
    dims = draw(st.permutations(range(nd)).map(lambda p: p[:2]))
    return {"k": draw(st.integers(-3, 5)), "dims": tuple(d - nd if draw(st.booleans()) else d for d in dims)}


@st.composite
def _diff_case(draw, shapes):
    return {"n": draw(st.integers(0, 3)), "dim": draw(_dim(len(shapes[0])))}


@st.composite
def _glued_shapes(draw, dtype=None):
    """x, prepend and append, differing only in the last dim."""
    lead = draw(shape_strategy(max_dims=2, max_side=3))
    return tuple(lead + (draw(st.integers(1, 3)),) for _ in range(3))


@st.composite
def _strided_case(draw, shapes):
    """A size, stride and storage offset that stay inside the input's elements (overlaps allowed)."""
    numel = int(np.prod(shapes[0]))
    size = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    stride = tuple(draw(st.integers(0, 3)) for _ in size)
    reach = sum((s - 1) * st_ for s, st_ in zip(size, stride))
    if reach >= numel:  # shrink to fit
        size, stride, reach = (1,) * len(size), stride, 0
    offset = draw(st.integers(0, numel - 1 - reach))
    return {"size": size, "stride": stride, "offset": offset}


def _np_as_strided(x, size, stride, offset):
    flat = x.reshape(-1)
    return np.lib.stride_tricks.as_strided(flat[offset:], size, [s * flat.itemsize for s in stride]).copy()


@st.composite
def _sum_to_case(draw, shapes):
    shape = shapes[0]
    kept = shape[draw(st.integers(0, len(shape))):]
    return {"size": tuple(1 if draw(st.booleans()) else s for s in kept)}


def _np_sum_to(x, size):
    lead = x.ndim - len(size)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(size) if s == 1 and x.shape[lead + i] != 1)
    return np.sum(x, axis=axes).reshape(size) if axes else x


_SMALL_PAIR = st.tuples(shape_strategy(max_dims=3, max_side=3), shape_strategy(max_dims=3, max_side=3))


SPECS = [
    OpSpec("reshape", lambda lib, x, size: x.reshape(size), lambda x, size: x.reshape(size),
           kwargs=lambda shapes: st.fixed_dictionaries({"size": _reshape_target(shapes[0])}), int_dtypes=("int64",)),
    OpSpec("view", lambda lib, x, size: x.view(*size), lambda x, size: x.reshape(size),
           kwargs=lambda shapes: st.fixed_dictionaries({"size": _reshape_target(shapes[0])})),
    OpSpec("view_after_transpose_then_reshape", lambda lib, x: x.t().reshape(-1),
           lambda x: x.T.reshape(-1), min_dims=2, max_dims=2),
    OpSpec("flatten", lambda lib, x, start, end: x.flatten(start, end) if x.dim() else x.flatten(),
           lambda x, start, end: _np_flatten(x, start, end), min_dims=0, max_dims=4,
           kwargs=lambda shapes: _flatten_kwargs(len(shapes[0]))),
    OpSpec("squeeze_all", lambda lib, x: x.squeeze(), np.squeeze, max_side=2, max_dims=4),
    OpSpec("squeeze_dim", lambda lib, x, dim: x.squeeze(dim), lambda x, dim: _np_squeeze(x, dim), max_side=2,
           max_dims=4, kwargs=_kw(dim=_dim)),
    OpSpec("unsqueeze", lambda lib, x, dim: x.unsqueeze(dim), lambda x, dim: np.expand_dims(x, dim % (x.ndim + 1)),
           kwargs=_kw(dim=lambda nd: st.integers(-nd - 1, nd))),
    OpSpec("permute", lambda lib, x, dims: x.permute(*dims) if dims else x.permute(dims), lambda x, dims: np.transpose(x, dims),
           max_dims=4, kwargs=_kw(dims=_permutation)),
    OpSpec("permute_tuple", lambda lib, x, dims: lib.permute(x, dims), lambda x, dims: np.transpose(x, dims),
           max_dims=4, kwargs=_kw(dims=_permutation)),
    OpSpec("transpose", lambda lib, x, d0, d1: x.transpose(d0, d1), lambda x, d0, d1: np.swapaxes(x, d0, d1),
           min_dims=1, kwargs=_kw(d0=_dim, d1=_dim)),
    OpSpec("T_2d", lambda lib, x: x.T, lambda x: x.T, min_dims=2, max_dims=2),
    OpSpec("t", lambda lib, x: x.t(), lambda x: x.T, max_dims=2),
    OpSpec("expand", lambda lib, x, size: x.expand(*size) if size else x.expand(size), _np_expand, kwargs=_expand_case, max_side=3),
    OpSpec("expand_then_sum", lambda lib, x, size: x.expand(size) * 2,
           lambda x, size: _np_expand(x, size) * 2, kwargs=_expand_case, max_side=3),
    OpSpec("roll", lambda lib, x, shifts, dims: x.roll(shifts, dims), _np_roll, min_dims=1,
           kwargs=_kw(shifts=lambda nd: st.integers(-5, 5), dims=_dim)),
    OpSpec("roll_flat", lambda lib, x, shifts: lib.roll(x, shifts), lambda x, shifts: np.roll(x, shifts),
           kwargs={"shifts": st.integers(-5, 5)}),
    OpSpec("tile", lambda lib, x, reps: x.tile(reps), lambda x, reps: np.tile(x, reps), max_dims=2,
           kwargs={"reps": st.lists(st.integers(1, 3), max_size=3).map(tuple)}),
    OpSpec("repeat", lambda lib, x, extra, reps: x.repeat(extra + reps),
           lambda x, extra, reps: np.tile(x.reshape((1,) * len(extra) + x.shape), extra + reps), max_dims=2,
           kwargs=lambda shapes: st.fixed_dictionaries({
               "extra": st.lists(st.integers(1, 2), max_size=2).map(tuple),
               "reps": st.lists(st.integers(1, 3), min_size=len(shapes[0]), max_size=len(shapes[0])).map(tuple)})),
    OpSpec("repeat_interleave", lambda lib, x, r, dim: x.repeat_interleave(r, dim=dim),
           lambda x, r, dim: np.repeat(x, r, axis=dim), min_dims=1,
           kwargs=_kw(r=lambda nd: st.integers(1, 3), dim=lambda nd: st.one_of(st.none(), _dim(nd)))),
    OpSpec("squeeze_tuple", lambda lib, x: x.squeeze((0, -1)), lambda x: _np_squeeze(_np_squeeze(x, 0), -1),
           min_dims=2, max_side=2),
    OpSpec("flip", lambda lib, x, dims: x.flip(dims), lambda x, dims: np.flip(x, dims), min_dims=1,
           kwargs=lambda shapes: st.fixed_dictionaries({"dims": st.lists(
               st.integers(0, len(shapes[0]) - 1), min_size=1, unique=True).map(tuple)})),
    OpSpec("narrow", lambda lib, x, start: x.narrow(0, start, x.shape[0] - start),
           lambda x, start: x[start:], min_dims=1, kwargs={"start": st.integers(0, 0)}),
    OpSpec("movedim", lambda lib, x, src, dst: x.movedim(src, dst), lambda x, src, dst: np.moveaxis(x, src, dst),
           min_dims=1, kwargs=_kw(src=_dim, dst=_dim)),
    OpSpec("unflatten", lambda lib, x: x.unflatten(0, (1, -1)), lambda x: x.reshape((1, -1) + x.shape[1:]),
           min_dims=1),
    OpSpec("adjoint", lambda lib, x: x.adjoint(), lambda x: np.swapaxes(x, -1, -2), min_dims=2),
    OpSpec("expand_copy", lambda lib, x, size: lib.expand_copy(x, size), _np_expand, kwargs=_expand_case, max_side=3),
    OpSpec("moveaxis", lambda lib, x, src, dst: x.moveaxis(src, dst), lambda x, src, dst: np.moveaxis(x, src, dst),
           min_dims=1,
           kwargs=_kw(src=_dim, dst=_dim)),
    OpSpec("ravel", lambda lib, x: (lib.ravel(x), x.transpose(0, -1).ravel()),
           lambda x: (x.ravel(), np.swapaxes(x, 0, -1).ravel()), min_dims=1, int_dtypes=("int64",)),
    OpSpec("fliplr_flipud", lambda lib, x: (lib.fliplr(x), x.flipud()), lambda x: (np.fliplr(x), np.flipud(x)),
           min_dims=2),
    OpSpec("rot90", lambda lib, x, k, dims: x.rot90(k, dims), lambda x, k, dims: np.rot90(x, k, dims), min_dims=2,
           kwargs=_rot90_case, int_dtypes=("int64",)),
    OpSpec("diff", lambda lib, x, n, dim: x.diff(n, dim), lambda x, n, dim: np.diff(x, n, axis=dim), min_dims=1,
           kwargs=_diff_case, int_dtypes=("int64",)),
    OpSpec("diff_prepend_append", lambda lib, x, p, a: lib.diff(x, 2, -1, prepend=p, append=a),
           lambda x, p, a: np.diff(x, 2, axis=-1, prepend=p, append=a), arity=3, shapes=_glued_shapes()),
    OpSpec("as_strided", lambda lib, x, size, stride, offset: x.as_strided(size, stride, offset), _np_as_strided,
           kwargs=_strided_case, int_dtypes=("int64",)),
    OpSpec("sum_to_size", lambda lib, x, size: x.sum_to_size(size), _np_sum_to, kwargs=_sum_to_case),
    OpSpec("kron", lambda lib, a, b: lib.kron(a, b), np.kron, arity=2, shapes=_SMALL_PAIR, int_dtypes=("int64",)),
    # PyTorch 2.13's vander cannot backward (its own in-place write trips its version check): values against
    # torch, gradients against finite differences only
    OpSpec("vander", lambda lib, x, n, increasing: lib.vander(x, n, increasing),
           lambda x, n, increasing: np.vander(x, n, increasing), min_dims=1, max_dims=1, domain=(-2, 2),
           kwargs={"n": st.one_of(st.none(), st.integers(0, 4)), "increasing": st.booleans()}, int_dtypes=("int64",),
           grad=False),
    OpSpec("vander_grad", lambda lib, x, n, increasing: lib.vander(x, n, increasing),
           lambda x, n, increasing: np.vander(x, n, increasing), min_dims=1, max_dims=1, domain=(-2, 2),
           kwargs={"n": st.integers(2, 4), "increasing": st.booleans()}, torch=False),
]

GRADGRAD_SPECS = [
    OpSpec("expand", lambda lib, x, size: x.expand(size) ** 2, kwargs=_expand_case, **SMALL),
    OpSpec("roll_masked_select", lambda lib, x: (x.roll(1, 0) ** 2, x.masked_select(x > 0) ** 2), avoid=(0,),
           min_dims=1, **SMALL),
]
