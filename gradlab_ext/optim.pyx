# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
# distutils: extra_compile_args = -fno-math-errno -ffp-contract=off
"""Compiled optimizer updates: the fast twins of ``gradlab/kernels/optim.py``.

One pass over a parameter and its state buffers, element by element, in
place: NumPy needs a pass (and often a temporary) per operation of the
formula, about ten for an Adam step.  Big tensors are cut into one
contiguous range per OpenMP thread.

Every operation rounds to the arrays' dtype in the twin's order, with the
scalars rounded to that dtype as NumPy rounds a Python float, so the two
twins give the same bits, and so do 1 and 2 threads (each element is
computed alone).  NaN follows NumPy: ``maximum`` keeps a NaN from either side.

Compiled without errno for math functions (a NaN square root need not be
reported), so that GCC uses the vector square root instruction, and without
fused multiply-adds, which would round differently from the twin.
"""
cimport numpy as cnp
import numpy as np
from cython.parallel cimport prange, parallel, threadid
from libc.math cimport sqrt, sqrtf

from gradlab_ext._common cimport real, gl_omp_max_threads, gl_have_openmp, gl_pin_init, gl_master_cpu, gl_place

cnp.import_array()

ctypedef Py_ssize_t idx_t

include "_threads.pxi"
include "_checks.pxi"

__all__ = ["adam_step", "sgd_step"]

# below this many elements one thread updates the whole tensor (waking a second costs more)
cdef idx_t _PARALLEL_MIN_ELEMS = 1 << 15
# elements per chunk: the chunk's scratch (two arrays on the stack) stays in the L1 cache
cdef enum:
    _CHUNK = 512


def _tune(parallel_min_elems=None):
    """Set the size from which a tensor is split over the threads (for tests and benchmarks);
    returns the old value."""
    global _PARALLEL_MIN_ELEMS
    old = dict(parallel_min_elems=_PARALLEL_MIN_ELEMS)
    if parallel_min_elems is not None:
        _PARALLEL_MIN_ELEMS = max(0, parallel_min_elems)
    return old


cdef struct AdamArgs:
    # the scalars of one step, in double; each is rounded to the arrays' dtype where used
    double wd                 # L2 weight decay added to the gradient (0 when decoupled)
    double shrink             # 1 - lr * weight_decay (decoupled), else 1
    double w, w_rest          # lerp weight 1 - beta1, and 1 - that weight
    double beta2, one_minus_beta2, bc2_sqrt, eps, neg_step_size
    bint use_wd, use_shrink, low_weight, maximize, amsgrad


cdef inline void _adam_chunk(real* p, const real* grad, real* m, real* v, real* vmax,
                             const AdamArgs* a, idx_t n) noexcept nogil:
    """The step of n <= _CHUNK elements: one simple loop per part of the formula, each
    over arrays that stay in the L1 cache, so that the compiler vectorises every loop."""
    cdef real g[_CHUNK]
    cdef real s[_CHUNK]
    cdef idx_t i
    cdef real d, x, wd = <real>a.wd, shrink = <real>a.shrink, w = <real>a.w, w_rest = <real>a.w_rest
    cdef real beta2 = <real>a.beta2, omb2 = <real>a.one_minus_beta2, bc2 = <real>a.bc2_sqrt
    cdef real eps = <real>a.eps, nss = <real>a.neg_step_size
    if a.maximize:
        for i in range(n):
            g[i] = -grad[i]
    else:
        for i in range(n):
            g[i] = grad[i]
    if a.use_wd:                          # L2: through the gradient
        for i in range(n):
            g[i] = g[i] + wd * p[i]
    if a.use_shrink:                      # decoupled (AdamW): the parameter itself
        for i in range(n):
            p[i] = p[i] * shrink
    if a.low_weight:                      # lerp_, as in the twin
        for i in range(n):
            m[i] = m[i] + (g[i] - m[i]) * w
    else:
        for i in range(n):
            d = g[i] - m[i]
            m[i] = g[i] - d * w_rest
    for i in range(n):
        s[i] = v[i] * beta2 + (g[i] * g[i]) * omb2
        v[i] = s[i]
    if a.amsgrad:
        for i in range(n):
            x = vmax[i]                   # NumPy's maximum: a NaN on either side wins
            x = s[i] if (s[i] > x or s[i] != s[i]) else x
            vmax[i] = x
            s[i] = x
    for i in range(n):
        if real is float:
            x = sqrtf(s[i])               # float32's own square root: sqrt would round twice
        else:
            x = sqrt(s[i])
        p[i] = p[i] + (m[i] / (x / bc2 + eps)) * nss


cdef inline void _adam_range(real* p, const real* grad, real* m, real* v, real* vmax,
                             const AdamArgs* a, idx_t lo, idx_t hi) noexcept nogil:
    cdef idx_t i = lo
    while i < hi:
        _adam_chunk(p + i, grad + i, m + i, v + i, vmax + i if vmax != NULL else NULL, a,
                    min(<idx_t>_CHUNK, hi - i))
        i += _CHUNK


cdef void _adam_run(real* p, const real* grad, real* m, real* v, real* vmax,
                    const AdamArgs* a, idx_t n) noexcept nogil:
    cdef int nt = _num_threads if n >= _PARALLEL_MIN_ELEMS else 1
    cdef int master, t
    if nt == 1:
        _adam_range(p, grad, m, v, vmax, a, 0, n)
        return
    master = gl_master_cpu()
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        for t in prange(nt, schedule='static', chunksize=1):
            _adam_range(p, grad, m, v, vmax, a, n * t // nt, n * (t + 1) // nt)


cdef struct SgdArgs:
    double wd, momentum, keep, lr   # keep: 1 - dampening
    bint use_wd, has_buffer, first, nesterov, damp, maximize


cdef inline void _sgd_chunk(real* p, const real* grad, real* b, const SgdArgs* a,
                            idx_t n) noexcept nogil:
    """The step of n <= _CHUNK elements, a simple loop per part (see _adam_chunk)."""
    cdef real g[_CHUNK]
    cdef idx_t i
    cdef real wd = <real>a.wd, mom = <real>a.momentum, keep = <real>a.keep, lr = <real>a.lr
    if a.maximize:
        for i in range(n):
            g[i] = -grad[i]
    else:
        for i in range(n):
            g[i] = grad[i]
    if a.use_wd:
        for i in range(n):
            g[i] = g[i] + wd * p[i]
    if a.has_buffer:
        if a.first:
            for i in range(n):
                b[i] = g[i]
        elif a.damp:
            for i in range(n):
                b[i] = b[i] * mom + keep * g[i]
        else:
            for i in range(n):
                b[i] = b[i] * mom + g[i]
        if a.nesterov:
            for i in range(n):
                g[i] = g[i] + mom * b[i]
        else:
            for i in range(n):
                g[i] = b[i]
    for i in range(n):
        p[i] = p[i] - lr * g[i]


cdef inline void _sgd_range(real* p, const real* grad, real* b, const SgdArgs* a,
                            idx_t lo, idx_t hi) noexcept nogil:
    cdef idx_t i = lo
    while i < hi:
        _sgd_chunk(p + i, grad + i, b + i if b != NULL else NULL, a, min(<idx_t>_CHUNK, hi - i))
        i += _CHUNK


cdef void _sgd_run(real* p, const real* grad, real* b, const SgdArgs* a, idx_t n) noexcept nogil:
    cdef int nt = _num_threads if n >= _PARALLEL_MIN_ELEMS else 1
    cdef int master, t
    if nt == 1:
        _sgd_range(p, grad, b, a, 0, n)
        return
    master = gl_master_cpu()
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        for t in prange(nt, schedule='static', chunksize=1):
            _sgd_range(p, grad, b, a, n * t // nt, n * (t + 1) // nt)


cdef object _param(str op, object param):
    param = _checked(op, "param", param, None, None)
    if not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>param):
        raise ValueError(f"{op}: param is read-only; it is updated in place")
    return param


cdef object _state(str op, str name, object a, object param):
    """a, if it can be updated in place beside param: writeable, param's dtype, shape and layout."""
    a = _checked(op, name, a, param.dtype, tuple(param.shape))
    if not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>a):
        raise ValueError(f"{op}: {name} is read-only; it is updated in place")
    return a


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
              weight_decay, decoupled, maximize):
    """One Adam (AdamW when decoupled) step of param, in place: see the NumPy twin."""
    op = "adam_step"
    param = _param(op, param)
    grad = _checked(op, "grad", grad, param.dtype, tuple(param.shape))
    exp_avg = _state(op, "exp_avg", exp_avg, param)
    exp_avg_sq = _state(op, "exp_avg_sq", exp_avg_sq, param)
    cdef bint amsgrad = max_exp_avg_sq is not None
    if amsgrad:
        max_exp_avg_sq = _state(op, "max_exp_avg_sq", max_exp_avg_sq, param)
    cdef AdamArgs a
    # the scalars as the twin computes them: Python floats, rounded to the dtype where used
    lr, beta1, beta2, eps, weight_decay = float(lr), float(beta1), float(beta2), float(eps), float(weight_decay)
    a.maximize = bool(maximize)
    a.use_wd = weight_decay != 0 and not decoupled
    a.use_shrink = weight_decay != 0 and bool(decoupled)
    a.wd = weight_decay
    a.shrink = 1 - lr * weight_decay
    w = 1 - beta1
    a.w, a.w_rest, a.low_weight = w, 1 - w, w < 0.5
    a.beta2, a.one_minus_beta2 = beta2, 1 - beta2
    a.amsgrad = amsgrad
    a.bc2_sqrt = (1 - beta2 ** step) ** 0.5
    a.eps = eps
    a.neg_step_size = -(lr / (1 - beta1 ** step))
    cdef idx_t n = param.size
    cdef void* pp = cnp.PyArray_DATA(<cnp.ndarray>param)
    cdef void* gp = cnp.PyArray_DATA(<cnp.ndarray>grad)
    cdef void* mp = cnp.PyArray_DATA(<cnp.ndarray>exp_avg)
    cdef void* vp = cnp.PyArray_DATA(<cnp.ndarray>exp_avg_sq)
    cdef void* xp = cnp.PyArray_DATA(<cnp.ndarray>max_exp_avg_sq) if amsgrad else NULL
    cdef bint f32 = param.dtype == np.float32
    with nogil:
        if f32:
            _adam_run(<float*>pp, <float*>gp, <float*>mp, <float*>vp, <float*>xp, &a, n)
        else:
            _adam_run(<double*>pp, <double*>gp, <double*>mp, <double*>vp, <double*>xp, &a, n)


def sgd_step(param, grad, momentum_buffer, lr, momentum, dampening, nesterov, weight_decay, maximize,
             first):
    """One SGD step of param, in place; momentum_buffer None for plain SGD: see the NumPy twin."""
    op = "sgd_step"
    param = _param(op, param)
    grad = _checked(op, "grad", grad, param.dtype, tuple(param.shape))
    cdef SgdArgs a
    a.has_buffer = momentum_buffer is not None
    if a.has_buffer:
        momentum_buffer = _state(op, "momentum_buffer", momentum_buffer, param)
    weight_decay, dampening = float(weight_decay), float(dampening)
    a.maximize = bool(maximize)
    a.use_wd, a.wd = weight_decay != 0, weight_decay
    a.momentum, a.lr = float(momentum), float(lr)
    a.damp, a.keep = dampening != 0, 1 - dampening
    a.first, a.nesterov = bool(first), bool(nesterov)
    cdef idx_t n = param.size
    cdef void* pp = cnp.PyArray_DATA(<cnp.ndarray>param)
    cdef void* gp = cnp.PyArray_DATA(<cnp.ndarray>grad)
    cdef void* bp = cnp.PyArray_DATA(<cnp.ndarray>momentum_buffer) if a.has_buffer else NULL
    cdef bint f32 = param.dtype == np.float32
    with nogil:
        if f32:
            _sgd_run(<float*>pp, <float*>gp, <float*>bp, &a, n)
        else:
            _sgd_run(<double*>pp, <double*>gp, <double*>bp, &a, n)
