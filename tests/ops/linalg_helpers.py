"""Well-conditioned matrices and the comparison with torch.linalg that test_linalg.py and
test_decompositions.py share.

Matrices are built well conditioned: A = U diag(s) V^T with U, V orthogonal and s in [0.5, 2]; the
symmetric ones (eigh, cholesky) have eigenvalues at least 0.3 apart, and the singular values for svd too,
so that the gradients (which divide by their gaps) are well defined.
"""
import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

from ops_helpers import leaf, torch

SETTINGS = settings(max_examples=10, deadline=None)
GRAD_SETTINGS = settings(max_examples=5, deadline=None)
batches = st.sampled_from([(), (2,)])
sizes = st.integers(1, 4)
small = st.integers(1, 3)
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


def sym(a):
    """The symmetric part: eigh and cholesky read one triangle, so the checks perturb both through it."""
    return (a + a.mT) / 2


def both(array):
    return leaf(array), torch.tensor(array, dtype=torch.float64, requires_grad=True)


def grads_match(fn_ours, fn_theirs, *arrays, rtol=1e-8, atol=1e-10):
    pairs = [both(a) for a in arrays]
    ours, theirs = fn_ours(*[p[0] for p in pairs]), fn_theirs(*[p[1] for p in pairs])
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)
    ours.backward()
    theirs.backward()
    for ours_t, theirs_t in pairs:
        np.testing.assert_allclose(ours_t.grad.numpy(), theirs_t.grad.numpy(), rtol=rtol, atol=atol)
