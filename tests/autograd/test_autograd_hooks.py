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


# ---------------------------------------------------------------- what a hook may return

try:
    import torch
except ImportError:
    torch = None

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import numpy as np  # noqa: E402

SHAPES = st.lists(st.integers(0, 4), max_size=3).map(tuple)
DTYPES = ["float16", "float32", "float64", "int64", "int32", "uint8", "bool"]


def _backward_through_hook(lib, on_leaf, hook):
    """x (2x3 float32 leaf) -> y = x * 2 -> sum -> backward, with ``hook`` on x or y."""
    x = lib.ones(2, 3, requires_grad=True)
    y = x * 2
    (x if on_leaf else y).register_hook(hook)
    (y * 1).sum().backward()
    return x


def _named_hook(make):
    def replacing_hook(grad):
        return make(grad)
    return replacing_hook


@given(shape=SHAPES, on_leaf=st.booleans())
def test_a_hook_returning_another_shape_is_an_error_naming_the_hook(shape, on_leaf):
    if shape == (2, 3):
        shape = (3, 2)
    hook = _named_hook(lambda g: gradlab.zeros(shape))
    with pytest.raises(RuntimeError, match=r"hook 'replacing_hook' has changed the size of value "
                                           rf"\(was \[2, 3\], got \[{', '.join(map(str, shape))}\]\)"):
        _backward_through_hook(gradlab, on_leaf, hook)


@given(dtype=st.sampled_from([d for d in DTYPES if d != "float32"]), on_leaf=st.booleans())
def test_a_hook_returning_another_dtype_is_an_error_not_a_cast(dtype, on_leaf):
    hook = _named_hook(lambda g: g.to(getattr(gradlab, dtype)))
    legacy = getattr(gradlab, dtype).tensor_type
    with pytest.raises(RuntimeError, match=rf"hook 'replacing_hook' has changed the type of value "
                                           rf"\(was gradlab.FloatTensor got {legacy}\)"):
        _backward_through_hook(gradlab, on_leaf, hook)


NOT_TENSORS = st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=3),
                        st.just(np.ones((2, 3), np.float32)), st.just([[1.0] * 3] * 2),
                        st.builds(lambda: (gradlab.ones(2, 3),)))


@given(value=NOT_TENSORS, on_leaf=st.booleans())
def test_a_hook_returning_no_tensor_is_a_type_error_naming_the_hook(value, on_leaf):
    hook = _named_hook(lambda g: value)
    with pytest.raises(TypeError, match=f"expected Tensor, but hook 'replacing_hook' returned "
                                        f"'{type(value).__name__}'"):
        _backward_through_hook(gradlab, on_leaf, hook)


def test_a_hook_returning_the_same_shape_and_dtype_still_replaces_the_gradient():
    x = _backward_through_hook(gradlab, False, lambda g: g * 10)
    assert x.grad.tolist() == [[20.0] * 3] * 2
    x = _backward_through_hook(gradlab, True, lambda g: gradlab.full((2, 3), 7.0))
    assert x.grad.tolist() == [[7.0] * 3] * 2


@pytest.mark.skipif(torch is None, reason="torch not installed")
@given(kind=st.sampled_from(["shape", "dtype", "int", "tuple", "same"]), on_leaf=st.booleans())
def test_hook_results_are_refused_as_torch_refuses_them(kind, on_leaf):
    def outcome(lib):
        make = {"shape": lambda g: lib.zeros(3, 2), "dtype": lambda g: g.double(), "int": lambda g: 3,
                "tuple": lambda g: (g,), "same": lambda g: g + 1}[kind]
        try:
            return _backward_through_hook(lib, on_leaf, _named_hook(make)).grad.tolist()
        except (RuntimeError, TypeError) as e:
            assert "replacing_hook" in str(e) or kind in ("int", "tuple")
            return type(e)
    assert outcome(gradlab) == outcome(torch)


def test_node_hooks_must_keep_the_number_shapes_and_dtypes_of_the_gradients():
    def too_many(grad_inputs, grad_outputs):
        return grad_inputs + grad_inputs

    def wrong_shape(grad_outputs):
        return (gradlab.zeros(5),)

    for register, hook, error, words in (("register_hook", too_many, RuntimeError, "incorrect number of values"),
                                         ("register_prehook", wrong_shape, RuntimeError, "changed the size")):
        x = leaf([1.0, 2.0])
        y = x * 3
        getattr(y.grad_fn, register)(hook)
        with pytest.raises(error, match=f"hook '{hook.__name__}' .*{words}"):
            y.sum().backward()


def _module_backward(hook, pre=False):
    model = gradlab.nn.Linear(3, 2)
    (model.register_full_backward_pre_hook if pre else model.register_full_backward_hook)(hook)
    model(gradlab.ones(4, 3, requires_grad=True)).sum().backward()


@given(shape=SHAPES.filter(lambda s: s != (4, 3)))
def test_a_module_backward_hook_returning_another_shape_names_the_hook(shape):
    def module_hook(module, grad_input, grad_output):
        return (gradlab.zeros(shape),)
    with pytest.raises(RuntimeError, match="hook 'module_hook' has changed the size of value"):
        _module_backward(module_hook)


@given(dtype=st.sampled_from([d for d in DTYPES if d != "float32"]), pre=st.booleans())
def test_module_backward_hooks_returning_another_dtype_name_the_hook(dtype, pre):
    def module_hook(module, *grads):
        return (grads[0][0].to(getattr(gradlab, dtype)),)  # grad_input, or grad_output for a pre-hook
    with pytest.raises(RuntimeError, match="hook 'module_hook' has changed the type of value"):
        _module_backward(module_hook, pre=pre)


def test_a_module_backward_hook_returning_no_tensor_names_the_hook():
    def module_hook(module, grad_input, grad_output):
        return 5
    with pytest.raises(TypeError, match="expected Tensor, but hook 'module_hook' returned 'int'"):
        _module_backward(module_hook)
