"""The decompositions and solvers of gradlab.linalg (gradlab/ops/decompositions.py): solve, lstsq, qr, eigh /
eigvalsh, svd / svdvals, cholesky, with inv, det and pinv beside them: values against NumPy, gradients by
central differences (first and second order, float64), and values, gradients and named-tuple fields against
PyTorch."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
from gradlab import linalg as L
from linalg_helpers import (GRAD_SETTINGS, SETTINGS, batches, grads_match, seeds, sizes, small, spd, sym,
                            well_conditioned)
from ops_helpers import check_grads, leaf, needs_torch, torch


# ---- forward values against NumPy ---------------------------------------------------------------------------
@SETTINGS
@given(batch=batches, n=sizes, k=sizes, seed=seeds)
def test_solve_inv_det_values(batch, n, k, seed):
    rng = np.random.default_rng(seed)
    a, b = well_conditioned(rng, batch, n, n), rng.normal(size=batch + (n, k))
    np.testing.assert_allclose(L.solve(leaf(a), leaf(b)).detach().numpy(), np.linalg.solve(a, b), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(L.solve(leaf(a), leaf(b.swapaxes(-1, -2)), left=False).detach().numpy(),
                               np.swapaxes(np.linalg.solve(np.swapaxes(a, -1, -2), b), -1, -2), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(L.inv(leaf(a)).detach().numpy(), np.linalg.inv(a), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(L.det(leaf(a)).detach().numpy(), np.linalg.det(a), rtol=1e-10)
    sign, logabs = L.slogdet(leaf(a))
    np.testing.assert_allclose(sign.numpy() * np.exp(logabs.detach().numpy()), np.linalg.det(a), rtol=1e-10)


@SETTINGS
@given(batch=batches, m=sizes, n=sizes, seed=seeds)
def test_decompositions_rebuild_their_matrix(batch, m, n, seed):
    rng = np.random.default_rng(seed)
    a = well_conditioned(rng, batch, m, n)
    k = min(m, n)
    u, s, vh = (x.detach().numpy() for x in L.svd(leaf(a), full_matrices=False))
    np.testing.assert_allclose((u * s[..., None, :]) @ vh, a, atol=1e-12)
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), rtol=1e-12)
    np.testing.assert_allclose(L.svdvals(leaf(a)).detach().numpy(), s, rtol=1e-12)
    u_full, _, vh_full = L.svd(leaf(a))
    assert u_full.shape == batch + (m, m) and vh_full.shape == batch + (n, n)
    for mode, q_cols in (("reduced", k), ("complete", m)):
        q, r = (x.detach().numpy() for x in L.qr(leaf(a), mode=mode))
        assert q.shape == batch + (m, q_cols)
        np.testing.assert_allclose(q @ r, a, atol=1e-12)
        np.testing.assert_allclose(np.tril(r, -1), 0, atol=1e-14)
    q, r = L.qr(leaf(a), mode="r")
    assert q.shape == (0,) and r.shape == batch + (k, n)
    c = spd(rng, batch, n)
    values, vectors = (x.detach().numpy() for x in L.eigh(leaf(c)))
    np.testing.assert_allclose(values, np.linalg.eigvalsh(c), rtol=1e-12)
    np.testing.assert_allclose((vectors * values[..., None, :]) @ np.swapaxes(vectors, -1, -2), c, atol=1e-12)
    np.testing.assert_allclose(L.eigvalsh(leaf(c), UPLO="U").detach().numpy(), values, rtol=1e-12)
    low = L.cholesky(leaf(c)).detach().numpy()
    np.testing.assert_allclose(low, np.linalg.cholesky(c), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(L.cholesky(leaf(c), upper=True).detach().numpy(), np.swapaxes(low, -1, -2), atol=1e-14)


@SETTINGS
@given(batch=batches, m=sizes, n=sizes, seed=seeds)
def test_pinv_lstsq_rank_values(batch, m, n, seed):
    rng = np.random.default_rng(seed)
    a = well_conditioned(rng, batch, m, n)
    b = rng.normal(size=batch + (m, 2))
    np.testing.assert_allclose(L.pinv(leaf(a)).detach().numpy(), np.linalg.pinv(a), rtol=1e-10, atol=1e-12)
    if m >= n:  # a unique least-squares solution
        expected = np.linalg.pinv(a) @ b
        np.testing.assert_allclose(L.lstsq(leaf(a), leaf(b)).solution.detach().numpy(), expected, rtol=1e-9, atol=1e-12)
    assert L.matrix_rank(leaf(a)).tolist() == np.broadcast_to(min(m, n), batch).tolist()
    low_rank = a[..., :, :1] @ a[..., :1, :]  # rank 1
    assert (L.matrix_rank(leaf(low_rank)).numpy() == 1).all()


# ---- gradients by central differences ----------------------------------------------------------------------------
@GRAD_SETTINGS
@given(batch=batches, n=small, seed=seeds)
def test_solve_inv_det_gradients(batch, n, seed):
    rng = np.random.default_rng(seed)
    a, b, v = well_conditioned(rng, batch, n, n), rng.normal(size=batch + (n, 2)), rng.normal(size=batch + (n,))
    check_grads(lambda a, b: L.solve(a, b), leaf(a), leaf(b))
    check_grads(lambda a, b: L.solve(a, b.mT, left=False), leaf(a), leaf(b))
    check_grads(lambda a, v: L.solve(a, v), leaf(a), leaf(v))
    check_grads(L.inv, leaf(a))
    check_grads(L.det, leaf(a))
    check_grads(lambda a: L.slogdet(a).logabsdet, leaf(a))


@GRAD_SETTINGS
@given(batch=batches, m=small, n=small, seed=seeds)
def test_svd_pinv_lstsq_gradients(batch, m, n, seed):
    rng = np.random.default_rng(seed)
    a = well_conditioned(rng, batch, m, n, separated=True)
    weights = [rng.normal(size=shape) for shape in (batch + (m, min(m, n)), batch + (min(m, n), n))]

    def gauge_invariant(a):  # unchanged when a singular pair (u_i, v_i) flips sign
        u, s, vh = L.svd(a, full_matrices=False)
        return (u ** 2 * leaf(weights[0])).sum() + (vh ** 2 * leaf(weights[1])).sum() + (s * s).sum() + (u @ vh).sum()
    check_grads(gauge_invariant, leaf(a))
    check_grads(L.svdvals, leaf(a))
    check_grads(lambda a: L.matrix_norm(a, "nuc"), leaf(a))
    check_grads(lambda a: L.matrix_norm(a, 2), leaf(a))
    check_grads(L.pinv, leaf(a))
    if m >= n:
        check_grads(lambda a, b: L.lstsq(a, b).solution, leaf(a), leaf(rng.normal(size=batch + (m, 2))))


def test_svd_full_matrices_gradient():
    rng = np.random.default_rng(3)
    a = well_conditioned(rng, (), 4, 2, separated=True)
    check_grads(lambda a: (lambda u, s, vh: (u[:, :2] ** 2).sum() * 2 + s.sum())(*L.svd(a)), leaf(a))


@GRAD_SETTINGS
@given(batch=batches, m=small, extra=st.integers(0, 2), seed=seeds)
def test_qr_gradients(batch, m, extra, seed):
    rng = np.random.default_rng(seed)
    a = well_conditioned(rng, batch, m + extra, m)  # m >= n: the differentiable case
    check_grads(lambda a: (lambda q, r: (q * 2).sum() + (r * r).sum())(*L.qr(a)), leaf(a))
    check_grads(lambda a: L.qr(a).R, leaf(a))


@GRAD_SETTINGS
@given(batch=batches, n=small, uplo=st.sampled_from("LU"), seed=seeds)
def test_eigh_cholesky_gradients(batch, n, uplo, seed):
    rng = np.random.default_rng(seed)
    c = spd(rng, batch, n)
    w = rng.normal(size=batch + (n, n))

    def gauge_invariant(a):
        values, vectors = L.eigh(sym(a), UPLO=uplo)
        return (vectors ** 2 * leaf(w)).sum() + values.sum()
    check_grads(gauge_invariant, leaf(c))
    check_grads(lambda a: L.eigvalsh(sym(a), UPLO=uplo), leaf(c))
    check_grads(lambda a: L.cholesky(sym(a)), leaf(c))
    check_grads(lambda a: L.cholesky(sym(a), upper=True), leaf(c))


# ---- errors ------------------------------------------------------------------------------------------------------
def test_errors_name_the_op_and_the_problem():
    with pytest.raises(RuntimeError, match="linalg.solve.*singular"):
        L.solve(leaf(np.zeros((3, 3))), leaf(np.ones(3)))
    with pytest.raises(RuntimeError, match="linalg.solve: Incompatible shapes"):
        L.solve(leaf(np.eye(3)), leaf(np.ones((2, 2))))
    with pytest.raises(RuntimeError, match="linalg.cholesky.*not positive-definite"):
        L.cholesky(leaf(-np.eye(3)))
    with pytest.raises(RuntimeError, match="square matrices"):
        L.eigh(leaf(np.ones((2, 3))))
    with pytest.raises(RuntimeError, match="UPLO"):
        L.eigh(leaf(np.eye(2)), UPLO="X")
    with pytest.raises(RuntimeError, match="unrecognized mode"):
        L.qr(leaf(np.eye(2)), mode="full")
    with pytest.raises(RuntimeError, match="mode='r'"):
        L.qr(leaf(np.eye(2)), mode="r").R.sum().backward()
    with pytest.raises(NotImplementedError, match="linalg.qr"):
        L.qr(leaf(np.ones((2, 3))))[0].sum().backward()
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        L.svd(leaf(np.ones(3)))


# ---- against PyTorch (skipped where it is not installed) ---------------------------------------------------------
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
            wu, wv = (lib is L and leaf or torch.tensor)(w_u), (lib is L and leaf or torch.tensor)(w_v)
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
    grads_match(lambda a: (L.eigh(a).eigenvectors ** 2 * leaf(w)).sum() + L.eigvalsh(a).sum(),
                lambda a: (torch.linalg.eigh(a).eigenvectors ** 2 * torch.tensor(w)).sum()
                + torch.linalg.eigvalsh(a).sum(), c)
    grads_match(lambda a: (L.cholesky(a) * leaf(w)).sum(), lambda a: (torch.linalg.cholesky(a) * torch.tensor(w)).sum(), c)
    grads_match(lambda a: (L.cholesky(a, upper=True) * leaf(w)).sum(),
                lambda a: (torch.linalg.cholesky(a, upper=True) * torch.tensor(w)).sum(), c)


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
    x = leaf(c)
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
