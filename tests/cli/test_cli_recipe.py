"""``gradlab train --recipe fast`` and the to-accuracy machinery: --target, --eval-every/--eval-from, --steps,
--label-smoothing, --beta2, --ema.

The machinery is tested on a few hundred digits images (seconds); the real recipe on MNIST (99% test accuracy
on seeds 0-2) is behind the ``slow`` marker.  No test asserts a time.
"""
import json
import os

import numpy as np
import pytest

import gradlab
from gradlab import cli
from gradlab.cli import options, run as run_module

from cli_helpers import run

QUICK = ["--dataset", "digits", "--limit-train", "256", "--limit-test", "100", "--batch-size", "32",
         "--threads", "1", "--no-progress"]  # 8 steps an epoch


def refused(capsys, *args):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", *args])
    return info.value.code, capsys.readouterr().err


def metrics(out_dir):
    with open(os.path.join(out_dir, "metrics.json")) as f:
        return json.load(f)


# ---------------------------------------------------------------- flags and the named recipe


def resolved(tmp_path, *flags):
    args = options.parse_args(["train", *flags, "--out", str(tmp_path)])
    return run_module.resolve_recipe(args)


def test_the_fast_recipe_sets_its_defaults_and_a_given_flag_wins(tmp_path):
    recipe = resolved(tmp_path, "--recipe", "fast")
    for key, value in options.RECIPES["fast"].items():
        assert recipe[key] == value, key
    assert recipe["recipe"] == "fast" and recipe["target"] == 99.0 and recipe["steps"]
    recipe = resolved(tmp_path, "--recipe", "fast", "--lr", "0.001", "--target", "98.5", "--ema", "0")
    assert (recipe["lr"], recipe["target"], recipe["ema"]) == (0.001, 98.5, 0.0)
    assert recipe["batch_size"] == options.RECIPES["fast"]["batch_size"]


def test_epochs_given_with_the_fast_recipe_replace_its_steps(tmp_path):
    recipe = resolved(tmp_path, "--recipe", "fast", "--epochs", "3")
    assert recipe["steps"] is None
    args = options.parse_args(["train", "--recipe", "fast", "--epochs", "3", "--out", str(tmp_path)])
    assert run_module.resolve_epochs(args, recipe, None, 469) == 3


def test_the_standard_recipe_is_unchanged(tmp_path):
    recipe = resolved(tmp_path)
    assert recipe["recipe"] == "standard"
    assert (recipe["steps"], recipe["target"], recipe["eval_every"], recipe["ema"]) == (None, None, None, 0.0)
    assert (recipe["label_smoothing"], recipe["beta2"], recipe["batch_size"]) == (0.0, 0.999, 128)


def test_steps_make_whole_epochs_enough_to_hold_them(tmp_path):
    recipe = resolved(tmp_path, "--steps", "700")
    args = options.parse_args(["train", "--steps", "700", "--out", str(tmp_path)])
    assert run_module.resolve_epochs(args, recipe, None, 469) == 2
    assert run_module.resolve_epochs(args, dict(recipe, steps=469), None, 469) == 1


@pytest.mark.parametrize("flag, value", [
    ("--recipe", "fastest"), ("--recipe", ""),
    ("--target", "0"), ("--target", "100.5"), ("--target", "nan"), ("--target", "-1"), ("--target", "x"),
    ("--label-smoothing", "1"), ("--label-smoothing", "-0.1"), ("--label-smoothing", "nan"),
    ("--beta2", "1.0"), ("--beta2", "-0.5"), ("--ema", "1"), ("--ema", "inf"),
    ("--steps", "0"), ("--steps", "1.5"), ("--eval-every", "0"), ("--eval-every", "-3"), ("--eval-from", "0"),
])
def test_bad_values_are_usage_errors_before_any_work(tmp_path, capsys, flag, value):
    out = tmp_path / "out"
    status, err = refused(capsys, *QUICK, flag, value, "--out", str(out))
    assert status == 2 and f"gradlab train: error: argument {flag}" in err, err
    assert not out.exists()


@pytest.mark.parametrize("flags, words", [
    (["--steps", "10", "--epochs", "2"], "argument --steps: not allowed with --epochs"),
    (["--eval-from", "5"], "argument --eval-from: needs --eval-every"),
])
def test_conflicting_flags_are_usage_errors(tmp_path, capsys, flags, words):
    status, err = refused(capsys, *QUICK, *flags, "--out", str(tmp_path / "out"))
    assert status == 2 and words in err, err


def test_eval_from_is_taken_with_the_fast_recipe_cadence(tmp_path):
    recipe = resolved(tmp_path, "--recipe", "fast", "--eval-from", "600")
    assert recipe["eval_from"] == 600 and recipe["eval_every"] == options.RECIPES["fast"]["eval_every"]


def test_evaluation_steps():
    assert run_module.evaluation_steps(100, None) is None
    assert run_module.evaluation_steps(100, 30) == {30, 60, 90, 100}
    assert run_module.evaluation_steps(100, 15, 70) == {70, 85, 100}
    assert run_module.evaluation_steps(100, 50, 200) == {100}  # always the last step
    fast = options.RECIPES["fast"]
    steps = sorted(run_module.evaluation_steps(fast["steps"], fast["eval_every"], fast["eval_from"]))
    assert steps[0] == fast["eval_from"] and steps[-1] == fast["steps"]


def test_help_names_the_recipe_and_its_flags(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for words in ("--recipe {fast,standard}", "--target PCT", "--eval-every N", "--steps N", "--ema D",
                  "--label-smoothing X", "shortest run to 99% MNIST test accuracy"):
        assert words in text, words


# ---------------------------------------------------------------- stopping at the target


def scripted_accuracy(monkeypatch, values):
    """Run.test_accuracy returns ``values`` in turn; returns the list of steps it was called at."""
    calls = []
    real_evaluate = cli.Run.evaluate

    def evaluate(self, step):
        calls.append(step)
        return real_evaluate(self, step)
    monkeypatch.setattr(cli.Run, "evaluate", evaluate)
    it = iter(values)
    monkeypatch.setattr(cli.Run, "test_accuracy", lambda self: next(it))
    return calls


def test_the_run_stops_at_the_first_evaluation_reaching_the_target(tmp_path, capsys, monkeypatch):
    calls = scripted_accuracy(monkeypatch, [0.5, 0.89, 0.9, 0.95, 0.99])
    steps = []
    real_set_lr = cli.Run.set_lr
    monkeypatch.setattr(cli.Run, "set_lr", lambda self, step: (steps.append(step), real_set_lr(self, step)))
    status, out, _ = run(capsys, *QUICK, "--steps", "20", "--eval-every", "3", "--eval-from", "4",
                         "--target", "90", "--out", str(tmp_path))
    assert status == 0
    assert calls == [4, 7, 10]  # 0.9 at step 10 reaches 90%: no evaluation after it...
    assert steps == list(range(10))  # ...and no training step
    assert "reached 90% test accuracy (90.00%) at step 10 (epoch 1.25) after" in out
    assert "s of training (3 test evaluations included)" in out
    m = metrics(tmp_path)
    assert m["reached"]["step"] == 10 and m["reached"]["test_accuracy"] == 0.9
    assert [e["step"] for e in m["evaluations"]] == [4, 7, 10]
    assert all(0 < e["seconds"] <= m["reached"]["seconds"] for e in m["evaluations"])
    assert [e["epoch"] for e in m["epochs"]] == [1, 2]
    assert m["epochs"][0]["test_accuracy"] == 0.89  # the last evaluation inside epoch 1
    checkpoint = gradlab.load(str(tmp_path / "checkpoint.gradlab"))
    assert checkpoint["epoch"] == checkpoint["epochs"] == 2  # a finished run


def test_a_run_that_misses_the_target_trains_to_its_end_and_says_so(tmp_path, capsys, monkeypatch):
    calls = scripted_accuracy(monkeypatch, [0.5, 0.7, 0.6, 0.65])
    status, out, _ = run(capsys, *QUICK, "--steps", "12", "--eval-every", "4", "--target", "99",
                         "--out", str(tmp_path))
    assert status == 0 and calls == [4, 8, 12]
    assert "did not reach 99% test accuracy in 12 steps: the best evaluation was 70.00% at step 8" in out
    assert "reached" not in metrics(tmp_path)


def test_a_target_with_per_epoch_evaluations(tmp_path, capsys, monkeypatch):
    calls = scripted_accuracy(monkeypatch, [0.5, 0.95, 0.2])
    status, out, _ = run(capsys, *QUICK, "--epochs", "3", "--target", "90", "--out", str(tmp_path))
    assert status == 0 and calls == [8, 16]
    assert "at step 16 (epoch 2.00)" in out and len(metrics(tmp_path)["epochs"]) == 2


def test_a_real_run_reaches_a_modest_target_and_stops(tmp_path, capsys):
    status, out, _ = run(capsys, *QUICK, "--limit-train", "512", "--limit-test", "200", "--steps", "48",
                         "--eval-every", "4", "--eval-from", "8", "--target", "60", "--lr", "0.01",
                         "--out", str(tmp_path))
    assert status == 0, out
    m = metrics(tmp_path)
    reached, evaluations = m["reached"], m["evaluations"]
    assert reached == dict(evaluations[-1], target=60)  # the last evaluation made is the first to reach it
    assert reached["test_accuracy"] >= 0.60
    assert all(e["test_accuracy"] < 0.60 for e in evaluations[:-1])
    assert [e["step"] for e in evaluations] == list(range(8, reached["step"] + 1, 4))


def test_a_run_that_reached_its_target_is_not_resumed_or_extended(tmp_path, capsys, monkeypatch):
    scripted_accuracy(monkeypatch, [0.95])
    assert run(capsys, *QUICK, "--schedule", "decay", "--eval-every", "4", "--target", "90", "--epochs", "2",
               "--out", str(tmp_path))[0] == 0
    monkeypatch.undo()
    status, out, _ = run(capsys, "--no-progress", "--resume", "--out", str(tmp_path))
    assert status == 0 and "already reached its target" in out and "nothing to do" in out
    status, _, err = run(capsys, "--no-progress", "--resume", "--epochs", "5", "--out", str(tmp_path))
    assert status == 2 and "cannot be extended" in err


# ---------------------------------------------------------------- moving average, label smoothing, beta2


def test_the_moving_average_is_what_is_evaluated_saved_and_exported(tmp_path, capsys):
    status, out, _ = run(capsys, *QUICK, "--steps", "16", "--eval-every", "8", "--ema", "0.5",
                         "--beta2", "0.99", "--label-smoothing", "0.1", "--export", "torch", "--out", str(tmp_path))
    assert status == 0, out
    assert "beta2 0.99, label smoothing 0.1" in out
    checkpoint = gradlab.load(str(tmp_path / "checkpoint.gradlab"))
    assert checkpoint["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.99) or \
        list(checkpoint["optimizer"]["param_groups"][0]["betas"]) == [0.9, 0.99]
    averaged, live = checkpoint["averaged"], checkpoint["model"]
    assert set(averaged) == set(live)
    assert any(not np.array_equal(averaged[k].numpy(), live[k].numpy()) for k in live)
    exported = gradlab.load(str(tmp_path / "model.pt"))
    for key, value in averaged.items():
        np.testing.assert_array_equal(exported[key].numpy(), value.numpy())
    # the average's accuracy is the one recorded: evaluate it again
    model = gradlab.models.LeNet5()
    model.load_state_dict(averaged)
    train_set, test_set, _ = run_module.load_data("digits", None, False, 256, 100)
    recipe = run_module.resolve_recipe(options.parse_args(["train", *QUICK, "--out", str(tmp_path / "x")]))
    probe = cli.Run(recipe, 1, train_set, test_set)
    probe.model = model
    assert probe.test_accuracy() == metrics(tmp_path)["evaluations"][-1]["test_accuracy"]


def test_the_moving_average_follows_its_formula():
    recipe = dict(options.RECIPE_DEFAULTS, lr=0.01, ema=0.75, steps=4)
    train_set, test_set, _ = run_module.load_data("digits", None, False, 64, 10)
    r = cli.Run(recipe, 1, train_set, test_set)
    r.update_average()  # the first call copies
    first = [p.detach().numpy().copy() for p in r.model.parameters()]
    with gradlab.no_grad():
        for p in r.model.parameters():
            p.add_(1.0)
    r.update_average()
    for avg, start in zip(r.averaged.parameters(), first):
        np.testing.assert_allclose(avg.detach().numpy(), start + 0.25, rtol=1e-6, atol=1e-6)


def test_resume_with_a_moving_average_ends_with_the_same_weights(tmp_path, capsys, monkeypatch):
    """Stopped by Ctrl-C in epoch 2 of 3 and resumed == uninterrupted, the average included."""
    flags = [*QUICK, "--epochs", "3", "--ema", "0.9", "--label-smoothing", "0.1"]
    whole, split = str(tmp_path / "whole"), str(tmp_path / "split")
    assert run(capsys, *flags, "--out", whole)[0] == 0
    real = cli.Run.test_accuracy

    def interrupted_in_epoch_3(self):
        if self.done == 2:
            raise KeyboardInterrupt
        return real(self)
    monkeypatch.setattr(cli.Run, "test_accuracy", interrupted_in_epoch_3)
    assert run(capsys, *flags, "--out", split)[0] == 130
    monkeypatch.undo()
    assert gradlab.load(os.path.join(split, "checkpoint.gradlab"))["averaged"] is not None  # step 16 > 12
    assert run(capsys, "--no-progress", "--resume", "--out", split)[0] == 0
    a, b = (gradlab.load(os.path.join(d, "checkpoint.gradlab")) for d in (whole, split))
    for part in ("model", "averaged"):
        for key, value in a[part].items():
            np.testing.assert_array_equal(value.numpy(), b[part][key].numpy(), err_msg=f"{part} {key}")
    status, _, err = run(capsys, "--no-progress", "--resume", "--epochs", "4", "--schedule", "decay",
                         "--out", split)
    assert status == 2


def test_a_checkpoint_from_before_the_recipe_flags_still_resumes(tmp_path, capsys):
    assert run(capsys, *QUICK, "--schedule", "decay", "--epochs", "1", "--out", str(tmp_path))[0] == 0
    path = str(tmp_path / "checkpoint.gradlab")
    checkpoint = gradlab.load(path)
    for key in ("recipe", "label_smoothing", "beta2", "ema", "steps", "target", "eval_every", "eval_from"):
        del checkpoint["recipe"][key]
    del checkpoint["averaged"], checkpoint["history"]["evaluations"]
    gradlab.save(checkpoint, path)
    status, out, _ = run(capsys, "--no-progress", "--resume", "--epochs", "2", "--out", str(tmp_path))
    assert status == 0 and "resuming after epoch 1" in out, out


# ---------------------------------------------------------------- bench/train_lenet.py --to-accuracy


def load_bench():
    import importlib.util
    from cli_helpers import ROOT
    spec = importlib.util.spec_from_file_location("train_lenet", os.path.join(ROOT, "bench", "train_lenet.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_bench_draws_the_batches_gradlab_train_draws():
    from gradlab.utils.data import DataLoader, TensorDataset

    bench = load_bench()
    for seed in (0, 3):
        loader = DataLoader(TensorDataset(gradlab.arange(100)), batch_size=32, shuffle=True,
                            generator=gradlab.Generator().manual_seed(seed))
        theirs = [batch.numpy() for _ in range(3) for (batch,) in loader]  # 3 epochs of 4 batches (the last 4)
        order = bench.recipe_batches(100, 32, seed)
        ours = [next(order) for _ in theirs]
        assert [len(b) for b in ours] == [32, 32, 32, 4] * 3
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)
    assert bench.fast_recipe() == dict(options.RECIPE_DEFAULTS, **options.RECIPES["fast"])


def test_the_bench_time_to_accuracy_stops_at_the_target(monkeypatch):
    """gradlab only: a tiny recipe on random data with a low target stops at the first evaluation."""
    bench = load_bench()
    rng = np.random.default_rng(0)
    train = (rng.normal(size=(64, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 64))
    test = (train[0][:20], train[1][:20])
    recipe = dict(bench.fast_recipe(), steps=6, eval_every=2, eval_from=2, batch_size=16)
    seconds, step, evaluations = bench.time_to_accuracy(train, test, recipe, 0, "gradlab", target=1.0)
    assert seconds > 0 and step == 2 and len(evaluations) == 1
    seconds, step, evaluations = bench.time_to_accuracy(train, test, recipe, 0, "gradlab", target=100.0)
    assert (seconds, step, len(evaluations)) == (None, 6, 3) or evaluations[-1] == 1.0


# ---------------------------------------------------------------- the real recipe


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_fast_recipe_reaches_99_percent_on_mnist(tmp_path, capsys, mnist_dir, seed):
    status, out, _ = run(capsys, "--recipe", "fast", "--seed", str(seed), "--data", str(mnist_dir),
                         "--no-download", "--no-progress", "--threads", "2", "--out", str(tmp_path))
    assert status == 0, out
    m = metrics(tmp_path)
    assert m["dataset"] == "mnist"
    assert m["reached"]["test_accuracy"] >= 0.99, out
    assert "reached 99% test accuracy" in out
