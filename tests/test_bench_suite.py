"""bench/suite.py: its workloads build and agree on both engines, its FLOP counts, table and chart.

No timing is asserted: the figures depend on the machine.
"""
import importlib.util
import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import gradlab

ROOT = pathlib.Path(__file__).resolve().parent.parent

try:
    import torch
except ImportError:
    torch = None

sys.path.insert(0, str(ROOT / "bench"))
from workloads import all_workloads, same_start  # noqa: E402

spec = importlib.util.spec_from_file_location("bench_suite", ROOT / "bench" / "suite.py")
suite = importlib.util.module_from_spec(spec)
spec.loader.exec_module(suite)

WORKLOADS = all_workloads()
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def first_output(lib, w):
    """The loss (training) or the logits (inference) of the first batch, dropout off."""
    lib.manual_seed(0)
    model, optimizer = w.build(lib)
    same_start(lib, model)
    model.eval()
    data = [lib.from_numpy(a) for a in w.batch(np.random.default_rng(0))]
    with lib.no_grad():
        out = w.loss(lib, model, *data) if optimizer is not None else model(*data)
    return out.numpy()


@needs_torch
@pytest.mark.parametrize("name", ["mlp", "lenet", "cnn", "lstm", "transformer", "infer1"])
def test_same_code_same_weights_same_answer_on_both_engines(name):
    w = WORKLOADS[name]
    np.testing.assert_allclose(first_output(gradlab, w), first_output(torch, w), rtol=1e-4, atol=1e-5)


@needs_torch
@pytest.mark.parametrize("name", ["mlp", "lenet", "cnn", "transformer", "infer1"])
def test_flop_counts_match_pytorchs_counter(name):
    from torch.utils.flop_counter import FlopCounterMode

    w = WORKLOADS[name]
    torch.manual_seed(0)
    model, optimizer = w.build(torch)
    data = [torch.from_numpy(a) for a in w.batch(np.random.default_rng(0))]
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        w.loss(torch, model, *data) if optimizer is not None else model(*data)
    forward = w.flops / 3 if optimizer is not None else w.flops
    assert counter.get_total_flops() == forward


@needs_torch
def test_lstm_flop_count_matches_the_cells_unrolled():
    # PyTorch's fused CPU LSTM is one call the counter does not see: count the same gates as cells
    from torch.utils.flop_counter import FlopCounterMode
    from workloads import char_lstm as c

    cells = [torch.nn.LSTMCell(c.EMBED, c.HIDDEN), torch.nn.LSTMCell(c.HIDDEN, c.HIDDEN)]
    head = torch.nn.Linear(c.HIDDEN, c.VOCAB)
    x = torch.zeros(c.BATCH, c.SEQ, c.EMBED)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        for cell in cells:
            state, outs = None, []
            for t in range(c.SEQ):
                state = cell(x[:, t], state)
                outs.append(state[0])
            x = torch.stack(outs, 1)
        head(x)
    assert counter.get_total_flops() == WORKLOADS["lstm"].flops / 3


def test_suite_runs_one_workload_on_gradlab(tmp_path):
    out = tmp_path / "rows.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "suite.py"), "--quick", "--workloads", "mlp",
                           "--steps", "2", "--threads", "1", "--no-torch", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "| MLP 784-256-256-10, ReLU, Adam, batch 128 | 1 |" in done.stdout
    (row,) = json.loads(out.read_text())
    assert row["engine"] == "gradlab" and row["steps_per_s"] > 0 and len(row["losses"]) == 2
    assert math.isclose(row["gflops"], row["steps_per_s"] * WORKLOADS["mlp"].flops / 1e9)


def fake_rows(engines):
    rows = []
    for name in ("mlp", "lstm"):
        for threads in (1, 2):
            for engine, speed in zip(engines, (3.0, 2.0)):
                rows.append({"workload": name, "title": WORKLOADS[name].title, "threads": threads,
                             "engine": engine, "steps_per_s": speed * threads, "items_per_s": 100.0 * speed,
                             "unit": "images", "gflops": speed, "peak_fraction": 0.25, "losses": [1.0, 0.5],
                             "version": "0"})
    return rows


def test_table_gives_the_ratio_to_pytorch_and_goes_without_it():
    names = {n: WORKLOADS[n] for n in ("mlp", "lstm")}
    both = suite.table(fake_rows(["gradlab", "torch"]), names, [1, 2])
    lines = both.splitlines()
    assert len(lines) == 2 + 4 and all(line.endswith("| 1.50x |") for line in lines[2:])
    alone = suite.table(fake_rows(["gradlab"]), names, [1, 2])
    assert "PyTorch" not in alone and "| 25% |" in alone


@pytest.mark.parametrize("engines", [["gradlab", "torch"], ["gradlab"]])
def test_chart_is_a_png(tmp_path, engines):
    pytest.importorskip("matplotlib")
    path = tmp_path / "suite.png"
    suite.chart(fake_rows(engines), {n: WORKLOADS[n] for n in ("mlp", "lstm")}, [1, 2], path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
