"""Every op of the Tensors surface, described once as an OpSpec for the factory in test_ops.py.

Each ``fn(lib, ...)`` runs unchanged on gradlab and on torch; ``ref`` is the
NumPy reference.  Inputs come from grids (multiples of 1/32) and keep away
from kinks and poles, so gradient checks never straddle a discontinuity.
"""
import operator

import numpy as np
from hypothesis import strategies as st

from gradlab.testing import OpSpec, grid_floats
from gradlab.testing.strategies import shapes as shape_strategy

INF = float("inf")


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


def _axis(dim):
    """NumPy's axis for a torch ``dim`` (None, int or tuple)."""
    return dim


def _reduce_ref(np_fn, **np_kwargs):
    def ref(x, dim=None, keepdim=False, **kw):
        if x.ndim == 0:
            return np.asarray(np_fn(x, **np_kwargs, **kw))
        return np.asarray(np_fn(x, axis=dim, keepdims=keepdim, **np_kwargs, **kw))
    return ref


def _call_reduce(name):
    """x.name() when dim is None (torch has no keepdim for full reductions of max/min), else x.name(dim, keepdim)."""
    def fn(lib, x, dim=None, keepdim=False, **kw):
        method = getattr(x, name)
        if dim is None:
            return method(**kw) if not keepdim else method(dim=tuple(range(x.dim())), keepdim=True, **kw)
        return method(dim=dim, keepdim=keepdim, **kw)
    return fn


# ---- scalars on either side -----------------------------------------------------------------------
SCALARS = st.one_of(grid_floats(-3, 3, step=0.25, avoid=(0,)), st.integers(-3, 3).filter(bool))
# nonzero values whose absolute values never tie (odd 32nds above zero, even 32nds below): max |x| has no kink
DISTINCT_SIZES = st.one_of(st.integers(0, 47).map(lambda i: (2 * i + 1) / 32),
                           st.integers(1, 48).map(lambda i: -2 * i / 32))
POSITIVE_SCALARS = st.one_of(grid_floats(0.25, 2.5, step=0.25), st.integers(1, 3))


def _binary(op):
    return lambda lib, x, y: op(x, y)


def _scalar_right(op):
    return lambda lib, x, s: op(x, s)


def _scalar_left(op):
    return lambda lib, x, s: op(s, x)


def _np_scalar(op):
    """NumPy's op with the scalar kept as a Python number (no dtype promotion check here)."""
    return lambda x, s: np.asarray(op(x.astype(np.float64) if isinstance(s, float) else x, s))


def _np_scalar_left(op):
    return lambda x, s: np.asarray(op(s, x.astype(np.float64) if isinstance(s, float) else x))


# odd multiples of 1/64 never divide evenly by multiples of 1/4: x % y and x // y stay off their jumps
ODD_64THS = st.integers(-96, 95).map(lambda i: (2 * i + 1) / 64)
QUARTERS = st.integers(-12, 12).filter(bool).map(lambda i: i / 4)

def _np_median_dim(x, dim, keepdim):
    """The lower median along dim and where it came from (distinct values, so the index is unique)."""
    if x.ndim == 0:
        return x, np.zeros((), np.int64)
    order = np.argsort(x, axis=dim)
    index = np.take(order, [(x.shape[dim] - 1) // 2], axis=dim)
    values = np.take_along_axis(x, index, dim)
    return (values, index) if keepdim else (values.squeeze(dim), index.squeeze(dim))


ARITHMETIC = [
    OpSpec("add", _binary(operator.add), np.add, arity=2, int_dtypes=("int64", "int32")),
    OpSpec("sub", _binary(operator.sub), np.subtract, arity=2, int_dtypes=("int64",)),
    OpSpec("mul", _binary(operator.mul), np.multiply, arity=2, int_dtypes=("int64", "int32")),
    OpSpec("div", _binary(operator.truediv), np.true_divide, arity=2, avoid=(0,), domain=(-3, 3),
           elements=[grid_floats(-3, 3), grid_floats(-3, 3, avoid=(0,), margin=0.2)], int_dtypes=("int64",)),
    OpSpec("floordiv", _binary(operator.floordiv), np.floor_divide, arity=2, elements=[ODD_64THS, QUARTERS],
           grad=False),
    OpSpec("floordiv_int", _binary(operator.floordiv), np.floor_divide, arity=2, dtypes=(),
           int_dtypes=("int64", "int32"), elements=[st.integers(-20, 20), st.integers(-5, 5).filter(bool)]),
    OpSpec("mod", _binary(operator.mod), np.mod, arity=2, elements=[ODD_64THS, QUARTERS]),
    OpSpec("mod_int", _binary(operator.mod), np.mod, arity=2, dtypes=(), int_dtypes=("int64",),
           elements=[st.integers(-20, 20), st.integers(-5, 5).filter(bool)]),
    OpSpec("fmod", lambda lib, x, y: lib.fmod(x, y), np.fmod, arity=2, elements=[ODD_64THS, QUARTERS]),
    OpSpec("fmod_int", lambda lib, x, y: x.fmod(y), np.fmod, arity=2, dtypes=(), int_dtypes=("int64",),
           elements=[st.integers(-20, 20), st.integers(-5, 5).filter(bool)]),
    OpSpec("fmod_scalar", lambda lib, x, s: x.fmod(s), _np_scalar(np.fmod), elements=ODD_64THS,
           kwargs={"s": st.sampled_from([2, 3, -2, 0.25, 1.5])}, int_dtypes=("int64",)),
    OpSpec("pow", _binary(operator.pow), np.power, arity=2, domain=[(0.25, 3), (-2, 2)]),
    OpSpec("pow_int", _binary(operator.pow), np.power, arity=2, dtypes=(), int_dtypes=("int64",),
           elements=[st.integers(-4, 4), st.integers(0, 3)]),
    OpSpec("neg", lambda lib, x: -x, np.negative, int_dtypes=("int64",)),
    OpSpec("maximum", lambda lib, x, y: lib.maximum(x, y), np.maximum, arity=2, unique=True),
    OpSpec("minimum", lambda lib, x, y: lib.minimum(x, y), np.minimum, arity=2, unique=True),
]

for _name, _op in [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul)]:
    ARITHMETIC += [
        OpSpec(f"{_name}_scalar_right", _scalar_right(_op), _np_scalar(_op), kwargs={"s": SCALARS},
               int_dtypes=("int64", "int32")),
        OpSpec(f"{_name}_scalar_left", _scalar_left(_op), _np_scalar_left(_op), kwargs={"s": SCALARS},
               int_dtypes=("int64",)),
    ]
ARITHMETIC += [
    OpSpec("div_scalar_right", _scalar_right(operator.truediv), _np_scalar(operator.truediv),
           kwargs={"s": SCALARS}, int_dtypes=("int64",)),
    OpSpec("div_scalar_left", _scalar_left(operator.truediv), _np_scalar_left(operator.truediv),
           kwargs={"s": SCALARS}, avoid=(0,), domain=(-3, 3), int_dtypes=("int64",)),
    OpSpec("floordiv_scalar", _scalar_right(operator.floordiv), _np_scalar(operator.floordiv),
           kwargs={"s": st.sampled_from([2, 3, -2, 0.25, 1.5])}, elements=ODD_64THS, grad=False,
           int_dtypes=("int64",)),
    OpSpec("mod_scalar", _scalar_right(operator.mod), _np_scalar(operator.mod),
           kwargs={"s": st.sampled_from([2, 3, -2, 0.25, 1.5])}, elements=ODD_64THS, int_dtypes=("int64",)),
    OpSpec("pow_scalar_exponent", _scalar_right(operator.pow), _np_scalar(operator.pow),
           kwargs={"s": st.sampled_from([2, 3, 0.5, -1, -2.5, 1.5])}, domain=(0.25, 3)),
    OpSpec("pow_int_exponent_any_sign", _scalar_right(operator.pow), _np_scalar(operator.pow),
           kwargs={"s": st.sampled_from([0, 1, 2, 3])}, int_dtypes=("int64",)),
    OpSpec("rpow_scalar_base", _scalar_left(operator.pow), _np_scalar_left(operator.pow),
           kwargs={"s": POSITIVE_SCALARS}, domain=(-2, 2)),
    OpSpec("add_alpha", lambda lib, x, y, alpha: lib.add(x, y, alpha=alpha),
           lambda x, y, alpha: x + alpha * y, arity=2, kwargs={"alpha": st.sampled_from([2, 0.5, -1.5])}),
    OpSpec("sub_alpha", lambda lib, x, y, alpha: x.sub(y, alpha=alpha),
           lambda x, y, alpha: x - alpha * y, arity=2, kwargs={"alpha": st.sampled_from([2, 0.5])}),
]

COMPARISONS = [
    OpSpec(name, _binary(op), op, arity=2, grad=False, int_dtypes=("int64",), domain=(-2, 2))
    for name, op in [("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt), ("le", operator.le),
                     ("gt", operator.gt), ("ge", operator.ge)]
] + [
    OpSpec(f"{name}_scalar", _scalar_right(op), lambda x, s, op=op: op(x, s), grad=False,
           int_dtypes=("int64",), domain=(-2, 2), kwargs={"s": st.sampled_from([0, 1, -0.5, 1.5])})
    for name, op in [("eq", operator.eq), ("lt", operator.lt), ("ge", operator.ge)]
] + [
    OpSpec("logical_and", lambda lib, x, y: (x > 0) & (y < 0), lambda x, y: (x > 0) & (y < 0), arity=2,
           grad=False),
    OpSpec("logical_or", lambda lib, x, y: (x > 0) | (y < 0), lambda x, y: (x > 0) | (y < 0), arity=2,
           grad=False),
    OpSpec("logical_not", lambda lib, x: ~(x > 0), lambda x: ~(x > 0), grad=False),
]


def _unary(name):
    return lambda lib, x: getattr(x, name)()


def _sigmoid(x):
    return 1 / (1 + np.exp(-x.astype(np.float64)))


UNARY = [
    OpSpec("abs", _unary("abs"), np.abs, avoid=(0,), int_dtypes=("int64",)),
    OpSpec("abs_builtin", lambda lib, x: abs(x), np.abs, avoid=(0,)),
    OpSpec("exp", _unary("exp"), np.exp, int_dtypes=("int64",)),
    OpSpec("log", _unary("log"), np.log, domain=(0.1, 5), int_dtypes=("int64",)),
    OpSpec("sqrt", _unary("sqrt"), np.sqrt, domain=(0.1, 5), int_dtypes=("int64",)),
    OpSpec("sin", _unary("sin"), np.sin, int_dtypes=("int64",)),
    OpSpec("cos", _unary("cos"), np.cos, int_dtypes=("int64",)),
    OpSpec("tanh", _unary("tanh"), np.tanh, int_dtypes=("int64",)),
    OpSpec("sigmoid", _unary("sigmoid"), _sigmoid, domain=(-8, 8), int_dtypes=("int64",)),
    OpSpec("relu", _unary("relu"), lambda x: np.maximum(x, 0), avoid=(0,), int_dtypes=("int64",)),
    OpSpec("square", _unary("square"), np.square),
    OpSpec("reciprocal", _unary("reciprocal"), lambda x: 1 / x, elements=grid_floats(-3, 3, avoid=(0,), margin=0.2)),
    OpSpec("lib_exp", lambda lib, x: lib.exp(x), np.exp),
    OpSpec("lib_sigmoid", lambda lib, x: lib.sigmoid(x), _sigmoid),
    OpSpec("lib_relu", lambda lib, x: lib.relu(x), lambda x: np.maximum(x, 0), avoid=(0,)),
]

# clamp bounds are odd multiples of 1/64, off the inputs' 1/32 grid: no input sits on a kink
_BOUNDS = st.integers(-96, 95).map(lambda i: (2 * i + 1) / 64)


@st.composite
def _clamp_kwargs(draw, shapes):
    lo, hi = draw(st.one_of(st.none(), _BOUNDS)), draw(st.one_of(st.none(), _BOUNDS))
    if lo is None and hi is None:
        lo = draw(_BOUNDS)
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return {"min": lo, "max": hi}


UNARY += [
    OpSpec("clamp", lambda lib, x, min, max: x.clamp(min=min, max=max), lambda x, min, max: np.clip(x, min, max),
           kwargs=_clamp_kwargs),
    OpSpec("clamp_int", lambda lib, x, min, max: lib.clamp(x, min, max), lambda x, min, max: np.clip(x, min, max),
           dtypes=(), int_dtypes=("int64",), kwargs={"min": st.integers(-3, 0), "max": st.integers(0, 3)}),
    OpSpec("clamp_min_above_max", lambda lib, x: x.clamp(min=1.0, max=-1.0), lambda x: np.full_like(x, -1.0)),
]

REDUCTIONS = [
    OpSpec("sum", _call_reduce("sum"), _reduce_ref(np.sum), kwargs=reduce_kwargs(), max_dims=4,
           int_dtypes=("int64", "int32")),
    OpSpec("mean", _call_reduce("mean"), _reduce_ref(np.mean), kwargs=reduce_kwargs(), max_dims=4),
    OpSpec("prod", lambda lib, x, dim, keepdim: x.prod() if dim is None else x.prod(dim, keepdim=keepdim),
           lambda x, dim, keepdim: np.prod(x, axis=dim, keepdims=keepdim and dim is not None and x.ndim > 0),
           kwargs=reduce_kwargs(allow_tuple=False),
           domain=(0.5, 1.5), int_dtypes=("int64",)),
    # (magnitudes up to 1.25: the product of 48 elements stays small enough for a finite difference along all)
    OpSpec("prod_with_zeros", lambda lib, x, dim: x.prod(dim) if dim is not None else x.prod(),
           lambda x, dim: np.prod(x, axis=dim), elements=st.sampled_from([0.0, 0.0, 1.0, -1.25, 0.5]),
           kwargs=lambda shapes: st.fixed_dictionaries({"dim": st.one_of(st.none(), _dim(len(shapes[0])))})),
    OpSpec("max_all", lambda lib, x: x.max(), np.max, unique=True, int_dtypes=("int64",)),
    OpSpec("min_all", lambda lib, x: x.min(), np.min, unique=True),
    OpSpec("max_dim", lambda lib, x, dim, keepdim: tuple(x.max(dim, keepdim)),
           lambda x, dim, keepdim: (np.max(x, axis=dim if x.ndim else None, keepdims=keepdim and x.ndim > 0),
                                    np.argmax(x, axis=dim if x.ndim else None, keepdims=keepdim and x.ndim > 0)),
           unique=True, kwargs=reduce_kwargs(allow_none=False, allow_tuple=False), int_dtypes=("int64",)),
    OpSpec("median", lambda lib, x: x.median(), lambda x: np.sort(x, axis=None)[(x.size - 1) // 2],
           unique=True, min_side=1, int_dtypes=("int64",)),
    OpSpec("median_dim", lambda lib, x, dim, keepdim: tuple(lib.median(x, dim, keepdim)), _np_median_dim,
           unique=True, kwargs=reduce_kwargs(allow_none=False, allow_tuple=False), int_dtypes=("int64",)),
    OpSpec("min_dim", lambda lib, x, dim, keepdim: tuple(x.min(dim=dim, keepdim=keepdim)),
           lambda x, dim, keepdim: (np.min(x, axis=dim if x.ndim else None, keepdims=keepdim and x.ndim > 0),
                                    np.argmin(x, axis=dim if x.ndim else None, keepdims=keepdim and x.ndim > 0)),
           unique=True, kwargs=reduce_kwargs(allow_none=False, allow_tuple=False)),
    OpSpec("argmax", lambda lib, x, dim, keepdim: x.argmax(dim=dim, keepdim=keepdim),
           lambda x, dim, keepdim: np.argmax(x, axis=dim if x.ndim else None,
                                             keepdims=keepdim and x.ndim > 0),
           unique=True, grad=False, int_dtypes=("int64",), kwargs=reduce_kwargs(allow_tuple=False)),
    OpSpec("argmin", lambda lib, x, dim, keepdim: lib.argmin(x, dim=dim, keepdim=keepdim),
           lambda x, dim, keepdim: np.argmin(x, axis=dim if x.ndim else None,
                                             keepdims=keepdim and x.ndim > 0),
           unique=True, grad=False, kwargs=reduce_kwargs(allow_tuple=False)),
    OpSpec("var", _call_reduce("var"), lambda x, dim, keepdim, unbiased: np.var(
        x, axis=dim, keepdims=keepdim, ddof=int(unbiased)),
           kwargs=reduce_kwargs(unbiased=st.booleans()), min_dims=1, min_side=2, unique=True),
    OpSpec("std", _call_reduce("std"), lambda x, dim, keepdim, correction: np.std(
        x, axis=dim, keepdims=keepdim, ddof=correction),
           kwargs=reduce_kwargs(correction=st.sampled_from([0, 1])), min_dims=1, min_side=2, unique=True),
    OpSpec("norm", lambda lib, x, p, dim, keepdim: x.norm(p=_fro_dims(p, dim), dim=dim, keepdim=keepdim),
           lambda x, p, dim, keepdim: _np_norm(x, p, dim, keepdim),
           kwargs=reduce_kwargs(p=st.sampled_from([2, 1, 3, INF, "fro"])), elements=DISTINCT_SIZES, unique=True),
    OpSpec("lib_norm_default", lambda lib, x: lib.norm(x), lambda x: np.sqrt(np.sum(x.astype(np.float64) ** 2)),
           avoid=(0,)),
]


def _fro_dims(p, dim):
    """p, or 2 where torch refuses "fro" (over more than two dims): the same norm."""
    return 2 if p == "fro" and isinstance(dim, tuple) and len(dim) > 2 else p


def _np_norm(x, p, dim, keepdim):
    p = 2 if p == "fro" else p
    a = np.abs(x.astype(np.float64))
    kw = {"axis": dim, "keepdims": keepdim}
    if p == INF:
        return np.max(a, **kw)
    return np.sum(a ** p, **kw) ** (1 / p)


# ---- matrix products --------------------------------------------------------------------------
@st.composite
def _matmul_shapes(draw, dtype=None):
    """Operand shapes for matmul: 1-D vectors, matrices and broadcast batches."""
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    a_rank, b_rank = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch_a, batch_b = draw(st.sampled_from([((), ()), ((2,), (2,)), ((3, 1), (2,)), ((1,), (2,)),
                                             ((2, 1), (1, 3)), ((), (2,)), ((2,), ())]))
    a = (k,) if a_rank == 1 else batch_a[max(len(batch_a) - (a_rank - 2), 0):] + (n, k)
    b = (k,) if b_rank == 1 else batch_b[max(len(batch_b) - (b_rank - 2), 0):] + (k, m)
    return a, b


LINALG = [
    OpSpec("matmul", lambda lib, a, b: lib.matmul(a, b), np.matmul, arity=2, shapes=_matmul_shapes(),
           int_dtypes=("int64",)),
    OpSpec("matmul_operator", lambda lib, a, b: a @ b, np.matmul, arity=2, shapes=_matmul_shapes()),
    OpSpec("mm", lambda lib, a, b: a.mm(b), np.matmul, arity=2, shapes=st.tuples(
        st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)).map(lambda t: ((t[0], t[1]), (t[1], t[2])))),
    OpSpec("bmm", lambda lib, a, b: lib.bmm(a, b), np.matmul, arity=2, shapes=st.tuples(
        st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)).map(
        lambda t: ((t[0], t[1], t[2]), (t[0], t[2], t[3])))),
    OpSpec("dot", lambda lib, a, b: lib.dot(a, b), np.dot, arity=2,
           shapes=st.integers(1, 6).map(lambda n: ((n,), (n,))), int_dtypes=("int64",)),
    OpSpec("mv", lambda lib, a, b: a.mv(b), np.matmul, arity=2, shapes=st.tuples(
        st.integers(1, 4), st.integers(1, 4)).map(lambda t: ((t[0], t[1]), (t[1],)))),
]


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


def _kw(**strategies_of_shape):
    """kwargs from functions of the first input's rank: ``_kw(dim=lambda nd: st.integers(...))``."""
    return lambda shapes: st.fixed_dictionaries({k: f(len(shapes[0])) for k, f in strategies_of_shape.items()})


SHAPE_OPS = [
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
]


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


# ---- indexing: get ------------------------------------------------------------------------------
@st.composite
def _basic_index(draw, shape):
    """A basic index for ``shape``: ints, positive-step slices, None and Ellipsis."""
    parts = []
    for n in shape[:draw(st.integers(0, len(shape)))]:
        choice = draw(st.sampled_from(["int", "slice", "full"]))
        if choice == "int" and n > 0:
            parts.append(draw(st.integers(-n, n - 1)))
        elif choice == "slice":
            start = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            stop = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            parts.append(slice(start, stop, draw(st.one_of(st.none(), st.integers(1, 3)))))
        else:
            parts.append(slice(None))
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), None)
    if draw(st.booleans()):  # after the indexed axes, so that each part still indexes the axis it was drawn for
        parts.append(Ellipsis)
    if len(parts) == 1 and draw(st.booleans()):
        return parts[0]
    return tuple(parts)


def _int_array(n, shape=None, unique=False):
    """Index arrays into an axis of size ``n`` (negative indices included)."""
    from hypothesis.extra import numpy as hnp
    shape = shape if shape is not None else shape_strategy(min_dims=1, max_dims=2, max_side=3 if not unique else n)
    elements = st.integers(0, n - 1) if unique else st.integers(-n, n - 1)
    return hnp.arrays(np.int64, shape, elements=elements, unique=unique)


def _bool_mask(shape):
    from hypothesis.extra import numpy as hnp
    return hnp.arrays(np.bool_, shape)


def _leading_mask(shapes):
    shape = shapes[0]
    return st.integers(1, len(shape)).flatmap(lambda k: st.fixed_dictionaries({"mask": _bool_mask(shape[:k])}))


def _take(lib, array):
    return lib.from_numpy(array)


INDEXING = [
    OpSpec("getitem_basic", lambda lib, x, idx: x[idx], lambda x, idx: x[idx], max_dims=4,
           kwargs=lambda shapes: st.fixed_dictionaries({"idx": _basic_index(shapes[0])}), int_dtypes=("int64",)),
    OpSpec("getitem_int_tensor", lambda lib, x, i: x[_take(lib, i)], lambda x, i: x[i], min_dims=1,
           kwargs=lambda shapes: st.fixed_dictionaries({"i": _int_array(shapes[0][0])})),
    OpSpec("getitem_list", lambda lib, x, i: x[list(i)], lambda x, i: x[list(i)], min_dims=1,
           kwargs=lambda shapes: st.fixed_dictionaries({"i": _int_array(shapes[0][0], shape=(3,))})),
    OpSpec("getitem_two_tensors", lambda lib, x, i, j: x[_take(lib, i), _take(lib, j)],
           lambda x, i, j: x[i, j], min_dims=2, max_dims=3,
           kwargs=lambda shapes: st.fixed_dictionaries({"i": _int_array(shapes[0][0], shape=(2, 3)),
                                                        "j": _int_array(shapes[0][1], shape=(3,))})),
    OpSpec("getitem_slice_then_tensor", lambda lib, x, i: x[:, _take(lib, i)], lambda x, i: x[:, i],
           min_dims=2, kwargs=lambda shapes: st.fixed_dictionaries({"i": _int_array(shapes[0][1])})),
    OpSpec("getitem_bool_mask", lambda lib, x, mask: x[_take(lib, mask)], lambda x, mask: x[mask], min_dims=1,
           kwargs=_leading_mask, int_dtypes=("int64",)),
    OpSpec("getitem_comparison_mask", lambda lib, x: x[x > 0.5], lambda x: x[x > 0.5], avoid=(0.5,)),
    OpSpec("index_select", lambda lib, x, i: x.index_select(0, _take(lib, i).reshape(-1)),
           lambda x, i: x[i.reshape(-1)], min_dims=1,
           kwargs=lambda shapes: st.fixed_dictionaries({"i": _int_array(shapes[0][0], unique=False).map(
               lambda a: np.where(a < 0, a + shapes[0][0], a))})),
]


# ---- indexing: set, with autograd through the assignment ----------------------------------------
def _set_scalar_mask(lib, x, mask):
    y = x * 1
    y[_take(lib, mask)] = 1.0
    return y


def _np_set_scalar_mask(x, mask):
    y = x.copy()
    y[mask] = 1.0
    return y


def _set_tensor_value_mask(lib, x, v, mask):
    y = x * 2
    y[_take(lib, mask)] = v
    return y


def _np_set_tensor_value_mask(x, v, mask):
    y = np.array(x * 2)
    y[mask] = v
    return y


def _set_basic(lib, x, z, idx):
    y = x * 1
    y[idx] = z[idx] * 3
    return y


def _np_set_basic(x, z, idx):
    y = x.copy()
    y[idx] = z[idx] * 3
    return y


def _set_advanced(lib, x, z, i):
    y = x * 1
    y[_take(lib, i)] = z[_take(lib, i)] ** 2
    return y


def _np_set_advanced(x, z, i):
    y = x.copy()
    y[i] = z[i] ** 2
    return y


def _set_into_constant(lib, x, mask):
    y = lib.zeros(x.shape, dtype=x.dtype)
    m = _take(lib, mask)
    y[m] = x[m] * 2
    return y


def _np_set_into_constant(x, mask):
    y = np.zeros_like(x)
    y[mask] = x[mask] * 2
    return y


def _augmented_view(lib, x):
    y = x * 1
    y[:, 0] += y[:, 1]
    y[0] *= 2
    return y


def _np_augmented_view(x):
    y = x.copy()
    y[:, 0] += y[:, 1]
    y[0] *= 2
    return y


def _same_shape_mask(shapes):
    return st.fixed_dictionaries({"mask": _bool_mask(shapes[0])})


SETITEM = [
    OpSpec("setitem_mask_scalar", _set_scalar_mask, _np_set_scalar_mask, kwargs=_same_shape_mask,
           int_dtypes=("int64",)),
    OpSpec("setitem_mask_tensor_value", _set_tensor_value_mask, _np_set_tensor_value_mask, arity=2,
           shapes=shape_strategy(max_dims=3, max_side=4).map(lambda s: (s, ())), kwargs=_same_shape_mask),
    OpSpec("setitem_basic_tensor_value", _set_basic, _np_set_basic, arity=2, broadcast=False, max_dims=3,
           kwargs=lambda shapes: st.fixed_dictionaries({"idx": _basic_index(shapes[0])})),
    OpSpec("setitem_advanced_unique", _set_advanced, _np_set_advanced, arity=2, broadcast=False, min_dims=1,
           kwargs=lambda shapes: st.fixed_dictionaries({"i": _int_array(shapes[0][0], unique=True, shape=st.integers(
               1, shapes[0][0]).map(lambda k: (k,)))})),
    OpSpec("setitem_into_constant", _set_into_constant, _np_set_into_constant, kwargs=_same_shape_mask),
    OpSpec("setitem_augmented_view", _augmented_view, _np_augmented_view, min_dims=2, max_dims=3, min_side=2),
]


# ---- in-place ops ------------------------------------------------------------------------------
@st.composite
def _into_shapes(draw, dtype=None):
    """(x_shape, y_shape) where y broadcasts to x (the in-place result keeps x's shape)."""
    x = draw(shape_strategy(max_dims=3, max_side=4))
    y = x[draw(st.integers(0, len(x))):]
    y = tuple(1 if draw(st.booleans()) else s for s in y)
    return x, y


def _inplace_method(name):
    def fn(lib, x, y):
        z = x * 1
        out = getattr(z, name)(y)
        assert out is z
        return z
    return fn


def _augmented(op):
    def fn(lib, x, y):
        z = x * 1
        before = id(z)
        z = op(z, y)
        assert id(z) == before
        return z
    return fn


def _zero(lib, x):
    z = x * 2
    z.zero_()
    return z + x


def _fill(lib, x, v):
    z = x * 2
    z.fill_(v)
    return z * x


INPLACE = [
    OpSpec("add_", _inplace_method("add_"), np.add, arity=2, shapes=_into_shapes(), int_dtypes=("int64",)),
    OpSpec("sub_", _inplace_method("sub_"), np.subtract, arity=2, shapes=_into_shapes()),
    OpSpec("mul_", _inplace_method("mul_"), np.multiply, arity=2, shapes=_into_shapes(), int_dtypes=("int64",)),
    OpSpec("div_", _inplace_method("div_"), np.true_divide, arity=2, shapes=_into_shapes(),
           elements=[grid_floats(-3, 3), grid_floats(-3, 3, avoid=(0,), margin=0.2)]),
    OpSpec("iadd", _augmented(operator.iadd), np.add, arity=2, shapes=_into_shapes(), int_dtypes=("int64",)),
    OpSpec("isub", _augmented(operator.isub), np.subtract, arity=2, shapes=_into_shapes()),
    OpSpec("imul", _augmented(operator.imul), np.multiply, arity=2, shapes=_into_shapes()),
    OpSpec("itruediv", _augmented(operator.itruediv), np.true_divide, arity=2, shapes=_into_shapes(),
           elements=[grid_floats(-3, 3), grid_floats(-3, 3, avoid=(0,), margin=0.2)]),
    OpSpec("iadd_scalar", lambda lib, x, s: _augmented(operator.iadd)(lib, x, s), _np_scalar(operator.add),
           kwargs={"s": SCALARS}),
    OpSpec("imul_scalar", lambda lib, x, s: _augmented(operator.imul)(lib, x, s), _np_scalar(operator.mul),
           kwargs={"s": SCALARS}),
    OpSpec("zero_", _zero, lambda x: x.copy(), int_dtypes=("int64",)),
    OpSpec("fill_", _fill, lambda x, v: x * v, kwargs={"v": SCALARS}),
    OpSpec("exp_", lambda lib, x: (x * 1).exp_(), np.exp),
    OpSpec("clamp_", lambda lib, x: (x * 1).clamp_(-1.0 + 1 / 64, 1.0 + 1 / 64), lambda x: np.clip(
        x, -1.0 + 1 / 64, 1.0 + 1 / 64)),
]


# ---- in-place writes into views: the base's graph must see them (PyTorch's CopySlices) ----------
def _view_row_mul(lib, x, y):
    z = x * 1
    z[0].mul_(y[0])
    return z


def _np_view_row_mul(x, y):
    z = x.copy()
    z[0] *= y[0]
    return z


def _view_chain_add(lib, x, y):
    z = x * 1
    z.t().t().view(-1)[1:].unsqueeze(0).add_(y.reshape(-1)[:-1] ** 2)
    return z


def _np_view_chain_add(x, y):
    z = x.copy()
    z.reshape(-1)[1:] += y.reshape(-1)[:-1] ** 2
    return z


def _view_then_base(lib, x, y):
    z = x * 1
    row = z[-1]
    z.mul_(y)
    return row * 3


def _view_zero(lib, x):
    z = x * 2
    z[:, :1].zero_()
    return z * x


def _np_view_zero(x):
    z = x * 2
    z[:, :1] = 0
    return z * x


def _view_setitem(lib, x, y):
    z = x * 1
    row = z.unsqueeze(0)[0, 0]
    row[0] = y[0, 0] * 4
    return z


def _np_view_setitem(x, y):
    z = x.copy()
    z[0, 0] = y[0, 0] * 4
    return z


_MATRICES = shape_strategy(min_dims=2, max_dims=2, max_side=4).map(lambda s: (s, s))
VIEW_INPLACE = [
    OpSpec("view_row_mul_", _view_row_mul, _np_view_row_mul, arity=2, shapes=_MATRICES),
    OpSpec("view_chain_add_", _view_chain_add, _np_view_chain_add, arity=2, shapes=_MATRICES),
    OpSpec("view_then_base_mul_", _view_then_base, lambda x, y: (x * y)[-1] * 3, arity=2, shapes=_MATRICES),
    OpSpec("view_zero_", _view_zero, _np_view_zero, min_dims=2, max_dims=2),
    OpSpec("view_setitem", _view_setitem, _np_view_setitem, arity=2, shapes=_MATRICES),
]


# ---- where, masked_fill, one_hot ------------------------------------------------------------------
def _one_hot(lib, x, num_classes):
    if lib.__name__ == "gradlab":
        from gradlab.ops.index import one_hot
    else:
        one_hot = lib.nn.functional.one_hot
    return one_hot(x, num_classes)


def _np_one_hot(x, num_classes):
    n = num_classes if num_classes != -1 else (int(x.max()) + 1 if x.size else 0)
    return (x[..., None] == np.arange(n)).astype(np.int64)


SELECTION = [
    OpSpec("where", lambda lib, x, y: lib.where(x > 0, x, y), lambda x, y: np.where(x > 0, x, y), arity=2,
           avoid=(0,), int_dtypes=("int64",)),
    OpSpec("where_three_inputs", lambda lib, c, x, y: lib.where(c > 0, x, y), lambda c, x, y: np.where(c > 0, x, y),
           arity=3, grad_inputs=(1, 2)),
    OpSpec("where_scalar_other", lambda lib, x: lib.where(x > 0, x, 0.0), lambda x: np.where(x > 0, x, 0.0),
           avoid=(0,)),
    OpSpec("where_two_numbers", lambda lib, x: (lib.where(x > 0, 1, 0.5), lib.where(x > 0, 2, -1)),
           lambda x: (np.where(x > 0, 1, 0.5).astype(np.float32), np.where(x > 0, 2, -1)), grad=False),
    OpSpec("tensor_where", lambda lib, x, y: x.where(y > 0, y), lambda x, y: np.where(y > 0, x, y), arity=2,
           avoid=(0,)),
    OpSpec("masked_fill", lambda lib, x, y, v: x.masked_fill(y > 0, v), lambda x, y, v: np.where(y > 0, np.asarray(v).astype(x.dtype), x),
           arity=2, shapes=_into_shapes(), grad_inputs=(0,), kwargs={"v": SCALARS}, int_dtypes=("int64",)),
    OpSpec("masked_fill_tensor_value", lambda lib, x, v: x.masked_fill(x > 0, v),
           lambda x, v: np.where(x > 0, v, x), arity=2, avoid=(0,),
           shapes=shape_strategy(max_dims=3).map(lambda s: (s, ()))),
    OpSpec("masked_fill_", lambda lib, x: (x * 1).masked_fill_(x < 0, -1.0), lambda x: np.where(x < 0, -1.0, x),
           avoid=(0,)),
    OpSpec("one_hot", _one_hot, _np_one_hot, dtypes=(), int_dtypes=("int64",), domain=(0, 4),
           kwargs={"num_classes": st.sampled_from([-1, 5, 7])}),
]

# ---- gather / scatter and the smaller helpers tutorials use ------------------------------------------
@st.composite
def _gather_case(draw, shapes, fits=False):
    """dim and an int64 index for gather along it (repeats allowed); ``fits``: no larger than the input."""
    from hypothesis.extra import numpy as hnp
    shape = shapes[0]
    d = draw(st.integers(0, len(shape) - 1))
    index_shape = tuple(draw(st.integers(1, s if fits or i != d else 4)) for i, s in enumerate(shape))
    index = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(0, shape[d] - 1)))
    return {"dim": d, "index": index}


@st.composite
def _scatter_case(draw, shapes):
    """dim and an index with distinct targets per slice (torch's scatter is nondeterministic on repeats)."""
    shape = shapes[0]
    d = draw(st.integers(0, len(shape) - 1))
    perm = np.array(draw(st.permutations(list(range(shape[d])))), dtype=np.int64)
    keep = draw(st.integers(1, shape[d]))
    index = np.broadcast_to(perm[:keep].reshape((1,) * d + (keep,) + (1,) * (len(shape) - d - 1)),
                            shape[:d] + (keep,) + shape[d + 1:]).copy()
    return {"dim": d, "index": index}


def _np_gather(x, dim, index):
    region = tuple(slice(None) if k == dim else slice(0, s) for k, s in enumerate(index.shape))
    return np.take_along_axis(x[region], index, dim)


def _np_scatter(x, src, dim, index):
    out = x.copy()
    np.put_along_axis(out, index, np.take_along_axis(src, np.zeros_like(index), dim) * 0 + _src_part(src, index),
                      dim)
    return out


def _cut(src, index):
    """src cut to the index's shape (torch's backward rejects a larger src)."""
    return src[tuple(slice(0, s) for s in index.shape)]


def _src_part(src, index):
    return src[tuple(slice(0, s) for s in index.shape)]


def _np_scatter_add(x, src, dim, index):
    out = x.copy()
    grids = np.indices(index.shape, sparse=True)
    full = tuple(index if k == dim else grids[k] for k in range(index.ndim))
    np.add.at(out, full, _src_part(src, index))
    return out


def _np_log_nan_to_num(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num(np.log(x))


def _np_sort(x, dim, descending):
    order = np.argsort(-x if descending else x, axis=dim, kind="stable")
    return np.take_along_axis(x, order, dim), order


def _np_roll(x, shifts, dims):
    return np.roll(x, shifts, dims)


def _np_meshgrid(a, b, indexing):
    return tuple(np.meshgrid(a, b, indexing=indexing))


_VECTORS = st.tuples(st.integers(1, 4), st.integers(1, 4)).map(lambda t: ((t[0],), (t[1],)))
MORE = [
    OpSpec("gather", lambda lib, x, dim, index: x.gather(dim, _take(lib, index)), _np_gather, min_dims=1,
           kwargs=_gather_case, int_dtypes=("int64",)),
    OpSpec("scatter", lambda lib, x, src, dim, index: x.scatter(dim, _take(lib, index), _cut(src, index)),
           _np_scatter,
           arity=2, broadcast=False, min_dims=1, kwargs=_scatter_case),
    OpSpec("scatter_value_", lambda lib, x, dim, index: (x * 1).scatter_(dim, _take(lib, index), 2.5),
           lambda x, dim, index: _np_scatter(x, np.full_like(x, 2.5), dim, index), min_dims=1, kwargs=_scatter_case),
    OpSpec("scatter_add", lambda lib, x, src, dim, index: x.scatter_add(dim, _take(lib, index), _cut(src, index)),
           _np_scatter_add, arity=2, broadcast=False, min_dims=1, kwargs=lambda shapes: _gather_case(shapes, True)),
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
    OpSpec("broadcast_tensors", lambda lib, x, y: lib.broadcast_tensors(x, y), lambda x, y: np.broadcast_arrays(
        x, y), arity=2),
    OpSpec("meshgrid", lambda lib, a, b, indexing: lib.meshgrid(a, b, indexing=indexing), _np_meshgrid, arity=2,
           shapes=_VECTORS, kwargs={"indexing": st.sampled_from(["ij", "xy"])}),
    OpSpec("trace", lambda lib, x: lib.trace(x), np.trace, min_dims=2, max_dims=2),
    OpSpec("addcmul_", lambda lib, x, a, b: (x * 1).addcmul_(a, b, value=0.5), lambda x, a, b: x + 0.5 * a * b,
           arity=3, broadcast=False),
    OpSpec("addcdiv_", lambda lib, x, a, b: (x * 1).addcdiv_(a, b, value=-2), lambda x, a, b: x - 2 * a / b,
           arity=3, broadcast=False, elements=[grid_floats(-3, 3), grid_floats(-3, 3),
                                               grid_floats(0.5, 3)]),
    OpSpec("nan_to_num", lambda lib, x: x.log().nan_to_num(), _np_log_nan_to_num,
           elements=st.sampled_from([0.0, -1.0, 0.5, 2.0, 1.5]), grad=False),
    OpSpec("sort", lambda lib, x, dim, descending: tuple(x.sort(dim, descending=descending)),
           lambda x, dim, descending: _np_sort(x, dim, descending), unique=True, min_dims=1,
           kwargs=_kw(dim=_dim, descending=lambda nd: st.booleans()), int_dtypes=("int64",)),
    OpSpec("argsort", lambda lib, x, dim: lib.argsort(x, dim, descending=True),
           lambda x, dim: _np_sort(x, dim, True)[1], unique=True, min_dims=1, grad=False, kwargs=_kw(dim=_dim)),
    OpSpec("topk", lambda lib, x, k, dim, largest: tuple(x.topk(min(k, x.shape[dim]), dim, largest)),
           lambda x, k, dim, largest: tuple(a.take(np.arange(min(k, x.shape[dim])), axis=dim)
                                            for a in _np_sort(x, dim, largest)),
           unique=True, min_dims=1, kwargs=_kw(k=lambda nd: st.integers(1, 3), dim=_dim,
                                               largest=lambda nd: st.booleans())),
    OpSpec("max_binary", lambda lib, x, y: lib.max(x, y), np.maximum, arity=2, unique=True),
    OpSpec("squeeze_tuple", lambda lib, x: x.squeeze((0, -1)), lambda x: _np_squeeze(_np_squeeze(x, 0), -1),
           min_dims=2, max_side=2),
]

# ---- the rest of the Tensor methods gradlab defines -------------------------------------------------
_ROUNDING_SAFE = st.integers(-96, 95).map(lambda i: (2 * i + 1) / 64)  # never on an integer or a .5


def _np_logsumexp(x, dim, keepdim):
    peak = np.max(x, axis=dim, keepdims=True)
    out = np.log(np.sum(np.exp(x - peak), axis=dim, keepdims=True)) + peak
    return out if keepdim else np.squeeze(out, axis=dim)


EXTRA = [
    OpSpec("cumsum", lambda lib, x, dim: x.cumsum(dim), lambda x, dim: np.cumsum(x, axis=dim % max(x.ndim, 1))
           if x.ndim else x.astype(np.int64 if x.dtype.kind == "i" else x.dtype), kwargs=_kw(dim=_dim), int_dtypes=("int64",)),
    OpSpec("logsumexp", lambda lib, x, dim, keepdim: x.logsumexp(dim, keepdim), _np_logsumexp, min_dims=1,
           kwargs=reduce_kwargs(allow_none=False), domain=(-20, 20)),
    OpSpec("amax", lambda lib, x, dim, keepdim: x.amax(dim, keepdim), lambda x, dim, keepdim: np.max(
        x, axis=dim, keepdims=keepdim), min_dims=1, unique=True, kwargs=reduce_kwargs(allow_none=False)),
    OpSpec("amin", lambda lib, x, dim, keepdim: lib.amin(x, dim, keepdim), lambda x, dim, keepdim: np.min(
        x, axis=dim, keepdims=keepdim), min_dims=1, unique=True, kwargs=reduce_kwargs(allow_none=False)),
    OpSpec("flip", lambda lib, x, dims: x.flip(dims), lambda x, dims: np.flip(x, dims), min_dims=1,
           kwargs=lambda shapes: st.fixed_dictionaries({"dims": st.lists(
               st.integers(0, len(shapes[0]) - 1), min_size=1, unique=True).map(tuple)})),
    OpSpec("narrow", lambda lib, x, start: x.narrow(0, start, x.shape[0] - start),
           lambda x, start: x[start:], min_dims=1, kwargs={"start": st.integers(0, 0)}),
    OpSpec("select_unbind", lambda lib, x: (x.select(-1, 0),) + tuple(x.unbind(0)),
           lambda x: (x[..., 0],) + tuple(x), min_dims=1),
    OpSpec("movedim", lambda lib, x, src, dst: x.movedim(src, dst), lambda x, src, dst: np.moveaxis(x, src, dst),
           min_dims=1, kwargs=_kw(src=_dim, dst=_dim)),
    OpSpec("diag_embed_vector", lambda lib, x, k: lib.diag(x, k), lambda x, k: np.diag(x, k), min_dims=1, max_dims=1,
           kwargs={"k": st.integers(-2, 2)}),
    OpSpec("diagonal", lambda lib, x, k, dims: x.diagonal(k, *dims), lambda x, k, dims: np.diagonal(x, k, *dims),
           min_dims=2, max_dims=4, kwargs=_kw(k=lambda nd: st.integers(-2, 2), dims=lambda nd: st.permutations(
               range(-nd, 0)).map(lambda p: tuple(p[:2])))),
    OpSpec("diag_of_matrix", lambda lib, x, k: lib.diag(x, k), lambda x, k: np.diag(x, k), min_dims=2, max_dims=2,
           kwargs={"k": st.integers(-2, 2)}),
    OpSpec("tril_triu", lambda lib, x, k: (x.tril(k), lib.triu(x, k)), lambda x, k: (np.tril(x, k), np.triu(x, k)),
           min_dims=2, max_dims=2, kwargs={"k": st.integers(-2, 2)}),
    OpSpec("outer", lambda lib, a, b: lib.outer(a, b), np.outer, arity=2, shapes=_VECTORS),
    OpSpec("einsum", lambda lib, a, b: lib.einsum("ij,jk->ik", a, b), np.matmul, arity=2, shapes=st.tuples(
        st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)).map(lambda t: ((t[0], t[1]), (t[1], t[2])))),
    OpSpec("lerp", lambda lib, a, b, w: a.lerp(b, w), lambda a, b, w: a + w * (b - a), arity=2,
           kwargs={"w": st.sampled_from([0.25, 0.5, 1.5])}),
    OpSpec("rounding", lambda lib, x: (x.floor(), x.ceil(), x.round(), x.trunc(), x.frac(), x.sign()),
           lambda x: (np.floor(x), np.ceil(x), np.round(x), np.trunc(x), x - np.trunc(x), np.sign(x)),
           elements=_ROUNDING_SAFE),
    OpSpec("log_family", lambda lib, x: (x.log2(), x.log1p(), x.rsqrt()),
           lambda x: (np.log2(x), np.log1p(x), 1 / np.sqrt(x)), domain=(0.25, 4)),
    OpSpec("exp_family", lambda lib, x: (x.expm1(), x.tan()), lambda x: (np.expm1(x), np.tan(x)), domain=(-1.2, 1.2)),
    OpSpec("isnan_isinf_isfinite", lambda lib, x: (x.log().isnan(), x.log().isinf(), x.log().isfinite()),
           lambda x: _np_log_flags(x), elements=st.sampled_from([0.0, -1.0, 0.5, 2.0]), grad=False),
    OpSpec("clone_contiguous", lambda lib, x: (x.clone(), x.t().contiguous() if x.dim() == 2 else x.contiguous()),
           lambda x: (x, x.T if x.ndim == 2 else x)),
    OpSpec("any_all", lambda lib, x, dim: (x.gt(0).any(), x.gt(0).all(), x.gt(0).any(dim), x.gt(0).all(dim)),
           lambda x, dim: ((x > 0).any(), (x > 0).all(), (x > 0).any(dim), (x > 0).all(dim)), min_dims=1,
           grad=False, kwargs=_kw(dim=_dim)),
    OpSpec("masked_select", lambda lib, x, y: x.masked_select(y > 0), lambda x, y: np.broadcast_arrays(x, y)[0][
        np.broadcast_arrays(x, y)[1] > 0], arity=2, avoid=(0,), grad_inputs=(0,)),
    OpSpec("nonzero", lambda lib, x: (x > 0).nonzero(), lambda x: np.argwhere(x > 0), grad=False),
    OpSpec("unflatten", lambda lib, x: x.unflatten(0, (1, -1)), lambda x: x.reshape((1, -1) + x.shape[1:]),
           min_dims=1),
]


def _np_cumprod(x, dim, dtype=None):
    if x.ndim == 0:
        return x.astype(np.int64 if x.dtype.kind == "i" else x.dtype)
    return np.cumprod(x, axis=dim % x.ndim, dtype=dtype if dtype is not None else
                      (np.int64 if x.dtype.kind == "i" else None))


def _np_tensor_split(x, dim, sections):
    return tuple(np.array_split(x, sections, axis=dim))


@st.composite
def _clamp_tensors_case(draw, dtype=None):
    """Shapes for clamp(x, lo, hi) with tensor bounds that broadcast to x's shape."""
    x = draw(shape_strategy(max_dims=3, max_side=4))
    return (x,) + tuple(tuple(1 if draw(st.booleans()) else s for s in x[draw(st.integers(0, len(x))):])
                        for _ in range(2))


def _clamp_tensors(lib, x, lo, hi, which):
    return x.clamp(min=lo if which != "max" else None, max=hi if which != "min" else None)


def _np_clamp_tensors(x, lo, hi, which):
    return np.clip(x, lo if which != "max" else None, hi if which != "min" else None)


def _fill_tensor_(lib, x, v):
    z = x * 2
    z.fill_(v)
    return z * x


def _copy_into(lib, x, y):
    z = x * 2
    z.copy_(y)
    return z * x


@st.composite
def _addmm_shapes(draw, dtype=None):
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    bias = draw(st.sampled_from([(n, m), (m,), (1, m), (n, 1), ()]))
    return bias, (n, k), (k, m)


# bounds off the inputs' 1/32 grid, below and above zero: lo < hi, no input sits on a kink
_LOWER = st.integers(-96, -1).map(lambda i: (2 * i + 1) / 64)
_UPPER = st.integers(0, 95).map(lambda i: (2 * i + 1) / 64)

MORE_EXTRA = [
    OpSpec("cumprod", lambda lib, x, dim: x.cumprod(dim), _np_cumprod, kwargs=_kw(dim=_dim), domain=(-2, 2),
           int_dtypes=("int64",)),
    OpSpec("cumprod_with_zeros", lambda lib, x, dim: lib.cumprod(x, dim), _np_cumprod, kwargs=_kw(dim=_dim),
           elements=st.sampled_from([0.0, 0.0, 1.0, -2.0, 0.5, 1.5]), max_side=5),
    OpSpec("cumprod_dtype", lambda lib, x, dim: x.cumprod(dim, dtype=lib.float64),
           lambda x, dim: _np_cumprod(x.astype(np.float64), dim), kwargs=_kw(dim=_dim), dtypes=("float32",),
           int_dtypes=("int64",)),
    OpSpec("clamp_tensor_bounds", _clamp_tensors, _np_clamp_tensors, arity=3, shapes=_clamp_tensors_case(),
           elements=[grid_floats(-3, 3), _LOWER, _UPPER],
           kwargs={"which": st.sampled_from(["both", "min", "max"])}),
    OpSpec("lerp_tensor_weight", lambda lib, a, b, w: lib.lerp(a, b, w), lambda a, b, w: a + w * (b - a), arity=3),
    OpSpec("rsub", lambda lib, x, y: lib.rsub(x, y), lambda x, y: y - x, arity=2),
    OpSpec("rsub_scalar", lambda lib, x, s: lib.rsub(x, s), lambda x, s: np.asarray(s - x), kwargs={"s": SCALARS}),
    OpSpec("div_rounding", lambda lib, x, y, mode: x.div(y, rounding_mode=mode),
           lambda x, y, mode: np.floor(x / y) if mode == "floor" else np.trunc(x / y), arity=2,
           elements=[ODD_64THS, QUARTERS], kwargs={"mode": st.sampled_from(["floor", "trunc"])}),
    OpSpec("addcmul_addcdiv", lambda lib, x, a, b: (lib.addcmul(x, a, b, value=0.5), x.addcdiv(a, b, value=-2)),
           lambda x, a, b: (x + 0.5 * a * b, x - 2 * a / b), arity=3,
           elements=[grid_floats(-3, 3), grid_floats(-3, 3), grid_floats(0.5, 3)]),
    OpSpec("var_mean", lambda lib, x, dim, keepdim, correction: lib.var_mean(
        x, dim, keepdim=keepdim, correction=correction), lambda x, dim, keepdim, correction: (
        np.var(x, axis=dim, keepdims=keepdim, ddof=correction), np.mean(x, axis=dim, keepdims=keepdim)),
           kwargs=reduce_kwargs(correction=st.sampled_from([0, 1])), min_dims=1, min_side=2, unique=True),
    OpSpec("std_mean", lambda lib, x, dim, keepdim: lib.std_mean(x, dim, keepdim=keepdim),
           lambda x, dim, keepdim: (np.std(x, axis=dim, keepdims=keepdim, ddof=1),
                                    np.mean(x, axis=dim, keepdims=keepdim)),
           kwargs=reduce_kwargs(), min_dims=1, min_side=2, unique=True),
    OpSpec("norm_more_p", lambda lib, x, p, dim, keepdim: x.norm(p=p, dim=dim, keepdim=keepdim),
           lambda x, p, dim, keepdim: _np_norm_any(x, p, dim, keepdim),
           kwargs=reduce_kwargs(p=st.sampled_from([0, 0.5, 1.5, -INF])), elements=DISTINCT_SIZES, unique=True),
    OpSpec("sort_stable", lambda lib, x, dim: tuple(lib.sort(x, dim=dim, stable=True)),
           lambda x, dim: _np_sort(x, dim, False), unique=True, min_dims=1, kwargs=_kw(dim=_dim)),
    OpSpec("tensor_split", lambda lib, x, dim, sections: x.tensor_split(sections, dim), _np_tensor_split,
           min_dims=1, max_side=5, kwargs=_kw(dim=_dim, sections=lambda nd: st.integers(1, 6))),
    # hsplit / vsplit / dsplit at indices (any size) and, via a tuple of equal sections, as NumPy's
    OpSpec("hsplit_vsplit_dsplit", lambda lib, x, cut: x.hsplit([cut]) + lib.vsplit(x, [cut]) + x.dsplit(2),
           lambda x, cut: tuple(np.hsplit(x, [cut]) + np.vsplit(x, [cut]) + np.dsplit(x, 2)),
           shapes=shape_strategy(min_dims=3, max_dims=4, min_side=1, max_side=4).map(
               lambda s: (s[:2] + (2 * s[2],) + s[3:],)), kwargs={"cut": st.integers(0, 4)}),
    OpSpec("adjoint", lambda lib, x: x.adjoint(), lambda x: np.swapaxes(x, -1, -2), min_dims=2),
    OpSpec("round_decimals", lambda lib, x: x.round(decimals=1), lambda x: np.round(x, 1), elements=_ROUNDING_SAFE),
    OpSpec("nan_to_num_grad", lambda lib, x: (x * 2).nan_to_num(), lambda x: x * 2),
    OpSpec("fill_tensor_", _fill_tensor_, lambda x, v: x * v, arity=2,
           shapes=shape_strategy(max_dims=3).map(lambda s: (s, ()))),
    OpSpec("copy_", _copy_into, lambda x, y: np.broadcast_to(y, x.shape) * x, arity=2, shapes=_into_shapes()),
    OpSpec("addmm", lambda lib, bias, a, b, beta, alpha: lib.addmm(bias, a, b, beta=beta, alpha=alpha),
           lambda bias, a, b, beta, alpha: beta * bias + alpha * (a @ b), arity=3, shapes=_addmm_shapes(),
           kwargs={"beta": st.sampled_from([1, 0.5]), "alpha": st.sampled_from([1, -2])}),
    OpSpec("expand_copy", lambda lib, x, size: lib.expand_copy(x, size), _np_expand, kwargs=_expand_case, max_side=3),
]



def _np_norm_any(x, p, dim, keepdim):
    a = np.abs(x.astype(np.float64))
    kw = {"axis": dim, "keepdims": keepdim}
    if p == -INF:
        return np.min(a, **kw)
    if p == 0:
        return np.sum(a != 0, **kw).astype(np.float64)
    return np.sum(a ** p, **kw) ** (1 / p)


def _np_log_flags(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(x)
    return np.isnan(y), np.isinf(y), np.isfinite(y)


ALL_SPECS = ARITHMETIC + COMPARISONS + UNARY + REDUCTIONS + LINALG + SHAPE_OPS + INDEXING + SETITEM + INPLACE \
    + VIEW_INPLACE + SELECTION + MORE + EXTRA + MORE_EXTRA
