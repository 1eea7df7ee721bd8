"""Tutorial "Learning PyTorch with Examples" (pytorch/tutorials, beginner_source/examples_*).

The third-order polynomial fitted to sin(x) on [-pi, pi], written seven ways:
examples_tensor/polynomial_tensor.py, examples_autograd/polynomial_autograd.py,
examples_autograd/polynomial_custom_function.py, examples_nn/polynomial_nn.py,
examples_nn/polynomial_optim.py, examples_nn/polynomial_module.py and
examples_nn/dynamic_net.py. Each runs as written on gradlab; the outcome is
checked against the least-squares cubic (computed by NumPy in float64) and,
where the run is deterministic, against PyTorch running the same code.
"""
import math
import random
import re

import numpy as np
import pytest

import gradlab as torch
from tutorial_helpers import on_pytorch, on_pytorch_with_our_draws


def best_cubic():
    """Least-squares coefficients (a, b, c, d) of sin(x) on the tutorials' 2000 points, and its loss."""
    x = np.linspace(-math.pi, math.pi, 2000)
    powers = np.stack([x ** 0, x, x ** 2, x ** 3], axis=1)
    coefficients, residual, *_ = np.linalg.lstsq(powers, np.sin(x), rcond=None)
    return coefficients, float(residual[0])


def printed_losses(text):
    """The ``t loss`` lines the training loops print, as {t: loss}."""
    return {int(t): float(loss) for t, loss in re.findall(r"^(\d+) ([-\d.e+]+)$", text, re.MULTILINE)}


def printed_result(text):
    """The numbers on the tutorial's final ``Result: y = ...`` line."""
    line = text.strip().splitlines()[-1]
    assert line.startswith("Result: y = "), line
    return [float(v) for v in re.findall(r"(?<![\^\w.])-?\d+(?:\.\d*)?(?:e[-+]?\d+)?", line)]


def assert_fits_sin(text, tolerance_factor=1.1):
    """The printed losses fell from where they began to near the best cubic's loss."""
    losses = printed_losses(text)
    first, last = losses[min(losses)], losses[max(losses)]
    _, best_loss = best_cubic()
    assert last < tolerance_factor * best_loss, (last, best_loss)
    assert first > 10 * last, (first, last)


def assert_cubic_near_best(a, b, c, d):
    """b and d converge fast; a and c (coupled through x^0 and x^2) only need to be near 0."""
    best, _ = best_cubic()
    np.testing.assert_allclose([b, d], best[[1, 3]], atol=0.03)
    np.testing.assert_allclose([a, c], [0, 0], atol=0.05)


# ---- examples_tensor/polynomial_tensor.py -----------------------------------

def polynomial_tensor():
    dtype = torch.float
    device = torch.device("cpu")
    # device = torch.device("cuda:0") # Uncomment this to run on GPU

    # Create random input and output data
    x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
    y = torch.sin(x)

    # Randomly initialize weights
    a = torch.randn((), device=device, dtype=dtype)
    b = torch.randn((), device=device, dtype=dtype)
    c = torch.randn((), device=device, dtype=dtype)
    d = torch.randn((), device=device, dtype=dtype)

    learning_rate = 1e-6
    for t in range(2000):
        # Forward pass: compute predicted y
        y_pred = a + (b * x) + (c * x.pow(2)) + (d * x.pow(3))

        # Compute and print loss
        loss = (y_pred - y).pow(2).sum().item()
        if t % 100 == 99:
            print(t, loss)

        # Backprop to compute gradients of a, b, c, d with respect to loss
        grad_y_pred = -2.0 * (y - y_pred)
        grad_a = grad_y_pred.sum()
        grad_b = torch.matmul(input=grad_y_pred, other=x).sum()
        grad_c = torch.matmul(input=grad_y_pred, other=x.pow(2)).sum()
        grad_d = torch.matmul(input=grad_y_pred, other=x.pow(3)).sum()

        # Update weights using gradient descent
        a -= learning_rate * grad_a
        b -= learning_rate * grad_b
        c -= learning_rate * grad_c
        d -= learning_rate * grad_d

    print(f'Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3')


def test_polynomial_tensor(capsys):
    torch.manual_seed(0)
    polynomial_tensor()
    out = capsys.readouterr().out
    assert_fits_sin(out)
    assert_cubic_near_best(*printed_result(out))


# ---- examples_autograd/polynomial_autograd.py -------------------------------

def polynomial_autograd():
    # We want to be able to train our model on an `accelerator <https://pytorch.org/docs/stable/torch.html#accelerators>`__
    # such as CUDA, MPS, MTIA, or XPU. If the current accelerator is available, we will use it. Otherwise, we use the CPU.

    dtype = torch.float
    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    print(f"Using {device} device")
    torch.set_default_device(device)

    # Create Tensors to hold input and outputs.
    # By default, requires_grad=False, which indicates that we do not need to
    # compute gradients with respect to these Tensors during the backward pass.
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)

    # Create random Tensors for weights. For a third order polynomial, we need
    # 4 weights: y = a + b x + c x^2 + d x^3
    # Setting requires_grad=True indicates that we want to compute gradients with
    # respect to these Tensors during the backward pass.
    a = torch.randn((), dtype=dtype, requires_grad=True)
    b = torch.randn((), dtype=dtype, requires_grad=True)
    c = torch.randn((), dtype=dtype, requires_grad=True)
    d = torch.randn((), dtype=dtype, requires_grad=True)

    learning_rate = 1e-6
    for t in range(2000):
        # Forward pass: compute predicted y using operations on Tensors.
        y_pred = a + b * x + c * x ** 2 + d * x ** 3

        # Compute and print loss using operations on Tensors.
        # Now loss is a Tensor of shape (1,)
        # loss.item() gets the scalar value held in the loss.
        loss = (y_pred - y).pow(2).sum()
        if t % 100 == 99:
            print(t, loss.item())

        # Use autograd to compute the backward pass. This call will compute the
        # gradient of loss with respect to all Tensors with requires_grad=True.
        # After this call a.grad, b.grad. c.grad and d.grad will be Tensors holding
        # the gradient of the loss with respect to a, b, c, d respectively.
        loss.backward()

        # Manually update weights using gradient descent. Wrap in torch.no_grad()
        # because weights have requires_grad=True, but we don't need to track this
        # in autograd.
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad

            # Manually zero the gradients after updating weights
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None

    print(f'Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3')


def test_polynomial_autograd(capsys):
    torch.manual_seed(0)
    polynomial_autograd()
    out = capsys.readouterr().out
    assert out.startswith("Using cpu device\n")
    assert_fits_sin(out)
    assert_cubic_near_best(*printed_result(out))


def test_polynomial_autograd_matches_the_hand_written_gradients(capsys):
    # same seed, same draws: autograd's gradients give the hand-derived run's losses
    torch.manual_seed(0)
    polynomial_tensor()
    by_hand = printed_losses(capsys.readouterr().out)
    torch.manual_seed(0)
    polynomial_autograd()
    by_autograd = printed_losses(capsys.readouterr().out)
    assert by_hand.keys() == by_autograd.keys()
    np.testing.assert_allclose(list(by_autograd.values()), list(by_hand.values()), rtol=1e-4)


def test_assigning_a_number_to_grad_is_refused_as_in_pytorch():
    # one revision of polynomial_autograd.py zeroes with ``a.grad = 0.``; PyTorch refuses that too
    a = torch.randn((), requires_grad=True)
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None but got grad of type float"):
        a.grad = 0.


# ---- examples_autograd/polynomial_custom_function.py ------------------------

def polynomial_custom_function():
    class LegendrePolynomial3(torch.autograd.Function):
        """
        We can implement our own custom autograd Functions by subclassing
        torch.autograd.Function and implementing the forward and backward passes
        which operate on Tensors.
        """

        @staticmethod
        def forward(ctx, input):
            """
            In the forward pass we receive a Tensor containing the input and return
            a Tensor containing the output. ctx is a context object that can be used
            to stash information for backward computation. You can cache arbitrary
            objects for use in the backward pass using the ctx.save_for_backward method.
            """
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            """
            In the backward pass we receive a Tensor containing the gradient of the loss
            with respect to the output, and we need to compute the gradient of the loss
            with respect to the input.
            """
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    dtype = torch.float
    device = torch.device("cpu")
    # device = torch.device("cuda:0")  # Uncomment this to run on GPU

    # Create Tensors to hold input and outputs.
    # Setting requires_grad=False indicates that we do not need to compute gradients
    # with respect to these Tensors during the backward pass.
    x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
    y = torch.sin(x)

    # Create random Tensors for weights. For this example, we need
    # 4 weights: y = a + b * P3(c + d * x), these weights need to be initialized
    # not too far from the correct result to ensure convergence.
    # Setting requires_grad=True indicates that we want to compute gradients with
    # respect to these Tensors during the backward pass.
    a = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
    b = torch.full((), -1.0, device=device, dtype=dtype, requires_grad=True)
    c = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
    d = torch.full((), 0.3, device=device, dtype=dtype, requires_grad=True)

    learning_rate = 5e-6
    for t in range(2000):
        # To apply our Function, we use Function.apply method. We alias this as 'P3'.
        P3 = LegendrePolynomial3.apply

        # Forward pass: compute predicted y using operations; we compute
        # P3 using our custom autograd operation.
        y_pred = a + b * P3(c + d * x)

        # Compute and print loss
        loss = (y_pred - y).pow(2).sum()
        if t % 100 == 99:
            print(t, loss.item())

        # Use autograd to compute the backward pass.
        loss.backward()

        # Update weights using gradient descent
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad

            # Manually zero the gradients after updating weights
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None

    print(f'Result: y = {a.item()} + {b.item()} * P3({c.item()} + {d.item()} x)')


def test_polynomial_custom_function(capsys):
    polynomial_custom_function()
    out = capsys.readouterr().out
    losses = printed_losses(out)
    assert losses[99] > 10 * losses[1999]
    # a + b * P3(c + d x) with P3(u) = (5u^3 - 3u) / 2 is a cubic: its x and x^3 terms near the best cubic's
    a, b, c, d = printed_result(out)
    best, _ = best_cubic()
    assert abs(b * 2.5 * d ** 3 - best[3]) < 0.01
    assert abs(b * (7.5 * c ** 2 * d - 1.5 * d) - best[1]) < 0.05


def test_polynomial_custom_function_matches_pytorch(capsys):
    # every value is deterministic (full() initialisation), so the printouts agree with PyTorch's
    polynomial_custom_function()
    ours = capsys.readouterr().out
    on_pytorch(polynomial_custom_function)()
    theirs = capsys.readouterr().out
    np.testing.assert_allclose(list(printed_losses(ours).values()), list(printed_losses(theirs).values()),
                               rtol=1e-4)
    np.testing.assert_allclose(printed_result(ours), printed_result(theirs), rtol=1e-4, atol=1e-6)


# ---- examples_nn/polynomial_nn.py -------------------------------------------

def polynomial_nn():
    # Create Tensors to hold input and outputs.
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)

    # For this example, the output y is a linear function of (x, x^2, x^3), so
    # we can consider it as a linear layer neural network. Let's prepare the
    # tensor (x, x^2, x^3).
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)

    # Use the nn package to define our model as a sequence of layers. nn.Sequential
    # is a Module which contains other Modules, and applies them in sequence to
    # produce its output. The Linear Module computes output from input using a
    # linear function, and holds internal Tensors for its weight and bias.
    # The Flatten layer flatens the output of the linear layer to a 1D tensor,
    # to match the shape of `y`.
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 1),
        torch.nn.Flatten(0, 1)
    )

    # The nn package also contains definitions of popular loss functions; in this
    # case we will use Mean Squared Error (MSE) as our loss function.
    loss_fn = torch.nn.MSELoss(reduction='sum')

    learning_rate = 1e-6
    for t in range(2000):

        # Forward pass: compute predicted y by passing x to the model. Module objects
        # override the __call__ operator so you can call them like functions. When
        # doing so you pass a Tensor of input data to the Module and it produces
        # a Tensor of output data.
        y_pred = model(xx)

        # Compute and print loss. We pass Tensors containing the predicted and true
        # values of y, and the loss function returns a Tensor containing the
        # loss.
        loss = loss_fn(y_pred, y)
        if t % 100 == 99:
            print(t, loss.item())

        # Zero the gradients before running the backward pass.
        model.zero_grad()

        # Backward pass: compute gradient of the loss with respect to all the learnable
        # parameters of the model. Internally, the parameters of each Module are stored
        # in Tensors with requires_grad=True, so this call will compute gradients for
        # all learnable parameters in the model.
        loss.backward()

        # Update the weights using gradient descent. Each parameter is a Tensor, so
        # we can access its gradients like we did before.
        with torch.no_grad():
            for param in model.parameters():
                param -= learning_rate * param.grad

    # You can access the first layer of `model` like accessing the first item of a list
    linear_layer = model[0]

    # For linear layer, its parameters are stored as `weight` and `bias`.
    print(f'Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + {linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3')


def test_polynomial_nn(capsys):
    torch.manual_seed(0)
    polynomial_nn()
    out = capsys.readouterr().out
    assert_fits_sin(out)
    assert_cubic_near_best(*printed_result(out))


# ---- examples_nn/polynomial_optim.py ----------------------------------------
# The revision with RMSprop(lr=1e-3); the latest one uses SGD(lr=1e-6), whose loop
# is polynomial_module's below.

def polynomial_optim():
    # Create Tensors to hold input and outputs.
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)

    # Prepare the input tensor (x, x^2, x^3).
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)

    # Use the nn package to define our model and loss function.
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 1),
        torch.nn.Flatten(0, 1)
    )
    loss_fn = torch.nn.MSELoss(reduction='sum')

    # Use the optim package to define an Optimizer that will update the weights of
    # the model for us. Here we will use RMSprop; the optim package contains many other
    # optimization algorithms. The first argument to the RMSprop constructor tells the
    # optimizer which Tensors it should update.
    learning_rate = 1e-3
    optimizer = torch.optim.RMSprop(model.parameters(), lr=learning_rate)
    for t in range(2000):
        # Forward pass: compute predicted y by passing x to the model.
        y_pred = model(xx)

        # Compute and print loss.
        loss = loss_fn(y_pred, y)
        if t % 100 == 99:
            print(t, loss.item())

        # Before the backward pass, use the optimizer object to zero all of the
        # gradients for the variables it will update (which are the learnable
        # weights of the model). This is because by default, gradients are
        # accumulated in buffers( i.e, not overwritten) whenever .backward()
        # is called. Checkout docs of torch.autograd.backward for more details.
        optimizer.zero_grad()

        # Backward pass: compute gradient of the loss with respect to model
        # parameters
        loss.backward()

        # Calling the step function on an Optimizer makes an update to its
        # parameters
        optimizer.step()

    linear_layer = model[0]
    print(f'Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + {linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3')


def test_polynomial_optim(capsys):
    torch.manual_seed(0)
    polynomial_optim()
    out = capsys.readouterr().out
    # RMSprop's steps stay near lr in size, so the loss ends a little above the optimum
    assert_fits_sin(out, tolerance_factor=1.5)
    assert_cubic_near_best(*printed_result(out))


# ---- examples_nn/polynomial_module.py ---------------------------------------

def polynomial_module():
    class Polynomial3(torch.nn.Module):
        def __init__(self):
            """
            In the constructor we instantiate four parameters and assign them as
            member parameters.
            """
            super().__init__()
            self.a = torch.nn.Parameter(torch.randn(()))
            self.b = torch.nn.Parameter(torch.randn(()))
            self.c = torch.nn.Parameter(torch.randn(()))
            self.d = torch.nn.Parameter(torch.randn(()))

        def forward(self, x):
            """
            In the forward function we accept a Tensor of input data and we must return
            a Tensor of output data. We can use Modules defined in the constructor as
            well as arbitrary operators on Tensors.
            """
            return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

        def string(self):
            """
            Just like any class in Python, you can also define custom method on PyTorch modules
            """
            return f'y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3'

    # Create Tensors to hold input and outputs.
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)

    # Construct our model by instantiating the class defined above
    model = Polynomial3()

    # Construct our loss function and an Optimizer. The call to model.parameters()
    # in the SGD constructor will contain the learnable parameters (defined
    # with torch.nn.Parameter) which are members of the model.
    criterion = torch.nn.MSELoss(reduction='sum')
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    for t in range(2000):
        # Forward pass: Compute predicted y by passing x to the model
        y_pred = model(x)

        # Compute and print loss
        loss = criterion(y_pred, y)
        if t % 100 == 99:
            print(t, loss.item())

        # Zero gradients, perform a backward pass, and update the weights.
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    print(f'Result: {model.string()}')


def test_polynomial_module(capsys):
    torch.manual_seed(0)
    polynomial_module()
    out = capsys.readouterr().out
    assert_fits_sin(out)
    assert_cubic_near_best(*printed_result(out))


def test_polynomial_module_is_the_autograd_example_with_sgd(capsys):
    # SGD(lr=1e-6) on four Parameters is the hand-written update, so the same draws give the same losses
    torch.manual_seed(0)
    polynomial_autograd()
    by_hand = printed_losses(capsys.readouterr().out)
    torch.manual_seed(0)
    polynomial_module()
    by_sgd = printed_losses(capsys.readouterr().out)
    np.testing.assert_allclose(list(by_sgd.values()), list(by_hand.values()), rtol=1e-5)


# ---- the randomly started runs, against PyTorch from the same draws ----------

@pytest.mark.parametrize("tutorial", [polynomial_tensor, polynomial_autograd, polynomial_module])
def test_randomly_started_runs_match_pytorch_from_the_same_draws(tutorial, capsys):
    torch.manual_seed(0)
    tutorial()
    ours = capsys.readouterr().out
    torch.manual_seed(0)  # PyTorch's randn calls get gradlab's next draws, so both start alike
    on_pytorch_with_our_draws(tutorial)()
    theirs = capsys.readouterr().out
    assert printed_losses(ours).keys() == printed_losses(theirs).keys()
    np.testing.assert_allclose(list(printed_losses(ours).values()), list(printed_losses(theirs).values()),
                               rtol=1e-4)
    np.testing.assert_allclose(printed_result(ours), printed_result(theirs), rtol=1e-4, atol=1e-6)


# ---- examples_nn/dynamic_net.py ---------------------------------------------

def dynamic_net():
    class DynamicNet(torch.nn.Module):
        def __init__(self):
            """
            In the constructor we instantiate five parameters and assign them as members.
            """
            super().__init__()
            self.a = torch.nn.Parameter(torch.randn(()))
            self.b = torch.nn.Parameter(torch.randn(()))
            self.c = torch.nn.Parameter(torch.randn(()))
            self.d = torch.nn.Parameter(torch.randn(()))
            self.e = torch.nn.Parameter(torch.randn(()))

        def forward(self, x):
            """
            For the forward pass of the model, we randomly choose either 4, 5
            and reuse the e parameter to compute the contribution of these orders.

            Since each forward pass builds a dynamic computation graph, we can use normal
            Python control-flow operators like loops or conditional statements when
            defining the forward pass of the model.

            Here we also see that it is perfectly safe to reuse the same parameter many
            times when defining a computational graph.
            """
            y = self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3
            for exp in range(4, random.randint(4, 6)):
                y = y + self.e * x ** exp
            return y

        def string(self):
            """
            Just like any class in Python, you can also define custom method on PyTorch modules
            """
            return f'y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3 + {self.e.item()} x^4 ? + {self.e.item()} x^5 ?'

    # Create Tensors to hold input and outputs.
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)

    # Construct our model by instantiating the class defined above
    model = DynamicNet()

    # Construct our loss function and an Optimizer. Training this strange model with
    # vanilla stochastic gradient descent is tough, so we use momentum
    criterion = torch.nn.MSELoss(reduction='sum')
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9)
    for t in range(4000):  # (test) 30000 steps in the tutorial
        # Forward pass: Compute predicted y by passing x to the model
        y_pred = model(x)

        # Compute and print loss
        loss = criterion(y_pred, y)
        if t % 2000 == 1999:
            print(t, loss.item())

        # Zero gradients, perform a backward pass, and update the weights.
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    print(f'Result: {model.string()}')
    return model  # (test) the trained model, to inspect its parameters


def test_dynamic_net(capsys):
    torch.manual_seed(0)
    random.seed(0)
    model = dynamic_net()
    out = capsys.readouterr().out
    a, b, c, d, e, e_again = printed_result(out)
    assert e == e_again == model.e.item()  # one shared parameter for x^4 and x^5
    # the trained weights fit sin (with the x^4 term every pass uses) far better than the first draws
    x = torch.linspace(-math.pi, math.pi, 2000)

    def loss_of(a, b, c, d, e):
        return ((a + b * x + c * x ** 2 + d * x ** 3 + e * x ** 4 - torch.sin(x)) ** 2).sum().item()
    torch.manual_seed(0)
    untrained = [torch.randn(()).item() for _ in range(5)]  # the draws DynamicNet() made
    assert loss_of(a, b, c, d, e) < loss_of(*untrained) / 20, (loss_of(a, b, c, d, e), loss_of(*untrained))
