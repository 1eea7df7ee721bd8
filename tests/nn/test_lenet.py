"""gradlab.models.LeNet5: shapes, parameter count, printing, and one SGD step equal to torch's."""
import numpy as np
import pytest

import gradlab
from gradlab.models import LeNet5

torch = pytest.importorskip("torch")


def torch_lenet5():
    """The same network written in torch (same class name and attribute names)."""
    nn = torch.nn

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=2),
                nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(kernel_size=2),
                nn.Conv2d(16, 120, kernel_size=5), nn.ReLU())
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))

        def forward(self, x):
            return self.classifier(self.features(x))
    return LeNet5()


def copy_from_torch(ours, theirs):
    ours.load_state_dict({k: gradlab.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})


def test_output_shape_and_dtype():
    model = LeNet5()
    out = model(gradlab.randn(3, 1, 28, 28))
    assert out.shape == (3, 10)
    assert out.dtype == gradlab.float32
    assert out.grad_fn is not None
    with gradlab.no_grad():
        assert model(gradlab.randn(1, 1, 28, 28)).grad_fn is None


def test_parameter_count_names_and_printing_match_torch():
    ours, theirs = LeNet5(), torch_lenet5()
    count = sum(p.numel() for p in ours.parameters())
    assert count == sum(p.numel() for p in theirs.parameters()) == 61706
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-10), ("float32", 2e-4)])
def test_one_sgd_step_matches_torch(dtype, rtol):
    gradlab.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = LeNet5(), torch_lenet5()
    getattr(ours, "double" if dtype == "float64" else "float")()
    getattr(theirs, "double" if dtype == "float64" else "float")()
    copy_from_torch(ours, theirs)
    rng = np.random.default_rng(0)
    images = rng.random((16, 1, 28, 28)).astype(dtype)
    labels = rng.integers(0, 10, 16)

    opt = gradlab.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):  # two steps, so momentum takes part
        opt.zero_grad()
        topt.zero_grad()
        loss = gradlab.nn.functional.cross_entropy(ours(gradlab.tensor(images)), gradlab.tensor(labels))
        tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(images)), torch.tensor(labels))
        loss.backward()
        tloss.backward()
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=rtol)
        for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
            np.testing.assert_allclose(p.grad._data, tp.grad.numpy(), rtol=rtol, atol=rtol * 1e-2, err_msg=name)
        opt.step()
        topt.step()
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p._data, tp.detach().numpy(), rtol=rtol, atol=rtol * 1e-2, err_msg=name)


def test_first_layer_computes_no_input_gradient():
    model = LeNet5()
    x = gradlab.randn(2, 1, 28, 28)
    model(x).sum().backward()
    assert x.grad is None
    assert all(p.grad is not None for p in model.parameters())


def test_training_reduces_the_loss_on_a_fixed_batch():
    gradlab.manual_seed(1)
    model = LeNet5()
    opt = gradlab.optim.Adam(model.parameters(), lr=5e-3)
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, 32)
    patterns = rng.standard_normal((10, 1, 28, 28))  # one fixed image per class, plus noise: learnable
    x = gradlab.tensor((patterns[labels] + 0.1 * rng.standard_normal((32, 1, 28, 28))).astype(np.float32))
    y = gradlab.tensor(labels)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = gradlab.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    assert (model(x).argmax(1)._data == labels).mean() > 0.9
