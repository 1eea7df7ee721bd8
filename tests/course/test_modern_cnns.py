"""Modern convolutional networks as a course builds them from blocks: VGG and NiN blocks, batch
normalisation from scratch and as a layer, a residual block with and without its 1x1 convolution, and a
small ResNet trained for a few steps beside PyTorch from the same weights."""
import numpy as np
import pytest

import gradlab

from course_helpers import assert_close, assert_same_state, copy_weights, fashion_batch, tensors, torch  # noqa: F401


def blocks(lib):
    """The course's building blocks, written once for either library."""
    nn, F = lib.nn, lib.nn.functional

    def vgg_block(num_convs, out_channels):
        layers = []
        for _ in range(num_convs):
            layers += [nn.LazyConv2d(out_channels, kernel_size=3, padding=1), nn.ReLU()]
        return nn.Sequential(*layers, nn.MaxPool2d(kernel_size=2, stride=2))

    def nin_block(out_channels, kernel_size, strides, padding):
        return nn.Sequential(nn.LazyConv2d(out_channels, kernel_size, strides, padding), nn.ReLU(),
                             nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU(),
                             nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU())

    class Residual(nn.Module):
        def __init__(self, num_channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1, stride=strides)
            self.conv2 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1)
            self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
            self.bn1 = nn.LazyBatchNorm2d()
            self.bn2 = nn.LazyBatchNorm2d()

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3:
                X = self.conv3(X)
            Y += X
            return F.relu(Y)

    def small_resnet():
        return nn.Sequential(
            nn.Sequential(nn.LazyConv2d(8, kernel_size=7, stride=2, padding=3), nn.LazyBatchNorm2d(), nn.ReLU(),
                          nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
            Residual(8), Residual(16, use_1x1conv=True, strides=2),
            nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.LazyLinear(10))

    return vgg_block, nin_block, Residual, small_resnet


def test_vgg_and_nin_blocks():
    vgg_block, nin_block, _, _ = blocks(gradlab)
    nn = gradlab.nn
    X = gradlab.tensor(fashion_batch(2)[0])
    vgg = nn.Sequential(vgg_block(1, 8), vgg_block(2, 16), nn.Flatten(), nn.LazyLinear(32), nn.ReLU(),
                        nn.Dropout(0.5), nn.LazyLinear(10))
    assert tuple(vgg[1](vgg[0](X)).shape) == (2, 16, 7, 7) and tuple(vgg(X).shape) == (2, 10)
    assert sum(isinstance(m, nn.Conv2d) for m in vgg.modules()) == 3
    nin = nn.Sequential(nin_block(8, 5, 1, 2), nn.MaxPool2d(3, stride=2), nin_block(10, 3, 1, 1),
                        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    assert tuple(nin(X).shape) == (2, 10)
    assert [tuple(m.weight.shape) for m in nin[2] if isinstance(m, nn.Conv2d)] == [(10, 8, 3, 3), (10, 10, 1, 1),
                                                                                   (10, 10, 1, 1)]


@pytest.mark.parametrize("channels, use_1x1conv, strides, out_shape", [
    (3, False, 1, (4, 3, 6, 6)), (6, True, 2, (4, 6, 3, 3))])
def test_residual_block(channels, use_1x1conv, strides, out_shape, torch):
    _, _, Residual, _ = blocks(gradlab)
    gradlab.manual_seed(7)
    X = np.random.default_rng(7).standard_normal((4, 3, 6, 6)).astype(np.float32)
    block = Residual(channels, use_1x1conv, strides)
    Y = block(gradlab.tensor(X))
    assert tuple(Y.shape) == out_shape and Y.min().item() >= 0
    _, _, TheirResidual, _ = blocks(torch)
    theirs = TheirResidual(channels, use_1x1conv, strides)
    theirs(torch.tensor(X))
    copy_weights(block, theirs, torch)
    assert_close(block(gradlab.tensor(X)), theirs(torch.tensor(X)), rtol=1e-4, atol=1e-5)
    assert_same_state(block, theirs, rtol=1e-5)  # the running statistics, updated twice


def test_small_resnet_trains_as_pytorch(torch):
    images, labels = fashion_batch(16)
    runs = []
    for lib in (gradlab, torch):
        lib.manual_seed(0)
        net = blocks(lib)[3]()
        X, y = tensors(lib, images, labels)
        net(X[:2])
        if lib is gradlab:
            start = {k: v.numpy().copy() for k, v in net.state_dict().items()}
        else:
            net.load_state_dict({k: torch.tensor(v) for k, v in start.items()})
        optimizer = lib.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        losses = []
        for _ in range(4):
            optimizer.zero_grad()
            l = lib.nn.functional.cross_entropy(net(X), y)
            l.backward()
            optimizer.step()
            losses.append(l.item())
        net.eval()
        runs.append((net, losses, net(X)))
    (net, losses, out), (theirs, their_losses, their_out) = runs
    np.testing.assert_allclose(losses, their_losses, rtol=1e-4)
    assert_same_state(net, theirs, rtol=1e-3, atol=1e-5)
    assert_close(out, their_out, rtol=1e-3, atol=1e-4)
    assert losses[-1] < losses[0]
    assert [type(m).__name__ for m in net[0]] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]


def batch_norm(lib, X, gamma, beta, moving_mean, moving_var, eps, momentum):
    """Batch normalisation written out: batch statistics in training, the moving ones in evaluation."""
    if not lib.is_grad_enabled():
        X_hat = (X - moving_mean) / lib.sqrt(moving_var + eps)
    else:
        if X.dim() == 2:
            mean = X.mean(dim=0)
            var = ((X - mean) ** 2).mean(dim=0)
        else:
            mean = X.mean(dim=(0, 2, 3), keepdim=True)
            var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        X_hat = (X - mean) / lib.sqrt(var + eps)
        moving_mean = (1.0 - momentum) * moving_mean + momentum * mean
        moving_var = (1.0 - momentum) * moving_var + momentum * var
    return gamma * X_hat + beta, moving_mean.data, moving_var.data


def test_batch_norm_from_scratch_matches_the_layer():
    """Training output and gradient equal nn.BatchNorm2d's; the layer's running variance is the unbiased one."""
    X = gradlab.tensor(np.random.default_rng(8).standard_normal((4, 3, 5, 5)).astype(np.float32) * 3 + 1,
                       requires_grad=True)
    shape = (1, 3, 1, 1)
    gamma, beta = gradlab.ones(shape, requires_grad=True), gradlab.zeros(shape, requires_grad=True)
    Y, moving_mean, moving_var = batch_norm(gradlab, X, gamma, beta, gradlab.zeros(shape), gradlab.ones(shape),
                                            1e-5, 0.1)
    (Y * Y.detach()).sum().backward()
    ours_grad = X.grad.clone()
    X.grad = None
    layer = gradlab.nn.BatchNorm2d(3, eps=1e-5, momentum=0.1)
    Z = layer(X)
    (Z * Z.detach()).sum().backward()
    assert_close(Y, Z, atol=1e-5)
    assert_close(ours_grad, X.grad, atol=1e-5)
    assert_close(moving_mean.reshape(3), layer.running_mean)
    n = 4 * 5 * 5
    assert_close(moving_var.reshape(3) * 1, 0.9 + (layer.running_var.numpy() - 0.9) * (n - 1) / n, rtol=1e-5)
    with gradlab.no_grad():
        Y_eval, _, _ = batch_norm(gradlab, X, gamma, beta, moving_mean, moving_var, 1e-5, 0.1)
    assert_close(Y_eval, (X.detach().numpy() - moving_mean.numpy()) / np.sqrt(moving_var.numpy() + 1e-5), atol=1e-5)
