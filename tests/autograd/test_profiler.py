"""The per-op profiler: which events it records, how it nests them, how it prints."""
import json
import sys
import time

import pytest

import gradlab
import gradlab.nn as nn
import gradlab.nn.functional as F
from gradlab.autograd.profiler import profile, record_function


def rows(prof):
    return {r.key: r for r in prof.key_averages()}


def small_step(model, opt):
    x = gradlab.randn(4, 1, 8, 8)
    y = gradlab.tensor([0, 1, 2, 1])
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()


def make_model():
    gradlab.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(18, 3))


def test_a_training_step_lists_forward_ops_backward_nodes_and_the_optimizer_step():
    model = make_model()
    opt = gradlab.optim.SGD(model.parameters(), lr=0.1)
    with profile() as prof:
        for _ in range(3):
            small_step(model, opt)
    r = rows(prof)
    for name in ("conv2d", "relu", "max_pool2d", "linear", "cross_entropy"):
        assert r[name].count == 3, name
    for name in ("ConvolutionBackward0", "ReluBackward0", "MaxPool2DWithIndicesBackward0", "AddmmBackward0"):
        assert r[name].count == 3, name
    assert r["Optimizer.step#SGD.step"].count == 3
    for row in r.values():
        assert 0 <= row.self_cpu_time_total <= row.cpu_time_total + 1e-6


def test_an_op_that_calls_an_op_is_its_parent():
    x = gradlab.randn(3, 4, 5)
    with profile() as prof:
        x.flatten(1)
    r = rows(prof)
    assert r["flatten"].count == 1 and r["reshape"].count == 1
    assert r["flatten"].cpu_time_total >= r["reshape"].cpu_time_total
    # self times add up to the parent's total
    assert r["flatten"].self_cpu_time_total + r["reshape"].cpu_time_total == pytest.approx(
        r["flatten"].cpu_time_total, rel=1e-6)
    assert prof.self_cpu_time_total == pytest.approx(r["flatten"].cpu_time_total, rel=1e-6)


def test_nn_functional_calling_the_op_of_the_same_name_counts_once():
    x, w = gradlab.randn(1, 1, 5, 5), gradlab.randn(1, 1, 3, 3)
    with profile() as prof:
        F.conv2d(x, w)
    assert rows(prof)["conv2d"].count == 1


def test_the_ops_a_backward_formula_runs_are_part_of_its_node():
    a = gradlab.randn(3, requires_grad=True)
    b = gradlab.randn(3, requires_grad=True)
    with profile() as prof:
        (a * b).sum().backward()   # MulBackward0 computes g * b and g * a with the mul op
    r = rows(prof)
    assert r["mul"].count == 1
    assert r["MulBackward0"].count == 1 and r["SumBackward0"].count == 1


def test_record_function_times_a_named_block():
    x = gradlab.randn(10)
    with profile() as prof:
        with record_function("my block"):
            time.sleep(0.01)
            x.relu()
    r = rows(prof)
    assert r["my block"].count == 1 and r["my block"].cpu_time_total >= 10_000
    assert r["my block"].self_cpu_time_total == pytest.approx(
        r["my block"].cpu_time_total - r["relu"].cpu_time_total, rel=1e-6)

    @record_function("decorated")
    def f():
        return x * 2
    with profile() as prof:
        f()
        f()
    assert rows(prof)["decorated"].count == 2
    with record_function("no profiler running"):   # harmless outside a profile
        f()


def test_the_profiler_cleans_up_after_an_exception():
    before = sys.getprofile()
    with pytest.raises(ZeroDivisionError):
        with profile() as prof:
            with record_function("failing"):
                1 / 0
    assert sys.getprofile() is before
    assert rows(prof)["failing"].count == 1
    with profile():        # and a new one can start
        pass


def test_profilers_do_not_nest_and_disabled_records_nothing():
    with profile():
        with pytest.raises(RuntimeError, match="already running"):
            with profile():
                pass
    with profile(enabled=False) as prof:
        gradlab.randn(3).relu()
    assert len(prof.key_averages()) == 0


def test_table_prints_like_pytorch_and_checks_sort_by():
    with profile() as prof:
        x = gradlab.randn(4, 4)
        for _ in range(3):
            x = (x @ x).relu()
    text = prof.key_averages().table(sort_by="count", row_limit=1)
    lines = text.splitlines()
    assert lines[1].split()[:2] == ["Name", "Self"] and "# of Calls" in lines[1]
    assert len([ln for ln in lines if ln.startswith(("matmul", "relu"))]) == 1    # row_limit
    assert lines[3].split()[-1] == "3"
    assert text.strip().splitlines()[-1].startswith("Self CPU time total:")
    with pytest.raises(ValueError, match="sort_by"):
        prof.key_averages().table(sort_by="flops")
    total = prof.key_averages().total_average()
    assert total.count == 6


def test_chrome_trace_export(tmp_path):
    with profile() as prof:
        a = gradlab.randn(3, requires_grad=True)
        (a * 2).sum().backward()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    events = json.loads(path.read_text())["traceEvents"]
    names = [e["name"] for e in events]
    assert "mul" in names and "MulBackward0" in names
    assert all(e["ph"] == "X" and e["dur"] >= 0 for e in events)


def test_torch_profiler_spelling():
    import gradlab.profiler as P
    x = gradlab.randn(2, 2)
    with P.profile(activities=[P.ProfilerActivity.CPU], record_shapes=True) as prof:
        with P.record_function("model_inference"):
            x.exp()
    assert {"model_inference", "exp"} <= set(rows(prof))
    with pytest.raises(RuntimeError, match="CPU only"):
        P.profile(activities=[P.ProfilerActivity.CUDA])
    assert gradlab.profiler is P
