"""gradlab.kernels: the array-level kernels under gradlab's ops.

NumPy arrays in, NumPy arrays out; no Tensor, no autograd.  Each family has
two twins with the same file name and the same functions:

    gradlab/kernels/conv.py        <->  gradlab_ext/conv.pyx       convolution, im2col
    gradlab/kernels/pool.py        <->  gradlab_ext/pool.pyx       max and average pooling
    gradlab/kernels/matmul.py      <->  gradlab_ext/matmul.pyx     matrix product
    gradlab/kernels/activation.py  <->  gradlab_ext/activation.pyx relu
    gradlab/kernels/norm.py        <->  gradlab_ext/norm.pyx       layer and batch norm
    gradlab/kernels/softmax.py     <->  gradlab_ext/softmax.pyx    softmax, attention weights
    gradlab/kernels/rnn.py         <->  gradlab_ext/rnn.pyx        LSTM, GRU, Elman layers
    gradlab/kernels/optim.py       <->  gradlab_ext/optim.pyx      Adam and SGD steps
    gradlab/kernels/dropout.py     <->  gradlab_ext/dropout.pyx    dropout's mask, drawn from a seed
    gradlab/kernels/embedding.py   <->  gradlab_ext/embedding.pyx  embedding's backward (rows added back)

the plain-NumPy one written to be read, the compiled one (BLAS without the
GIL, OpenMP over the batch) to run fast.  This module is the dispatcher:
each function below checks its arguments once (``geometry.py``, ``dtypes.py``),
brings the arrays to one contiguous float dtype, and calls the twin of the
current backend, which trusts what it gets.

Backend: ``set_backend("cython" | "numpy")``, ``get_backend()``,
``use_backend(name)`` (a context manager), and ``GRADLAB_BACKEND`` read at
import; the default is "cython" when gradlab_ext imports, else "numpy" (with
one warning).  ``set_num_threads(n)`` / ``get_num_threads()``: the OpenMP team
of the compiled kernels (default: OMP_NUM_THREADS or all cores).

CPU build: on x86-64 the compiled kernels exist twice, gradlab_ext.<name> for
any x86-64 CPU and gradlab_ext.v3.<name> built with -march=x86-64-v3 (AVX2,
FMA: twice as wide vector loops).  The v3 build is imported when the CPU has
those features (asked by compiled baseline code, gradlab_ext/v3/_cpu.pyx), else
the baseline one; ``GRADLAB_CPU=baseline`` forces the baseline build.
``cpu_build()`` says which one runs, ``_CPU_WHY`` why.

Conventions: images NCHW, weights (Cout, Cin // groups, kh, kw); ``stride``,
``padding``, ``dilation`` and ``kernel_size`` are an int or a pair (h, w);
padding is symmetric; a pooling stride of None means kernel_size.  float16 is
computed in float32, mixed floats are promoted, each result comes back in its
input's dtype.  Bad dtypes raise TypeError, bad shapes and geometries
ValueError, naming the op, the shapes and what was expected.

    conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1) -> y
    conv2d_backward(grad_out, x, w, stride, padding, dilation, groups,
                    need_input=True, need_weight=True, need_bias=True) -> (gx, gw, gb)
    conv2d_input_grad(grad_out, w, input_shape, ...) -> gx    (a transposed convolution)
    conv2d_weight_grad(grad_out, x, weight_shape, ...) -> gw
    im2col(x, kernel_size, stride=1, padding=0, dilation=1) -> cols (N, C*kh*kw, Ho*Wo)
    col2im(cols, input_shape, kernel_size, ...) -> x          (the adjoint of im2col)
    max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1,
                       ceil_mode=False, return_indices=False) -> (y, indices or None)
    max_pool2d_backward(grad_out, indices, input_shape) -> gx
    avg_pool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                       count_include_pad=True, divisor_override=None) -> y
    avg_pool2d_backward(grad_out, input_shape, kernel_size, ...) -> gx
    matmul(a, b) -> a @ b for 2-D a (M, K), b (K, N)
    relu_forward(x) -> max(x, 0);  relu_backward(grad_out, out) -> grad_out where out > 0
    layer_norm_forward(x (M, N), weight, bias, eps) -> (y, mean (M,), rstd (M,))
    layer_norm_backward(grad_out, x, mean, rstd, weight, need_input, need_weight, need_bias) -> (gx, gw, gb)
    batch_norm_forward(x (N, C, S), weight, bias, eps) -> (y, mean (C,), var (C,), rstd (C,))
    batch_norm_backward(grad_out, x, mean, rstd, weight, need_input, need_weight, need_bias) -> (gx, gw, gb)
    softmax_forward(x), log_softmax_forward(x) over the last axis; softmax_backward(grad_out, out),
    log_softmax_backward(grad_out, out)
    attention_softmax_forward(scores (..., L, S), scale, causal, mask (L, S) or None) -> weights;
    attention_softmax_backward(grad_out, weights, scale) -> grad of the raw scores
    lstm_forward / lstm_backward, gru_forward / gru_backward, rnn_forward / rnn_backward:
        one recurrent layer in one direction over a whole sequence (see kernels/rnn.py)
    adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
              weight_decay=0, decoupled=False, maximize=False)       (in place, returns None)
    sgd_step(param, grad, momentum_buffer, lr, momentum=0, dampening=0, nesterov=False,
             weight_decay=0, maximize=False, first=False)            (in place, returns None)
    dropout_forward(x, p, seed) -> x * mask;  dropout_backward(grad_out, p, seed) -> grad_out * mask
        (mask: 1 / (1 - p) where kept, 0 where dropped; the same bits for a seed on every backend)
    embedding_backward(grad_out (T, D), indices (T,), num_rows) -> (num_rows, D), grad_out[t] added into
        row indices[t] in the order of t
    conv2d_output_size(size, kernel, stride=1, padding=0, dilation=1) -> int
    pool2d_output_size(size, kernel, stride, padding=0, dilation=1, ceil_mode=False) -> int
"""
import contextlib
import importlib
import operator
import os
import warnings

import numpy as np

from .. import debug as _debug
from .dtypes import F32, F64, cast, compute_dtype, float_array, ready
from .geometry import (check_grad_out, conv2d_output_size, conv_geometry, divisor, pair,
                       pool2d_output_size, pool_geometry, shape4)

__all__ = [
    "set_backend", "get_backend", "use_backend", "available_backends", "cpu_build",
    "set_num_threads", "get_num_threads",
    "conv2d_forward", "conv2d_backward", "conv2d_input_grad", "conv2d_weight_grad",
    "im2col", "col2im",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "matmul", "relu_forward", "relu_backward", "conv2d_output_size", "pool2d_output_size",
    "layer_norm_forward", "layer_norm_backward", "batch_norm_forward", "batch_norm_backward",
    "softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward",
    "attention_softmax_forward", "attention_softmax_backward",
    "lstm_forward", "lstm_backward", "gru_forward", "gru_backward", "rnn_forward", "rnn_backward",
    "adam_step", "sgd_step",
    "dropout_forward", "dropout_backward", "embedding_backward",
]
_ndarray = np.ndarray

# the kernel families, each a twin pair kernels/<name>.py <-> gradlab_ext/<name>.pyx
FAMILIES = ("conv", "pool", "matmul", "activation", "norm", "softmax", "rnn", "optim", "dropout", "embedding")
_TWINS = {name: importlib.import_module(f".{name}", __name__) for name in FAMILIES}


def choose_cpu_build(setting, cpu_supports_v3):
    """("v3" or "baseline", why): v3 only when the CPU check says yes and GRADLAB_CPU
    (``setting``) is not "baseline"; ``cpu_supports_v3`` is None when no v3 build exists."""
    setting = (setting or "").strip().lower()
    if setting == "baseline":
        return "baseline", "GRADLAB_CPU=baseline"
    if setting not in ("", "auto"):
        warnings.warn(f"GRADLAB_CPU={setting!r} is not 'baseline' or 'auto'; ignoring it",
                      RuntimeWarning, stacklevel=2)
    if cpu_supports_v3 is None:
        return "baseline", "no x86-64-v3 build"
    if not cpu_supports_v3():
        return "baseline", "this CPU lacks AVX2 or FMA"
    return "v3", "this CPU has AVX2 and FMA"


def _v3_check():
    """The compiled CPU check, or None if the v3 kernels were not built (not x86-64, old compiler)."""
    try:
        from gradlab_ext.v3._cpu import supports_v3
    except ImportError:
        return None
    return supports_v3


def _import_compiled():
    """Import gradlab_ext (its v3 build if the CPU allows, else the baseline one) with idle
    OpenMP threads spinning ~0.1 ms before they sleep (robust on a busy machine, fast on
    an idle one: docs/performance.md); a policy the user set (OMP_WAIT_POLICY,
    GOMP_SPINCOUNT) is left alone.  Returns the modules, the build's name and why."""
    build, why = choose_cpu_build(os.environ.get("GRADLAB_CPU"), _v3_check())
    chosen = "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ
    if not chosen:
        os.environ["GOMP_SPINCOUNT"] = "3000"
    try:
        compiled = None
        if build == "v3":
            try:
                compiled = {name: importlib.import_module(f"gradlab_ext.v3.{name}") for name in FAMILIES}
            except ImportError as exc:      # a family whose v3 copy failed to build: all go baseline
                build, why = "baseline", f"x86-64-v3 build unusable ({type(exc).__name__}: {exc})"
        if compiled is None:
            compiled = {name: importlib.import_module(f"gradlab_ext.{name}") for name in FAMILIES}
    finally:
        if not chosen:
            del os.environ["GOMP_SPINCOUNT"]
    from .._threads import hold_kernel_blas
    hold_kernel_blas()      # the kernels' threads are OpenMP's; their BLAS runs on the caller (gradlab/_threads.py)
    return compiled, ("x86-64-v3" if build == "v3" else "baseline"), why


try:
    _COMPILED, _CPU_BUILD, _CPU_WHY = _import_compiled()
    _CYTHON_ERROR = None
except ImportError as exc:          # not built, or built for another Python
    _COMPILED = _CPU_BUILD = None
    _CYTHON_ERROR = _CPU_WHY = f"{type(exc).__name__}: {exc}"
else:
    # OpenMP workers keep off the calling thread's CPU (see gradlab_ext/_common.pxd),
    # unless the user binds the threads himself or sets GRADLAB_PIN_THREADS=0
    _pin = "OMP_PROC_BIND" not in os.environ and os.environ.get("GRADLAB_PIN_THREADS", "1") != "0"
    for _mod in _COMPILED.values():
        _mod._set_pinning(_pin)

_BACKENDS = {"numpy": _TWINS, "cython": _COMPILED}
_backend = None
# the current backend's module of each family (set by set_backend)
_conv = _pool = _mm = _act = _norm = _softmax = _rnn = _opt = _drop = _emb = None


def available_backends():
    """Names of the backends that can be selected here."""
    return ["cython", "numpy"] if _CYTHON_ERROR is None else ["numpy"]


def cpu_build():
    """Which build of the compiled kernels is loaded: "x86-64-v3" (AVX2, FMA), "baseline"
    (any x86-64 CPU, or not x86), or None when they are not built."""
    return _CPU_BUILD


def set_backend(name):
    """Choose the kernels: "cython" (compiled) or "numpy" (the readable twins)."""
    global _backend, _conv, _pool, _mm, _act, _norm, _softmax, _rnn, _opt, _drop, _emb
    if not isinstance(name, str) or name.lower() not in _BACKENDS:
        raise ValueError(f"set_backend: unknown backend {name!r}; expected 'cython' or 'numpy'")
    name = name.lower()
    if name == "cython" and _CYTHON_ERROR is not None:
        raise RuntimeError(
            "set_backend: the compiled kernels (gradlab_ext) are not available "
            f"({_CYTHON_ERROR}); build them with `python setup.py build_ext --inplace`")
    _backend = name
    modules = _debug.twins(name, tuple(_BACKENDS[name][f] for f in FAMILIES))   # timed while set_debug watches
    _conv, _pool, _mm, _act, _norm, _softmax, _rnn, _opt, _drop, _emb = modules


def get_backend():
    """The current backend name, "cython" or "numpy"."""
    return _backend


@contextlib.contextmanager
def use_backend(name):
    """Temporarily switch backend: ``with use_backend("numpy"): ...``."""
    previous = _backend
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def set_num_threads(n):
    """Threads used by the compiled kernels (OpenMP team size), n >= 1."""
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n}")
    if _CYTHON_ERROR is None:
        for mod in _COMPILED.values():
            mod.set_num_threads(n)


def get_num_threads():
    """Threads used by the compiled kernels (1 when they are not built)."""
    return _COMPILED["conv"].get_num_threads() if _CYTHON_ERROR is None else 1


def _init_backend():
    requested = os.environ.get("GRADLAB_BACKEND", "").strip().lower()
    if requested and requested not in _BACKENDS:
        warnings.warn(f"GRADLAB_BACKEND={requested!r} is not 'cython' or 'numpy'; ignoring it",
                      RuntimeWarning, stacklevel=3)
        requested = ""
    if requested == "numpy":
        set_backend("numpy")
    elif _CYTHON_ERROR is None:
        set_backend("cython")
    else:
        warnings.warn(
            "gradlab: compiled kernels not available, using the NumPy kernels (slower). "
            f"Reason: {_CYTHON_ERROR}. Build them with `python setup.py build_ext --inplace`.",
            RuntimeWarning, stacklevel=3)
        set_backend("numpy")


_init_backend()

# ---------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------

def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """y (N, Cout, Ho, Wo) = conv2d(x, w) + b.  See the module docstring."""
    op = "conv2d_forward"
    x, w = float_array(op, "input", x, 4), float_array(op, "weight", w, 4)
    if b is not None:
        b = float_array(op, "bias", b, 1)
        if b.shape[0] != w.shape[0]:
            raise ValueError(f"{op}: bias has shape {b.shape}, expected ({w.shape[0]},) "
                             f"for weight {w.shape}")
    geometry = conv_geometry(op, x.shape, w.shape, stride, padding, dilation, groups)
    dt = compute_dtype(x, w, b)
    y = _conv.conv2d_forward(ready(x, dt), ready(w, dt), ready(b, dt), *geometry)
    return cast(y, x.dtype if x.dtype == w.dtype else np.result_type(x.dtype, w.dtype))


def conv2d_backward(grad_out, x, w, stride=1, padding=0, dilation=1, groups=1,
                    need_input=True, need_weight=True, need_bias=True):
    """(grad_x, grad_w, grad_b) of conv2d_forward; None for what is not needed."""
    op = "conv2d_backward"
    x, w = float_array(op, "input", x, 4), float_array(op, "weight", w, 4)
    grad_out = float_array(op, "grad_out", grad_out, 4)
    geometry = conv_geometry(op, x.shape, w.shape, stride, padding, dilation, groups, grad_out)
    need_input, need_weight, need_bias = bool(need_input), bool(need_weight), bool(need_bias)
    if not (need_input or need_weight or need_bias):
        return None, None, None
    dt = compute_dtype(grad_out, x, w)
    gx, gw, gb = _conv.conv2d_backward(ready(grad_out, dt), ready(x, dt), ready(w, dt), *geometry,
                                       need_input, need_weight, need_bias)
    return cast(gx, x.dtype), cast(gw, w.dtype), cast(gb, w.dtype)


def conv2d_input_grad(grad_out, w, input_shape, stride=1, padding=0, dilation=1, groups=1):
    """grad_x of conv2d_forward for an input of shape input_shape."""
    op = "conv2d_input_grad"
    grad_out, w = float_array(op, "grad_out", grad_out, 4), float_array(op, "weight", w, 4)
    input_shape = shape4(op, "input_shape", input_shape)
    geometry = conv_geometry(op, input_shape, w.shape, stride, padding, dilation, groups, grad_out)
    dt = compute_dtype(grad_out, w)
    return cast(_conv.conv2d_input_grad(ready(grad_out, dt), ready(w, dt), input_shape, *geometry),
                grad_out.dtype)


def conv2d_weight_grad(grad_out, x, weight_shape, stride=1, padding=0, dilation=1, groups=1):
    """grad_w of conv2d_forward for a weight of shape weight_shape."""
    op = "conv2d_weight_grad"
    grad_out, x = float_array(op, "grad_out", grad_out, 4), float_array(op, "input", x, 4)
    weight_shape = shape4(op, "weight_shape", weight_shape)
    geometry = conv_geometry(op, x.shape, weight_shape, stride, padding, dilation, groups, grad_out)
    dt = compute_dtype(grad_out, x)
    return cast(_conv.conv2d_weight_grad(ready(grad_out, dt), ready(x, dt), weight_shape, *geometry),
                grad_out.dtype)


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """cols (N, C*kh*kw, Ho*Wo): every kernel-sized patch of x as a column."""
    op = "im2col"
    x = float_array(op, "input", x, 4)
    kernel = pair(op, "kernel_size", kernel_size, 1)
    stride, padding, dilation, _ = conv_geometry(
        op, x.shape, (1, x.shape[1]) + kernel, stride, padding, dilation, 1, columns=True)
    dt = compute_dtype(x)
    return cast(_conv.im2col(ready(x, dt), kernel, stride, padding, dilation), x.dtype)


def col2im(cols, input_shape, kernel_size, stride=1, padding=0, dilation=1):
    """x of input_shape with every column entry added back where im2col took it."""
    op = "col2im"
    cols = float_array(op, "cols", cols, 3)
    input_shape = shape4(op, "input_shape", input_shape)
    kernel = pair(op, "kernel_size", kernel_size, 1)
    stride, padding, dilation, _ = conv_geometry(
        op, input_shape, (1, input_shape[1]) + kernel, stride, padding, dilation, 1, columns=True)
    blocks = [conv2d_output_size(*args) for args in zip(input_shape[2:], kernel, stride, padding, dilation)]
    expected = (input_shape[0], input_shape[1] * kernel[0] * kernel[1], blocks[0] * blocks[1])
    if tuple(cols.shape) != expected:
        raise ValueError(f"{op}: cols has shape {tuple(cols.shape)}, expected {expected} for input "
                         f"{input_shape}, kernel {kernel}, stride {stride}, padding {padding}, "
                         f"dilation {dilation}")
    dt = compute_dtype(cols)
    return cast(_conv.col2im(ready(cols, dt), input_shape, kernel, stride, padding, dilation),
               cols.dtype)


# ---------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------

def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                       return_indices=False):
    """(y, indices): the max of each window; indices None unless return_indices."""
    op = "max_pool2d_forward"
    x = float_array(op, "input", x, 4)
    kernel, stride, padding, dilation, _, _ = pool_geometry(
        op, x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    dt = compute_dtype(x)
    y, indices = _pool.max_pool2d_forward(ready(x, dt), kernel, stride, padding, dilation,
                                          bool(ceil_mode), bool(return_indices))
    return cast(y, x.dtype), indices


def max_pool2d_backward(grad_out, indices, input_shape):
    """grad_x: every grad_out entry added at the argmax its window recorded."""
    op = "max_pool2d_backward"
    grad_out = float_array(op, "grad_out", grad_out, 4)
    input_shape = shape4(op, "input_shape", input_shape)
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices has dtype {indices.dtype}, expected int64")
    if indices.shape != grad_out.shape:
        raise ValueError(f"{op}: indices shape {indices.shape} differs from grad_out shape "
                         f"{grad_out.shape}")
    if tuple(grad_out.shape[:2]) != input_shape[:2]:
        raise ValueError(f"{op}: grad_out {grad_out.shape} and input_shape {input_shape} "
                         f"differ in batch or channels")
    dt = compute_dtype(grad_out)
    gx = _pool.max_pool2d_backward(ready(grad_out, dt), ready(indices, np.dtype(np.int64)),
                                   input_shape)
    return cast(gx, grad_out.dtype)


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                       count_include_pad=True, divisor_override=None):
    """y: the mean of each window."""
    op = "avg_pool2d_forward"
    x = float_array(op, "input", x, 4)
    kernel, stride, padding, divisor_override = _avg_geometry(
        op, x.shape, kernel_size, stride, padding, ceil_mode, divisor_override)
    dt = compute_dtype(x)
    y = _pool.avg_pool2d_forward(ready(x, dt), kernel, stride, padding, bool(ceil_mode),
                                 bool(count_include_pad), divisor_override)
    return cast(y, x.dtype)


def avg_pool2d_backward(grad_out, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
    """grad_x: every grad_out entry shared evenly over its window."""
    op = "avg_pool2d_backward"
    grad_out = float_array(op, "grad_out", grad_out, 4)
    input_shape = shape4(op, "input_shape", input_shape)
    kernel, stride, padding, divisor_override = _avg_geometry(
        op, input_shape, kernel_size, stride, padding, ceil_mode, divisor_override, grad_out)
    dt = compute_dtype(grad_out)
    gx = _pool.avg_pool2d_backward(ready(grad_out, dt), input_shape, kernel, stride, padding,
                                   bool(ceil_mode), bool(count_include_pad), divisor_override)
    return cast(gx, grad_out.dtype)


def _avg_geometry(op, shape, kernel_size, stride, padding, ceil_mode, divisor_override, grad_out=None):
    """avg_pool2d's checked (kernel, stride, padding, divisor_override); grad_out's shape too if given."""
    kernel, stride, padding, _, ho, wo = pool_geometry(op, shape, kernel_size, stride, padding, 1, ceil_mode)
    if grad_out is not None:
        check_grad_out(op, grad_out, shape[:2] + (ho, wo))
    return kernel, stride, padding, divisor(op, divisor_override)


# ---------------------------------------------------------------------------
# Matrix multiply
# ---------------------------------------------------------------------------

def matmul(a, b, bias=None):
    """a (M, K) @ b (K, N) (+ bias (N,) on every row) -> (M, N)."""
    # fast path first: this runs for every linear layer, forward and backward
    if type(a) is _ndarray and type(b) is _ndarray and a.ndim == 2 and b.ndim == 2 \
            and a.dtype == b.dtype and (a.dtype == F32 or a.dtype == F64) and a.shape[1] == b.shape[0] \
            and (bias is None or (type(bias) is _ndarray and bias.dtype == a.dtype and bias.shape == (b.shape[1],))):
        return _mm.matmul(a, b, bias)
    op = "matmul"
    a = float_array(op, "a", a, 2)
    b = float_array(op, "b", b, 2)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} cannot be multiplied "
                         f"({a.shape[1]} != {b.shape[0]})")
    arrays = (a, b)
    if bias is not None:
        bias = float_array(op, "bias", bias, 1)
        if bias.shape != (b.shape[1],):
            raise ValueError(f"{op}: bias must have shape ({b.shape[1]},) for a product with {b.shape[1]} "
                             f"columns, got {bias.shape}")
        arrays += (bias,)
    out_dtype = np.result_type(*arrays)
    dt = compute_dtype(*arrays)
    a, b = a.astype(dt, copy=False), b.astype(dt, copy=False)
    bias = None if bias is None else bias.astype(dt, copy=False)
    return cast(_mm.matmul(a, b, bias), out_dtype)


# ---------------------------------------------------------------------------
# ReLU
# ---------------------------------------------------------------------------

def relu_forward(x):
    """max(x, 0) elementwise."""
    if type(x) is _ndarray and (x.dtype == F32 or x.dtype == F64) and x.flags.c_contiguous:
        return _act.relu_forward(x)        # the common case, checked in one line
    x = float_array("relu_forward", "x", x)
    return cast(_act.relu_forward(ready(x, compute_dtype(x))), x.dtype)


def relu_backward(grad_out, out):
    """grad_out where the forward output ``out`` is positive (or NaN), 0 elsewhere."""
    if type(grad_out) is _ndarray and type(out) is _ndarray and grad_out.dtype == out.dtype \
            and (out.dtype == F32 or out.dtype == F64) and grad_out.shape == out.shape \
            and grad_out.flags.c_contiguous and out.flags.c_contiguous:
        return _act.relu_backward(grad_out, out)
    op = "relu_backward"
    grad_out, out = float_array(op, "grad_out", grad_out), float_array(op, "out", out)
    if grad_out.shape != out.shape:
        raise ValueError(f"{op}: grad_out shape {grad_out.shape} differs from out shape {out.shape}")
    dt = compute_dtype(grad_out, out)
    return cast(_act.relu_backward(ready(grad_out, dt), ready(out, dt)), grad_out.dtype)



# ---------------------------------------------------------------------------
# Optimizer updates
# ---------------------------------------------------------------------------

def _in_place_ready(param, *others):
    """Whether the compiled update takes these arrays as they are: ndarrays of one float32 or
    float64 dtype and one shape, all C-contiguous (the others may be None)."""
    if type(param) is not _ndarray or not param.flags.c_contiguous:
        return False
    dt, shape = param.dtype, param.shape
    if dt != F32 and dt != F64:
        return False
    for a in others:
        if a is not None and (type(a) is not _ndarray or a.dtype != dt or a.shape != shape
                              or not a.flags.c_contiguous):
            return False
    return True


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
              weight_decay=0.0, decoupled=False, maximize=False):
    """One Adam (AdamW when ``decoupled``) step of ``param`` and its state, in place; ``step``
    counts from 1, ``max_exp_avg_sq`` is None unless amsgrad.  Arrays the compiled kernel does
    not take (another layout or dtype) are updated by the NumPy twin, which takes any."""
    kernel = _opt if _in_place_ready(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq) else _TWINS["optim"]
    kernel.adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                     weight_decay, decoupled, maximize)


def sgd_step(param, grad, momentum_buffer, lr, momentum=0.0, dampening=0.0, nesterov=False,
             weight_decay=0.0, maximize=False, first=False):
    """One SGD step of ``param``, in place; ``momentum_buffer`` None without momentum, and
    ``first=True`` sets it to the gradient (the first step).  Other layouts or dtypes: the
    NumPy twin."""
    kernel = _opt if _in_place_ready(param, grad, momentum_buffer) else _TWINS["optim"]
    kernel.sgd_step(param, grad, momentum_buffer, lr, momentum, dampening, nesterov, weight_decay,
                    maximize, first)


# ---------------------------------------------------------------------------
# Recurrent layers (one layer, one direction, a whole sequence: kernels/rnn.py)
# ---------------------------------------------------------------------------

def _recurrent(op, gates, x_proj, h0, w_hh, b_hh, c0=None):
    """The checked (x_proj, h0, c0, w_hh, b_hh) of a forward in one float dtype; b_hh zeros when None."""
    x_proj, h0 = float_array(op, "x_proj", x_proj, 3), float_array(op, "h0", h0, 2)
    w_hh = float_array(op, "w_hh", w_hh, 2)
    T, N, GH = x_proj.shape
    H = h0.shape[1]
    if T < 1 or N < 1 or H < 1 or GH != gates * H or h0.shape[0] != N or w_hh.shape != (gates * H, H):
        raise ValueError(f"{op}: expected x_proj (T, N, {gates}*H), h0 (N, H), w_hh ({gates}*H, H) with T, N, "
                         f"H >= 1; got x_proj {x_proj.shape}, h0 {h0.shape}, w_hh {w_hh.shape}")
    b_hh = np.zeros(GH, w_hh.dtype) if b_hh is None else float_array(op, "b_hh", b_hh, 1)
    if b_hh.shape != (GH,):
        raise ValueError(f"{op}: b_hh has shape {b_hh.shape}, expected ({GH},)")
    if c0 is not None:
        c0 = float_array(op, "c0", c0, 2)
        if c0.shape != h0.shape:
            raise ValueError(f"{op}: c0 has shape {c0.shape}, expected h0's {h0.shape}")
    dt = compute_dtype(x_proj, h0, w_hh, b_hh, c0)
    return x_proj.dtype, (ready(x_proj, dt), ready(h0, dt), ready(c0, dt), ready(w_hh, dt), ready(b_hh, dt))


def _recurrent_grads(op, out, h0, grad_out, grad_hn, *others):
    """(dtype, out, h0, grad_out, grad_hn, *others) checked and ready; a missing gradient becomes zeros."""
    out, h0 = float_array(op, "out", out, 3), float_array(op, "h0", h0, 2)
    if out.shape[1:] != h0.shape or out.shape[0] < 1:
        raise ValueError(f"{op}: out {out.shape} and h0 {h0.shape} do not match (T, N, H) and (N, H)")
    others = tuple(float_array(op, "saved", a) for a in others)
    dt = compute_dtype(out, h0)
    grad_out = np.zeros(out.shape, dt) if grad_out is None else float_array(op, "grad_out", grad_out, 3)
    grad_hn = np.zeros(h0.shape, dt) if grad_hn is None else float_array(op, "grad_hn", grad_hn, 2)
    if grad_out.shape != out.shape or grad_hn.shape != h0.shape:
        raise ValueError(f"{op}: grad_out {grad_out.shape} / grad_hn {grad_hn.shape} differ from out {out.shape} "
                         f"/ h0 {h0.shape}")
    return (out.dtype,) + tuple(ready(a, dt) for a in (out, h0, grad_out, grad_hn) + others)


def lstm_forward(x_proj, h0, c0, w_hh, b_hh=None, reverse=False):
    """(out, cells, gates) of an LSTM layer over x_proj (T, N, 4H) from (h0, c0)."""
    dt, (x_proj, h0, c0, w_hh, b_hh) = _recurrent("lstm_forward", 4, x_proj, h0, w_hh, b_hh, c0)
    return tuple(cast(a, dt) for a in _rnn.lstm_forward(x_proj, h0, c0, w_hh, b_hh, bool(reverse)))


def lstm_backward(grad_out, grad_hn, grad_cn, h0, c0, w_hh, out, cells, gates, reverse=False):
    """(grad_x_proj, grad_h0, grad_c0, grad_w_hh, grad_b_hh); None gradients count as zeros."""
    op = "lstm_backward"
    grad_cn = np.zeros(np.shape(h0), np.asarray(out).dtype) if grad_cn is None else grad_cn
    dt, out, h0, grad_out, grad_hn, grad_cn, c0, w_hh, cells, gates = _recurrent_grads(
        op, out, h0, grad_out, grad_hn, grad_cn, c0, w_hh, cells, gates)
    return tuple(cast(a, dt) for a in _rnn.lstm_backward(grad_out, grad_hn, grad_cn, h0, c0, w_hh, out, cells,
                                                        gates, bool(reverse)))


def gru_forward(x_proj, h0, w_hh, b_hh=None, reverse=False):
    """(out, gates) of a GRU layer over x_proj (T, N, 3H) from h0."""
    dt, (x_proj, h0, _, w_hh, b_hh) = _recurrent("gru_forward", 3, x_proj, h0, w_hh, b_hh)
    return tuple(cast(a, dt) for a in _rnn.gru_forward(x_proj, h0, w_hh, b_hh, bool(reverse)))


def gru_backward(grad_out, grad_hn, h0, w_hh, out, gates, reverse=False):
    """(grad_x_proj, grad_h0, grad_w_hh, grad_b_hh); None gradients count as zeros."""
    dt, out, h0, grad_out, grad_hn, w_hh, gates = _recurrent_grads("gru_backward", out, h0, grad_out, grad_hn,
                                                                   w_hh, gates)
    return tuple(cast(a, dt) for a in _rnn.gru_backward(grad_out, grad_hn, h0, w_hh, out, gates, bool(reverse)))


def rnn_forward(x_proj, h0, w_hh, b_hh=None, relu=False, reverse=False):
    """out of an Elman layer (tanh, or relu) over x_proj (T, N, H) from h0."""
    dt, (x_proj, h0, _, w_hh, b_hh) = _recurrent("rnn_forward", 1, x_proj, h0, w_hh, b_hh)
    return cast(_rnn.rnn_forward(x_proj, h0, w_hh, b_hh, bool(relu), bool(reverse)), dt)


def rnn_backward(grad_out, grad_hn, h0, w_hh, out, relu=False, reverse=False):
    """(grad_x_proj, grad_h0, grad_w_hh, grad_b_hh); None gradients count as zeros."""
    dt, out, h0, grad_out, grad_hn, w_hh = _recurrent_grads("rnn_backward", out, h0, grad_out, grad_hn, w_hh)
    return tuple(cast(a, dt) for a in _rnn.rnn_backward(grad_out, grad_hn, h0, w_hh, out, bool(relu),
                                                       bool(reverse)))


# ---------------------------------------------------------------------------
# Normalization and softmax
# ---------------------------------------------------------------------------

def _floats(op, named, ndims, shapes):
    """The arrays of ``named`` ((name, array or None), ...) checked (ndim, shape when not None) and brought to
    one contiguous compute dtype; also returns the dtype results go back to (the first array's)."""
    arrays = [None if a is None else float_array(op, name, a, nd) for (name, a), nd in zip(named, ndims)]
    for (name, _), a, shape in zip(named, arrays, shapes):
        if a is not None and shape is not None and tuple(a.shape) != tuple(shape):
            raise ValueError(f"{op}: {name} has shape {tuple(a.shape)}, expected {tuple(shape)} "
                             f"({named[0][0]} has shape {tuple(arrays[0].shape)})")
    dt = compute_dtype(*arrays)
    return [ready(a, dt) for a in arrays], arrays[0].dtype


def _cast_all(results, dt):
    return tuple(cast(r, dt) for r in results)


def layer_norm_forward(x, weight, bias, eps):
    """Each row of x (M, N) standardized, * weight (N,) + bias (N,): (y, mean (M,), rstd (M,))."""
    x = float_array("layer_norm_forward", "x", x, 2)
    n = (x.shape[1],)
    (x_, w, b), dt = _floats("layer_norm_forward", (("x", x), ("weight", weight), ("bias", bias)),
                             (2, 1, 1), (None, n, n))
    return _cast_all(_norm.layer_norm_forward(x_, w, b, float(eps)), dt)


def layer_norm_backward(grad_out, x, mean, rstd, weight, need_input=True, need_weight=True, need_bias=True):
    """(grad_x, grad_weight, grad_bias) of layer_norm_forward; None for what is not needed."""
    op = "layer_norm_backward"
    x = float_array(op, "x", x, 2)
    m, n = x.shape
    (g, x_, mu, rs, w), dt = _floats(op, (("grad_out", grad_out), ("x", x), ("mean", mean), ("rstd", rstd),
                                          ("weight", weight)), (2, 2, 1, 1, 1), ((m, n), None, (m,), (m,), (n,)))
    return _cast_all(_norm.layer_norm_backward(g, x_, mu, rs, w, bool(need_input), bool(need_weight),
                                               bool(need_bias)), dt)


def batch_norm_forward(x, weight, bias, eps):
    """Each channel of x (N, C, S) standardized over N and S, * weight (C,) + bias (C,):
    (y, mean (C,), var (C,) biased, rstd (C,))."""
    x = float_array("batch_norm_forward", "x", x, 3)
    c = (x.shape[1],)
    (x_, w, b), dt = _floats("batch_norm_forward", (("x", x), ("weight", weight), ("bias", bias)),
                             (3, 1, 1), (None, c, c))
    return _cast_all(_norm.batch_norm_forward(x_, w, b, float(eps)), dt)


def batch_norm_backward(grad_out, x, mean, rstd, weight, need_input=True, need_weight=True, need_bias=True):
    """(grad_x, grad_weight, grad_bias) of batch_norm_forward in training mode; None for what is not needed."""
    op = "batch_norm_backward"
    x = float_array(op, "x", x, 3)
    c = (x.shape[1],)
    (g, x_, mu, rs, w), dt = _floats(op, (("grad_out", grad_out), ("x", x), ("mean", mean), ("rstd", rstd),
                                          ("weight", weight)), (3, 3, 1, 1, 1), (x.shape, None, c, c, c))
    return _cast_all(_norm.batch_norm_backward(g, x_, mu, rs, w, bool(need_input), bool(need_weight),
                                               bool(need_bias)), dt)


def _rowwise(op, fn, a, b=None, *extra):
    """fn over the last axis of a (and b, of a's shape), in a's dtype."""
    if type(a) is _ndarray and (a.dtype == F32 or a.dtype == F64) and a.flags.c_contiguous and a.ndim >= 1 \
            and (b is None or (type(b) is _ndarray and b.dtype == a.dtype and b.shape == a.shape
                               and b.flags.c_contiguous)):
        return fn(a, *extra) if b is None else fn(a, b, *extra)     # the common case, checked at once
    a = float_array(op, "x" if b is None else "grad_out", a)
    if a.ndim < 1:
        raise ValueError(f"{op}: expected at least 1 dimension, got a 0-d array")
    named = (("x", a),) if b is None else (("grad_out", a), ("out", b))
    arrays, dt = _floats(op, named, (None,) * len(named), (None, a.shape))
    return cast(fn(*arrays, *extra), dt)


def softmax_forward(x):
    """exp(x - max) / sum(exp(x - max)) over the last axis."""
    return _rowwise("softmax_forward", _softmax.softmax_forward, x)


def softmax_backward(grad_out, out):
    """out * (grad_out - sum(grad_out * out)) over the last axis (out: the forward's result)."""
    return _rowwise("softmax_backward", _softmax.softmax_backward, grad_out, out)


def log_softmax_forward(x):
    """(x - max) - log(sum(exp(x - max))) over the last axis."""
    return _rowwise("log_softmax_forward", _softmax.log_softmax_forward, x)


def log_softmax_backward(grad_out, out):
    """grad_out - exp(out) * sum(grad_out) over the last axis (out: the forward's result)."""
    return _rowwise("log_softmax_backward", _softmax.log_softmax_backward, grad_out, out)


def attention_softmax_forward(scores, scale, causal=False, mask=None):
    """softmax(scores * scale + mask) over the last axis of scores (..., L, S); ``causal``: query i sees keys
    0..i only; ``mask``: an additive (L, S) mask or None.  A row with no key left gives weights 0."""
    op = "attention_softmax_forward"
    scores = float_array(op, "scores", scores)
    if scores.ndim < 2:
        raise ValueError(f"{op}: scores must be at least 2-D (..., L, S), got shape {scores.shape}")
    (s, m), dt = _floats(op, (("scores", scores), ("mask", mask)), (None, 2), (None, scores.shape[-2:]))
    return cast(_softmax.attention_softmax_forward(s, float(scale), bool(causal), m), dt)


def attention_softmax_backward(grad_out, out, scale):
    """Gradient of the raw scores of attention_softmax_forward: scale * out * (grad_out - sum(grad_out * out))."""
    return _rowwise("attention_softmax_backward", _softmax.attention_softmax_backward, grad_out, out, float(scale))


# ---------------------------------------------------------------------------
# Dropout (the mask drawn from a 64-bit seed: kernels/dropout.py)
# ---------------------------------------------------------------------------

def _dropout(op, name, a, p, seed):
    if type(a) is not _ndarray or not ((a.dtype == F32 or a.dtype == F64) and a.flags.c_contiguous):
        a = float_array(op, name, a)
        dt = a.dtype
        return cast(_dropout(op, name, ready(a, compute_dtype(a)), p, seed), dt)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: p must be in [0, 1], got {p}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2 ** 64:
        raise ValueError(f"{op}: seed must be an int in [0, 2**64), got {seed!r}")
    return _drop.dropout_forward(a, p, seed) if op == "dropout_forward" else _drop.dropout_backward(a, p, seed)


def dropout_forward(x, p, seed):
    """x * mask: element i kept (scaled by 1 / (1 - p)) when its hash of (seed, i) clears p, else times 0."""
    return _dropout("dropout_forward", "x", x, p, seed)


def dropout_backward(grad_out, p, seed):
    """grad_out * mask, the forward's mask for the same p and seed (drawn again, not stored)."""
    return _dropout("dropout_backward", "grad_out", grad_out, p, seed)


# ---------------------------------------------------------------------------
# Embedding backward
# ---------------------------------------------------------------------------

def embedding_backward(grad_out, indices, num_rows):
    """(num_rows, D) zeros with grad_out[t] (of (T, D)) added into row indices[t] (of (T,)), in the order of t."""
    op = "embedding_backward"
    g = float_array(op, "grad_out", grad_out, 2)
    idx = indices if type(indices) is _ndarray else np.asarray(indices)
    if idx.dtype.kind not in "iu" or idx.ndim != 1 or idx.shape[0] != g.shape[0]:
        raise ValueError(f"{op}: indices must be 1-D integers, one per row of grad_out {g.shape}; got "
                         f"{idx.dtype} of shape {idx.shape}")
    num_rows = operator.index(num_rows)
    if idx.size and (idx.min() < 0 or idx.max() >= num_rows):
        raise IndexError(f"{op}: indices in [{idx.min()}, {idx.max()}] are outside [0, {num_rows})")
    dt = compute_dtype(g)
    return cast(_emb.embedding_backward(ready(g, dt), ready(idx, np.dtype(np.int64)), num_rows), g.dtype)
