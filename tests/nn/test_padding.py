"""Padding layers (constant, zero, reflection, replication, circular; 1d, 2d, 3d) and F.pad's cropping:
values, gradients, grad_fn names and reprs against PyTorch."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F
from gradlab import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from against_torch import assert_same, backward_both, pair, seeds  # noqa: E402


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


PAD_CASES = [
    ("ZeroPad1d", (2,), (2, 3, 5)), ("ZeroPad2d", (1,), (2, 3, 4, 5)), ("ZeroPad2d", ((1, 0, 2, 3),), (3, 4, 5)),
    ("ConstantPad1d", ((1, 2), 3.5), (2, 3, 5)), ("ConstantPad2d", (2, -1.0), (1, 2, 3, 4)),
    ("ReflectionPad1d", (2,), (2, 3, 5)), ("ReflectionPad1d", ((0, 3),), (3, 5)),
    ("ReflectionPad2d", (1,), (2, 3, 4, 5)), ("ReflectionPad2d", ((1, 2, 0, 3),), (3, 4, 5)),
    ("ReplicationPad1d", ((3, 1),), (2, 3, 5)), ("ReplicationPad2d", ((1, 2, 3, 4),), (2, 3, 4, 5)),
    ("CircularPad1d", (2,), (2, 3, 5)), ("CircularPad2d", (1,), (2, 3, 4, 5)),
    ("CircularPad2d", ((2, 1, 0, 3),), (3, 4, 5)),
]


@pytest.mark.parametrize("name,args,shape", PAD_CASES)
def test_padding_layers_match_torch(name, args, shape):
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    x = rand(*shape)
    xo, xt = gradlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(xo), theirs(xt)
    np.testing.assert_array_equal(out._data, ref.detach().numpy())
    upstream = rand(*ref.shape, seed=1)
    out.backward(gradlab.tensor(upstream))
    ref.backward(torch.tensor(upstream))
    np.testing.assert_allclose(xo.grad._data, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_circular_pad_checks_the_input_rank_as_torch():
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        nn.CircularPad2d(1)(gradlab.zeros(5, 5))


@pytest.mark.parametrize("pads", [(-2, -2), (0, 0, -2, -1), (-4, 0)])
def test_pad_refuses_to_crop_below_zero(pads):
    with pytest.raises(RuntimeError):
        torch.nn.functional.pad(torch.ones(2, 3), pads)
    with pytest.raises(RuntimeError, match=r"pad: the negative padding .* crops more than input of shape \[2, 3\]"):
        F.pad(gradlab.ones(2, 3), pads)


@settings(max_examples=15, deadline=None)
@given(padding=st.one_of(st.integers(0, 2), st.tuples(*[st.integers(0, 2)] * 6)), batched=st.booleans(),
       value=st.floats(-3, 3), seed=seeds())
def test_pad3d_layers_match_torch(padding, batched, value, seed):
    shape = (2, 1, 2, 3, 2) if batched else (1, 2, 3, 2)
    g, t = pair(np.random.default_rng(seed).standard_normal(shape))
    for gl_layer, t_layer in [(gradlab.nn.ConstantPad3d(padding, value), torch.nn.ConstantPad3d(padding, value)),
                              (gradlab.nn.ZeroPad3d(padding), torch.nn.ZeroPad3d(padding))]:
        assert repr(gl_layer) == repr(t_layer)
        gout, tout = gl_layer(g), t_layer(t)
        assert_same(gout, tout)
        assert gout.grad_fn.name() == type(tout.grad_fn).__name__
        g.grad = None
        t.grad = None
        backward_both(gout, tout, seed)
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy())
