"""The Optimizer base class: parameter groups, errors, state, state_dict round trips, hooks."""
import copy
import time

import numpy as np
import pytest

import gradlab
from gradlab import optim

ALL = {
    "SGD": dict(lr=0.05, momentum=0.9),
    "Adam": dict(lr=0.05, amsgrad=True),
    "AdamW": dict(lr=0.05),
    "Adagrad": dict(lr=0.1),
    "Adadelta": dict(),
    "Adamax": dict(lr=0.05),
    "ASGD": dict(lr=0.05, t0=2),
    "RMSprop": dict(lr=0.01, centered=True, momentum=0.5),
    "Rprop": dict(lr=0.01),
    "LBFGS": dict(lr=0.5, max_iter=3),
}


def make_model(seed=0):
    rng = np.random.default_rng(seed)
    return [gradlab.tensor(rng.standard_normal(s), dtype=gradlab.float64, requires_grad=True)
            for s in [(3, 2), (2,), (1,)]]


def loss_fn(params):
    w, b, c = params
    x = gradlab.tensor(np.linspace(-1, 1, 12).reshape(4, 3))
    y = x @ w + b
    return ((y - 0.5) ** 2).sum() + (c ** 2).sum() + 0.1 * (w ** 4).sum()


def train(opt, params, steps):
    def closure():
        opt.zero_grad()
        loss = loss_fn(params)
        loss.backward()
        return loss

    return [float(opt.step(closure)) for _ in range(steps)]


# ---- constructing ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_empty_parameter_list(name):
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        getattr(optim, name)([], **ALL[name])


@pytest.mark.parametrize("name", ALL)
def test_parameter_in_two_groups(name):
    p = gradlab.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        getattr(optim, name)([{"params": [p]}, {"params": [p]}], **ALL[name])


@pytest.mark.parametrize("name", ALL)
def test_non_leaf_tensor(name):
    p = gradlab.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        getattr(optim, name)([p * 2], **ALL[name])


def test_non_leaf_that_retains_grad_is_accepted():
    p = gradlab.zeros(2, requires_grad=True)
    q = p * 2
    q.retain_grad()
    optim.SGD([q], lr=0.1)


def test_params_must_be_an_iterable_of_tensors():
    p = gradlab.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, but got gradlab.Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {p}}], lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the params is ndarray"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="param_group must be a dict"):
        optim.SGD([p], lr=0.1).add_param_group([p])


def test_duplicate_parameter_in_a_group_warns():
    p = gradlab.zeros(2, requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([p, p], lr=0.1)


INVALID = [
    ("SGD", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("SGD", dict(lr=0.1, momentum=-1), "Invalid momentum value: -1"),
    ("SGD", dict(lr=0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
    ("SGD", dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     "Nesterov momentum requires a momentum and zero dampening"),
    ("Adam", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("Adam", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    ("Adam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.5)), "Invalid beta parameter at index 1: -0.5"),
    ("Adam", dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
    ("AdamW", dict(betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    ("Adagrad", dict(lr_decay=-0.5), "Invalid lr_decay value: -0.5"),
    ("Adagrad", dict(initial_accumulator_value=-0.5), "Invalid initial_accumulator_value value: -0.5"),
    ("Adagrad", dict(eps=-0.5), "Invalid epsilon value: -0.5"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
    ("Adadelta", dict(eps=-0.5), "Invalid epsilon value: -0.5"),
    ("Adamax", dict(betas=(-0.1, 0.9)), "Invalid beta parameter at index 0: -0.1"),
    ("ASGD", dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
    ("RMSprop", dict(alpha=-0.5), "Invalid alpha value: -0.5"),
    ("RMSprop", dict(momentum=-0.5), "Invalid momentum value: -0.5"),
    ("Rprop", dict(etas=(1.5, 1.2)), "Invalid eta values: 1.5, 1.2"),
    ("Rprop", dict(etas=(0.5, 0.9)), "Invalid eta values: 0.5, 0.9"),
    ("LBFGS", dict(lr=-1.0), "Invalid learning rate: -1.0"),
]


@pytest.mark.parametrize("name, kwargs, message", INVALID)
def test_invalid_options(name, kwargs, message):
    with pytest.raises(ValueError) as info:
        getattr(optim, name)([gradlab.zeros(2, requires_grad=True)], **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("name, kwargs, message", INVALID)
def test_invalid_options_as_torch(name, kwargs, message):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError) as info:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    assert str(info.value) == message


def test_options_gradlab_does_not_have():
    p = gradlab.zeros(2, requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"Adam\(differentiable=True\) is not supported"):
        optim.Adam([p], differentiable=True)
    with pytest.raises(NotImplementedError, match="SparseAdam is not available in gradlab.*Adam"):
        optim.SparseAdam([p])
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        optim.LBFGS([{"params": [p]}, {"params": [gradlab.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe'"):
        optim.LBFGS([p], line_search_fn="armijo")
    # accepted and ignored: gradlab's update is already one vectorised pass per tensor
    optim.Adam([p], foreach=True, capturable=True, fused=True)


@pytest.mark.parametrize("name", ALL)
def test_defaults_and_repr_match_torch(name):
    torch = pytest.importorskip("torch")
    ours = getattr(optim, name)([gradlab.zeros(2, requires_grad=True)], **ALL[name])
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **ALL[name])
    assert ours.defaults == theirs.defaults
    assert repr(ours) == repr(theirs)


# ---- parameter groups ---------------------------------------------------------------------------
def test_groups_take_defaults_and_their_own_options():
    a, b, c = make_model()
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.3}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert [g["momentum"] for g in opt.param_groups] == [0, 0.3]
    assert opt.param_groups[1]["params"] == [b]  # a lone tensor becomes a list
    opt.add_param_group({"params": [c], "weight_decay": 0.1})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["weight_decay"] == 0.1
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_a_group_learning_rate_is_used():
    a, b = gradlab.ones(2, requires_grad=True), gradlab.ones(2, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    (a.sum() + b.sum()).backward()
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), [0.9, 0.9], rtol=1e-6)
    np.testing.assert_allclose(b.detach().numpy(), [0.5, 0.5], rtol=1e-6)


def test_required_option():
    from gradlab.optim.optimizer import required

    class Plain(optim.Optimizer):
        def __init__(self, params, lr=required):
            super().__init__(params, dict(lr=lr))

    with pytest.raises(ValueError, match="didn't specify a value of required optimization parameter lr"):
        Plain([gradlab.zeros(1, requires_grad=True)])
    assert Plain([{"params": [gradlab.zeros(1, requires_grad=True)], "lr": 0.1}]).param_groups[0]["lr"] == 0.1


def test_named_parameters():
    a, b, _ = make_model()
    opt = optim.Adam([("w", a), ("b", b)])
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]
    with pytest.raises(ValueError, match="with/without names"):
        opt.add_param_group({"params": [gradlab.zeros(1, requires_grad=True)]})


# ---- gradients and state ------------------------------------------------------------------------
def test_state_is_keyed_by_the_parameter_tensor():
    params = make_model()
    opt = optim.Adam(params)
    assert len(opt.state) == 0
    train(opt, params, 1)
    assert set(map(id, opt.state)) == set(map(id, params))
    assert opt.state[params[0]]["exp_avg"].shape == params[0].shape
    assert opt.state[gradlab.zeros(1)] == {}  # a defaultdict, as in PyTorch


def test_parameters_without_grad_are_left_alone():
    params = make_model()
    frozen = gradlab.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam(params + [frozen], lr=0.1)
    train(opt, params, 3)
    np.testing.assert_array_equal(frozen.detach().numpy(), [1.0, 2.0])
    assert frozen not in opt.state


def test_zero_grad():
    params = make_model()
    opt = optim.SGD(params, lr=0.1)
    loss_fn(params).backward()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in params)
    grads = [p.grad for p in params]
    loss_fn(params).backward()
    assert all(p.grad is g for p, g in zip(params, grads))  # zeroed in place, then accumulated into
    opt.zero_grad()
    assert all(p.grad is None for p in params)


@pytest.mark.parametrize("name", [n for n in ALL if n != "LBFGS"])
def test_step_without_closure_returns_none(name):
    params = make_model()
    opt = getattr(optim, name)(params, **ALL[name])
    loss_fn(params).backward()
    assert opt.step() is None


def test_step_changes_the_parameter_version():
    """A graph recorded before the step must not backpropagate with the updated values."""
    p = gradlab.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    loss = (p * p).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


# ---- state_dict --------------------------------------------------------------------------------
def test_state_dict_layout():
    a, b, c = make_model()
    opt = optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1)
    train(opt, [a, b, c], 2)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sorted(sd["state"]) == [0, 1, 2]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    state = sd["state"][2]
    assert set(state) == {"step", "exp_avg", "exp_avg_sq"}
    assert isinstance(state["exp_avg"], gradlab.Tensor) and state["exp_avg"].shape == c.shape
    assert state["step"].dtype == gradlab.float32 and float(state["step"]) == 2.0
    assert state["exp_avg"] is opt.state[c]["exp_avg"]  # the live tensors, as in PyTorch


@pytest.mark.parametrize("name", ALL)
def test_state_dict_round_trip_continues_the_same_trajectory(name):
    """Train 4 steps, save, load into a fresh optimizer over a fresh model: the next 4 steps are the same."""
    params = make_model()
    opt = getattr(optim, name)(params, **ALL[name])
    train(opt, params, 4)
    saved_params = [p.detach().numpy().copy() for p in params]
    sd = copy.deepcopy(opt.state_dict())
    expected = train(opt, params, 4)

    fresh = make_model(seed=1)
    for p, values in zip(fresh, saved_params):
        p.data[...] = values  # the fresh model gets the saved weights (as from a model state_dict)
    fresh_opt = getattr(optim, name)(fresh, lr=123.0)
    fresh_opt.load_state_dict(sd)
    assert fresh_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    assert fresh_opt.param_groups[0]["params"] == fresh
    np.testing.assert_allclose(train(fresh_opt, fresh, 4), expected, rtol=1e-12)
    for p, q in zip(fresh, params):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-12)


def test_load_state_dict_copies_and_casts():
    params = make_model()
    opt = optim.Adam(params, lr=0.1)
    train(opt, params, 2)
    sd = opt.state_dict()
    sd32 = {"param_groups": sd["param_groups"],
            "state": {k: {n: (v if n == "step" else v.float()) for n, v in s.items()} for k, s in sd["state"].items()}}
    other = optim.Adam(params, lr=0.1)
    other.load_state_dict(sd32)
    state = other.state[params[0]]
    assert state["exp_avg"].dtype == gradlab.float64  # cast to the parameter's dtype
    assert state["step"].dtype == gradlab.float32      # the step count keeps its own
    assert state["exp_avg"] is not sd32["state"][0]["exp_avg"]
    before = sd["state"][0]["exp_avg"].numpy().copy()
    train(other, params, 1)
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].numpy(), before)  # the source is untouched
    assert other.param_groups[0] is not sd["param_groups"][0]


def test_asgd_scalars_keep_float32_when_loaded():
    params = make_model()
    opt = optim.ASGD(params, lr=0.1)
    train(opt, params, 2)
    other = optim.ASGD(params, lr=0.1)
    other.load_state_dict(opt.state_dict())
    assert {k: v.dtype for k, v in other.state[params[0]].items()} == {
        "step": gradlab.float32, "eta": gradlab.float32, "mu": gradlab.float32, "ax": gradlab.float64}


def test_load_state_dict_errors():
    params = make_model()
    opt = optim.SGD([{"params": params[:2]}, {"params": params[2:]}], lr=0.1, momentum=0.9)
    train(opt, params, 1)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD(params, lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1).load_state_dict(sd)
    other = [gradlab.zeros(5, 5, requires_grad=True), gradlab.zeros(2, requires_grad=True),
             gradlab.zeros(1, requires_grad=True)]
    with pytest.raises(ValueError, match=r"state 'momentum_buffer' of parameter 0 has shape \(3, 2\) but the "
                                         r"parameter has shape \(5, 5\)"):
        optim.SGD([{"params": other[:2]}, {"params": other[2:]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(KeyError, match="no 'state' entry"):
        opt.load_state_dict({"param_groups": sd["param_groups"]})


def test_state_dict_survives_gradlab_save(tmp_path):
    params = make_model()
    opt = optim.Adam(params, lr=0.1, amsgrad=True)
    train(opt, params, 3)
    gradlab.save(opt.state_dict(), tmp_path / "opt.gl")
    loaded = gradlab.load(tmp_path / "opt.gl")
    fresh = optim.Adam(params)
    fresh.load_state_dict(loaded)
    assert fresh.param_groups[0]["betas"] == (0.9, 0.999) and fresh.param_groups[0]["amsgrad"] is True
    for p in params:
        for key, value in opt.state[p].items():
            np.testing.assert_array_equal(fresh.state[p][key].numpy(), value.numpy())


# ---- hooks -----------------------------------------------------------------------------------
def test_step_hooks():
    params = make_model()
    opt = optim.SGD(params, lr=0.1)
    calls = []
    pre = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append(("pre", o is opt)))
    post = opt.register_step_post_hook(lambda o, args, kwargs: calls.append(("post", o is opt)))
    glob = optim.register_optimizer_step_pre_hook(lambda o, args, kwargs: calls.append(("global", True)))
    try:
        loss_fn(params).backward()
        opt.step()
        assert calls == [("global", True), ("pre", True), ("post", True)]
    finally:
        glob.remove()
    pre.remove()
    post.remove()
    opt.step()
    assert len(calls) == 3


def test_step_pre_hook_can_replace_the_arguments():
    params = make_model()
    opt = optim.SGD(params, lr=0.1)
    seen = []

    def closure():
        seen.append(True)
        opt.zero_grad()
        loss = loss_fn(params)
        loss.backward()
        return loss

    opt.register_step_pre_hook(lambda o, args, kwargs: ((), {"closure": closure}))
    assert opt.step() is not None and seen == [True]
    opt.register_step_pre_hook(lambda o, args, kwargs: "nonsense")
    with pytest.raises(RuntimeError, match="must return None or a tuple"):
        opt.step()


def test_subclass_step_calling_super_runs_hooks_once():
    class Logged(optim.SGD):
        def step(self, closure=None):
            return super().step(closure)

    params = make_model()
    opt = Logged(params, lr=0.1)
    calls = []
    opt.register_step_post_hook(lambda *a: calls.append(1))
    loss_fn(params).backward()
    opt.step()
    assert calls == [1]


def test_state_dict_hooks():
    params = make_model()
    opt = optim.SGD(params, lr=0.1)
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    assert opt.state_dict()["extra"] == 1
    loaded = []
    opt.register_load_state_dict_post_hook(lambda o: loaded.append(o))
    opt.load_state_dict(optim.SGD(params, lr=0.2).state_dict())
    assert loaded == [opt] and opt.param_groups[0]["lr"] == 0.2


# ---- speed -----------------------------------------------------------------------------------
def test_adam_step_is_cheap_for_lenet_sized_parameters():
    """LeNet-5's 61,706 parameters in 10 tensors: the step is vectorised, not per element.

    A per-element Python update would take tens of milliseconds; the NumPy one
    takes well under one (the bound leaves room for a busy machine).
    """
    shapes = [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 16, 5, 5), (120,), (84, 120), (84,), (10, 84), (10,)]
    params = [gradlab.randn(*s, requires_grad=True) for s in shapes]
    assert sum(p.numel() for p in params) == 61706
    for p in params:
        p.grad = gradlab.randn(*p.shape)
    opt = optim.Adam(params, lr=1e-3)
    opt.step()
    best = min(_time(opt.step, 20) for _ in range(5))
    assert best < 0.02, f"Adam step took {best * 1e3:.2f} ms"


def _time(fn, n):
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n
