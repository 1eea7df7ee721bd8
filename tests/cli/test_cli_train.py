"""``gradlab train``: outputs, the digits fallback, resume equality, options.

Runs are kept tiny (a few hundred digits images, one or two epochs) so the
file takes seconds; the full MNIST run is behind the ``slow`` marker.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import gradlab
from gradlab import cli

from cli_helpers import ROOT, run

try:
    import matplotlib  # noqa: F401
    HAVE_MATPLOTLIB = True
except ImportError:
    HAVE_MATPLOTLIB = False

QUICK = ["--dataset", "digits", "--limit-train", "256", "--limit-test", "100", "--batch-size", "64",
         "--threads", "1", "--no-progress"]


def read_metrics(out_dir):
    with open(os.path.join(out_dir, "metrics.json")) as f:
        return json.load(f)


def test_one_epoch_writes_metrics_plot_and_checkpoint(tmp_path, capsys):
    status, out, _ = run(capsys, *QUICK, "--epochs", "1", "--out", str(tmp_path))
    assert status == 0
    assert "epoch 1/1  train loss" in out and "test accuracy" in out

    metrics = read_metrics(tmp_path)
    assert metrics["dataset"] == "digits"
    [epoch] = metrics["epochs"]
    assert epoch["epoch"] == 1 and epoch["seconds"] > 0
    assert 0 <= epoch["test_accuracy"] <= 1 and np.isfinite(epoch["train_loss"])

    if HAVE_MATPLOTLIB:
        with open(tmp_path / "learning_curve.png", "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    else:  # an optional extra: the run says it skipped the plot
        assert "matplotlib is not installed" in out

    checkpoint = gradlab.load(str(tmp_path / "checkpoint.gradlab"))
    assert checkpoint["epoch"] == 1
    assert set(checkpoint) >= {"model", "optimizer", "rng", "recipe"}
    assert set(checkpoint["rng"]) == {"global", "shuffle"}
    model = gradlab.models.LeNet5()
    model.load_state_dict(checkpoint["model"])  # strict: every key present


def test_falls_back_to_digits_without_mnist(tmp_path, capsys):
    empty = tmp_path / "no-mnist"
    empty.mkdir()
    status, out, _ = run(capsys, "--data", str(empty), "--no-download", "--limit-train", "128",
                         "--limit-test", "50", "--epochs", "1", "--no-progress", "--out", str(tmp_path / "run"))
    assert status == 0
    assert "MNIST is not available" in out and "--no-download" in out
    assert "scikit-learn's digits" in out
    assert read_metrics(tmp_path / "run")["dataset"] == "digits"
    assert os.listdir(empty) == []  # nothing was downloaded or left behind


def final_state(out_dir):
    return gradlab.load(os.path.join(out_dir, "checkpoint.gradlab"))


def assert_same_run(dir_a, dir_b):
    a, b = final_state(dir_a), final_state(dir_b)
    assert a["epoch"] == b["epoch"]
    for key, value in a["model"].items():
        np.testing.assert_array_equal(value.numpy(), b["model"][key].numpy(), err_msg=key)
    for index, state in a["optimizer"]["state"].items():
        np.testing.assert_array_equal(state["exp_avg_sq"].numpy(),
                                      b["optimizer"]["state"][index]["exp_avg_sq"].numpy())
    assert read_metrics(dir_a)["epochs"] == [
        dict(e, seconds=m["seconds"], images_per_second=m["images_per_second"])
        for e, m in zip(read_metrics(dir_b)["epochs"], read_metrics(dir_a)["epochs"])]


def test_extending_a_run_ends_with_the_same_weights(tmp_path, capsys):
    """2 epochs in one go == 1 epoch, then --resume --epochs 2 (the 'decay' schedule can be extended).
    Two kernel threads: their parallel sums must be taken in the same order on every run."""
    whole, split = str(tmp_path / "whole"), str(tmp_path / "split")
    decay = [*QUICK, "--schedule", "decay", "--threads", "2"]
    assert run(capsys, *decay, "--epochs", "2", "--out", whole)[0] == 0
    assert run(capsys, *decay, "--epochs", "1", "--out", split)[0] == 0
    # the recipe comes from the checkpoint
    status, out, _ = run(capsys, "--no-progress", "--threads", "2", "--epochs", "2", "--resume", "--out", split)
    assert status == 0 and "resuming after epoch 1" in out
    assert_same_run(whole, split)


def test_resume_after_an_interruption_ends_with_the_same_weights(tmp_path, capsys, monkeypatch):
    """A one-cycle run stopped by Ctrl-C during epoch 2 and resumed == the uninterrupted run."""
    whole, split = str(tmp_path / "whole"), str(tmp_path / "split")
    assert run(capsys, *QUICK, "--threads", "2", "--epochs", "2", "--out", whole)[0] == 0

    real_accuracy = cli.Run.test_accuracy

    def interrupted_in_epoch_2(self):
        if self.done == 1:
            raise KeyboardInterrupt
        return real_accuracy(self)
    monkeypatch.setattr(cli.Run, "test_accuracy", interrupted_in_epoch_2)
    status, _, err = run(capsys, *QUICK, "--threads", "2", "--epochs", "2", "--out", split)
    assert status == 130 and "--resume" in err
    assert final_state(split)["epoch"] == 1
    monkeypatch.undo()

    # resumed on one thread: the kernels' sums do not depend on the thread count
    status, out, _ = run(capsys, "--no-progress", "--threads", "1", "--resume", "--out", split)
    assert status == 0 and "resuming after epoch 1" in out
    assert_same_run(whole, split)


def test_a_one_cycle_run_cannot_be_extended(tmp_path, capsys):
    assert run(capsys, *QUICK, "--epochs", "1", "--out", str(tmp_path))[0] == 0
    status, _, err = run(capsys, "--resume", "--epochs", "2", "--out", str(tmp_path))
    assert status == 2 and "planned for 1 epochs" in err


def test_resume_refuses_a_changed_recipe(tmp_path, capsys):
    assert run(capsys, *QUICK, "--epochs", "1", "--out", str(tmp_path))[0] == 0
    status, _, err = run(capsys, *QUICK, "--epochs", "2", "--lr", "0.5", "--resume", "--out", str(tmp_path))
    assert status == 2 and "--lr" in err


def test_resume_without_a_checkpoint_is_an_error(tmp_path, capsys):
    status, _, err = run(capsys, *QUICK, "--resume", "--out", str(tmp_path))
    assert status == 2 and "no checkpoint" in err


def test_runs_without_tqdm_and_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` fail
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    status, out, _ = run(capsys, "--dataset", "digits", "--limit-train", "640", "--limit-test", "50",
                         "--batch-size", "32", "--epochs", "1", "--out", str(tmp_path))
    assert status == 0
    assert "  epoch 1/1:" in out  # plain progress lines instead of a bar
    assert "matplotlib is not installed" in out
    assert not (tmp_path / "learning_curve.png").exists()
    assert (tmp_path / "metrics.json").exists()


def test_decay_schedule_warms_up_then_decays_per_epoch():
    lrs = [cli.lr_at(step, 100, 3, "decay", 1.0, 0.5) for step in range(300)]
    warmup = int(cli.DECAY_WARMUP_EPOCHS * 100)
    assert all(a < b for a, b in zip(lrs[:warmup], lrs[1:warmup]))  # warm-up rises...
    assert all(a > b for a, b in zip(lrs[warmup:], lrs[warmup + 1:]))  # ...then decays
    assert lrs[200] == pytest.approx(0.25)  # halved per epoch
    assert lrs == [cli.lr_at(step, 100, 9, "decay", 1.0, 0.5) for step in range(300)]  # whatever the length


def test_one_cycle_schedule():
    lrs = [cli.lr_at(step, 50, 2, "onecycle", 1.0, None) for step in range(100)]
    peak = int(100 * cli.ONECYCLE_WARMUP) - 1
    assert lrs[peak] == 1.0 and max(lrs) == 1.0
    assert all(a < b for a, b in zip(lrs[:peak], lrs[1:peak + 1]))
    assert all(a > b for a, b in zip(lrs[peak:-1], lrs[peak + 1:-1]))
    assert lrs[-1] == pytest.approx(cli.ONECYCLE_FLOOR)
    assert cli.lr_at(7, 50, 2, "constant", 0.3, None) == 0.3


def test_bad_options_exit_with_usage():
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--epochs", "0"])
    assert exit_info.value.code == 2


def test_python_dash_m_help():
    result = subprocess.run([sys.executable, "-m", "gradlab", "train", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    for option in ("--data", "--download", "--resume", "--limit-train", "--threads", "--optimizer"):
        assert option in result.stdout


def test_threads_option_is_undone_after_the_run(tmp_path, capsys):
    before = gradlab.kernels.get_num_threads()
    assert run(capsys, *QUICK, "--epochs", "1", "--threads", "1", "--out", str(tmp_path))[0] == 0
    assert gradlab.kernels.get_num_threads() == before


def test_console_script_when_installed():
    import shutil
    script = shutil.which("gradlab")
    if script is None:
        pytest.skip("the gradlab console script is not installed (pip install -e .)")
    result = subprocess.run([script, "train", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--resume" in result.stdout


@pytest.mark.slow
def test_default_recipe_reaches_99_percent_on_mnist(tmp_path, capsys, mnist_dir):
    status, out, _ = run(capsys, "--data", str(mnist_dir), "--no-download", "--no-progress", "--out", str(tmp_path))
    assert status == 0
    assert read_metrics(tmp_path)["epochs"][-1]["test_accuracy"] >= 0.99, out
