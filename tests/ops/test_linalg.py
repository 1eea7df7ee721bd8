"""The products and matrix functions (gradlab/ops/linalg.py) and the norms, products and ranks of the
gradlab.linalg namespace, beyond their specs: det at singular matrices, second derivatives, norms against
NumPy and PyTorch, einsum's subscripts, cdist, block_diag, and errors."""
import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial.distance
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradlab
from gradlab import linalg as L
from gradlab.autograd import gradcheck, gradgradcheck
from linalg_helpers import GRAD_SETTINGS, SETTINGS, batches, grads_match, seeds, sizes, well_conditioned
from ops_helpers import check_grads, leaf, needs_torch, pair, raises_with, random_rows_test, same, torch


@SETTINGS
@given(batch=batches, n=sizes, seed=seeds, power=st.integers(-3, 4))
def test_products_values(batch, n, seed, power):
    rng = np.random.default_rng(seed)
    a, b, c = (well_conditioned(rng, batch, n, n) for _ in range(3))
    np.testing.assert_allclose(L.matrix_power(leaf(a), power).detach().numpy(),
                               np.linalg.matrix_power(a, power), rtol=1e-9, atol=1e-11)
    if not batch:
        np.testing.assert_allclose(L.multi_dot([leaf(a), leaf(b), leaf(c)]).detach().numpy(), np.linalg.multi_dot([a, b, c]),
                                   rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(L.multi_dot([leaf(a[0]), leaf(b), leaf(c[:, 0])]).detach().numpy(),
                                   a[0] @ b @ c[:, 0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(L.vecdot(leaf(a), leaf(b)).detach().numpy(), (a * b).sum(-1), rtol=1e-12)
    np.testing.assert_allclose(L.vecdot(leaf(a), leaf(b), dim=-2).detach().numpy(), (a * b).sum(-2), rtol=1e-12)
    x, y = rng.normal(size=batch + (4, 3)), rng.normal(size=(1,) * len(batch) + (4, 3))
    np.testing.assert_allclose(L.cross(leaf(x), leaf(y)).detach().numpy(), np.cross(x, y), rtol=1e-12)


ORDS = [1, 2, 3, 0.5, 0, float("inf"), float("-inf")]


@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), ord=st.sampled_from(ORDS),
       keepdim=st.booleans(), seed=seeds)
def test_vector_norm_values(shape, ord, keepdim, seed):
    x = np.random.default_rng(seed).normal(size=shape)
    np.testing.assert_allclose(L.vector_norm(leaf(x), ord).detach().numpy(), np.linalg.norm(x.ravel(), ord), rtol=1e-12)
    np.testing.assert_allclose(L.vector_norm(leaf(x), ord, dim=-1, keepdim=keepdim).detach().numpy(),
                               np.linalg.norm(x, ord, axis=-1, keepdims=keepdim), rtol=1e-12)


@SETTINGS
@given(batch=batches, m=sizes, n=sizes, ord=st.sampled_from(["fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]),
       keepdim=st.booleans(), seed=seeds)
def test_matrix_norm_values(batch, m, n, ord, keepdim, seed):
    a = np.random.default_rng(seed).normal(size=batch + (m, n))
    expected = np.linalg.norm(a, ord, axis=(-2, -1), keepdims=keepdim)
    np.testing.assert_allclose(L.matrix_norm(leaf(a), ord, keepdim=keepdim).detach().numpy(), expected, rtol=1e-10)
    if batch:  # the matrix dims elsewhere
        moved = np.moveaxis(a, 0, -1)  # (m, n, 2): the matrices over dims (0, 2)
        np.testing.assert_allclose(L.matrix_norm(leaf(moved), ord, dim=(2, 0), keepdim=keepdim).detach().numpy(),
                                   np.linalg.norm(moved, ord, axis=(2, 0), keepdims=keepdim), rtol=1e-10)
    if not batch:
        np.testing.assert_allclose(L.norm(leaf(a), ord).detach().numpy(), np.linalg.norm(a, ord), rtol=1e-10)


def test_norm_chooses_vector_or_matrix():
    x = np.arange(24.0).reshape(2, 3, 4) - 10
    np.testing.assert_allclose(L.norm(leaf(x)).item(), np.linalg.norm(x.ravel()))
    np.testing.assert_allclose(L.norm(leaf(x), 1, dim=2).detach().numpy(), np.abs(x).sum(2))
    np.testing.assert_allclose(L.norm(leaf(x), 1, dim=(1, 2)).detach().numpy(), np.linalg.norm(x, 1, axis=(1, 2)))
    with pytest.raises(RuntimeError, match="must be 1D or 2D"):
        L.norm(leaf(x), 2)


@GRAD_SETTINGS
@given(ord=st.sampled_from([1, 2, 3, float("inf")]), mord=st.sampled_from(["fro", 1, -1, np.inf, -np.inf]),
       seed=seeds)
def test_norm_gradients(ord, mord, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 3))
    check_grads(lambda x: L.vector_norm(x, ord, dim=1), leaf(x))
    check_grads(lambda x: L.matrix_norm(x, mord), leaf(x))
    check_grads(lambda a, b: L.vecdot(a, b), leaf(x), leaf(rng.normal(size=(3,))))
    check_grads(lambda a, b, c: L.multi_dot([a, b, c]), leaf(x), leaf(np.ascontiguousarray(x.T)), leaf(x))


@needs_torch
@pytest.mark.parametrize("ord,dim,keepdim", [(None, None, False), (2, 1, True), (float("inf"), (0, 1), False),
                                             ("nuc", None, True), (-1, (1, 0), False), (0.5, 1, False)])
@needs_torch
def test_norm_matches_torch(ord, dim, keepdim):
    x = np.random.default_rng(0).normal(size=(3, 4))
    grads_match(lambda x: L.norm(x, ord, dim, keepdim).sum(),
                lambda x: torch.linalg.norm(x, ord, dim, keepdim).sum(), x)


@needs_torch
def test_defaults_and_tolerances_match_torch():
    """Rank and pseudo-inverse of a matrix built from its SVD, so the right answer is known exactly.

    The singular values (1, 1e-3, 1e-9) sit far from every threshold tried, so the rank is the number above
    the threshold on any machine; pinv's 1/1e-9 term amplifies rounding (~1e-16 / 1e-9**2 absolutely, 1e-7
    relative to pinv's largest entry), so values are compared relative to that largest entry.
    """
    rng = np.random.default_rng(1)
    u, _ = np.linalg.qr(rng.normal(size=(4, 3)))
    v, _ = np.linalg.qr(rng.normal(size=(5, 3)))
    s = np.array([1.0, 1e-3, 1e-9])
    a = u @ np.diag(s) @ v.T
    for kwargs, threshold in (({}, 5 * np.finfo(float).eps), ({"atol": 1e-2}, 1e-2), ({"rtol": 1e-2}, 1e-2),
                              ({"atol": 1e-12, "rtol": 0.0}, 1e-12), ({"hermitian": False}, 5 * np.finfo(float).eps)):
        kept = s > threshold
        assert L.matrix_rank(leaf(a), **kwargs).item() == kept.sum()
        assert torch.linalg.matrix_rank(torch.tensor(a), **kwargs).item() == kept.sum()
        right = v[:, kept] @ np.diag(1 / s[kept]) @ u[:, kept].T
        scale = np.abs(right).max()
        np.testing.assert_allclose(L.pinv(leaf(a), **kwargs).detach().numpy(), right, rtol=0, atol=1e-6 * scale)
        np.testing.assert_allclose(torch.linalg.pinv(torch.tensor(a), **kwargs).numpy(), right, rtol=0,
                                   atol=1e-6 * scale)
    assert L.matrix_rank(leaf(a)).dtype == gradlab.int64


# ---- det, inverse, matrix_power -------------------------------------------------------------------------
def _cofactors(a):
    """The cofactor matrix, (-1)^(i+j) times the minor of a without row i and column j: d det(a) / da."""
    a = np.asarray(a)
    if a.ndim == 3:
        return np.stack([_cofactors(m) for m in a])
    n = len(a)
    if n == 1:
        return np.ones((1, 1))
    return np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) for j in range(n)]
                     for i in range(n)])


@needs_torch
def test_det_gradient_at_singular_matrices():
    """At a singular matrix the gradient of det is still the cofactor matrix (det is a polynomial).

    PyTorch's answer there depends on the machine's LAPACK path (zeros for a rank-1 2 x 2 on some CPUs), so
    gradlab is checked against the cofactors, and against PyTorch only at a full-rank matrix.
    """
    singular = ([[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]],
                [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]], [[[0.0, 1.0], [0.0, 3.0]]])
    for values in singular + ([[2.0, 1.0, 0.5], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]],):
        g, t = pair(values, requires_grad=True)
        assert gradcheck(gradlab.det, (g,))
        gradlab.det(g).backward()
        # the minors of these small integer matrices are exact in float64 up to one rounding
        np.testing.assert_allclose(g.grad.numpy(), _cofactors(values), rtol=1e-12, atol=1e-12)
    torch.det(t).backward()  # full rank: PyTorch's gradient is defined, det(a) * inverse(a)^T
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-10)


def test_det_logdet_inverse_second_derivatives():
    x = gradlab.from_numpy(np.random.default_rng(1).uniform(-1, 1, (2, 3, 3)) + 4 * np.eye(3)).requires_grad_()
    for fn in (gradlab.det, gradlab.logdet, gradlab.inverse, lambda a: a.pinverse(),
               lambda a: gradlab.matrix_power(a, -2), lambda a: gradlab.slogdet(a).logabsdet):
        assert gradgradcheck(fn, (x,))


def test_slogdet_result_is_a_named_tuple_as_torch():
    assert type(gradlab.slogdet(gradlab.eye(2))).__name__ == "slogdet"


@pytest.mark.parametrize("n", [1.5, 2.0, "2"])
def test_matrix_power_refuses_a_power_that_is_not_an_int(n):
    # a float power went through the squaring loop and returned a wrong matrix (A for n = 1.5)
    with pytest.raises(TypeError, match="matrix_power.*must be int"):
        gradlab.matrix_power(gradlab.eye(2), n)
    assert gradlab.matrix_power(gradlab.eye(2) * 2, np.int64(3)).tolist() == [[8.0, 0.0], [0.0, 8.0]]


@needs_torch
def test_corners_match_torch():
    """cross without dim warns; matrix_power of integers; addmv with beta=0 ignores the input's NaN."""
    for lib in (gradlab, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.cross(lib.ones(3, 3), lib.ones(3, 3))
        assert any("without specifying the dim arg is deprecated" in str(w.message) for w in caught)
    same(gradlab.matrix_power(gradlab.tensor([[1, 1], [0, 1]]), 3),
         torch.matrix_power(torch.tensor([[1, 1], [0, 1]]), 3))
    g, t = pair([[1.0, 2.0], [3.0, float("nan")]])
    same(gradlab.addmv(g[:, 1], gradlab.ones(2, 2, dtype=gradlab.float64), gradlab.ones(2, dtype=gradlab.float64),
                       beta=0),
         torch.addmv(t[:, 1], torch.ones(2, 2, dtype=torch.float64), torch.ones(2, dtype=torch.float64), beta=0))


@pytest.mark.parametrize("op", ["addmm", "addmv", "addr", "baddbmm", "addbmm"])
def test_add_product_ops_ignore_the_input_when_beta_is_zero(op):
    # beta = 0 drops the input: its NaNs and infs must not reach the result (0 * nan is nan)
    shapes = {"addmm": [(2, 3), (2, 4), (4, 3)], "addmv": [(2,), (2, 4), (4,)], "addr": [(2, 3), (2,), (3,)],
              "baddbmm": [(5, 2, 3), (5, 2, 4), (5, 4, 3)], "addbmm": [(2, 3), (5, 2, 4), (5, 4, 3)]}[op]
    rng = np.random.default_rng(0)
    bias = np.full(shapes[0], np.nan)
    bias.flat[0] = np.inf
    a, b = (rng.normal(size=shape) for shape in shapes[1:])
    out = getattr(gradlab, op)(gradlab.tensor(bias), gradlab.tensor(a), gradlab.tensor(b), beta=0, alpha=2)
    assert np.isfinite(out.numpy()).all()
    torch = pytest.importorskip("torch")
    expected = getattr(torch, op)(torch.tensor(bias), torch.tensor(a), torch.tensor(b), beta=0, alpha=2)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape_a, shape_b", [((2, 0), (0, 3)), ((2, 3), (3, 0)), ((0, 3), (3, 2))])
def test_tensordot_with_an_empty_dim(shape_a, shape_b):
    # an empty contracted dim sums nothing (zeros); reshape(-1, 0) could not infer the free size
    a = gradlab.ones(*shape_a, requires_grad=True)
    out = gradlab.tensordot(a, gradlab.ones(*shape_b), 1)
    assert tuple(out.shape) == (shape_a[0], shape_b[1]) and (out.detach().numpy() == 0).all()
    out.sum().backward()
    assert tuple(a.grad.shape) == shape_a


# ---- einsum: letters summed away by one operand alone, repeated letters (diagonals), ellipses ---------------
CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij->i", [(2, 3)]), ("ij->", [(2, 3)]), ("ij,kj->", [(2, 3), (4, 3)]),
    ("ii->i", [(3, 3)]), ("ii->", [(3, 3)]), ("iij->j", [(2, 2, 3)]), ("jii->ij", [(2, 3, 3)]),
    ("...ij,...jk->...ik", [(5, 2, 3), (5, 3, 4)]), ("...ij,...jk->...ik", [(2, 3), (5, 3, 4)]),
    ("...ij,...jk->...ik", [(1, 2, 3), (5, 3, 4)]), ("...i,kij,...j->...k", [(5, 2), (4, 2, 3), (5, 3)]),
    ("i...j,j->i...", [(2, 4, 5, 3), (3,)]), ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("i,j->ij", [(3,), (4,)]), ("ijk->kji", [(2, 3, 4)]),
    # implicit output (no '->'): the ellipsis, then the letters seen once, sorted
    ("ij,jk", [(2, 3), (3, 4)]), ("ii", [(3, 3)]), ("i,i", [(3,), (3,)]), ("ba", [(2, 3)]),
    ("...ij,...jk", [(5, 2, 3), (3, 4)]),
    # ellipsis dims the output leaves out are summed
    ("b...,b...->b", [(2, 3, 4), (2, 3, 4)]), ("i...->i", [(3, 4)]), ("...->", [(2, 3)]),
]


IDS = [f"{eq} {shapes}" for eq, shapes in CASES]


def _inputs(lib, shapes):
    rng = np.random.default_rng(0)
    return [lib.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


@pytest.mark.parametrize("equation, shapes", CASES, ids=IDS)
def test_einsum_gradients_pass_gradcheck(equation, shapes):
    assert gradcheck(lambda *ts: gradlab.einsum(equation, *ts), tuple(_inputs(gradlab, shapes)))


@pytest.mark.parametrize("equation, shapes", CASES, ids=IDS)
def test_einsum_values_and_gradients_match_torch(equation, shapes):
    torch = pytest.importorskip("torch")
    results = []
    for lib in (gradlab, torch):
        inputs = _inputs(lib, shapes)
        out = lib.einsum(equation, *inputs)
        weights = lib.tensor(np.random.default_rng(1).standard_normal(tuple(out.shape)))
        (out * weights).sum().backward()
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in inputs])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("equation, shapes", [
    ("ij,jk->ik", [(2, 3)]), ("ij->i", [(2, 3, 4)]), ("ij,jk->ik", [(2, 3), (4, 5)]), ("ij->k", [(2, 3)]),
])
def test_einsum_errors_name_the_op_the_equation_and_the_shapes(equation, shapes):
    with pytest.raises(RuntimeError, match=r"einsum\(\).*" + equation.replace(">", ".") + r".*\[2, 3"):
        gradlab.einsum(equation, *_inputs(gradlab, shapes))


# ---- cdist and block_diag --------------------------------------------------------------------------------
P_VALUES = [0.0, 1.0, 1.5, 2.0, 3.0, float("inf")]


@SETTINGS
@given(p=st.sampled_from(P_VALUES), rows=st.integers(1, 4), cols=st.integers(1, 4), dim=st.integers(1, 3),
       seed=seeds)
def test_cdist_values(p, rows, cols, dim, seed):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=(rows, dim)), rng.normal(size=(cols, dim))
    if p == 0:
        expected = (x1[:, None, :] != x2[None, :, :]).sum(-1)
    elif p == float("inf"):
        expected = scipy.spatial.distance.cdist(x1, x2, "chebyshev")
    else:
        expected = scipy.spatial.distance.cdist(x1, x2, "minkowski", p=p)
    np.testing.assert_allclose(gradlab.cdist(leaf(x1), leaf(x2), p).detach().numpy(), expected, rtol=1e-12)


@settings(max_examples=5, deadline=None)
@given(p=st.sampled_from(P_VALUES[1:]), batch=st.sampled_from([(), (2,)]), seed=seeds)
def test_cdist_gradients(p, batch, seed):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=batch + (3, 2)), rng.normal(size=(1,) * len(batch) + (2, 2))
    assert gradcheck(lambda a, b: gradlab.cdist(a, b, p), (leaf(x1), leaf(x2)))
    if p in (1.5, 2.0, 3.0):  # (at p = 1 and inf the derivative is piecewise constant)
        assert gradgradcheck(lambda a, b: gradlab.cdist(a, b, p), (leaf(x1), leaf(x2)))


@pytest.mark.parametrize("p", [0.3, 0.5])
def test_cdist_gradient_for_p_below_one_where_a_coordinate_difference_is_zero(p):
    # |0|^(p-1) is inf for p < 1: a shared coordinate, or a zero distance, must give a zero gradient, not NaN
    x1 = np.array([[0.5, 1.0], [2.0, -1.0]])
    x2 = np.array([[0.5, 3.0], [2.0, -1.0]])  # x2[0] shares a coordinate with x1[0]; x2[1] equals x1[1]
    a, b = leaf(x1), leaf(x2)
    gradlab.cdist(a, b, p).sum().backward()
    for grad in (a.grad, b.grad):
        assert np.isfinite(grad.numpy()).all()
    a_ = leaf(x1[:1])
    b_ = leaf(x2[:1])  # a single pair at nonzero distance: the shared coordinate gets exactly 0
    gradlab.cdist(a_, b_, p).sum().backward()
    assert a_.grad.numpy()[0, 0] == 0 and a_.grad.numpy()[0, 1] == pytest.approx(-1.0)
    torch = pytest.importorskip("torch")
    ta, tb = (torch.tensor(x, requires_grad=True) for x in (x1, x2))
    torch.cdist(ta, tb, p).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_cdist_errors():
    with pytest.raises(RuntimeError, match="same number of columns"):
        gradlab.cdist(leaf(np.ones((2, 3))), leaf(np.ones((2, 4))))
    with pytest.raises(RuntimeError, match="at least 2D"):
        gradlab.cdist(leaf(np.ones(3)), leaf(np.ones((2, 3))))
    with pytest.raises(RuntimeError, match="non-negative"):
        gradlab.cdist(leaf(np.ones((2, 3))), leaf(np.ones((2, 3))), p=-1)
    with pytest.raises(RuntimeError, match=r"cdist: the batch dims of X1 \[2, 3, 2\] and X2 \[3, 4, 2\]"):
        gradlab.cdist(leaf(np.ones((2, 3, 2))), leaf(np.ones((3, 4, 2))))


@SETTINGS
@given(blocks=st.lists(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), min_size=1, max_size=3), seed=seeds)
def test_block_diag(blocks, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(size=shape) for shape in blocks]
    expected = scipy.linalg.block_diag(*[a.reshape(1, -1) if a.ndim < 2 else a for a in arrays])
    np.testing.assert_array_equal(gradlab.block_diag(*[leaf(a) for a in arrays]).detach().numpy(), expected)
    check_grads(lambda *xs: gradlab.block_diag(*xs), *[leaf(a) for a in arrays])


def test_block_diag_dtype_and_errors():
    out = gradlab.block_diag(gradlab.tensor([1, 2]), gradlab.tensor([[1.5]]))
    assert out.dtype == gradlab.float32 and out.tolist() == [[1, 2, 0], [0, 0, 1.5]]
    with pytest.raises(RuntimeError, match="2 or fewer dimensions"):
        gradlab.block_diag(gradlab.ones(1, 1, 1))
    empty = gradlab.block_diag()  # no blocks at all: a 1 x 0 float32 matrix, as PyTorch
    assert empty.shape == (1, 0) and empty.dtype == gradlab.float32


CASES_AGAINST_TORCH = {
    "cdist p=2": lambda lib, a, b: lib.cdist(a, b),
    "cdist p=1": lambda lib, a, b: lib.cdist(a, b, p=1),
    "cdist p=3": lambda lib, a, b: lib.cdist(a, b, p=3.0),
    "cdist p=inf": lambda lib, a, b: lib.cdist(a, b, p=float("inf")),
    "block_diag": lambda lib, a, b: lib.block_diag(a, b[0], b) * lib.block_diag(a, b[0], b).detach(),
}


test_matches_torch = random_rows_test(CASES_AGAINST_TORCH)


# ---- errors -------------------------------------------------------------------------------------------------
def test_linalg_errors_name_the_op():
    cases = [
        (lambda: gradlab.det(gradlab.ones(2, 3)), "linalg.det: A must be batches of square matrices"),
        (lambda: gradlab.det(gradlab.ones(2)), "at least 2 dimensions"),
        (lambda: gradlab.inverse(gradlab.ones(2, 2)), "linalg.inv: the input matrix is singular"),
        (lambda: gradlab.inverse(gradlab.eye(2, dtype=gradlab.int64)), "Expected a floating point"),
        (lambda: gradlab.addmv(gradlab.ones(2), gradlab.ones(3, 3), gradlab.ones(3)), "addmv: size mismatch"),
        (lambda: gradlab.addr(gradlab.ones(3, 3), gradlab.ones(3, 3), gradlab.ones(3)), "Expected 1-D argument vec1"),
        (lambda: gradlab.baddbmm(gradlab.ones(2, 3, 3), gradlab.ones(2, 3, 4), gradlab.ones(2, 5, 3)),
         "Expected size for first two dimensions of batch2"),
        (lambda: gradlab.addbmm(gradlab.ones(3, 3), gradlab.ones(2, 3, 4), gradlab.ones(3, 4, 3)),
         "must have same number of batches"),
        (lambda: gradlab.tensordot(gradlab.ones(3, 3), gradlab.ones(4, 2), 1), "contracted dimensions need to match"),
        (lambda: gradlab.tensordot(gradlab.ones(3, 3), gradlab.ones(3, 3), -1), "dims >= 0"),
        (lambda: gradlab.cross(gradlab.ones(2, 4), gradlab.ones(2, 4), dim=1), "dimension 1 must have length 3"),
        (lambda: gradlab.cov(gradlab.ones(2, 2, 2)), "two or fewer dimensions"),
        (lambda: gradlab.cov(gradlab.ones(1, 3), fweights=gradlab.ones(3)), "fweights to have integral dtype"),
        (lambda: gradlab.trapezoid(gradlab.ones(1, 3), gradlab.ones(2)), "one `x` value for each sample point"),
        (lambda: gradlab.matrix_power(gradlab.ones(2, 3), 2), "linalg.matrix_power: A must be batches of square"),
        (lambda: gradlab.vander(gradlab.ones(2, 2)), "x must be a one-dimensional tensor"),
        (lambda: gradlab.vdot(gradlab.ones(3), gradlab.ones(2)), "inconsistent tensor size"),
    ]
    for call, message in cases:
        with pytest.raises(RuntimeError, match=message.replace("(", "\\(").replace(")", "\\)")):
            call()


def test_norm_and_product_errors_name_the_op():
    with pytest.raises(RuntimeError, match="multi_dot"):
        L.multi_dot([leaf(np.ones((2, 2)))])
    with pytest.raises(RuntimeError, match="^logdet: Expected a floating point"):
        gradlab.logdet(gradlab.ones(2, 2, dtype=gradlab.int64))
    with pytest.raises(RuntimeError, match=r"multi_dot\(\): tensors 1 and 2 with shapes \[3, 4\] and \[2\] cannot"):
        L.multi_dot([leaf(np.ones((2, 3))), leaf(np.ones((3, 4))), leaf(np.ones(2))])
    with pytest.raises(RuntimeError, match="Order 3 not supported"):
        L.matrix_norm(leaf(np.eye(2)), 3)
    with pytest.raises(RuntimeError, match="vector_norm"):
        L.vector_norm(leaf(np.eye(2)), "fro")


def test_matmul_shape_errors_name_the_op_and_the_shapes():
    a, b = gradlab.ones(2, 3), gradlab.ones(4, 5)
    raises_with(lambda: a @ b, RuntimeError, "matmul", "2x3", "4x5")
    raises_with(lambda: gradlab.mm(a, b), RuntimeError, "mm", "2x3", "4x5")
    raises_with(lambda: gradlab.mm(a, gradlab.ones(3)), RuntimeError, "mm", "2D")
    raises_with(lambda: gradlab.bmm(gradlab.ones(2, 2, 3), gradlab.ones(3, 3, 2)), RuntimeError, "bmm", "[2, 2, 3]",
            "[3, 3, 2]")
    raises_with(lambda: gradlab.dot(gradlab.ones(3), gradlab.ones(4)), RuntimeError, "3", "4")
    raises_with(lambda: gradlab.ones(3) @ gradlab.tensor(2.0), RuntimeError, "1D", "0D")
    raises_with(lambda: gradlab.ones(2, 2, 3) @ gradlab.ones(3, 3, 1), RuntimeError, "matmul", "batch", "[2]", "[3]")
