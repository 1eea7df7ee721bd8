"""One framework's training run in a fresh process, for bench/train_lenet.py's memory figures.

    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 python bench/_memory_child.py gradlab|torch DATA_DIR STEPS BATCH THREADS

(BLAS reads its thread count from the environment when NumPy loads, so the
parent sets it there; THREADS sets the framework's own pool.)

The process imports only the framework it measures (plus NumPy), so neither
is charged for the other's libraries.  Both keep MNIST as uint8, the way
``gradlab train`` does, and normalise each batch as it is drawn.  Prints one
JSON line of RSS figures in MB:

* peak: the whole process's peak RSS (VmHWM): interpreter, libraries, data
  and training;
* before_training: RSS once the data and model are loaded;
* at_100 / at_end: RSS after step 100 and after the last step (a graph kept
  alive across steps would make these grow).
"""
import gzip
import json
import sys
from pathlib import Path

import numpy as np

MEAN, STD = 0.1307, 0.3081


def rss_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def read_idx(path):
    """The array in an IDX file (raw or .gz): a minimal reader so the torch side needs no gradlab."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def mnist_train(data_dir):
    """uint8 images N x 28 x 28 and labels; random data of the same size when MNIST is absent."""
    for base in (Path(data_dir), Path(data_dir) / "MNIST" / "raw"):
        for suffix in ("", ".gz"):
            images = base / ("train-images-idx3-ubyte" + suffix)
            labels = base / ("train-labels-idx1-ubyte" + suffix)
            if images.exists() and labels.exists():
                return read_idx(images), read_idx(labels), "mnist"
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, 60000, dtype=np.uint8), "random uint8 of MNIST's size")


def normalise(images):
    x = images.astype(np.float32)[:, None]
    x *= np.float32(1 / 255)
    x -= np.float32(MEAN)
    x /= np.float32(STD)
    return x


def framework(name, threads):
    """(library, functional, model) for gradlab or torch."""
    if name == "gradlab":
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        import gradlab
        import gradlab.nn.functional as F
        from gradlab.models import LeNet5
        gradlab.kernels.set_num_threads(threads)
        return gradlab, F, LeNet5()
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 120, 5), nn.ReLU(), nn.Flatten(),
        nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    return torch, F, model


def main(name, data_dir, steps, batch_size, threads):
    lib, F, model = framework(name, threads)
    images, labels, source = mnist_train(data_dir)
    labels = labels.astype(np.int64)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(1)
    before = rss_mb("VmRSS")
    rss = {}
    order = rng.permutation(len(images))
    for step in range(1, steps + 1):
        start = ((step - 1) * batch_size) % (len(images) - batch_size + 1)
        idx = order[start:start + batch_size]
        loss = F.cross_entropy(model(lib.from_numpy(normalise(images[idx]))), lib.from_numpy(labels[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step in (100, steps):
            rss[step] = rss_mb("VmRSS")
    print(json.dumps({"data": source, "before_training": before, "at_100": rss[100], "at_end": rss[steps],
                      "peak": rss_mb("VmHWM")}))


if __name__ == "__main__":
    name, data_dir, steps, batch_size, threads = sys.argv[1:6]
    if name not in ("gradlab", "torch"):
        sys.exit(f"usage: {sys.argv[0]} gradlab|torch DATA_DIR STEPS BATCH THREADS")
    main(name, data_dir, int(steps), int(batch_size), int(threads))
