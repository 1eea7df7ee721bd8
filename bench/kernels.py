"""Benchmark gradlab's kernels on LeNet-5's layers: compiled vs NumPy twin vs PyTorch.

    python bench/kernels.py                 # batches 64 and 256
    python bench/kernels.py --batch 64 --rounds 5
    python bench/kernels.py --net cifar --batch 64 --threads 1   # the CIFAR-shaped CNN's layers
    python bench/kernels.py --gemm --threads 1     # matmul on the workloads' layer-sized products

For each of LeNet-5's three convolutions and two max pools it times one
forward plus one backward pass (what one training step does with that
layer) with gradlab's compiled kernels, their NumPy twins, and PyTorch (when
installed).  Both gradlab and PyTorch use 2 threads (--threads changes
both).  The three are interleaved round by round and the best round of each
is kept, so a busy machine slows all three alike.  The first convolution
computes no input gradient (a network's first layer needs none), in all
three.

--gemm instead times gradlab's matmul kernel against NumPy's ``@`` (its own
BLAS) and PyTorch's ``mm`` on the products of bench/workloads' linear and
recurrent layers, operands laid out as those layers' forward and backward
passes give them, and prints GFLOP/s and ratios.

It also reports how well the convolutions use the GEMM: their multiply-add
rate as a fraction of NumPy's own float32 GEMM rate on a matrix of matching
size (the convolution's forward GEMM done as one product over the batch).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gradlab.kernels as K  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

CONVS = [  # name, Cin, Cout, size, padding, needs input grad, kernel size
    ("conv1 1->6 5x5 pad2 28x28", 1, 6, 28, 2, False, 5),
    ("conv2 6->16 5x5 14x14", 6, 16, 14, 0, True, 5),
    ("conv3 16->120 5x5 5x5", 16, 120, 5, 0, True, 5),
]
POOLS = [  # name, C, size
    ("maxpool 2x2 6x28x28", 6, 28),
    ("maxpool 2x2 16x10x10", 16, 10),
]
# bench/workloads/cifar_cnn.py's layers: 3x3 convolutions with padding 1, two per stage
CIFAR_CONVS = [(f"conv {cin}->{cout} 3x3 pad1 {side}x{side}", cin, cout, side, 1, cin != 3, 3)
               for c0, cout, side in [(3, 32, 32), (32, 64, 16), (64, 128, 8)] for cin in (c0, cout)]
CIFAR_POOLS = [(f"maxpool 2x2 {c}x{side}x{side}", c, side) for c, side in [(32, 32), (64, 16), (128, 8)]]


def best_time(fn, min_time):
    """Seconds per call: calls fn in a batch lasting at least min_time.

    Thread pools spin for a while after their work (OpenMP for some
    milliseconds, NumPy's OpenBLAS for about 0.1 s), and a pool still
    spinning from the previous implementation would steal a core from this
    one: pause first so that they all go back to sleep, then run fn for a
    few milliseconds (waking this implementation's threads and the cores)
    before timing.
    """
    time.sleep(0.15)
    start = time.perf_counter()
    while time.perf_counter() - start < 0.005:
        fn()
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / calls


def conv_impls(batch, cin, cout, size, pad, need_x, rng, k=5):
    x = rng.standard_normal((batch, cin, size, size), dtype=np.float32)
    w = rng.standard_normal((cout, cin, k, k), dtype=np.float32)
    b = rng.standard_normal(cout, dtype=np.float32)
    out = size + 2 * pad - k + 1
    g = rng.standard_normal((batch, cout, out, out), dtype=np.float32)

    def ours(backend):
        def fwd():
            with K.use_backend(backend):
                return K.conv2d_forward(x, w, b, 1, pad)

        def bwd():
            with K.use_backend(backend):
                return K.conv2d_backward(g, x, w, 1, pad, need_input=need_x)
        return fwd, bwd

    impls = {"cython": ours("cython"), "numpy": ours("numpy")}
    if torch is not None:
        tx, tw, tb, tg = (torch.from_numpy(a) for a in (x, w, b, g))

        def tfwd():
            with torch.no_grad():
                return F.conv2d(tx, tw, tb, 1, pad)

        def tbwd():
            with torch.no_grad():
                return torch.ops.aten.convolution_backward(
                    tg, tx, tw, [cout], [1, 1], [pad, pad], [1, 1], False, [0, 0], 1,
                    [need_x, True, True])
        impls["torch"] = (tfwd, tbwd)
    flops = 2 * batch * cout * out * out * cin * k * k * (3 if need_x else 2)
    gemm_shape = (cout, cin * k * k, batch * out * out)
    return impls, flops, gemm_shape


def pool_impls(batch, c, size, rng):
    x = rng.standard_normal((batch, c, size, size), dtype=np.float32)
    g = rng.standard_normal((batch, c, size // 2, size // 2), dtype=np.float32)
    idx = {}

    def ours(backend):
        def fwd():
            with K.use_backend(backend):
                y, idx[backend] = K.max_pool2d_forward(x, 2, return_indices=True)
                return y

        def bwd():
            with K.use_backend(backend):
                return K.max_pool2d_backward(g, idx[backend], x.shape)
        fwd()
        return fwd, bwd

    impls = {"cython": ours("cython"), "numpy": ours("numpy")}
    if torch is not None:
        tx, tg = torch.from_numpy(x), torch.from_numpy(g)
        _, tidx = torch.ops.aten.max_pool2d_with_indices(tx, [2, 2], [2, 2], [0, 0], [1, 1], False)

        def tfwd():
            return torch.ops.aten.max_pool2d_with_indices(tx, [2, 2], [2, 2], [0, 0], [1, 1], False)

        def tbwd():
            return torch.ops.aten.max_pool2d_with_indices_backward(
                tg, tx, [2, 2], [2, 2], [0, 0], [1, 1], False, tidx)
        impls["torch"] = (tfwd, tbwd)
    return impls


def measure(impls, rounds, min_time, extra=None):
    """{impl: (fwd seconds, bwd seconds)}, best of `rounds` interleaved rounds.

    extra: an optional function timed in the same rounds (best in t["extra"]).
    """
    best = {name: [float("inf"), float("inf")] for name in impls}
    best["extra"] = float("inf")
    for _ in range(rounds):
        for name, (fwd, bwd) in impls.items():
            if name in SKIP:
                continue
            budget = min_time if name != "numpy" else min_time / 2
            best[name][0] = min(best[name][0], best_time(fwd, budget))
            best[name][1] = min(best[name][1], best_time(bwd, budget))
        if extra is not None:
            best["extra"] = min(best["extra"], best_time(extra, min_time))
    return best


SKIP = set()       # implementations left out (--no-numpy): their columns show inf


def numpy_sgemm(m, k, n, rng):
    """A float32 product of the given size with NumPy's own BLAS, and its flop count."""
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    return (lambda: a @ b), 2 * m * k * n


GEMMS = [  # name, m, k, n, layout of (A, B): "c" C-ordered, "f" a transposed view (Fortran-ordered)
    ("LSTM input projection", 2048, 64, 512, "cf"),
    ("LSTM input grad", 2048, 512, 128, "cc"),
    ("LSTM weight grad", 512, 2048, 128, "fc"),
    ("MLP 784->256, batch 128", 128, 784, 256, "cf"),
    ("MLP weight grad", 256, 128, 784, "fc"),
    ("LeNet-5 fc1, batch 256", 256, 400, 120, "cf"),
    ("transformer feed-forward", 2048, 128, 512, "cf"),
    ("recurrent step (32 rows)", 32, 128, 512, "cf"),
]


def gemm_table(rounds, min_time):
    """gradlab's matmul against NumPy's @ and PyTorch's mm, best of interleaved rounds."""
    from gradlab_ext import matmul as compiled
    rng = np.random.default_rng(0)
    print(f"packed float32 kernel: {'yes' if compiled._packed_kernel() else 'no (BLAS)'}\n")
    head = f"{'product':26s} {'m x k x n':>16s} {'gradlab GF/s':>13s} {'numpy GF/s':>11s} {'torch GF/s':>11s}" \
           f" {'vs numpy':>9s} {'vs torch':>9s}"
    print(head)
    print("-" * len(head))
    for name, m, k, n, layout in GEMMS:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        a = np.asfortranarray(a) if layout[0] == "f" else a
        b = np.asfortranarray(b) if layout[1] == "f" else b
        impls = {"gradlab": lambda: K.matmul(a, b), "numpy": lambda: a @ b}
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            impls["torch"] = lambda: torch.mm(ta, tb)
        best = {name_: float("inf") for name_ in impls}
        for _ in range(rounds):
            for name_, fn in impls.items():
                best[name_] = min(best[name_], best_time(fn, min_time))
        gf = {name_: 2 * m * k * n / t / 1e9 for name_, t in best.items()}
        th = f"{gf['torch']:11.1f}" if "torch" in gf else f"{'-':>11s}"
        vs_t = f"{best['torch'] / best['gradlab']:8.2f}x" if "torch" in best else f"{'-':>9s}"
        print(f"{name:26s} {f'{m}x{k}x{n}':>16s} {gf['gradlab']:13.1f} {gf['numpy']:11.1f} {th}"
              f" {best['numpy'] / best['gradlab']:8.2f}x {vs_t}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (best is kept)")
    parser.add_argument("--min-time", type=float, default=0.02, help="seconds per timing batch")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads for gradlab's kernels and for PyTorch (default 2)")
    parser.add_argument("--net", choices=["lenet", "cifar"], default="lenet",
                        help="whose layers: LeNet-5's or the CIFAR-shaped CNN's (bench/workloads)")
    parser.add_argument("--no-numpy", action="store_true",
                        help="leave out the NumPy twins (slow on the CIFAR layers)")
    parser.add_argument("--gemm", action="store_true",
                        help="time matmul on the workloads' layer-sized products instead of the conv layers")
    args = parser.parse_args()
    if args.no_numpy:
        SKIP.add("numpy")
    convs, pools = (CONVS, POOLS) if args.net == "lenet" else (CIFAR_CONVS, CIFAR_POOLS)

    if "cython" not in K.available_backends():
        sys.exit("the compiled kernels are not built: python setup.py build_ext --inplace")
    K.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"gradlab kernels: {K.get_num_threads()} threads; numpy {np.__version__}; "
          + (f"torch {torch.__version__} with {torch.get_num_threads()} threads" if torch is not None
             else "torch not installed"))
    if args.gemm:
        import gradlab
        gradlab.set_num_threads(args.threads)       # NumPy's BLAS too, so that its column is at the same count
        return gemm_table(args.rounds, args.min_time)
    print("times are forward + backward, microseconds (best of interleaved rounds)\n")
    head = (f"{'layer':28s} {'batch':>5s} {'cython':>9s} {'(fwd':>7s} {'bwd)':>7s} {'numpy':>10s} "
            f"{'torch':>9s} {'vs torch':>9s} {'vs numpy':>9s}")
    print(head)
    print("-" * len(head))
    util = []
    for batch in args.batch:
        for name, cin, cout, size, pad, need_x, k in convs:
            impls, flops, shape = conv_impls(batch, cin, cout, size, pad, need_x, rng, k)
            gemm, gemm_flops = numpy_sgemm(*shape, rng)
            t = measure(impls, args.rounds, args.min_time, extra=gemm)
            _row(name, batch, t)
            cy = sum(t["cython"])
            util.append((name, batch, flops / cy / 1e9, gemm_flops / t["extra"] / 1e9, shape))
        for name, c, size in pools:
            t = measure(pool_impls(batch, c, size, rng), args.rounds, args.min_time)
            _row(name, batch, t)
            print(f"{'  backward only':28s} {batch:5d} {t['cython'][1] * 1e6:9.1f} {'':15s} "
                  f"{t['numpy'][1] * 1e6:10.1f} "
                  + (f"{t['torch'][1] * 1e6:9.1f} {t['torch'][1] / t['cython'][1]:8.2f}x "
                     if 'torch' in t else f"{'-':>9s} {'-':>9s} ")
                  + f"{t['numpy'][1] / t['cython'][1]:8.1f}x")
    print("\nGEMM utilisation: the convolutions' fwd+bwd multiply-adds per second, against NumPy's own")
    print("float32 GEMM on the forward pass as one product (Cout x Cin*k*k) @ (Cin*k*k x batch*Ho*Wo)")
    print(f"{'layer':28s} {'batch':>5s} {'conv GFLOP/s':>13s} {'GEMM GFLOP/s':>13s} {'fraction':>9s}"
          f"  GEMM shape")
    for name, batch, conv, gemm, shape in util:
        print(f"{name:28s} {batch:5d} {conv:13.1f} {gemm:13.1f} {conv / gemm:9.2f}  "
              f"{shape[0]}x{shape[1]} @ {shape[1]}x{shape[2]}")


def _row(name, batch, t):
    cy_f, cy_b = t["cython"]
    cy = cy_f + cy_b
    np_t = sum(t["numpy"])
    line = (f"{name:28s} {batch:5d} {cy * 1e6:9.1f} {cy_f * 1e6:7.1f} {cy_b * 1e6:7.1f} "
            f"{np_t * 1e6:10.1f} ")
    if "torch" in t:
        th = sum(t["torch"])
        line += f"{th * 1e6:9.1f} {th / cy:8.2f}x "
    else:
        line += f"{'-':>9s} {'-':>9s} "
    print(line + f"{np_t / cy:8.1f}x", flush=True)


if __name__ == "__main__":
    main()
