"""gradcheck / gradgradcheck: they pass correct backwards and catch wrong ones (full and fast mode)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradlab
from gradlab import autograd
from gradlab.autograd import gradcheck, gradgradcheck
from gradlab.autograd.gradcheck import GradcheckError


def randn(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return gradlab.tensor(rng.standard_normal(shape), requires_grad=True)


class GoodSquare(autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * g * x


class WrongSquare(autograd.Function):
    """d(x^2)/dx claimed to be 3x: a deliberately wrong backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * g * x


class OffByOneElement(autograd.Function):
    """Right everywhere except the gradient of element 0: a subtle bug only a full Jacobian check sees."""

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        bump = np.zeros(g.shape)
        bump.reshape(-1)[0] = 0.5
        return g * 2 + gradlab.tensor(bump)


class DetachedBackward(autograd.Function):
    """First derivative right, but computed outside the graph: its second derivative is wrong (zero)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (3 * x.detach() ** 2)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_correct_backwards_pass(fast_mode):
    x, y = randn(3, 4), randn(4, seed=1)
    assert gradcheck(GoodSquare.apply, (x,), fast_mode=fast_mode)
    assert gradcheck(lambda a, b: (a * b).tanh() / (1 + b.exp()), (x, y), fast_mode=fast_mode)
    assert gradcheck(lambda a: a.sum(1, keepdim=True) * a, (x,), fast_mode=fast_mode)
    assert gradcheck(lambda a, b: a @ b, (x, randn(4, 2, seed=2)), fast_mode=fast_mode)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_wrong_backward_fails(fast_mode):
    x = randn(5)
    assert gradcheck(WrongSquare.apply, (x,), raise_exception=False, fast_mode=fast_mode) is False
    with pytest.raises(GradcheckError):
        gradcheck(WrongSquare.apply, (x,), fast_mode=fast_mode)


def test_full_mode_reports_the_mismatch():
    with pytest.raises(GradcheckError, match=r"Jacobian mismatch for output 0 with respect to input 0"):
        gradcheck(OffByOneElement.apply, (randn(2, 3),))


def test_fast_mode_catches_a_single_wrong_element():
    assert not gradcheck(OffByOneElement.apply, (randn(2, 3),), fast_mode=True, raise_exception=False)


def test_gradgradcheck_passes_and_fails():
    x = randn(4)
    assert gradgradcheck(lambda a: (a ** 3).tanh(), (x,))
    assert gradgradcheck(GoodSquare.apply, (x,))
    assert gradcheck(DetachedBackward.apply, (x,))  # first derivative is fine ...
    assert not gradgradcheck(DetachedBackward.apply, (x,), raise_exception=False)  # ... second is not
    assert not gradgradcheck(DetachedBackward.apply, (x,), raise_exception=False, fast_mode=True)


def test_gradcheck_leaves_inputs_unchanged():
    x = randn(3)
    before = x.detach().numpy().copy()
    gradcheck(lambda a: a.exp(), (x,))
    gradcheck(lambda a: a.exp(), (x,), fast_mode=True)
    assert np.array_equal(x.detach().numpy(), before)
    assert x.grad is None


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(lambda a: a * 2, (gradlab.ones(2, dtype=gradlab.float64),))


def test_gradcheck_warns_about_low_precision():
    with pytest.warns(UserWarning, match="not float64"):
        gradcheck(lambda a: a * 2, (gradlab.ones(2, requires_grad=True),), eps=1e-3, atol=1e-2, rtol=1e-2)


def test_non_differentiable_arguments_are_skipped():
    x = randn(3)
    w = gradlab.tensor([1., 2., 3.], dtype=gradlab.float64)  # no grad
    assert gradcheck(lambda a, b, k: (a * b) ** k, (x, w, 2))


@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.sampled_from(["tanh", "sigmoid", "exp", "sin"]),
       st.booleans())
def test_random_shapes_of_composite_functions(shape, unary, fast_mode):
    x = randn(*shape)
    b = randn(shape[-1], seed=3)  # broadcast along the last axis

    def f(a, c):
        return getattr(a * c + c, unary)().sum(-1)
    assert gradcheck(f, (x, b), fast_mode=fast_mode)


def test_cross_check_verdicts_with_torch_gradcheck():
    torch = pytest.importorskip("torch")

    def make(lib, factor):
        class Sq(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return factor * g * x
        return Sq.apply

    data = np.random.default_rng(0).standard_normal(4)
    for factor in (2, 3):
        for fast in (False, True):
            ours = gradcheck(make(gradlab, factor), (gradlab.tensor(data, requires_grad=True),),
                             raise_exception=False, fast_mode=fast)
            theirs = torch.autograd.gradcheck(make(torch, factor), (torch.tensor(data, requires_grad=True),),
                                              raise_exception=False, fast_mode=fast)
            assert ours == theirs == (factor == 2)


_UNARY = [lambda a: a.tanh(), lambda a: a.sigmoid(), lambda a: a.sin(), lambda a: a * 0.5 + 1,
          lambda a: a.sum(-1, keepdim=True), lambda a: a.exp() / (1 + a * a)]
_BINARY = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / (b * b + 1)]


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5), st.integers(0, 20), st.integers(0, 20)),
                min_size=1, max_size=8))
def test_random_graphs_with_shared_nodes_pass_gradcheck(steps):
    """Random DAGs (values reused, so nodes with several consumers) against central differences."""
    def program(a, b, c):
        pool = [a, b, c]
        for unary, op, i, j in steps:
            x, y = pool[i % len(pool)], pool[j % len(pool)]
            pool.append(_UNARY[op % len(_UNARY)](x) if unary else _BINARY[op % len(_BINARY)](x, y))
        return pool[-1] * pool[-2] + pool[-1]
    inputs = (randn(2, 3, seed=1), randn(3, seed=2), randn(2, 1, seed=3))
    assert gradcheck(program, inputs)
