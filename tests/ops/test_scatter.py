"""Writing by index (gradlab/ops/scatter.py) beyond its specs: a zero-dim index, put, second derivatives of
scatter_reduce and masked_scatter, and errors as PyTorch's."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradlab
from gradlab.autograd import gradcheck, gradgradcheck
from ops_helpers import arrays, needs_torch, raises_all, raises_as_torch, torch


def test_scatter_takes_a_zero_dim_index_of_a_vector_as_one_element():
    # transforms_tutorial.py's one-hot target: zeros(10).scatter_(0, tensor(y), value=1)
    assert gradlab.zeros(5).scatter_(0, gradlab.tensor(3), value=1).tolist() == [0, 0, 0, 1, 0]
    assert gradlab.zeros(3).scatter_add(0, gradlab.tensor(1), gradlab.tensor(2.0)).tolist() == [0, 2, 0]
    src = gradlab.tensor(5.0, requires_grad=True)
    base = gradlab.zeros(4, requires_grad=True)
    base.scatter(0, gradlab.tensor(2), src).sum().backward()
    assert base.grad.tolist() == [1, 1, 0, 1] and src.grad.shape == () and src.grad.item() == 1
    with pytest.raises(RuntimeError, match="scatter"):
        gradlab.zeros(2, 3).scatter(0, gradlab.tensor(1), 1.0)  # a matrix needs a 2-d index


# ---- put ----------------------------------------------------------------------------------------
@needs_torch
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


def test_second_derivatives_of_scatters():
    rng = np.random.default_rng(2)
    x = gradlab.from_numpy(rng.uniform(-2, 2, (3, 4))).requires_grad_()
    src = gradlab.from_numpy(rng.uniform(0.5, 2, (2, 4))).requires_grad_()
    index = gradlab.tensor([[0, 2, 1, 0], [2, 2, 0, 1]])
    for fn in (lambda a, s: a.scatter_reduce(0, index, s, "prod"),
               lambda a, s: a.scatter_reduce(0, index, s, "mean", include_self=False),
               lambda a, s: a.masked_scatter(a > 0, s)):
        assert gradgradcheck(fn, (x, src))


# ---- errors -------------------------------------------------------------------------------------------------
def test_errors_as_torch():
    x = gradlab.arange(12.0).reshape(3, 4)
    raises_all([
        (lambda: x.index_copy(0, gradlab.tensor([3]), gradlab.ones(1, 4)), IndexError, "out of bounds"),
        (lambda: x.index_copy(0, gradlab.tensor([1, 2]), gradlab.ones(2, 3)), RuntimeError, "same slice shapes"),
        (lambda: x.index_fill(1, gradlab.tensor([0]), gradlab.ones(1)), RuntimeError, "0-dimensional value tensor"),
        (lambda: x.index_put((gradlab.tensor([0]),), gradlab.tensor(1, dtype=gradlab.int64)), RuntimeError,
         "dtypes match"),
        (lambda: x.masked_scatter(x > 7, gradlab.ones(2)), RuntimeError, "Number of elements of source"),
        (lambda: x.masked_scatter(x, x), RuntimeError, "only supports boolean masks"),
        (lambda: x.scatter_reduce(0, gradlab.tensor([[0]]), x, "max"), RuntimeError, "reduce argument must be"),
        (lambda: x.scatter_reduce(0, gradlab.tensor([[3]]), x, "sum"), RuntimeError, "out of bounds"),
        (lambda: gradlab.select_scatter(x, gradlab.ones(3), 0, 1), RuntimeError, "expected src to have a size"),
    ])


@needs_torch
@pytest.mark.parametrize("call", [
    lambda lib: lib.ones(2, 3).scatter(0, lib.tensor([[0]]), lib.ones(1, 1, dtype=lib.int64)),  # gradlab cast src
    lambda lib: lib.ones(2, 3).scatter_add(0, lib.tensor([[0]]), lib.ones(1, 1, dtype=lib.float64)),
])
def test_bad_arguments_raise_as_torch(call):
    raises_as_torch(call)
