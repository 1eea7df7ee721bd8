# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Compiled softmax and log-softmax over the last axis, and attention's masked softmax, with their backwards:
the fast twins of ``gradlab/kernels/softmax.py``.

One row at a time, in cache: the row's max, then exp(x - max) and its sum
(16 partial sums in a fixed order, vectorisable, added up in float64), then
the scaling.  NumPy
makes a temporary and a full pass over memory for each of these steps.

Attention's softmax takes the raw scores Q K^T and does the rest of what lies
between the two matmuls in the same pass: the scale, the causal mask (query i
sees keys 0..i: the keys after it are neither exponentiated nor read) or an
additive mask, and rows with no key to attend to give weights 0 (as
``scaled_dot_product_attention``), not NaN.  Its backward is softmax's
times the scale.

Rows are split over the OpenMP team in contiguous ranges; each row is
computed by one thread, so the results are the same bits for any number of
threads.
"""
cimport numpy as cnp
import numpy as np
from cython.parallel cimport prange, parallel, threadid
from libc.math cimport exp, log, INFINITY

from gradlab_ext._common cimport (real, vsum64, gl_omp_max_threads, gl_have_openmp, gl_pin_init, gl_master_cpu,
                                  gl_place)

cnp.import_array()

ctypedef Py_ssize_t idx_t

include "_threads.pxi"
include "_checks.pxi"

__all__ = ["softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward",
           "attention_softmax_forward", "attention_softmax_backward"]

# below this many elements one thread does the whole job (waking a second costs more)
cdef idx_t _PARALLEL_MIN_ELEMS = 1 << 15

# what a job does to each row
cdef enum Kind:
    SOFTMAX, LOG_SOFTMAX, ATTENTION, SOFTMAX_GRAD, LOG_SOFTMAX_GRAD


cdef struct Job:
    Kind kind
    const void* a          # x, or grad_out for a backward
    const void* b          # out, for a backward
    const void* mask       # attention: an additive (L, S) mask, or NULL
    void* dst
    idx_t n                # row length
    idx_t rows_per_matrix  # attention: L (the row's query index is row % L)
    bint causal
    double scale


cdef extern from *:
    """
    #include <string.h>
    #include <math.h>
    #include "_expf.h"

    /* max(x[:n]) for float32, vectorisable: floats compared as integers
       (sign-magnitude bits turned into two's complement order), 16 partial
       maxima.  -inf for n = 0.  A NaN may or may not win; either way it
       reaches the row's sum and makes the row NaN, as it should. */
    static inline int gl_order(int b) { return b ^ ((b >> 31) & 0x7fffffff); }
    static float gl_maxf(const float* x, Py_ssize_t n) {
        int p[16], b, k;
        Py_ssize_t i = 0;
        float out = -INFINITY;
        memcpy(&b, &out, sizeof(b));
        for (k = 0; k < 16; k++) p[k] = gl_order(b);
        for (; i + 16 <= n; i += 16)
            for (k = 0; k < 16; k++) {
                memcpy(&b, x + i + k, sizeof(b));
                b = gl_order(b);
                p[k] = b > p[k] ? b : p[k];
            }
        for (; i < n; i++) {
            memcpy(&b, x + i, sizeof(b));
            b = gl_order(b);
            p[0] = b > p[0] ? b : p[0];
        }
        for (k = 1; k < 16; k++) p[0] = p[k] > p[0] ? p[k] : p[0];
        b = gl_order(p[0]);
        memcpy(&out, &b, sizeof(out));
        return out;
    }
    """
    float gl_expf(float x) noexcept nogil
    float gl_maxf(const float* x, Py_ssize_t n) noexcept nogil


cdef inline real _exp(real v) noexcept nogil:
    if real is float:
        return gl_expf(v)
    else:
        return exp(v)


cdef inline double _dot(const real* a, const real* b, idx_t n) noexcept nogil:
    """sum(a[:n] * b[:n]), as _sum."""
    cdef real p[16]
    cdef double total = 0
    cdef idx_t i = 0, k
    for k in range(16):
        p[k] = 0
    while i + 16 <= n:
        for k in range(16):
            p[k] += a[i + k] * b[i + k]
        i += 16
    while i < n:
        total += a[i] * b[i]
        i += 1
    for k in range(16):
        total += p[k]
    return total


cdef inline real _max(const real* x, idx_t n) noexcept nogil:
    """max(x[:n]), -inf for n = 0 (float64: NaN if any is NaN)."""
    cdef real m = -INFINITY
    cdef idx_t i
    if real is float:
        return gl_maxf(x, n)
    for i in range(n):
        if x[i] > m or x[i] != x[i]:
            m = x[i]
            if m != m:
                break
    return m


cdef void _softmax_row(const real* x, real* y, idx_t n) noexcept nogil:
    cdef idx_t j
    cdef real m = _max(x, n), inv
    for j in range(n):
        y[j] = _exp(x[j] - m)
    inv = <real>(1.0 / vsum64(y, n))
    for j in range(n):
        y[j] *= inv


cdef void _log_softmax_row(const real* x, real* y, idx_t n) noexcept nogil:
    cdef idx_t j
    cdef real m = _max(x, n), lse
    for j in range(n):
        y[j] = _exp(x[j] - m)                     # y as scratch for the exponentials
    lse = <real>log(vsum64(y, n))
    for j in range(n):
        y[j] = (x[j] - m) - lse


cdef void _attention_row(const real* x, real* y, const real* mask, idx_t n, idx_t valid, real scale) noexcept nogil:
    """y = softmax(x * scale + mask) over the first `valid` entries, 0 after them; 0 if none is finite."""
    cdef idx_t j
    cdef real m = -INFINITY, inv
    cdef double total
    for j in range(valid):
        y[j] = x[j] * scale + (mask[j] if mask != NULL else 0)
    m = _max(y, valid)
    if m == -INFINITY:                            # nothing to attend to
        valid = 0
    for j in range(valid):
        y[j] = _exp(y[j] - m)
    for j in range(valid, n):
        y[j] = 0
    if valid == 0:
        return
    inv = <real>(1.0 / vsum64(y, valid))
    for j in range(valid):
        y[j] *= inv


cdef void _rows(const Job* job, idx_t lo, idx_t hi, real* kind) noexcept nogil:
    """Rows lo..hi of job (kind only selects float or double)."""
    cdef idx_t i, j, n = job.n, valid, q
    cdef const real* a
    cdef const real* b
    cdef const real* mask
    cdef real* d
    cdef real dot, s = <real>job.scale
    for i in range(lo, hi):
        a = <const real*>job.a + i * n
        d = <real*>job.dst + i * n
        if job.kind == SOFTMAX:
            _softmax_row(a, d, n)
        elif job.kind == LOG_SOFTMAX:
            _log_softmax_row(a, d, n)
        elif job.kind == ATTENTION:
            q = i % job.rows_per_matrix
            valid = min(q + 1, n) if job.causal else n
            mask = <const real*>job.mask + q * n if job.mask != NULL else NULL
            _attention_row(a, d, mask, n, valid, s)
        elif job.kind == SOFTMAX_GRAD:           # gx = scale * y * (g - sum(g * y))
            b = <const real*>job.b + i * n
            dot = <real>_dot(a, b, n)
            for j in range(n):
                d[j] = s * b[j] * (a[j] - dot)
        else:                                     # LOG_SOFTMAX_GRAD: gx = g - exp(out) * sum(g)
            b = <const real*>job.b + i * n
            dot = <real>vsum64(a, n)
            for j in range(n):
                d[j] = a[j] - _exp(b[j]) * dot


cdef void _run(const Job* job, idx_t rows, bint f32) noexcept nogil:
    cdef int nt = _num_threads if rows * job.n >= _PARALLEL_MIN_ELEMS and rows > 1 else 1
    cdef int master, t
    cdef float* f = NULL
    cdef double* dd = NULL
    if nt == 1:
        if f32:
            _rows(job, 0, rows, f)
        else:
            _rows(job, 0, rows, dd)
        return
    master = gl_master_cpu()
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        for t in prange(nt, schedule='static', chunksize=1):
            if f32:
                _rows(job, rows * t // nt, rows * (t + 1) // nt, f)
            else:
                _rows(job, rows * t // nt, rows * (t + 1) // nt, dd)


cdef object _go(Kind kind, str op, object a, object b, object mask, double scale, bint causal):
    """Check the arrays, run the job over every row of a's last axis, return the result."""
    a = _checked(op, "x" if b is None else "grad_out", a, None, None)
    if a.ndim < 1:
        raise ValueError(f"{op}: expected at least 1 dimension, got a 0-d array")
    if b is not None:
        b = _checked(op, "out", b, a.dtype, tuple(a.shape))
    cdef Job job
    job.kind = kind
    job.n = a.shape[a.ndim - 1]
    job.scale = scale
    job.causal = causal
    job.rows_per_matrix = 1
    job.mask = NULL
    if kind == ATTENTION:
        if a.ndim < 2:
            raise ValueError(f"{op}: scores must be at least 2-D (..., L, S), got shape {tuple(a.shape)}")
        job.rows_per_matrix = a.shape[a.ndim - 2]
        if mask is not None:
            mask = _checked(op, "mask", mask, a.dtype, (job.rows_per_matrix, job.n))
            job.mask = cnp.PyArray_DATA(<cnp.ndarray>mask)
    out = np.empty_like(a)
    cdef idx_t rows = a.size // job.n if job.n > 0 else 0
    if rows == 0:
        return out
    job.a = cnp.PyArray_DATA(<cnp.ndarray>a)
    job.b = NULL if b is None else cnp.PyArray_DATA(<cnp.ndarray>b)
    job.dst = cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef bint f32 = a.dtype == np.float32
    with nogil:
        _run(&job, rows, f32)
    return out


def softmax_forward(x):
    """exp(x - max) / sum(exp(x - max)) over the last axis (a row of -inf gives NaN, as PyTorch)."""
    return _go(SOFTMAX, "softmax_forward", x, None, None, 1.0, False)


def softmax_backward(grad_out, out):
    """out * (grad_out - sum(grad_out * out)) over the last axis (out = softmax_forward(x))."""
    return _go(SOFTMAX_GRAD, "softmax_backward", grad_out, out, None, 1.0, False)


def log_softmax_forward(x):
    """(x - max) - log(sum(exp(x - max))) over the last axis."""
    return _go(LOG_SOFTMAX, "log_softmax_forward", x, None, None, 1.0, False)


def log_softmax_backward(grad_out, out):
    """grad_out - exp(out) * sum(grad_out) over the last axis (out = log_softmax_forward(x))."""
    return _go(LOG_SOFTMAX_GRAD, "log_softmax_backward", grad_out, out, None, 1.0, False)


def attention_softmax_forward(scores, scale, causal, mask):
    """softmax(scores * scale + mask) over the last axis of scores (..., L, S).

    ``causal``: query i (row i of each L x S matrix) sees keys 0..i only.
    ``mask``: None or an additive (L, S) mask of scores' dtype (-inf blocks a key).
    A row with no key left to attend to gives weights 0.
    """
    return _go(ATTENTION, "attention_softmax_forward", scores, None, mask, scale, bool(causal))


def attention_softmax_backward(grad_out, out, scale):
    """Gradient of the raw scores: scale * out * (grad_out - sum(grad_out * out)) over the last axis."""
    return _go(SOFTMAX_GRAD, "attention_softmax_backward", grad_out, out, None, scale, False)
