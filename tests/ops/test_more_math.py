"""asinh, acosh, atanh, copysign and positive: values, gradients and grad_fn names against PyTorch,
float64 gradcheck and gradgradcheck, aliases and in-place forms, and the edges of each domain."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradlab
from gradlab.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)


def arrays(low, high, shape=SHAPES):
    """float64 arrays with values in [low, high] (the domain kept off each function's poles)."""
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, allow_infinity=False))


# name, values drawn in [low, high] (inside the domain, off the poles)
UNARY = [("asinh", -5.0, 5.0), ("acosh", 1.05, 6.0), ("atanh", -0.95, 0.95)]


def both(name, x):
    """The op on x in gradlab and PyTorch, each input requiring grad, with the loss sum(out * w)."""
    g, t = gradlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    return g, t, getattr(gradlab, name)(g), getattr(torch, name)(t)


@pytest.mark.parametrize("name,low,high", UNARY)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_unary_matches_torch(name, low, high, data):
    x = data.draw(arrays(low, high))
    g, t, gout, tout = both(name, x)
    np.testing.assert_allclose(gout.detach().numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert gout.grad_fn.name() == type(tout.grad_fn).__name__
    w = np.random.default_rng(0).standard_normal(x.shape)
    (gout * gradlab.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,low,high", UNARY)
def test_unary_gradcheck_and_gradgradcheck(name, low, high):
    x = gradlab.tensor(np.linspace(low, high, 7), dtype=gradlab.float64, requires_grad=True)
    fn = getattr(gradlab, name)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("name", ["asinh", "acosh", "atanh"])
def test_aliases_and_inplace(name):
    alias = "arc" + name[1:]
    x = np.array([1.5, 2.5]) if name == "acosh" else np.array([0.25, -0.5])
    expected = getattr(torch, name)(torch.tensor(x)).numpy()
    assert getattr(gradlab, alias) is getattr(gradlab, name)
    np.testing.assert_allclose(getattr(gradlab.tensor(x), alias)().numpy(), expected)
    for method in (name + "_", alias + "_"):
        t = gradlab.tensor(x)
        assert getattr(t, method)() is t
        np.testing.assert_allclose(t.numpy(), expected)


def test_domain_edges_as_torch():
    """NaN outside the domain, infinities at atanh(+-1) and acosh(1) = 0, with no NumPy warnings."""
    x = [-2.0, -1.0, 0.0, 0.5, 1.0, 2.0]
    with np.errstate(all="raise"):
        for name in ("asinh", "acosh", "atanh"):
            np.testing.assert_allclose(getattr(gradlab, name)(gradlab.tensor(x)).numpy(),
                                       getattr(torch, name)(torch.tensor(x)).numpy(), rtol=1e-6)


def test_integer_inputs_compute_in_default_float():
    for name in ("asinh", "acosh", "atanh"):
        out = getattr(gradlab, name)(gradlab.tensor([1, 2]))
        assert out.dtype == gradlab.float32
    out = gradlab.copysign(gradlab.tensor([1, 2]), gradlab.tensor([-1, 1]))
    assert out.dtype == gradlab.float32 and out.tolist() == [-1.0, 2.0]


# ---- copysign -----------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_copysign_matches_torch(data):
    shape_a, shape_b = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)).input_shapes
    # zeros (and -0.0) included: the gradient of a is 0 at a = 0, and the sign of b = -0.0 is negative
    values = st.sampled_from([0.0, -0.0, 1.5, -2.0, 0.25, -3.0])
    a = data.draw(hnp.arrays(np.float64, shape_a, elements=values))
    b = data.draw(hnp.arrays(np.float64, shape_b, elements=values))
    ga, gb = gradlab.tensor(a, requires_grad=True), gradlab.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    gout, tout = gradlab.copysign(ga, gb), torch.copysign(ta, tb)
    np.testing.assert_array_equal(np.signbit(gout.detach().numpy()), np.signbit(tout.detach().numpy()))
    np.testing.assert_array_equal(gout.detach().numpy(), tout.detach().numpy())
    assert gout.grad_fn.name() == type(tout.grad_fn).__name__ == "CopysignBackward0"
    w = np.arange(1.0, 1.0 + np.prod(tout.shape)).reshape(tout.shape)
    (gout * gradlab.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(ga.grad.numpy(), ta.grad.numpy())
    np.testing.assert_array_equal(gb.grad.numpy(), tb.grad.numpy())


def test_copysign_scalar_other_and_gradchecks():
    x = [0.5, -1.5, 2.0]
    g, t = gradlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    gout, tout = gradlab.copysign(g, -1.0), torch.copysign(t, -1.0)
    assert gout.grad_fn.name() == type(tout.grad_fn).__name__ == "CopysignBackward1"
    np.testing.assert_array_equal(gout.detach().numpy(), tout.detach().numpy())
    a = gradlab.tensor([0.5, -1.5, 2.0], dtype=gradlab.float64, requires_grad=True)
    b = gradlab.tensor([[-1.0], [3.0]], dtype=gradlab.float64, requires_grad=True)
    assert gradcheck(gradlab.copysign, (a, b))
    assert gradgradcheck(gradlab.copysign, (a, b))
    y = gradlab.tensor([1.0, -2.0])
    assert y.copysign_(gradlab.tensor([-1.0, 1.0])) is y and y.tolist() == [-1.0, 2.0]


def test_copysign_bad_shapes_name_the_op():
    with pytest.raises(RuntimeError, match="copysign"):
        gradlab.copysign(gradlab.ones(2), gradlab.ones(3))


# ---- positive -----------------------------------------------------------------------------------
def test_positive_is_the_input_itself():
    x = gradlab.tensor([1.0, -2.0], requires_grad=True)
    assert gradlab.positive(x) is x and x.positive() is x
    assert torch.positive(torch.tensor([1.0])).grad_fn is None  # (PyTorch too returns its input)
    with pytest.raises(RuntimeError, match="bool"):
        gradlab.positive(gradlab.tensor([True]))
