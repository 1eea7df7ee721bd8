# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Compiled ReLU, forward and backward: the fast twins of ``gradlab/kernels/activation.py``.

Each is one pass over contiguous float32/float64 arrays, split into one
contiguous range per OpenMP thread.  NumPy needs two passes for the backward
(a boolean mask, then a multiply that converts it), and one thread.

NaN follows PyTorch: relu(NaN) is NaN, and a NaN output lets its gradient
through (the test is "out <= 0", which is false for NaN).
"""
cimport numpy as cnp
import numpy as np
from cython.parallel cimport prange, parallel, threadid

from gradlab_ext._common cimport real, gl_omp_max_threads, gl_have_openmp, gl_pin_init, gl_master_cpu, gl_place

cnp.import_array()

ctypedef Py_ssize_t idx_t

include "_threads.pxi"
include "_checks.pxi"

__all__ = ["relu_forward", "relu_backward"]

# below this many elements one thread does the whole job (waking a second costs more)
cdef idx_t _PARALLEL_MIN_ELEMS = 1 << 16


cdef inline void _relu_range(const real* x, real* y, idx_t lo, idx_t hi) noexcept nogil:
    cdef idx_t i
    for i in range(lo, hi):
        y[i] = 0 if x[i] <= 0 else x[i]


cdef inline void _relu_grad_range(const real* g, const real* out, real* gx, idx_t lo, idx_t hi) noexcept nogil:
    cdef idx_t i
    cdef real v
    for i in range(lo, hi):
        v = g[i]    # loaded whatever the test says: the compiler can then use a vector select, not a branch
        gx[i] = 0 if out[i] <= 0 else v


cdef void _run(const real* a, const real* b, real* dst, idx_t n, bint backward) noexcept nogil:
    """dst = relu(a) (b unused), or dst = a where b > 0 (backward), over the threads."""
    cdef int nt = _num_threads if n >= _PARALLEL_MIN_ELEMS else 1
    cdef int master, t
    cdef idx_t lo, hi
    if nt == 1:
        if backward:
            _relu_grad_range(a, b, dst, 0, n)
        else:
            _relu_range(a, dst, 0, n)
        return
    master = gl_master_cpu()
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        for t in prange(nt, schedule='static', chunksize=1):
            lo = n * t // nt
            hi = n * (t + 1) // nt
            if backward:
                _relu_grad_range(a, b, dst, lo, hi)
            else:
                _relu_range(a, dst, lo, hi)


def relu_forward(x):
    """max(x, 0) elementwise (NaN stays NaN)."""
    x = _checked("relu_forward", "x", x, None, None)
    cdef cnp.ndarray y = np.empty_like(x)
    cdef idx_t n = x.size
    cdef void* xp = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef void* yp = cnp.PyArray_DATA(y)
    cdef bint f32 = x.dtype == np.float32
    with nogil:
        if f32:
            _run(<float*>xp, NULL, <float*>yp, n, False)
        else:
            _run(<double*>xp, NULL, <double*>yp, n, False)
    return y


def relu_backward(grad_out, out):
    """grad_out where the forward output is not <= 0, else 0."""
    op = "relu_backward"
    grad_out = _checked(op, "grad_out", grad_out, None, None)
    out = _checked(op, "out", out, None, None)
    if grad_out.dtype != out.dtype or grad_out.shape != out.shape:
        raise ValueError(f"{op}: grad_out {grad_out.dtype}{list(grad_out.shape)} and out "
                         f"{out.dtype}{list(out.shape)} must have the same dtype and shape")
    cdef cnp.ndarray gx = np.empty_like(grad_out)
    cdef idx_t n = gx.size
    cdef void* gp = cnp.PyArray_DATA(<cnp.ndarray>grad_out)
    cdef void* op_ = cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef void* gxp = cnp.PyArray_DATA(gx)
    cdef bint f32 = gx.dtype == np.float32
    with nogil:
        if f32:
            _run(<float*>gp, <float*>op_, <float*>gxp, n, True)
        else:
            _run(<double*>gp, <double*>op_, <double*>gxp, n, True)
    return gx
