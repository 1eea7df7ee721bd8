"""gradlab train --export: the trained LeNet-5 as model.safetensors, model.pt (for torch.load) and model.onnx,
each giving the checkpoint's outputs; a missing package is a user error before any training."""
import os

import numpy as np
import pytest

import gradlab
from gradlab.cli.run import CHECKPOINT
from gradlab.models import LeNet5

from cli_helpers import run

QUICK = ["--dataset", "digits", "--epochs", "1", "--limit-train", "64", "--limit-test", "32", "--batch-size", "32",
         "--threads", "1", "--no-progress"]


def _trained(tmp_path):
    model = LeNet5()
    model.load_state_dict(gradlab.load(tmp_path / CHECKPOINT)["model"])
    model.eval()
    return model


def test_export_writes_each_format_with_the_trained_weights(tmp_path, capsys):
    pytest.importorskip("safetensors")
    onnx = pytest.importorskip("onnx")
    status, out, _ = run(capsys, *QUICK, "--out", str(tmp_path), "--export", "safetensors", "--export", "torch",
                         "--export", "onnx")
    assert status == 0, out
    for name in ("model.safetensors", "model.pt", "model.onnx"):
        assert f"wrote {os.path.join(tmp_path, name)}" in out
    model = _trained(tmp_path)
    x = gradlab.randn(3, 1, 28, 28)
    with gradlab.no_grad():
        expected = model(x).numpy()
    for name in ("model.safetensors", "model.pt"):
        again = LeNet5()
        again.load_state_dict(gradlab.load(tmp_path / name))
        again.eval()
        with gradlab.no_grad():
            np.testing.assert_array_equal(again(x).numpy(), expected)
    from onnx.reference import ReferenceEvaluator
    graph = onnx.load(str(tmp_path / "model.onnx"))
    onnx.checker.check_model(graph)
    [got] = ReferenceEvaluator(graph).run(None, {"image": x.numpy()})
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_the_pytorch_file_continues_in_pytorch(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    assert run(capsys, *QUICK, "--out", str(tmp_path), "--export", "torch")[0] == 0
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    ours = _trained(tmp_path).state_dict()
    assert list(state) == list(ours)
    for key, value in state.items():
        np.testing.assert_array_equal(value.numpy(), ours[key].numpy())


def test_an_unknown_format_or_a_missing_package_stops_before_training(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as exc:
        run(capsys, *QUICK, "--out", str(tmp_path), "--export", "tflite")
    assert exc.value.code == 2 and "invalid choice: 'tflite'" in capsys.readouterr().err
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    with pytest.raises(SystemExit) as exc:
        run(capsys, *QUICK, "--out", str(tmp_path / "run"), "--export", "onnx")
    assert exc.value.code == 2 and "--export: onnx needs the onnx package" in capsys.readouterr().err
    assert not (tmp_path / "run" / CHECKPOINT).exists()
