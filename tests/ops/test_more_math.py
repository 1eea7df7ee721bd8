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


# ---- renorm -------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(data=st.data(), p=st.sampled_from([1.0, 2.0, 3.0, 1.5, float("inf")]), maxnorm=st.sampled_from([0.5, 1.0, 4.0]))
def test_renorm_matches_torch(data, p, maxnorm):
    x = data.draw(arrays(-2.0, 2.0, hnp.array_shapes(min_dims=2, max_dims=3, max_side=4)))
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    g, t = gradlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    gout, tout = g.renorm(p, dim, maxnorm), t.renorm(p, dim, maxnorm)
    np.testing.assert_allclose(gout.detach().numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert gout.grad_fn.name() == type(tout.grad_fn).__name__ == "RenormBackward0"
    w = np.random.default_rng(0).standard_normal(x.shape)
    (gout * gradlab.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    if p != float("inf") or len(np.unique(np.abs(x))) == x.size:  # (inf-norm ties split differently)
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_renorm_gradchecks_inplace_and_errors(p):
    x = gradlab.tensor(np.random.default_rng(3).uniform(0.2, 1.5, (3, 4)), requires_grad=True)
    assert gradcheck(lambda t: gradlab.renorm(t, p, 0, 1.0), (x,))
    assert gradgradcheck(lambda t: t.renorm(p, 1, 0.8), (x,))
    y = gradlab.ones(2, 3)
    assert y.renorm_(2, 0, 1.0) is y
    np.testing.assert_allclose(y.numpy(), torch.ones(2, 3).renorm(2, 0, 1.0).numpy())
    with pytest.raises(RuntimeError, match="non-positive-norm"):
        x.renorm(0, 0, 1.0)
    with pytest.raises(RuntimeError, match="maxnorm to be >= 0"):
        x.renorm(2, 0, -1.0)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        gradlab.ones(3).renorm(2, 0, 1.0)


# ---- put ----------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(data=st.data(), accumulate=st.booleans())
def test_put_matches_torch(data, accumulate):
    x = data.draw(arrays(-3.0, 3.0, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)))
    n = x.size
    k = data.draw(st.integers(1, 5))
    # without accumulate, repeated indices would leave the winner unspecified: keep them distinct
    index = np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=k, max_size=k,
                                        unique_by=None if accumulate else (lambda i: i % n))), dtype=np.int64)
    k = len(index)
    src = np.random.default_rng(k).standard_normal(k)
    g, t = gradlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    gs, ts = gradlab.tensor(src, requires_grad=True), torch.tensor(src, requires_grad=True)
    gout = g.put(gradlab.tensor(index), gs, accumulate=accumulate)
    tout = t.put(torch.tensor(index), ts, accumulate=accumulate)
    np.testing.assert_allclose(gout.detach().numpy(), tout.detach().numpy(), rtol=1e-12)
    assert gout.grad_fn.name() == type(tout.grad_fn).__name__ == "PutBackward0"
    w = np.random.default_rng(1).standard_normal(x.shape)
    (gout * gradlab.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy())
    np.testing.assert_allclose(gs.grad.numpy(), ts.grad.numpy())


def test_put_inplace_gradchecks_and_errors():
    x = gradlab.zeros(2, 3, dtype=gradlab.float64, requires_grad=True)
    s = gradlab.tensor([1.0, 2.0], dtype=gradlab.float64, requires_grad=True)
    idx = gradlab.tensor([4, -1])
    assert gradcheck(lambda a, b: a.put(idx, b, accumulate=True), (x, s))
    assert gradgradcheck(lambda a, b: a.put(idx, b) ** 2, (x, s))
    y = gradlab.zeros(3)
    assert y.put_(gradlab.tensor([1, 1]), gradlab.tensor([1.0, 2.0]), accumulate=True) is y
    assert y.tolist() == [0.0, 3.0, 0.0]
    with pytest.raises(IndexError, match="tried to access index 5 on a tensor of 3 elements"):
        y.put_(gradlab.tensor([5]), gradlab.tensor([1.0]))
    with pytest.raises(IndexError, match="same number of elements"):
        y.put_(gradlab.tensor([1, 2]), gradlab.tensor([1.0]))
    with pytest.raises(RuntimeError, match="long tensor for index"):
        y.put_(gradlab.tensor([1.0]), gradlab.tensor([1.0]))


# ---- resize_ ------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(old=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4, min_side=0),
       new=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4, min_side=0))
def test_resize_keeps_data_in_order(old, new):
    x = np.arange(float(np.prod(old))).reshape(old)
    g, t = gradlab.tensor(x), torch.tensor(x)
    assert g.resize_(new) is g
    t.resize_(new)
    assert g.shape == t.shape
    kept = min(x.size, int(np.prod(new)))
    np.testing.assert_array_equal(g.numpy().reshape(-1)[:kept], t.numpy().reshape(-1)[:kept])
    assert not g.numpy().reshape(-1)[kept:].any()  # the new elements: zeros (uninitialised in PyTorch)


def test_resize_refuses_grad_and_bumps_version():
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        gradlab.ones(2, requires_grad=True).resize_(3)
    x = gradlab.arange(6.0)
    before = x._version
    x.resize_(2, 2)
    assert x._version > before and x.tolist() == [[0.0, 1.0], [2.0, 3.0]]
    with pytest.raises(RuntimeError, match="negative dimension"):
        x.resize_(-1)
