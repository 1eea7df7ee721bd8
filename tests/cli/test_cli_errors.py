"""``gradlab train`` under hostile and unlucky input: bad flags, an unwritable --out, damaged or foreign
checkpoints, Ctrl-C before the first checkpoint, a loss that turns NaN or infinite.

A user error ends at once (before any data is loaded or any file written) with
``gradlab train: error: ...`` and exit status 2; a run that diverges stops with status 1 and keeps the last good
checkpoint byte for byte; nothing ends in a traceback.
"""
import io
import math
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradlab
from gradlab import cli

from cli_helpers import ROOT, run
from gradlab.cli import options

QUICK = ["--dataset", "digits", "--limit-train", "128", "--limit-test", "50", "--batch-size", "32",
         "--threads", "1", "--no-progress"]


def refused(capsys, *args):
    """The exit status and stderr of a command that argparse refuses (SystemExit)."""
    with pytest.raises(SystemExit) as info:
        cli.main(["train", *args])
    return info.value.code, capsys.readouterr().err


# ---------------------------------------------------------------- flags


BAD_VALUES = {
    # finite and > 0 for learning rates
    "--lr": st.one_of(st.sampled_from(["inf", "-inf", "nan", "NaN", "0", "-0.0", "1e400", "", "abc", "0x10"]),
                      st.floats(max_value=0, allow_nan=False).map(repr),
                      st.text(st.characters(codec="utf-8"), max_size=8).filter(lambda t: not _is_float(t))),
    "--lr-decay": st.one_of(st.sampled_from(["inf", "nan", "-5", "0", "1.0000001", "2", ""]),
                            st.floats(min_value=1, exclude_min=True).map(repr),
                            st.floats(max_value=0).map(repr)),
    "--seed": st.one_of(st.integers(max_value=-1).map(str), st.integers(min_value=2**64).map(str),
                        st.sampled_from(["1.5", "1e3", "", "seven", "nan"])),
    "--threads": st.one_of(st.integers(max_value=0).map(str),
                           st.integers(min_value=options.MAX_THREADS + 1).map(str),
                           st.sampled_from(["99999999999", "2.0", "all", ""])),
    "--epochs": st.one_of(st.integers(max_value=0).map(str), st.sampled_from(["1.5", "inf", "", "x"])),
    "--batch-size": st.one_of(st.integers(max_value=0).map(str), st.sampled_from(["nan", "64.0", ""])),
    "--limit-train": st.one_of(st.integers(max_value=0).map(str), st.sampled_from(["-1", "1e3"])),
}


def _is_float(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


@given(data=st.data())
@settings(max_examples=max(60, settings.default.max_examples),  # capsys is read out every time
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_bad_flag_value_is_a_usage_error_before_any_work(data, tmp_path_factory, capsys):
    flag = data.draw(st.sampled_from(sorted(BAD_VALUES)))
    value = data.draw(BAD_VALUES[flag])
    out = tmp_path_factory.mktemp("run") / "out"
    status, err = refused(capsys, *QUICK, flag, value, "--out", str(out))
    assert status == 2
    assert f"gradlab train: error: argument {flag}" in err and "Traceback" not in err
    assert not out.exists()  # refused before anything was created


@given(lr=st.floats(min_value=1e-300, max_value=1e300), decay=st.floats(min_value=1e-300, max_value=1.0),
       seed=st.integers(0, 2**64 - 1), threads=st.integers(1, options.MAX_THREADS))
def test_every_good_flag_value_is_taken_as_given(lr, decay, seed, threads):
    args = options.build_parser().parse_args(["train", "--lr", repr(lr), "--lr-decay", repr(decay),
                                              "--seed", str(seed), "--threads", str(threads)])
    assert (args.lr, args.lr_decay, args.seed, args.threads) == (lr, decay, seed, threads)


def test_bad_flags_through_the_console_entry_point_print_no_traceback(tmp_path):
    for flags in (["--lr-decay", "-5"], ["--out", ""]):
        result = subprocess.run([sys.executable, "-m", "gradlab", "train", *flags] +
                                ([] if "--out" in flags else ["--out", str(tmp_path / "x")]),
                                cwd=ROOT, capture_output=True, text=True, timeout=120,
                                env=dict(os.environ, PYTHONPATH=ROOT))
        assert result.returncode == 2, (flags, result.stderr)
        assert "gradlab train: error:" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- --out


def test_out_that_is_empty_a_file_or_under_a_file_is_refused_at_once(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("not a folder")
    for out, words in (("", "empty name"), ("   ", "empty name"), (str(a_file), "is not a folder"),
                       (str(a_file / "run"), "cannot create the folder")):
        status, err = refused(capsys, *QUICK, "--out", out)
        assert status == 2 and "argument --out" in err and words in err, err
    assert a_file.read_text() == "not a folder"


def test_unwritable_out_is_reported_before_the_first_epoch(tmp_path, capsys, monkeypatch):
    """A folder one cannot write into: for root, permissions do not hold, so /proc stands in for it."""
    if os.geteuid() == 0:
        unwritable = "/proc/self"
        if not os.path.isdir(unwritable):
            pytest.skip("no /proc")
    else:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        unwritable = str(folder)
    monkeypatch.setattr(cli.Run, "train_epoch", lambda *a: pytest.fail("an epoch ran"))
    status, err = refused(capsys, *QUICK, "--out", unwritable)
    assert status == 2 and "cannot write into" in err and unwritable in err


def test_out_that_breaks_during_the_run_stops_with_a_clear_message(tmp_path, capsys, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(gradlab, "save", no_space)
    status, _, err = run(capsys, *QUICK, "--epochs", "1", "--out", str(tmp_path))
    assert status == 1 and "cannot write into --out" in err and "No space left" in err


# ---------------------------------------------------------------- --resume


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    """The bytes of the checkpoint of a clean one-epoch run (trained once for all the tests here)."""
    out = tmp_path_factory.mktemp("good")
    with redirect_stdout(io.StringIO()):
        assert cli.main(["train", *QUICK, "--schedule", "decay", "--epochs", "1", "--out", str(out)]) == 0
    return (out / cli.CHECKPOINT).read_bytes()


@pytest.fixture
def checkpoint_path(tmp_path, good_checkpoint):
    path = tmp_path / cli.CHECKPOINT
    path.write_bytes(good_checkpoint)
    return path


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated", "flipped"])
def test_resume_from_a_damaged_checkpoint_is_a_clear_error(damage, tmp_path, checkpoint_path, capsys):
    path = checkpoint_path
    data = path.read_bytes()
    damaged = {"garbage": b"not a checkpoint", "empty": b"", "truncated": data[:len(data) // 2],
               "flipped": data[:-9] + bytes([data[-9] ^ 0xFF]) + data[-8:]}[damage]
    path.write_bytes(damaged)
    status, _, err = run(capsys, "--resume", "--no-progress", "--out", str(tmp_path))
    assert status == 2 and "gradlab train: error: --resume: cannot read the checkpoint" in err, err
    assert path.read_bytes() == damaged  # left as it was


@pytest.mark.parametrize("content, words", [
    ({"a": 1}, "it lacks epoch"),
    ([1, 2, 3], "it is a list, not a dict"),
    (gradlab.zeros(3), "it is a Tensor, not a dict"),
])
def test_resume_from_a_gradlab_file_that_is_not_a_checkpoint(content, words, tmp_path, capsys):
    gradlab.save(content, str(tmp_path / cli.CHECKPOINT))
    status, _, err = run(capsys, "--resume", "--out", str(tmp_path))
    assert status == 2 and "is not a checkpoint of gradlab train" in err and words in err, err


FORGERIES = {
    "lr is inf": lambda c: c["recipe"].update(lr=math.inf),
    "lr_decay is negative": lambda c: c["recipe"].update(lr_decay=-5.0),
    "seed is negative": lambda c: c["recipe"].update(seed=-1),
    "unknown optimizer": lambda c: c["recipe"].update(optimizer="rmsprop"),
    "no recipe": lambda c: c.pop("recipe"),
    "epoch past the end": lambda c: c.update(epoch=99),
    "epoch is a string": lambda c: c.update(epoch="1"),
    "model of another shape": lambda c: c["model"].update({"conv1.weight": gradlab.zeros(2, 2)}),
    "model of other keys": lambda c: c.update(model={"w": gradlab.zeros(1)}),
    "rng missing": lambda c: c["rng"].pop("shuffle"),
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_resume_from_a_forged_checkpoint_is_a_clear_error(forgery, tmp_path, checkpoint_path, capsys):
    path = checkpoint_path
    checkpoint = gradlab.load(str(path))
    FORGERIES[forgery](checkpoint)
    gradlab.save(checkpoint, str(path))
    status, _, err = run(capsys, "--resume", "--no-progress", "--out", str(tmp_path))
    assert status == 2 and "gradlab train: error: --resume:" in err, (forgery, err)


def test_resume_through_the_console_entry_point_prints_no_traceback(tmp_path):
    (tmp_path / cli.CHECKPOINT).write_bytes(b"GRADLAB\x00 but then nothing sensible")
    result = subprocess.run([sys.executable, "-m", "gradlab", "train", "--resume", "--out", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 2 and "cannot read the checkpoint" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- Ctrl-C


def test_ctrl_c_in_the_first_epoch_does_not_claim_a_checkpoint(tmp_path, capsys, monkeypatch):
    def interrupted(self, bar):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli.Run, "train_epoch", interrupted)
    status, _, err = run(capsys, *QUICK, "--epochs", "2", "--out", str(tmp_path))
    assert status == 130 and "no checkpoint was written" in err and "--resume" not in err
    assert not (tmp_path / cli.CHECKPOINT).exists()


def test_ctrl_c_after_an_epoch_names_the_epoch_in_the_checkpoint(tmp_path, capsys, monkeypatch):
    real = cli.Run.train_epoch

    def interrupted_in_epoch_2(self, bar):
        if self.done == 1:
            raise KeyboardInterrupt
        return real(self, bar)
    monkeypatch.setattr(cli.Run, "train_epoch", interrupted_in_epoch_2)
    status, _, err = run(capsys, *QUICK, "--epochs", "3", "--out", str(tmp_path))
    assert status == 130 and "holds epoch 1" in err and "--resume" in err
    assert gradlab.load(str(tmp_path / cli.CHECKPOINT))["epoch"] == 1


def test_ctrl_c_before_training_says_nothing_was_written(tmp_path, capsys, monkeypatch):
    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli.run, "load_data", interrupted)
    status, _, err = run(capsys, *QUICK, "--out", str(tmp_path))
    assert status == 130 and "before training started" in err


# ---------------------------------------------------------------- divergence


def _poison_loss(monkeypatch, at_call, value):
    """cross_entropy returns ``value`` on its ``at_call``-th training call (counting from 0)."""
    import gradlab.nn.functional as F
    real = F.cross_entropy
    calls = [0]

    def poisoned(*args, **kwargs):
        loss = real(*args, **kwargs)
        calls[0] += 1
        if calls[0] - 1 == at_call:
            return loss * value if math.isnan(value) else loss + value
        return loss
    monkeypatch.setattr(F, "cross_entropy", poisoned)


@given(step=st.integers(0, 7), value=st.sampled_from([math.nan, math.inf, -math.inf]))
@settings(max_examples=6)
def test_a_loss_that_turns_non_finite_stops_the_run_and_keeps_the_checkpoint(step, value, tmp_path_factory):
    """After a clean epoch 1, a NaN/inf loss at any step of epochs 2-3 (4 steps each) stops the run, names the
    epoch and step, exits 1 and leaves the checkpoint of the last finished epoch as it was."""
    out = tmp_path_factory.mktemp("run")
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch, redirect_stderr(err), redirect_stdout(io.StringIO()):
        assert cli.main(["train", *QUICK, "--schedule", "decay", "--epochs", "1", "--out", str(out)]) == 0
        after_epoch_1 = (out / cli.CHECKPOINT).read_bytes()
        _poison_loss(monkeypatch, step, value)
        status = cli.main(["train", "--no-progress", "--threads", "1", "--resume", "--epochs", "3",
                           "--out", str(out)])
    per_epoch = 128 // 32
    epoch, in_epoch = 2 + step // per_epoch, step % per_epoch + 1
    text = err.getvalue()
    assert status == 1
    assert f"in epoch {epoch}, step {in_epoch} of {per_epoch}" in text and "Traceback" not in text, text
    if epoch == 2:
        assert (out / cli.CHECKPOINT).read_bytes() == after_epoch_1 and "still holds epoch 1" in text
    else:
        assert gradlab.load(str(out / cli.CHECKPOINT))["epoch"] == 2 and "still holds epoch 2" in text


def test_weights_that_overflow_in_the_last_step_are_not_saved(tmp_path, capsys, monkeypatch):
    real_step = gradlab.optim.Adam.step

    def overflowing_step(self, *args, **kwargs):
        result = real_step(self, *args, **kwargs)
        self.param_groups[0]["params"][0]._data[...] = math.inf
        return result
    monkeypatch.setattr(gradlab.optim.Adam, "step", overflowing_step)
    # one step per epoch: the overflow happens in the last step, after a finite loss
    status, _, err = run(capsys, *QUICK, "--batch-size", "128", "--epochs", "1", "--out", str(tmp_path))
    assert status == 1 and "weights became non-finite in epoch 1, step 1 of 1" in err
    assert not (tmp_path / cli.CHECKPOINT).exists()


def test_a_huge_learning_rate_stops_with_a_message_not_nan_weights(tmp_path, capsys):
    status, _, err = run(capsys, *QUICK, "--optimizer", "sgd", "--lr", "1e10", "--epochs", "2",
                         "--out", str(tmp_path))
    assert status == 1 and "became nan" in err and "in epoch 1" in err
    assert not (tmp_path / cli.CHECKPOINT).exists()


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_during_training_stops_at_the_next_step(capsys, tmp_path, monkeypatch, presses):
    """Ctrl-C landing in the middle of epoch 1's plot: once, the plot is finished and training stops before
    epoch 2's first step; twice, the second press interrupts at once.  Either way exit 130, and the message
    names the checkpoint's epoch."""
    import signal

    from gradlab.cli import run as run_module
    drawn, steps = [], []
    draw = run_module.plot_curve

    def plot_with_ctrl_c(path, metrics, quiet=False):
        for _ in range(presses):
            signal.raise_signal(signal.SIGINT)
        drawn.append(draw(path, metrics, quiet=quiet))
    monkeypatch.setattr(run_module, "plot_curve", plot_with_ctrl_c)
    set_lr = run_module.Run.set_lr
    monkeypatch.setattr(run_module.Run, "set_lr", lambda self, step: (steps.append(step), set_lr(self, step)))
    handler = signal.getsignal(signal.SIGINT)
    status, _, err = run(capsys, *QUICK, "--epochs", "3", "--out", str(tmp_path))
    assert status == 130 and "holds epoch 1" in err, err
    assert len(steps) == 4          # 128 images in batches of 32: epoch 1's steps, none of epoch 2's
    assert len(drawn) == (1 if presses == 1 else 0)   # the plot was finished, or never got its turn
    assert gradlab.load(str(tmp_path / cli.CHECKPOINT))["epoch"] == 1
    assert signal.getsignal(signal.SIGINT) is handler      # Ctrl-C is a KeyboardInterrupt again


def test_a_real_sigint_says_the_truth_about_the_checkpoint(tmp_path):
    """SIGINT to ``python -m gradlab train`` once training has begun: exit 130, no traceback, and what the
    message says about the checkpoint is what is on disk (whichever epoch the signal lands in)."""
    import signal
    import time
    process = subprocess.Popen([sys.executable, "-u", "-m", "gradlab", "train", "--dataset", "digits",
                                "--batch-size", "8", "--epochs", "3", "--threads", "1", "--no-progress",
                                "--out", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    try:
        header = process.stdout.readline()  # printed just before the first epoch starts
        assert header.startswith("LeNet-5 on digits"), header
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    checkpoint = tmp_path / cli.CHECKPOINT
    assert process.returncode == 130 and "Traceback" not in err, err
    if "no checkpoint was written" in err:
        assert not checkpoint.exists()
    else:
        epoch = int(err.split("holds epoch ")[1].split()[0])
        assert gradlab.load(str(checkpoint))["epoch"] == epoch
