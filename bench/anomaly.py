"""What anomaly mode costs: a LeNet-5 training step plain, under detect_anomaly(), and with check_forward.

    python bench/anomaly.py                  # default: 15 rounds of 3 steps, batch 64
    python bench/anomaly.py --rounds 5 --batch 32

One step is zero_grad, forward, cross-entropy, backward and an SGD step, on
random data of MNIST's shape.  Each round times a few steps in every mode, one
mode after the other (a different one first each round), so all modes see
the same machine state; the medians over
all steps are reported, with each mode's ratio to the plain step.  When
PyTorch is installed, its LeNet-5 is timed the same way (plain and under
``torch.autograd.detect_anomaly()``), for its own ratio.
"""
import argparse
import statistics
import sys
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import gradlab  # noqa: E402
import gradlab.nn.functional as F  # noqa: E402
from gradlab.models.lenet import LeNet5  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def gradlab_step(batch):
    rng = np.random.default_rng(0)
    model = LeNet5()
    opt = gradlab.optim.SGD(model.parameters(), lr=0.01)
    x = gradlab.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = gradlab.tensor(rng.integers(0, 10, batch))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def torch_step(batch):
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 120, 5), nn.ReLU(),
        nn.Flatten(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 10, batch))

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def modes():
    """(label, make a step, the context it runs in), plain first in each framework."""
    anomaly = gradlab.autograd.detect_anomaly
    out = [("gradlab plain", gradlab_step, nullcontext),
           ("gradlab detect_anomaly()", gradlab_step, anomaly),
           ("gradlab detect_anomaly(check_forward=True)", gradlab_step, lambda: anomaly(check_forward=True))]
    if torch is not None:
        out += [("torch plain", torch_step, nullcontext),
                ("torch detect_anomaly()", torch_step, torch.autograd.detect_anomaly)]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3, help="steps timed per mode in each round")
    args = parser.parse_args(argv)
    if torch is not None:
        torch.set_num_threads(gradlab.kernels.get_num_threads())  # the same threads as gradlab's kernels
        warnings.filterwarnings("ignore", "Anomaly Detection has been enabled")
    runs = [(label, make(args.batch), context) for label, make, context in modes()]
    times = {label: [] for label, _, _ in runs}
    for round_ in range(args.rounds + 2):  # two warm-up rounds
        shift = round_ % len(runs)  # each mode in turn runs first: none pays for the caches alone
        for label, step, context in runs[shift:] + runs[:shift]:
            with context():
                for _ in range(args.steps):
                    t0 = time.perf_counter()
                    step()
                    if round_ >= 2:
                        times[label].append(time.perf_counter() - t0)

    print(f"LeNet-5 training step, batch {args.batch}, median of {args.rounds} rounds x {args.steps} steps"
          + ("" if torch is not None else " (torch not installed)"))
    print(f"{'mode':<46}{'ms':>9}{'ratio':>8}")
    plain = {}
    for label, _, _ in runs:
        ms = statistics.median(times[label]) * 1e3
        framework = label.split()[0]
        plain.setdefault(framework, ms)
        print(f"{label:<46}{ms:>9.2f}{ms / plain[framework]:>7.2f}x")


if __name__ == "__main__":
    main()
