"""A fixed float64 problem for optimizer tests, written once for both libraries.

``T`` is either ``gradlab`` or ``torch``: the same code builds the parameters,
the loss and the training loop in each, so a trajectory can be compared
step for step.
"""
import numpy as np

_rng = np.random.default_rng(1234)
A = _rng.standard_normal((6, 3))
B = _rng.standard_normal(6)
W0 = _rng.standard_normal(3)
C0 = np.array([0.5])
M0 = np.array([[-1.2, 0.8, 0.3], [1.0, 0.5, -0.4]])   # two rows of a Rosenbrock valley
UNUSED0 = np.array([3.0, -3.0])                       # never in the loss: its .grad stays None


def make_params(T, dtype="float64"):
    dt = getattr(T, dtype)
    return [T.tensor(v, dtype=dt, requires_grad=True) for v in (W0, C0, M0, UNUSED0)]


def loss_of(T, params):
    """Least squares + a quartic penalty + a scaled Rosenbrock valley + a mild pull of m towards 1.

    Smooth, with curvature that varies. The pull keeps the valley well enough
    conditioned that L-BFGS does not amplify the last-bit differences between
    two autograd engines' gradients from step to step.
    """
    w, c, m = params[:3]
    r = T.tensor(A, dtype=w.dtype) @ w + c - T.tensor(B, dtype=w.dtype)
    rosenbrock = (100 * (m[1] - m[0] ** 2) ** 2 + (1 - m[0]) ** 2).sum()
    return (r * r).sum() + 0.1 * (w ** 4).sum() + 0.01 * rosenbrock + 0.05 * ((m - 1) ** 2).sum()


def flat(params):
    return np.concatenate([np.array(p.detach().numpy(), dtype=np.float64).reshape(-1) for p in params])


def trajectory(T, make_optimizer, steps=30, dtype="float64", scheduler=None):
    """Parameters and loss after each of ``steps`` optimizer steps (a closure drives every step)."""
    params = make_params(T, dtype)
    opt = make_optimizer(T.optim, params)
    sched = scheduler(T.optim.lr_scheduler, opt) if scheduler is not None else None

    def closure():
        opt.zero_grad()
        loss = loss_of(T, params)
        loss.backward()
        return loss

    rows = []
    for _ in range(steps):
        loss = opt.step(closure)
        if sched is not None:
            sched.step()
        rows.append(np.concatenate([flat(params), [float(loss.detach())]]))
    return np.array(rows), opt, params


def assert_state_dicts_match(ours, theirs):
    """A gradlab optimizer's state_dict equals torch's: groups, state keys, and each state tensor's dtype and values."""
    import gradlab
    assert ours["param_groups"] == theirs["param_groups"]
    assert ours["state"].keys() == theirs["state"].keys()
    for index, state in theirs["state"].items():
        assert ours["state"][index].keys() == state.keys()
        for key, value in state.items():
            mine = ours["state"][index][key]
            assert isinstance(mine, gradlab.Tensor)
            assert mine._data.dtype == value.numpy().dtype, key
            np.testing.assert_allclose(mine.numpy(), value.numpy(), rtol=1e-9, atol=1e-12)
