"""The engine: gradients, accumulation, diamonds, deep chains, backward() and autograd.grad options,
higher-order gradients."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
from gradlab import autograd

from autograd_helpers import assert_close, leaf


def test_module_tutorial_example():
    # PyTorch's autograd tutorial: d/dx dot(x*y, z) = y*z, and so on
    x = gradlab.tensor([1., 2., 3.], requires_grad=True)
    y = gradlab.tensor([3., 4., 5.], requires_grad=True)
    z = gradlab.tensor([4., 5., 6.], requires_grad=True)
    gradlab.dot(x * y, z).backward()
    assert x.grad.tolist() == [12., 20., 30.]
    assert y.grad.tolist() == [4., 10., 18.]
    assert z.grad.tolist() == [3., 8., 15.]
    assert x.grad.dtype == gradlab.float32 and not x.grad.requires_grad


def test_long_chain_backpropagates_without_recursion():
    x = gradlab.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1., 2.])
    (x * x).sum().backward()
    first = x.grad
    (x * 3).sum().backward()
    assert_close(x.grad, [5., 7.])
    assert x.grad is first  # accumulated in place, as PyTorch
    x.grad = None
    (x * 3).sum().backward()
    assert_close(x.grad, [3., 3.])


def test_first_gradient_is_a_private_copy():
    x = leaf([1., 2.])
    g = gradlab.tensor([1., 1.], dtype=gradlab.float64)
    x.backward(g)
    x.grad.add_(1)  # must not change g
    assert g.tolist() == [1., 1.]


def test_diamond_sums_gradients_before_the_shared_node_runs():
    x = leaf([1., 2.])
    m = x * 3
    seen = []
    m.register_hook(lambda g: seen.append(g.detach().numpy().copy()))
    y = m * m + m.sin() + m  # three paths through m
    y.sum().backward()
    assert len(seen) == 1  # m's backward ran once, with the full gradient
    m_val = np.array([3., 6.])
    assert_close(seen[0], 2 * m_val + np.cos(m_val) + 1)
    assert_close(x.grad, 3 * (2 * m_val + np.cos(m_val) + 1))


def test_same_input_twice():
    x = leaf([2., 3.])
    (x * x).sum().backward()
    assert_close(x.grad, [4., 6.])
    x.grad = None
    (x + x + x).sum().backward()
    assert_close(x.grad, [3., 3.])


def test_backward_with_gradient_argument():
    x = leaf([1., 2., 3.])
    y = x * x
    y.backward(gradlab.tensor([1., 0.5, 0.], dtype=gradlab.float64))
    assert_close(x.grad, [2., 2., 0.])


def test_backward_on_a_leaf():
    x = leaf([1., 2.])
    x.backward(gradlab.tensor([3., 4.], dtype=gradlab.float64))
    assert_close(x.grad, [3., 4.])


def test_backward_gradient_shape_mismatch_names_both_shapes():
    x = leaf([1., 2.])
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of "
                                           r"gradlab.Size\(\[3\]\) and output\[0\] has a shape of "
                                           r"gradlab.Size\(\[2\]\)"):
        (x * 2).backward(gradlab.ones(3))


def test_backward_gradient_of_another_dtype_is_cast():
    x = gradlab.ones(2, requires_grad=True)
    (x * 2).backward(gradlab.ones(2, dtype=gradlab.float64))
    assert x.grad.dtype == gradlab.float32 and x.grad.tolist() == [2., 2.]


def test_retain_graph_allows_a_second_backward():
    x = leaf([2.])
    y = (x ** 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert_close(x.grad, [8.])


def test_backward_inputs_accumulates_only_into_those():
    a, b = leaf(1.), leaf(2.)
    (a * b).backward(inputs=[a])
    assert a.grad.item() == 2.0 and b.grad is None
    (a * b).backward(inputs=b)
    assert b.grad.item() == 1.0 and a.grad.item() == 2.0


def test_backward_create_graph_makes_grad_differentiable():
    x = leaf([1., 2.])
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    g = x.grad
    x.grad = None
    g.sum().backward()  # d/dx sum(3x^2) = 6x
    assert_close(x.grad, [6., 12.])


# ---- autograd.grad ------------------------------------------------------------------------------

def test_grad_returns_gradients_and_leaves_dot_grad_alone():
    x, w = leaf([1., 2.]), leaf([3., 4.])
    gx, gw = autograd.grad((x * w).sum(), [x, w])
    assert_close(gx, [3., 4.])
    assert_close(gw, [1., 2.])
    assert x.grad is None and w.grad is None
    assert not gx.requires_grad


def test_grad_of_a_non_leaf_input():
    x = leaf([1., 2.])
    m = x * 2
    y = (m * m).sum()
    (gm,) = autograd.grad(y, m)
    assert_close(gm, [4., 8.])


class _Halves(autograd.Function):
    """One node with two outputs: the two halves of a vector."""

    @staticmethod
    def forward(ctx, x):
        n = x.shape[0] // 2
        return x[:n] * 1, x[n:] * 1

    @staticmethod
    def backward(ctx, g_top, g_bottom):
        return gradlab.cat([g_top, g_bottom])


def test_grad_of_one_output_of_a_multi_output_op():
    x = leaf([1., 2., 3., 4.])
    top, bottom = _Halves.apply(x)
    assert top.grad_fn is bottom.grad_fn
    y = (top * 2 + bottom * 5).sum()
    (gb,) = autograd.grad(y, bottom, retain_graph=True)
    (gt,) = autograd.grad(y, top, retain_graph=True)
    assert_close(gb, [5., 5.])
    assert_close(gt, [2., 2.])
    (gx,) = autograd.grad(y, x)
    assert_close(gx, [2., 2., 5., 5.])


def test_grad_allow_unused():
    a, b = leaf(1.), leaf(1.)
    with pytest.raises(RuntimeError, match="The differentiated Tensor at index 1 appears to not have been used"):
        autograd.grad(a * 2, [a, b])
    ga, gb = autograd.grad(a * 2, [a, b], allow_unused=True)
    assert ga.item() == 2.0 and gb is None
    ga, gb = autograd.grad(a * 2, [a, b], materialize_grads=True)
    assert gb.tolist() == 0.0


def test_grad_frees_the_graph_unless_retained():
    x = leaf([1., 2.])
    y = (x * x).sum()
    autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        autograd.grad(y, x)


def test_grad_skips_branches_that_do_not_lead_to_the_inputs():
    x, w = leaf([1.]), leaf([2.])
    calls = []

    class Loud(autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 1

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g

    y = (x * 3).sum() + Loud.apply(w).sum()
    (gx,) = autograd.grad(y, x)
    assert gx.item() == 3.0 and calls == []


def test_grad_with_respect_to_the_output_itself_runs_no_backward():
    x = leaf([1., 2.])
    y = x * 2
    (g,) = autograd.grad(y, y, grad_outputs=gradlab.ones(2, dtype=gradlab.float64))
    assert g.tolist() == [1., 1.]
    y.sum().backward()  # y's node was not run, so not freed
    assert_close(x.grad, [2., 2.])


def test_grad_of_input_that_does_not_require_grad():
    x = leaf([1.])
    with pytest.raises(RuntimeError, match="does not require grad"):
        autograd.grad((x * 2).sum(), gradlab.tensor([1.]))


def test_grad_outputs_must_require_grad():
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        autograd.grad(gradlab.ones(1).sum(), leaf([1.]))


# ---- higher-order gradients ------------------------------------------------------------------

def test_second_and_third_derivative_of_cube():
    x = leaf(2.0)
    (g1,) = autograd.grad(x ** 3, x, create_graph=True)
    (g2,) = autograd.grad(g1, x, create_graph=True)
    (g3,) = autograd.grad(g2, x)
    assert (g1.item(), g2.item(), g3.item()) == (12.0, 12.0, 6.0)


@given(st.floats(-3, 3))
def test_second_derivative_of_tanh(v):
    x = leaf(v)
    (g1,) = autograd.grad(x.tanh(), x, create_graph=True)
    (g2,) = autograd.grad(g1, x)
    t = math.tanh(v)
    assert g1.item() == pytest.approx(1 - t * t, abs=1e-12)
    assert g2.item() == pytest.approx(-2 * t * (1 - t * t), abs=1e-12)


def test_hessian_vector_product():
    # f(x) = sum(x^2 * w) -> H = diag(2w); Hv = 2 w v
    x, w = leaf([1., 2., 3.]), gradlab.tensor([1., 10., 100.], dtype=gradlab.float64)
    v = gradlab.tensor([1., 1., 2.], dtype=gradlab.float64)
    (g,) = autograd.grad((x * x * w).sum(), x, create_graph=True)
    (hv,) = autograd.grad(g, x, grad_outputs=v)
    assert_close(hv, [2., 20., 400.])


def test_mixed_second_derivative():
    x, y = leaf(1.5), leaf(-0.5)
    f = (x * x * y).sin()
    (gx,) = autograd.grad(f, x, create_graph=True)
    (gxy,) = autograd.grad(gx, y)
    u = 1.5 * 1.5 * -0.5
    # d/dy [cos(x^2 y) 2xy] = -sin(x^2 y) x^2 * 2xy + cos(x^2 y) 2x
    expected = -math.sin(u) * 1.5 ** 2 * 2 * 1.5 * -0.5 + math.cos(u) * 2 * 1.5
    assert gxy.item() == pytest.approx(expected, rel=1e-12)


def test_cross_check_higher_order_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    data = rng.standard_normal(5)

    def second(lib, x):
        y = ((x * x).sigmoid() * x.exp() / (1 + x * x)).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        return g, h

    gg, gh = second(gradlab, gradlab.tensor(data, requires_grad=True))
    tg, th = second(torch, torch.tensor(data, requires_grad=True))
    assert_close(gg, tg, rtol=1e-10)
    assert_close(gh, th, rtol=1e-10)
