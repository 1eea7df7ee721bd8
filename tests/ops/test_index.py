"""Reading by index (gradlab/ops/index.py) beyond its specs: take_along_dim's broadcasting, bincount,
searchsorted / bucketize, one_hot, the second derivative of take, and errors as PyTorch's."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
from gradlab.autograd import gradgradcheck
from gradlab.ops.index import one_hot
from gradlab.testing import shapes, tensors
from ops_helpers import needs_torch, pair, raises_all, raises_as_torch, raises_with, same, torch


@needs_torch
@pytest.mark.parametrize("x_shape, index, dim", [
    ((3, 4), [[0, 2]], 1),             # the index broadcasts over the rows
    ((3, 1), [[0], [0], [0]], 0),
    ((1, 4), [[0, 3], [1, 1], [2, 0]], 1),  # the input broadcasts over the index's rows
    ((3, 4), [0, 5, 11, 5], None),     # None: the flattened input
])
def test_take_along_dim_broadcasts_as_torch(x_shape, index, dim):
    values = np.random.default_rng(0).standard_normal(x_shape)
    g, t = pair(values, requires_grad=True)
    ours = gradlab.take_along_dim(g, gradlab.tensor(index), dim)
    theirs = torch.take_along_dim(t, torch.tensor(index), dim)
    same(ours, theirs)
    weights = np.arange(1.0, 1.0 + theirs.numel()).reshape(tuple(theirs.shape))
    (ours * gradlab.from_numpy(weights)).sum().backward()
    (theirs * torch.from_numpy(weights)).sum().backward()
    same(g.grad, t.grad)
    same(g.take_along_dim(gradlab.tensor(index), dim), theirs)


@needs_torch
@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 6), max_size=8), st.integers(0, 9), st.sampled_from([None, "float32", "float64",
                                                                                     "int64"]))
def test_bincount_matches_torch(values, minlength, weights_dtype):
    g, t = pair(values, "int64")
    if weights_dtype is None:
        same(gradlab.bincount(g, minlength=minlength), torch.bincount(t, minlength=minlength))
        return
    wg, wt = pair(np.arange(len(values)) * 0.5 + 1, weights_dtype)
    same(g.bincount(wg, minlength), t.bincount(wt, minlength))


@needs_torch
def test_searchsorted_sorter_scalar_and_int32():
    s, st_ = pair([5.0, 1.0, 3.0])
    v, vt = pair([3.0, 4.0, 0.0])
    order, order_t = pair([1, 2, 0], "int64")
    same(gradlab.searchsorted(s, v, sorter=order), torch.searchsorted(st_, vt, sorter=order_t))
    same(gradlab.searchsorted(s.sort().values, 3.0, right=True), torch.searchsorted(st_.sort().values, 3.0,
                                                                                     right=True))
    same(gradlab.bucketize(v, s.sort().values, out_int32=True), torch.bucketize(vt, st_.sort().values,
                                                                                out_int32=True))


@given(labels=tensors(dtype="int64", shape=shapes(max_dims=3), min_value=0, max_value=6),
       extra=st.integers(0, 3))
def test_one_hot_rows(labels, extra):
    n = (labels.max().item() + 1 if labels.numel() else 0) + extra
    out = one_hot(labels, n)
    assert out.dtype == gradlab.int64 and out.shape == labels.shape + (n,)
    if labels.numel():
        assert (out.sum(-1) == 1).all().item()
        assert gradlab.equal(out.argmax(-1), labels)
        assert one_hot(labels).shape[-1] == labels.max().item() + 1


def test_second_derivative_of_take():
    x = gradlab.from_numpy(np.random.default_rng(2).uniform(-2, 2, (3, 4))).requires_grad_()
    assert gradgradcheck(lambda a: a.take(gradlab.tensor([[0, -1], [5, 5]])), (x,))


# ---- errors -------------------------------------------------------------------------------------------------
def test_index_helpers_errors():
    with pytest.raises(RuntimeError, match="1-d non-negative integral"):
        gradlab.bincount(gradlab.tensor([-1, 2]))
    with pytest.raises(RuntimeError, match="weights should be 1-d and have the same length"):
        gradlab.bincount(gradlab.tensor([1, 2]), gradlab.ones(3))
    with pytest.raises(TypeError, match="expected 'indices' to be integer dtype"):
        gradlab.unravel_index(gradlab.tensor([1.0]), (2, 3))
    with pytest.raises(RuntimeError, match="row must be non-negative"):
        gradlab.tril_indices(-1, 3)
    with pytest.raises(RuntimeError, match="boundaries tensor must be 1 dimension"):
        gradlab.bucketize(gradlab.tensor([1.0]), gradlab.ones(2, 2))
    with pytest.raises(RuntimeError, match="side and right can't be set to opposites"):
        gradlab.searchsorted(gradlab.tensor([1.0, 3.0]), gradlab.tensor([1.0]), right=True, side="left")
    with pytest.raises(RuntimeError, match="first N-1 dimensions"):
        gradlab.searchsorted(gradlab.ones(1, 2), gradlab.ones(2, 1))
    with pytest.raises(RuntimeError, match="range of \\[nan, nan\\] is not finite|not finite"):
        gradlab.histc(gradlab.tensor([1.0, float("nan")]))
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        gradlab.histc(gradlab.tensor([1.0]), bins=2, min=3, max=1)


def test_errors_as_torch():
    x = gradlab.arange(12.0).reshape(3, 4)
    raises_all([
        (lambda: x.take(gradlab.tensor([12])), IndexError, "tried to access index 12 on a tensor of 12"),
        (lambda: x.take(gradlab.tensor([1], dtype=gradlab.int32)), RuntimeError, "Expected a long tensor for index"),
    ])


def test_index_errors():
    x = gradlab.ones(2, 3)
    raises_with(lambda: x[5], IndexError, "5", "[2, 3]")
    raises_with(lambda: x[gradlab.tensor([0, 7])], IndexError, "[2, 3]")
    raises_with(lambda: one_hot(gradlab.tensor([0.0, 1.0])), RuntimeError, "one_hot", "int64")
    raises_with(lambda: one_hot(gradlab.tensor([0, 5]), 3), RuntimeError, "one_hot", "3")


@needs_torch
@pytest.mark.parametrize("call", [
    lambda lib: lib.ones(2, 3).index_select(0, lib.tensor([[0]])),  # gradlab flattened the index
    lambda lib: lib.ones(2, 3).gather(1, lib.zeros(3, 1, dtype=lib.int64)),  # NumPy's broadcasting message
])
def test_bad_arguments_raise_as_torch(call):
    raises_as_torch(call)
