"""Layer norm and batch norm kernels: the compiled ones against their NumPy twins (hypothesis), float64 gradient
checks of the ops that use them, the same bits at 1 and 2 threads, clear errors, and PyTorch's values."""
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
    for p, q in zip(a, b):
        assert (p is None) == (q is None)
        if p is not None:
            np.testing.assert_allclose(p, q, **tol(dtype))


@st.composite
def layer_cases(draw):
    dtype = draw(DTYPES)
    m, n = draw(st.integers(1, 40)), draw(st.integers(1, 70))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    offset = draw(st.sampled_from([0.0, 5.0, -100.0]))      # a mean far from 0: no cancellation allowed
    x = (rng.standard_normal((m, n)) * draw(st.sampled_from([0.01, 1.0, 30.0])) + offset).astype(dtype)
    w = rng.standard_normal(n).astype(dtype) if draw(st.booleans()) else None
    b = rng.standard_normal(n).astype(dtype) if draw(st.booleans()) else None
    g = rng.standard_normal((m, n)).astype(dtype)
    need = tuple(draw(st.booleans()) for _ in range(3))
    return x, w, b, g, need


@st.composite
def batch_cases(draw):
    dtype = draw(DTYPES)
    shape = (draw(st.integers(1, 5)), draw(st.integers(1, 6)), draw(st.integers(1, 50)))
    if shape[0] * shape[2] == 1:
        shape = (2,) + shape[1:]
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    offset = draw(st.sampled_from([0.0, 3.0, 100.0]))
    x = (rng.standard_normal(shape) * draw(st.sampled_from([0.1, 1.0, 20.0])) + offset).astype(dtype)
    w = rng.standard_normal(shape[1]).astype(dtype) if draw(st.booleans()) else None
    b = rng.standard_normal(shape[1]).astype(dtype) if draw(st.booleans()) else None
    g = rng.standard_normal(shape).astype(dtype)
    need = tuple(draw(st.booleans()) for _ in range(3))
    return x, w, b, g, need


@requires_cython
@settings(max_examples=60, deadline=None)
@given(layer_cases())
def test_layer_norm_twins_agree(case):
    x, w, b, g, need = case
    fwd = both_backends(K.layer_norm_forward, x, w, b, 1e-5)
    _close(*fwd, x.dtype)
    _, mean, rstd = fwd[1]
    _close(*both_backends(K.layer_norm_backward, g, x, mean, rstd, w, *need), x.dtype)


@requires_cython
@settings(max_examples=60, deadline=None)
@given(batch_cases())
def test_batch_norm_twins_agree(case):
    x, w, b, g, need = case
    fwd = both_backends(K.batch_norm_forward, x, w, b, 1e-5)
    _close(*fwd, x.dtype)
    _, mean, _, rstd = fwd[1]
    _close(*both_backends(K.batch_norm_backward, g, x, mean, rstd, w, *need), x.dtype)


def test_statistics_are_those_of_numpy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 20)) * 3 + 7
    y, mean, var, rstd = K.batch_norm_forward(x, None, None, 1e-5)
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(var, x.var(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(rstd, 1 / np.sqrt(x.var(axis=(0, 2)) + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0, atol=1e-12)
    x2 = x.reshape(18, 20)
    y2, mean2, rstd2 = K.layer_norm_forward(x2, None, None, 1e-5)
    np.testing.assert_allclose(mean2, x2.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(y2.std(axis=1), np.sqrt(x2.var(axis=1) / (x2.var(axis=1) + 1e-5)), rtol=1e-9)


@requires_cython
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_bits_for_one_and_two_threads(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((700, 96)).astype(dtype)          # big enough for the threads to share it
    w, b, g = rng.standard_normal(96).astype(dtype), rng.standard_normal(96).astype(dtype), \
        rng.standard_normal((700, 96)).astype(dtype)
    x3 = rng.standard_normal((16, 12, 300)).astype(dtype)
    g3 = rng.standard_normal(x3.shape).astype(dtype)
    before = K.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            K.set_num_threads(n)
            _, mean, rstd = ln = K.layer_norm_forward(x, w, b, 1e-5)
            _, bmean, _, brstd = bn = K.batch_norm_forward(x3, w[:12], b[:12], 1e-5)
            results.append(ln + K.layer_norm_backward(g, x, mean, rstd, w) + bn
                           + K.batch_norm_backward(g3, x3, bmean, brstd, w[:12]))
    finally:
        K.set_num_threads(before)
    for p, q in zip(*results):
        assert np.array_equal(p, q)


def test_float64_gradients_of_the_ops():
    rng = np.random.default_rng(2)

    def t(*shape):
        return gradlab.tensor(rng.standard_normal(shape), dtype=gradlab.float64, requires_grad=True)
    x, w, b = t(3, 4, 5), t(5), t(5)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (5,), w, b), (x, w, b))
    assert gradcheck(lambda x: F.layer_norm(x, (4, 5)), (x,))
    xb, wb, bb = t(4, 3, 2, 2), t(3), t(3)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (xb, wb, bb))
    assert gradcheck(lambda x: F.batch_norm(x, None, None, training=True), (t(5, 3),))


def test_float16_and_mixed_inputs_are_computed_in_float32():
    x = np.linspace(-2, 2, 24, dtype=np.float16).reshape(4, 6)
    y, mean, rstd = K.layer_norm_forward(x, np.ones(6, np.float32), None, 1e-5)
    assert y.dtype == mean.dtype == np.float16
    np.testing.assert_allclose(y.astype(np.float32), K.layer_norm_forward(x.astype(np.float32), None, None,
                                                                          1e-5)[0], atol=2e-3)


def test_bad_arguments_raise_clear_errors():
    x = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="layer_norm_forward: weight has shape"):
        K.layer_norm_forward(x, np.ones(4, np.float32), None, 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward: expected x to be 3-D"):
        K.batch_norm_forward(x, None, None, 1e-5)
    with pytest.raises(TypeError, match="layer_norm_forward: x has dtype int64"):
        K.layer_norm_forward(np.ones((2, 2), np.int64), None, None, 1e-5)
    with pytest.raises(ValueError, match="layer_norm_backward: grad_out has shape"):
        K.layer_norm_backward(np.ones((3, 3), np.float32), x, np.ones(4, np.float32), np.ones(4, np.float32), None)


@requires_cython
def test_compiled_kernels_refuse_what_they_cannot_read():
    from gradlab_ext import norm
    x = np.ones((4, 6), np.float32)
    with pytest.raises(ValueError, match="C-contiguous"):
        norm.layer_norm_forward(x[:, ::2], None, None, 1e-5)
    with pytest.raises(TypeError, match="expected float32"):
        norm.layer_norm_forward(x, np.ones(6), None, 1e-5)
    with pytest.raises(ValueError, match="has shape"):
        norm.batch_norm_backward(np.ones((2, 3, 4)), np.ones((2, 3, 4)), np.ones(2), np.ones(3), None,
                                 True, True, True)
    with pytest.raises(ValueError, match="no values per channel"):
        norm.batch_norm_forward(np.ones((0, 3, 4), np.float32), None, None, 1e-5)


@requires_torch
@pytest.mark.parametrize("shape", [(2, 7, 32), (64, 16, 8, 8)])
def test_against_pytorch(shape):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(np.float32) * 2 + 1
    g = rng.standard_normal(shape).astype(np.float32)
    c = shape[1]
    w, b = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    wl, bl = rng.standard_normal(shape[-1]).astype(np.float32), rng.standard_normal(shape[-1]).astype(np.float32)
    results = {}
    for lib in (gradlab, torch):
        xs, ws, bs = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        wls, bls = (lib.tensor(a, requires_grad=True) for a in (wl, bl))
        rm, rv = lib.zeros(c), lib.ones(c)
        out = lib.nn.functional.batch_norm(xs, rm, rv, ws, bs, training=True)
        out2 = lib.nn.functional.layer_norm(xs, (shape[-1],), wls, bls)
        ((out + out2) * lib.tensor(g)).sum().backward()
        results[lib] = [a.detach().numpy() for a in (out, out2, xs.grad, ws.grad, bs.grad, wls.grad, bls.grad,
                                                     rm, rv)]
    for p, q in zip(results[gradlab], results[torch]):
        np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-4)
