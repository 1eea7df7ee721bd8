"""The reductions and scans (gradlab/ops/reduce.py) beyond their specs: cumprod's gradient where the input has
zeros, prod's second derivative, logsumexp of empty slices and integers, renorm, named-tuple results, out= and
errors.

cumprod's backward has three paths: no zeros (a reversed cumulative sum
divided by x), zeros in a plain backward (array ops that never divide by
zero) and zeros under create_graph (Tensor ops, differentiable again).  Each
is checked by finite differences here and against PyTorch where it is
installed; the op factory (op spec ``cumprod_with_zeros``) covers random inputs.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradlab
from gradlab.autograd import gradcheck, gradgradcheck
from ops_helpers import arrays, needs_torch, pair, raises_all, raises_with, same, torch

ZERO_CASES = [
    ([2.0, 0.0, 3.0, 0.0, 5.0], 0),          # two zeros: the gradient stops at the first
    ([0.0, 1.5, -2.0], 0),                    # a zero first
    ([1.5, -2.0, 0.0], 0),                    # a zero last
    ([0.0, 0.0, 0.0], 0),                     # only zeros
    ([[1.0, 0.0, 2.0], [0.0, 3.0, 0.5]], 1),  # zeros in different places per row
    ([[1.0, 0.0, 2.0], [0.0, 3.0, 0.5]], 0),
    ([[[0.5, 0.0], [2.0, -1.0]], [[0.0, 0.0], [1.5, 2.0]]], -1),
]


def _x(values):
    return gradlab.tensor(values, dtype=gradlab.float64, requires_grad=True)


@pytest.mark.parametrize("values, dim", ZERO_CASES)
def test_cumprod_gradient_with_zeros(values, dim):
    x = _x(values)
    assert gradcheck(lambda t: t.cumprod(dim), (x,))
    assert gradgradcheck(lambda t: t.cumprod(dim), (x,))


def test_cumprod_gradient_with_zeros_by_hand():
    # y = [2, 0, 0, 0, 0]: x_0 only reaches y_0 (x_1 = 0 blocks the rest); x_1 reaches every y_k, k >= 1,
    # with the factors after it: 2 * (g_1 + 3 g_2 + 3 * 0 * g_3 + ...) = 2 * (1 + 3) for g = 1;
    # every x after the first zero gets 0
    x = _x([2.0, 0.0, 3.0, 0.0, 5.0])
    x.cumprod(0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 8.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("values, dim", ZERO_CASES + [([1.5, -0.5, 2.0, 0.25], 0)])
def test_cumprod_gradient_paths_agree_with_torch(values, dim, create_graph):
    if torch is None:
        pytest.skip("torch is not installed")
    x = _x(values)
    g = np.random.default_rng(1).uniform(-2, 2, x.shape)
    (ours,) = gradlab.autograd.grad(x.cumprod(dim), x, gradlab.from_numpy(g), create_graph=create_graph)
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    (theirs,) = torch.autograd.grad(tx.cumprod(dim), tx, torch.from_numpy(g))
    np.testing.assert_allclose(ours.detach().numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)


def test_cumprod_forward_dtypes_and_edges():
    x = gradlab.tensor([[1, 2, 3], [4, 5, 6]], dtype=gradlab.int32)
    assert x.cumprod(1).dtype == gradlab.int64  # integers accumulate in int64, as PyTorch
    assert x.cumprod(1).tolist() == [[1, 2, 6], [4, 20, 120]]
    assert gradlab.cumprod(x, 0, dtype=gradlab.float32).dtype == gradlab.float32
    s = _x(3.0)
    y = s.cumprod(0)
    assert y.shape == () and y.item() == 3.0 and y.grad_fn.name() == "CumprodBackward0"
    y.backward()
    assert s.grad.item() == 1.0
    with pytest.raises(IndexError, match="cumprod"):
        x.cumprod(2)


def test_cumsum_and_cumprod_methods_and_functions():
    x = _x([[0.5, 2.0], [3.0, -1.0]])
    np.testing.assert_array_equal(gradlab.cumprod(x, 1).detach().numpy(), [[0.5, 1.0], [3.0, -3.0]])
    np.testing.assert_array_equal(x.cumsum(0).detach().numpy(), gradlab.cumsum(x, 0).detach().numpy())


def test_prod_differentiates_twice_where_the_input_holds_zeros():
    """With zeros, prod's gradient is built from exclusive cumulative products; it used to be a constant."""
    x = gradlab.tensor(np.array([[0.0, 2.0, 3.0, 0.0], [1.0, 0.0, 2.0, 3.0], [1.5, 2.0, 3.0, 4.0]]),
                       requires_grad=True)
    for reduce in (lambda t: t.prod(1), lambda t: t.prod(0, keepdim=True), lambda t: t.prod(-1), lambda t: t.prod()):
        assert gradgradcheck(reduce, (x,))


def test_second_derivatives_of_scans():
    x = gradlab.from_numpy(np.random.default_rng(2).uniform(-2, 2, (3, 4))).requires_grad_()
    for fn in (lambda a: a.logcumsumexp(1), lambda a: a.cummax(0).values,
               lambda a: gradlab.dist(a, gradlab.full((4,), 0.1, dtype=gradlab.float64), 3)):
        assert gradgradcheck(fn, (x,))


@needs_torch
@pytest.mark.parametrize("shape, dim", [((0,), 0), ((2, 0), 1), ((0, 3), 0), ((0, 3), 1)])
def test_logsumexp_of_empty_slices_is_minus_inf(shape, dim):
    ours, theirs = gradlab.zeros(*shape).logsumexp(dim), torch.zeros(*shape).logsumexp(dim)
    same(ours, theirs)


@needs_torch
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_logsumexp_of_integers_is_in_the_default_float_dtype(dtype):
    g, t = pair([[1, 0, 1], [0, 0, 1]], dtype=dtype)
    same(g.logsumexp(1), t.logsumexp(1))


def test_results_are_named_tuples_as_torch():
    x = gradlab.tensor([[3.0, 1.0, 2.0]])
    assert gradlab.aminmax(x).min.item() == 1.0 and x.aminmax().max.item() == 3.0
    for name in ("cummax", "cummin"):
        result = getattr(x, name)(1)
        assert type(result).__name__ == name and result.values is result[0] and result.indices is result[1]


def test_module_functions_take_out_and_keywords():
    x = gradlab.tensor([[1.0, 5.0], [3.0, 2.0]])
    values, indices = gradlab.empty(0), gradlab.empty(0, dtype=gradlab.int64)
    gradlab.cummax(x, 1, out=(values, indices))
    assert values.tolist() == [[1.0, 5.0], [3.0, 3.0]] and indices.tolist() == [[0, 1], [0, 0]]
    assert gradlab.dist(input=x, other=x * 0).item() == pytest.approx(float(np.sqrt(39.0)))
    assert gradlab.kron(input=x, other=gradlab.ones(1, 2)).shape == (2, 4)


# ---- renorm -------------------------------------------------------------------------------------
@needs_torch
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


@needs_torch
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


# ---- errors ---------------------------------------------------------------------------------------
def test_errors_as_torch():
    x = gradlab.arange(12.0).reshape(3, 4)
    raises_all([
        (lambda: gradlab.aminmax(gradlab.ones(0)), RuntimeError, "cannot compute aminmax over an empty dimension"),
        (lambda: gradlab.logcumsumexp(gradlab.tensor([1, 2]), 0), RuntimeError, "floating point"),
        (lambda: gradlab.dist(gradlab.tensor([1]), gradlab.tensor([2])), RuntimeError, "floating point"),
    ])
    raises_with(lambda: x.sum(2), IndexError, "sum", "range", "2")
    raises_with(lambda: x.sum((0, 0)), RuntimeError, "sum", "multiple times")
    raises_with(lambda: gradlab.tensor([1, 2]).mean(), RuntimeError, "mean", "int64")
