"""Dropout's mask, drawn from a key: reproducible with manual_seed, the same bits in float32 and float64, on both
backends and for any thread count; the backward applies the forward's mask (float64 gradient checks, first and
second order); and PyTorch's values for everything but the random mask itself."""
import numpy as np
import pytest

import gradlab
import gradlab.kernels as K
import gradlab.nn.functional as F
from gradlab.autograd import gradcheck, gradgradcheck
from gradlab.ops.nn import dropout as dropout_op

try:
    import torch
except ImportError:
    torch = None
requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed")


def _seeded_dropout(p, seed=0, fn=F.dropout):
    """fn(x, p) with the generator reset first: the same mask at every call (what gradcheck needs)."""
    def run(x):
        gradlab.manual_seed(seed)
        return fn(x, p)
    return run


@pytest.mark.parametrize("p", [0.2, 0.7])
def test_gradcheck_in_float64(p):
    x = gradlab.randn(5, 7, dtype=gradlab.float64, requires_grad=True)
    assert gradcheck(_seeded_dropout(p), (x,))
    assert gradgradcheck(_seeded_dropout(p), (x,))
    y = gradlab.randn(3, 4, 2, 2, dtype=gradlab.float64, requires_grad=True)
    assert gradcheck(_seeded_dropout(p, fn=F.dropout2d), (y,))


def test_the_backward_uses_the_forward_mask_with_and_without_a_graph():
    x = gradlab.randn(40, 30, dtype=gradlab.float64, requires_grad=True)
    y = F.dropout(x, 0.4)
    g = gradlab.randn(40, 30, dtype=gradlab.float64, requires_grad=True)
    (fast,) = gradlab.autograd.grad(y, x, g, retain_graph=True)
    (graphed,) = gradlab.autograd.grad(y, x, g, create_graph=True)
    mask = np.where(y.detach().numpy() != 0, 1 / 0.6, 0.0)
    np.testing.assert_array_equal(fast.numpy(), g.detach().numpy() * mask)
    np.testing.assert_array_equal(graphed.detach().numpy(), fast.numpy())
    assert graphed.grad_fn is not None and graphed.grad_fn.name() == "MulBackward0"


def test_manual_seed_reproduces_the_mask_and_keys_differ_between_calls():
    gradlab.manual_seed(11)
    a, b = F.dropout(gradlab.ones(64, 64), 0.5), F.dropout(gradlab.ones(64, 64), 0.5)
    gradlab.manual_seed(11)
    np.testing.assert_array_equal(F.dropout(gradlab.ones(64, 64), 0.5).numpy(), a.numpy())
    assert not np.array_equal(a.numpy(), b.numpy())
    # a Generator of its own: its own stream, the default one untouched
    g1, g2 = gradlab.Generator().manual_seed(4), gradlab.Generator().manual_seed(4)
    state = gradlab.get_rng_state()
    x = gradlab.ones(30, 30)
    np.testing.assert_array_equal(dropout_op.dropout(x, 0.5, generator=g1).numpy(),
                                  dropout_op.dropout(x, 0.5, generator=g2).numpy())
    assert np.array_equal(gradlab.get_rng_state().numpy(), state.numpy())


@pytest.mark.parametrize("threads", [1, 2])
def test_the_same_mask_in_both_dtypes_on_both_backends_and_thread_counts(threads):
    x = gradlab.randn(200, 300, dtype=gradlab.float64)
    before = K.get_num_threads()
    masks = []
    try:
        K.set_num_threads(threads)
        for backend in K.available_backends():
            with K.use_backend(backend):
                for dtype in (gradlab.float32, gradlab.float64):
                    gradlab.manual_seed(5)
                    masks.append(F.dropout(x.to(dtype), 0.3).numpy() != 0)
    finally:
        K.set_num_threads(before)
    assert all(np.array_equal(m, masks[0]) for m in masks)
    assert abs(masks[0].mean() - 0.7) < 0.01


def test_dropout2d_keys_one_decision_per_channel():
    gradlab.manual_seed(2)
    y = F.dropout2d(gradlab.ones(30, 20, 4, 4, dtype=gradlab.float64), 0.5).numpy()
    maps = y.reshape(30, 20, 16)
    assert (maps.min(axis=2) == maps.max(axis=2)).all()
    gradlab.manual_seed(2)
    flat = F.dropout(gradlab.ones(30, 20, dtype=gradlab.float64), 0.5).numpy()
    np.testing.assert_array_equal(maps[:, :, 0], flat)    # the (sample, channel) index is the element index


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("p", [0.0, 0.25, 1.0])
def test_values_gradients_and_names_match_torch_given_the_mask(dtype, p):
    """PyTorch's dropout is x * mask with mask 0 or 1 / (1 - p): apply gradlab's mask in PyTorch and compare."""
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((16, 24)).astype(dtype)
    gs = rng.standard_normal((16, 24)).astype(dtype)
    x = gradlab.tensor(xs, requires_grad=True)
    y = F.dropout(x, p)
    y.backward(gradlab.tensor(gs))
    tx = torch.tensor(xs, requires_grad=True)
    ty = torch.nn.functional.dropout(tx, p)                 # PyTorch's own mask: its scale and grad_fn
    kept = y.detach().numpy() != 0 if p < 1 else np.zeros(xs.shape, bool)
    tmask = torch.tensor(np.where(kept, 1.0, 0.0).astype(dtype)) / (1 - p) if p < 1 else torch.zeros(xs.shape)
    tz = tx * tmask.to(tx.dtype)
    tz.backward(torch.tensor(gs))
    tol = dict(rtol=1e-6, atol=0) if dtype == "float32" else dict(rtol=1e-14, atol=0)
    np.testing.assert_allclose(y.detach().numpy(), tz.detach().numpy(), **tol)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **tol)
    if 0 < p:
        assert y.grad_fn.name() == type(ty.grad_fn).__name__
        tkept = ty.detach().numpy() != 0
        np.testing.assert_allclose(np.unique(ty.detach().numpy()[tkept] / xs[tkept]),
                                   np.unique(y.detach().numpy()[kept] / xs[kept]), rtol=1e-6)
    if p < 1:
        assert abs(kept.mean() - (1 - p)) < 0.15
