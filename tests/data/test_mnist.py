"""MNIST on disk (the real files when present, small fake ones always), the
transforms, and scikit-learn's digits as MNIST."""
import os
import pathlib

import numpy as np
import pytest

import gradlab.datasets as datasets
from gradlab.datasets import MNIST, DatasetNotFoundError, DigitsMNIST, IDXError, load_digits_as_mnist, write_idx
from gradlab.datasets import transforms as T

REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED_MNIST = REPO.parent / "shared" / "mnist"
MNIST_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]
have_mnist = pytest.mark.skipif(
    not all((SHARED_MNIST / f).is_file() for f in MNIST_FILES), reason=f"MNIST files not in {SHARED_MNIST}"
)


def arr(x):
    """The ndarray behind a gradlab tensor (or the array itself)."""
    return x if isinstance(x, np.ndarray) else np.asarray(x)


def gradlab_tensors():
    """gradlab.Tensor when the Tensor core is importable, else None."""
    try:
        import gradlab
    except ImportError:
        return None
    return getattr(gradlab, "Tensor", None) if hasattr(gradlab, "from_numpy") else None


def make_fake_mnist(folder, n_train=7, n_test=3, compress=True, dotted=False, seed=0):
    """Write four small MNIST-shaped IDX files into folder; return the arrays."""
    rng = np.random.default_rng(seed)
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        y = rng.integers(0, 10, n).astype(np.uint8)
        for kind, a in (("images-idx3", x), ("labels-idx1", y)):
            name = f"{prefix}-{kind}-ubyte"
            if dotted:
                name = name.replace("-idx", ".idx")
            write_idx(folder / (name + (".gz" if compress else "")), a)
        out[prefix] = (x, y)
    return out


# ----------------------------------------------------------------- real MNIST


@pytest.fixture(scope="module")
def mnist_train():
    return MNIST(str(SHARED_MNIST), train=True)


@have_mnist
def test_real_train_split(mnist_train):
    ds = mnist_train
    assert len(ds) == 60000
    data, targets = arr(ds.data), arr(ds.targets)
    assert data.shape == (60000, 28, 28) and data.dtype == np.uint8
    assert targets.shape == (60000,) and targets.dtype == np.int64
    assert list(targets[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert abs(data.mean() / 255 - 0.1307) < 1e-3 and abs(data.std() / 255 - 0.3081) < 1e-3
    assert np.bincount(targets).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert ds._images_np is data or np.shares_memory(ds._images_np, data)


@have_mnist
def test_real_test_split():
    ds = MNIST(SHARED_MNIST, train=False)
    assert len(ds) == 10000
    assert arr(ds.data).shape == (10000, 28, 28)
    assert list(arr(ds.targets)[:5]) == [7, 2, 1, 0, 4]


@have_mnist
def test_real_items(mnist_train):
    img, label = mnist_train[0]
    assert label == 5 and type(label) is int
    assert arr(img).shape == (28, 28) and arr(img).dtype == np.uint8
    tf = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    ds = MNIST(SHARED_MNIST, train=True, transform=tf, target_transform=lambda y: y * 10)
    x, y = ds[1]
    assert y == 0
    x = arr(x)
    assert x.shape == (1, 28, 28) and x.dtype == np.float32
    expected = (arr(mnist_train.data)[1].astype(np.float32) / 255 - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_allclose(x[0], expected, rtol=1e-6, atol=1e-6)
    assert "Number of datapoints: 60000" in repr(ds) and "Normalize" in repr(ds)


@have_mnist
def test_real_torchvision_layout(tmp_path):
    """root/MNIST/raw/<files>, as torchvision leaves it (symlinked, not copied)."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in MNIST_FILES:
        (raw / f).symlink_to(SHARED_MNIST / f)
    ds = MNIST(tmp_path, train=False, download=True, mirrors=[])  # present: no download
    assert len(ds) == 10000
    assert sorted(os.listdir(raw)) == sorted(MNIST_FILES)


# ----------------------------------------------------------------- fake files


def test_tensors_share_memory_with_arrays(tmp_path):
    make_fake_mnist(tmp_path)
    ds = MNIST(tmp_path)
    Tensor = gradlab_tensors()
    if Tensor is None:
        pytest.skip("gradlab's Tensor is not importable yet")
    assert isinstance(ds.data, Tensor) and isinstance(ds.targets, Tensor)
    assert np.shares_memory(arr(ds.data), ds._images_np)
    assert np.shares_memory(arr(ds.targets), ds._targets_np)
    img, _ = ds[0]
    assert isinstance(img, Tensor)
    assert isinstance(T.ToTensor()(img), Tensor)


@pytest.mark.parametrize("layout", ["flat", "torchvision", "MNIST", "raw"])
@pytest.mark.parametrize("compress", [True, False])
def test_finds_files_in_each_layout(tmp_path, layout, compress):
    sub = {"flat": "", "torchvision": "MNIST/raw", "MNIST": "MNIST", "raw": "raw"}[layout]
    fake = make_fake_mnist(tmp_path / sub if sub else tmp_path, compress=compress)
    for train, prefix in ((True, "train"), (False, "t10k")):
        ds = MNIST(str(tmp_path), train=train)
        x, y = fake[prefix]
        np.testing.assert_array_equal(arr(ds.data), x)
        np.testing.assert_array_equal(arr(ds.targets), y.astype(np.int64))
        assert arr(ds.targets).dtype == np.int64 and len(ds) == len(x)


def test_dotted_names_and_pathlike_root(tmp_path):
    fake = make_fake_mnist(tmp_path, compress=False, dotted=True)
    ds = MNIST(tmp_path)  # a pathlib.Path
    np.testing.assert_array_equal(arr(ds.data), fake["train"][0])


def test_classes_and_items(tmp_path):
    fake = make_fake_mnist(tmp_path)
    ds = MNIST(tmp_path, train=False)
    assert ds.classes == [
        "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
        "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
    ]
    assert ds.class_to_idx["3 - three"] == 3
    x, y = fake["t10k"]
    for i in range(len(ds)):
        img, label = ds[i]
        np.testing.assert_array_equal(arr(img), x[i])
        assert label == int(y[i]) and isinstance(label, int)
    np.testing.assert_array_equal(arr(ds[-1][0]), x[-1])
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_assigning_data_keeps_arrays_in_step(tmp_path):
    make_fake_mnist(tmp_path)
    ds = MNIST(tmp_path)
    ds.data = ds.data[:4]
    ds.targets = ds.targets[:4]
    assert len(ds) == 4 and ds._images_np.shape == (4, 28, 28) and ds._targets_np.shape == (4,)


def test_missing_files_message(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        MNIST(tmp_path / "data", train=True)
    msg = str(err.value)
    assert isinstance(err.value, RuntimeError)
    for f in MNIST_FILES:
        assert f in msg
    assert str(tmp_path / "data" / "MNIST" / "raw") in msg
    assert "download=True" in msg and "just the 4 files" in msg
    assert not (tmp_path / "data").exists()  # looking creates nothing


def test_only_the_needed_split_is_required(tmp_path):
    make_fake_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    assert len(MNIST(tmp_path, train=True)) == 7
    with pytest.raises(DatasetNotFoundError, match="t10k-labels-idx1-ubyte"):
        MNIST(tmp_path, train=False)


def test_count_mismatch(tmp_path):
    make_fake_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(6, np.uint8))
    with pytest.raises(IDXError, match="count mismatch"):
        MNIST(tmp_path)


def test_truncated_file_is_reported(tmp_path):
    make_fake_mnist(tmp_path, compress=False)
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(IDXError, match="truncated"):
        MNIST(tmp_path)


def test_wrong_kind_of_file(tmp_path):
    make_fake_mnist(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((7, 28, 28), np.float32))
    with pytest.raises(IDXError, match="expected uint8 images"):
        MNIST(tmp_path)


# ----------------------------------------------------------------- transforms


def test_to_tensor_gray_and_color():
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (5, 7)).astype(np.uint8)
    out = arr(T.ToTensor()(gray))
    assert out.shape == (1, 5, 7) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], gray.astype(np.float32) / np.float32(255))
    assert out.min() >= 0 and out.max() <= 1
    color = rng.integers(0, 256, (5, 7, 3)).astype(np.uint8)
    out = arr(T.ToTensor()(color))
    assert out.shape == (3, 5, 7) and out.flags.c_contiguous
    np.testing.assert_array_equal(out[2], color[:, :, 2] / np.float32(255))
    full = arr(T.ToTensor()(np.array([[0, 255]], np.uint8)))
    assert full.tolist() == [[[0.0, 1.0]]]


def test_to_tensor_keeps_other_dtypes_and_copies():
    img = np.full((2, 2), 3.5, np.float64)
    out = arr(T.ToTensor()(img))
    assert out.dtype == np.float64 and out.shape == (1, 2, 2) and (out == 3.5).all()
    assert not np.shares_memory(out, img)


@pytest.mark.parametrize("shape", [(4,), (1, 2, 3, 4), ()])
def test_to_tensor_bad_ndim(shape):
    with pytest.raises(ValueError, match="2/3 dimensional"):
        T.ToTensor()(np.zeros(shape, np.uint8))


def test_to_tensor_bad_type():
    with pytest.raises(TypeError):
        T.ToTensor()([[1, 2], [3, 4]])


def test_normalize_per_channel():
    x = np.random.default_rng(2).random((3, 4, 5)).astype(np.float32)
    out = arr(T.Normalize([0.1, 0.2, 0.3], [0.5, 1.0, 2.0])(x))
    assert out.dtype == np.float32
    for c, (m, s) in enumerate([(0.1, 0.5), (0.2, 1.0), (0.3, 2.0)]):
        np.testing.assert_allclose(out[c], (x[c] - m) / s, rtol=1e-6)
    batch = np.stack([x, x])  # (..., C, H, W)
    np.testing.assert_allclose(arr(T.Normalize((0.5,), (0.25,))(batch)), (batch - 0.5) / 0.25, rtol=1e-6)
    assert not np.shares_memory(out, x)


def test_normalize_inplace():
    x = np.ones((1, 2, 2), np.float32)
    out = T.Normalize((0.5,), (0.5,), inplace=True)(x)
    assert (x == 1).all() and np.shares_memory(arr(out), x)


def test_normalize_errors():
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize((0.5,), (0.5,))(np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        T.Normalize((0.5,), (0.5,))(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="division by zero"):
        T.Normalize((0.5, 0.5), (1.0, 0.0))(np.zeros((2, 2, 2), np.float32))


def test_transforms_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (28, 28)).astype(np.uint8)
    ours = arr(T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])(img))
    t = torch.from_numpy(img).float().div(255).unsqueeze(0)
    t = (t - torch.tensor([0.1307]).view(-1, 1, 1)) / torch.tensor([0.3081]).view(-1, 1, 1)
    np.testing.assert_array_equal(ours, t.numpy())
    color = rng.integers(0, 256, (6, 5, 3)).astype(np.uint8)
    np.testing.assert_array_equal(
        arr(T.ToTensor()(color)), torch.from_numpy(color).permute(2, 0, 1).float().div(255).numpy()
    )


def test_compose_and_lambda_repr():
    tf = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,)), T.Lambda(lambda x: x)])
    assert repr(tf) == "Compose(\n    ToTensor()\n    Normalize(mean=(0.1307,), std=(0.3081,))\n    Lambda()\n)"
    with pytest.raises(TypeError):
        T.Lambda(3)


# ----------------------------------------------------------------- digits


def test_digits_as_mnist():
    (xtr, ytr), (xte, yte) = load_digits_as_mnist()
    assert xtr.shape == (1438, 28, 28) and xte.shape == (359, 28, 28)
    assert xtr.dtype == np.uint8 and ytr.dtype == np.int64
    assert xtr.max() == 255 and xtr.min() == 0
    assert set(np.unique(yte)) == set(range(10)) and set(np.unique(ytr)) == set(range(10))
    # MNIST's framing: a 4-pixel empty border around a 20x20 digit
    assert not xtr[:, :4].any() and not xtr[:, -4:].any() and not xtr[:, :, :4].any()
    (xtr2, ytr2), (xte2, _) = load_digits_as_mnist()
    np.testing.assert_array_equal(xtr, xtr2)
    np.testing.assert_array_equal(ytr, ytr2)
    (_, ytr3), _ = load_digits_as_mnist(seed=1)
    assert not np.array_equal(ytr, ytr3)


def test_digits_pad_method_matches_source():
    from sklearn.datasets import load_digits

    src = load_digits()
    (x, y), _ = load_digits_as_mnist(method="pad", test_fraction=0.0)
    assert x.shape[1:] == (28, 28)
    blocks = x[:, 2:26, 2:26].reshape(-1, 8, 3, 8, 3)
    assert (blocks == blocks[:, :, :1, :, :1]).all()  # each source pixel is a 3x3 block
    sums = np.sort(blocks[:, :, 0, :, 0].reshape(len(x), -1).astype(int).sum(1))
    expected = np.sort(np.rint(src.images.reshape(len(x), -1) * 255 / 16).astype(int).sum(1))
    np.testing.assert_array_equal(sums, expected)
    with pytest.raises(ValueError):
        load_digits_as_mnist(method="stretch")


def test_digits_dataset_interface():
    tf = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])
    ds = DigitsMNIST(train=False, transform=tf)
    assert len(ds) == 359 and ds.classes == MNIST.classes
    x, y = ds[0]
    assert arr(x).shape == (1, 28, 28) and arr(x).dtype == np.float32 and 0 <= y <= 9
    assert len(DigitsMNIST("ignored", train=True)) == 1438


def test_public_names():
    for name in ["MNIST", "DigitsMNIST", "load_digits_as_mnist", "transforms", "read_idx", "write_idx"]:
        assert hasattr(datasets, name)


def test_transforms_on_gradlab_tensors():
    if gradlab_tensors() is None:
        pytest.skip("gradlab's Tensor is not importable yet")
    import gradlab

    img = gradlab.from_numpy(np.array([[0, 51], [255, 102]], np.uint8))
    x = T.ToTensor()(img)
    assert isinstance(x, gradlab.Tensor) and x.dtype == gradlab.float32 and tuple(x.shape) == (1, 2, 2)
    np.testing.assert_allclose(x.numpy()[0], [[0, 0.2], [1, 0.4]], rtol=1e-6)

    t = gradlab.from_numpy(np.full((1, 2, 2), 2.0, np.float32))
    assert T.Normalize((1.0,), (0.5,), inplace=True)(t) is t
    np.testing.assert_array_equal(t.numpy(), np.full((1, 2, 2), 2.0))

    # A tensor that requires grad stays in the graph.
    v = gradlab.tensor(np.ones((2, 1, 1), np.float32), requires_grad=True)
    out = T.Normalize((0.0, 1.0), (0.5, 4.0))(v)
    out.sum().backward()
    np.testing.assert_allclose(v.grad.numpy().ravel(), [2.0, 0.25])
