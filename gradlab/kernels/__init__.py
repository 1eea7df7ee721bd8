"""gradlab.kernels: the array-level kernels under gradlab's conv, pool, matmul and relu ops.

NumPy arrays in, NumPy arrays out; no Tensor, no autograd.  Each kernel exists
twice, with the same name and signature:

* a plain-NumPy twin in ``gradlab/kernels/conv.py``, ``pool.py``, ``matmul.py``,
  ``activation.py`` written to be read line by line, and
* a compiled Cython twin in ``gradlab_ext/`` (BLAS without the GIL, OpenMP
  over the batch) that computes the same thing fast.

The functions below validate their arguments, bring them to one contiguous
float dtype, and call the twin of the current backend.

Backend switch
--------------
``set_backend("cython" | "numpy")``, ``get_backend()``, the context manager
``use_backend(name)``, and the environment variable ``GRADLAB_BACKEND`` read
at import.  The default is "cython" when the extension imports, else "numpy"
(with one warning).  ``set_num_threads(n)`` / ``get_num_threads()`` set the
OpenMP team of the compiled kernels (default: OMP_NUM_THREADS or all cores);
matmul spreads its tiles over the same team (see gradlab_ext/matmul.pyx), so
BLAS's own thread pool stays out of the way.  Idle OpenMP
threads spin briefly, then sleep (see _import_compiled); on a machine shared
with other heavy jobs, OMP_WAIT_POLICY=passive may serve better.

Conventions
-----------
Images are NCHW; weights (Cout, Cin // groups, kh, kw).  ``stride``,
``padding``, ``dilation`` and ``kernel_size`` take an int or a pair
``(h, w)``; padding is symmetric.  float32 and float64 are computed as is;
float16 is computed in float32 and returned as float16; mixed float inputs are
promoted (NumPy rules) and each gradient is returned in its input's dtype.
Other dtypes raise TypeError, bad shapes and geometries ValueError, with the
op, the shapes and what was expected in the message.

API
---
conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1) -> y
    x (N, C, H, W), w (Cout, C//groups, kh, kw), b (Cout,) or None
    -> y (N, Cout, Ho, Wo),  Ho = (H + 2*ph - dh*(kh-1) - 1) // sh + 1
conv2d_backward(grad_out, x, w, stride=1, padding=0, dilation=1, groups=1,
                need_input=True, need_weight=True, need_bias=True)
    -> (grad_x, grad_w, grad_b); an entry is None when not needed, and is
    then not computed (e.g. need_input=False for a network's first layer)
conv2d_input_grad(grad_out, w, input_shape, stride=1, padding=0, dilation=1, groups=1)
    -> grad_x  (a transposed convolution of grad_out)
conv2d_weight_grad(grad_out, x, weight_shape, stride=1, padding=0, dilation=1, groups=1)
    -> grad_w
im2col(x, kernel_size, stride=1, padding=0, dilation=1) -> cols (N, C*kh*kw, Ho*Wo)
col2im(cols, input_shape, kernel_size, stride=1, padding=0, dilation=1) -> x
    (sums the entries of overlapping windows: the adjoint of im2col)
max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1,
                   ceil_mode=False, return_indices=False) -> (y, indices)
    stride None means kernel_size; indices are int64 flat positions ih*W + iw
    in the input plane (PyTorch's), computed only when return_indices is
    True and None otherwise (no bookkeeping under no_grad)
max_pool2d_backward(grad_out, indices, input_shape) -> grad_x
avg_pool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                   count_include_pad=True, divisor_override=None) -> y
avg_pool2d_backward(grad_out, input_shape, kernel_size, stride=None, padding=0,
                    ceil_mode=False, count_include_pad=True, divisor_override=None) -> grad_x
matmul(a, b) -> a @ b for 2-D a (M, K), b (K, N)
relu_forward(x) -> max(x, 0);  relu_backward(grad_out, out) -> grad_out where out > 0
    (float32/float64; NaN as PyTorch: relu(NaN) = NaN and its gradient passes)
conv2d_output_size(size, kernel, stride=1, padding=0, dilation=1) -> int
pool2d_output_size(size, kernel, stride, padding=0, dilation=1, ceil_mode=False) -> int
"""
import contextlib
import operator
import os
import warnings

import numpy as np

from .. import debug as _debug
from . import activation as _np_act
from . import conv as _np_conv
from . import matmul as _np_matmul
from . import pool as _np_pool
from .conv import conv2d_output_size
from .pool import pool2d_output_size

__all__ = [
    "set_backend", "get_backend", "use_backend", "available_backends",
    "set_num_threads", "get_num_threads",
    "conv2d_forward", "conv2d_backward", "conv2d_input_grad", "conv2d_weight_grad",
    "im2col", "col2im",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "matmul", "relu_forward", "relu_backward", "conv2d_output_size", "pool2d_output_size",
]

# ---------------------------------------------------------------------------
# Backends
# ---------------------------------------------------------------------------

def _import_compiled():
    """Import gradlab_ext, telling OpenMP how long idle threads may spin.

    The OpenMP runtime reads its wait policy once, when the first compiled
    module loads it.  GNU OpenMP's default lets an idle thread spin for
    about 300,000 iterations (milliseconds) before it sleeps: fast when the
    machine is otherwise idle, disastrous when it is busy (a spinning thread
    burns the time slice the thread it waits for needs: measured here, a
    1.3 ms kernel took 48 ms next to other jobs).  Sleeping at once
    ("passive") is robust but, measured on a 2-core VM, waking the sleeper
    costs so much that 2 threads gained little over 1.  A short spin, 3,000
    iterations (~0.1 ms), kept both: the speed of the default on an idle
    machine and the robustness of passive on a busy one.  A policy the user
    set (OMP_WAIT_POLICY or GOMP_SPINCOUNT) is left alone; the environment
    is restored once the modules are loaded.
    """
    chosen = "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ
    if not chosen:
        os.environ["GOMP_SPINCOUNT"] = "3000"
    try:
        from gradlab_ext import activation, conv, matmul, pool
    finally:
        if not chosen:
            del os.environ["GOMP_SPINCOUNT"]
    return conv, pool, matmul, activation


try:
    _cy_conv, _cy_pool, _cy_matmul, _cy_act = _import_compiled()
    _CYTHON_ERROR = None
except ImportError as exc:          # not built, or built for another Python
    _cy_conv = _cy_pool = _cy_matmul = _cy_act = None
    _CYTHON_ERROR = f"{type(exc).__name__}: {exc}"
else:
    # OpenMP workers keep off the calling thread's CPU (see gradlab_ext/_common.pxd),
    # unless the user binds the threads himself or sets GRADLAB_PIN_THREADS=0
    _pin = "OMP_PROC_BIND" not in os.environ and os.environ.get("GRADLAB_PIN_THREADS", "1") != "0"
    for _mod in (_cy_conv, _cy_pool, _cy_matmul, _cy_act):
        _mod._set_pinning(_pin)

_BACKENDS = {
    "numpy": (_np_conv, _np_pool, _np_matmul, _np_act),
    "cython": (_cy_conv, _cy_pool, _cy_matmul, _cy_act),
}
_backend = None
_conv = _pool = _mm = _act = None


def available_backends():
    """Names of the backends that can be selected here."""
    return ["cython", "numpy"] if _CYTHON_ERROR is None else ["numpy"]


def set_backend(name):
    """Choose the kernels: "cython" (compiled) or "numpy" (the readable twins)."""
    global _backend, _conv, _pool, _mm, _act
    if not isinstance(name, str) or name.lower() not in _BACKENDS:
        raise ValueError(f"set_backend: unknown backend {name!r}; expected 'cython' or 'numpy'")
    name = name.lower()
    if name == "cython" and _CYTHON_ERROR is not None:
        raise RuntimeError(
            "set_backend: the compiled kernels (gradlab_ext) are not available "
            f"({_CYTHON_ERROR}); build them with `python setup.py build_ext --inplace`")
    _backend = name
    _conv, _pool, _mm, _act = _debug.twins(name, _BACKENDS[name])   # timed while gradlab.set_debug watches


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
        for mod in (_cy_conv, _cy_pool, _cy_matmul, _cy_act):
            mod.set_num_threads(n)


def get_num_threads():
    """Threads used by the compiled kernels (1 when they are not built)."""
    return _cy_conv.get_num_threads() if _CYTHON_ERROR is None else 1


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
# Argument checking shared by both backends
# ---------------------------------------------------------------------------

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_ndarray = np.ndarray


def _pair(op, name, value, minimum):
    """An int or a pair of ints -> a tuple (h, w), each >= minimum."""
    # fast paths first: these run on every call of every kernel
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int \
            and type(value[1]) is int and value[0] >= minimum and value[1] >= minimum:
        return value
    if type(value) is int and value >= minimum:
        return (value, value)
    try:
        if isinstance(value, (bool, np.bool_)):
            raise TypeError
        if isinstance(value, (int, np.integer)):
            pair = (int(value), int(value))
        else:
            pair = tuple(operator.index(v) for v in value)
            if len(pair) == 1:
                pair = pair * 2
            if len(pair) != 2:
                raise TypeError
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}") from None
    if min(pair) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {pair}")
    return pair


def _array(op, name, a, ndim=None):
    """a as an ndarray of a floating dtype (with ndim dimensions, unless ndim is None)."""
    if type(a) is not _ndarray:
        a = np.asarray(a)
    if ndim is not None and a.ndim != ndim:
        what = " (N, C, H, W)" if ndim == 4 else ""
        raise ValueError(f"{op}: expected {name} to be {ndim}-D{what}, got shape {a.shape}")
    if a.dtype.kind != "f":
        raise TypeError(f"{op}: {name} has dtype {a.dtype}; expected a floating dtype "
                        "(float32 or float64; float16 is computed in float32)")
    return a


def _compute_dtype(a, b=None, c=None):
    """The dtype the kernels run in: NumPy promotion, float16 -> float32."""
    dt = a.dtype
    if (b is None or b.dtype == dt) and (c is None or c.dtype == dt) and (dt == _F32 or dt == _F64):
        return dt
    dt = np.result_type(*[v.dtype for v in (a, b, c) if v is not None])
    if dt != _F32 and dt != _F64:
        dt = _F32 if dt.itemsize <= 4 else _F64
    return dt


def _ready(a, dt):
    """Contiguous array of dtype dt (no copy if it already is one)."""
    if a is None or (a.dtype == dt and a.flags.c_contiguous):
        return a
    return np.ascontiguousarray(a, dtype=dt)


def _as(a, dt):
    """Cast a result back to an input's dtype (no copy if equal)."""
    if a is None or a.dtype == dt:
        return a
    return a.astype(dt)


def _shape4(op, name, shape):
    try:
        shape = tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"{op}: {name} must be a tuple of ints, got {shape!r}") from None
    if len(shape) != 4 or min(shape) < 0:
        raise ValueError(f"{op}: {name} must be 4 non-negative ints (N, C, H, W), got {shape}")
    return shape


def _conv_geometry(op, x_shape, w_shape, stride, padding, dilation, groups):
    """Check a convolution's shapes; return normalised (stride, padding, dilation, groups, Ho, Wo)."""
    stride = _pair(op, "stride", stride, 1)
    padding = _pair(op, "padding", padding, 0)
    dilation = _pair(op, "dilation", dilation, 1)
    if type(groups) is not int:
        if isinstance(groups, (bool, np.bool_)) or not isinstance(groups, (int, np.integer)):
            raise TypeError(f"{op}: groups must be an int, got {groups!r}")
        groups = int(groups)
    if groups < 1:
        raise ValueError(f"{op}: groups must be >= 1, got {groups}")
    n, c, h, w = x_shape
    cout, cg, kh, kw = w_shape
    if c % groups or cout % groups:
        raise ValueError(f"{op}: groups={groups} must divide the input channels ({c}) and the "
                         f"output channels ({cout}); input {tuple(x_shape)}, weight {tuple(w_shape)}")
    if cg * groups != c:
        raise ValueError(f"{op}: input {tuple(x_shape)} has {c} channels but weight "
                         f"{tuple(w_shape)} with groups={groups} expects {cg * groups}")
    if kh < 1 or kw < 1:
        raise ValueError(f"{op}: weight {tuple(w_shape)} has an empty kernel")
    span_h = h + 2 * padding[0] - dilation[0] * (kh - 1) - 1     # >= 0 when the kernel fits
    span_w = w + 2 * padding[1] - dilation[1] * (kw - 1) - 1
    if span_h < 0 or span_w < 0:
        raise ValueError(f"{op}: kernel {(kh, kw)} with dilation {dilation} spans "
                         f"{(dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)}, larger than "
                         f"the padded input {(h + 2 * padding[0], w + 2 * padding[1])} "
                         f"(input {tuple(x_shape)}, padding {padding})")
    return stride, padding, dilation, groups, span_h // stride[0] + 1, span_w // stride[1] + 1


def _check_grad_out(op, grad_out, expected):
    if tuple(grad_out.shape) != tuple(expected):
        raise ValueError(f"{op}: grad_out has shape {tuple(grad_out.shape)}, expected {tuple(expected)}")


# ---------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------

def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """y (N, Cout, Ho, Wo) = conv2d(x, w) + b.  See the module docstring."""
    op = "conv2d_forward"
    x = _array(op, "input", x, 4)
    w = _array(op, "weight", w, 4)
    if b is not None:
        b = _array(op, "bias", b, 1)
        if b.shape[0] != w.shape[0]:
            raise ValueError(f"{op}: bias has shape {b.shape}, expected ({w.shape[0]},) "
                             f"for weight {w.shape}")
    stride, padding, dilation, groups, _, _ = _conv_geometry(
        op, x.shape, w.shape, stride, padding, dilation, groups)
    dt = _compute_dtype(x, w, b)
    y = _conv.conv2d_forward(_ready(x, dt), _ready(w, dt), _ready(b, dt),
                             stride, padding, dilation, groups)
    return _as(y, x.dtype if x.dtype == w.dtype else np.result_type(x.dtype, w.dtype))


def conv2d_backward(grad_out, x, w, stride=1, padding=0, dilation=1, groups=1,
                    need_input=True, need_weight=True, need_bias=True):
    """(grad_x, grad_w, grad_b) of conv2d_forward; None for what is not needed."""
    op = "conv2d_backward"
    x = _array(op, "input", x, 4)
    w = _array(op, "weight", w, 4)
    grad_out = _array(op, "grad_out", grad_out, 4)
    stride, padding, dilation, groups, ho, wo = _conv_geometry(
        op, x.shape, w.shape, stride, padding, dilation, groups)
    _check_grad_out(op, grad_out, (x.shape[0], w.shape[0], ho, wo))
    need_input, need_weight, need_bias = bool(need_input), bool(need_weight), bool(need_bias)
    if not (need_input or need_weight or need_bias):
        return None, None, None
    dt = _compute_dtype(grad_out, x, w)
    gx, gw, gb = _conv.conv2d_backward(
        _ready(grad_out, dt), _ready(x, dt), _ready(w, dt), stride, padding, dilation, groups,
        need_input, need_weight, need_bias)
    return _as(gx, x.dtype), _as(gw, w.dtype), _as(gb, w.dtype)


def conv2d_input_grad(grad_out, w, input_shape, stride=1, padding=0, dilation=1, groups=1):
    """grad_x of conv2d_forward for an input of shape input_shape."""
    op = "conv2d_input_grad"
    w = _array(op, "weight", w, 4)
    grad_out = _array(op, "grad_out", grad_out, 4)
    input_shape = _shape4(op, "input_shape", input_shape)
    stride, padding, dilation, groups, ho, wo = _conv_geometry(
        op, input_shape, w.shape, stride, padding, dilation, groups)
    _check_grad_out(op, grad_out, (input_shape[0], w.shape[0], ho, wo))
    dt = _compute_dtype(grad_out, w)
    gx = _conv.conv2d_input_grad(_ready(grad_out, dt), _ready(w, dt), input_shape,
                                 stride, padding, dilation, groups)
    return _as(gx, grad_out.dtype)


def conv2d_weight_grad(grad_out, x, weight_shape, stride=1, padding=0, dilation=1, groups=1):
    """grad_w of conv2d_forward for a weight of shape weight_shape."""
    op = "conv2d_weight_grad"
    x = _array(op, "input", x, 4)
    grad_out = _array(op, "grad_out", grad_out, 4)
    weight_shape = _shape4(op, "weight_shape", weight_shape)
    stride, padding, dilation, groups, ho, wo = _conv_geometry(
        op, x.shape, weight_shape, stride, padding, dilation, groups)
    _check_grad_out(op, grad_out, (x.shape[0], weight_shape[0], ho, wo))
    dt = _compute_dtype(grad_out, x)
    gw = _conv.conv2d_weight_grad(_ready(grad_out, dt), _ready(x, dt), weight_shape,
                                  stride, padding, dilation, groups)
    return _as(gw, grad_out.dtype)


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """cols (N, C*kh*kw, Ho*Wo): every kernel-sized patch of x as a column."""
    op = "im2col"
    x = _array(op, "input", x, 4)
    kernel = _pair(op, "kernel_size", kernel_size, 1)
    stride, padding, dilation, _, _, _ = _conv_geometry(
        op, x.shape, (1, x.shape[1]) + kernel, stride, padding, dilation, 1)
    dt = _compute_dtype(x)
    return _as(_conv.im2col(_ready(x, dt), kernel, stride, padding, dilation), x.dtype)


def col2im(cols, input_shape, kernel_size, stride=1, padding=0, dilation=1):
    """x of input_shape with every column entry added back where im2col took it."""
    op = "col2im"
    cols = _array(op, "cols", cols, 3)
    input_shape = _shape4(op, "input_shape", input_shape)
    kernel = _pair(op, "kernel_size", kernel_size, 1)
    stride, padding, dilation, _, ho, wo = _conv_geometry(
        op, input_shape, (1, input_shape[1]) + kernel, stride, padding, dilation, 1)
    expected = (input_shape[0], input_shape[1] * kernel[0] * kernel[1], ho * wo)
    if tuple(cols.shape) != expected:
        raise ValueError(f"{op}: cols has shape {tuple(cols.shape)}, expected {expected} for input "
                         f"{input_shape}, kernel {kernel}, stride {stride}, padding {padding}, "
                         f"dilation {dilation}")
    dt = _compute_dtype(cols)
    return _as(_conv.col2im(_ready(cols, dt), input_shape, kernel, stride, padding, dilation),
               cols.dtype)


# ---------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------

def _pool_geometry(op, x_shape, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = _pair(op, "kernel_size", kernel_size, 1)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        stride = kernel                      # PyTorch's default: stride = kernel_size
    else:
        stride = _pair(op, "stride", stride, 1)
    padding = _pair(op, "padding", padding, 0)
    dilation = _pair(op, "dilation", dilation, 1)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} must be at most half of the kernel size {kernel}")
    n, c, h, w = x_shape
    ho = pool2d_output_size(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    wo = pool2d_output_size(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    if ho < 1 or wo < 1:
        raise ValueError(f"{op}: input {tuple(x_shape)} is too small for kernel {kernel} "
                         f"(stride {stride}, padding {padding}, dilation {dilation}): "
                         f"the output would be {ho}x{wo}")
    return kernel, stride, padding, dilation, ho, wo


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                       return_indices=False):
    """(y, indices): the max of each window; indices None unless return_indices."""
    op = "max_pool2d_forward"
    x = _array(op, "input", x, 4)
    kernel, stride, padding, dilation, _, _ = _pool_geometry(
        op, x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    dt = _compute_dtype(x)
    y, indices = _pool.max_pool2d_forward(_ready(x, dt), kernel, stride, padding, dilation,
                                          bool(ceil_mode), bool(return_indices))
    return _as(y, x.dtype), indices


def max_pool2d_backward(grad_out, indices, input_shape):
    """grad_x: every grad_out entry added at the argmax its window recorded."""
    op = "max_pool2d_backward"
    grad_out = _array(op, "grad_out", grad_out, 4)
    input_shape = _shape4(op, "input_shape", input_shape)
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices has dtype {indices.dtype}, expected int64")
    if indices.shape != grad_out.shape:
        raise ValueError(f"{op}: indices shape {indices.shape} differs from grad_out shape "
                         f"{grad_out.shape}")
    if tuple(grad_out.shape[:2]) != input_shape[:2]:
        raise ValueError(f"{op}: grad_out {grad_out.shape} and input_shape {input_shape} "
                         f"differ in batch or channels")
    dt = _compute_dtype(grad_out)
    gx = _pool.max_pool2d_backward(_ready(grad_out, dt), _ready(indices, np.dtype(np.int64)),
                                   input_shape)
    return _as(gx, grad_out.dtype)


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                       count_include_pad=True, divisor_override=None):
    """y: the mean of each window."""
    op = "avg_pool2d_forward"
    x = _array(op, "input", x, 4)
    kernel, stride, padding, _, _, _ = _pool_geometry(
        op, x.shape, kernel_size, stride, padding, 1, ceil_mode)
    divisor_override = _divisor(op, divisor_override)
    dt = _compute_dtype(x)
    y = _pool.avg_pool2d_forward(_ready(x, dt), kernel, stride, padding, bool(ceil_mode),
                                 bool(count_include_pad), divisor_override)
    return _as(y, x.dtype)


def avg_pool2d_backward(grad_out, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
    """grad_x: every grad_out entry shared evenly over its window."""
    op = "avg_pool2d_backward"
    grad_out = _array(op, "grad_out", grad_out, 4)
    input_shape = _shape4(op, "input_shape", input_shape)
    kernel, stride, padding, _, ho, wo = _pool_geometry(
        op, input_shape, kernel_size, stride, padding, 1, ceil_mode)
    _check_grad_out(op, grad_out, input_shape[:2] + (ho, wo))
    divisor_override = _divisor(op, divisor_override)
    dt = _compute_dtype(grad_out)
    gx = _pool.avg_pool2d_backward(_ready(grad_out, dt), input_shape, kernel, stride, padding,
                                   bool(ceil_mode), bool(count_include_pad), divisor_override)
    return _as(gx, grad_out.dtype)


def _divisor(op, divisor_override):
    if divisor_override is None:
        return None
    if isinstance(divisor_override, (bool, np.bool_)) or \
            not isinstance(divisor_override, (int, np.integer)):
        raise TypeError(f"{op}: divisor_override must be an int or None, got {divisor_override!r}")
    if divisor_override == 0:
        raise ValueError(f"{op}: divisor_override must be non-zero")
    return int(divisor_override)


# ---------------------------------------------------------------------------
# Matrix multiply
# ---------------------------------------------------------------------------

def matmul(a, b):
    """a (M, K) @ b (K, N) -> (M, N)."""
    # fast path first: this runs for every linear layer, forward and backward
    if type(a) is _ndarray and type(b) is _ndarray and a.ndim == 2 and b.ndim == 2 \
            and a.dtype == b.dtype and (a.dtype == _F32 or a.dtype == _F64) and a.shape[1] == b.shape[0]:
        return _mm.matmul(a, b)
    op = "matmul"
    a = _array(op, "a", a, 2)
    b = _array(op, "b", b, 2)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} cannot be multiplied "
                         f"({a.shape[1]} != {b.shape[0]})")
    out_dtype = np.result_type(a.dtype, b.dtype)
    dt = _compute_dtype(a, b)
    if a.dtype != dt:
        a = a.astype(dt)
    if b.dtype != dt:
        b = b.astype(dt)
    return _as(_mm.matmul(a, b), out_dtype)


# ---------------------------------------------------------------------------
# ReLU
# ---------------------------------------------------------------------------

def relu_forward(x):
    """max(x, 0) elementwise."""
    if type(x) is _ndarray and (x.dtype == _F32 or x.dtype == _F64) and x.flags.c_contiguous:
        return _act.relu_forward(x)        # the common case, checked in one line
    x = _array("relu_forward", "x", x)
    return _as(_act.relu_forward(_ready(x, _compute_dtype(x))), x.dtype)


def relu_backward(grad_out, out):
    """grad_out where the forward output ``out`` is positive (or NaN), 0 elsewhere."""
    if type(grad_out) is _ndarray and type(out) is _ndarray and grad_out.dtype == out.dtype \
            and (out.dtype == _F32 or out.dtype == _F64) and grad_out.shape == out.shape \
            and grad_out.flags.c_contiguous and out.flags.c_contiguous:
        return _act.relu_backward(grad_out, out)
    op = "relu_backward"
    grad_out, out = _array(op, "grad_out", grad_out), _array(op, "out", out)
    if grad_out.shape != out.shape:
        raise ValueError(f"{op}: grad_out shape {grad_out.shape} differs from out shape {out.shape}")
    dt = _compute_dtype(grad_out, out)
    return _as(_act.relu_backward(_ready(grad_out, dt), _ready(out, dt)), grad_out.dtype)

