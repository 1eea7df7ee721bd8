"""The arithmetic ops (gradlab/ops/arithmetic.py) beyond their specs: copysign, maximum / minimum at NaN and
ties, integer division by zero, broadcast errors, edge values and errors against PyTorch."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradlab
from gradlab.autograd import gradcheck, gradgradcheck
from gradlab.testing import broadcastable_shapes
from ops_helpers import (check_binary_edges, computes_in_default_float, needs_torch, raises_named_error, raises_with,
                         torch)


def test_second_derivative_values():
    x = gradlab.tensor([0.5, 2.0], dtype=gradlab.float64, requires_grad=True)
    (g,) = gradlab.autograd.grad((x ** 3).sum(), x, create_graph=True)
    (gg,) = gradlab.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * x.detach().numpy())


# ---- copysign -----------------------------------------------------------------------------------
@needs_torch
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


@needs_torch
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


@pytest.mark.parametrize("call", [
    lambda lib, a, b: a % b, lambda lib, a, b: a // b, lambda lib, a, b: lib.fmod(a, b),
    lambda lib, a, b: lib.div(a, b, rounding_mode="trunc"), lambda lib, a, b: lib.div(a, b, rounding_mode="floor"),
    lambda lib, a, b: a.remainder_(b),
])
def test_integer_division_by_zero_raises_as_torch(call):
    """NumPy gives 0 (and a warning) for an integer divided by 0; PyTorch raises ZeroDivisionError."""
    torch = pytest.importorskip("torch")
    for lib in (torch, gradlab):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            call(lib, lib.tensor([5, -3]), lib.tensor([2, 0]))
    np.testing.assert_array_equal(call(gradlab, gradlab.tensor([5, -3]), gradlab.tensor([2, 4])).numpy(),
                                  call(torch, torch.tensor([5, -3]), torch.tensor([2, 4])).numpy())


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_gradients_at_nan_and_ties_match_torch(name):
    """A NaN on either side gives both inputs the gradient (PyTorch's formula); ties split it evenly."""
    torch = pytest.importorskip("torch")
    nan = float("nan")
    grads = []
    for lib in (gradlab, torch):
        a = lib.tensor([nan, 2.0, 3.0, 1.0, 5.0], dtype=lib.float64, requires_grad=True)
        b = lib.tensor([1.0, nan, 3.0, 2.0, nan], dtype=lib.float64, requires_grad=True)
        getattr(lib, name)(a, b).backward(lib.tensor([1.0, 10.0, 100.0, 1000.0, 1e4], dtype=lib.float64))
        grads.append((a.grad.numpy(), b.grad.numpy()))
    for ours, theirs in zip(*grads):
        np.testing.assert_array_equal(ours, theirs)


# ---- values and gradients at the edges (ops_helpers.EDGES) ------------------------------------------------------
BINARY_EDGE_CASES = {
    "atan2": lambda lib, x, y: lib.atan2(x, y),
    "hypot": lambda lib, x, y: lib.hypot(x, y),
    "logaddexp": lambda lib, x, y: lib.logaddexp(x, y),
    "logaddexp2": lambda lib, x, y: lib.logaddexp2(x, y),
    "fmax": lambda lib, x, y: lib.fmax(x, y),
    "fmin": lambda lib, x, y: lib.fmin(x, y),
    "ldexp": lambda lib, x, y: lib.ldexp(x, y),
    "float_power": lambda lib, x, y: lib.float_power(x, y),
}


@pytest.mark.parametrize("name", sorted(BINARY_EDGE_CASES))
def test_binary_edge_values_match_torch(name):
    check_binary_edges(name, BINARY_EDGE_CASES[name])


@pytest.mark.parametrize("name", ["atan2", "ldexp"])
def test_integer_inputs_compute_in_the_default_dtype(name):
    x = gradlab.tensor([1, 2, 3])
    computes_in_default_float(getattr(gradlab, name), x, x)


# ---- errors as PyTorch's (same exception type), naming the op and the dtypes or shapes -------------------------
ERRORS = {
    "gcd on floats": (lambda lib: lib.gcd(lib.ones(2), lib.ones(2)), ["gcd", "Float"]),
    "lcm on bools": (lambda lib: lib.lcm(lib.ones(2, dtype=lib.bool), lib.ones(2, dtype=lib.bool)), ["lcm", "Bool"]),
    "hypot on ints": (lambda lib: lib.hypot(lib.ones(2, dtype=lib.int64), lib.ones(2, dtype=lib.int64)),
                      ["hypot", "Long"]),
    "logaddexp on ints": (lambda lib: lib.ones(2, dtype=lib.int32).logaddexp(lib.ones(2, dtype=lib.int32)),
                          ["logaddexp", "Int"]),
    "heaviside with different dtypes": (lambda lib: lib.heaviside(lib.ones(2), lib.tensor(1)),
                                        ["heaviside", "different dtypes"]),
    "float_power_ on float32": (lambda lib: lib.ones(2).float_power_(2), ["float_power_", "float32"]),
    "atan2 shapes": (lambda lib: lib.atan2(lib.ones(2, 3), lib.ones(4)), ["atan2", "[2, 3]", "[4]"]),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_error(case):
    raises_named_error(case, *ERRORS[case])


@given(pair=broadcastable_shapes(2, min_dims=1, max_dims=3, min_side=2, max_side=4))
def test_broadcast_errors_name_the_op_and_both_shapes(pair):
    a_shape, b_shape = pair
    b_shape = b_shape[:-1] + (b_shape[-1] + 1,) if b_shape else b_shape  # break the last axis
    if len(a_shape) >= len(b_shape) and a_shape[-len(b_shape):][-1] in (1, b_shape[-1]):
        return  # still broadcastable
    a, b = gradlab.ones(a_shape), gradlab.ones(b_shape)
    for name, call in [("add", lambda: a + b), ("mul", lambda: a * b), ("sub", lambda: a - b),
                       ("div", lambda: a / b), ("eq", lambda: a == b), ("pow", lambda: a ** b)]:
        raises_with(call, RuntimeError, name, str(list(a_shape)), str(list(b_shape)), "non-singleton dimension")


def test_dtype_errors():
    raises_with(lambda: gradlab.ones(3) - gradlab.ones(3, dtype=gradlab.bool), RuntimeError, "bool")
    raises_with(lambda: gradlab.tensor([2]) ** -1, RuntimeError, "negative")
