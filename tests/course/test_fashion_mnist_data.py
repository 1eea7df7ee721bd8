"""Loading Fashion-MNIST as a course does: the data set with a Resize and ToTensor transform, its text
labels, and minibatches from a DataLoader, on small files this test writes and serves from a folder."""
import hashlib
import io

import numpy as np

import gradlab
from gradlab.datasets import FashionMNIST, transforms, write_idx
from gradlab.utils.data import DataLoader


def write_files(folder, n_train=20, n_test=8):
    rng = np.random.default_rng(0)
    md5s = []
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        for kind, array in (("images-idx3", rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)),
                            ("labels-idx1", rng.integers(0, 10, n).astype(np.uint8))):
            buf = io.BytesIO()
            write_idx(buf, array, compress=True)
            name = f"{prefix}-{kind}-ubyte.gz"
            (folder / name).write_bytes(buf.getvalue())
            md5s.append((name, hashlib.md5(buf.getvalue()).hexdigest()))
    return md5s


def test_fashion_mnist_resized_in_minibatches(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setattr(FashionMNIST, "resources", write_files(mirror))
    monkeypatch.setenv("GRADLAB_FASHIONMNIST_MIRRORS", str(mirror))
    trans = transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])
    train = FashionMNIST(root=str(tmp_path / "data"), train=True, transform=trans, download=True)
    val = FashionMNIST(root=str(tmp_path / "data"), train=False, transform=trans, download=True)
    assert (len(train), len(val)) == (20, 8)

    X, y = next(iter(DataLoader(train, batch_size=16, shuffle=True)))
    assert tuple(X.shape) == (16, 1, 32, 32) and X.dtype == gradlab.float32 and y.dtype == gradlab.int64
    assert 0 <= X.min().item() and X.max().item() <= 1
    assert train.classes[0] == "T-shirt/top" and train.classes[9] == "Ankle boot"
    raw = train.data[0].numpy().astype(np.float64)
    assert abs(train[0][0].mean().item() - raw.mean() / 255) < 0.01  # resizing keeps the brightness
    net = gradlab.nn.Sequential(gradlab.nn.LazyConv2d(6, kernel_size=5, padding=2), gradlab.nn.Flatten(),
                                gradlab.nn.LazyLinear(10))
    assert tuple(net(X).shape) == (16, 10)
