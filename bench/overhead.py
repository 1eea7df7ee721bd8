"""Per-op Python overhead of the autograd core, side by side with PyTorch.

The workload is tiny on purpose (16-element float32 tensors), so the time is
almost all framework overhead: building the graph and running the engine.

    python bench/overhead.py                 # default: 20 rounds x 500 iterations
    python bench/overhead.py --rounds 5 --iters 200

Each round times every workload for gradlab and then for PyTorch (when it is
installed), so both see the same machine state; the medians over all
iterations are reported.  PyTorch runs with one intra-op thread
(``torch.set_num_threads(1)``), as gradlab uses one thread for these ops.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import gradlab  # noqa: E402

try:
    import torch
    torch.set_num_threads(1)
except ImportError:
    torch = None


def _inputs(lib, requires_grad):
    rng = np.random.default_rng(0)
    return [lib.tensor(rng.standard_normal(16).astype(np.float32), requires_grad=requires_grad) for _ in range(3)]


def forward_backward(lib):
    """Three elementwise ops and a sum, then backward."""
    a, b, c = _inputs(lib, True)

    def step():
        ((a * b + c).tanh()).sum().backward()
    return step


def forward_only(lib):
    """The same forward with grad recording on (the graph is built, never used)."""
    a, b, c = _inputs(lib, True)

    def step():
        ((a * b + c).tanh()).sum()
    return step


def forward_no_grad(lib):
    """The same forward under no_grad: nothing may be recorded."""
    a, b, c = _inputs(lib, True)

    def step():
        with lib.no_grad():
            ((a * b + c).tanh()).sum()
    return step


def mlp_step(lib):
    """A small MLP-like chain: matmul, add, relu, matmul, mean, backward."""
    rng = np.random.default_rng(1)
    x = lib.tensor(rng.standard_normal((8, 16)).astype(np.float32))
    w1 = lib.tensor(rng.standard_normal((16, 16)).astype(np.float32), requires_grad=True)
    b1 = lib.tensor(rng.standard_normal(16).astype(np.float32), requires_grad=True)
    w2 = lib.tensor(rng.standard_normal((16, 4)).astype(np.float32), requires_grad=True)

    def step():
        ((x @ w1 + b1).relu() @ w2).mean().backward()
    return step


WORKLOADS = [forward_backward, forward_only, forward_no_grad, mlp_step]


def time_iterations(step, iters):
    times = []
    clock = time.perf_counter
    for _ in range(iters):
        t0 = clock()
        step()
        times.append(clock() - t0)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--iters", type=int, default=500)
    args = parser.parse_args(argv)

    libs = [("gradlab", gradlab)] + ([("torch", torch)] if torch is not None else [])
    samples = {(w.__name__, name): [] for w in WORKLOADS for name, _ in libs}
    steps = {(w.__name__, name): w(lib) for w in WORKLOADS for name, lib in libs}
    for step in steps.values():  # warm up
        time_iterations(step, 50)
    for _ in range(args.rounds):
        for key, step in steps.items():
            samples[key] += time_iterations(step, args.iters)

    print(f"numpy {np.__version__}" + (f", torch {torch.__version__} (1 thread)" if torch else ", torch not installed"))
    print(f"{args.rounds} rounds x {args.iters} iterations, median microseconds per iteration")
    print(f"{'workload':<18}{'gradlab':>10}{'torch':>10}{'ratio':>8}")
    for w in WORKLOADS:
        g = statistics.median(samples[(w.__name__, "gradlab")]) * 1e6
        if torch is not None:
            t = statistics.median(samples[(w.__name__, "torch")]) * 1e6
            print(f"{w.__name__:<18}{g:>10.1f}{t:>10.1f}{g / t:>7.2f}x")
        else:
            print(f"{w.__name__:<18}{g:>10.1f}{'-':>10}{'-':>8}")


if __name__ == "__main__":
    main()
