"""User-defined ops: autograd.Function with ctx, saved tensors, needs_input_grad, mark_dirty,
multiple outputs, non-tensor arguments, and the checks PyTorch makes on what backward returns."""
import numpy as np
import pytest

import gradlab
from gradlab import autograd

from autograd_helpers import assert_close, leaf


class ScaledMul(autograd.Function):
    """x * y * k with a float k: tensors and a non-tensor argument."""

    @staticmethod
    def forward(ctx, x, k, y):
        ctx.k = k
        ctx.save_for_backward(x, y)
        ctx.seen_needs = ctx.needs_input_grad
        return x * y * k

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = g * y * ctx.k if ctx.needs_input_grad[0] else None
        gy = g * x * ctx.k if ctx.needs_input_grad[2] else None
        return gx, None, gy


def test_apply_records_one_node_named_after_the_class():
    x, y = leaf([1., 2.]), gradlab.tensor([3., 4.], dtype=gradlab.float64)
    out = ScaledMul.apply(x, 2.0, y)
    assert out.grad_fn.name() == "ScaledMulBackward"
    assert out.tolist() == [6., 16.]
    out.sum().backward()
    assert_close(x.grad, [6., 8.])


def test_needs_input_grad_follows_the_arguments():
    x, y = leaf([1.]), gradlab.tensor([3.], dtype=gradlab.float64)
    seen = []

    class Probe(autograd.Function):
        @staticmethod
        def forward(ctx, a, k, b):
            seen.append(ctx.needs_input_grad)
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    Probe.apply(x, 2.0, y)
    Probe.apply(y, 2.0, x)
    assert seen == [(True, False, False), (False, False, True)]


def test_forward_runs_without_recording():
    inner_recorded = []

    class Inner(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            inner_recorded.append(y.requires_grad)
            return y

        @staticmethod
        def backward(ctx, g):
            return g * 2
    x = leaf([1.])
    out = Inner.apply(x)
    assert inner_recorded == [False]
    assert out.grad_fn.name() == "InnerBackward"
    assert out.grad_fn.next_functions[0][0].variable is x


def test_no_node_when_no_input_requires_grad_or_under_no_grad():
    y = ScaledMul.apply(gradlab.ones(2), 2.0, gradlab.ones(2))
    assert y.grad_fn is None and not y.requires_grad
    with gradlab.no_grad():
        y = ScaledMul.apply(leaf([1.]), 2.0, leaf([1.]))
    assert y.grad_fn is None


class Split3(autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 1, x * 2, x * 3

    @staticmethod
    def backward(ctx, g1, g2, g3):
        return g1 + 2 * g2 + 3 * g3


def test_multiple_outputs_share_one_node():
    x = leaf([1., 2.])
    a, b, c = Split3.apply(x)
    assert a.grad_fn is b.grad_fn is c.grad_fn
    (a.sum() + c.sum()).backward()  # b unused: its gradient is materialised as zeros
    assert_close(x.grad, [4., 4.])


def test_set_materialize_grads_false_passes_none():
    seen = []

    class Two(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            seen.append(g2)
            return g1 * 2

    x = leaf([1.])
    a, _ = Two.apply(x)
    a.sum().backward()
    assert seen == [None] and x.grad.tolist() == [2.]


def test_mark_non_differentiable():
    class MaxWithIndex(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            i = x.argmax()
            ctx.mark_non_differentiable(i)
            ctx.save_for_backward(x, i)
            return x.max(), i

        @staticmethod
        def backward(ctx, g_value, g_index):
            x, i = ctx.saved_tensors
            grad = gradlab.zeros_like(x)
            grad[i] = g_value
            return grad

    x = leaf([1., 3., 2.])
    value, index = MaxWithIndex.apply(x)
    assert value.requires_grad and not index.requires_grad
    value.backward()
    assert_close(x.grad, [0., 1., 0.])


def test_mark_dirty_in_place_function():
    class AddOne_(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    x = leaf([1., 2.])
    y = x * 1
    v0 = y._version
    z = AddOne_.apply(y)
    assert z is y and y._version > v0
    assert z.grad_fn.name() == "AddOne_Backward"
    (z * z).sum().backward()
    assert_close(x.grad, [4., 6.])
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        AddOne_.apply(leaf([1.]))


def test_returning_an_input_unchanged_gives_a_new_graph_tensor():
    class Ident(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    x = leaf([1., 2.])
    y = Ident.apply(x)
    assert y is not x and y.grad_fn is not None and x.grad_fn is None
    y.sum().backward()
    assert_close(x.grad, [5., 5.])


def test_saved_tensors_are_version_checked():
    class Square(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * g * x

    x = leaf([1., 2.])
    h = x * 1
    out = Square.apply(h)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*SquareBackward"):
        out.sum().backward()


def test_saved_output_is_version_checked():
    class Exp(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            out = x.exp()
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved_tensors
            return g * out

    x = leaf([0., 1.])
    y = Exp.apply(x)
    y.sum().backward(retain_graph=True)
    assert_close(x.grad, np.exp([0., 1.]))
    with gradlab.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saved_tensors_after_backward_are_freed():
    class Keep(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = leaf([1.])
    y = Keep.apply(x)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()


def test_save_for_backward_rejects_non_tensors():
    class Bad(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3.0)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(TypeError, match="save_for_backward can only save tensors"):
        Bad.apply(leaf([1.]))


def test_wrong_number_of_gradients():
    class TooFew(autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match=r"TooFewBackward returned an incorrect number of gradients "
                                           r"\(expected 2, got 1\)"):
        TooFew.apply(leaf([1.]), leaf([1.])).sum().backward()


def test_gradient_of_the_wrong_shape_names_the_function_and_shapes():
    class BadShape(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return gradlab.ones(3, dtype=gradlab.float64)

    with pytest.raises(RuntimeError, match=r"Function BadShapeBackward returned an invalid gradient at index 0 "
                                           r"- got \[3\] but expected shape compatible with \[2\]"):
        BadShape.apply(leaf([1., 2.])).sum().backward()


def test_broadcast_gradient_is_summed_to_the_input_shape():
    class Wide(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return g * gradlab.ones(3, 2, dtype=gradlab.float64)  # shape (3, 2) for an input of shape (2,)

    x = leaf([1., 2.])
    Wide.apply(x).backward()
    assert_close(x.grad, [3., 3.])


def test_setup_context_style():
    class Scale(autograd.Function):
        @staticmethod
        def forward(x, k):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    x = leaf([1., 2.])
    Scale.apply(x, 3.0).sum().backward()
    assert_close(x.grad, [3., 3.])


def test_double_backward_through_a_function_with_tensor_op_backward():
    class Cube(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * g * x ** 2

    x = leaf(2.0)
    (g,) = autograd.grad(Cube.apply(x), x, create_graph=True)
    (h,) = autograd.grad(g, x)
    assert (g.item(), h.item()) == (12.0, 12.0)


def test_cross_check_function_with_torch():
    torch = pytest.importorskip("torch")

    def build(lib):
        class Clip(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, lo, hi):
                ctx.save_for_backward(x)
                ctx.lo, ctx.hi = lo, hi
                return x.clamp(lo, hi)

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                inside = ((x >= ctx.lo) & (x <= ctx.hi)).to(g.dtype)
                return g * inside, None, None
        x = lib.tensor([-2., -0.5, 0.3, 4.], dtype=lib.float64, requires_grad=True)
        y = Clip.apply(x * 2, -1.0, 1.0)
        (y * y).sum().backward()
        return y, x.grad

    for mine, theirs in zip(build(gradlab), build(torch)):
        assert_close(mine, theirs)


def test_once_differentiable_refuses_a_second_derivative():
    class Sq(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            assert not gradlab.is_grad_enabled()  # runs under no_grad
            return 2 * g * x

    x = leaf([1., 2.])
    Sq.apply(x).sum().backward()
    assert_close(x.grad, [2., 4.])
    v = leaf([1., 1.])
    (g,) = autograd.grad(Sq.apply(x), x, grad_outputs=v, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice a function that was marked with "
                                           "@once_differentiable"):
        autograd.grad(g.sum(), v)
