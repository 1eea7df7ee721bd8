"""FashionMNIST and KMNIST: MNIST's format, their own files, classes, mirrors and folder, downloaded from a
local HTTP server and file:// mirrors of files the tests make themselves."""
import hashlib
import io

import numpy as np
import pytest

from gradlab.datasets import KMNIST, MNIST, DatasetNotFoundError, DownloadError, FashionMNIST, read_idx, write_idx
from gradlab.utils.data import DataLoader

from test_download import NAMES, Server, all_files

DATASETS = [(FashionMNIST, "FashionMNIST", "GRADLAB_FASHIONMNIST_MIRRORS", "Ankle boot"),
            (KMNIST, "KMNIST", "GRADLAB_KMNIST_MIRRORS", "wo")]


def make_files(seed):
    """Gzip IDX files of a small data set in MNIST's format: name -> bytes."""
    rng = np.random.default_rng(seed)
    out = {}
    for prefix, n in (("train", 7), ("t10k", 3)):
        out[f"{prefix}-images-idx3-ubyte.gz"] = _idx(rng.integers(0, 256, (n, 28, 28)).astype(np.uint8))
        out[f"{prefix}-labels-idx1-ubyte.gz"] = _idx(rng.integers(0, 10, n).astype(np.uint8))
    return out


def _idx(array):
    buf = io.BytesIO()
    write_idx(buf, array, compress=True)
    return buf.getvalue()


@pytest.fixture(params=DATASETS, ids=[d[1] for d in DATASETS])
def dataset(request, monkeypatch):
    cls, folder, env, last_class = request.param
    files = make_files(seed=len(folder))
    monkeypatch.setattr(cls, "resources", [(n, hashlib.md5(files[n]).hexdigest()) for n in NAMES])
    monkeypatch.delenv(env, raising=False)
    return cls, folder, env, last_class, files


def test_download_from_a_local_server(tmp_path, dataset):
    cls, folder, _, last_class, files = dataset
    server = Server()
    try:
        url = server.mirror("m", "good", files)
        train = cls(tmp_path, train=True, download=True, mirrors=[url])
        test = cls(tmp_path, train=False)  # already on disk: no download
    finally:
        server.close()
    assert len(server.requests) == 4
    np.testing.assert_array_equal(train.data.numpy(), read_idx(io.BytesIO(files["train-images-idx3-ubyte.gz"])))
    np.testing.assert_array_equal(test.targets.numpy(), read_idx(io.BytesIO(files["t10k-labels-idx1-ubyte.gz"])))
    assert str(train.data.dtype) == "gradlab.uint8" and str(train.targets.dtype) == "gradlab.int64"
    assert len(train) == 7 and len(test) == 3
    assert train.classes[-1] == last_class and train.class_to_idx[last_class] == 9
    assert sorted(all_files(tmp_path)) == sorted([folder, f"{folder}/raw"] + [f"{folder}/raw/{n}" for n in NAMES])
    image, label = train[0]
    assert tuple(image.shape) == (28, 28) and isinstance(label, int)
    batch, labels = next(iter(DataLoader(train, batch_size=4)))
    assert tuple(batch.shape) == (4, 28, 28) and tuple(labels.shape) == (4,)


def test_mirrors_from_the_environment_and_folders(tmp_path, dataset, monkeypatch):
    cls, folder, env, _, files = dataset
    source = tmp_path / "source"
    source.mkdir()
    for name, body in files.items():
        (source / name).write_bytes(body)
    monkeypatch.setenv(env, str(source))
    ds = cls(tmp_path / "data", download=True)
    assert len(ds) == 7
    monkeypatch.setenv("GRADLAB_MNIST_MIRRORS", "http://127.0.0.1:9/never")  # MNIST's variable is not read
    assert len(cls(tmp_path / "data2", download=True)) == 7


def test_a_corrupted_download_leaves_nothing(tmp_path, dataset):
    cls, _, _, _, files = dataset
    server = Server()
    try:
        url = server.mirror("bad", "corrupt", files)
        with pytest.raises(DownloadError, match="checksum mismatch"):
            cls(tmp_path, download=True, mirrors=[url])
    finally:
        server.close()
    assert all_files(tmp_path) == []


def test_mnist_files_in_root_are_not_taken_for_another_data_set(tmp_path, dataset):
    cls, folder, _, _, files = dataset
    mnist_like = make_files(seed=99)
    for name, body in mnist_like.items():  # MNIST's usual spot: root itself
        (tmp_path / name).write_bytes(body)
    assert len(MNIST(tmp_path)) == 7
    with pytest.raises(DatasetNotFoundError, match=f"{cls.__name__} training files not found"):
        cls(tmp_path)

