"""The products and matrix functions of gradlab/ops/linalg.py: matmul, mm, bmm, dot, outer, einsum,
the add-product ops, tensordot, det, inverse, matrix_power, pinverse, cov, cross, trapezoid.
"""
import numpy as np
from hypothesis import strategies as st

from gradlab.testing import OpSpec
from gradlab.testing.strategies import broadcastable_shapes, shapes as shape_strategy
from ._common import _dim, _kw, _VECTORS


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


@st.composite
def _addmm_shapes(draw, dtype=None):
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    bias = draw(st.sampled_from([(n, m), (m,), (1, m), (n, 1), ()]))
    return bias, (n, k), (k, m)


# ---- linear algebra ------------------------------------------------------------------------------------------
@st.composite
def _addmv_shapes(draw, dtype=None):
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return draw(st.sampled_from([(n,), (1,), ()])), (n, k), (k,)


@st.composite
def _addr_shapes(draw, dtype=None):
    n, m = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return draw(st.sampled_from([(n, m), (m,), (n, 1), ()])), (n,), (m,)


@st.composite
def _batch_shapes(draw, dtype=None, summed=False):
    b, n, k, m = (draw(st.integers(1, 3)) for _ in range(4))
    bias = draw(st.sampled_from([(n, m), (m,), (1, m), ()] if summed else [(b, n, m), (n, m), (b, 1, m), ()]))
    return bias, (b, n, k), (b, k, m)


SCALES = {"beta": st.sampled_from([1, 0.5, 0]), "alpha": st.sampled_from([1, -2])}


@st.composite
def _contraction_case(draw, shapes):
    """Pairs of dims of equal size (distinct on each side) to contract."""
    a, b = shapes
    pairs = [(i, j) for i in range(len(a)) for j in range(len(b)) if a[i] == b[j]]
    chosen, used_a, used_b = [], set(), set()
    for i, j in draw(st.permutations(pairs)) if pairs else []:
        if i not in used_a and j not in used_b and draw(st.booleans()):
            chosen.append((i, j))
            used_a.add(i)
            used_b.add(j)
    return {"dims": ([i for i, _ in chosen], [j for _, j in chosen])}


def _eye(lib, x):
    return lib.eye(x.shape[-1], dtype=x.dtype)


def _square_shapes(max_batch=1):
    return st.tuples(shape_strategy(max_dims=max_batch, max_side=2), st.integers(1, 3)).map(
        lambda p: (p[0] + (p[1], p[1]),))


def _np_logdet(x):
    sign, logabsdet = np.linalg.slogdet(x)
    return np.asarray(np.nan if sign < 0 else logabsdet)


def _np_matrix_power(x, n):
    return np.linalg.matrix_power(x + 4 * np.eye(x.shape[-1], dtype=x.dtype), n)


@st.composite
def _cov_case(draw, shapes):
    observations = shapes[0][-1] if shapes[0] else 1
    weights = {}
    if draw(st.booleans()):
        weights["fweights"] = np.array(draw(st.lists(st.integers(1, 3), min_size=observations,
                                                     max_size=observations)), dtype=np.int64)
    if draw(st.booleans()):
        weights["aweights"] = np.array(draw(st.lists(st.sampled_from([0.5, 1.0, 2.0]), min_size=observations,
                                                     max_size=observations)))
    return {"correction": draw(st.sampled_from([0, 1])), "weights": weights}


def _cov(lib, x, correction, weights):
    return lib.cov(x, correction=correction, **{k: lib.from_numpy(w) for k, w in weights.items()})


def _np_cov(x, correction, weights):
    return np.asarray(np.cov(x, ddof=correction, **weights), dtype=x.dtype if x.dtype.kind == "f" else np.float32)


@st.composite
def _cross_shapes(draw, dtype=None):
    a, b = draw(broadcastable_shapes(2, max_dims=2, max_side=3))
    a, b = ((1,) * (len(b) - len(a)) + a, (1,) * (len(a) - len(b)) + b)  # as many dims (PyTorch requires it)
    position = draw(st.integers(0, min(len(a), len(b))))
    return (a[:len(a) - position] + (3,) + a[len(a) - position:], b[:len(b) - position] + (3,) + b[len(b) - position:])


@st.composite
def _trapezoid_points_shapes(draw, dtype=None):
    y = draw(shape_strategy(min_dims=1, max_dims=3, max_side=4))
    return y, y[-1:]


SPECS = [
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
    OpSpec("trace", lambda lib, x: lib.trace(x), np.trace, min_dims=2, max_dims=2),
    OpSpec("outer", lambda lib, a, b: lib.outer(a, b), np.outer, arity=2, shapes=_VECTORS),
    OpSpec("einsum", lambda lib, a, b: lib.einsum("ij,jk->ik", a, b), np.matmul, arity=2, shapes=st.tuples(
        st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)).map(lambda t: ((t[0], t[1]), (t[1], t[2])))),
    OpSpec("addmm", lambda lib, bias, a, b, beta, alpha: lib.addmm(bias, a, b, beta=beta, alpha=alpha),
           lambda bias, a, b, beta, alpha: beta * bias + alpha * (a @ b), arity=3, shapes=_addmm_shapes(),
           kwargs={"beta": st.sampled_from([1, 0.5]), "alpha": st.sampled_from([1, -2])}),
    OpSpec("addmv", lambda lib, b, m, v, beta, alpha: lib.addmv(b, m, v, beta=beta, alpha=alpha),
           lambda b, m, v, beta, alpha: beta * b + alpha * (m @ v), arity=3, shapes=_addmv_shapes(), kwargs=SCALES),
    OpSpec("addr", lambda lib, b, u, v, beta, alpha: b.addr(u, v, beta=beta, alpha=alpha),
           lambda b, u, v, beta, alpha: beta * b + alpha * np.outer(u, v), arity=3, shapes=_addr_shapes(),
           kwargs=SCALES),
    OpSpec("addr_int", lambda lib, b, u, v, beta, alpha: lib.addr(b, u, v, beta=beta, alpha=alpha),
           lambda b, u, v, beta, alpha: beta * b + alpha * np.outer(u, v), arity=3, shapes=_addr_shapes(),
           kwargs={"beta": st.sampled_from([1, 0, 2]), "alpha": st.sampled_from([1, -2])}, dtypes=(),
           int_dtypes=("int64",)),
    OpSpec("baddbmm", lambda lib, b, x, y, beta, alpha: lib.baddbmm(b, x, y, beta=beta, alpha=alpha),
           lambda b, x, y, beta, alpha: beta * b + alpha * (x @ y), arity=3, shapes=_batch_shapes(), kwargs=SCALES),
    OpSpec("addbmm", lambda lib, b, x, y, beta, alpha: b.addbmm(x, y, beta=beta, alpha=alpha),
           lambda b, x, y, beta, alpha: beta * b + alpha * (x @ y).sum(0), arity=3,
           shapes=_batch_shapes(summed=True), kwargs=SCALES),
    OpSpec("addmm_method_", lambda lib, b, x, y: (b.expand(x.shape[0], y.shape[1]) * 1).addmm_(x, y, alpha=0.5),
           lambda b, x, y: b + 0.5 * (x @ y), arity=3, shapes=st.tuples(st.integers(1, 3), st.integers(1, 3),
                                                                         st.integers(1, 3)).map(
               lambda t: ((t[2],), (t[0], t[1]), (t[1], t[2])))),
    OpSpec("vdot", lambda lib, a, b: lib.vdot(a, b), np.vdot, arity=2, min_dims=1, max_dims=1, broadcast=False),
    OpSpec("tensordot", lambda lib, a, b, dims: lib.tensordot(a, b, dims), lambda a, b, dims: np.tensordot(a, b, dims),
           arity=2, shapes=st.tuples(shape_strategy(max_dims=3, min_side=2, max_side=3),
                                     shape_strategy(max_dims=3, min_side=2, max_side=3)), kwargs=_contraction_case),
    OpSpec("tensordot_int", lambda lib, a, b: lib.tensordot(a, b, 1), lambda a, b: np.tensordot(a, b, 1), arity=2,
           shapes=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)).map(
               lambda t: ((t[0], t[1]), (t[1], t[2], t[0])))),
    OpSpec("det", lambda lib, x: lib.det(x + 4 * _eye(lib, x)),
           lambda x: np.linalg.det(x + 4 * np.eye(x.shape[-1])), shapes=_square_shapes(), domain=(-1, 1)),
    OpSpec("det_method", lambda lib, x: x.det(), np.linalg.det, shapes=_square_shapes(0), unique=True),
    OpSpec("slogdet_logdet", lambda lib, x: tuple(lib.slogdet(x + 4 * _eye(lib, x))) + (x.logdet(),),
           lambda x: tuple(np.linalg.slogdet(x + 4 * np.eye(x.shape[-1]))) + (_np_logdet(x),),
           shapes=_square_shapes(0), domain=(-1, 1), unique=True, grad=False),
    OpSpec("logdet_positive", lambda lib, x: (x @ x.mT + _eye(lib, x)).logdet(),
           lambda x: np.log(np.linalg.det(x @ np.swapaxes(x, -1, -2) + np.eye(x.shape[-1]))),
           shapes=_square_shapes(), domain=(-1, 1)),
    OpSpec("inverse", lambda lib, x: (x + 4 * _eye(lib, x)).inverse(),
           lambda x: np.linalg.inv(x + 4 * np.eye(x.shape[-1])), shapes=_square_shapes(), domain=(-1, 1)),
    OpSpec("matrix_power", lambda lib, x, n: lib.matrix_power(x + 4 * _eye(lib, x), n), _np_matrix_power,
           shapes=_square_shapes(0), domain=(-1, 1), kwargs={"n": st.integers(-2, 5)}),
    # (named apart: a batch's last node is a matmul's, which PyTorch names by decomposition)
    OpSpec("matrix_power_batched", lambda lib, x, n: x.add(4 * _eye(lib, x)).matrix_power(n), _np_matrix_power,
           shapes=st.tuples(st.integers(1, 2), st.integers(1, 3)).map(lambda p: ((p[0], p[1], p[1]),)),
           domain=(-1, 1), kwargs={"n": st.integers(-2, 5)}),
    OpSpec("pinverse", lambda lib, x: (x + lib.eye(*x.shape[-2:], dtype=x.dtype) * 3).pinverse(),
           lambda x: np.linalg.pinv(x + 3 * np.eye(*x.shape[-2:])), domain=(-1, 1),
           shapes=st.tuples(st.integers(1, 3), st.integers(1, 3)).map(lambda s: (s,))),
    OpSpec("cov", _cov, _np_cov, min_dims=1, max_dims=2, min_side=2, kwargs=_cov_case, int_dtypes=("int64",)),
    OpSpec("cross", lambda lib, a, b: lib.cross(a, b, dim=a.shape.index(3) - a.dim()),
           lambda a, b: np.cross(a, b, axis=a.shape.index(3) - a.ndim), arity=2, shapes=_cross_shapes()),
    OpSpec("trapezoid_dx", lambda lib, y, dx, dim: lib.trapezoid(y, dim=dim) if dx is None else
           lib.trapezoid(y, dx=dx, dim=dim),
           lambda y, dx, dim: np.trapezoid(y, dx=1 if dx is None else dx, axis=dim), min_dims=1,
           kwargs=_kw(dx=lambda nd: st.sampled_from([None, 0.5, 2]), dim=_dim), int_dtypes=("int64",)),
    OpSpec("trapz_points", lambda lib, y, x: lib.trapz(y, x), lambda y, x: np.trapezoid(y, x), arity=2,
           shapes=_trapezoid_points_shapes()),
]

GRADGRAD_SPECS = [OpSpec("matmul", lambda lib, a, b: a @ b, arity=2, shapes=_matmul_shapes())]
