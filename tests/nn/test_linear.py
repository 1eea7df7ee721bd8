"""Bilinear: values, gradients and grad_fn names against PyTorch, gradcheck, repr and default init."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from against_torch import assert_same, backward_both, pair, seeds  # noqa: E402


def test_bilinear_repr_init_and_grad_fn():
    layer = gradlab.nn.Bilinear(3, 4, 5)
    assert repr(layer) == repr(torch.nn.Bilinear(3, 4, 5))
    assert repr(gradlab.nn.Bilinear(2, 2, 1, bias=False)) == repr(torch.nn.Bilinear(2, 2, 1, bias=False))
    assert layer.weight.shape == (5, 3, 4) and layer.bias.shape == (5,)
    bound = 1 / np.sqrt(3)
    big = gradlab.nn.Bilinear(3, 40, 50)  # many draws: they fill U(-1/sqrt(in1), 1/sqrt(in1))
    for p in (big.weight, big.bias):
        assert p.abs().max().item() <= bound and p.abs().max().item() > 0.9 * bound
    with pytest.raises(ValueError, match="in1_features must be > 0"):
        gradlab.nn.Bilinear(0, 2, 2)


@settings(max_examples=15, deadline=None)
@given(batch=st.lists(st.integers(1, 3), max_size=2), in1=st.integers(1, 4), in2=st.integers(1, 4),
       out=st.integers(1, 3), bias=st.booleans(), seed=seeds())
def test_bilinear_matches_torch(batch, in1, in2, out, bias, seed):
    rng = np.random.default_rng(seed)
    gl_layer = gradlab.nn.Bilinear(in1, in2, out, bias=bias, dtype=gradlab.float64)
    t_layer = torch.nn.Bilinear(in1, in2, out, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        t_layer.weight.copy_(torch.tensor(gl_layer.weight.detach().numpy()))
        if bias:
            t_layer.bias.copy_(torch.tensor(gl_layer.bias.detach().numpy()))
    g1, t1 = pair(rng.standard_normal((*batch, in1)))
    g2, t2 = pair(rng.standard_normal((*batch, in2)))
    gout, tout = gl_layer(g1, g2), t_layer(t1, t2)
    assert_same(gout, tout)
    backward_both(gout, tout, seed)
    for a, b in [(g1.grad, t1.grad), (g2.grad, t2.grad), (gl_layer.weight.grad, t_layer.weight.grad)]:
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
