"""Tutorial "Deep Learning with PyTorch: A 60 Minute Blitz" (pytorch/tutorials, beginner_source/blitz).

blitz/tensor_tutorial.py ("What is PyTorch?"), blitz/autograd_tutorial.py in
three revisions (with ``autograd.Variable``, the ``x = torch.ones(2, 2)``
walk-through, and "A Gentle Introduction to torch.autograd" with
``Q = 3*a**3 - b**2``, exclusion from the DAG and fine-tuning by freezing), and blitz/neural_networks_tutorial.py (the
LeNet-like ``Net``). Deterministic printouts are compared with PyTorch's
printout of the same code.
"""
import numpy as np
import pytest

import gradlab as torch
import gradlab.nn as nn
import gradlab.nn.functional as F
import gradlab.optim as optim
from gradlab.autograd import Variable
from tutorial_helpers import as_printed_by_pytorch, assert_same_values, on_pytorch, without_numbers


# ---- blitz/tensor_tutorial.py -----------------------------------------------

def tensor_tutorial():
    x = torch.empty(5, 3)
    print(x)

    x = torch.rand(5, 3)
    print(x)

    x = torch.zeros(5, 3, dtype=torch.long)
    print(x)

    x = torch.tensor([5.5, 3])
    print(x)

    x = x.new_ones(5, 3, dtype=torch.double)      # new_* methods take in sizes
    print(x)

    x = torch.randn_like(x, dtype=torch.float)    # override dtype!
    print(x)                                      # result has the same size

    print(x.size())

    y = torch.rand(5, 3)
    print(x + y)

    print(torch.add(x, y))

    result = torch.empty(5, 3)
    torch.add(x, y, out=result)
    print(result)

    # adds x to y
    y.add_(x)
    print(y)

    print(x[:, 1])

    x = torch.randn(4, 4)
    y = x.view(16)
    z = x.view(-1, 8)  # the size -1 is inferred from other dimensions
    print(x.size(), y.size(), z.size())

    x = torch.randn(1)
    print(x)
    print(x.item())

    a = torch.ones(5)
    print(a)

    b = a.numpy()
    print(b)

    a.add_(1)
    print(a)
    print(b)

    import numpy as np
    a = np.ones(5)
    b = torch.from_numpy(a)
    np.add(a, 1, out=a)
    print(a)
    print(b)

    # let us run this cell only if CUDA is available
    # We will use ``torch.device`` objects to move tensors in and out of GPU
    if torch.cuda.is_available():
        device = torch.device("cuda")          # a CUDA device object
        y = torch.ones_like(x, device=device)  # directly create a tensor on GPU
        x = x.to(device)                       # or just use strings ``.to("cuda")``
        z = x + y
        print(z)
        print(z.to("cpu", torch.double))       # ``.to`` can also change dtype together!
    return result  # (test) the out= result, to check it


def test_tensor_tutorial(capsys):
    result = tensor_tutorial()
    out = capsys.readouterr().out
    assert result.shape == (5, 3) and result.dtype == torch.float32
    # the deterministic printouts are PyTorch's, word for word
    for expected in ["tensor([[0, 0, 0],\n        [0, 0, 0],\n", "tensor([5.5000, 3.0000])\n",
                     "tensor([[1., 1., 1.],\n        [1., 1., 1.],", "dtype=gradlab.float64)\n",
                     "gradlab.Size([5, 3])\n",
                     "gradlab.Size([4, 4]) gradlab.Size([16]) gradlab.Size([2, 8])\n",
                     "tensor([1., 1., 1., 1., 1.])\n[1. 1. 1. 1. 1.]\ntensor([2., 2., 2., 2., 2.])\n[2. 2. 2. 2. 2.]\n",
                     "[2. 2. 2. 2. 2.]\ntensor([2., 2., 2., 2., 2.], dtype=gradlab.float64)\n"]:
        assert expected in out


def test_tensor_tutorial_printout_shape_matches_pytorch(capsys):
    tensor_tutorial()
    ours = as_printed_by_pytorch(capsys.readouterr().out)
    on_pytorch(tensor_tutorial)()
    theirs = as_printed_by_pytorch(capsys.readouterr().out)
    # random values differ; the rest of the printout is PyTorch's (after empty(5, 3), which holds anything)
    after_empty = lambda text: without_numbers(text.split("\n", 5)[5])
    assert after_empty(ours) == after_empty(theirs)


def test_add_with_out_writes_into_the_given_tensor():
    x, y = torch.tensor([1.0, 2.0]), torch.tensor([10.0, 20.0])
    result = torch.empty(2)
    assert torch.add(x, y, out=result) is result
    assert result.tolist() == [11.0, 22.0]


# ---- blitz/autograd_tutorial.py, the autograd.Variable revision ------------

def autograd_tutorial_with_variable():
    x = Variable(torch.ones(2, 2), requires_grad=True)
    print(x)

    y = x + 2
    print(y)

    print(y.grad_fn)

    z = y * y * 3
    out = z.mean()

    print(z, out)

    out.backward()

    print(x.grad)

    x = torch.randn(3)
    x = Variable(x, requires_grad=True)

    y = x * 2
    while y.data.norm() < 1000:
        y = y * 2

    print(y)

    gradients = torch.FloatTensor([0.1, 1.0, 0.0001])
    y.backward(gradients)

    print(x.grad)
    return x, y  # (test)


def test_autograd_tutorial_with_variable(capsys):
    x, y = autograd_tutorial_with_variable()
    ours = as_printed_by_pytorch(capsys.readouterr().out).splitlines()
    on_pytorch(autograd_tutorial_with_variable)()
    theirs = as_printed_by_pytorch(capsys.readouterr().out).splitlines()
    assert ours[:9] == theirs[:9]  # up to x.grad, a matrix of 4.5: no random values
    assert ours[7:9] == ["tensor([[4.5000, 4.5000],", "        [4.5000, 4.5000]])"]
    scale = (y / x).detach()[0].item()  # y = x * 2^k
    assert_same_values(x.grad, scale * np.array([0.1, 1.0, 0.0001]))


# ---- blitz/autograd_tutorial.py, the x = torch.ones(2, 2) revision ----------

def autograd_tutorial():
    x = torch.ones(2, 2, requires_grad=True)
    print(x)

    y = x + 2
    print(y)

    print(y.grad_fn)

    z = y * y * 3
    out = z.mean()

    print(z, out)

    a = torch.randn(2, 2)
    a = ((a * 3) / (a - 1))
    print(a.requires_grad)
    a.requires_grad_(True)
    print(a.requires_grad)
    b = (a * a).sum()
    print(b.grad_fn)

    out.backward()

    print(x.grad)

    x = torch.randn(3, requires_grad=True)

    y = x * 2
    while y.data.norm() < 1000:
        y = y * 2

    print(y)

    gradients = torch.tensor([0.1, 1.0, 0.0001], dtype=torch.float)
    y.backward(gradients)

    print(x.grad)

    print(x.requires_grad)
    print((x ** 2).requires_grad)

    with torch.no_grad():
        print((x ** 2).requires_grad)
    return x, y  # (test) the doubling loop's input and output


def test_autograd_tutorial(capsys):
    x, y = autograd_tutorial()
    out = capsys.readouterr().out
    # dout/dx = 3/2 (x + 2) = 4.5 at x = 1, as the tutorial says
    assert "tensor([[4.5000, 4.5000],\n        [4.5000, 4.5000]])\n" in out
    # y = x * 2^k with the first k that makes ||y|| >= 1000, so x.grad = 2^k * gradients
    scale = (y / x).detach()
    k = round(float(np.log2(scale[0].item())))
    assert y.norm().item() >= 1000 > y.norm().item() / 2
    assert_same_values(x.grad, 2.0 ** k * np.array([0.1, 1.0, 0.0001]))
    assert out.endswith("True\nTrue\nFalse\n")


def test_autograd_tutorial_printout_is_pytorchs(capsys):
    autograd_tutorial()
    ours = as_printed_by_pytorch(capsys.readouterr().out).splitlines()
    on_pytorch(autograd_tutorial)()
    theirs = as_printed_by_pytorch(capsys.readouterr().out).splitlines()
    # the first twelve lines (x = ones(2, 2) to its gradient) and the last three hold no random values
    assert ours[:12] == theirs[:12]
    assert ours[-3:] == theirs[-3:]


# ---- blitz/autograd_tutorial.py, "A Gentle Introduction to torch.autograd" --

class ResNetStandIn(nn.Module):
    """A stand-in for torchvision's resnet18 (not available here): its head, fc 512 -> 1000, on a small trunk."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 512, 3, stride=4)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, 1000)

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(F.relu(self.conv(x))), 1))


def gentle_autograd():
    model = ResNetStandIn()  # (test) resnet18(weights=ResNet18_Weights.DEFAULT)
    data = torch.rand(1, 3, 64, 64)
    labels = torch.rand(1, 1000)

    prediction = model(data)  # forward pass

    loss = (prediction - labels).sum()
    loss.backward()  # backward pass

    optim = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)

    before = model.fc.bias.detach().clone()  # (test) to check the step
    optim.step()  # gradient descent
    stepped = before - model.fc.bias.detach()  # (test)

    a = torch.tensor([2., 3.], requires_grad=True)
    b = torch.tensor([6., 4.], requires_grad=True)

    Q = 3*a**3 - b**2

    external_grad = torch.tensor([1., 1.])
    Q.backward(gradient=external_grad)

    # Check if collected gradients are correct
    print(9*a**2 == a.grad)
    print(-2*b == b.grad)

    x = torch.rand(5, 5)
    y = torch.rand(5, 5)
    z = torch.rand((5, 5), requires_grad=True)

    a = x + y
    print(f"Does `a` require gradients?: {a.requires_grad}")
    b = x + z
    print(f"Does `b` require gradients?: {b.requires_grad}")

    from gradlab import nn, optim

    model = ResNetStandIn()  # (test) resnet18(weights=ResNet18_Weights.DEFAULT)

    # Freeze all the parameters in the network
    for param in model.parameters():
        param.requires_grad = False

    model.fc = nn.Linear(512, 10)

    # Optimize only the classifier
    optimizer = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    return stepped, model, optimizer  # (test)


def test_gentle_autograd(capsys):
    stepped, model, optimizer = gentle_autograd()
    out = capsys.readouterr().out
    assert out == ("tensor([True, True])\ntensor([True, True])\n"
                   "Does `a` require gradients?: False\nDoes `b` require gradients?: True\n")
    # d loss / d fc.bias is 1 everywhere, so the first SGD step moves every bias by lr
    np.testing.assert_allclose(stepped.numpy(), np.full(1000, 1e-2), rtol=1e-4)
    # only the new classifier is trainable; the optimizer still holds every parameter, as in PyTorch
    assert [name for name, p in model.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]
    assert len(optimizer.param_groups[0]["params"]) == 4
    model(torch.rand(2, 3, 64, 64)).sum().backward()
    assert model.conv.weight.grad is None and model.fc.weight.grad.shape == (10, 512)


def test_gentle_autograd_gradients_match_pytorch():
    def q_gradients():
        a = torch.tensor([2., 3.], requires_grad=True)
        b = torch.tensor([6., 4.], requires_grad=True)
        Q = 3*a**3 - b**2
        external_grad = torch.tensor([1., 1.])
        Q.backward(gradient=external_grad)
        return Q, a.grad, b.grad
    for ours, theirs in zip(q_gradients(), on_pytorch(q_gradients)()):
        assert_same_values(ours, theirs)
    assert q_gradients()[1].tolist() == [36.0, 81.0]


# ---- blitz/neural_networks_tutorial.py --------------------------------------

def neural_networks_tutorial():
    class Net(nn.Module):

        def __init__(self):
            super(Net, self).__init__()
            # 1 input image channel, 6 output channels, 5x5 square convolution
            # kernel
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            # an affine operation: y = Wx + b
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            # Max pooling over a (2, 2) window
            x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
            # If the size is a square you can only specify a single number
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.view(-1, self.num_flat_features(x))
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            x = self.fc3(x)
            return x

        def num_flat_features(self, x):
            size = x.size()[1:]  # all dimensions except the batch dimension
            num_features = 1
            for s in size:
                num_features *= s
            return num_features

    net = Net()
    print(net)

    params = list(net.parameters())
    print(len(params))
    print(params[0].size())  # conv1's .weight

    input = torch.randn(1, 1, 32, 32)
    out = net(input)
    print(out)

    net.zero_grad()
    out.backward(torch.randn(1, 10))

    output = net(input)
    target = torch.arange(1, 11)  # a dummy target, for example
    target = target.view(1, -1)  # make it the same shape as output
    criterion = nn.MSELoss()

    loss = criterion(output, target)
    print(loss)

    print(loss.grad_fn)  # MSELoss
    print(loss.grad_fn.next_functions[0][0])  # Linear
    print(loss.grad_fn.next_functions[0][0].next_functions[0][0])  # ReLU

    net.zero_grad()     # zeroes the gradient buffers of all parameters

    print('conv1.bias.grad before backward')
    print(net.conv1.bias.grad)

    loss.backward()

    print('conv1.bias.grad after backward')
    print(net.conv1.bias.grad)

    learning_rate = 0.01
    for f in net.parameters():
        f.data.sub_(f.grad.data * learning_rate)

    # import torch.optim as optim  (test) imported at the top of this file, to be rebound for PyTorch

    # create your optimizer
    optimizer = optim.SGD(net.parameters(), lr=0.01)

    # in your training loop:
    optimizer.zero_grad()   # zero the gradient buffers
    output = net(input)
    loss = criterion(output, target)
    loss.backward()
    optimizer.step()    # Does the update
    return net, input, target  # (test)


def current_net():
    """The latest revision's Net: named layers (C1, S2, ...) and ``torch.flatten``."""
    class Net(nn.Module):

        def __init__(self):
            super(Net, self).__init__()
            # 1 input image channel, 6 output channels, 5x5 square convolution
            # kernel
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            # an affine operation: y = Wx + b
            self.fc1 = nn.Linear(16 * 5 * 5, 120)  # 5*5 from image dimension
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, input):
            # Convolution layer C1: 1 input image channel, 6 output channels,
            # 5x5 square convolution, it uses RELU activation function, and
            # outputs a Tensor with size (N, 6, 28, 28), where N is the size of the batch
            c1 = F.relu(self.conv1(input))
            # Subsampling layer S2: 2x2 grid, purely functional,
            # this layer does not have any parameter, and outputs a (N, 6, 14, 14) Tensor
            s2 = F.max_pool2d(c1, (2, 2))
            # Convolution layer C3: 6 input channels, 16 output channels,
            # 5x5 square convolution, it uses RELU activation function, and
            # outputs a (N, 16, 10, 10) Tensor
            c3 = F.relu(self.conv2(s2))
            # Subsampling layer S4: 2x2 grid, purely functional,
            # this layer does not have any parameter, and outputs a (N, 16, 5, 5) Tensor
            s4 = F.max_pool2d(c3, 2)
            # Flatten operation: purely functional, outputs a (N, 400) Tensor
            s4 = torch.flatten(s4, 1)
            # Fully connected layer F5: (N, 400) Tensor input,
            # and outputs a (N, 120) Tensor, it uses RELU activation function
            f5 = F.relu(self.fc1(s4))
            # Fully connected layer F6: (N, 120) Tensor input,
            # and outputs a (N, 84) Tensor, it uses RELU activation function
            f6 = F.relu(self.fc2(f5))
            # Gaussian layer OUTPUT: (N, 84) Tensor input, and
            # outputs a (N, 10) Tensor
            output = self.fc3(f6)
            return output

    net = Net()
    print(net)

    input = torch.randn(1, 1, 32, 32)
    out = net(input)
    print(out)

    net.zero_grad()
    out.backward(torch.randn(1, 10))

    output = net(input)
    target = torch.randn(10)  # a dummy target, for example
    target = target.view(1, -1)  # make it the same shape as output
    criterion = nn.MSELoss()

    loss = criterion(output, target)
    print(loss)
    return net  # (test)


def test_neural_networks_tutorial(capsys):
    net, input, target = neural_networks_tutorial()
    lines = capsys.readouterr().out.splitlines()
    assert lines[7:9] == ["10", "gradlab.Size([6, 1, 5, 5])"]
    assert "conv1.bias.grad before backward\nNone\nconv1.bias.grad after backward" in "\n".join(lines)
    # more small SGD steps keep lowering the loss (lr=0.01 overshoots these targets, in PyTorch too)
    criterion = nn.MSELoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = criterion(net(input), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses
    assert loss.dtype == torch.float32  # the int64 target does not widen the loss


def test_neural_networks_tutorial_matches_pytorch(capsys):
    net, input, target = neural_networks_tutorial()
    ours = as_printed_by_pytorch(capsys.readouterr().out).splitlines()
    torch_net, _, _ = on_pytorch(neural_networks_tutorial)()
    theirs = as_printed_by_pytorch(capsys.readouterr().out).splitlines()
    # the module tree, the parameter count and shape, and the grad_fn chain print as PyTorch's
    assert ours[:9] == theirs[:9]
    nodes = [line for line in ours if line.endswith(" object>")]
    assert nodes == ["<MseLossBackward0 object>", "<AddmmBackward0 object>", "<AccumulateGrad object>"]
    assert nodes == [line for line in theirs if line.endswith(" object>")]
    # with the same weights, the forward pass and conv1's bias gradient agree
    real_torch = pytest.importorskip("torch")
    torch_net.load_state_dict({k: real_torch.tensor(v.numpy()) for k, v in net.state_dict().items()})
    torch_input = real_torch.tensor(input.numpy())
    assert_same_values(net(input), torch_net(torch_input), rtol=1e-4, atol=1e-5)
    net.zero_grad()
    F.mse_loss(net(input), target).backward()
    torch_net.zero_grad()
    real_torch.nn.functional.mse_loss(torch_net(torch_input), real_torch.tensor(target.numpy())).backward()
    assert_same_values(net.conv1.bias.grad, torch_net.conv1.bias.grad, rtol=1e-4, atol=1e-6)


def test_both_revisions_of_net_compute_the_same_function(capsys):
    old, input, _ = neural_networks_tutorial()
    new = current_net()
    capsys.readouterr()
    new.load_state_dict(old.state_dict())
    assert_same_values(new(input), old(input))
