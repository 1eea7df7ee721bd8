"""The strategies and reference builders that several op families' specs share.

Each spec's ``fn(lib, ...)`` runs unchanged on gradlab and on torch; ``ref`` is
the NumPy reference.  Inputs come from grids (multiples of 1/32) and keep away
from kinks and poles, so gradient checks never straddle a discontinuity.
"""
import dataclasses

import numpy as np
from hypothesis import strategies as st

from gradlab.testing import grid_floats
from gradlab.testing.strategies import shapes as shape_strategy

NAN, INF = float("nan"), float("inf")
INT = ("int64",)


# ---- strategies for arguments that depend on the drawn shapes -------------------------------------
def _dim(nd):
    n = max(nd, 1)
    return st.integers(-n, n - 1)


def _dims(nd, allow_none=True, allow_tuple=True):
    options = [_dim(nd)]
    if allow_none:
        options.append(st.none())
    if allow_tuple and nd > 0:
        options.append(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True)
                       .flatmap(lambda ds: st.tuples(*[st.sampled_from([d, d - nd]) for d in ds])))
    return st.one_of(*options)


def reduce_kwargs(allow_none=True, allow_tuple=True, **extra):
    def make(shapes):
        base = {"dim": _dims(len(shapes[0]), allow_none, allow_tuple), "keepdim": st.booleans()}
        base.update(extra)
        return st.fixed_dictionaries(base)
    return make


def _reduce_ref(np_fn, **np_kwargs):
    def ref(x, dim=None, keepdim=False, **kw):
        if x.ndim == 0:
            return np.asarray(np_fn(x, **np_kwargs, **kw))
        return np.asarray(np_fn(x, axis=dim, keepdims=keepdim, **np_kwargs, **kw))
    return ref


# ---- scalars on either side -----------------------------------------------------------------------
SCALARS = st.one_of(grid_floats(-3, 3, step=0.25, avoid=(0,)), st.integers(-3, 3).filter(bool))


def _binary(op):
    return lambda lib, x, y: op(x, y)


def _scalar_right(op):
    return lambda lib, x, s: op(x, s)


def _np_scalar(op):
    """NumPy's op with the scalar kept as a Python number (no dtype promotion check here)."""
    return lambda x, s: np.asarray(op(x.astype(np.float64) if isinstance(s, float) else x, s))


# odd multiples of 1/64: off the inputs' 1/32 grid (no input sits on a clamp bound or kink), and never divide
# evenly by multiples of 1/4 (x % y and x // y stay off their jumps)
ODD_64THS = st.integers(-96, 95).map(lambda i: (2 * i + 1) / 64)


def _kw(**strategies_of_shape):
    """kwargs from functions of the first input's rank: ``_kw(dim=lambda nd: st.integers(...))``."""
    return lambda shapes: st.fixed_dictionaries({k: f(len(shapes[0])) for k, f in strategies_of_shape.items()})


def _take(lib, array):
    return lib.from_numpy(array)


@st.composite
def _into_shapes(draw, dtype=None):
    """(x_shape, y_shape) where y broadcasts to x (the in-place result keeps x's shape)."""
    x = draw(shape_strategy(max_dims=3, max_side=4))
    y = x[draw(st.integers(0, len(x))):]
    y = tuple(1 if draw(st.booleans()) else s for s in y)
    return x, y


@st.composite
def _gather_case(draw, shapes, fits=False):
    """dim and an int64 index for gather along it (repeats allowed); ``fits``: no larger than the input."""
    from hypothesis.extra import numpy as hnp
    shape = shapes[0]
    d = draw(st.integers(0, len(shape) - 1))
    index_shape = tuple(draw(st.integers(1, s if fits or i != d else 4)) for i, s in enumerate(shape))
    index = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(0, shape[d] - 1)))
    return {"dim": d, "index": index}


_VECTORS = st.tuples(st.integers(1, 4), st.integers(1, 4)).map(lambda t: ((t[0],), (t[1],)))


# two grids that never meet: multiples of 1/16 and odd multiples of 1/32 (x - y is never 0)
EVEN = st.integers(-48, 48).map(lambda i: i / 16)
ODD = st.integers(-48, 47).map(lambda i: (2 * i + 1) / 32)


def _dim_keepdim(allow_none=False):
    def make(shapes):
        nd = len(shapes[0])
        dims = st.one_of(st.none(), _dim(nd)) if allow_none else _dim(nd)
        return st.fixed_dictionaries({"dim": dims, "keepdim": st.booleans()})
    return make


WITH_NAN = st.one_of(grid_floats(-3, 3), st.just(NAN))
SPECIAL_VALUES = st.sampled_from([0.0, -0.0, 1.5, -2.0, INF, -INF, NAN])



def _method(name, *args):
    return lambda lib, x: getattr(x, name)(*args)


def _function(name):
    return lambda lib, *xs: getattr(lib, name)(*xs)


def _f64(np_fn):
    """The reference computed in float64 (integer inputs compute in float, as the ops do)."""
    return lambda *xs, **kw: np_fn(*[np.asarray(x, dtype=np.float64) for x in xs], **kw)



# ---- second derivatives: small inputs (gradgradcheck's cost grows with the square of the size) ----------
SMALL = dict(max_dims=2, max_side=3)


def second_order(specs, *names, **changes):
    """The named specs on small float inputs, for the second-derivative factory."""
    by_name = {s.name: s for s in specs}
    return [dataclasses.replace(by_name[n], int_dtypes=(), **SMALL, **changes) for n in names]
