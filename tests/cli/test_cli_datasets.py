"""``gradlab train --dataset fashion-mnist`` and ``kmnist``: files this test makes itself, downloaded from a
file:// mirror or placed in ``--data/<ClassName>/raw``, each data set's normalisation, and the digits
fallback when the files are missing (there is no network here)."""
import hashlib
import io
import json
import os

import numpy as np
import pytest

from gradlab import cli
from gradlab.datasets import KMNIST, FashionMNIST, write_idx

from cli_helpers import run

QUICK = ["--epochs", "1", "--batch-size", "16", "--threads", "1", "--no-progress"]
CASES = [("fashion-mnist", FashionMNIST, "GRADLAB_FASHIONMNIST_MIRRORS"),
         ("kmnist", KMNIST, "GRADLAB_KMNIST_MIRRORS")]


def make_files(seed, n_train=48, n_test=16):
    """Gzipped IDX files in MNIST's format, each class a brighter or darker image: name -> bytes."""
    rng = np.random.default_rng(seed)
    files = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.clip(rng.normal(labels[:, None, None] * 25, 20, (n, 28, 28)), 0, 255).astype(np.uint8)
        files[f"{prefix}-images-idx3-ubyte.gz"] = _idx(images)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = _idx(labels)
    return files


def _idx(array):
    buf = io.BytesIO()
    write_idx(buf, array, compress=True)
    return buf.getvalue()


@pytest.fixture(params=CASES, ids=[c[0] for c in CASES])
def case(request, monkeypatch, tmp_path):
    """(--dataset name, class, a folder serving its files as a mirror, the files)."""
    name, cls, env = request.param
    files = make_files(seed=len(name))
    monkeypatch.setattr(cls, "resources", [(n, hashlib.md5(body).hexdigest()) for n, body in files.items()])
    source = tmp_path / "mirror"
    source.mkdir()
    for filename, body in files.items():
        (source / filename).write_bytes(body)
    monkeypatch.setenv(env, source.as_uri())
    return name, cls, files


def metrics(out):
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)


def test_train_downloads_from_a_file_mirror(tmp_path, capsys, case):
    name, cls, files = case
    data = tmp_path / "data"
    status, out, _ = run(capsys, "--dataset", name, "--data", str(data), *QUICK, "--out", str(tmp_path / "run"))
    assert status == 0, out
    assert out.startswith(f"LeNet-5 on {name} (48 training / 16 test images)")
    assert sorted(os.listdir(data / cls.__name__ / "raw")) == sorted(files)
    [epoch] = metrics(tmp_path / "run")["epochs"]
    assert metrics(tmp_path / "run")["dataset"] == name and np.isfinite(epoch["train_loss"])


def test_train_reads_files_placed_in_data(tmp_path, capsys, case, monkeypatch):
    name, cls, files = case
    raw = tmp_path / "data" / cls.__name__ / "raw"
    raw.mkdir(parents=True)
    for filename, body in files.items():
        (raw / filename).write_bytes(body)
    monkeypatch.setenv("GRADLAB_FASHIONMNIST_MIRRORS", "http://127.0.0.1:9/never")  # not asked
    monkeypatch.setenv("GRADLAB_KMNIST_MIRRORS", "http://127.0.0.1:9/never")
    status, out, _ = run(capsys, "--dataset", name, "--data", str(tmp_path / "data"), "--no-download",
                         *QUICK, "--epochs", "3", "--lr", "0.01", "--out", str(tmp_path / "run"))
    assert status == 0, out
    losses = [e["train_loss"] for e in metrics(tmp_path / "run")["epochs"]]
    assert losses[-1] < losses[0]  # the classes differ in brightness: LeNet-5 learns something


def test_each_data_set_has_its_normalisation(tmp_path, case):
    """Fashion-MNIST: the published mean and std of its training pixels; KMNIST: computed from its images."""
    name, cls, files = case
    train, test, used = cli.load_data(name, str(tmp_path), True, None, None)
    assert used == name
    raw = cls(str(tmp_path), train=True).data.numpy() / 255
    mean, std = (0.2860, 0.3530) if name == "fashion-mnist" else (raw.mean(), raw.std())
    image, _ = train[3]
    np.testing.assert_allclose(image.numpy()[0], (raw[3] - mean) / std, rtol=1e-5, atol=1e-5)
    assert tuple(test[0][0].shape) == (1, 28, 28)


def test_missing_files_fall_back_to_digits(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    status, out, _ = run(capsys, "--dataset", "fashion-mnist", "--data", str(empty), "--no-download",
                         "--limit-train", "64", "--limit-test", "32", *QUICK, "--out", str(tmp_path / "run"))
    assert status == 0
    assert "FashionMNIST is not available" in out and "--no-download" in out
    assert os.path.join(str(empty), "FashionMNIST", "raw") in out  # where to put the files
    assert metrics(tmp_path / "run")["dataset"] == "digits"
    assert os.listdir(empty) == []


def test_resume_needs_the_same_data_set(tmp_path, capsys, case):
    name, cls, _ = case
    data, out_dir = tmp_path / "data", str(tmp_path / "run")
    assert run(capsys, "--dataset", name, "--data", str(data), "--schedule", "decay", *QUICK, "--out", out_dir)[0] == 0
    status, out, err = run(capsys, "--resume", "--epochs", "2", "--data", str(tmp_path / "none"), "--no-download",
                           "--no-progress", "--out", out_dir)
    assert status == 2
    assert f"trained on {name}, but only digits is available" in err


def test_the_flag_lists_the_data_sets(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--dataset", "cifar10"])
    err = capsys.readouterr().err
    assert "'fashion-mnist'" in err and "'kmnist'" in err
