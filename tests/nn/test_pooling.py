"""MaxUnpool1d/2d and LPPool1d/2d: values, gradients and grad_fn names against PyTorch over random
shapes, gradcheck and gradgradcheck, reprs and errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F
from gradlab.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from against_torch import assert_same, backward_both, pair, seeds  # noqa: E402


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(2, 7), w=st.integers(2, 7),
       k=st.integers(1, 3), s=st.integers(1, 3), pad=st.integers(0, 1), seed=seeds())
def test_max_unpool2d_matches_torch(n, c, h, w, k, s, pad, seed):
    pad = min(pad, k // 2)
    if (h + 2 * pad - k) < 0 or (w + 2 * pad - k) < 0:
        return
    g, t = pair(np.random.default_rng(seed).standard_normal((n, c, h, w)))
    gp, gi = F.max_pool2d(g, k, s, pad, return_indices=True)
    tp, ti = TF.max_pool2d(t, k, s, pad, return_indices=True)
    try:
        TF.max_unpool2d(tp, ti, k, s, pad)
    except RuntimeError:  # a stride above the kernel can leave a maximum outside the default size
        with pytest.raises(RuntimeError, match="Found an invalid max index"):
            F.max_unpool2d(gp, gi, k, s, pad)
        return
    for size in (None, (n, c, h, w)):
        if size is not None and not all(abs(d - ((o - 1) * s + k - 2 * pad)) < s for d, o in
                                        zip((h, w), tp.shape[2:])):
            continue  # (an output_size more than a stride from the default is an error; tested below)
        layer = gradlab.nn.MaxUnpool2d(k, s, pad)
        gout, tout = layer(gp, gi, size), torch.nn.MaxUnpool2d(k, s, pad)(tp, ti, size)
        assert gout.shape == tout.shape
        assert_same(gout, tout)
        assert gout.grad_fn.name() == type(tout.grad_fn).__name__ == "MaxUnpool2DBackward0"
    g.grad = None
    t.grad = None
    backward_both(F.max_unpool2d(gp, gi, k, s, pad), TF.max_unpool2d(tp, ti, k, s, pad), seed)
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(batched=st.booleans(), c=st.integers(1, 3), length=st.integers(3, 9), k=st.integers(2, 3),
       s=st.integers(1, 3), seed=seeds())
def test_max_unpool1d_matches_torch(batched, c, length, k, s, seed):
    shape = (2, c, length) if batched else (c, length)
    g, t = pair(np.random.default_rng(seed).standard_normal(shape))
    gp, gi = F.max_pool1d(g, k, s, return_indices=True)
    tp, ti = TF.max_pool1d(t, k, s, return_indices=True)
    gout, tout = gradlab.nn.MaxUnpool1d(k, s)(gp, gi), torch.nn.MaxUnpool1d(k, s)(tp, ti)
    assert_same(gout, tout)
    assert gout.grad_fn.name() == type(tout.grad_fn).__name__
    backward_both(gout, tout, seed)
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_max_unpool_gradchecks_reprs_and_errors():
    x = gradlab.randn(1, 2, 4, 4, dtype=gradlab.float64)
    pooled, idx = F.max_pool2d(x, 2, return_indices=True)
    pooled = pooled.detach().requires_grad_()
    assert gradcheck(lambda p: F.max_unpool2d(p, idx, 2), (pooled,))
    assert gradgradcheck(lambda p: F.max_unpool2d(p, idx, 2) ** 2, (pooled,))
    for args in [(2,), (3, 2, 1), ((2, 3), 1)]:
        assert repr(gradlab.nn.MaxUnpool2d(*args)) == repr(torch.nn.MaxUnpool2d(*args))
    for args in [(2,), (3, 2, 1), ((3,), (1,))]:
        assert repr(gradlab.nn.MaxUnpool1d(*args)) == repr(torch.nn.MaxUnpool1d(*args))
    with pytest.raises(ValueError, match=r'invalid output_size "\[7, 7\]" \(dim 0 must be between 2 and 6\)'):
        F.max_unpool2d(pooled, idx, 2, output_size=[7, 7])
    with pytest.raises(ValueError, match="2 or 4 elements"):
        F.max_unpool2d(pooled, idx, 2, output_size=[4])
    with pytest.raises(RuntimeError, match="invalid max index"):
        F.max_unpool2d(pooled, idx + 100, 2)


# ---- LPPool -------------------------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(p=st.sampled_from([1.0, 2.0, 3.0, 1.5, float("inf")]), h=st.integers(2, 6), w=st.integers(3, 6),
       k=st.integers(1, 2), stride=st.sampled_from([None, 1, 2]), ceil_mode=st.booleans(), seed=seeds())
def test_lp_pool_matches_torch(p, h, w, k, stride, ceil_mode, seed):
    # inputs kept positive and off 0, where |x|^p with fractional p has an infinite slope
    x = np.random.default_rng(seed).uniform(0.5, 2.0, (2, 2, h, w))
    g, t = pair(x)
    gout = gradlab.nn.LPPool2d(p, k, stride, ceil_mode)(g)
    tout = torch.nn.LPPool2d(p, k, stride, ceil_mode)(t)
    assert_same(gout, tout, equal_nan=True)
    assert gout.grad_fn.name() == type(tout.grad_fn).__name__
    backward_both(gout, tout, seed)
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)
    g1, t1 = pair(x[0])
    gout = gradlab.nn.LPPool1d(p, k + 1, stride, ceil_mode)(g1)
    tout = torch.nn.LPPool1d(p, k + 1, stride, ceil_mode)(t1)
    assert_same(gout, tout, equal_nan=True)
    backward_both(gout, tout, seed)
    np.testing.assert_allclose(g1.grad.numpy(), t1.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_lp_pool_gradcheck_and_repr():
    x = gradlab.tensor(np.random.default_rng(1).uniform(0.5, 2.0, (1, 1, 4, 4)), requires_grad=True)
    assert gradcheck(lambda t: F.lp_pool2d(t, 2.0, 2), (x,))
    assert gradgradcheck(lambda t: F.lp_pool1d(t[0], 3.0, 2, 1), (x,))
    for args in [(2, 3), (1.5, (2, 3), 2, True)]:
        assert repr(gradlab.nn.LPPool2d(*args)) == repr(torch.nn.LPPool2d(*args))
        assert repr(gradlab.nn.LPPool1d(*args)) == repr(torch.nn.LPPool1d(*args))
