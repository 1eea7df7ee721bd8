"""Every optimizer and option set follows PyTorch's parameter trajectory step for step.

The same problem code (optim_problems.py) runs on gradlab and on torch; after
each step the parameters and the loss must agree (float64: to 1e-9; float32
to float32 rounding). Hypothesis also draws random hyperparameters, shapes and
gradients and compares a few steps.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
from optim_problems import assert_state_dicts_match, trajectory

torch = pytest.importorskip("torch")

CASES = {
    "sgd": lambda O, ps: O.SGD(ps, lr=0.01),
    "sgd-momentum": lambda O, ps: O.SGD(ps, lr=0.01, momentum=0.9),
    "sgd-dampening": lambda O, ps: O.SGD(ps, lr=0.01, momentum=0.8, dampening=0.3),
    "sgd-nesterov-wd": lambda O, ps: O.SGD(ps, lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.1),
    "sgd-maximize": lambda O, ps: O.SGD(ps, lr=1e-3, momentum=0.5, maximize=True, weight_decay=0.05),
    "sgd-groups": lambda O, ps: O.SGD([{"params": ps[:2]}, {"params": ps[2:], "lr": 2e-3, "momentum": 0.5}],
                                      lr=0.01),
    "adam": lambda O, ps: O.Adam(ps, lr=0.05),
    "adam-amsgrad-wd": lambda O, ps: O.Adam(ps, lr=0.05, betas=(0.8, 0.99), amsgrad=True, weight_decay=0.1),
    "adam-eps-maximize": lambda O, ps: O.Adam(ps, lr=0.01, eps=1e-3, maximize=True),
    "adam-decoupled": lambda O, ps: O.Adam(ps, lr=0.05, weight_decay=0.1, decoupled_weight_decay=True),
    "adam-flags": lambda O, ps: O.Adam(ps, lr=0.05, foreach=False, capturable=False, fused=None),
    "adamw": lambda O, ps: O.AdamW(ps, lr=0.05),
    "adamw-amsgrad": lambda O, ps: O.AdamW(ps, lr=0.05, weight_decay=0.3, amsgrad=True, betas=(0.5, 0.9)),
    "adamw-groups": lambda O, ps: O.AdamW([{"params": ps[:1], "weight_decay": 0.0}, {"params": ps[1:]}], lr=0.05),
    "adagrad": lambda O, ps: O.Adagrad(ps, lr=0.1),
    "adagrad-options": lambda O, ps: O.Adagrad(ps, lr=0.1, lr_decay=0.05, weight_decay=0.1,
                                               initial_accumulator_value=0.2, eps=1e-4),
    "adagrad-maximize": lambda O, ps: O.Adagrad(ps, lr=0.01, maximize=True),
    "adadelta": lambda O, ps: O.Adadelta(ps),
    "adadelta-options": lambda O, ps: O.Adadelta(ps, lr=0.5, rho=0.7, eps=1e-4, weight_decay=0.1),
    "adadelta-maximize": lambda O, ps: O.Adadelta(ps, maximize=True),
    "adamax": lambda O, ps: O.Adamax(ps, lr=0.05),
    "adamax-options": lambda O, ps: O.Adamax(ps, lr=0.05, betas=(0.7, 0.95), eps=1e-3, weight_decay=0.1),
    "adamax-maximize": lambda O, ps: O.Adamax(ps, lr=0.01, maximize=True),
    "asgd": lambda O, ps: O.ASGD(ps, lr=0.01),
    "asgd-averaging": lambda O, ps: O.ASGD(ps, lr=0.01, lambd=1e-2, alpha=0.5, t0=5, weight_decay=0.1),
    "asgd-maximize": lambda O, ps: O.ASGD(ps, lr=1e-3, t0=3, maximize=True),
    "rmsprop": lambda O, ps: O.RMSprop(ps, lr=0.01),
    "rmsprop-centered": lambda O, ps: O.RMSprop(ps, lr=0.01, centered=True, alpha=0.9),
    "rmsprop-momentum": lambda O, ps: O.RMSprop(ps, lr=0.01, momentum=0.7, eps=1e-4),
    "rmsprop-all": lambda O, ps: O.RMSprop(ps, lr=0.01, alpha=0.8, momentum=0.5, centered=True, weight_decay=0.1),
    "rmsprop-maximize": lambda O, ps: O.RMSprop(ps, lr=1e-3, maximize=True),
    "rprop": lambda O, ps: O.Rprop(ps, lr=0.01),
    "rprop-options": lambda O, ps: O.Rprop(ps, lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2)),
    "rprop-maximize": lambda O, ps: O.Rprop(ps, lr=1e-3, maximize=True),
    # a few iterations per step, so that L-BFGS is still moving after 30 steps
    "lbfgs": lambda O, ps: O.LBFGS(ps, lr=0.5, max_iter=2),
    "lbfgs-defaults": lambda O, ps: O.LBFGS(ps),
    "lbfgs-small-history": lambda O, ps: O.LBFGS(ps, lr=0.8, max_iter=2, history_size=3),
    "lbfgs-tolerances": lambda O, ps: O.LBFGS(ps, max_iter=3, max_eval=4, tolerance_grad=1e-3,
                                              tolerance_change=1e-6),
    "lbfgs-wolfe": lambda O, ps: O.LBFGS(ps, max_iter=3, line_search_fn="strong_wolfe"),
    "lbfgs-wolfe-history": lambda O, ps: O.LBFGS(ps, lr=0.7, max_iter=2, history_size=2,
                                                 line_search_fn="strong_wolfe"),
}


@pytest.mark.parametrize("name", CASES)
def test_trajectory_matches_torch(name):
    ours, opt, _ = trajectory(gradlab, CASES[name])
    theirs, topt, _ = trajectory(torch, CASES[name])
    assert np.isfinite(theirs).all()
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", [n for n in CASES if not n.startswith("lbfgs")])
def test_state_dict_matches_torch(name):
    _, opt, _ = trajectory(gradlab, CASES[name], steps=5)
    _, topt, _ = trajectory(torch, CASES[name], steps=5)
    assert_state_dicts_match(opt.state_dict(), topt.state_dict())


def test_lbfgs_state_matches_torch():
    _, opt, _ = trajectory(gradlab, CASES["lbfgs-wolfe-history"], steps=4)
    _, topt, _ = trajectory(torch, CASES["lbfgs-wolfe-history"], steps=4)
    ours, theirs = opt.state_dict()["state"][0], topt.state_dict()["state"][0]
    for key in ("func_evals", "n_iter"):
        assert ours[key] == theirs[key]
    for key in ("d", "prev_flat_grad"):
        np.testing.assert_allclose(ours[key].numpy(), theirs[key].numpy(), rtol=1e-9, atol=1e-12)
    assert len(ours["old_dirs"]) == len(theirs["old_dirs"]) == 2
    for mine, their in zip(ours["old_stps"], theirs["old_stps"]):
        np.testing.assert_allclose(mine.numpy(), their.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours["ro"], [float(r) for r in theirs["ro"]], rtol=1e-9)
    np.testing.assert_allclose(float(ours["t"]), float(theirs["t"]), rtol=1e-9)


FLOAT32_CASES = ["sgd-nesterov-wd", "adam-amsgrad-wd", "adamw", "adagrad-options", "adadelta-options",
                 "adamax-options", "asgd-averaging", "rmsprop-all", "rprop-options"]


@pytest.mark.parametrize("name", FLOAT32_CASES)
def test_float32_trajectory_matches_torch(name):
    ours, opt, params = trajectory(gradlab, CASES[name], steps=25, dtype="float32")
    theirs, _, _ = trajectory(torch, CASES[name], steps=25, dtype="float32")
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    assert all(p.dtype == gradlab.float32 for p in params)
    for state in opt.state.values():
        for key, value in state.items():
            if isinstance(value, gradlab.Tensor) and key != "step" and value.dim() > 0:
                assert value.dtype == gradlab.float32, key


SCHEDULED = {
    "sgd-steplr": (lambda O, ps: O.SGD(ps, lr=0.02, momentum=0.9), lambda L, o: L.StepLR(o, 5, gamma=0.5)),
    "adam-onecycle": (lambda O, ps: O.Adam(ps, lr=0.05), lambda L, o: L.OneCycleLR(o, max_lr=0.1, total_steps=30)),
    "rmsprop-cosine": (lambda O, ps: O.RMSprop(ps, lr=0.01, momentum=0.5),
                       lambda L, o: L.CosineAnnealingLR(o, T_max=10)),
}


@pytest.mark.parametrize("name", SCHEDULED)
def test_scheduled_trajectory_matches_torch(name):
    make_opt, make_sched = SCHEDULED[name]
    ours, _, _ = trajectory(gradlab, make_opt, scheduler=make_sched)
    theirs, _, _ = trajectory(torch, make_opt, scheduler=make_sched)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


# ---- random hyperparameters, shapes and gradients ---------------------------------------------
unit = st.floats(0.0, 0.99)
positive = st.floats(1e-4, 1.0)
maybe_decay = st.sampled_from([0.0, 0.01, 0.3])

OPTIONS = {
    "SGD": st.fixed_dictionaries({"lr": positive, "momentum": unit, "dampening": st.sampled_from([0.0, 0.5]),
                                  "weight_decay": maybe_decay, "maximize": st.booleans()}),
    "Adam": st.fixed_dictionaries({"lr": positive, "betas": st.tuples(unit, unit), "eps": st.sampled_from([1e-8, 1e-3]),
                                   "weight_decay": maybe_decay, "amsgrad": st.booleans(), "maximize": st.booleans()}),
    "AdamW": st.fixed_dictionaries({"lr": positive, "betas": st.tuples(unit, unit), "weight_decay": maybe_decay,
                                    "amsgrad": st.booleans(), "maximize": st.booleans()}),
    "Adagrad": st.fixed_dictionaries({"lr": positive, "lr_decay": st.sampled_from([0.0, 0.1]),
                                      "weight_decay": maybe_decay, "initial_accumulator_value": st.sampled_from([0.0, 0.5]),
                                      "eps": st.sampled_from([1e-10, 1e-3]), "maximize": st.booleans()}),
    "Adadelta": st.fixed_dictionaries({"lr": positive, "rho": st.floats(0.0, 1.0), "eps": st.sampled_from([1e-6, 1e-2]),
                                       "weight_decay": maybe_decay, "maximize": st.booleans()}),
    "Adamax": st.fixed_dictionaries({"lr": positive, "betas": st.tuples(unit, unit), "eps": st.sampled_from([1e-8, 1e-3]),
                                     "weight_decay": maybe_decay, "maximize": st.booleans()}),
    "ASGD": st.fixed_dictionaries({"lr": positive, "lambd": st.sampled_from([1e-4, 0.1]), "alpha": st.floats(0.1, 1.0),
                                   "t0": st.sampled_from([0.0, 1.0, 1e6]), "weight_decay": maybe_decay,
                                   "maximize": st.booleans()}),
    # alpha near 0 with centered=True makes v - mean(g)**2 pure rounding noise (g*g - g*g), which
    # torch's fused multiply-add and NumPy round differently before dividing by its square root
    "RMSprop": st.fixed_dictionaries({"lr": positive, "alpha": st.floats(0.05, 0.999), "eps": st.sampled_from([1e-8, 1e-3]),
                                      "weight_decay": maybe_decay, "momentum": st.sampled_from([0.0, 0.5]),
                                      "centered": st.booleans(), "maximize": st.booleans()}),
    "Rprop": st.fixed_dictionaries({"lr": positive, "etas": st.tuples(st.floats(0.1, 0.9), st.floats(1.1, 2.0)),
                                    "step_sizes": st.tuples(st.sampled_from([1e-6, 1e-3]), st.sampled_from([0.1, 50.0])),
                                    "maximize": st.booleans()}),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", OPTIONS)
@given(data=st.data())
def test_random_steps_match_torch(name, dtype, data):
    options = data.draw(OPTIONS[name], label="options")
    shape = data.draw(st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple), label="shape")
    seed = data.draw(st.integers(0, 2 ** 31 - 1), label="seed")
    rng = np.random.default_rng(seed)
    start = rng.standard_normal(shape)
    grads = [np.asarray(rng.standard_normal(shape) * rng.choice([1e-3, 1.0, 10.0])) for _ in range(3)]
    if rng.random() < 0.3:  # exact zeros exercise the sign logic of Rprop and the eps of the others
        grads[1][...] = 0.0

    def run(T):
        p = T.tensor(start, dtype=getattr(T, dtype), requires_grad=True)
        opt = getattr(T.optim, name)([p], **options)
        out = []
        for g in grads:
            p.grad = T.tensor(g, dtype=getattr(T, dtype))
            opt.step()
            out.append(np.array(p.detach().numpy(), dtype=np.float64))
        return np.array(out)

    ours, theirs = run(gradlab), run(torch)
    if dtype == "float64":
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
