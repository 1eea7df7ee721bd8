"""retain_grad, tensor hooks on leaves and non-leaves (reading and replacing), node hooks."""
import warnings

import pytest

import gradlab

from autograd_helpers import assert_close, leaf


def test_retain_grad_on_a_non_leaf():
    x = leaf([1., 2., 3.])
    y = x * x
    y.retain_grad()
    assert y.retains_grad and not x.retains_grad
    (y * 2).sum().backward()
    assert_close(y.grad, [2., 2., 2.])
    assert_close(x.grad, [4., 8., 12.])


def test_retained_grad_accumulates_over_backward_calls():
    x = leaf([1.])
    y = x * 3
    y.retain_grad()
    z = (y * y).sum()
    z.backward(retain_graph=True)
    z.backward()
    assert_close(y.grad, [12.])


def test_retained_grad_follows_an_in_place_change():
    # as PyTorch: .grad is the gradient of the tensor's latest value; a hook stays with the old value
    x = leaf([1., 2., 3.])
    y = x * 1
    y.retain_grad()
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    y.mul_(3)
    y[1:].mul_(2)
    (y * y).sum().backward()
    assert_close(y.grad, [6., 24., 36.])
    assert seen == [[18., 144., 216.]]
    assert_close(x.grad, [18., 144., 216.])


def test_retain_grad_on_a_leaf_is_a_no_op():
    x = leaf([1.])
    x.retain_grad()
    (x * 2).sum().backward()
    assert_close(x.grad, [2.])


def test_grad_of_a_non_leaf_warns_and_is_none():
    y = leaf([1.]) * 2
    y.sum().backward()
    with pytest.warns(UserWarning, match="not a leaf Tensor"):
        assert y.grad is None


def test_grad_of_a_leaf_does_not_warn():
    x = leaf([1.])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert x.grad is None


def test_assigning_grad_checks_shape_and_type():
    x = leaf([1., 2.])
    x.grad = gradlab.zeros(2, dtype=gradlab.float64)
    with pytest.raises(RuntimeError, match="different size"):
        x.grad = gradlab.zeros(3, dtype=gradlab.float64)
    with pytest.raises(RuntimeError, match="different type"):
        x.grad = gradlab.zeros(2, dtype=gradlab.float32)
    with pytest.raises(TypeError, match="Tensor or None"):
        x.grad = [0.0, 0.0]
    del x.grad
    assert x.grad is None


def test_hook_on_a_leaf_reads_the_gradient():
    x = leaf([1., 2.])
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    (x * 3).sum().backward()
    assert seen == [[3., 3.]]
    assert_close(x.grad, [3., 3.])


def test_hook_on_a_leaf_replaces_the_gradient_and_can_be_removed():
    x = leaf([1., 2.])
    handle = x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    assert_close(x.grad, [30., 30.])
    handle.remove()
    (x * 3).sum().backward()
    assert_close(x.grad, [33., 33.])


def test_hook_on_a_non_leaf_replaces_what_flows_on():
    x = leaf([1., 2.])
    y = x * x
    y.register_hook(lambda g: g * 0 + 1)  # pretend dL/dy = 1
    (y * 100).sum().backward()
    assert_close(x.grad, [2., 4.])


def test_hooks_run_in_registration_order():
    x = leaf([1.])
    y = x * 1
    order = []
    y.register_hook(lambda g: order.append("first") or g * 2)
    y.register_hook(lambda g: order.append("second") or g * 3)
    y.sum().backward()
    assert order == ["first", "second"]
    assert_close(x.grad, [6.])


def test_hook_sees_gradient_before_retain_grad_stores_it():
    x = leaf([1.])
    y = x * 1
    y.retain_grad()
    y.register_hook(lambda g: g * 5)
    y.sum().backward()
    assert_close(y.grad, [5.])  # as PyTorch: retain_grad stores the hooked gradient


def test_hook_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        gradlab.ones(2).register_hook(lambda g: g)


def test_hook_runs_with_autograd_grad_too():
    x = leaf([1., 2.])
    x.register_hook(lambda g: g * 2)
    (g,) = gradlab.autograd.grad((x * 3).sum(), x)
    assert_close(g, [6., 6.])
    assert x.grad is None


def test_node_hooks_see_grad_inputs_and_outputs():
    x = leaf([1., 2.])
    y = x * 4
    seen = {}

    def hook(grad_inputs, grad_outputs):
        seen["in"] = [g.tolist() if g is not None else None for g in grad_inputs]
        seen["out"] = [g.tolist() for g in grad_outputs]
    y.grad_fn.register_hook(hook)
    y.sum().backward()
    assert seen == {"in": [[4., 4.], None], "out": [[1., 1.]]}


def test_post_accumulate_grad_hook():
    x = leaf([1.])
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (x * 2).sum().backward()
    assert seen == [[2.]]


def test_cross_check_hooks_with_torch():
    torch = pytest.importorskip("torch")

    def run(lib):
        x = lib.tensor([1., -2., 3.], dtype=lib.float64, requires_grad=True)
        y = x.tanh() * x
        y.register_hook(lambda g: g * x.detach())
        z = y.exp()
        z.retain_grad()
        x.register_hook(lambda g: g + 1)
        (z * z).sum().backward()
        return x.grad, z.grad

    for mine, theirs in zip(run(gradlab), run(torch)):
        assert_close(mine, theirs, rtol=1e-12)
