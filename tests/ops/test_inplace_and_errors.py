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


def test_out_argument_writes_the_result_into_the_given_tensor():
    # tensor_tutorial.py / tensorqs_tutorial.py: torch.add(x, y, out=result), torch.matmul(t, t.T, out=y3)
    x, y = gradlab.tensor([[1.0, 2.0], [3.0, 4.0]]), gradlab.tensor([[10.0, 20.0], [30.0, 40.0]])
    for fn, expected in [(gradlab.add, x + y), (gradlab.mul, x * y), (gradlab.matmul, x @ y)]:
        result = gradlab.empty(2, 2)
        version = result._version
        assert fn(x, y, out=result) is result
        assert gradlab.equal(result, expected) and result._version == version + 1
    wider = gradlab.zeros(2, 2, dtype=gradlab.float64)
    gradlab.add(x, y, out=wider)  # cast to out's dtype, as PyTorch
    assert wider.dtype == gradlab.float64 and wider.tolist() == (x + y).tolist()
    values, indices = gradlab.empty(0), gradlab.empty(0, dtype=gradlab.int64)
    gradlab.max(x, 1, out=(values, indices))
    assert values.tolist() == [2.0, 4.0] and indices.tolist() == [1, 1]


def test_out_argument_resizes_refuses_narrowing_and_autograd():
    small = gradlab.empty(0)
    gradlab.add(gradlab.ones(3), 1, out=small)  # an empty out is resized silently
    assert small.tolist() == [2.0, 2.0, 2.0]
    with pytest.warns(UserWarning, match=r"resized since it had shape \[5\].*output shape \[3\]"):
        gradlab.add(gradlab.ones(3), 1, out=gradlab.empty(5))
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        gradlab.add(gradlab.ones(2), 0.5, out=gradlab.empty(2, dtype=gradlab.int64))
    leaf = gradlab.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"mul\(\): functions with out=... arguments don't support automatic"):
        gradlab.mul(leaf, 2, out=gradlab.empty(2))
    with gradlab.no_grad():
        out = gradlab.empty(2)
        gradlab.mul(leaf, 2, out=out)
    assert out.tolist() == [2.0, 2.0] and not out.requires_grad


def test_module_functions_take_pytorchs_input_and_other_keywords():
    # polynomial_tensor.py: torch.matmul(input=grad_y_pred, other=x)
    a, b = gradlab.tensor([1.0, 2.0]), gradlab.tensor([3.0, 4.0])
    assert gradlab.matmul(input=a, other=b).item() == 11.0
    assert gradlab.add(a, other=b, alpha=2).tolist() == [7.0, 10.0]
    assert gradlab.sum(input=a).item() == 3.0
    assert gradlab.where(gradlab.tensor([True, False]), input=a, other=b).tolist() == [1.0, 4.0]


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


# ---- in-place writes into the outputs of ops that return several views ------------------------------
# split, chunk and unbind return views that share one backward node, so PyTorch refuses to write into
# them in place once the write is recorded.  Each case is (name, op(module, tensor), PyTorch's node name).
MULTI_VIEW_OPS = [
    ("split", lambda m, t: m.split(t, 2), "Split"),
    ("split on dim 1", lambda m, t: t.split(1, 1), "Split"),
    ("split with a list", lambda m, t: t.split([1, 3]), "SplitWithSizes"),
    ("split_with_sizes", lambda m, t: m.split_with_sizes(t, [3, 1]), "SplitWithSizes"),
    ("chunk", lambda m, t: t.chunk(2), "Split"),
    ("chunk on dim 1", lambda m, t: m.chunk(t, 3, 1), "Split"),
    ("unbind", lambda m, t: t.unbind(), "Unbind"),
    ("unbind on dim 1", lambda m, t: m.unbind(t, 1), "Unbind"),
]
# (name, write): each write changes its tensor in place; those marked True write through a further view
INPLACE_WRITES = [
    ("add_", lambda x: x.add_(1), False), ("mul_", lambda x: x.mul_(2), False),
    ("+=", lambda x: x.__iadd__(1), False), ("relu_", lambda x: x.relu_(), False),
    ("zero_", lambda x: x.zero_(), False), ("fill_", lambda x: x.fill_(3.0), False),
    ("copy_", lambda x: x.copy_(x.detach() + 1), False), ("uniform_", lambda x: x.uniform_(), False),
    ("x[0].add_", lambda x: x[0].add_(1), True), ("x.unsqueeze(0).mul_", lambda x: x.unsqueeze(0).mul_(2), True),
]
MULTI_VIEW_TAIL = ("This view is the output of a function that returns multiple views. Such functions do not allow "
                   "the output views to be modified inplace. You should replace the inplace operation by an "
                   "out-of-place one.")


def _bases(m):
    """A base that requires grad through its history, and a leaf that requires grad."""
    values = np.arange(12, dtype=np.float64).reshape(4, 3) - 5
    return {"non-leaf": m.tensor(values, requires_grad=True) * 1, "leaf": m.tensor(values, requires_grad=True)}


def _error(call):
    with pytest.raises(RuntimeError) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize("op_name, op, node", MULTI_VIEW_OPS, ids=[c[0] for c in MULTI_VIEW_OPS])
@pytest.mark.parametrize("write_name, write, through_view", INPLACE_WRITES, ids=[w[0] for w in INPLACE_WRITES])
def test_outputs_of_multi_view_ops_refuse_recorded_in_place_writes(op_name, op, node, write_name, write,
                                                                   through_view):
    torch = pytest.importorskip("torch")
    for kind, base in _bases(gradlab).items():
        outs = op(gradlab, base)
        torch_outs = op(torch, _bases(torch)[kind])
        for k in (0, len(outs) - 1):
            before = outs[k].detach().clone()
            message = _error(lambda: write(outs[k]))
            assert message == _error(lambda: write(torch_outs[k])), (kind, k)
            if not through_view:
                assert message.startswith(f"Output {k} of {node} is a view and is being modified inplace.")
            assert message.endswith(MULTI_VIEW_TAIL)
            assert gradlab.equal(outs[k], before) and gradlab.equal(base, _bases(gradlab)[kind])  # nothing written


@pytest.mark.parametrize("op_name, op, node", MULTI_VIEW_OPS, ids=[c[0] for c in MULTI_VIEW_OPS])
def test_setitem_into_a_multi_view_output_is_refused(op_name, op, node):
    x = op(gradlab, _bases(gradlab)["non-leaf"])[0]
    message = _error(lambda: x.__setitem__(0, 1.0))
    assert "is a view and is being modified inplace" in message and message.endswith(MULTI_VIEW_TAIL)


@pytest.mark.parametrize("op_name, op, node", MULTI_VIEW_OPS, ids=[c[0] for c in MULTI_VIEW_OPS])
def test_multi_view_outputs_of_a_base_without_grad(op_name, op, node):
    """Writes of constants are not recorded, so they are allowed; a write of a value that requires grad is not."""
    torch = pytest.importorskip("torch")
    results = []
    for m in (gradlab, torch):
        base = m.tensor(np.arange(12.0).reshape(4, 3))
        x = op(m, base)[-1]
        x.mul_(2)
        x.add_(1)
        weight = m.tensor(2.0, requires_grad=True)
        results.append((base.numpy().copy(), x.requires_grad,
                        _error(lambda: x.mul_(weight)), _error(lambda: x.copy_(weight.expand(x.shape)))))
    (ours, our_grad, *our_errors), (theirs, their_grad, *their_errors) = results
    np.testing.assert_array_equal(ours, theirs)
    assert our_grad is their_grad is False
    assert our_errors == their_errors
    assert our_errors[0].startswith("A view was created in no_grad mode") and our_errors[0].endswith(MULTI_VIEW_TAIL)


@pytest.mark.parametrize("op_name, op, node", MULTI_VIEW_OPS, ids=[c[0] for c in MULTI_VIEW_OPS])
def test_multi_view_outputs_change_in_place_when_nothing_is_recorded(op_name, op, node):
    """Under no_grad the write is not recorded: allowed, whether the views were taken inside or before it."""
    torch = pytest.importorskip("torch")
    for kind in ("non-leaf", "leaf"):
        results = []
        for m in (gradlab, torch):
            base = _bases(m)[kind]
            taken_before = op(m, base)[0]
            with m.no_grad():
                taken_before.mul_(10)
                taken_inside = op(m, base)[-1]
                taken_inside.add_(1)
                taken_inside[0].sub_(3)
            results.append(base.detach().numpy().copy())
            taken_before.detach().add_(1)  # a detached alias is no view in the graph
            taken_before.data.add_(1)
            results.append(base.detach().numpy().copy())
        np.testing.assert_array_equal(results[0], results[2])
        np.testing.assert_array_equal(results[1], results[3])


def test_tensor_split_returns_single_views_that_change_in_place_as_pytorch():
    """tensor_split is a chain of slices in PyTorch (SliceBackward0): its pieces are ordinary views."""
    torch = pytest.importorskip("torch")
    grads = []
    for m in (gradlab, torch):
        a = m.tensor(np.linspace(-1, 1, 12).reshape(4, 3), requires_grad=True)
        w = m.tensor([1.5, -2.0, 0.5], dtype=m.float64, requires_grad=True)
        b = a * 2
        first, middle, last = b.tensor_split([1, 3])
        assert first.grad_fn.name() == "SliceBackward0"
        last.mul_(w)
        first.add_(w)
        middle.sub_(w[0])
        (b * b).sum().backward()
        grads.append((a.grad.numpy(), w.grad.numpy()))
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


# ordinary (single-output) views still change in place, and the write reaches the base's gradient
SINGLE_VIEWS = [
    ("x[0]", lambda t: t[0]), ("x[1:, ::2]", lambda t: t[1:, ::2]), ("view", lambda t: t.view(2, 6)),
    ("narrow", lambda t: t.narrow(1, 1, 2)), ("select", lambda t: t.select(1, 2)),
    ("transpose", lambda t: t.transpose(0, 1)), ("t", lambda t: t.t()), ("unsqueeze", lambda t: t.unsqueeze(1)),
    ("diagonal", lambda t: t.diagonal()), ("diagonal(1)", lambda t: t.diagonal(1)),
    ("diagonal(-1, 1, 0)", lambda t: t.diagonal(-1, 1, 0)),
]


@pytest.mark.parametrize("name, view", SINGLE_VIEWS, ids=[v[0] for v in SINGLE_VIEWS])
def test_single_output_views_change_in_place_with_correct_gradients(name, view):
    def fn(a, w):
        b = a * 1.5
        v = view(b)
        v.mul_(w.reshape(-1)[:v.shape[-1]])
        v.add_(w.sum())
        return b * b
    a = gradlab.tensor(np.linspace(-1.0, 2.0, 12).reshape(4, 3), requires_grad=True)
    w = gradlab.tensor([0.5, -1.5, 2.0, 1.0, 0.25, -0.75], dtype=gradlab.float64, requires_grad=True)
    assert gradlab.autograd.gradcheck(fn, (a, w))
    torch = pytest.importorskip("torch")
    ta = torch.tensor(a.detach().numpy(), requires_grad=True)
    tw = torch.tensor(w.detach().numpy(), requires_grad=True)
    out, t_out = fn(a, w), fn(ta, tw)  # the same function on torch tensors
    out.sum().backward()
    t_out.sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


# ---- in-place writes into views taken while nothing was recorded -------------------------------------
# A view taken under no_grad (or in inference mode) of a base that requires grad has no graph link to its
# base; PyTorch refuses to record an in-place write into it later, as the write could not reach the base.
UNRECORDED_VIEWS = [
    ("x[0]", lambda t: t[0]), ("view", lambda t: t.view(-1)), ("t", lambda t: t.t()),
    ("narrow", lambda t: t.narrow(0, 1, 2)), ("split", lambda t: t.split(2)[1]), ("unbind", lambda t: t.unbind()[0]),
    ("x[1:][0], a view of such a view", lambda t: t[1:][0]),
]


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
@pytest.mark.parametrize("name, view", UNRECORDED_VIEWS, ids=[v[0] for v in UNRECORDED_VIEWS])
def test_views_taken_without_recording_refuse_recorded_writes(name, view, mode):
    torch = pytest.importorskip("torch")
    for kind in ("non-leaf", "leaf"):
        errors = []
        for m in (gradlab, torch):
            base = _bases(m)[kind]
            with getattr(m, mode)():
                v = view(base)
            errors += [_error(lambda: v.mul_(2)), _error(lambda: v.zero_()), _error(lambda: v.__setitem__(0, 1.0))]
            assert m.equal(base, _bases(m)[kind])  # nothing written
        ours, theirs = errors[:3], errors[3:]
        assert ours[:2] == theirs[:2], kind
        made_in = "inference mode" if mode == "inference_mode" else "no_grad mode"
        assert all(made_in in e and f"inside the {mode} block" in e for e in ours), ours


def test_views_taken_without_recording_follow_pytorch_where_nothing_requires_grad():
    """Writes inside no_grad, and writes of constants into views of a base that requires no grad, are allowed;
    a view taken in grad mode from a view taken under no_grad inherits the restriction.

    (Unlike PyTorch, gradlab does not mark views of a base that requires no grad taken under no_grad, so that
    such views cost nothing more in evaluation; writing a value that requires grad into one is not refused.)
    """
    torch = pytest.importorskip("torch")
    results = []
    for m in (gradlab, torch):
        base, plain, leaf = _bases(m)["non-leaf"], m.tensor(np.ones((4, 3))), _bases(m)["leaf"]
        with m.no_grad():
            v, p = base[0], plain.t()
            leaf[0].mul_(2)  # written where it was taken: fine
        p.add_(1)  # nothing requires grad: fine
        with m.inference_mode():
            q = plain[1]
        q.sub_(1)
        derived = v[1:]  # taken in grad mode, from the unrecorded view
        results.append((leaf.detach().numpy().copy(), plain.numpy().copy(), _error(lambda: derived.add_(1))))
    (leaf, plain, refused), (t_leaf, t_plain, t_refused) = results
    np.testing.assert_array_equal(leaf, t_leaf)
    np.testing.assert_array_equal(plain, t_plain)
    assert "created in no_grad mode" in refused and "created in no_grad mode" in t_refused


@pytest.mark.parametrize("write", [lambda t: t.add_(1), lambda t: t.fill_(1), lambda t: t.__setitem__(0, 5.0),
                                   lambda t: t.__setitem__((slice(None), 1), gradlab.ones(2))],
                         ids=["add_", "fill_", "x[0] = 5", "x[:, 1] = ones"])
def test_writes_into_an_expanded_tensor_are_refused_with_a_clear_error(write):
    """Its rows share memory: gradlab refuses every write (PyTorch refuses most) and says what to do."""
    base = gradlab.zeros(1, 3)
    with pytest.raises(RuntimeError, match=r"shape \[2, 3\]\) refers to a single memory location.*clone"):
        write(base.expand(2, 3))
    assert not base.any()
