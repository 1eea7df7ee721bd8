"""Time gradlab's normalization and softmax ops, forward and backward, beside PyTorch's.

    python bench/norm.py                  # 1 thread
    python bench/norm.py --threads 2 --rounds 15

The shapes are those of bench/suite.py's workloads: the tiny transformer's
LayerNorm, attention (scaled_dot_product_attention with the causal mask, its
two matmuls included) and its loss's log-softmax, and the CIFAR CNN's three
BatchNorm2d layers in training mode.  Each op runs forward, then backward
from a fixed gradient; the two are timed apart.  The engines alternate round
by round and the best round of each is kept, so a busy machine slows both
alike.  At 1 thread the clock is the thread's CPU time (time.thread_time),
which a busy machine's preemptions do not inflate; with more threads it is
wall-clock time.  Run it on two trees (PYTHONPATH) to compare them.
"""
import argparse
import os
import sys
import time

import numpy as np

if not os.environ.get("PYTHONPATH"):         # else the tree PYTHONPATH names is measured
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cases(lib):
    """(name, make) pairs: make() -> (inputs that need grad, forward function, upstream gradient shape)."""
    nn, F = lib.nn, lib.nn.functional
    rng = np.random.default_rng(0)

    def tensor(*shape):
        return lib.from_numpy(rng.standard_normal(shape, dtype=np.float32)).requires_grad_()

    def layer_norm():
        ln = nn.LayerNorm(128)
        return [tensor(32, 64, 128)], ln, (32, 64, 128)

    def attention():
        q, k, v = (tensor(32, 4, 64, 32) for _ in range(3))
        return [q, k, v], lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), (32, 4, 64, 32)

    def softmax():
        return [tensor(32, 4, 64, 64)], lambda x: x.softmax(-1), (32, 4, 64, 64)

    def log_softmax():
        return [tensor(2048, 65)], lambda x: F.log_softmax(x, -1), (2048, 65)

    def batch_norm(channels, side):
        def make():
            bn = nn.BatchNorm2d(channels)
            return [tensor(64, channels, side, side)], bn, (64, channels, side, side)
        return make
    return [("layer_norm (32, 64, 128)", layer_norm),
            ("attention causal (32, 4, 64, 32)", attention),
            ("softmax (32, 4, 64, 64)", softmax),
            ("log_softmax (2048, 65)", log_softmax),
            ("batch_norm2d (64, 32, 32, 32)", batch_norm(32, 32)),
            ("batch_norm2d (64, 64, 16, 16)", batch_norm(64, 16)),
            ("batch_norm2d (64, 128, 8, 8)", batch_norm(128, 8))]


def time_case(lib, make, reps, clock):
    """(forward seconds, backward seconds) per call, averaged over reps calls."""
    inputs, fn, gshape = make()
    g = lib.from_numpy(np.random.default_rng(1).standard_normal(gshape, dtype=np.float32))
    fwd = bwd = 0.0
    for _ in range(reps):
        for t in inputs:
            t.grad = None
        t0 = clock()
        y = fn(*inputs)
        t1 = clock()
        y.backward(g)
        t2 = clock()
        fwd, bwd = fwd + (t1 - t0), bwd + (t2 - t1)
    return fwd / reps, bwd / reps


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    import gradlab
    engines = {"gradlab": gradlab}
    try:
        import torch
        engines["torch"] = torch
    except ImportError:
        pass
    for lib in engines.values():
        lib.set_num_threads(args.threads)
    clock = time.thread_time if args.threads == 1 else time.perf_counter
    names = [name for name, _ in cases(gradlab)]
    best = {(e, n): (float("inf"), float("inf")) for e in engines for n in names}
    for r in range(args.rounds):
        order = list(engines) if r % 2 == 0 else list(engines)[::-1]
        for engine in order:
            lib = engines[engine]
            for name, make in cases(lib):
                f, b = time_case(lib, make, args.reps, clock)
                old = best[engine, name]
                best[engine, name] = (min(old[0], f), min(old[1], b))
    print(f"{args.threads} thread(s), best of {args.rounds} rounds of {args.reps}; load average "
          f"{os.getloadavg()[0]:.1f}; microseconds per call ({'CPU' if args.threads == 1 else 'wall'} time)")
    print(f"| op | gradlab fwd | gradlab bwd | torch fwd | torch bwd | fwd+bwd ratio (torch / gradlab) |")
    print("|---|---|---|---|---|---|")
    for name in names:
        gf, gb = best["gradlab", name]
        row = f"| {name} | {gf * 1e6:.0f} | {gb * 1e6:.0f} |"
        if "torch" in engines:
            tf, tb = best["torch", name]
            row += f" {tf * 1e6:.0f} | {tb * 1e6:.0f} | {(tf + tb) / (gf + gb):.2f}x |"
        print(row)


if __name__ == "__main__":
    main()
