"""Linear and softmax regression written from scratch, then a concise MLP, dropout and weight decay, as a
course builds them up.  Each is checked against its mathematics (the weights recovered, the probabilities
summing to one, the penalty's gradient) and, where PyTorch is installed, against the same code on PyTorch."""
import copy
import math
import random

import numpy as np
import pytest

import gradlab

from course_helpers import (assert_close, assert_same_state, copy_weights, fashion_batch, needs_numpy_keywords,  # noqa: F401
                            tensors, torch)


# ---------------------------------------------------------------- linear regression from scratch


def linear_regression(lib, features, labels, order, epochs=3, lr=0.03, batch_size=10):
    """Minibatch SGD on a squared loss with a hand-written data iterator; the mean loss after each epoch."""
    X_all, y_all = lib.tensor(features), lib.tensor(labels)

    def data_iter(batch_size, features, labels):
        for i in range(0, len(features), batch_size):
            batch = lib.tensor(order[i:i + batch_size])
            yield features[batch], labels[batch]

    def sgd(params, lr, batch_size):
        with lib.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    w = lib.zeros((2, 1), requires_grad=True)
    b = lib.zeros(1, requires_grad=True)
    losses = []
    for _ in range(epochs):
        for X, y in data_iter(batch_size, X_all, y_all):
            l = (lib.matmul(X, w) + b - y) ** 2 / 2
            l.sum().backward()
            sgd([w, b], lr, batch_size)
        with lib.no_grad():
            losses.append(float(((lib.matmul(X_all, w) + b - y_all) ** 2 / 2).mean()))
    return w, b, losses


def synthetic_data(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2)).astype(np.float32)
    y = X @ np.array([2, -3.4], np.float32) + 4.2 + rng.normal(0, 0.01, n).astype(np.float32)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return X, y.reshape(-1, 1), order


def test_linear_regression_from_scratch_recovers_the_weights(torch):
    X, y, order = synthetic_data()
    w, b, losses = linear_regression(gradlab, X, y, order)
    np.testing.assert_allclose(w.detach().numpy().ravel(), [2, -3.4], atol=2e-3)
    assert abs(b.item() - 4.2) < 2e-3 and losses[-1] < 1e-4 < losses[0]
    assert w.grad.abs().sum().item() == 0  # zeroed by the hand-written sgd

    their_w, their_b, their_losses = linear_regression(torch, X, y, order)
    assert_close(w, their_w, rtol=1e-5)
    assert_close(b, their_b, rtol=1e-5)
    np.testing.assert_allclose(losses, their_losses, rtol=1e-3)


# ---------------------------------------------------------------- softmax regression from scratch


def softmax_regression(lib, images, labels, steps=5, lr=0.1):
    """Softmax regression with the softmax and cross-entropy written out; NumPy's keyword names throughout."""

    def softmax(X):
        X_exp = lib.exp(X)
        return X_exp / X_exp.sum(axis=1, keepdims=True)

    def cross_entropy(y_hat, y):
        return -lib.log(y_hat[list(range(len(y_hat))), y]).mean()

    def accuracy(y_hat, y):
        return float((y_hat.argmax(axis=1).type(y.dtype) == y).type(lib.float32).mean())

    gen = np.random.default_rng(1)
    W = lib.tensor(gen.normal(0, 0.01, (784, 10)).astype(np.float32), requires_grad=True)
    b = lib.zeros(10, requires_grad=True)
    X, y = lib.tensor(images), lib.tensor(labels)
    losses = []
    for _ in range(steps):
        y_hat = softmax(lib.matmul(X.reshape((-1, W.shape[0])), W) + b)
        l = cross_entropy(y_hat, y)
        l.backward()
        with lib.no_grad():
            for p in (W, b):
                p -= lr * p.grad
                p.grad.zero_()
        losses.append(l.item())
    return softmax, y_hat, losses, accuracy(y_hat, y)


@needs_numpy_keywords
def test_softmax_regression_from_scratch_with_keepdims(torch):
    images, labels = fashion_batch(64)
    softmax, y_hat, losses, acc = softmax_regression(gradlab, images, labels)
    X = gradlab.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert tuple(X.sum(axis=0, keepdims=True).shape) == (1, 3) and tuple(X.sum(axis=1, keepdims=True).shape) == (2, 1)
    assert_close(softmax(X).sum(axis=1), [1, 1])
    assert_close(softmax(X), np.exp([[-2, -1, 0], [-2, -1, 0]]) / np.exp([-2, -1, 0]).sum())
    assert losses[-1] < losses[0] and 0 <= acc <= 1

    _, their_y_hat, their_losses, their_acc = softmax_regression(torch, images, labels)
    np.testing.assert_allclose(losses, their_losses, rtol=1e-5)
    assert_close(y_hat, their_y_hat, atol=1e-6)
    assert acc == their_acc


def test_cross_entropy_by_picking_the_true_class():
    y_hat = gradlab.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    y = gradlab.tensor([0, 2])
    assert_close(y_hat[[0, 1], y], [0.1, 0.5])
    assert_close(-gradlab.log(y_hat[list(range(len(y_hat))), y]).mean(), -(math.log(0.1) + math.log(0.5)) / 2)
    assert (y_hat.argmax(1).type(y.dtype) == y).tolist() == [False, True]


# ---------------------------------------------------------------- concise MLP


def concise_mlp(lib, images, labels, steps=6):
    nn = lib.nn
    lib.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.LazyLinear(32), nn.ReLU(), nn.LazyLinear(10))
    X, y = lib.tensor(images), lib.tensor(labels)
    net(X)
    loss = nn.CrossEntropyLoss(reduction="none")
    return net, loss, X, y, steps


def test_concise_mlp_with_a_per_example_loss(torch):
    images, labels = fashion_batch(32)
    runs = []
    for lib in (gradlab, torch):
        net, loss, X, y, steps = concise_mlp(lib, images, labels)
        if lib is gradlab:
            start = copy.deepcopy(net)  # the starting weights, for PyTorch
        else:
            copy_weights(start, net, torch)
        trainer = lib.optim.SGD(net.parameters(), lr=0.1)
        per_example, losses = None, []
        for _ in range(steps):
            per_example = loss(net(X), y)
            trainer.zero_grad()
            per_example.mean().backward()
            trainer.step()
            losses.append(per_example.mean().item())
        runs.append((net, per_example, losses))
    (net, per_example, losses), (theirs, their_per_example, their_losses) = runs
    assert tuple(per_example.shape) == (32,)
    assert_close(per_example, their_per_example, rtol=1e-5)
    np.testing.assert_allclose(losses, their_losses, rtol=1e-5)
    assert_same_state(net, theirs, rtol=1e-4, atol=1e-6)
    assert losses[-1] < losses[0]


# ---------------------------------------------------------------- dropout


def dropout_layer(lib, X, dropout):
    assert 0 <= dropout <= 1
    if dropout == 1:
        return lib.zeros_like(X)
    mask = (lib.rand(X.shape) > dropout).float()
    return mask * X / (1.0 - dropout)


def test_dropout_from_scratch():
    gradlab.manual_seed(4)
    X = gradlab.arange(16, dtype=gradlab.float32).reshape((2, 8))
    assert gradlab.equal(dropout_layer(gradlab, X, 0.0), X)
    assert gradlab.equal(dropout_layer(gradlab, X, 1.0), gradlab.zeros_like(X))
    half = dropout_layer(gradlab, X, 0.5).numpy()
    kept = half != 0
    np.testing.assert_array_equal(half[kept], 2 * X.numpy()[kept])  # survivors scaled by 1 / (1 - p)
    big = dropout_layer(gradlab, gradlab.ones(200, 200), 0.3)
    assert abs(big.mean().item() - 1) < 0.02  # the expectation is kept
    assert abs((big == 0).float().mean().item() - 0.3) < 0.02


def test_dropout_in_a_net_is_off_in_eval():
    nn = gradlab.nn
    net = nn.Sequential(nn.Flatten(), nn.LazyLinear(64), nn.ReLU(), nn.Dropout(0.5), nn.LazyLinear(10))
    X = gradlab.tensor(fashion_batch(4)[0])
    net(X)
    net.eval()
    assert gradlab.equal(net(X), net(X))
    net.train()
    assert not gradlab.equal(net(X), net(X))


# ---------------------------------------------------------------- weight decay


def test_l2_penalty_from_scratch_adds_lambda_w_to_the_gradient():
    gradlab.manual_seed(5)
    w = gradlab.normal(0, 1, size=(20, 1), requires_grad=True)
    X, y = gradlab.randn(8, 20), gradlab.randn(8, 1)
    lambd = 3.0

    def l2_penalty(w):
        return (w ** 2).sum() / 2

    assert_close(l2_penalty(w), (w.detach().numpy() ** 2).sum() / 2, rtol=1e-6)
    ((gradlab.matmul(X, w) - y) ** 2 / 2).mean().backward()
    plain = w.grad.clone()
    w.grad = None
    (((gradlab.matmul(X, w) - y) ** 2 / 2).mean() + lambd * l2_penalty(w)).backward()
    assert_close(w.grad, plain.numpy() + lambd * w.detach().numpy(), rtol=1e-5)


def test_optimizer_weight_decay_equals_the_penalty(torch):
    """SGD(weight_decay=wd) on the bare loss takes the same steps as plain SGD on loss + wd * ||w||^2 / 2;
    a parameter group without decay (the bias) is left alone; PyTorch agrees."""
    nn = gradlab.nn
    X, y = np.random.default_rng(6).standard_normal((16, 20)).astype(np.float32), np.ones((16, 1), np.float32)
    gradlab.manual_seed(6)
    nets = [nn.LazyLinear(1) for _ in range(2)]
    nets[0](gradlab.tensor(X))
    nets[1](gradlab.tensor(X))
    nets[1].load_state_dict(nets[0].state_dict())
    wd, lr = 0.5, 0.05
    decayed = gradlab.optim.SGD([{"params": nets[0].weight, "weight_decay": wd}, {"params": nets[0].bias}], lr=lr)
    plain = gradlab.optim.SGD(nets[1].parameters(), lr=lr)
    Xt, yt = gradlab.tensor(X), gradlab.tensor(y)
    for _ in range(5):
        for net, opt, penalty in ((nets[0], decayed, 0.0), (nets[1], plain, wd)):
            opt.zero_grad()
            l = ((net(Xt) - yt) ** 2).mean() + penalty * (net.weight ** 2).sum() / 2
            l.backward()
            opt.step()
    assert_same_state(nets[0], nets[1], rtol=1e-5)

    theirs = torch.nn.Linear(20, 1)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in nets[1].state_dict().items()})
    ours = nets[0]
    opt = gradlab.optim.SGD(ours.parameters(), lr=lr, weight_decay=wd)
    their_opt = torch.optim.SGD(theirs.parameters(), lr=lr, weight_decay=wd)
    for net, o, lib in ((ours, opt, gradlab), (theirs, their_opt, torch)):
        for _ in range(3):
            o.zero_grad()
            ((net(lib.tensor(X)) - lib.tensor(y)) ** 2).mean().backward()
            o.step()
    assert_same_state(ours, theirs, rtol=1e-5)
