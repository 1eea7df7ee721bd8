"""The shape ops and views (gradlab/ops/shape.py) beyond their specs: in-place shape changes (t_, transpose_,
squeeze_, as_strided_, resize_), storage facts, as_strided over views, flip, narrow, unravel_index, and errors
as PyTorch's."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradlab
from gradlab.autograd import gradgradcheck
from ops_helpers import grad_fn_name, needs_torch, pair, raises_all, raises_as_torch, raises_with, same, torch


# ---- in-place shape changes -------------------------------------------------------------------------------
INPLACE_SHAPE_CASES = {
    "t_": ((3, 4), lambda y: y.t_()),
    "transpose_": ((2, 3, 4), lambda y: y.transpose_(0, 2)),
    "swapaxes_": ((2, 3, 4), lambda y: y.swapaxes_(-1, 1)),
    "swapdims_": ((2, 3), lambda y: y.swapdims_(0, 1)),
    "squeeze_()": ((1, 3, 1, 2), lambda y: y.squeeze_()),
    "squeeze_(dim)": ((3, 1, 2), lambda y: y.squeeze_(1)),
    "squeeze_(dims)": ((1, 3, 1), lambda y: y.squeeze_((0, 2))),
    "unsqueeze_": ((3, 2), lambda y: y.unsqueeze_(-1)),
    "as_strided_": ((3, 4), lambda y: y.as_strided_((2, 3), (1, 2), 1)),
}


@needs_torch
@pytest.mark.parametrize("case", sorted(INPLACE_SHAPE_CASES))
def test_inplace_shape_change_matches_torch(case):
    """Same object, new shape, one version bump, PyTorch's node, and PyTorch's gradient through it."""
    shape, change = INPLACE_SHAPE_CASES[case]
    values = np.random.default_rng(0).normal(size=shape)
    results = {}
    for lib in (gradlab, torch):
        leaf = lib.from_numpy(values.copy()).requires_grad_()
        y = leaf * 2
        before = y._version
        out = change(y)
        assert out is y
        weights = lib.from_numpy(np.arange(y.numel(), dtype=np.float64).reshape(tuple(y.shape)))
        (y * weights).sum().backward()
        results[lib] = (tuple(y.shape), y._version - before, grad_fn_name(y), leaf.grad.numpy(), y.stride(),
                        y.detach().numpy())
    ours, theirs = results[gradlab], results[torch]
    assert ours[:3] == theirs[:3]
    assert ours[4] == theirs[4]  # the strides of the new geometry (in elements)
    np.testing.assert_allclose(ours[5], theirs[5])
    np.testing.assert_allclose(ours[3], theirs[3])


def test_inplace_shape_change_of_a_leaf():
    leaf = gradlab.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.t_()
    with gradlab.no_grad():
        assert leaf.t_() is leaf  # allowed without grad mode, as in PyTorch
    assert leaf.shape == (3, 2) and leaf.requires_grad and leaf.grad_fn is None
    plain = gradlab.zeros(2, 3)
    plain.unsqueeze_(0)
    assert plain.shape == (1, 2, 3) and plain._version == 1


def test_inplace_shape_change_keeps_memory_and_makes_saved_values_stale():
    x = gradlab.arange(6.0).reshape(2, 3)
    alias = x.data  # shares memory, keeps its own shape (as PyTorch's .data)
    x.t_()
    x[0, 1] = 100.0
    assert alias[1, 0].item() == 100.0 and alias.shape == (2, 3)
    w = gradlab.ones(2, 3, requires_grad=True)
    y = w * 1
    z = (y * y).sum()  # mul saves y
    y.t_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


@needs_torch
def test_inplace_shape_change_of_a_view_routes_later_writes_to_the_base():
    for lib in (gradlab, torch):
        w = lib.from_numpy(np.arange(12.0).reshape(3, 4)).requires_grad_()
        base = w * 1
        view = base[1:]
        view.t_()
        view.mul_(lib.from_numpy(np.arange(8.0).reshape(4, 2)))
        base.sum().backward()
        if lib is gradlab:
            ours = (base.detach().numpy().copy(), w.grad.numpy().copy(), tuple(view.shape))
        else:
            theirs = (base.detach().numpy(), w.grad.numpy(), tuple(view.shape))
    np.testing.assert_allclose(ours[0], theirs[0])
    np.testing.assert_allclose(ours[1], theirs[1])
    assert ours[2] == theirs[2]


@needs_torch
def test_views_of_a_base_follow_its_inplace_shape_change():
    for lib in (gradlab, torch):
        w = lib.from_numpy(np.arange(6.0).reshape(2, 3)).requires_grad_()
        base = w * 1
        row = base[0]
        base.t_()
        row.mul_(10)  # the row is still row 0 of the (old) base: column 0 now
        (base * lib.from_numpy(np.arange(6.0).reshape(3, 2))).sum().backward()
        result = (base.detach().numpy().copy(), w.grad.numpy().copy())
        if lib is gradlab:
            ours = result
        else:
            theirs = result
    np.testing.assert_allclose(ours[0], theirs[0])
    np.testing.assert_allclose(ours[1], theirs[1])


def test_inplace_shape_change_errors():
    with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions"):
        gradlab.zeros(2, 2, 2).t_()
    with pytest.raises(IndexError, match="Dimension out of range"):
        gradlab.zeros(2, 2).transpose_(0, 2)
    with pytest.raises(RuntimeError, match="out of bounds for storage"):
        gradlab.zeros(2, 2).as_strided_((3, 3), (1, 1))


# ---- resize_ ------------------------------------------------------------------------------------
@needs_torch
@settings(max_examples=30, deadline=None)
@given(old=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4, min_side=0),
       new=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4, min_side=0))
def test_resize_keeps_data_in_order(old, new):
    x = np.arange(float(np.prod(old))).reshape(old)
    g, t = gradlab.tensor(x), torch.tensor(x)
    assert g.resize_(new) is g
    t.resize_(new)
    assert g.shape == t.shape
    kept = min(x.size, int(np.prod(new)))
    np.testing.assert_array_equal(g.numpy().reshape(-1)[:kept], t.numpy().reshape(-1)[:kept])
    assert not g.numpy().reshape(-1)[kept:].any()  # the new elements: zeros (uninitialised in PyTorch)


def test_resize_refuses_grad_and_bumps_version():
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        gradlab.ones(2, requires_grad=True).resize_(3)
    x = gradlab.arange(6.0)
    before = x._version
    x.resize_(2, 2)
    assert x._version > before and x.tolist() == [[0.0, 1.0], [2.0, 3.0]]
    with pytest.raises(RuntimeError, match="negative dimension"):
        x.resize_(-1)


# ---- storage facts ------------------------------------------------------------------------------------------
@needs_torch
def test_storage_offset_nbytes_itemsize_is_complex():
    for lib in (gradlab, torch):
        x = lib.arange(12.0).reshape(3, 4)
        facts = [(v.storage_offset(), v.nbytes, v.itemsize, v.is_complex())
                 for v in (x, x[1], x[:, 2], x[1:, ::2], x.t()[2], x.expand(2, 3, 4), x.double()[2, 3:])]
        if lib is gradlab:
            ours = facts
        else:
            theirs = facts
    assert ours == theirs


@needs_torch
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_as_strided_of_views_reads_the_shared_storage(data):
    """as_strided counts from the start of the storage, also on a view that starts further in."""
    start = data.draw(st.integers(0, 5))
    size = data.draw(st.integers(1, 3))
    offset = data.draw(st.one_of(st.none(), st.integers(0, 12 - size)))
    results = []
    for lib in (gradlab, torch):
        base = lib.from_numpy(np.arange(12.0)).requires_grad_()
        view = (base * 1)[start:]
        out = view.as_strided((size,), (1,), offset)
        out.backward(lib.from_numpy(np.arange(1.0, size + 1)))
        results.append((out.detach().numpy().copy(), base.grad.numpy().copy(), view.storage_offset()))
    np.testing.assert_allclose(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1])
    assert results[0][2] == results[1][2]


@needs_torch
def test_as_strided_over_expanded_and_overlapping_input():
    for lib in (gradlab, torch):
        x = lib.arange(4.0, dtype=lib.float64).requires_grad_()
        (x.expand(2, 4).as_strided((2,), (1,)).sum() + x.as_strided((3, 2), (1, 1)).sum()).backward()
        if lib is gradlab:
            ours = x.grad.numpy().copy()
        else:
            theirs = x.grad.numpy()
    np.testing.assert_allclose(ours, theirs)
    overlapping = gradlab.arange(6.0).as_strided((3, 3), (1, 1))
    with pytest.raises(RuntimeError, match="refers to a single memory location"):
        overlapping.add_(1)  # gradlab refuses writes where elements share memory


def test_second_derivative_of_as_strided():
    x = gradlab.from_numpy(np.random.default_rng(2).uniform(-2, 2, (3, 4))).requires_grad_()
    assert gradgradcheck(lambda a: a.as_strided((2, 3), (1, 2), 1), (x,))


@needs_torch
@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 4), max_size=3), st.lists(st.integers(-30, 30), max_size=5),
       st.sampled_from(["int64", "int32"]))
def test_unravel_index_matches_torch(shape, flat, dtype):
    g, t = pair(flat, dtype)
    ours, theirs = gradlab.unravel_index(g, tuple(shape)), torch.unravel_index(t, tuple(shape))
    assert len(ours) == len(theirs)
    for o, th in zip(ours, theirs):
        same(o, th)


@needs_torch
def test_flip_takes_dims_as_torch():
    g, t = pair(np.arange(6.0).reshape(2, 3))
    for dims in ((0, 1), ((0, 1),), ([1],), (-1,)):
        same(g.flip(*dims), t.flip(*dims))
    same(gradlab.flip(g, dims=(1,)), torch.flip(t, dims=(1,)))


@needs_torch
@pytest.mark.parametrize("start, length", [(-2, 2), (-5, 5), (5, 0), (0, 0), (1, 3)])
def test_narrow_takes_a_negative_start_from_the_end(start, length):
    g, t = pair(np.arange(5.0), requires_grad=True)
    ours, theirs = g.narrow(0, start, length), t.narrow(0, start, length)
    same(ours, theirs)
    ours.sum().backward()
    theirs.sum().backward()
    same(g.grad, t.grad)


@needs_torch
def test_diff_and_sum_to_size_corners_match_torch():
    """n=0 diff is a copy, sum_to_size to the same shape is the tensor."""
    for lib in (gradlab, torch):
        x = lib.from_numpy(np.arange(12.0).reshape(3, 4)).requires_grad_()
        assert x.sum_to_size(3, 4) is x
        assert grad_fn_name(lib.diff(x, 0)) == "CopyBackwards"
    same(gradlab.diff(gradlab.tensor([True, False, False])), torch.diff(torch.tensor([True, False, False])))


# ---- errors -------------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("call", [
    lambda lib: lib.arange(5.0).narrow(0, 3, 3),          # past the end (gradlab returned 2 elements)
    lambda lib: lib.arange(5.0).narrow(0, -6, 1),
    lambda lib: lib.arange(5.0).narrow(0, 1, -1),
])
def test_bad_arguments_raise_as_torch(call):
    raises_as_torch(call)


def test_errors_as_torch():
    x = gradlab.arange(12.0).reshape(3, 4)
    raises_all([
        (lambda: gradlab.fliplr(gradlab.ones(3)), RuntimeError, "Input must be >= 2-d"),
        (lambda: gradlab.rot90(x, 1, (0, 0)), RuntimeError, "expected rotation dims to be different"),
        (lambda: gradlab.rot90(x, 1, (0, 1, 2)), RuntimeError, "expected total rotation dims == 2"),
        (lambda: gradlab.diff(gradlab.tensor(1.0)), RuntimeError, "at least one-dimensional"),
        (lambda: gradlab.diff(x, prepend=gradlab.ones(3)), RuntimeError, "same dimension as input"),
        (lambda: gradlab.diff(x, -1), RuntimeError, "order must be non-negative"),
        (lambda: x.sum_to_size(2, 4), RuntimeError, "is not expandable to size"),
        (lambda: x.as_strided((4, 4), (4, 1)), RuntimeError, "out of bounds for storage of size 48"),
        (lambda: x.as_strided((2,), (-1,)), RuntimeError, "Negative strides are not supported"),
    ])


def test_shape_op_errors():
    x = gradlab.ones(2, 3)
    raises_with(lambda: x.view(4), RuntimeError, "view", "[4]", "6")
    raises_with(lambda: x.reshape(-1, -1), RuntimeError, "reshape")
    raises_with(lambda: x.t().view(6), RuntimeError, "view", "reshape")
    raises_with(lambda: x.expand(4, 3), RuntimeError, "expanded size", "4", "2")
    raises_with(lambda: x.permute(0), RuntimeError, "permute")
    raises_with(lambda: x.permute(0, 0), RuntimeError, "permute", "duplicate")
    raises_with(lambda: x.transpose(0, 5), IndexError, "transpose", "5")
