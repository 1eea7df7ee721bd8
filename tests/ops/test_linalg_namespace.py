"""gradlab.linalg (torch.linalg): values against NumPy, gradients by central differences (first and second
order, float64), and values, gradients and namedtuple fields against PyTorch.

Matrices are built well conditioned: A = U diag(s) V^T with U, V orthogonal and s in [0.5, 2]; the
symmetric ones (eigh, cholesky) have eigenvalues at least 0.3 apart, and the singular values for svd too,
so that the gradients (which divide by their gaps) are well defined.
"""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
from gradlab import linalg as L
from gradlab.autograd import gradcheck, gradgradcheck

SETTINGS = settings(max_examples=10, deadline=None)
batches = st.sampled_from([(), (2,)])
sizes = st.integers(1, 4)
seeds = st.integers(0, 2 ** 31 - 1)


def _orthogonal(rng, batch, n):
    q, r = np.linalg.qr(rng.normal(size=batch + (n, n)))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def _separated(rng, batch, k):
    """k values in [0.5, 2], at least 0.3 apart (shuffled)."""
    values = 0.5 + 0.45 * np.arange(k) + rng.uniform(0, 0.1, batch + (k,))
    return rng.permuted(values, axis=-1)


def well_conditioned(rng, batch, m, n, separated=False):
    """U diag(s) V^T with singular values s in [0.5, 2] (0.3 apart when ``separated``)."""
    k = min(m, n)
    s = _separated(rng, batch, k) if separated else rng.uniform(0.5, 2, batch + (k,))
    u, v = _orthogonal(rng, batch, m)[..., :k], _orthogonal(rng, batch, n)[..., :k]
    return (u * s[..., None, :]) @ np.swapaxes(v, -1, -2)


def spd(rng, batch, n):
    """A symmetric positive-definite matrix with eigenvalues in [0.5, 2], 0.3 apart."""
    q = _orthogonal(rng, batch, n)
    return (q * _separated(rng, batch, n)[..., None, :]) @ np.swapaxes(q, -1, -2)


def t(array):
    return gradlab.tensor(array, dtype=gradlab.float64, requires_grad=True)


def sym(a):
    """The symmetric part: eigh and cholesky read one triangle, so the checks perturb both through it."""
    return (a + a.mT) / 2


def check_grads(fn, *inputs, second=True):
    assert gradcheck(fn, inputs)
    if second:
        assert gradgradcheck(fn, inputs)


# ---- forward values against NumPy ---------------------------------------------------------------------------
@SETTINGS
@given(batch=batches, n=sizes, k=sizes, seed=seeds)
def test_solve_inv_det_values(batch, n, k, seed):
    rng = np.random.default_rng(seed)
    a, b = well_conditioned(rng, batch, n, n), rng.normal(size=batch + (n, k))
    np.testing.assert_allclose(L.solve(t(a), t(b)).detach().numpy(), np.linalg.solve(a, b), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(L.solve(t(a), t(b.swapaxes(-1, -2)), left=False).detach().numpy(),
                               np.swapaxes(np.linalg.solve(np.swapaxes(a, -1, -2), b), -1, -2), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(L.inv(t(a)).detach().numpy(), np.linalg.inv(a), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(L.det(t(a)).detach().numpy(), np.linalg.det(a), rtol=1e-10)
    sign, logabs = L.slogdet(t(a))
    np.testing.assert_allclose(sign.numpy() * np.exp(logabs.detach().numpy()), np.linalg.det(a), rtol=1e-10)


@SETTINGS
@given(batch=batches, m=sizes, n=sizes, seed=seeds)
def test_decompositions_rebuild_their_matrix(batch, m, n, seed):
    rng = np.random.default_rng(seed)
    a = well_conditioned(rng, batch, m, n)
    k = min(m, n)
    u, s, vh = (x.detach().numpy() for x in L.svd(t(a), full_matrices=False))
    np.testing.assert_allclose((u * s[..., None, :]) @ vh, a, atol=1e-12)
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), rtol=1e-12)
    np.testing.assert_allclose(L.svdvals(t(a)).detach().numpy(), s, rtol=1e-12)
    u_full, _, vh_full = L.svd(t(a))
    assert u_full.shape == batch + (m, m) and vh_full.shape == batch + (n, n)
    for mode, q_cols in (("reduced", k), ("complete", m)):
        q, r = (x.detach().numpy() for x in L.qr(t(a), mode=mode))
        assert q.shape == batch + (m, q_cols)
        np.testing.assert_allclose(q @ r, a, atol=1e-12)
        np.testing.assert_allclose(np.tril(r, -1), 0, atol=1e-14)
    q, r = L.qr(t(a), mode="r")
    assert q.shape == (0,) and r.shape == batch + (k, n)
    c = spd(rng, batch, n)
    values, vectors = (x.detach().numpy() for x in L.eigh(t(c)))
    np.testing.assert_allclose(values, np.linalg.eigvalsh(c), rtol=1e-12)
    np.testing.assert_allclose((vectors * values[..., None, :]) @ np.swapaxes(vectors, -1, -2), c, atol=1e-12)
    np.testing.assert_allclose(L.eigvalsh(t(c), UPLO="U").detach().numpy(), values, rtol=1e-12)
    low = L.cholesky(t(c)).detach().numpy()
    np.testing.assert_allclose(low, np.linalg.cholesky(c), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(L.cholesky(t(c), upper=True).detach().numpy(), np.swapaxes(low, -1, -2), atol=1e-14)


@SETTINGS
@given(batch=batches, m=sizes, n=sizes, seed=seeds)
def test_pinv_lstsq_rank_values(batch, m, n, seed):
    rng = np.random.default_rng(seed)
    a = well_conditioned(rng, batch, m, n)
    b = rng.normal(size=batch + (m, 2))
    np.testing.assert_allclose(L.pinv(t(a)).detach().numpy(), np.linalg.pinv(a), rtol=1e-10, atol=1e-12)
    if m >= n:  # a unique least-squares solution
        expected = np.linalg.pinv(a) @ b
        np.testing.assert_allclose(L.lstsq(t(a), t(b)).solution.detach().numpy(), expected, rtol=1e-9, atol=1e-12)
    assert L.matrix_rank(t(a)).tolist() == np.broadcast_to(min(m, n), batch).tolist()
    low_rank = a[..., :, :1] @ a[..., :1, :]  # rank 1
    assert (L.matrix_rank(t(low_rank)).numpy() == 1).all()


@SETTINGS
@given(batch=batches, n=sizes, seed=seeds, power=st.integers(-3, 4))
def test_products_values(batch, n, seed, power):
    rng = np.random.default_rng(seed)
    a, b, c = (well_conditioned(rng, batch, n, n) for _ in range(3))
    np.testing.assert_allclose(L.matrix_power(t(a), power).detach().numpy(),
                               np.linalg.matrix_power(a, power), rtol=1e-9, atol=1e-11)
    if not batch:
        np.testing.assert_allclose(L.multi_dot([t(a), t(b), t(c)]).detach().numpy(), np.linalg.multi_dot([a, b, c]),
                                   rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(L.multi_dot([t(a[0]), t(b), t(c[:, 0])]).detach().numpy(),
                                   a[0] @ b @ c[:, 0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(L.vecdot(t(a), t(b)).detach().numpy(), (a * b).sum(-1), rtol=1e-12)
    np.testing.assert_allclose(L.vecdot(t(a), t(b), dim=-2).detach().numpy(), (a * b).sum(-2), rtol=1e-12)
    x, y = rng.normal(size=batch + (4, 3)), rng.normal(size=(1,) * len(batch) + (4, 3))
    np.testing.assert_allclose(L.cross(t(x), t(y)).detach().numpy(), np.cross(x, y), rtol=1e-12)


ORDS = [1, 2, 3, 0.5, 0, float("inf"), float("-inf")]


@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), ord=st.sampled_from(ORDS),
       keepdim=st.booleans(), seed=seeds)
def test_vector_norm_values(shape, ord, keepdim, seed):
    x = np.random.default_rng(seed).normal(size=shape)
    np.testing.assert_allclose(L.vector_norm(t(x), ord).detach().numpy(), np.linalg.norm(x.ravel(), ord), rtol=1e-12)
    np.testing.assert_allclose(L.vector_norm(t(x), ord, dim=-1, keepdim=keepdim).detach().numpy(),
                               np.linalg.norm(x, ord, axis=-1, keepdims=keepdim), rtol=1e-12)


@SETTINGS
@given(batch=batches, m=sizes, n=sizes, ord=st.sampled_from(["fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]),
       keepdim=st.booleans(), seed=seeds)
def test_matrix_norm_values(batch, m, n, ord, keepdim, seed):
    a = np.random.default_rng(seed).normal(size=batch + (m, n))
    expected = np.linalg.norm(a, ord, axis=(-2, -1), keepdims=keepdim)
    np.testing.assert_allclose(L.matrix_norm(t(a), ord, keepdim=keepdim).detach().numpy(), expected, rtol=1e-10)
    if batch:  # the matrix dims elsewhere
        moved = np.moveaxis(a, 0, -1)  # (m, n, 2): the matrices over dims (0, 2)
        np.testing.assert_allclose(L.matrix_norm(t(moved), ord, dim=(2, 0), keepdim=keepdim).detach().numpy(),
                                   np.linalg.norm(moved, ord, axis=(2, 0), keepdims=keepdim), rtol=1e-10)
    if not batch:
        np.testing.assert_allclose(L.norm(t(a), ord).detach().numpy(), np.linalg.norm(a, ord), rtol=1e-10)


def test_norm_chooses_vector_or_matrix():
    x = np.arange(24.0).reshape(2, 3, 4) - 10
    np.testing.assert_allclose(L.norm(t(x)).item(), np.linalg.norm(x.ravel()))
    np.testing.assert_allclose(L.norm(t(x), 1, dim=2).detach().numpy(), np.abs(x).sum(2))
    np.testing.assert_allclose(L.norm(t(x), 1, dim=(1, 2)).detach().numpy(), np.linalg.norm(x, 1, axis=(1, 2)))
    with pytest.raises(RuntimeError, match="must be 1D or 2D"):
        L.norm(t(x), 2)


# ---- gradients by central differences ----------------------------------------------------------------------------
GRAD_SETTINGS = settings(max_examples=5, deadline=None)
small = st.integers(1, 3)


@GRAD_SETTINGS
@given(batch=batches, n=small, seed=seeds)
def test_solve_inv_det_gradients(batch, n, seed):
    rng = np.random.default_rng(seed)
    a, b, v = well_conditioned(rng, batch, n, n), rng.normal(size=batch + (n, 2)), rng.normal(size=batch + (n,))
    check_grads(lambda a, b: L.solve(a, b), t(a), t(b))
    check_grads(lambda a, b: L.solve(a, b.mT, left=False), t(a), t(b))
    check_grads(lambda a, v: L.solve(a, v), t(a), t(v))
    check_grads(L.inv, t(a))
    check_grads(L.det, t(a))
    check_grads(lambda a: L.slogdet(a).logabsdet, t(a))


@GRAD_SETTINGS
@given(batch=batches, m=small, n=small, seed=seeds)
def test_svd_pinv_lstsq_gradients(batch, m, n, seed):
    rng = np.random.default_rng(seed)
    a = well_conditioned(rng, batch, m, n, separated=True)
    weights = [rng.normal(size=shape) for shape in (batch + (m, min(m, n)), batch + (min(m, n), n))]

    def gauge_invariant(a):  # unchanged when a singular pair (u_i, v_i) flips sign
        u, s, vh = L.svd(a, full_matrices=False)
        return (u ** 2 * t(weights[0])).sum() + (vh ** 2 * t(weights[1])).sum() + (s * s).sum() + (u @ vh).sum()
    check_grads(gauge_invariant, t(a))
    check_grads(L.svdvals, t(a))
    check_grads(lambda a: L.matrix_norm(a, "nuc"), t(a))
    check_grads(lambda a: L.matrix_norm(a, 2), t(a))
    check_grads(L.pinv, t(a))
    if m >= n:
        check_grads(lambda a, b: L.lstsq(a, b).solution, t(a), t(rng.normal(size=batch + (m, 2))))


def test_svd_full_matrices_gradient():
    rng = np.random.default_rng(3)
    a = well_conditioned(rng, (), 4, 2, separated=True)
    check_grads(lambda a: (lambda u, s, vh: (u[:, :2] ** 2).sum() * 2 + s.sum())(*L.svd(a)), t(a))


@GRAD_SETTINGS
@given(batch=batches, m=small, extra=st.integers(0, 2), seed=seeds)
def test_qr_gradients(batch, m, extra, seed):
    rng = np.random.default_rng(seed)
    a = well_conditioned(rng, batch, m + extra, m)  # m >= n: the differentiable case
    check_grads(lambda a: (lambda q, r: (q * 2).sum() + (r * r).sum())(*L.qr(a)), t(a))
    check_grads(lambda a: L.qr(a).R, t(a))


@GRAD_SETTINGS
@given(batch=batches, n=small, uplo=st.sampled_from("LU"), seed=seeds)
def test_eigh_cholesky_gradients(batch, n, uplo, seed):
    rng = np.random.default_rng(seed)
    c = spd(rng, batch, n)
    w = rng.normal(size=batch + (n, n))

    def gauge_invariant(a):
        values, vectors = L.eigh(sym(a), UPLO=uplo)
        return (vectors ** 2 * t(w)).sum() + values.sum()
    check_grads(gauge_invariant, t(c))
    check_grads(lambda a: L.eigvalsh(sym(a), UPLO=uplo), t(c))
    check_grads(lambda a: L.cholesky(sym(a)), t(c))
    check_grads(lambda a: L.cholesky(sym(a), upper=True), t(c))


@GRAD_SETTINGS
@given(ord=st.sampled_from([1, 2, 3, float("inf")]), mord=st.sampled_from(["fro", 1, -1, np.inf, -np.inf]),
       seed=seeds)
def test_norm_gradients(ord, mord, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 3))
    check_grads(lambda x: L.vector_norm(x, ord, dim=1), t(x))
    check_grads(lambda x: L.matrix_norm(x, mord), t(x))
    check_grads(lambda a, b: L.vecdot(a, b), t(x), t(rng.normal(size=(3,))))
    check_grads(lambda a, b, c: L.multi_dot([a, b, c]), t(x), t(np.ascontiguousarray(x.T)), t(x))


# ---- errors ------------------------------------------------------------------------------------------------------
def test_errors_name_the_op_and_the_problem():
    with pytest.raises(RuntimeError, match="linalg.solve.*singular"):
        L.solve(t(np.zeros((3, 3))), t(np.ones(3)))
    with pytest.raises(RuntimeError, match="linalg.solve: Incompatible shapes"):
        L.solve(t(np.eye(3)), t(np.ones((2, 2))))
    with pytest.raises(RuntimeError, match="linalg.cholesky.*not positive-definite"):
        L.cholesky(t(-np.eye(3)))
    with pytest.raises(RuntimeError, match="square matrices"):
        L.eigh(t(np.ones((2, 3))))
    with pytest.raises(RuntimeError, match="UPLO"):
        L.eigh(t(np.eye(2)), UPLO="X")
    with pytest.raises(RuntimeError, match="unrecognized mode"):
        L.qr(t(np.eye(2)), mode="full")
    with pytest.raises(RuntimeError, match="mode='r'"):
        L.qr(t(np.eye(2)), mode="r").R.sum().backward()
    with pytest.raises(NotImplementedError, match="linalg.qr"):
        L.qr(t(np.ones((2, 3))))[0].sum().backward()
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        L.svd(t(np.ones(3)))
    with pytest.raises(RuntimeError, match="multi_dot"):
        L.multi_dot([t(np.ones((2, 2)))])
    with pytest.raises(RuntimeError, match="^logdet: Expected a floating point"):
        gradlab.logdet(gradlab.ones(2, 2, dtype=gradlab.int64))
    with pytest.raises(RuntimeError, match=r"multi_dot\(\): tensors 1 and 2 with shapes \[3, 4\] and \[2\] cannot"):
        L.multi_dot([t(np.ones((2, 3))), t(np.ones((3, 4))), t(np.ones(2))])
    with pytest.raises(RuntimeError, match="Order 3 not supported"):
        L.matrix_norm(t(np.eye(2)), 3)
    with pytest.raises(RuntimeError, match="vector_norm"):
        L.vector_norm(t(np.eye(2)), "fro")


# ---- against PyTorch (skipped where it is not installed) ---------------------------------------------------------
try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def both(array):
    return t(array), torch.tensor(array, dtype=torch.float64, requires_grad=True)


def grads_match(fn_ours, fn_theirs, *arrays, rtol=1e-8, atol=1e-10):
    pairs = [both(a) for a in arrays]
    ours, theirs = fn_ours(*[p[0] for p in pairs]), fn_theirs(*[p[1] for p in pairs])
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)
    ours.backward()
    theirs.backward()
    for ours_t, theirs_t in pairs:
        np.testing.assert_allclose(ours_t.grad.numpy(), theirs_t.grad.numpy(), rtol=rtol, atol=atol)


@needs_torch
@settings(max_examples=4, deadline=None)
@given(batch=batches, m=sizes, n=sizes, seed=seeds)
def test_values_and_gradients_match_torch(batch, m, n, seed):
    rng = np.random.default_rng(seed)
    a = well_conditioned(rng, batch, m, n, separated=True)
    w_u, w_v = rng.normal(size=batch + (m, min(m, n))), rng.normal(size=batch + (min(m, n), n))
    def svd_loss(lib):
        def fn(a):
            u, s, vh = lib.svd(a, full_matrices=False)
            wu, wv = (lib is L and t or torch.tensor)(w_u), (lib is L and t or torch.tensor)(w_v)
            return (u ** 2 * wu).sum() + (vh ** 2 * wv).sum() + s.sum()
        return fn
    grads_match(svd_loss(L), svd_loss(torch.linalg), a)
    grads_match(lambda a: L.pinv(a).sum(), lambda a: torch.linalg.pinv(a).sum(), a)
    grads_match(lambda a: L.matrix_norm(a, "nuc").sum(), lambda a: torch.linalg.matrix_norm(a, "nuc").sum(), a)
    grads_match(lambda a: (L.matrix_norm(a, -2) * 1).sum(), lambda a: torch.linalg.matrix_norm(a, -2).sum(), a)
    b = rng.normal(size=batch + (m, 2))
    if m >= n:
        grads_match(lambda a, b: (L.lstsq(a, b).solution ** 2).sum(),
                    lambda a, b: (torch.linalg.lstsq(a, b).solution ** 2).sum(), a, b)
        grads_match(lambda a: (lambda q, r: (q * q.detach().sign()).sum() + r.abs().sum())(*L.qr(a)),
                    lambda a: (lambda q, r: (q * q.detach().sign()).sum() + r.abs().sum())(*torch.linalg.qr(a)), a)
    sq = well_conditioned(rng, batch, n, n)
    c = spd(rng, batch, n)
    w = rng.normal(size=batch + (n, n))
    grads_match(lambda a, b: (L.solve(a, b) ** 2).sum(), lambda a, b: (torch.linalg.solve(a, b) ** 2).sum(),
                sq, rng.normal(size=batch + (n, 3)))
    grads_match(lambda a, b: L.solve(a, b, left=False).sum(),
                lambda a, b: torch.linalg.solve(a, b, left=False).sum(), sq, rng.normal(size=batch + (3, n)))
    grads_match(lambda a: (L.eigh(a).eigenvectors ** 2 * t(w)).sum() + L.eigvalsh(a).sum(),
                lambda a: (torch.linalg.eigh(a).eigenvectors ** 2 * torch.tensor(w)).sum()
                + torch.linalg.eigvalsh(a).sum(), c)
    grads_match(lambda a: (L.cholesky(a) * t(w)).sum(), lambda a: (torch.linalg.cholesky(a) * torch.tensor(w)).sum(), c)
    grads_match(lambda a: (L.cholesky(a, upper=True) * t(w)).sum(),
                lambda a: (torch.linalg.cholesky(a, upper=True) * torch.tensor(w)).sum(), c)


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
        assert L.matrix_rank(t(a), **kwargs).item() == kept.sum()
        assert torch.linalg.matrix_rank(torch.tensor(a), **kwargs).item() == kept.sum()
        right = v[:, kept] @ np.diag(1 / s[kept]) @ u[:, kept].T
        scale = np.abs(right).max()
        np.testing.assert_allclose(L.pinv(t(a), **kwargs).detach().numpy(), right, rtol=0, atol=1e-6 * scale)
        np.testing.assert_allclose(torch.linalg.pinv(torch.tensor(a), **kwargs).numpy(), right, rtol=0,
                                   atol=1e-6 * scale)
    assert L.matrix_rank(t(a)).dtype == gradlab.int64


@needs_torch
def test_namedtuple_fields_match_torch():
    a = np.eye(3) + 0.1
    for name, call in [("svd", lambda lib: lib.svd(a_of(lib, a))), ("qr", lambda lib: lib.qr(a_of(lib, a))),
                       ("eigh", lambda lib: lib.eigh(a_of(lib, a))), ("slogdet", lambda lib: lib.slogdet(a_of(lib, a))),
                       ("lstsq", lambda lib: lib.lstsq(a_of(lib, a), a_of(lib, a)))]:
        ours, theirs = call(L), call(torch.linalg)
        assert type(ours).__name__ == type(theirs).__name__, name
        assert len(ours) == len(theirs), name
        for field in ours._fields:  # the same fields, of the same shapes
            assert tuple(getattr(ours, field).shape) == tuple(getattr(theirs, field).shape), (name, field)


def a_of(lib, array):
    return gradlab.tensor(array) if lib is L else torch.tensor(array)


def test_float32_stays_float32():
    a = gradlab.tensor(np.eye(3, dtype=np.float32) * 2)
    for out in itertools.chain(L.svd(a), L.qr(a), L.eigh(a), [L.cholesky(a), L.solve(a, a), L.pinv(a),
                                                               L.lstsq(a, a).solution, L.matrix_norm(a, "nuc")]):
        assert out.dtype == gradlab.float32


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


@pytest.mark.parametrize("n", [1.5, 2.0, "2"])
def test_matrix_power_refuses_a_power_that_is_not_an_int(n):
    # a float power went through the squaring loop and returned a wrong matrix (A for n = 1.5)
    with pytest.raises(TypeError, match="matrix_power.*must be int"):
        gradlab.matrix_power(gradlab.eye(2), n)
    assert gradlab.matrix_power(gradlab.eye(2) * 2, np.int64(3)).tolist() == [[8.0, 0.0], [0.0, 8.0]]


@pytest.mark.parametrize("shape_a, shape_b", [((2, 0), (0, 3)), ((2, 3), (3, 0)), ((0, 3), (3, 2))])
def test_tensordot_with_an_empty_dim(shape_a, shape_b):
    # an empty contracted dim sums nothing (zeros); reshape(-1, 0) could not infer the free size
    a = gradlab.ones(*shape_a, requires_grad=True)
    out = gradlab.tensordot(a, gradlab.ones(*shape_b), 1)
    assert tuple(out.shape) == (shape_a[0], shape_b[1]) and (out.detach().numpy() == 0).all()
    out.sum().backward()
    assert tuple(a.grad.shape) == shape_a


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_reads_the_triangle_it_returns(upper):
    # upper=True reads A's upper triangle, as PyTorch; it read the lower one, so a non-symmetric A gave another U
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 3, 3))
    c = a @ np.swapaxes(a, -1, -2) + 3 * np.eye(3)
    c[..., 0, 2] += 0.3  # the upper triangle differs from the lower one
    read = np.swapaxes(c, -1, -2) if upper else c  # the matrix whose lower triangle is the one read
    low = np.linalg.cholesky(read)
    expected = np.swapaxes(low, -1, -2) if upper else low
    x = t(c)
    out = L.cholesky(x, upper=upper)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12, atol=1e-14)
    torch = pytest.importorskip("torch")
    tx = torch.tensor(c, requires_grad=True)
    expected_t = torch.linalg.cholesky(tx, upper=upper)
    np.testing.assert_allclose(out.detach().numpy(), expected_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    weights = np.arange(9.0).reshape(3, 3)
    (out * out * gradlab.tensor(weights)).sum().backward()
    (expected_t * expected_t * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
