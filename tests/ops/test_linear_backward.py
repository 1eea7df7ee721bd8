"""linear's backward: the array-only fast path (create_graph=False) against the recorded one.

Both compute the same products with the same kernels, so they must agree bit
for bit; gradcheck (float64) checks the fast path against finite differences,
and PyTorch, where installed, checks the gradients' values.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F
from gradlab.autograd import gradcheck


def _inputs(rng, lead, n_in, n_out, dtype, with_bias, x_grad):
    x = gradlab.tensor(rng.standard_normal(lead + (n_in,)).astype(dtype), requires_grad=x_grad)
    w = gradlab.tensor(rng.standard_normal((n_out, n_in)).astype(dtype), requires_grad=True)
    b = gradlab.tensor(rng.standard_normal(n_out).astype(dtype), requires_grad=True) if with_bias else None
    return x, w, b


def _grads(x, w, b, weights, transposed, create_graph):
    out = F.linear(x, w, b)
    if transposed:           # a non-contiguous gradient reaches the linear node
        out = out.transpose(-1, -2) if out.ndim > 1 else out
    loss = (out * weights).sum()
    wanted = [t for t in (x, w, b) if t is not None and t.requires_grad]
    return [g.detach().numpy() for g in gradlab.autograd.grad(loss, wanted, create_graph=create_graph)]


@settings(deadline=None, max_examples=40)
@given(lead=st.sampled_from([(1,), (5,), (2, 3), (2, 1, 4)]), n_in=st.integers(1, 9), n_out=st.integers(1, 9),
       dtype=st.sampled_from([np.float32, np.float64]), with_bias=st.booleans(), x_grad=st.booleans(),
       transposed=st.booleans(), seed=st.integers(0, 2 ** 31))
def test_fast_backward_gives_the_recorded_backwards_bits(lead, n_in, n_out, dtype, with_bias, x_grad, transposed,
                                                          seed):
    rng = np.random.default_rng(seed)
    x, w, b = _inputs(rng, lead, n_in, n_out, dtype, with_bias, x_grad)
    shape = F.linear(x, w, b).shape
    if transposed:
        shape = shape[:-2] + (shape[-1], shape[-2]) if len(shape) > 1 else shape
    weights = gradlab.tensor(rng.standard_normal(shape).astype(dtype))
    fast = _grads(x, w, b, weights, transposed, create_graph=False)
    recorded = _grads(x, w, b, weights, transposed, create_graph=True)
    assert len(fast) == len(recorded) == 1 + x_grad + with_bias
    for a, r in zip(fast, recorded):
        assert a.dtype == r.dtype == dtype and a.shape == r.shape
        np.testing.assert_array_equal(a, r)


@pytest.mark.parametrize("lead", [(4,), (2, 3)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_gradcheck_float64(lead, with_bias):
    rng = np.random.default_rng(0)
    x, w, b = _inputs(rng, lead, 5, 3, np.float64, with_bias, True)
    inputs = (x, w) if b is None else (x, w, b)
    assert gradcheck(lambda *t: F.linear(*t), inputs)


def test_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    xs, ws, bs = (rng.standard_normal(s).astype(np.float32) for s in ((64, 3, 20), (30, 20), (30,)))
    gs = rng.standard_normal((64, 3, 30)).astype(np.float32)

    def run(T):
        x, w, b = (T.tensor(a, requires_grad=True) for a in (xs, ws, bs))
        (T.nn.functional.linear(x, w, b) * T.tensor(gs)).sum().backward()
        return [t.grad.numpy() for t in (x, w, b)]
    for ours, theirs in zip(run(gradlab), run(torch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
