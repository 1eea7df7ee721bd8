"""In-place ops (gradlab/ops/inplace.py and every op's in-place form): identity, versions, leaf rules, random
fills, apply_ / map_, writes into views (single- and multi-output, taken without recording, expanded), each
in-place variant against PyTorch, and the errors users meet."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import gradlab
from ops_helpers import error_message, needs_torch, pair, raises_named_error, raises_with, same, torch


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


# ---- each in-place variant against PyTorch --------------------------------------------------------------
X = [[0.25, -0.5, 0.75], [0.5, -0.125, 0.375]]  # in (-1, 1) and away from 0: in every op's domain (but logs)


POSITIVE = [[0.25, 0.5, 0.75], [1.5, 0.125, 2.0]]


Y = [[0.5, 0.25, -0.75], [1.25, 0.5, 0.125]]


INPLACE_CASES = {
    # name: (arguments, which input values); "y" stands for a second tensor
    **{name: ((), X) for name in "asin acos atan arcsin arccos arctan sinh cosh exp2 deg2rad rad2deg erf erfc erfinv "
                                 "sinc sgn sign tan trunc frac negative absolute square expm1".split()},
    **{name: ((), POSITIVE) for name in "log10 lgamma digamma rsqrt log1p log2".split()},
    "logit_": ((), X), "logit_eps": ((0.3,), X), "polygamma_": ((1,), POSITIVE),
    "atan2": (("y",), X), "arctan2": (("y",), X), "hypot": (("y",), X), "ldexp": (("y",), X),
    "xlogy": ((2.0,), X), "xlogy_tensor": (("y",), POSITIVE), "clamp_min": ((0.3,), X), "clamp_max": (("y",), X),
    "multiply": (("y",), X), "divide": (("y",), X), "true_divide": ((2,), X), "subtract": (("y",), X),
    "floor_divide": ((0.25,), X), "float_power": ((3,), X), "heaviside": (("y",), X),
    **{name: (("y",), X) for name in "eq ne lt le gt ge not_equal greater greater_equal less less_equal "
                                     "logical_and logical_or logical_xor".split()},
    "eq_scalar": ((0.25,), X), "logical_not": ((), X),
}


def _inplace(lib, name, x, y, args):
    method = name.split("_")[0] if name.endswith(("_eps", "_tensor", "_scalar")) else name.rstrip("_")
    if method == "logical":  # logical_and ... keep their underscores
        method = name
    args = [y if a == "y" else a for a in args]
    if method == "heaviside":
        args = [y.detach()]
    z = x * 1  # a non-leaf in the graph, as an in-place op needs
    returned = getattr(z, method + "_")(*args)
    assert returned is z
    return z


# PyTorch records a node whose backward raises (no derivative); gradlab's result leaves the graph, as for x // 2
NOT_DIFFERENTIABLE = {"floor_divide", "heaviside"}


# PyTorch computes these in place as a multiplication (MulBackward0) whose gradient is not the op's (which is 0,
# the result being piecewise constant); gradlab keeps the node's name and gives the zero gradient
ZERO_GRADIENT = {"logical_and", "logical_or"}


@pytest.mark.parametrize("name", sorted(INPLACE_CASES))
def test_inplace_variant_matches_torch(name):
    """y.fn_(...) changes y to fn(y, ...) in y's dtype, with PyTorch's graph node and gradients."""
    if torch is None:
        pytest.skip("torch is not installed")
    args, values = INPLACE_CASES[name]
    results = []
    for lib in (gradlab, torch):
        x = lib.tensor(values, dtype=lib.float64, requires_grad=True)
        y = lib.tensor(Y if name != "xlogy_tensor" else POSITIVE, dtype=lib.float64, requires_grad=True)
        z = _inplace(lib, name, x, y, args)
        node = None if z.grad_fn is None else z.grad_fn.name() if lib is gradlab else type(z.grad_fn).__name__
        grads = (None, None)
        if z.requires_grad and name not in NOT_DIFFERENTIABLE:
            grads = lib.autograd.grad((z * z).sum(), (x, y), allow_unused=True)
        results.append((z.detach().numpy().copy(), str(z.dtype).split(".")[-1], node,
                        [None if g is None else g.numpy(force=True) if lib is torch else g.numpy() for g in grads]))
    (ours, our_dtype, our_node, our_grads), (theirs, their_dtype, their_node, their_grads) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-7, equal_nan=True)
    if name in NOT_DIFFERENTIABLE:
        assert (our_dtype, our_node, their_node) == (their_dtype, None, "NotImplemented")
        return
    assert (our_dtype, our_node) == (their_dtype, their_node)
    if name in ZERO_GRADIENT:
        assert not any(np.any(g) for g in our_grads if g is not None)
        assert any(np.any(g) for g in their_grads if g is not None), f"{name}: torch's gradient is now 0 as well"
        return
    for g, tg in zip(our_grads, their_grads):
        if g is None or tg is None:  # no gradient on one side: zeros (or nothing) on the other
            assert (g if tg is None else tg) is None or not np.any(g if tg is None else tg)
        else:
            np.testing.assert_allclose(g, tg, rtol=1e-7, equal_nan=True)


INT_INPLACE = {
    "gcd_": lambda a, b: a.gcd_(b), "lcm_": lambda a, b: a.lcm_(b), "bitwise_and_": lambda a, b: a.bitwise_and_(b),
    "bitwise_or_": lambda a, b: a.bitwise_or_(b), "bitwise_xor_": lambda a, b: a.bitwise_xor_(b),
    "bitwise_not_": lambda a, b: a.bitwise_not_(), "sgn_": lambda a, b: a.sgn_(), "floor_divide_": lambda a, b:
    a.floor_divide_(b), "eq_": lambda a, b: a.eq_(b), "clamp_min_": lambda a, b: a.clamp_min_(b),
    "&=": lambda a, b: a.__iand__(b), "|=": lambda a, b: a.__ior__(b), "^=": lambda a, b: a.__ixor__(b),
    "//=": lambda a, b: a.__ifloordiv__(b),
}


@pytest.mark.parametrize("name", sorted(INT_INPLACE))
def test_integer_inplace_variant_matches_torch(name):
    if torch is None:
        pytest.skip("torch is not installed")
    values, other = [[12, -7, 0], [5, 9, -20]], [4, 3, 6]
    outs = []
    for lib in (gradlab, torch):
        a = lib.tensor(values)
        out = INT_INPLACE[name](a, lib.tensor(other))
        assert out is a
        outs.append((a.numpy(), str(a.dtype).split(".")[-1]))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    assert outs[0][1] == outs[1][1]


# ---- apply_ and map_ ---------------------------------------------------------------------------------------
@needs_torch
def test_apply_and_map_match_torch():
    for dtype, fn in (("float32", lambda v: v * 2 + 1), ("int64", lambda v: v * 2.7), ("bool", lambda v: not v)):
        g, t = pair([[1, 0, 3], [4, 5, 0]], dtype)
        assert g.apply_(fn) is g
        t.apply_(fn)
        same(g, t)
    g, t = pair([[1.0, 2.0], [3.0, 4.0]])
    og, ot = pair([10.0, 20.0])
    assert g.map_(og, lambda a, b: a * b - 1) is g
    t.map_(ot, lambda a, b: a * b - 1)
    same(g, t)
    columns = gradlab.arange(6.0).reshape(2, 3).t()  # not contiguous: positions follow the tensor's own order
    columns.apply_(lambda v: v * 10)
    assert columns.tolist() == [[0.0, 30.0], [10.0, 40.0], [20.0, 50.0]]


def test_apply_and_map_see_python_numbers():
    seen = []
    gradlab.tensor([1, 2]).apply_(lambda v: seen.append(type(v)) or v)
    gradlab.tensor([1.5]).apply_(lambda v: seen.append(type(v)) or v)
    assert seen == [int, int, float]


def test_apply_and_map_refuse_tensors_that_require_grad():
    w = gradlab.ones(2, requires_grad=True)
    for call in (lambda: w.apply_(lambda v: v), lambda: (w * 1).apply_(lambda v: v),
                 lambda: w.map_(gradlab.ones(2), lambda a, b: a), lambda: gradlab.ones(2).map_(w, lambda a, b: a)):
        with pytest.raises(RuntimeError, match="Can't call (apply_|map_)\\(\\) on Variable that requires grad"):
            call()
    with gradlab.no_grad(), pytest.raises(RuntimeError, match="requires grad"):
        w.apply_(lambda v: v)  # as PyTorch: grad mode does not matter


def test_apply_and_map_errors():
    x = gradlab.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="must be real number, not NoneType"):
        x.apply_(lambda v: None)
    with pytest.raises(RuntimeError, match="without overflow"):
        gradlab.tensor([1, 2]).apply_(lambda v: 10 ** 30)
    with pytest.raises(TypeError, match="must be Tensor, not list"):
        x.map_([1.0, 2.0], lambda a, b: a)
    with pytest.raises(TypeError, match="expected gradlab.FloatTensor"):
        x.map_(gradlab.tensor([1.0, 2.0], dtype=gradlab.float64), lambda a, b: a)
    with pytest.raises(RuntimeError, match="broadcast"):
        x.map_(gradlab.ones(3), lambda a, b: a)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        gradlab.ones(3).expand(2, 3).apply_(lambda v: v)


# ---- errors -------------------------------------------------------------------------------------------------
ERRORS = {
    "acos_ on ints": (lambda lib: lib.ones(2, dtype=lib.int64).acos_(), ["float32", "int64"]),
    "clamp_min_ on ints with a float bound": (lambda lib: lib.ones(2, dtype=lib.int64).clamp_min_(0.5),
                                             ["float32", "int64"]),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_error(case):
    raises_named_error(case, *ERRORS[case])


def test_dtype_and_shape_errors():
    raises_with(lambda: gradlab.tensor([1, 2]).__iadd__(0.5), RuntimeError, "float32", "int64")
    raises_with(lambda: gradlab.ones(3, 1).expand(3, 4).add_(1), RuntimeError, "single memory location", "clone")
    raises_with(lambda: gradlab.ones(2, 3).add_(gradlab.ones(4, 3)), RuntimeError, "[2, 3]", "[4, 3]")


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
            message = error_message(lambda: write(outs[k]))
            assert message == error_message(lambda: write(torch_outs[k])), (kind, k)
            if not through_view:
                assert message.startswith(f"Output {k} of {node} is a view and is being modified inplace.")
            assert message.endswith(MULTI_VIEW_TAIL)
            assert gradlab.equal(outs[k], before) and gradlab.equal(base, _bases(gradlab)[kind])  # nothing written


@pytest.mark.parametrize("op_name, op, node", MULTI_VIEW_OPS, ids=[c[0] for c in MULTI_VIEW_OPS])
def test_setitem_into_a_multi_view_output_is_refused(op_name, op, node):
    x = op(gradlab, _bases(gradlab)["non-leaf"])[0]
    message = error_message(lambda: x.__setitem__(0, 1.0))
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
                        error_message(lambda: x.mul_(weight)), error_message(lambda: x.copy_(weight.expand(x.shape)))))
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
            errors += [error_message(lambda: v.mul_(2)), error_message(lambda: v.zero_()), error_message(lambda: v.__setitem__(0, 1.0))]
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
        results.append((leaf.detach().numpy().copy(), plain.numpy().copy(), error_message(lambda: derived.add_(1))))
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
