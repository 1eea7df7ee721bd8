"""autograd.explain: backward step by step, the formulas ops declare, and the finite-difference check."""
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradlab
import gradlab.nn.functional as F
from gradlab import autograd, nn
from gradlab.autograd import engine
from gradlab.autograd.explain import NO_FORMULA, formula
from gradlab.ops.nn import dropout as dropout_op
from gradlab.testing.opcheck import _draw_inputs, _flatten

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ops"))
from op_specs import FAMILIES  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def mlp(seed=0):
    """A two-layer MLP with its input and labels."""
    gradlab.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    x = gradlab.randn(4, 3)
    y = gradlab.tensor([0, 1, 1, 0])
    return model, x, y


# ---- the listing ----------------------------------------------------------------------------------

def test_mlp_trace_lists_every_node_in_the_engine_order_with_rules_and_grads():
    model, x, y = mlp()
    params = dict(model.named_parameters())
    trace = autograd.explain(F.cross_entropy(model(x), y), params=params)
    nodes = [s for s in trace.steps if s["kind"] == "node"]
    assert [s["name"] for s in nodes] == ["NllLossBackward0", "AddmmBackward0", "ReluBackward0", "AddmmBackward0"]
    assert all(s["formula"] != NO_FORMULA for s in nodes)
    assert sorted(s["label"] for s in trace.steps if s["kind"] == "leaf") == sorted(params)
    text = str(trace)
    assert "grad_x = g * (softmax(x) - onehot(target))" in text and "grad_a = g where out > 0, else 0" in text
    assert "input 2 -> leaf 2.weight: (2, 5) float32" in text
    assert "got g: () float32 [1]" in text
    assert trace.n_nodes == 4 and trace.n_leaves == 4


def test_grads_are_those_of_backward_and_accumulate():
    model, x, y = mlp()
    twin, _, _ = mlp()
    F.cross_entropy(twin(x), y).backward()
    for _ in range(2):  # the second time, explain adds into .grad like backward does
        trace = autograd.explain(F.cross_entropy(model(x), y), params=dict(model.named_parameters()))
        for (name, p), q in zip(model.named_parameters(), twin.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)
        F.cross_entropy(twin(x), y).backward()
    assert ".grad is now" in str(trace)  # the second explain shows the sums


def test_accumulate_false_leaves_grad_untouched():
    model, x, y = mlp()
    first = next(model.parameters())
    first.grad = gradlab.ones_like(first)
    trace = autograd.explain(F.cross_entropy(model(x), y), accumulate=False)
    assert first.grad.tolist() == gradlab.ones_like(first).tolist()
    assert all(p.grad is None for p in list(model.parameters())[1:])
    assert "accumulate=False" in str(trace) and trace.n_leaves == 4


def test_graph_is_freed_unless_retained():
    x = gradlab.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    autograd.explain(y, retain_graph=True)
    autograd.explain(y)
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    assert engine.tracing[0] is None


def test_html_shows_a_table():
    model, x, y = mlp()
    page = autograd.explain(lambda: F.cross_entropy(model(x), y), check=True)._repr_html_()
    assert page.startswith("<div>") and "<table>" in page and "grad_x = g @ W" in page


# ---- bad input ------------------------------------------------------------------------------------

def test_a_tensor_without_a_graph_gets_a_clear_message():
    with pytest.raises(RuntimeError, match=r"explain: the output \(shape \(2,\)\) has no graph"):
        autograd.explain(gradlab.ones(2))
    with pytest.raises(RuntimeError, match="is a leaf that requires grad"):
        autograd.explain(gradlab.ones(2, requires_grad=True))
    with pytest.raises(TypeError, match="expected a Tensor"):
        autograd.explain(3.0)


def test_non_scalar_output_needs_grad_output_as_in_pytorch():
    x = gradlab.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        autograd.explain(x * 3)
    trace = autograd.explain(x * 3, grad_output=gradlab.tensor([1.0, -1.0]))
    assert x.grad.tolist() == [3.0, -3.0] and trace.n_nodes == 1
    if torch is not None:
        with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
            (torch.tensor([1.0, 2.0], requires_grad=True) * 3).backward()


def test_a_chain_of_100000_nodes_is_explained_in_bounded_time_and_truncated():
    x = gradlab.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    start = time.perf_counter()
    trace = autograd.explain(y.sum(), limit=50)
    assert time.perf_counter() - start < 30
    assert trace.n_nodes == 100_001 and len(trace.steps) == 50
    assert str(trace).endswith("(the first 50 of 100002 are; explain(..., limit=None) lists all)")
    assert x.grad.tolist() == [1.0]


def test_explain_does_not_nest_and_always_unhooks():
    x = gradlab.tensor([1.0], requires_grad=True)

    class Nested(autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 1

        @staticmethod
        def backward(ctx, g):
            with gradlab.enable_grad():
                autograd.explain((x * 2).sum())
            return g

    with pytest.raises(RuntimeError, match="explain calls do not nest"):
        autograd.explain(Nested.apply(x).sum())
    assert engine.tracing[0] is None


# ---- formulas ---------------------------------------------------------------------------------------

CORE = {"arithmetic": None, "unary": None,  # every op of these two files
        "reduce": {"sum", "mean", "max_all", "max_dim", "min_all", "min_dim", "amax", "amin"},
        "linalg": {"matmul", "matmul_operator", "mm", "bmm", "dot", "mv", "addmm", "addmm_method_"},
        "shape": {"reshape", "view", "permute", "permute_tuple", "transpose", "t", "T_2d", "expand"}}
CORE_SPECS = [dataclasses.replace(s, dtypes=("float64",), int_dtypes=()) for family, names in CORE.items()
              for s in FAMILIES[family].SPECS
              if s.grad and any(d.startswith("float") for d in s.dtypes) and (names is None or s.name in names)]


@pytest.mark.parametrize("spec", CORE_SPECS, ids=[s.name for s in CORE_SPECS])
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_core_ops_declare_their_formula(spec, data):
    _, arrays, kwargs = _draw_inputs(spec, data)
    tensors = [gradlab.from_numpy(np.array(a, dtype=np.float64)) for a in arrays]
    for i in spec.grad_inputs if spec.grad_inputs is not None else range(len(tensors)):
        tensors[i].requires_grad_()
    out = spec.fn(gradlab, *tensors, **kwargs)
    nodes = [t.grad_fn for t in _flatten(out) if isinstance(t, gradlab.Tensor) and t.grad_fn is not None]
    assert nodes, f"{spec.name} made no node"
    for node in nodes:
        assert formula(node).startswith("grad_"), f"{spec.name}: {node.name()} has no formula"


def _nn_cases():
    x = gradlab.randn(2, 3, 6, 6, requires_grad=True)
    w = gradlab.randn(4, 3, 3, 3, requires_grad=True)
    logits = gradlab.randn(4, 5, requires_grad=True)
    target = gradlab.tensor([0, 2, 4, 1])
    return {
        "relu": lambda: F.relu(logits), "softmax": lambda: F.softmax(logits, 1),
        "log_softmax": lambda: F.log_softmax(logits, 1), "cross_entropy": lambda: F.cross_entropy(logits, target),
        "nll_loss": lambda: F.nll_loss(F.log_softmax(logits, 1).detach().requires_grad_(), target),
        "mse_loss": lambda: F.mse_loss(logits, gradlab.zeros(4, 5)),
        "conv2d": lambda: F.conv2d(x, w, gradlab.zeros(4, requires_grad=True), padding=1),
        "max_pool2d": lambda: F.max_pool2d(x, 2),
        "linear": lambda: F.linear(logits, gradlab.randn(3, 5, requires_grad=True)),
        "linear_bias": lambda: F.linear(logits, gradlab.randn(3, 5, requires_grad=True), gradlab.zeros(3)),
    }


@pytest.mark.parametrize("name", list(_nn_cases()))
def test_nn_ops_declare_their_formula(name):
    out = _nn_cases()[name]()
    assert formula(out.grad_fn).startswith("grad_"), out.grad_fn.name()


def test_a_node_without_a_formula_says_so():
    class Plain(autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = gradlab.ones(2, requires_grad=True)
    assert NO_FORMULA in str(autograd.explain(Plain.apply(x).sum()))


# ---- the check --------------------------------------------------------------------------------------

class WrongExp(autograd.Function):
    """exp, with a backward that forgets the exp."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.exp()

    @staticmethod
    def backward(ctx, g):
        """grad_x = g * exp(x)"""
        x, = ctx.saved_tensors
        return g * x  # wrong: should be g * x.exp()


class RightExp(WrongExp):
    @staticmethod
    def backward(ctx, g):
        """grad_x = g * exp(x)"""
        x, = ctx.saved_tensors
        return g * x.exp()


def test_check_catches_and_names_a_wrong_custom_backward():
    x = gradlab.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
    trace = autograd.explain(lambda: (WrongExp.apply(x) * 3).sum(), check=True)
    assert not trace.ok
    wrong = trace.wrong
    assert wrong["name"] == "WrongExpBackward"
    result = wrong["check"]
    # the worst element: (1, 0), where the backward gives 3 * 2 = 6 and the truth is 3 * e^2
    assert result["input"] == 0 and result["index"] == "index (1, 0)"
    assert result["backward"] == pytest.approx(6.0)
    assert result["finite_difference"] == pytest.approx(3 * np.exp(2.0), rel=1e-6)
    assert "WRONG BACKWARD: step 3, WrongExpBackward #3: input 0 at index (1, 0): backward gives 6, finite " \
           "differences give 22.1672" in str(trace)


def test_check_passes_a_right_custom_backward_without_recording_forwards():
    x = gradlab.tensor([0.5, -1.0, 2.0], requires_grad=True)
    trace = autograd.explain((RightExp.apply(x) * 3).sum(), check=True)
    checks = {s["name"]: s["check"] for s in trace.steps if s["kind"] == "node"}
    assert checks["RightExpBackward"]["ok"] is True
    assert checks["MulBackward0"]["ok"] is None and "record_forwards()" in checks["MulBackward0"]["text"]
    assert trace.ok


def test_check_passes_every_node_of_an_mlp_and_a_small_cnn():
    model, x, y = mlp()
    trace = autograd.explain(lambda: F.cross_entropy(model(x), y), check=True)
    assert trace.ok and all(s["check"]["ok"] for s in trace.steps if s["kind"] == "node")
    gradlab.manual_seed(1)
    conv, images = nn.Conv2d(2, 3, 3, padding=1), gradlab.randn(2, 2, 6, 6)
    with autograd.record_forwards():
        loss = F.max_pool2d(F.relu(conv(images)), 2).flatten(1).softmax(1).log().mean()
    trace = autograd.explain(loss, check=True)
    assert trace.ok and all(s["check"]["ok"] for s in trace.steps if s["kind"] == "node"), str(trace)


def test_check_accepts_subgradients_at_kinks():
    x = gradlab.tensor([[0.0, 1.0, 1.0, -2.0]], requires_grad=True)  # relu at 0, a tie in the max
    trace = autograd.explain(lambda: x.relu().max() + x.abs().sum(), check=True)
    assert trace.ok and all(s["check"]["ok"] for s in trace.steps if s["kind"] == "node"), str(trace)


def test_dropout_is_checked_with_its_own_mask_in_float64_and_skipped_when_it_cannot_be_redrawn():
    gradlab.manual_seed(3)
    x = gradlab.randn(3, 4, dtype=gradlab.float64, requires_grad=True)
    trace = autograd.explain(lambda: (F.dropout(x, 0.5) * x).sum(), check=True)
    assert trace.ok and all(s["check"]["ok"] for s in trace.steps if s["kind"] == "node"), str(trace)
    # float32: the mask comes from a key drawn from the generator, the same in float64, so it is checked too
    x32 = x.detach().float().requires_grad_()
    trace = autograd.explain(lambda: (F.dropout(x32, 0.5) * x32).sum(), check=True)
    assert trace.ok and all(s["check"]["ok"] for s in trace.steps if s["kind"] == "node"), str(trace)
    # a generator explain does not rewind (not the default one) draws another mask on a re-run: not checked
    own = gradlab.Generator().manual_seed(5)
    trace = autograd.explain(lambda: (dropout_op.dropout(x32, 0.5, generator=own) * x32).sum(), check=True)
    dropout = next(s for s in trace.steps if s["kind"] == "node" and s["formula"].startswith("grad_x = g * mask"))
    assert dropout["check"]["ok"] is None and "does not give its output again" in dropout["check"]["text"]
    assert trace.ok


def test_record_forwards_is_off_outside_its_block_and_refuses_to_share_the_profile_hook():
    with autograd.record_forwards():
        assert sys.getprofile() is not None
    assert sys.getprofile() is None
    with gradlab.autograd.profiler.profile():
        with pytest.raises(RuntimeError, match="already running"):
            autograd.record_forwards().__enter__()


def test_a_node_changed_in_place_after_its_op_is_not_checked():
    x = gradlab.tensor([1.0, 2.0], requires_grad=True)
    with autograd.record_forwards():
        y = x * 1
        z = y.exp()
        y.add_(1)  # y was saved by nothing, but exp's input is now different
        loss = z.sum()
    trace = autograd.explain(loss, check=True)
    exp_check = next(s["check"] for s in trace.steps if s["name"] == "ExpBackward0")
    assert exp_check["ok"] is None and "changed in place" in exp_check["text"]


@settings(max_examples=20, deadline=None)
@given(values=hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-2, 2)),
       ops=st.lists(st.sampled_from(["tanh", "sigmoid", "exp", "sin", "relu", "square", "abs"]), min_size=1,
                    max_size=4))
def test_check_has_no_false_alarm_on_correct_ops(values, ops):
    x = gradlab.tensor(values, requires_grad=True)

    def forward():
        y = x
        for name in ops:
            y = getattr(y, name)()
        return y.sum()
    trace = autograd.explain(forward, check=True, accumulate=False)
    assert trace.ok, str(trace)


@pytest.mark.skipif(torch is None, reason="torch not installed")
def test_mlp_grads_match_torch():
    model, x, y = mlp()
    autograd.explain(F.cross_entropy(model(x), y))
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    with torch.no_grad():
        for tp, p in zip(tmodel.parameters(), model.parameters()):
            tp.copy_(torch.from_numpy(p.detach().numpy().copy()))
    torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x.numpy().copy())),
                                      torch.from_numpy(y.numpy().copy())).backward()
    for tp, p in zip(tmodel.parameters(), model.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-6)
