"""Learning-rate schedulers: sequences against torch and against their closed forms, state, warnings, errors."""
import math
import warnings

import numpy as np
import pytest

import gradlab
from gradlab import optim
from gradlab.optim import lr_scheduler as L


def make_optimizer(T, name="SGD", **kwargs):
    """Two parameter groups (lr 0.1 and 0.05), so every per-group path is exercised."""
    kwargs.setdefault("lr", 0.1)
    p, q = T.zeros(2, requires_grad=True), T.zeros(2, requires_grad=True)
    return getattr(T.optim, name)([{"params": [p]}, {"params": [q], "lr": 0.05}], **kwargs)


def first_momentum(opt):
    group = opt.param_groups[0]
    return group["betas"][0] if "betas" in group else group.get("momentum", 0.0)


def lr_sequence(T, opt_name, opt_kwargs, make, steps=30, metrics=None):
    """[lr of each group, momentum of group 0] after construction and after each of ``steps`` steps."""
    opt = make_optimizer(T, opt_name, **opt_kwargs)
    sched = make(T.optim.lr_scheduler, opt)
    rows = [list(sched.get_last_lr()) + [first_momentum(opt)]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about stepping an optimizer that has no gradients
        for i in range(steps):
            opt.step()
            sched.step() if metrics is None else sched.step(metrics[i])
            rows.append(list(sched.get_last_lr()) + [first_momentum(opt)])
    return np.array(rows, dtype=float)


PLATEAU_METRICS = [1.0, 0.9, 0.9, 0.9, 0.95, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8] + [0.8] * 18

SCHEDULES = {
    "step": ("SGD", dict(momentum=0.9), lambda S, o: S.StepLR(o, 4, gamma=0.5)),
    "multistep": ("SGD", {}, lambda S, o: S.MultiStepLR(o, [3, 7, 7, 12], gamma=0.3)),
    "exponential": ("SGD", {}, lambda S, o: S.ExponentialLR(o, 0.9)),
    "cosine": ("SGD", {}, lambda S, o: S.CosineAnnealingLR(o, 10, eta_min=0.001)),
    "onecycle-cos": ("SGD", dict(momentum=0.9), lambda S, o: S.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=30)),
    "onecycle-linear-3phase-adam": ("Adam", {}, lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=31,
                                                                           anneal_strategy="linear", three_phase=True)),
    "onecycle-epochs": ("SGD", dict(momentum=0.9), lambda S, o: S.OneCycleLR(
        o, max_lr=0.3, epochs=3, steps_per_epoch=10, pct_start=0.25, div_factor=10.0, final_div_factor=100.0,
        base_momentum=0.8, max_momentum=0.9)),
    "onecycle-no-momentum": ("Adagrad", {}, lambda S, o: S.OneCycleLR(o, max_lr=0.2, total_steps=30,
                                                                      cycle_momentum=False)),
    "lambda": ("SGD", {}, lambda S, o: S.LambdaLR(o, lambda e: 0.95 ** e)),
    "lambda-per-group": ("SGD", {}, lambda S, o: S.LambdaLR(o, [lambda e: 1 / (e + 1), lambda e: 0.9 ** e])),
    "multiplicative": ("SGD", {}, lambda S, o: S.MultiplicativeLR(o, lambda e: 0.95)),
    "linear": ("SGD", {}, lambda S, o: S.LinearLR(o, start_factor=0.25, total_iters=8)),
    "linear-down": ("SGD", {}, lambda S, o: S.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=10)),
    "constant": ("SGD", {}, lambda S, o: S.ConstantLR(o, factor=0.5, total_iters=4)),
    "polynomial": ("SGD", {}, lambda S, o: S.PolynomialLR(o, total_iters=12, power=2.0)),
    "warm-restarts": ("SGD", {}, lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.01)),
    "warm-restarts-1": ("SGD", {}, lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=7)),
    "cyclic-triangular2": ("SGD", dict(momentum=0.9), lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=4,
                                                                              mode="triangular2")),
    "cyclic-exp-adam": ("Adam", {}, lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=3, step_size_down=5,
                                                             mode="exp_range", gamma=0.97)),
    "sequential": ("SGD", {}, lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, 0.1, total_iters=5), S.CosineAnnealingLR(o, 20)], milestones=[5])),
    "sequential-3": ("SGD", {}, lambda S, o: S.SequentialLR(
        o, [S.ConstantLR(o, 0.5, total_iters=3), S.ExponentialLR(o, 0.9), S.StepLR(o, 4, 0.5)], milestones=[4, 12])),
    "chained": ("SGD", {}, lambda S, o: S.ChainedScheduler([S.ExponentialLR(o, 0.95), S.StepLR(o, 3, 0.5)])),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_sequence_matches_torch(name):
    torch = pytest.importorskip("torch")
    opt_name, opt_kwargs, make = SCHEDULES[name]
    ours = lr_sequence(gradlab, opt_name, opt_kwargs, make)
    theirs = lr_sequence(torch, opt_name, opt_kwargs, make)
    assert ours.shape == theirs.shape == (31, 3)
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=0)


@pytest.mark.parametrize("kwargs", [
    dict(patience=1),
    dict(mode="max", threshold_mode="abs", patience=2, cooldown=2, factor=0.5, min_lr=0.02),
    dict(patience=0, threshold=0.05, min_lr=[0.01, 0.001], eps=1e-3),
])
def test_reduce_on_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    make = lambda S, o: S.ReduceLROnPlateau(o, **kwargs)   # noqa: E731
    ours = lr_sequence(gradlab, "SGD", {}, make, metrics=PLATEAU_METRICS)
    theirs = lr_sequence(torch, "SGD", {}, make, metrics=PLATEAU_METRICS)
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=0)


# ---- closed forms, no torch needed ------------------------------------------------------------------
def lrs_of(make, steps=30, opt_name="SGD", **opt_kwargs):
    return lr_sequence(gradlab, opt_name, opt_kwargs, make, steps)[:, 0]


def test_step_and_multistep_closed_forms():
    epochs = np.arange(31)
    np.testing.assert_allclose(lrs_of(lambda S, o: S.StepLR(o, 4, gamma=0.5)), 0.1 * 0.5 ** (epochs // 4))
    np.testing.assert_allclose(lrs_of(lambda S, o: S.MultiStepLR(o, [3, 7, 7])),
                               0.1 * 0.1 ** ((epochs >= 3) + 2 * (epochs >= 7)))
    np.testing.assert_allclose(lrs_of(lambda S, o: S.ExponentialLR(o, 0.9)), 0.1 * 0.9 ** epochs)


def test_cosine_annealing_closed_form():
    T_max, eta_min = 10, 0.001
    epochs = np.arange(31)
    expected = eta_min + (0.1 - eta_min) * (1 + np.cos(np.pi * epochs / T_max)) / 2
    np.testing.assert_allclose(lrs_of(lambda S, o: S.CosineAnnealingLR(o, T_max, eta_min)), expected, rtol=1e-10)


def test_linear_constant_polynomial_closed_forms():
    e = np.arange(31)
    np.testing.assert_allclose(lrs_of(lambda S, o: S.LinearLR(o, start_factor=0.25, total_iters=8)),
                               0.1 * (0.25 + 0.75 * np.minimum(e, 8) / 8), rtol=1e-12)
    np.testing.assert_allclose(lrs_of(lambda S, o: S.ConstantLR(o, factor=0.5, total_iters=4)),
                               np.where(e < 4, 0.05, 0.1), rtol=1e-12)
    np.testing.assert_allclose(lrs_of(lambda S, o: S.PolynomialLR(o, total_iters=12, power=2.0)),
                               0.1 * (1 - np.minimum(e, 12) / 12) ** 2, rtol=1e-10, atol=1e-15)


def test_lambda_and_multiplicative():
    e = np.arange(31)
    np.testing.assert_allclose(lrs_of(lambda S, o: S.LambdaLR(o, lambda k: 1 / (k + 1))), 0.1 / (e + 1))
    np.testing.assert_allclose(lrs_of(lambda S, o: S.MultiplicativeLR(o, lambda k: 0.9)), 0.1 * 0.9 ** e,
                               rtol=1e-12)


def test_warm_restarts_closed_form():
    lrs = lrs_of(lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.01))
    # cycles of 5, 10, 20 epochs, each restarting at 0.1
    t_cur = [*range(5), *range(10), *range(16)]
    t_i = [5] * 5 + [10] * 10 + [20] * 16
    expected = [0.01 + 0.09 * (1 + math.cos(math.pi * t / ti)) / 2 for t, ti in zip(t_cur, t_i)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)


def test_warm_restarts_fractional_epochs():
    opt = make_optimizer(gradlab)
    sched = L.CosineAnnealingWarmRestarts(opt, T_0=4)
    sched.step(2.5)  # an explicit, even fractional, epoch (no deprecation warning here, as in torch)
    assert sched.get_last_lr()[0] == pytest.approx(0.1 * (1 + math.cos(math.pi * 2.5 / 4)) / 2)
    assert sched.last_epoch == 2
    sched.step(6.0)  # 6 = 4 + 2: the second cycle
    assert sched.get_last_lr()[0] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="Expected non-negative epoch"):
        sched.step(-1)


def test_one_cycle_shape():
    rows = lr_sequence(gradlab, "SGD", dict(momentum=0.9),
                       lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=20, pct_start=0.25), steps=19)
    lrs, momenta = rows[:, 0], rows[:, 2]
    assert lrs[0] == pytest.approx(1.0 / 25)                  # max_lr / div_factor
    assert np.argmax(lrs) == 4 and lrs[4] == pytest.approx(1.0)  # the peak at pct_start * total - 1
    assert lrs[-1] == pytest.approx(1.0 / 25 / 1e4)            # initial_lr / final_div_factor
    assert np.all(np.diff(lrs[:5]) > 0) and np.all(np.diff(lrs[4:]) < 0)
    assert momenta[0] == pytest.approx(0.95) and momenta[4] == pytest.approx(0.85)   # momentum moves the other way
    assert momenta[-1] == pytest.approx(0.95)


def test_one_cycle_cycles_adam_beta1():
    opt = make_optimizer(gradlab, "Adam", betas=(0.9, 0.99))
    sched = L.OneCycleLR(opt, max_lr=0.01, total_steps=10)
    assert opt.param_groups[0]["betas"] == (0.95, 0.99)
    opt.step()
    sched.step()
    assert 0.85 < opt.param_groups[0]["betas"][0] < 0.95 and opt.param_groups[0]["betas"][1] == 0.99


def test_one_cycle_past_the_end():
    opt = make_optimizer(gradlab)
    sched = L.OneCycleLR(opt, max_lr=0.1, total_steps=3, cycle_momentum=False)
    for _ in range(3):
        opt.step()
        sched.step()
    opt.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total steps is 3"):
        sched.step()


def test_cyclic_triangular_values():
    lrs = lrs_of(lambda S, o: S.CyclicLR(o, 0.01, 0.05, step_size_up=2, cycle_momentum=False), steps=8)
    np.testing.assert_allclose(lrs, [0.01, 0.03, 0.05, 0.03, 0.01, 0.03, 0.05, 0.03, 0.01], rtol=1e-12)


def test_reduce_on_plateau_by_hand():
    opt = make_optimizer(gradlab)
    sched = L.ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1, min_lr=0.02)
    lrs = []
    for metric in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5]:
        sched.step(metric)
        lrs.append(sched.get_last_lr()[0])
    # epochs 2-4 are bad (more than patience=2) -> halve at epoch 4; epoch 5 is cooldown (not counted);
    # epochs 6-8 bad -> halve at 8; epoch 9 improves (count reset); epochs 10-12 bad -> halve, floored at min_lr
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.02, 0.02])
    assert opt.param_groups[1]["lr"] == 0.02  # group 1 started at 0.05 and is floored by min_lr


def test_sequential_switches_at_the_milestone():
    lrs = lrs_of(lambda S, o: S.SequentialLR(o, [S.ConstantLR(o, 0.1, total_iters=10), S.ExponentialLR(o, 0.5)],
                                             milestones=[3]), steps=6)
    np.testing.assert_allclose(lrs, [0.01, 0.01, 0.01, 0.1, 0.05, 0.025, 0.0125], rtol=1e-12)


def test_scheduler_sets_the_rate_the_optimizer_uses():
    p = gradlab.ones(1, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = L.StepLR(opt, step_size=1, gamma=0.5)
    moves = []
    for _ in range(3):
        opt.zero_grad()
        p.sum().backward()
        before = float(p)
        opt.step()
        sched.step()
        moves.append(before - float(p))
    assert moves == [1.0, 0.5, 0.25]


# ---- state, warnings, errors -------------------------------------------------------------------------
@pytest.mark.parametrize("name", [n for n in SCHEDULES if n != "chained"])
def test_state_dict_round_trip(name):
    opt_name, opt_kwargs, make = SCHEDULES[name]
    opt = make_optimizer(gradlab, opt_name, **opt_kwargs)
    sched = make(L, opt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(6):
            opt.step()
            sched.step()
        opt_state, sched_state = opt.state_dict(), sched.state_dict()
        assert "optimizer" not in sched_state and sched_state["last_epoch"] == sched.last_epoch
        expected = []
        for _ in range(6):
            opt.step()
            sched.step()
            expected.append(sched.get_last_lr())

        fresh_opt = make_optimizer(gradlab, opt_name, **opt_kwargs)
        fresh = make(L, fresh_opt)
        fresh.load_state_dict(sched_state)
        fresh_opt.load_state_dict(opt_state)
        got = []
        for _ in range(6):
            fresh_opt.step()
            fresh.step()
            got.append(fresh.get_last_lr())
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_lambda_state_dict_leaves_out_plain_functions():
    class Halving:
        def __init__(self):
            self.factor = 0.5

        def __call__(self, epoch):
            return self.factor ** epoch

    opt = make_optimizer(gradlab)
    fn = Halving()
    sched = L.LambdaLR(opt, [lambda e: 1.0, fn])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"factor": 0.5}]
    fn.factor = 0.9
    sched.load_state_dict(state)
    assert fn.factor == 0.5


def test_resuming_needs_initial_lr():
    opt = make_optimizer(gradlab)
    with pytest.raises(KeyError, match="initial_lr"):
        L.StepLR(opt, 3, last_epoch=4)
    L.StepLR(opt, 3)  # records initial_lr in every group
    resumed = L.StepLR(opt, 3, last_epoch=4)
    assert resumed.last_epoch == 5


def test_warns_when_stepped_before_the_optimizer():
    opt = make_optimizer(gradlab)
    sched = L.StepLR(opt, 3)
    with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\)` before `optimizer.step\(\)"):
        sched.step()
    opt = make_optimizer(gradlab)
    sched = L.StepLR(opt, 3)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()


def test_get_lr_outside_step_warns_and_epoch_argument_is_deprecated():
    opt = make_optimizer(gradlab)
    sched = L.ExponentialLR(opt, 0.5)
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(3)  # the closed form: 0.1 * 0.5 ** 3
    assert sched.get_last_lr() == pytest.approx([0.0125, 0.00625])


@pytest.mark.parametrize("make, error, message", [
    (lambda o: L.StepLR("sgd", 3), TypeError, "str is not an Optimizer"),
    (lambda o: L.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be < 1.0."),
    (lambda o: L.ReduceLROnPlateau(o, mode="middle"), ValueError, "mode middle is unknown!"),
    (lambda o: L.ReduceLROnPlateau(o, threshold_mode="x"), ValueError, "threshold mode x is unknown!"),
    (lambda o: L.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 min_lrs, got 1"),
    (lambda o: L.LambdaLR(o, [lambda e: 1.0]), ValueError, "Expected 2 lr_lambdas, but got 1"),
    (lambda o: L.MultiplicativeLR(o, 0.5), TypeError, "lr_lambda should be a function, but got float"),
    (lambda o: L.ConstantLR(o, factor=2.0), ValueError, "Constant multiplicative factor expected to be between"),
    (lambda o: L.LinearLR(o, start_factor=0), ValueError, "Starting multiplicative factor expected"),
    (lambda o: L.LinearLR(o, end_factor=1.5), ValueError, "Ending multiplicative factor expected"),
    (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "Expected positive integer T_0, but got 0"),
    (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), ValueError, "Expected integer T_mult >= 1"),
    (lambda o: L.OneCycleLR(o, max_lr=0.1), ValueError, "You must define either total_steps OR"),
    (lambda o: L.OneCycleLR(o, max_lr=0.1, total_steps=0), ValueError, "Expected positive integer total_steps"),
    (lambda o: L.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=1.5), ValueError, "pct_start"),
    (lambda o: L.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="step"), ValueError,
     "anneal_strategy must be one of 'cos' or 'linear'"),
    (lambda o: L.OneCycleLR(o, max_lr=[0.1], total_steps=10), ValueError,
     "max_lr must have the same length as optimizer.param_groups"),
    (lambda o: L.CyclicLR(o, 0.01, 0.1, mode="square"), ValueError, "mode is invalid and scale_fn is None"),
    (lambda o: L.SequentialLR(o, [L.StepLR(o, 2)], milestones=[3]), ValueError,
     "expects number of schedulers provided to be one more"),
    (lambda o: L.SequentialLR(o, [L.StepLR(o, 2), L.ReduceLROnPlateau(o)], milestones=[3]), ValueError,
     "does not support `ReduceLROnPlateau`"),
    (lambda o: L.SequentialLR(o, [], milestones=[]), ValueError, "expects at least one scheduler"),
    (lambda o: L.ChainedScheduler([L.StepLR(o, 2), L.StepLR(make_optimizer(gradlab), 2)]), ValueError,
     "expects all schedulers to belong to the same optimizer"),
])
def test_errors(make, error, message):
    with pytest.raises(error, match=message):
        make(make_optimizer(gradlab))


def test_cycle_momentum_needs_momentum():
    opt = make_optimizer(gradlab, "Adagrad")
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        L.OneCycleLR(opt, max_lr=0.1, total_steps=10)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        L.CyclicLR(opt, 0.01, 0.1)
