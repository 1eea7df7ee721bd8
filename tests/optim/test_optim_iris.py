"""Every optimizer trains a logistic regression on scikit-learn's iris.

The model is plain tensor code (``x @ w + b`` and a log-softmax through
``gradlab.logsumexp``), so only the optimizers and the core autograd are under test.
"""
import numpy as np
import pytest

import gradlab
from gradlab import optim

datasets = pytest.importorskip("sklearn.datasets")


@pytest.fixture(scope="module")
def iris():
    data = datasets.load_iris()
    x = (data.data - data.data.mean(0)) / data.data.std(0)
    return gradlab.tensor(x), gradlab.tensor(np.eye(3)[data.target]), data.target


def cross_entropy(x, onehot, w, b):
    logits = x @ w + b
    log_probs = logits - gradlab.logsumexp(logits, dim=1, keepdim=True)
    return -(onehot * log_probs).sum() / x.shape[0]


OPTIMIZERS = {
    "SGD": (lambda ps: optim.SGD(ps, lr=0.5), 40),
    "SGD-nesterov": (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3), 40),
    "Adam": (lambda ps: optim.Adam(ps, lr=0.1), 40),
    "Adam-amsgrad": (lambda ps: optim.Adam(ps, lr=0.1, amsgrad=True), 40),
    "AdamW": (lambda ps: optim.AdamW(ps, lr=0.1), 40),
    "Adagrad": (lambda ps: optim.Adagrad(ps, lr=0.5), 40),
    "Adadelta": (lambda ps: optim.Adadelta(ps, lr=10.0), 40),
    "Adamax": (lambda ps: optim.Adamax(ps, lr=0.2), 40),
    "ASGD": (lambda ps: optim.ASGD(ps, lr=0.5, t0=10), 40),
    "RMSprop": (lambda ps: optim.RMSprop(ps, lr=0.02), 40),
    "RMSprop-centered": (lambda ps: optim.RMSprop(ps, lr=0.01, centered=True, momentum=0.5), 40),
    "Rprop": (lambda ps: optim.Rprop(ps, lr=0.01), 40),
    "LBFGS": (lambda ps: optim.LBFGS(ps, max_iter=5), 4),
    "LBFGS-wolfe": (lambda ps: optim.LBFGS(ps, max_iter=5, line_search_fn="strong_wolfe"), 4),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_lowers_the_loss(iris, name):
    x, onehot, target = iris
    w = gradlab.zeros(4, 3, dtype=gradlab.float64, requires_grad=True)
    b = gradlab.zeros(3, dtype=gradlab.float64, requires_grad=True)
    make, steps = OPTIMIZERS[name]
    opt = make([w, b])

    def closure():
        opt.zero_grad()
        loss = cross_entropy(x, onehot, w, b)
        loss.backward()
        return loss

    start = float(closure())
    assert start == pytest.approx(np.log(3))
    for _ in range(steps):
        opt.step(closure) if name.startswith("LBFGS") else (closure(), opt.step())
    end = float(cross_entropy(x, onehot, w, b))
    accuracy = ((x @ w + b).argmax(dim=1).numpy() == target).mean()
    assert end < 0.5 * start, f"{name}: loss {start:.4f} -> {end:.4f}"
    assert accuracy > 0.85, f"{name}: accuracy {accuracy:.3f}"


def test_maximize_climbs_the_negated_loss(iris):
    x, onehot, _ = iris
    w = gradlab.zeros(4, 3, dtype=gradlab.float64, requires_grad=True)
    b = gradlab.zeros(3, dtype=gradlab.float64, requires_grad=True)
    opt = optim.Adam([w, b], lr=0.1, maximize=True)
    for _ in range(40):
        opt.zero_grad()
        (-cross_entropy(x, onehot, w, b)).backward()
        opt.step()
    assert float(cross_entropy(x, onehot, w, b)) < 0.5 * np.log(3)


def test_float32_model_with_a_schedule(iris):
    x, onehot, _ = iris
    x32, onehot32 = x.float(), onehot.float()
    w = gradlab.zeros(4, 3, requires_grad=True)
    b = gradlab.zeros(3, requires_grad=True)
    opt = optim.SGD([w, b], lr=1.0, momentum=0.9)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=30)
    for _ in range(30):
        opt.zero_grad()
        cross_entropy(x32, onehot32, w, b).backward()
        opt.step()
        sched.step()
    assert w.dtype == gradlab.float32 and opt.state[w]["momentum_buffer"].dtype == gradlab.float32
    assert float(cross_entropy(x32, onehot32, w, b)) < 0.3
