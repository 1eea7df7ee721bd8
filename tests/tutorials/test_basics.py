"""Tutorial "Learn the Basics" (pytorch/tutorials, beginner_source/basics).

basics/tensorqs_tutorial.py, data_tutorial.py (the sample grid, the custom
Dataset and the DataLoader; FashionMNIST replaced by gradlab's digits in
MNIST's shape), transforms_tutorial.py (the one-hot ``target_transform``),
buildmodel_tutorial.py, autogradqs_tutorial.py, optimization_tutorial.py,
quickstart_tutorial.py and saveloadrun_tutorial.py. Printouts without random
values are compared with PyTorch's; training runs are compared step for step
with PyTorch's run of the same loop from the same weights.
"""
import os
import re

import matplotlib
import numpy as np
import pytest

import gradlab as torch
from gradlab import nn
from gradlab.datasets import DigitsMNIST
from gradlab.datasets.transforms import Lambda, ToTensor
from gradlab.utils.data import DataLoader, Dataset, TensorDataset
from tutorial_helpers import (as_printed_by_pytorch, assert_same_values, on_pytorch, pytorch_names,
                              without_numbers)

matplotlib.use("Agg")


# ---- basics/tensorqs_tutorial.py --------------------------------------------

def tensorqs_tutorial():
    import numpy as np

    data = [[1, 2],[3, 4]]
    x_data = torch.tensor(data)

    np_array = np.array(data)
    x_np = torch.from_numpy(np_array)

    x_ones = torch.ones_like(x_data) # retains the properties of x_data
    print(f"Ones Tensor: \n {x_ones} \n")

    x_rand = torch.rand_like(x_data, dtype=torch.float) # overrides the datatype of x_data
    print(f"Random Tensor: \n {x_rand} \n")

    shape = (2,3,)
    rand_tensor = torch.rand(shape)
    ones_tensor = torch.ones(shape)
    zeros_tensor = torch.zeros(shape)

    print(f"Random Tensor: \n {rand_tensor} \n")
    print(f"Ones Tensor: \n {ones_tensor} \n")
    print(f"Zeros Tensor: \n {zeros_tensor}")

    tensor = torch.rand(3,4)

    print(f"Shape of tensor: {tensor.shape}")
    print(f"Datatype of tensor: {tensor.dtype}")
    print(f"Device tensor is stored on: {tensor.device}")

    # We move our tensor to the GPU if available, and if the cuda version is supported
    if torch.cuda.is_available() & (torch.device('cuda').index is not None):
        tensor = tensor.to('cuda')

    tensor = torch.ones(4, 4)
    print('First row: ', tensor[0])
    print('First column: ', tensor[:, 0])
    print('Last column:', tensor[..., -1])
    tensor[:,1] = 0
    print(tensor)

    t1 = torch.cat([tensor, tensor, tensor], dim=1)
    print(t1)

    # This computes the matrix multiplication between two tensors. y1, y2, y3 will have the same value
    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)

    y3 = torch.rand_like(tensor)
    torch.matmul(tensor, tensor.T, out=y3)

    # This computes the element-wise product. z1, z2, z3 will have the same value
    z1 = tensor * tensor
    z2 = tensor.mul(tensor)

    z3 = torch.rand_like(tensor)
    torch.mul(tensor, tensor, out=z3)

    agg = tensor.sum()
    agg_item = agg.item()
    print(agg_item, type(agg_item))

    print(tensor, "\n")
    tensor.add_(5)
    print(tensor)

    t = torch.ones(5)
    print(f"t: {t}")
    n = t.numpy()
    print(f"n: {n}")

    t.add_(1)
    print(f"t: {t}")
    print(f"n: {n}")

    n = np.ones(5)
    t = torch.from_numpy(n)

    np.add(n, 1, out=n)
    print(f"t: {t}")
    print(f"n: {n}")
    return x_np, (y1, y2, y3), (z1, z2, z3)  # (test)


def test_tensorqs_tutorial(capsys):
    x_np, ys, zs = tensorqs_tutorial()
    out = capsys.readouterr().out
    assert x_np.dtype == torch.int64 and x_np.tolist() == [[1, 2], [3, 4]]
    for y in ys:
        assert y.tolist() == [[3.0] * 4] * 4
    for z in zs:
        assert z.tolist() == [[1.0, 0.0, 1.0, 1.0]] * 4
    assert "12.0 <class 'float'>" in out
    assert out.endswith("t: tensor([2., 2., 2., 2., 2.], dtype=gradlab.float64)\nn: [2. 2. 2. 2. 2.]\n")


def test_tensorqs_printout_is_pytorchs(capsys):
    tensorqs_tutorial()
    ours = as_printed_by_pytorch(capsys.readouterr().out)
    on_pytorch(tensorqs_tutorial)()
    theirs = as_printed_by_pytorch(capsys.readouterr().out)
    random_block = re.compile(r"Random Tensor: \n tensor\(.*?\) \n", re.DOTALL)
    ours_random, theirs_random = random_block.findall(ours), random_block.findall(theirs)
    assert [without_numbers(b) for b in ours_random] == [without_numbers(b) for b in theirs_random]
    assert random_block.sub("", ours) == random_block.sub("", theirs)


# ---- basics/data_tutorial.py and transforms_tutorial.py ----------------------

def data_tutorial_samples(training_data):
    import matplotlib.pyplot as plt

    labels_map = {
        0: "T-Shirt",
        1: "Trouser",
        2: "Pullover",
        3: "Dress",
        4: "Coat",
        5: "Sandal",
        6: "Shirt",
        7: "Sneaker",
        8: "Bag",
        9: "Ankle Boot",
    }
    figure = plt.figure(figsize=(8, 8))
    cols, rows = 3, 3
    for i in range(1, cols * rows + 1):
        sample_idx = torch.randint(len(training_data), size=(1,)).item()
        img, label = training_data[sample_idx]
        figure.add_subplot(rows, cols, i)
        plt.title(labels_map[label])
        plt.axis("off")
        plt.imshow(img.squeeze(), cmap="gray")
    plt.show()
    return figure  # (test)


def test_data_tutorial_sample_grid():
    # (test) FashionMNIST(root="data", train=True, download=True, transform=ToTensor()) -> the digits
    training_data = DigitsMNIST(root="data", train=True, download=True, transform=ToTensor())
    figure = data_tutorial_samples(training_data)
    images = [ax.get_images()[0].get_array() for ax in figure.axes]
    assert len(images) == 9 and all(image.shape == (28, 28) for image in images)
    assert all(0.0 <= image.min() and image.max() <= 1.0 for image in images)
    matplotlib.pyplot.close(figure)


def test_randint_with_size_keyword():
    draws = torch.randint(10, size=(1000,))
    assert draws.shape == (1000,) and draws.dtype == torch.int64
    assert set(draws.tolist()) == set(range(10))
    assert torch.randint(3, 5, size=(2, 2)).shape == (2, 2)


try:
    import pandas as pd
except ImportError:  # (test) a minimal stand-in for pandas.read_csv(...).iloc, which the dataset uses
    class pd:
        class read_csv:
            def __init__(self, path):
                with open(path) as f:
                    self.rows = [line.strip().split(",") for line in f if line.strip()]
                self.rows = [[name, int(label)] for name, label in self.rows]
                self.iloc = self

            def __len__(self):
                return len(self.rows)

            def __getitem__(self, index):
                row, column = index
                return self.rows[row][column]


def read_image(path):
    """(test) torchvision.io.read_image stand-in: the images are .npy files of uint8 C x H x W."""
    return torch.from_numpy(np.load(path))


class CustomImageDataset(Dataset):
    def __init__(self, annotations_file, img_dir, transform=None, target_transform=None):
        self.img_labels = pd.read_csv(annotations_file)
        self.img_dir = img_dir
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.img_labels)

    def __getitem__(self, idx):
        img_path = os.path.join(self.img_dir, self.img_labels.iloc[idx, 0])
        image = read_image(img_path)
        label = self.img_labels.iloc[idx, 1]
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


def write_image_folder(folder, count=100):
    """``count`` 1 x 28 x 28 uint8 images as .npy files, and labels.csv with ``file, label`` rows."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, count)
    with open(folder / "labels.csv", "w") as csv:
        for i, label in enumerate(labels):
            image = np.full((1, 28, 28), 20 * label, dtype=np.uint8)  # the label is readable from the pixels
            np.save(folder / f"img{i}.npy", image)
            csv.write(f"img{i}.npy,{label}\n")
    return labels


def test_custom_dataset_and_dataloader(tmp_path, capsys):
    write_image_folder(tmp_path)
    training_data = CustomImageDataset(tmp_path / "labels.csv", tmp_path)

    train_dataloader = DataLoader(training_data, batch_size=64, shuffle=True)

    # Display image and label.
    train_features, train_labels = next(iter(train_dataloader))
    print(f"Feature batch shape: {train_features.size()}")
    print(f"Labels batch shape: {train_labels.size()}")
    img = train_features[0].squeeze()
    label = train_labels[0]
    print(f"Label: {label}")

    out = capsys.readouterr().out
    assert out.startswith("Feature batch shape: gradlab.Size([64, 1, 28, 28])\n"
                          "Labels batch shape: gradlab.Size([64])\nLabel: ")
    assert train_features.dtype == torch.uint8 and train_labels.dtype == torch.int64
    assert img.shape == (28, 28)
    # every image in the batch carries its own label (the loader kept pairs together)
    assert (train_features[:, 0, 0, 0].long() == 20 * train_labels).all()
    assert int(out.split("Label: ")[1]) == label.item()
    # a shuffled epoch holds every item once
    seen = torch.cat([labels for _, labels in train_dataloader])
    assert sorted(seen.tolist()) == sorted(training_data[i][1] for i in range(len(training_data)))


def test_transforms_tutorial_one_hot_target():
    # (test) datasets.FashionMNIST(root="data", train=True, download=True, ...) -> the digits
    ds = DigitsMNIST(
        root="data",
        train=True,
        download=True,
        transform=ToTensor(),
        target_transform=Lambda(lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1))
    )
    image, target = ds[3]
    label = ds.targets[3].item()
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert 0 <= image.min().item() and image.max().item() <= 1
    assert target.dtype == torch.float32 and target.tolist() == [1.0 if k == label else 0.0 for k in range(10)]


# ---- basics/buildmodel_tutorial.py ------------------------------------------

def buildmodel_tutorial():
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    print('Using {} device'.format(device))

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super(NeuralNetwork, self).__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(28*28, 512),
                nn.ReLU(),
                nn.Linear(512, 512),
                nn.ReLU(),
                nn.Linear(512, 10),
                nn.ReLU()
            )

        def forward(self, x):
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits

    model = NeuralNetwork().to(device)
    print(model)

    X = torch.rand(1, 28, 28, device=device)
    logits = model(X)
    pred_probab = nn.Softmax(dim=1)(logits)
    y_pred = pred_probab.argmax(1)
    print(f"Predicted class: {y_pred}")

    input_image = torch.rand(3,28,28)
    print(input_image.size())

    flatten = nn.Flatten()
    flat_image = flatten(input_image)
    print(flat_image.size())

    layer1 = nn.Linear(in_features=28*28, out_features=20)
    hidden1 = layer1(flat_image)
    print(hidden1.size())

    print(f"Before ReLU: {hidden1}\n\n")
    hidden1 = nn.ReLU()(hidden1)
    print(f"After ReLU: {hidden1}")

    seq_modules = nn.Sequential(
        flatten,
        layer1,
        nn.ReLU(),
        nn.Linear(20, 10)
    )
    input_image = torch.rand(3,28,28)
    logits = seq_modules(input_image)

    softmax = nn.Softmax(dim=1)
    pred_probab = softmax(logits)

    print("Model structure: ", model, "\n\n")

    for name, param in model.named_parameters():
        print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2]} \n")
    return hidden1, pred_probab  # (test)


def test_buildmodel_tutorial(capsys):
    hidden1, pred_probab = buildmodel_tutorial()
    out = capsys.readouterr().out
    assert re.search(r"^Predicted class: tensor\(\[\d\]\)$", out, re.MULTILINE)
    assert (hidden1 >= 0).all() and hidden1.shape == (3, 20)
    assert pred_probab.shape == (3, 10)
    np.testing.assert_allclose(pred_probab.sum(dim=1).detach().numpy(), np.ones(3), rtol=1e-6)


def test_buildmodel_printout_is_pytorchs(capsys):
    buildmodel_tutorial()
    ours = as_printed_by_pytorch(capsys.readouterr().out)
    on_pytorch(buildmodel_tutorial)()
    theirs = as_printed_by_pytorch(capsys.readouterr().out)
    # the module trees, sizes and layer names print alike; only the random values (and class) differ
    predicted = re.compile(r"Predicted class: tensor\(\[\d\]\)")
    assert predicted.search(ours) and predicted.search(theirs)
    assert without_numbers(predicted.sub("", ours)) == without_numbers(predicted.sub("", theirs))


# ---- basics/autogradqs_tutorial.py ------------------------------------------

def autogradqs_tutorial():
    x = torch.ones(5)  # input tensor
    y = torch.zeros(3)  # expected output
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)

    print(f"Gradient function for z = {z.grad_fn}")
    print(f"Gradient function for loss = {loss.grad_fn}")

    loss.backward()
    print(w.grad)
    print(b.grad)

    z = torch.matmul(x, w)+b
    print(z.requires_grad)

    with torch.no_grad():
        z = torch.matmul(x, w)+b
    print(z.requires_grad)

    z = torch.matmul(x, w)+b
    z_det = z.detach()
    print(z_det.requires_grad)

    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp+1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"First call\n{inp.grad}")
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\nSecond call\n{inp.grad}")
    inp.grad.zero_()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\nCall after zeroing gradients\n{inp.grad}")
    return w, b  # (test)


def test_autogradqs_tutorial(capsys):
    w, b = autogradqs_tutorial()
    out = capsys.readouterr().out
    # bce_with_logits of z = 1 @ w + b against 0: d loss / d z = sigmoid(z) / 3
    z = w.detach().sum(0) + b.detach()
    expected_b = (1 / (1 + np.exp(-z.numpy()))) / 3
    assert_same_values(b.grad, expected_b)
    assert_same_values(w.grad, np.tile(expected_b, (5, 1)))
    assert "\nTrue\nFalse\nFalse\n" in out
    # d/d inp of sum((inp + 1)^2) = 2 (inp + 1): 4 on the diagonal, 2 elsewhere; the second call doubles it
    first = out.split("First call\n")[1].split("\n\n")[0]
    assert first == ("tensor([[4., 2., 2., 2., 2.],\n        [2., 4., 2., 2., 2.],\n"
                     "        [2., 2., 4., 2., 2.],\n        [2., 2., 2., 4., 2.]])")


def test_autogradqs_printout_and_gradients_are_pytorchs(capsys):
    w, b = autogradqs_tutorial()
    ours = as_printed_by_pytorch(capsys.readouterr().out)
    torch_w, torch_b = on_pytorch(autogradqs_tutorial)()
    theirs = as_printed_by_pytorch(capsys.readouterr().out)
    assert without_numbers(ours) == without_numbers(theirs)  # grad_fn names included
    assert ours.split("First call")[1] == theirs.split("First call")[1]  # the Jacobian products, exactly
    # the one-layer network's gradients are PyTorch's for the same w and b
    real_torch = pytorch_names()["torch"]
    w2 = real_torch.tensor(w.detach().numpy(), requires_grad=True)
    b2 = real_torch.tensor(b.detach().numpy(), requires_grad=True)
    z2 = real_torch.matmul(real_torch.ones(5), w2) + b2
    real_torch.nn.functional.binary_cross_entropy_with_logits(z2, real_torch.zeros(3)).backward()
    assert_same_values(w.grad, w2.grad)
    assert_same_values(b.grad, b2.grad)


# ---- basics/optimization_tutorial.py (and quickstart_tutorial.py) -----------

def define_neural_network():  # (test) the class statement, in a function so PyTorch's run defines its own
    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(28*28, 512),
                nn.ReLU(),
                nn.Linear(512, 512),
                nn.ReLU(),
                nn.Linear(512, 10),
            )

        def forward(self, x):
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits
    return NeuralNetwork


learning_rate = 1e-3
batch_size = 64
epochs = 5


def train_loop(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    # Set the model to training mode - important for batch normalization and dropout layers
    # Unnecessary in this situation but added for best practices
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        # Compute prediction and loss
        pred = model(X)
        loss = loss_fn(pred, y)

        # Backpropagation
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        if batch % 100 == 0:
            loss, current = loss.item(), batch * batch_size + len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test_loop(dataloader, model, loss_fn):
    # Set the model to evaluation mode - important for batch normalization and dropout layers
    # Unnecessary in this situation but added for best practices
    model.eval()
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    test_loss, correct = 0, 0

    # Evaluating the model with torch.no_grad() ensures that no gradients are computed during test mode
    # also serves to reduce unnecessary gradient computations and memory usage for tensors with requires_grad=True
    with torch.no_grad():
        for X, y in dataloader:
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()

    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")


test_loop.__test__ = False  # the tutorial's name, not a pytest test


def digits_as_fashion_mnist(train):
    # (test) datasets.FashionMNIST(root="data", train=..., download=True, transform=ToTensor()) -> the digits
    return DigitsMNIST(root="data", train=train, download=True, transform=ToTensor())


def printed_accuracy_and_loss(text):
    return [(float(a), float(l)) for a, l in re.findall(r"Accuracy: ([\d.]+)%, Avg loss: ([\d.]+)", text)]


def test_optimization_tutorial(capsys):
    torch.manual_seed(0)
    training_data, test_data = digits_as_fashion_mnist(True), digits_as_fashion_mnist(False)
    train_dataloader = DataLoader(training_data, batch_size=64)
    test_dataloader = DataLoader(test_data, batch_size=64)
    model = define_neural_network()()

    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)

    test_loop(test_dataloader, model, loss_fn)  # (test) the untrained model, for comparison
    epochs = 3  # (test) 10 in the tutorial
    for t in range(epochs):
        print(f"Epoch {t+1}\n-------------------------------")
        train_loop(train_dataloader, model, loss_fn, optimizer)
        test_loop(test_dataloader, model, loss_fn)
    print("Done!")

    out = capsys.readouterr().out
    assert re.search(r"^loss: 2\.\d{6}  \[   64/ 1438\]$", out, re.MULTILINE)
    results = printed_accuracy_and_loss(out)
    assert len(results) == 4 and out.endswith("Done!\n")
    # SGD at the tutorial's lr=1e-3 moves slowly on 23 batches an epoch: the test loss falls every epoch
    losses = [loss for _, loss in results]
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses
    assert losses[-1] < losses[0] - 0.003, losses


def test_optimization_tutorial_steps_match_pytorch(capsys):
    # the same weights, the same batches (no shuffling): the loop gives PyTorch's losses and weights
    names = pytorch_names()
    real_torch = names["torch"]
    torch.manual_seed(0)
    training_data = digits_as_fashion_mnist(True)
    images = np.stack([training_data[i][0].numpy() for i in range(512)])  # (test) 512 images
    labels = training_data.targets.numpy()[:512]

    ours = define_neural_network()()
    theirs = on_pytorch(define_neural_network)()()
    theirs.load_state_dict({k: real_torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    runs = []
    for model, library in [(ours, None), (theirs, names)]:
        lib = library or {"torch": torch, "nn": nn, "DataLoader": DataLoader, "TensorDataset": TensorDataset}
        dataset = lib["TensorDataset"](lib["torch"].tensor(images), lib["torch"].tensor(labels))
        dataloader = lib["DataLoader"](dataset, batch_size=batch_size)
        loss_fn = lib["nn"].CrossEntropyLoss()
        optimizer = lib["torch"].optim.SGD(model.parameters(), lr=0.1)  # (test) a larger step, to move far
        loop = train_loop if library is None else on_pytorch(train_loop)
        for _ in range(2):
            loop(dataloader, model, loss_fn, optimizer)
        evaluate = test_loop if library is None else on_pytorch(test_loop)
        evaluate(dataloader, model, loss_fn)
        runs.append(capsys.readouterr().out)
    ours_text, theirs_text = runs
    assert without_numbers(ours_text) == without_numbers(theirs_text)
    (our_acc, our_loss), = printed_accuracy_and_loss(ours_text)
    (their_acc, their_loss), = printed_accuracy_and_loss(theirs_text)
    assert our_acc == pytest.approx(their_acc, abs=0.3) and our_loss == pytest.approx(their_loss, rel=1e-3)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_same_values(p, q, rtol=1e-3, atol=1e-5)


# quickstart_tutorial.py as the latest revision writes it: the accelerator query for the device,
# model.train() in train(), load with weights_only=True.
def test_quickstart_tutorial(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # (test) model.pth is written to a temporary folder
    torch.manual_seed(0)
    training_data, test_data = digits_as_fashion_mnist(True), digits_as_fashion_mnist(False)

    batch_size = 64

    # Create data loaders.
    train_dataloader = DataLoader(training_data, batch_size=batch_size)
    test_dataloader = DataLoader(test_data, batch_size=batch_size)

    for X, y in test_dataloader:
        print("Shape of X [N, C, H, W]: ", X.shape)
        print("Shape of y: ", y.shape, y.dtype)
        break

    # Get cpu, gpu or mps device for training.
    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    print(f"Using {device} device")

    # Define model
    NeuralNetwork = define_neural_network()
    model = NeuralNetwork().to(device)
    print(model)

    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

    def train(dataloader, model, loss_fn, optimizer):
        size = len(dataloader.dataset)
        model.train()
        for batch, (X, y) in enumerate(dataloader):
            X, y = X.to(device), y.to(device)

            # Compute prediction error
            pred = model(X)
            loss = loss_fn(pred, y)

            # Backpropagation
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

            if batch % 100 == 0:
                loss, current = loss.item(), (batch + 1) * len(X)
                print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")

    def test(dataloader, model, loss_fn):
        size = len(dataloader.dataset)
        num_batches = len(dataloader)
        model.eval()
        test_loss, correct = 0, 0
        with torch.no_grad():
            for X, y in dataloader:
                X, y = X.to(device), y.to(device)
                pred = model(X)
                test_loss += loss_fn(pred, y).item()
                correct += (pred.argmax(1) == y).type(torch.float).sum().item()
        test_loss /= num_batches
        correct /= size
        print(f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")

    epochs = 2  # (test) 5 in the tutorial
    for t in range(epochs):
        print(f"Epoch {t+1}\n-------------------------------")
        train(train_dataloader, model, loss_fn, optimizer)
        test(test_dataloader, model, loss_fn)
    print("Done!")

    torch.save(model.state_dict(), "model.pth")
    print("Saved PyTorch Model State to model.pth")

    model = NeuralNetwork().to(device)
    model.load_state_dict(torch.load("model.pth", weights_only=True))

    classes = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]

    model.eval()
    x, y = test_data[0][0], test_data[0][1]
    with torch.no_grad():
        x = x.to(device)
        pred = model(x)
        predicted, actual = classes[pred[0].argmax(0)], classes[y]
        print(f'Predicted: "{predicted}", Actual: "{actual}"')

    out = capsys.readouterr().out
    assert out.startswith("Shape of X [N, C, H, W]:  gradlab.Size([64, 1, 28, 28])\n"
                          "Shape of y:  gradlab.Size([64]) gradlab.int64\nUsing cpu device\n")
    assert len(printed_accuracy_and_loss(out)) == 2
    actual = classes[test_data.targets[0].item()]
    assert re.search(rf'^Predicted: "[\w/ -]+", Actual: "{actual}"$', out, re.MULTILINE)
    assert os.path.exists("model.pth")
    # the reloaded model is the trained one
    trained = NeuralNetwork()
    trained.load_state_dict(torch.load("model.pth"))
    for p, q in zip(trained.parameters(), model.parameters()):
        assert torch.equal(p, q)


# ---- basics/saveloadrun_tutorial.py (latest revision: weights_only=) -------

class VGGStandIn(nn.Module):
    """torchvision's VGG layout in miniature: features (conv, relu, pool), avgpool, classifier (with dropout)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(nn.Linear(8 * 2 * 2, 16), nn.ReLU(True), nn.Dropout(p=0.5),
                                        nn.Linear(16, 10))

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def test_saveloadrun_tutorial(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # (test) the .pth files are written to a temporary folder
    torch.manual_seed(0)

    model = VGGStandIn()  # (test) models.vgg16(weights='IMAGENET1K_V1')
    torch.save(model.state_dict(), 'model_weights.pth')

    trained = model  # (test) kept, to compare with
    model = VGGStandIn()  # (test) models.vgg16(): an untrained model
    model.load_state_dict(torch.load('model_weights.pth', weights_only=True))
    model.eval()

    # the loaded weights are the saved ones, and in eval mode (dropout off) both models agree
    for (name, p), (_, q) in zip(trained.state_dict().items(), model.state_dict().items()):
        assert torch.equal(p, q), name
    trained.eval()
    image = torch.rand(2, 3, 16, 16)
    assert torch.equal(model(image), trained(image))
    assert not model.training and not model.classifier[2].training

    # torch.save(model, 'model.pth') pickles the module; gradlab's files never hold code, so it refuses
    with pytest.raises(TypeError, match="cannot save .*VGGStandIn.*supported: None, bool"):
        torch.save(model, 'model.pth')
    assert not os.path.exists('model.pth')
