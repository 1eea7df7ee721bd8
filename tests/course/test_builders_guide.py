"""The builder's guide of a deep-learning course, on gradlab: lazy layers dry-run and initialised with
``apply``, parameter access and sharing, custom layers with and without parameters, and saving tensors,
lists, dicts and a model's parameters in the working directory.  Where PyTorch is installed, the same
code runs on it from gradlab's weights and the two are compared."""
import numpy as np
import pytest

import gradlab

from course_helpers import assert_close, assert_same_state, copy_weights, fashion_batch, tensors, torch  # noqa: F401


# ---------------------------------------------------------------- lazy MLP and lazy LeNet


def lazy_mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Flatten(), nn.LazyLinear(64), nn.ReLU(), nn.LazyLinear(10))


def lazy_lenet(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.LazyLinear(120), nn.Sigmoid(), nn.LazyLinear(84), nn.Sigmoid(), nn.LazyLinear(10))


def xavier_init(lib):
    nn = lib.nn

    def init(module):
        if type(module) in (nn.Linear, nn.Conv2d):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
    return init


def train_steps(lib, net, X, y, steps, lr):
    """Minibatch SGD on one batch; the loss of each step."""
    loss = lib.nn.CrossEntropyLoss()
    optimizer = lib.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        l = loss(net(X), y)
        l.backward()
        optimizer.step()
        losses.append(l.item())
    return losses


@pytest.mark.parametrize("build, shapes, lr", [
    (lazy_mlp, [(64, 784), (64,), (10, 64), (10,)], 0.5),
    (lazy_lenet, [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,), (84, 120), (84,), (10, 84), (10,)],
     0.9),
], ids=["mlp", "lenet"])
def test_lazy_net_dry_run_init_and_train(build, shapes, lr, torch):
    images, labels = fashion_batch(32)
    X, y = tensors(gradlab, images, labels)
    gradlab.manual_seed(0)
    net = build(gradlab)
    assert all(isinstance(p, gradlab.nn.parameter.UninitializedParameter) for p in net.parameters())
    assert tuple(net(X[:1]).shape) == (1, 10)  # the dry run fixes every size
    assert [tuple(p.shape) for p in net.parameters()] == shapes
    assert "Lazy" not in repr(net)  # each layer is now its ordinary class
    net.apply(xavier_init(gradlab))
    assert all(float(m.bias.abs().sum()) == 0 for m in net if hasattr(m, "bias"))

    theirs = build(torch)
    theirs(torch.tensor(images[:1]))
    copy_weights(net, theirs, torch)
    ours_losses = train_steps(gradlab, net, X, y, 8, lr)
    their_losses = train_steps(torch, theirs, *tensors(torch, images, labels), 8, lr)
    np.testing.assert_allclose(ours_losses, their_losses, rtol=1e-4)
    assert_same_state(net, theirs, rtol=1e-4, atol=1e-5)
    assert ours_losses[-1] < ours_losses[0]


# ---------------------------------------------------------------- parameter access


def test_parameter_access():
    gradlab.manual_seed(1)
    nn = gradlab.nn
    net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1))
    X = gradlab.rand(2, 4)
    net(X)
    assert type(net[2].bias) is nn.Parameter and net[2].bias.requires_grad
    assert type(net[2].bias.data) is gradlab.Tensor and not net[2].bias.data.requires_grad
    assert net[2].weight.grad is None
    assert [(name, tuple(p.shape)) for name, p in net.named_parameters()] == [
        ("0.weight", (8, 4)), ("0.bias", (8,)), ("2.weight", (1, 8)), ("2.bias", (1,))]
    assert [name for name, _ in net[0].named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(net.state_dict()["2.bias"].numpy(), net[2].bias.data.numpy())

    # init functions and direct writes through .data
    def constant_init(module):
        if type(module) is nn.Linear:
            nn.init.constant_(module.weight, 1)
            nn.init.zeros_(module.bias)
    net.apply(constant_init)
    assert_close(net(X), 8 * X.numpy().sum(1, keepdims=True))  # 8 hidden units, each the row's sum
    net[0].weight.data[:] += 1
    net[0].weight.data[0, 0] = 42
    assert net[0].weight[0, 0].item() == 42 and net[0].weight[1, 1].item() == 2
    net[0].apply(lambda m: nn.init.normal_(m.weight, mean=0, std=0.01))
    assert abs(net[0].weight.data.std().item() - 0.01) < 0.01


def test_shared_parameters_are_one_object_and_their_gradients_add_up(torch):
    nn = gradlab.nn
    gradlab.manual_seed(2)
    shared = nn.LazyLinear(8)
    net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.LazyLinear(1))
    X = gradlab.rand(3, 5)
    net(X)
    assert net[2].weight is net[4].weight and len(list(net.parameters())) == 6
    net[2].weight.data[0, 0] = 100
    assert net[4].weight.data[0, 0].item() == 100
    net(X).sum().backward()

    # Unshared copies with the same values: the shared gradient is the sum of the two layers' gradients.
    twin = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(),
                         nn.Linear(8, 1))
    for i in (0, 2, 4, 6):
        twin[i].load_state_dict(net[i].state_dict())
    twin(X).sum().backward()
    assert_close(net[2].weight.grad, twin[2].weight.grad.numpy() + twin[4].weight.grad.numpy())
    assert_close(net[2].bias.grad, twin[2].bias.grad.numpy() + twin[4].bias.grad.numpy())

    tshared = torch.nn.Linear(8, 8)
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), tshared, torch.nn.ReLU(), tshared,
                                 torch.nn.ReLU(), torch.nn.Linear(8, 1))
    copy_weights(net, theirs, torch)
    theirs(torch.tensor(X.numpy())).sum().backward()
    assert_close(net[2].weight.grad, theirs[2].weight.grad)
    assert_close(net[0].weight.grad, theirs[0].weight.grad)


# ---------------------------------------------------------------- custom layers


def custom_layers(lib):
    nn, F = lib.nn, lib.nn.functional

    class CenteredLayer(nn.Module):
        def forward(self, X):
            return X - X.mean()

    class MyLinear(nn.Module):
        def __init__(self, in_units, units):
            super().__init__()
            self.weight = nn.Parameter(lib.randn(in_units, units))
            self.bias = nn.Parameter(lib.randn(units))

        def forward(self, X):
            return F.relu(lib.matmul(X, self.weight) + self.bias)

    return CenteredLayer, MyLinear


def test_a_layer_without_parameters():
    CenteredLayer, _ = custom_layers(gradlab)
    np.testing.assert_array_equal(CenteredLayer()(gradlab.tensor([1.0, 2, 3, 4, 5])).numpy(), [-2, -1, 0, 1, 2])
    net = gradlab.nn.Sequential(gradlab.nn.LazyLinear(32), CenteredLayer())
    Y = net(gradlab.rand(4, 8))
    assert abs(Y.mean().item()) < 1e-6 and list(CenteredLayer().parameters()) == []


def test_a_layer_with_parameters(torch):
    gradlab.manual_seed(3)
    _, MyLinear = custom_layers(gradlab)
    net = gradlab.nn.Sequential(MyLinear(16, 8), MyLinear(8, 1))
    assert [name for name, _ in net.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    X = np.random.default_rng(0).random((4, 16), dtype=np.float32)
    out = net(gradlab.tensor(X))
    out.sum().backward()

    _, TheirLinear = custom_layers(torch)
    theirs = torch.nn.Sequential(TheirLinear(16, 8), TheirLinear(8, 1))
    copy_weights(net, theirs, torch)
    their_out = theirs(torch.tensor(X))
    their_out.sum().backward()
    assert_close(out, their_out)
    for (name, p), q in zip(net.named_parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad, atol=1e-5)


# ---------------------------------------------------------------- files in the working directory


def test_save_and_load_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = gradlab.arange(4), gradlab.zeros(4)
    gradlab.save(x, "x-file")
    assert gradlab.equal(gradlab.load("x-file"), x)
    gradlab.save([x, y], "x-files")
    x2, y2 = gradlab.load("x-files")
    assert gradlab.equal(x2, x) and gradlab.equal(y2, y) and y2.dtype == gradlab.float32
    gradlab.save({"x": x, "y": y}, "mydict")
    loaded = gradlab.load("mydict")
    assert list(loaded) == ["x", "y"] and gradlab.equal(loaded["x"], x)

    nn, F = gradlab.nn, gradlab.nn.functional

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.LazyLinear(32)
            self.output = nn.LazyLinear(10)

        def forward(self, X):
            return self.output(F.relu(self.hidden(X)))

    net = MLP()
    X = gradlab.randn(size=(2, 20))
    Y = net(X)
    gradlab.save(net.state_dict(), "mlp.params")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp.params", "mydict", "x-file", "x-files"]
    clone = MLP()  # not materialised yet: loading gives every lazy layer its size
    clone.load_state_dict(gradlab.load("mlp.params"))
    clone.eval()
    assert gradlab.equal(clone(X), Y)

