"""See what runs: ``gradlab.set_debug(level)`` and ``GRADLAB_DEBUG=level`` (read at import).

Level 1 prints one line per kernel call (convolution, pooling, matmul, ReLU,
im2col...) on stderr: the kernel, the backend that ran it and why, the
shapes in and out, the time, and its rate::

    gradlab: conv2d_forward       cython (compiled)  (64,6,14,14) (16,6,5,5) (16,) -> (64,16,10,10) float32
             0.424 ms    72.50 GFLOP/s  32.6% of peak          (one line when printed)

Level 2 adds one line per autograd node as backward runs (its gradient in,
the gradients it sends out, its time).  Level 0 turns it off.

How it costs nothing when off: ``kernels.set_backend`` installs the twin
modules through ``twins()``, which wraps them in ``_Timed`` only while
something watches (a debug level, or a running ``autograd.profiler.profile``
that collects each kernel's GFLOP/s).  Off, the dispatcher calls the plain
twins: no flag test, no extra call.  Level 2 takes the engine's profiler
slot (one test per node, already there).

The peak is this machine's float32 GEMM rate (NumPy's sgemm, the best
product a kernel here could hope to match) on one thread, times the threads
the kernels use (``kernels.set_num_threads``).  The one-thread rate is
measured once and kept in ``~/.cache/gradlab/peak.json``
(``$XDG_CACHE_HOME/gradlab`` when set); where that cannot be written it is
measured again in each process (0.2 s).  Delete the file to measure again.
"""
import json
import os
import platform
import sys
import time

import numpy as np

__all__ = ["set_debug", "get_debug", "peak_gflops", "measure_peak", "flops"]

_level = 0         # 0 off, 1 a line per kernel call, 2 also a line per autograd node
_listener = None   # a running profiler's callback: (name, backend, flops, seconds)
_peak = None       # GFLOP/s, once measured or read


def set_debug(level):
    """0: quiet; 1: a line per kernel call; 2: also a line per autograd node in backward."""
    global _level
    try:
        n = int(level)
    except (TypeError, ValueError):
        raise ValueError(f"set_debug: level must be 0, 1 or 2, got {level!r}") from None
    if n < 0:
        raise ValueError(f"set_debug: level must be 0, 1 or 2, got {level!r}")
    _level = n
    from .autograd import profiler
    profiler.set_node_tracer(_node_tracer if n >= 2 else None)
    _reinstall()


def get_debug():
    """The current debug level."""
    return _level


def _from_environment():
    """GRADLAB_DEBUG=1 or 2 at import (gradlab/__init__.py calls this when it is set)."""
    value = os.environ.get("GRADLAB_DEBUG", "").strip()
    try:
        set_debug(int(value or 0))
    except ValueError:
        print(f"gradlab: GRADLAB_DEBUG={value!r} is not 0, 1 or 2; ignoring it", file=sys.stderr)


def listen(callback):
    """Send every kernel call to ``callback(name, backend, flops, seconds)``; None stops (the profiler's)."""
    global _listener
    _listener = callback
    _reinstall()


def twins(backend, modules):
    """The twin modules set_backend installs: timed ones while anything watches."""
    if not _level and _listener is None:
        return modules
    return tuple(_Timed(m, backend) for m in modules)


def _reinstall():
    kernels = sys.modules.get("gradlab.kernels")
    if kernels is not None and kernels.get_backend() is not None:   # else set_backend is still to come
        kernels.set_backend(kernels.get_backend())


class _Timed:
    """A twin module whose every function call is timed and reported."""

    def __init__(self, module, backend):
        self._module, self._backend = module, backend

    def __getattr__(self, name):
        fn = getattr(self._module, name)
        if name.startswith("_") or not callable(fn):
            return fn
        backend = self._backend

        def timed(*args, **kwargs):
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            _report(name, backend, args, out, time.perf_counter() - start)
            return out
        setattr(self, name, timed)       # built once per function, then found without __getattr__
        return timed


def _report(name, backend, args, out, seconds):
    n = flops(name, args, out)
    if _listener is not None:
        _listener(name, backend, n, seconds)
    if _level:
        print(describe(name, backend, args, out, seconds, n), file=sys.stderr, flush=True)


def flops(name, args, out):
    """Floating-point operations (a multiply-add is 2) of one kernel call; 0 for data movement."""
    if name == "conv2d_forward":          # (x, w, ...) -> y: each output sums Cin/groups*kh*kw products
        return 2 * out.size * args[1][0].size
    if name == "conv2d_backward":         # (g, x, w, ...) -> (gx, gw, gb): one such product per gradient
        return 2 * args[0].size * args[2][0].size * ((out[0] is not None) + (out[1] is not None))
    if name == "conv2d_input_grad":       # (g, w, input_shape, ...)
        return 2 * args[0].size * args[1][0].size
    if name == "conv2d_weight_grad":      # (g, x, weight_shape, ...)
        return 2 * args[0].size * int(np.prod(args[2][1:]))
    if name == "matmul":                  # (a (M, K), b (K, N))
        return 2 * args[0].shape[0] * args[0].shape[1] * args[1].shape[1]
    return 0


def _arrays(value):
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (tuple, list)):
        return [a for a in value if isinstance(a, np.ndarray)]
    return []


def _shape(shape):
    return str(tuple(shape)).replace(" ", "")


def _shapes(arrays):
    return " ".join(_shape(a.shape) for a in arrays) or "-"


def describe(name, backend, args, out, seconds, n):
    """The debug line of one kernel call."""
    ins, outs = _arrays(args), _arrays(out)
    dtype = ins[0].dtype if ins else ""
    rate = ""
    if n:
        gflops = n / seconds / 1e9 if seconds > 0 else float("inf")
        rate = f"{gflops:8.2f} GFLOP/s {100 * gflops / peak_gflops():5.1f}% of peak"
    elif seconds > 0:                     # data movement: what counts is bytes per second
        moved = sum(a.nbytes for a in ins + outs)
        rate = f"{moved / seconds / 1e9:8.2f} GB/s"
    return (f"gradlab: {name:<20} {backend} ({reason(backend)})  {_shapes(ins)} -> {_shapes(outs)} {dtype}"
            f"  {1e3 * seconds:.3f} ms {rate}")


def reason(backend):
    """Why this backend runs the kernels."""
    from .kernels import _CYTHON_ERROR, cpu_build
    if backend == "cython":
        return f"compiled {cpu_build()}"        # x86-64-v3 or baseline: gradlab/kernels/__init__.py
    if _CYTHON_ERROR is not None:
        return "compiled kernels not built"
    if os.environ.get("GRADLAB_BACKEND", "").strip().lower() == "numpy":
        return "GRADLAB_BACKEND=numpy"
    return "set_backend('numpy')"


# ---------------------------------------------------------------------------
# This machine's peak
# ---------------------------------------------------------------------------

def peak_gflops():
    """This machine's float32 GEMM rate in GFLOP/s for the kernels' threads: one thread's rate
    (read from the cache, else measured once) times ``kernels.get_num_threads()``."""
    global _peak
    if _peak is None:
        path, key = _cache_path(), _machine_key()
        cached = _read_cache(path)
        _peak = cached.get(key)
        if not isinstance(_peak, (int, float)) or _peak <= 0:
            _peak = measure_peak()
            cached[key] = _peak
            _write_cache(path, cached)
    from .kernels import get_num_threads
    return _peak * get_num_threads()


def measure_peak(seconds=0.2, repeats=5):
    """One thread's float32 GEMM rate in GFLOP/s: the best of batched 64 x 64 products, repeated at
    least ``repeats`` times and until ``seconds`` have passed.

    Each product is small enough that BLAS runs it on one thread, as the compiled kernels' products
    are (one per OpenMP thread).  A large product on BLAS's own threads would measure how well
    those threads share a busy machine instead: on a loaded 2-vCPU VM it swung from 0.1 to 200
    GFLOP/s between runs, when a single thread's rate held within 2%.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((16, 64, 64), dtype=np.float32)
    b = rng.standard_normal((16, 64, 64), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)              # warm-up
    best, begin, done = float("inf"), time.perf_counter(), 0
    while done < repeats or time.perf_counter() - begin < seconds:
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
        done += 1
    return round(2 * a.size * 64 / best / 1e9, 2)


def _cache_path():
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "gradlab", "peak.json")


def _machine_key():
    # a home directory may be shared by several machines: one entry per CPU, core count and NumPy
    cpu = platform.processor() or platform.machine()
    return f"{platform.node()} {cpu} {os.cpu_count()} cpus numpy {np.__version__}: float32 GEMM, 1 thread"


def _read_cache(path):
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(path, data):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except OSError:
        pass                              # not writable: the value measured stays for this process


# ---------------------------------------------------------------------------
# Level 2: the autograd nodes
# ---------------------------------------------------------------------------

class _NodeTracer:
    """Sits in the profiler's slot (autograd/profiler.py), where the engine already looks once per node."""

    def run_node(self, node, fn, g):
        start = time.perf_counter()
        in_grads = fn(g)
        seconds = time.perf_counter() - start
        print(f"gradlab:   node {node.name():<30} grad {_grad_shapes(g)} -> {_grad_shapes(in_grads)}"
              f"  {1e3 * seconds:.3f} ms", file=sys.stderr, flush=True)
        return in_grads

    def push(self, name, opaque=False):      # optimizer steps and record_function blocks: not shown
        return None

    def pop(self, event):
        pass


def _grad_shapes(value):
    if isinstance(value, (tuple, list)):
        return " ".join(_grad_shapes(v) for v in value) or "-"
    shape = getattr(value, "shape", None)
    return "None" if shape is None else _shape(shape)


_node_tracer = _NodeTracer()
