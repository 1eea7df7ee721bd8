"""The pointwise one-input ops (gradlab/ops/unary.py) beyond their specs: asinh / acosh / atanh, positive,
clamp's dtype promotion, and values and gradients at the edges of each domain against PyTorch."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
from gradlab.autograd import gradcheck, gradgradcheck
from ops_helpers import arrays, check_binary_edges, check_unary_edges, computes_in_default_float, needs_torch, torch

# name, values drawn in [low, high] (inside the domain, off the poles)
UNARY = [("asinh", -5.0, 5.0), ("acosh", 1.05, 6.0), ("atanh", -0.95, 0.95)]


def both(name, x):
    """The op on x in gradlab and PyTorch, each input requiring grad, with the loss sum(out * w)."""
    g, t = gradlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    return g, t, getattr(gradlab, name)(g), getattr(torch, name)(t)


@needs_torch
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


@needs_torch
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


@needs_torch
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


@needs_torch
def test_positive_is_the_input_itself():
    x = gradlab.tensor([1.0, -2.0], requires_grad=True)
    assert gradlab.positive(x) is x and x.positive() is x
    assert torch.positive(torch.tensor([1.0])).grad_fn is None  # (PyTorch too returns its input)
    with pytest.raises(RuntimeError, match="bool"):
        gradlab.positive(gradlab.tensor([True]))


@pytest.mark.parametrize("dtype", ["bool", "int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("bounds", [(0, 1), (0.5, None), (None, 1.5), (0.5, 1.5), (0, 1.5)])
def test_clamp_with_number_bounds_promotes_as_torch(dtype, bounds):
    """An integer tensor clamped to a float bound computes in the default float dtype (not float64)."""
    torch = pytest.importorskip("torch")
    values = np.array([0, 1, 2, 3]).astype(dtype)
    ours = gradlab.from_numpy(values.copy()).clamp(*bounds)
    theirs = torch.from_numpy(values.copy()).clamp(*bounds)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# ---- values and gradients at the edges (ops_helpers.EDGES) ------------------------------------------------------
UNARY_EDGE_CASES = {name: (lambda name: lambda lib, x: getattr(lib, name)(x))(name) for name in (
    "asin", "acos", "atan", "sinh", "cosh", "exp2", "log10", "deg2rad", "rad2deg", "sgn", "sign")}


@pytest.mark.parametrize("name", sorted(UNARY_EDGE_CASES))
def test_unary_edge_values_match_torch(name):
    check_unary_edges(name, UNARY_EDGE_CASES[name])


BINARY_EDGE_CASES = {
    "clamp_min": lambda lib, x, y: lib.clamp_min(x, y),
    "clamp_max": lambda lib, x, y: x.clamp_max(y),
}


@pytest.mark.parametrize("name", sorted(BINARY_EDGE_CASES))
def test_binary_edge_values_match_torch(name):
    check_binary_edges(name, BINARY_EDGE_CASES[name])


@pytest.mark.parametrize("name", ["exp", "deg2rad"])
def test_integer_inputs_compute_in_the_default_dtype(name):
    computes_in_default_float(getattr(gradlab, name), gradlab.tensor([1, 2, 3]))
