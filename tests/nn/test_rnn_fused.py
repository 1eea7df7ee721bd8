"""nn.RNN / nn.LSTM / nn.GRU on the fused recurrent kernels (gradlab/ops/nn/rnn.py) against the step-by-step
reference path of the same module (``gradlab.nn.modules.rnn.fused = False``): outputs, final states and all
gradients, for the configurations the fused path takes, and the cases it leaves to the reference."""
import numpy as np
import pytest

import gradlab
from gradlab import nn
from gradlab.nn.modules import rnn as rnn_module

CONFIGS = [
    dict(),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=3, batch_first=True, dropout=0.3),
    dict(bias=False, bidirectional=True, batch_first=True),
]
LAYERS = [("LSTM", {}), ("GRU", {}), ("RNN", {"nonlinearity": "tanh"}), ("RNN", {"nonlinearity": "relu"})]


def _states(name, out):
    _, hidden = out
    return list(hidden) if name == "LSTM" else [hidden]


def _run(fused, name, extra, config, dtype, given_hx, unbatched, create_graph=False):
    """Forward and backward of one fresh module (same seed, so the same weights and dropout masks)."""
    gradlab.manual_seed(0)
    layer = getattr(nn, name)(4, 8, **extra, **config)
    layer = layer.double() if dtype == "float64" else layer
    rng = np.random.default_rng(1)
    shape = (5, 4) if unbatched else ((3, 5, 4) if config.get("batch_first") else (5, 3, 4))
    x = gradlab.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
    hx = None
    if given_hx:
        layers = config.get("num_layers", 1) * (2 if config.get("bidirectional") else 1)
        state = (layers, 8) if unbatched else (layers, 3, 8)
        hx = [gradlab.tensor(rng.standard_normal(state).astype(dtype), requires_grad=True)
              for _ in range(2 if name == "LSTM" else 1)]
    rnn_module.fused = fused
    try:
        out = layer(x, (tuple(hx) if name == "LSTM" else hx[0]) if hx else None)
        results = [out[0]] + _states(name, out)
        zero = gradlab.tensor(0.0, dtype=results[0].dtype)
        loss = sum(((r * r).sum() * (k + 1) for k, r in enumerate(results)), zero)
        wrt = [x] + (hx or []) + list(layer.parameters())
        grads = gradlab.autograd.grad(loss, wrt, create_graph=create_graph)
        if create_graph:   # a second derivative: through the recorded backward
            grads = gradlab.autograd.grad(sum((g * g).sum() for g in grads), [x] + (hx or []))
    finally:
        rnn_module.fused = True
    return [r.detach().numpy() for r in results], [g.detach().numpy() for g in grads], out


@pytest.mark.parametrize("name,extra", LAYERS)
@pytest.mark.parametrize("config", CONFIGS)
def test_fused_matches_step_by_step(name, extra, config):
    for dtype, given_hx, unbatched in [("float32", False, False), ("float64", True, False),
                                       ("float32", True, True)]:
        tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
        fused_results, fused_grads, _ = _run(True, name, extra, config, dtype, given_hx, unbatched)
        ref_results, ref_grads, _ = _run(False, name, extra, config, dtype, given_hx, unbatched)
        for a, b in zip(fused_results + fused_grads, ref_results + ref_grads):
            assert a.dtype == b.dtype == np.dtype(dtype)
            np.testing.assert_allclose(a, b, **tol)


def _nodes(t):
    """Every graph node reachable from t's grad_fn."""
    seen, todo = set(), [t.grad_fn]
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        todo.extend(n for n, _ in node.next_functions)
    return seen


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
def test_one_node_per_layer_and_direction(name):
    layer = getattr(nn, name)(4, 8, num_layers=2, bidirectional=True)
    out, _ = layer(gradlab.randn(50, 3, 4))
    kinds = [node.name() for node in _nodes(out)]
    assert sum(k.endswith("LayerBackward0") for k in kinds) == 4
    assert len(kinds) < 40          # with the 16 parameters; the step-by-step path records hundreds
    rnn_module.fused = False
    try:
        out, _ = layer(gradlab.randn(50, 3, 4))
        assert len(_nodes(out)) > 500
    finally:
        rnn_module.fused = True


@pytest.mark.parametrize("name,extra", LAYERS)
def test_double_backward_matches_step_by_step(name, extra):
    config = dict(num_layers=2, bidirectional=True)
    fused = _run(True, name, extra, config, "float64", True, False, create_graph=True)[1]
    ref = _run(False, name, extra, config, "float64", True, False, create_graph=True)[1]
    for a, b in zip(fused, ref):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def test_proj_size_and_float16_keep_the_step_by_step_path():
    lstm = nn.LSTM(4, 8, proj_size=3)
    out, _ = lstm(gradlab.randn(5, 2, 4))
    assert not any(node.name().endswith("LayerBackward0") for node in _nodes(out))
    gru = nn.GRU(4, 8).half()
    out, _ = gru(gradlab.randn(5, 2, 4).half())
    assert out.dtype == gradlab.float16
    assert not any(node.name().endswith("LayerBackward0") for node in _nodes(out))


def test_changing_the_output_in_place_is_caught():
    out, _ = nn.LSTM(4, 8)(gradlab.randn(5, 2, 4))
    loss = out.sum()
    out.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation: the output of LSTMLayerBackward0"):
        loss.backward()
