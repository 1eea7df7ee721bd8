"""In-place semantics (identity, versions, leaf rules, random fills) and the errors users meet."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import gradlab
from gradlab.ops.index import one_hot
from gradlab.testing import broadcastable_shapes, shapes, tensors


# ---- in-place semantics ----------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda t: t.add_(1), lambda t: t.mul_(2), lambda t: t.sub_(1), lambda t: t.div_(2), lambda t: t.zero_(),
    lambda t: t.fill_(3), lambda t: t.uniform_(), lambda t: t.normal_(), lambda t: t.clamp_(0, 1),
    lambda t: t.masked_fill_(t > 0, 0), lambda t: t.copy_(gradlab.ones(3)), lambda t: t.exp_(),
])
def test_inplace_ops_return_self_share_memory_and_bump_the_version(call):
    t = gradlab.zeros(3)
    data, version = t._data, t._version
    assert call(t) is t
    assert t._data is data and t._version > version


def test_augmented_assignment_keeps_identity_and_views_see_it():
    t = gradlab.zeros(2, 3)
    view = t[0]
    before = id(t)
    t += 1
    t *= 3
    t -= 1
    t /= 2
    assert id(t) == before and view.tolist() == [1.0, 1.0, 1.0]


def test_leaf_requiring_grad_cannot_change_in_place():
    w = gradlab.ones(3, requires_grad=True)
    for call in (lambda: w.add_(1), lambda: w.zero_(), lambda: w.uniform_(), lambda: w.__iadd__(1),
                 lambda: w.__setitem__(0, 5.0), lambda: w[0].mul_(2)):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            call()
    assert w.tolist() == [1.0, 1.0, 1.0]


def test_leaf_changes_in_place_under_no_grad_like_an_optimizer_step():
    w = gradlab.ones(3, requires_grad=True)
    (w * w).sum().backward()
    with gradlab.no_grad():
        w -= 0.5 * w.grad
        w[0] = 7.0
        w.uniform_(-1, 1)
        w.normal_(0, 0.01)
    assert w.requires_grad and w.is_leaf and w.grad_fn is None


def test_changing_a_saved_tensor_breaks_backward_with_a_clear_error():
    x = gradlab.ones(3, requires_grad=True)
    y = x.exp()
    y.add_(1)  # exp saved its output for backward
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    a = gradlab.ones(3, requires_grad=True) * 2
    b = a * a
    a[0] = 5.0  # mul saved its inputs; the version counter catches the change through setitem
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        b.sum().backward()


def test_views_share_the_version_counter():
    x = gradlab.zeros(2, 3)
    for view in (x[0], x.view(6), x.t(), x.unsqueeze(0), x.reshape(3, 2), x.permute(1, 0)):
        before = x._version
        view.add_(1)
        assert x._version == before + 1


@given(low=st.floats(-5, 0), width=st.floats(0.1, 5), mean=st.floats(-3, 3), std=st.floats(0.1, 2))
def test_random_fills_stay_in_distribution(low, width, mean, std):
    gradlab.manual_seed(0)
    u = gradlab.empty(4000, dtype=gradlab.float64).uniform_(low, low + width)
    assert low <= u.min().item() and u.max().item() <= low + width
    assert abs(u.mean().item() - (low + width / 2)) < 0.05 * width
    n = gradlab.empty(4000).normal_(mean, std)
    assert n.dtype == gradlab.float32
    assert abs(n.mean().item() - mean) < 0.1 * std and abs(n.std().item() - std) < 0.1 * std


def test_fill_with_a_tensor_value_carries_its_gradient():
    v = gradlab.tensor(2.0, requires_grad=True)
    z = gradlab.zeros(3)
    z.fill_(v)
    z.sum().backward()
    assert v.grad.item() == 3.0


def test_copy_broadcasts_casts_and_carries_gradients():
    src = gradlab.tensor([1.0, 2.0], requires_grad=True)
    dst = gradlab.zeros(3, 2, dtype=gradlab.float64)
    dst.copy_(src)
    assert dst.dtype == gradlab.float64 and dst.tolist() == [[1.0, 2.0]] * 3
    (dst * 2).sum().backward()
    assert src.grad.tolist() == [6.0, 6.0]


# ---- clear errors: the op, the shapes or dtypes, what was expected -----------------------------------
def _raises(call, exc, *fragments):
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in error message: {message}"


def test_matmul_shape_errors_name_the_op_and_the_shapes():
    a, b = gradlab.ones(2, 3), gradlab.ones(4, 5)
    _raises(lambda: a @ b, RuntimeError, "matmul", "2x3", "4x5")
    _raises(lambda: gradlab.mm(a, b), RuntimeError, "mm", "2x3", "4x5")
    _raises(lambda: gradlab.mm(a, gradlab.ones(3)), RuntimeError, "mm", "2D")
    _raises(lambda: gradlab.bmm(gradlab.ones(2, 2, 3), gradlab.ones(3, 3, 2)), RuntimeError, "bmm", "[2, 2, 3]",
            "[3, 3, 2]")
    _raises(lambda: gradlab.dot(gradlab.ones(3), gradlab.ones(4)), RuntimeError, "3", "4")
    _raises(lambda: gradlab.ones(3) @ gradlab.tensor(2.0), RuntimeError, "1D", "0D")
    _raises(lambda: gradlab.ones(2, 2, 3) @ gradlab.ones(3, 3, 1), RuntimeError, "matmul", "batch", "[2]", "[3]")


@given(pair=broadcastable_shapes(2, min_dims=1, max_dims=3, min_side=2, max_side=4))
def test_broadcast_errors_name_the_op_and_both_shapes(pair):
    a_shape, b_shape = pair
    b_shape = b_shape[:-1] + (b_shape[-1] + 1,) if b_shape else b_shape  # break the last axis
    if len(a_shape) >= len(b_shape) and a_shape[-len(b_shape):][-1] in (1, b_shape[-1]):
        return  # still broadcastable
    a, b = gradlab.ones(a_shape), gradlab.ones(b_shape)
    for name, call in [("add", lambda: a + b), ("mul", lambda: a * b), ("sub", lambda: a - b),
                       ("div", lambda: a / b), ("eq", lambda: a == b), ("pow", lambda: a ** b)]:
        _raises(call, RuntimeError, name, str(list(a_shape)), str(list(b_shape)), "non-singleton dimension")


def test_shape_op_errors():
    x = gradlab.ones(2, 3)
    _raises(lambda: x.view(4), RuntimeError, "view", "[4]", "6")
    _raises(lambda: x.reshape(-1, -1), RuntimeError, "reshape")
    _raises(lambda: x.t().view(6), RuntimeError, "view", "reshape")
    _raises(lambda: x.expand(4, 3), RuntimeError, "expanded size", "4", "2")
    _raises(lambda: x.permute(0), RuntimeError, "permute")
    _raises(lambda: x.permute(0, 0), RuntimeError, "permute", "duplicate")
    _raises(lambda: x.sum(2), IndexError, "sum", "range", "2")
    _raises(lambda: x.transpose(0, 5), IndexError, "transpose", "5")
    _raises(lambda: gradlab.cat([x, gradlab.ones(3, 3)], 1), RuntimeError, "cat", "[2, 3]", "[3, 3]")
    _raises(lambda: gradlab.stack([x, gradlab.ones(3, 2)]), RuntimeError, "stack", "[2, 3]", "[3, 2]")
    _raises(lambda: x.split([1, 1], 1), RuntimeError, "split", "3")
    _raises(lambda: x.sum((0, 0)), RuntimeError, "sum", "multiple times")


def test_index_and_dtype_errors():
    x = gradlab.ones(2, 3)
    _raises(lambda: x[5], IndexError, "5", "[2, 3]")
    _raises(lambda: x[gradlab.tensor([0, 7])], IndexError, "[2, 3]")
    _raises(lambda: x.masked_fill(gradlab.ones(2, 3), 0.0), RuntimeError, "masked_fill", "bool")
    _raises(lambda: x.masked_fill(gradlab.ones(4, dtype=gradlab.bool), 0.0), RuntimeError, "masked_fill")
    _raises(lambda: gradlab.where(gradlab.ones(3), x, x), RuntimeError, "where", "bool")
    _raises(lambda: one_hot(gradlab.tensor([0.0, 1.0])), RuntimeError, "one_hot", "int64")
    _raises(lambda: one_hot(gradlab.tensor([0, 5]), 3), RuntimeError, "one_hot", "3")
    _raises(lambda: gradlab.tensor([1, 2]).mean(), RuntimeError, "mean", "int64")
    _raises(lambda: gradlab.ones(3) - gradlab.ones(3, dtype=gradlab.bool), RuntimeError, "bool")
    _raises(lambda: gradlab.tensor([1, 2]).__iadd__(0.5), RuntimeError, "float32", "int64")
    _raises(lambda: gradlab.tensor([2]) ** -1, RuntimeError, "negative")
    _raises(lambda: gradlab.ones(2).to("cuda"), RuntimeError, "CPU")
    _raises(lambda: gradlab.ones(3, 1).expand(3, 4).add_(1), RuntimeError, "single memory location", "clone")
    _raises(lambda: gradlab.ones(2, 3).add_(gradlab.ones(4, 3)), RuntimeError, "[2, 3]", "[4, 3]")


# ---- one_hot ------------------------------------------------------------------------------------------
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


def test_overwriting_values_cuts_their_history():
    """fill_, zero_, copy_ and the random fills replace values: no gradient flows to what they replaced."""
    x = gradlab.ones(2, 3, requires_grad=True)
    y = x * 2
    y[0].uniform_()
    y[1].copy_(gradlab.zeros(3))
    (y * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())  # only the `* x` path remains
    for overwrite in (lambda t: t.fill_(1.0), lambda t: t.zero_(), lambda t: t.normal_(),
                      lambda t: t.copy_(gradlab.ones(3))):
        x = gradlab.ones(3, requires_grad=True)
        y = x * 2
        overwrite(y)
        (y + x).sum().backward()
        assert x.grad.tolist() == [1.0, 1.0, 1.0]
