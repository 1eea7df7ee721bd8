"""Softmax, log-softmax and attention-softmax kernels: the compiled ones against their NumPy twins (hypothesis),
float64 gradient checks of the ops that use them, the same bits at 1 and 2 threads, clear errors, and PyTorch's
values."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
import gradlab.kernels as K
import gradlab.nn.functional as F
from gradlab.autograd import gradcheck
from kernel_cases import DTYPES, both_backends, requires_cython, tol

try:
    import torch
except ImportError:
    torch = None
requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed")


def _close(a, b, dtype):
    np.testing.assert_allclose(a, b, **tol(dtype))


@st.composite
def score_cases(draw):
    """Scores (..., L, S) with some -inf entries, an upstream gradient, and an additive (L, S) mask."""
    dtype = draw(DTYPES)
    lead = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    length, keys = draw(st.integers(1, 12)), draw(st.integers(1, 80))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    x = (rng.standard_normal(lead + (length, keys)) * draw(st.sampled_from([0.1, 1.0, 40.0]))).astype(dtype)
    if draw(st.booleans()):
        x[rng.random(x.shape) < 0.2] = -np.inf
        x[..., 0] = 0                                    # every row keeps one finite score
    mask = np.where(rng.random((length, keys)) < 0.3, -np.inf, rng.standard_normal((length, keys))).astype(dtype)
    if draw(st.booleans()):
        mask[draw(st.integers(0, length - 1))] = -np.inf   # a query with nothing to attend to
    g = rng.standard_normal(x.shape).astype(dtype)
    return x, g, mask


@requires_cython
@settings(max_examples=60, deadline=None)
@given(score_cases())
def test_softmax_and_log_softmax_twins_agree(case):
    x, g, _ = case
    y, y_np = both_backends(K.softmax_forward, x)
    _close(y, y_np, x.dtype)
    _close(*both_backends(K.softmax_backward, g, y_np), x.dtype)
    ly, ly_np = both_backends(K.log_softmax_forward, x)
    finite = np.isfinite(ly_np)
    assert np.array_equal(finite, np.isfinite(ly))
    _close(ly[finite], ly_np[finite], x.dtype)
    _close(*both_backends(K.log_softmax_backward, g, np.where(finite, ly_np, -np.inf).astype(x.dtype)), x.dtype)


@requires_cython
@settings(max_examples=60, deadline=None)
@given(score_cases(), st.booleans(), st.booleans(), st.sampled_from([1.0, 0.125]))
def test_attention_softmax_twins_agree(case, causal, masked, scale):
    x, g, mask = case
    w, w_np = both_backends(K.attention_softmax_forward, x, scale, causal, mask if masked else None)
    assert not np.isnan(w).any()
    _close(w, w_np, x.dtype)
    rows = w_np.sum(-1)
    assert np.all((np.abs(rows - 1) < 1e-4) | (rows == 0))     # a distribution, or 0 with nothing to attend to
    if causal:
        assert np.all(w[..., np.triu_indices(x.shape[-2], 1, x.shape[-1])[0],
                        np.triu_indices(x.shape[-2], 1, x.shape[-1])[1]] == 0)
    _close(*both_backends(K.attention_softmax_backward, g, w_np, scale), x.dtype)


def test_float32_exp_is_accurate():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 300)) * 20).astype(np.float32)
    x[:, 5] = -np.inf
    y = K.softmax_forward(x)
    ref = np.exp(x - x.max(-1, keepdims=True).astype(np.float64))
    ref /= ref.sum(-1, keepdims=True)
    # (x - max) rounded to float32 costs up to |x - max| * 2^-24 of relative error: ~1e-6 at -40
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-30)
    close = x - x.max(-1, keepdims=True) > -10
    np.testing.assert_allclose(y[close], ref[close], rtol=1e-6)
    assert np.all(y[:, 5] == 0)


def test_nan_and_blocked_rows_follow_pytorch():
    x = np.array([[1.0, np.nan, 2.0], [-np.inf, -np.inf, -np.inf], [0.0, 1.0, 2.0]], np.float32)
    y = K.softmax_forward(x)
    assert np.isnan(y[0]).all() and np.isnan(y[1]).all() and np.isfinite(y[2]).all()
    w = K.attention_softmax_forward(x[1:], 1.0, False, None)
    assert np.array_equal(w[0], np.zeros(3, np.float32))


@requires_cython
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_bits_for_one_and_two_threads(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 4, 64, 70)).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    mask = rng.standard_normal((64, 70)).astype(dtype)
    before = K.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            K.set_num_threads(n)
            y, ly = K.softmax_forward(x), K.log_softmax_forward(x)
            w = K.attention_softmax_forward(x, 0.3, True, mask)
            results.append((y, ly, w, K.softmax_backward(g, y), K.log_softmax_backward(g, ly),
                            K.attention_softmax_backward(g, w, 0.3)))
    finally:
        K.set_num_threads(before)
    for p, q in zip(*results):
        assert np.array_equal(p, q)


def _t(rng, *shape):
    return gradlab.tensor(rng.standard_normal(shape), dtype=gradlab.float64, requires_grad=True)


def test_float64_gradients_of_the_ops():
    rng = np.random.default_rng(2)
    x = _t(rng, 3, 4, 5)
    assert gradcheck(lambda x: F.softmax(x, -1), (x,))
    assert gradcheck(lambda x: F.log_softmax(x, -1), (x,))
    assert gradcheck(lambda x: F.cross_entropy(x, gradlab.tensor([1, 0, 3])), (_t(rng, 3, 4),))
    q, k, v = _t(rng, 2, 3, 5, 4), _t(rng, 2, 3, 6, 4), _t(rng, 2, 3, 6, 4)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), (q, k, v))
    bool_mask = gradlab.tensor(rng.random((5, 6)) < 0.7)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=bool_mask), (q, k, v))
    float_mask = gradlab.tensor(rng.standard_normal((1, 6)))
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=float_mask, scale=0.3),
                     (q, k, v))


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(TypeError, match="softmax_forward: x has dtype int64"):
        K.softmax_forward(np.ones((2, 3), np.int64))
    with pytest.raises(ValueError, match="softmax_backward: out has shape"):
        K.softmax_backward(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="attention_softmax_forward: mask has shape"):
        K.attention_softmax_forward(np.ones((2, 3, 4), np.float32), 1.0, False, np.ones((4, 3), np.float32))
    with pytest.raises(ValueError, match="attention_softmax_forward: scores must be at least 2-D"):
        K.attention_softmax_forward(np.ones(3, np.float32), 1.0, True, None)


@requires_cython
def test_compiled_kernels_refuse_what_they_cannot_read():
    from gradlab_ext import softmax
    x = np.ones((4, 6), np.float32)
    with pytest.raises(ValueError, match="C-contiguous"):
        softmax.softmax_forward(x[:, ::2])
    with pytest.raises(TypeError, match="expected float32"):
        softmax.softmax_backward(x, np.ones((4, 6)))
    with pytest.raises(ValueError, match="has shape"):
        softmax.attention_softmax_forward(x, 1.0, False, np.ones((6, 4), np.float32))


@requires_torch
@pytest.mark.parametrize("mask", ["causal", "bool", "float", None])
def test_attention_against_pytorch(mask):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 4, 16, 8)).astype(np.float32) for _ in range(3)]
    g = rng.standard_normal((2, 4, 16, 8)).astype(np.float32)
    bool_mask = rng.random((16, 16)) < 0.8
    bool_mask[:, 0] = True
    float_mask = rng.standard_normal((16, 16)).astype(np.float32)
    results = {}
    for lib in (gradlab, torch):
        q, k, v = (lib.tensor(a, requires_grad=True) for a in arrays)
        kwargs = {"causal": dict(is_causal=True), "bool": dict(attn_mask=lib.tensor(bool_mask)),
                  "float": dict(attn_mask=lib.tensor(float_mask)), None: {}}[mask]
        out = lib.nn.functional.scaled_dot_product_attention(q, k, v, **kwargs)
        logp = lib.nn.functional.log_softmax(out.reshape(-1, 8), -1)
        sm = lib.softmax(out, -1)
        (logp.sum() + (sm * lib.tensor(g)).sum() + (out * lib.tensor(g)).sum()).backward()
        results[lib] = [a.detach().numpy() for a in (out, logp, sm, q.grad, k.grad, v.grad)]
    for p, r in zip(results[gradlab], results[torch]):
        np.testing.assert_allclose(p, r, rtol=1e-4, atol=1e-5)
