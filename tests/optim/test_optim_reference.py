"""Each optimizer against its documented algorithm, derived by hand (no torch needed).

The problem: loss(p) = sum(q * p**2) / 2 + sum(r * p), so grad(p) = q * p + r,
from p0 = [1, -2, 0.5]. Each reference below writes the update rule from the
PyTorch documentation step by step in NumPy; some also spell out the numbers.
"""
import numpy as np
import pytest

import gradlab
from gradlab import optim

Q = np.array([1.0, 2.0, 4.0])
R = np.array([0.5, -1.0, 0.25])
P0 = np.array([1.0, -2.0, 0.5])


def grad(p):
    return Q * p + R


def run(make, steps=2, start=P0):
    """The parameter after each of ``steps`` steps, gradients from backward()."""
    p = gradlab.tensor(start, dtype=gradlab.float64, requires_grad=True)
    opt = make([p])
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * (gradlab.tensor(Q) * p * p).sum() + (gradlab.tensor(R) * p).sum()
        loss.backward()
        opt.step()
        out.append(p.detach().numpy().copy())
    return out, opt, p


def check(ours, expected):
    for mine, want in zip(ours, expected):
        np.testing.assert_allclose(mine, want, rtol=1e-12, atol=1e-14)


def test_sgd_numbers():
    ours, opt, _ = run(lambda ps: optim.SGD(ps, lr=0.1))
    # g0 = [1.5, -5, 2.25] -> p1 = p0 - 0.1 g0; g1 = [1.35, -4, 1.35] -> p2 = p1 - 0.1 g1
    check(ours, [[0.85, -1.5, 0.275], [0.715, -1.1, 0.14]])
    assert opt.state == {}  # plain SGD keeps no state


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_weight_decay_maximize(nesterov):
    lr, mu, wd, damp = 0.05, 0.9, 0.1, 0.0 if nesterov else 0.25
    p, buf, expected = P0.copy(), None, []
    for _ in range(2):
        g = -grad(p) + wd * p                      # maximize negates the gradient, then weight decay
        buf = g.copy() if buf is None else mu * buf + (1 - damp) * g
        step = g + mu * buf if nesterov else buf
        p = p - lr * step
        expected.append(p)
    ours, opt, param = run(lambda ps: optim.SGD(ps, lr=lr, momentum=mu, dampening=damp, weight_decay=wd,
                                                nesterov=nesterov, maximize=True))
    check(ours, expected)
    np.testing.assert_allclose(opt.state[param]["momentum_buffer"].numpy(), buf, rtol=1e-12)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam(amsgrad):
    lr, (b1, b2), eps, wd = 0.1, (0.9, 0.999), 1e-8, 0.05
    p, m, v, vmax, expected = P0.copy(), 0.0, 0.0, 0.0, []
    for t in (1, 2):
        g = grad(p) + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        denom = np.sqrt(vmax if amsgrad else v) / np.sqrt(1 - b2 ** t) + eps   # eps after the correction
        p = p - lr / (1 - b1 ** t) * m / denom
        expected.append(p)
    # the first step of Adam moves every coordinate by lr against the sign of its gradient
    np.testing.assert_allclose(expected[0], P0 - lr * np.sign(grad(P0) + wd * P0), rtol=1e-7)
    ours, opt, param = run(lambda ps: optim.Adam(ps, lr=lr, weight_decay=wd, amsgrad=amsgrad))
    check(ours, expected)
    state = opt.state[param]
    assert float(state["step"]) == 2.0 and state["step"].dtype == gradlab.float32
    assert ("max_exp_avg_sq" in state) == amsgrad


def test_adamw_decays_the_parameter_not_the_gradient():
    lr, (b1, b2), eps, wd = 0.1, (0.9, 0.999), 1e-8, 0.5
    p, m, v, expected = P0.copy(), 0.0, 0.0, []
    for t in (1, 2):
        g = grad(p)
        p = p * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr / (1 - b1 ** t) * m / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps)
        expected.append(p)
    ours, _, _ = run(lambda ps: optim.AdamW(ps, lr=lr, weight_decay=wd))
    check(ours, expected)


def test_adagrad():
    lr, lr_decay, init, eps, wd = 0.5, 0.1, 0.3, 1e-10, 0.02
    p, total, expected = P0.copy(), np.full(3, init), []
    for t in (1, 2):
        g = grad(p) + wd * p
        clr = lr / (1 + (t - 1) * lr_decay)
        total = total + g * g
        p = p - clr * g / (np.sqrt(total) + eps)
        expected.append(p)
    ours, _, _ = run(lambda ps: optim.Adagrad(ps, lr=lr, lr_decay=lr_decay, initial_accumulator_value=init,
                                              weight_decay=wd))
    check(ours, expected)


def test_adadelta():
    lr, rho, eps = 1.0, 0.9, 1e-6
    p, square_avg, acc_delta, expected = P0.copy(), np.zeros(3), np.zeros(3), []
    for _ in range(2):
        g = grad(p)
        square_avg = rho * square_avg + (1 - rho) * g * g
        delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * g
        acc_delta = rho * acc_delta + (1 - rho) * delta * delta
        p = p - lr * delta
        expected.append(p)
    ours, _, _ = run(lambda ps: optim.Adadelta(ps))
    check(ours, expected)


def test_adamax():
    lr, (b1, b2), eps = 0.2, (0.9, 0.999), 1e-8
    p, m, u, expected = P0.copy(), 0.0, np.zeros(3), []
    for t in (1, 2):
        g = grad(p)
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        p = p - lr / (1 - b1 ** t) * m / u
        expected.append(p)
    ours, _, _ = run(lambda ps: optim.Adamax(ps, lr=lr))
    check(ours, expected)


def test_asgd_averages_after_t0():
    lr, lambd, alpha, t0 = 0.1, 0.05, 0.75, 0
    # PyTorch keeps eta and mu as float32 scalars, so the reference rounds them the same way
    p, ax, eta, mu, expected = P0.copy(), np.zeros(3), float(np.float32(lr)), 1.0, []
    for t in (1, 2, 3):
        g = grad(p)
        p = p * (1 - lambd * eta) - eta * g
        ax = p.copy() if mu == 1 else ax + mu * (p - ax)
        eta = float(np.float32(lr / (1 + lambd * lr * t) ** alpha))
        mu = float(np.float32(1 / max(1, t - t0)))
        expected.append((p, ax))
    ours, opt, param = run(lambda ps: optim.ASGD(ps, lr=lr, lambd=lambd, alpha=alpha, t0=t0), steps=3)
    check(ours, [e[0] for e in expected])
    ax_ours = opt.state[param]["ax"].numpy()
    np.testing.assert_allclose(ax_ours, expected[-1][1], rtol=1e-12)
    # mu = 1 / max(1, t - t0) drops below 1 after step 2, so at step 3 ax is an average, not the last iterate
    assert not np.allclose(ax_ours, ours[-1])
    assert float(opt.state[param]["mu"]) == float(np.float32(1 / 3))


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.6])
def test_rmsprop(centered, momentum):
    lr, alpha, eps = 0.01, 0.9, 1e-8
    p, v, a, buf, expected = P0.copy(), np.zeros(3), np.zeros(3), np.zeros(3), []
    for _ in range(2):
        g = grad(p)
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            a = alpha * a + (1 - alpha) * g
            avg = np.sqrt(v - a * a) + eps
        else:
            avg = np.sqrt(v) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
        expected.append(p)
    ours, opt, param = run(lambda ps: optim.RMSprop(ps, lr=lr, alpha=alpha, momentum=momentum, centered=centered))
    check(ours, expected)
    assert ("grad_avg" in opt.state[param]) == centered
    assert ("momentum_buffer" in opt.state[param]) == (momentum > 0)


def test_rprop_sign_logic_numbers():
    # lr 1.5: p1 = p0 - 1.5 sign(g0) = [-0.5, -0.5, -1]; g1 = [0, -2, -3.75]
    #   coordinate 0: g1 = 0           -> step size kept, no move
    #   coordinate 1: same sign         -> step size 1.5 * 1.2 = 1.8, move by +1.8
    #   coordinate 2: sign flipped      -> step size 1.5 * 0.5 = 0.75, gradient zeroed: no move
    ours, opt, param = run(lambda ps: optim.Rprop(ps, lr=1.5))
    check(ours, [[-0.5, -0.5, -1.0], [-0.5, 1.3, -1.0]])
    state = opt.state[param]
    np.testing.assert_allclose(state["step_size"].numpy(), [1.5, 1.8, 0.75])
    np.testing.assert_allclose(state["prev"].numpy(), [0.0, -2.0, 0.0])  # the flipped gradient is stored as 0


def test_rprop_step_sizes_are_clamped():
    ours, opt, param = run(lambda ps: optim.Rprop(ps, lr=1.5, etas=(0.1, 3.0), step_sizes=(0.5, 2.0)))
    np.testing.assert_allclose(opt.state[param]["step_size"].numpy(), [1.5, 2.0, 0.5])
    check(ours, [[-0.5, -0.5, -1.0], [-0.5, 1.5, -1.0]])


def test_lbfgs_two_iterations_by_hand():
    lr = 1.0
    p0, g0 = P0, grad(P0)
    d0 = -g0
    t0 = min(1.0, 1.0 / np.abs(g0).sum()) * lr          # the cautious first step
    p1 = p0 + t0 * d0
    g1 = grad(p1)
    y, s = g1 - g0, t0 * d0                              # the curvature pair
    ro = 1.0 / (y @ s)
    h_diag = (y @ s) / (y @ y)
    q = -g1                                              # two-loop recursion with one pair
    al = (s @ q) * ro
    q = q - al * y
    r = q * h_diag
    be = (y @ r) * ro
    d1 = r + s * (al - be)
    p2 = p1 + lr * d1

    p = gradlab.tensor(P0, dtype=gradlab.float64, requires_grad=True)
    opt = optim.LBFGS([p], lr=lr, max_iter=2, max_eval=10)  # the default max_eval (2) would stop after one

    def closure():
        opt.zero_grad()
        loss = 0.5 * (gradlab.tensor(Q) * p * p).sum() + (gradlab.tensor(R) * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss) == pytest.approx(0.5 * (Q * P0 * P0).sum() + (R * P0).sum())  # the loss before the step
    np.testing.assert_allclose(p.detach().numpy(), p2, rtol=1e-12)
    state = opt.state[p]
    assert state["n_iter"] == 2 and state["func_evals"] == 2
    np.testing.assert_allclose(state["d"].numpy(), d1, rtol=1e-12)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_solves_a_quadratic(line_search_fn):
    p = gradlab.tensor(P0, dtype=gradlab.float64, requires_grad=True)
    opt = optim.LBFGS([p], line_search_fn=line_search_fn, tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (gradlab.tensor(Q) * p * p).sum() + (gradlab.tensor(R) * p).sum()
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    np.testing.assert_allclose(p.detach().numpy(), -R / Q, atol=1e-7)  # the minimiser
    np.testing.assert_array_less(np.abs(p.grad.numpy()), 1e-6)


def test_strong_wolfe_conditions_hold():
    """The line search returns a step with sufficient decrease and a small slope."""
    from gradlab.optim.lbfgs import _strong_wolfe

    def f_and_g(x):
        return float((x ** 4).sum() + (x ** 2).sum()), 4 * x ** 3 + 2 * x

    x0 = np.array([1.5, -0.7])
    f0, g0 = f_and_g(x0)
    d = -g0
    gtd = float(g0 @ d)

    def obj_func(x, t, d):
        return f_and_g(x + t * d)

    for t_init in (1e-3, 1.0, 10.0):
        f, g, t, evals = _strong_wolfe(obj_func, x0, t_init, d, f0, g0, gtd)
        assert f <= f0 + 1e-4 * t * gtd                 # sufficient decrease
        assert abs(float(g @ d)) <= -0.9 * gtd           # curvature
        assert (f, list(g)) == (f_and_g(x0 + t * d)[0], list(f_and_g(x0 + t * d)[1]))
        assert evals >= 1


def test_cubic_interpolate_finds_the_cubic_minimum():
    from gradlab.optim.lbfgs import _cubic_interpolate
    # f(x) = (x - 1)**3 - 3 (x - 1) has its local minimum at x = 2
    f = lambda x: (x - 1) ** 3 - 3 * (x - 1)        # noqa: E731
    df = lambda x: 3 * (x - 1) ** 2 - 3              # noqa: E731
    assert _cubic_interpolate(1.5, f(1.5), df(1.5), 3.0, f(3.0), df(3.0)) == pytest.approx(2.0)
    assert _cubic_interpolate(3.0, f(3.0), df(3.0), 1.5, f(1.5), df(1.5)) == pytest.approx(2.0)
    # clamped to the bounds; no real minimum -> the middle of the bounds
    assert _cubic_interpolate(1.5, f(1.5), df(1.5), 3.0, f(3.0), df(3.0), bounds=(2.5, 2.8)) == 2.5
    g = lambda x: 3 * x ** 2 + 1                     # noqa: E731  (x**3 + x only increases)
    assert _cubic_interpolate(-1.0, -2.0, g(-1.0), 1.0, 2.0, g(1.0), bounds=(0.0, 4.0)) == 2.0


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: optim.Adam(ps), lambda ps: optim.Adagrad(ps),
    lambda ps: optim.RMSprop(ps, centered=True), lambda ps: optim.Rprop(ps), lambda ps: optim.ASGD(ps),
    lambda ps: optim.Adamax(ps), lambda ps: optim.Adadelta(ps), lambda ps: optim.AdamW(ps)])
def test_zero_dim_and_float32_parameters(make):
    """0-d parameters (NumPy scalars lurk there) and float32 parameters keep their dtype and shape."""
    for dtype in (gradlab.float32, gradlab.float64):
        p = gradlab.tensor(1.5, dtype=dtype, requires_grad=True)
        opt = make([p])
        for _ in range(3):
            opt.zero_grad()
            (p * p).backward()
            opt.step()
        assert p.shape == () and p.dtype == dtype
        assert abs(float(p)) < 1.5
        for key, value in opt.state[p].items():
            if isinstance(value, gradlab.Tensor) and key not in ("step", "eta", "mu"):
                assert value.dtype == dtype, key
