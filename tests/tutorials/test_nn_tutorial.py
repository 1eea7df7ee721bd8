"""Tutorial "What is torch.nn really?" (pytorch/tutorials, beginner_source/nn_tutorial.py).

The whole tutorial, from the logistic regression written with bare tensor
ops through ``nn.Module``, ``nn.Linear``, ``optim``, ``TensorDataset``,
``DataLoader``, validation, ``fit()``, the three-layer CNN, ``nn.Sequential``
with a ``Lambda`` layer, ``WrappedDataLoader`` and ``AdaptiveAvgPool2d``, to
moving to a device. The data is MNIST in mnist.pkl's layout (float32 rows of
784 pixels in [0, 1], int64 labels): scikit-learn's digits drawn at 28x28
always, and the real MNIST files when they are at hand.
"""
import math
import re

import matplotlib
import numpy as np
import pytest

import gradlab as torch
import gradlab.nn.functional as F
from gradlab import nn, optim
from gradlab.utils.data import DataLoader, TensorDataset
from tutorial_helpers import as_printed_by_pytorch, on_pytorch

matplotlib.use("Agg")


def as_mnist_pkl(images, labels):
    """Images (N, 28, 28) uint8 and labels as mnist.pkl.gz holds them: (N, 784) float32 in [0, 1], int64."""
    return (images.reshape(len(images), 784).astype(np.float32) / 255), labels.astype(np.int64)


def digits_data():
    from gradlab.datasets import load_digits_as_mnist
    (train_x, train_y), (valid_x, valid_y) = load_digits_as_mnist()
    return (*as_mnist_pkl(train_x, train_y), *as_mnist_pkl(valid_x, valid_y))


def nn_tutorial(x_train, y_train, x_valid, y_valid):
    # (test) the download of mnist.pkl.gz and its unpickling are replaced by the arrays passed in

    from matplotlib import pyplot
    import numpy as np

    pyplot.imshow(x_train[0].reshape((28, 28)), cmap="gray")
    print(x_train.shape)

    x_train, y_train, x_valid, y_valid = map(
        torch.tensor, (x_train, y_train, x_valid, y_valid)
    )
    n, c = x_train.shape
    x_train, x_train.shape, y_train.min(), y_train.max()
    print(x_train, y_train)
    print(x_train.shape)
    print(y_train.min(), y_train.max())

    import math

    weights = torch.randn(784, 10) / math.sqrt(784)
    weights.requires_grad_()
    bias = torch.zeros(10, requires_grad=True)

    def log_softmax(x):
        return x - x.exp().sum(-1).log().unsqueeze(-1)

    def model(xb):
        return log_softmax(xb @ weights + bias)

    bs = 64  # batch size

    xb = x_train[0:bs]  # a mini-batch from x
    preds = model(xb)  # predictions
    preds[0], preds.shape
    print(preds[0], preds.shape)

    def nll(input, target):
        return -input[range(target.shape[0]), target].mean()

    loss_func = nll

    yb = y_train[0:bs]
    print(loss_func(preds, yb))

    def accuracy(out, yb):
        preds = torch.argmax(out, dim=1)
        return (preds == yb).float().mean()

    print(accuracy(preds, yb))

    # from IPython.core.debugger import set_trace  (test) IPython is not installed; set_trace stays unused

    lr = 0.5  # learning rate
    epochs = 2  # how many epochs to train for

    for epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            #         set_trace()
            start_i = i * bs
            end_i = start_i + bs
            xb = x_train[start_i:end_i]
            yb = y_train[start_i:end_i]
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            with torch.no_grad():
                weights -= weights.grad * lr
                bias -= bias.grad * lr
                weights.grad.zero_()
                bias.grad.zero_()

    print(loss_func(model(xb), yb), accuracy(model(xb), yb))

    # import torch.nn.functional as F  (test) imported at the top of this file

    loss_func = F.cross_entropy

    def model(xb):
        return xb @ weights + bias

    print(loss_func(model(xb), yb), accuracy(model(xb), yb))

    # from torch import nn  (test) imported at the top of this file

    class Mnist_Logistic(nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = nn.Parameter(torch.randn(784, 10) / math.sqrt(784))
            self.bias = nn.Parameter(torch.zeros(10))

        def forward(self, xb):
            return xb @ self.weights + self.bias

    model = Mnist_Logistic()

    print(loss_func(model(xb), yb))

    def fit():
        for epoch in range(epochs):
            for i in range((n - 1) // bs + 1):
                start_i = i * bs
                end_i = start_i + bs
                xb = x_train[start_i:end_i]
                yb = y_train[start_i:end_i]
                pred = model(xb)
                loss = loss_func(pred, yb)

                loss.backward()
                with torch.no_grad():
                    for p in model.parameters():
                        p -= p.grad * lr
                    model.zero_grad()

    fit()

    print(loss_func(model(xb), yb))

    class Mnist_Logistic(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(784, 10)

        def forward(self, xb):
            return self.lin(xb)

    model = Mnist_Logistic()
    print(loss_func(model(xb), yb))

    fit()

    print(loss_func(model(xb), yb))

    # from torch import optim  (test) imported at the top of this file

    def get_model():
        model = Mnist_Logistic()
        return model, optim.SGD(model.parameters(), lr=lr)

    model, opt = get_model()
    print(loss_func(model(xb), yb))

    for epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            start_i = i * bs
            end_i = start_i + bs
            xb = x_train[start_i:end_i]
            yb = y_train[start_i:end_i]
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            opt.step()
            opt.zero_grad()

    print(loss_func(model(xb), yb))

    # from torch.utils.data import TensorDataset  (test) imported at the top of this file

    train_ds = TensorDataset(x_train, y_train)

    model, opt = get_model()

    for epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            xb, yb = train_ds[i * bs: i * bs + bs]
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            opt.step()
            opt.zero_grad()

    print(loss_func(model(xb), yb))

    # from torch.utils.data import DataLoader  (test) imported at the top of this file

    train_ds = TensorDataset(x_train, y_train)
    train_dl = DataLoader(train_ds, batch_size=bs)

    model, opt = get_model()

    for epoch in range(epochs):
        for xb, yb in train_dl:
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            opt.step()
            opt.zero_grad()

    print(loss_func(model(xb), yb))

    train_ds = TensorDataset(x_train, y_train)
    train_dl = DataLoader(train_ds, batch_size=bs, shuffle=True)

    valid_ds = TensorDataset(x_valid, y_valid)
    valid_dl = DataLoader(valid_ds, batch_size=bs * 2)

    model, opt = get_model()

    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            opt.step()
            opt.zero_grad()

        model.eval()
        with torch.no_grad():
            valid_loss = sum(loss_func(model(xb), yb) for xb, yb in valid_dl)

        print(epoch, valid_loss / len(valid_dl))

    def loss_batch(model, loss_func, xb, yb, opt=None):
        loss = loss_func(model(xb), yb)

        if opt is not None:
            loss.backward()
            opt.step()
            opt.zero_grad()

        return loss.item(), len(xb)

    import numpy as np

    def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
        for epoch in range(epochs):
            model.train()
            for xb, yb in train_dl:
                loss_batch(model, loss_func, xb, yb, opt)

            model.eval()
            with torch.no_grad():
                losses, nums = zip(
                    *[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl]
                )
            val_loss = np.sum(np.multiply(losses, nums)) / np.sum(nums)

            print(epoch, val_loss)

    def get_data(train_ds, valid_ds, bs):
        return (
            DataLoader(train_ds, batch_size=bs, shuffle=True),
            DataLoader(valid_ds, batch_size=bs * 2),
        )

    train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
    model, opt = get_model()
    fit(epochs, model, loss_func, opt, train_dl, valid_dl)

    class Mnist_CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1)
            self.conv2 = nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1)
            self.conv3 = nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1)

        def forward(self, xb):
            xb = xb.view(-1, 1, 28, 28)
            xb = F.relu(self.conv1(xb))
            xb = F.relu(self.conv2(xb))
            xb = F.relu(self.conv3(xb))
            xb = F.avg_pool2d(xb, 4)
            return xb.view(-1, xb.size(1))

    lr = 0.1

    model = Mnist_CNN()
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    fit(epochs, model, loss_func, opt, train_dl, valid_dl)

    class Lambda(nn.Module):
        def __init__(self, func):
            super().__init__()
            self.func = func

        def forward(self, x):
            return self.func(x)

    def preprocess(x):
        return x.view(-1, 1, 28, 28)

    model = nn.Sequential(
        Lambda(preprocess),
        nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(4),
        Lambda(lambda x: x.view(x.size(0), -1)),
    )

    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    fit(epochs, model, loss_func, opt, train_dl, valid_dl)

    def preprocess(x, y):
        return x.view(-1, 1, 28, 28), y

    class WrappedDataLoader:
        def __init__(self, dl, func):
            self.dl = dl
            self.func = func

        def __len__(self):
            return len(self.dl)

        def __iter__(self):
            batches = iter(self.dl)
            for b in batches:
                yield (self.func(*b))

    train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
    train_dl = WrappedDataLoader(train_dl, preprocess)
    valid_dl = WrappedDataLoader(valid_dl, preprocess)

    model = nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        Lambda(lambda x: x.view(x.size(0), -1)),
    )

    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    fit(epochs, model, loss_func, opt, train_dl, valid_dl)

    print(torch.cuda.is_available())

    dev = torch.device(
        "cuda") if torch.cuda.is_available() else torch.device("cpu")

    def preprocess(x, y):
        return x.view(-1, 1, 28, 28).to(dev), y.to(dev)

    train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
    train_dl = WrappedDataLoader(train_dl, preprocess)
    valid_dl = WrappedDataLoader(valid_dl, preprocess)

    model.to(dev)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    fit(epochs, model, loss_func, opt, train_dl, valid_dl)


# ---- reading the printout ---------------------------------------------------

def scalars(line):
    """The decimal numbers on a printout line such as ``tensor(0.1979, grad_fn=<...>) tensor(1.)``."""
    return [float(v) for v in re.findall(r"(?<![\w.])-?\d+\.\d*(?:e[-+]\d+)?", line)]


def check_the_tutorial_story(out, n_train):
    """What the tutorial's printout shows, section by section; returns the validation losses."""
    lines = out.splitlines()
    assert lines[0] == f"({n_train}, 784)"
    assert f"torch.Size([{n_train}, 784])" in lines and "tensor(0) tensor(9)" in lines
    assert lines[-3] == "False"  # torch.cuda.is_available()
    losses = [scalars(line) for line in lines if re.match(r"tensor\(-?\d+\.", line)]
    assert len(losses) == 12
    # the random model's loss is near ln(10); two epochs of hand-written SGD cut it several-fold
    start, accuracy = losses[0][0], losses[1][0]
    assert 1.5 < start < 4.0 and 0 <= accuracy <= 1
    trained_loss, trained_accuracy = losses[2]
    assert trained_loss < start / 3 and trained_accuracy > 0.8
    # log_softmax + nll by hand is F.cross_entropy: the same loss and accuracy on the same weights
    np.testing.assert_allclose(losses[3], losses[2], atol=2e-4)
    # nn.Parameter, nn.Linear and optim each train a fresh model from near ln(10) to a low loss
    for before, after in [(losses[4][0], losses[5][0]), (losses[6][0], losses[7][0]), (losses[8][0], losses[9][0])]:
        assert before > 1.5 and after < before / 3
    # so do the TensorDataset and DataLoader loops
    assert losses[10][0] < 0.8 and losses[11][0] < 0.8
    # validation loop, fit(), the CNN, Sequential, wrapped loaders, on the device: two epochs each
    epochs = [line.split(" ", 1) for line in lines if re.match(r"[01] (tensor\()?\d", line)]
    assert [int(epoch) for epoch, _ in epochs] == [0, 1] * 6
    validation = [scalars(value)[0] for _, value in epochs]
    # the logistic models learn: their best epoch is far below ln(10)
    assert min(validation[0:2]) < 1.0 and min(validation[2:4]) < 1.0, validation
    # the CNNs (lr 0.1, momentum 0.9) never blow up; whether two epochs are enough depends on the data
    assert all(0 < v < 2.4 for v in validation[4:]), validation
    return validation


def test_nn_tutorial_on_digits(capsys):
    torch.manual_seed(0)
    data = digits_data()
    nn_tutorial(*data)
    check_the_tutorial_story(as_printed_by_pytorch(capsys.readouterr().out), len(data[0]))


def test_nn_tutorial_on_mnist(mnist_dir, capsys):
    from gradlab.datasets import MNIST
    train, valid = MNIST(mnist_dir, train=True), MNIST(mnist_dir, train=False)
    # (test) 3,000 training and 1,000 validation images instead of 50,000 and 10,000, to stay fast
    data = (*as_mnist_pkl(train.data.numpy()[:3000], train.targets.numpy()[:3000]),
            *as_mnist_pkl(valid.data.numpy()[:1000], valid.targets.numpy()[:1000]))
    torch.manual_seed(0)
    nn_tutorial(*data)
    validation = check_the_tutorial_story(as_printed_by_pytorch(capsys.readouterr().out), 3000)
    # with MNIST's 47 batches an epoch, the CNNs start to learn
    assert min(validation[4:]) < 1.6, validation


def test_nn_tutorial_data_printout_is_pytorchs(capsys):
    # up to the first random weights, the printout is PyTorch's, summarised tensors included
    pytest.importorskip("torch")
    # (test) the first 256 images, so that PyTorch's run of the whole tutorial stays short
    data = [array[:256] for array in digits_data()]
    nn_tutorial(*data)
    ours = as_printed_by_pytorch(capsys.readouterr().out).splitlines()
    on_pytorch(nn_tutorial)(*data)
    theirs = capsys.readouterr().out.splitlines()
    first_random = next(i for i, line in enumerate(theirs) if line.startswith("tensor([-"))
    assert first_random > 5
    assert ours[:first_random] == theirs[:first_random]


def test_hand_written_nll_picks_the_target_entries():
    # input[range(n), target]: one entry per row, as PyTorch's advanced indexing
    def nll(input, target):
        return -input[range(target.shape[0]), target].mean()
    logp = torch.tensor([[-1.0, -2.0, -3.0], [-4.0, -5.0, -6.0]], requires_grad=True)
    target = torch.tensor([2, 0])
    loss = nll(logp, target)
    assert loss.item() == pytest.approx(3.5)
    loss.backward()
    assert logp.grad.tolist() == [[0, 0, -0.5], [-0.5, 0, 0]]
    assert math.isclose(F.nll_loss(logp, target).item(), loss.item())
