# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Compiled embedding backward: the fast twin of ``gradlab/kernels/embedding.py``.

``np.add.at`` walks the indices one by one through NumPy's generic indexing
machinery, on one thread.  Here each OpenMP thread owns a block of columns of
the result and adds every gradient row's part in that block, in the order of
the indices: each element is the same sum in the same order as the twin's, so
the two twins and any number of threads give the same bits.
"""
cimport numpy as cnp
import numpy as np
from cython.parallel cimport prange, parallel, threadid
from libc.stdint cimport int64_t

from gradlab_ext._common cimport real, gl_omp_max_threads, gl_have_openmp, gl_pin_init, gl_master_cpu, gl_place

cnp.import_array()

ctypedef Py_ssize_t idx_t

include "_threads.pxi"
include "_checks.pxi"

__all__ = ["embedding_backward"]

# below this many gradient elements one thread does the whole job: it adds 2**18 of them in ~40 us, about
# what waking a second thread costs on a busy machine
cdef idx_t _PARALLEL_MIN_ELEMS = 1 << 20
# columns per thread at least: a thread's part of a row stays a few cache lines
cdef idx_t _MIN_COLS = 16


cdef void _scatter_cols(const real* g, const int64_t* idx, real* out, idx_t rows, idx_t d,
                        idx_t lo, idx_t hi) noexcept nogil:
    """out[idx[t], lo:hi] += g[t, lo:hi] for t = 0 .. rows-1, in that order."""
    cdef idx_t t, j
    cdef real* dst
    cdef const real* src
    for t in range(rows):
        dst = out + idx[t] * d
        src = g + t * d
        for j in range(lo, hi):
            dst[j] += src[j]


cdef void _run(const real* g, const int64_t* idx, real* out, idx_t rows, idx_t d) noexcept nogil:
    cdef int nt = _num_threads if rows * d >= _PARALLEL_MIN_ELEMS else 1
    cdef int master, t
    cdef idx_t lo, hi
    if nt > d // _MIN_COLS:
        nt = max(1, d // _MIN_COLS)
    if nt == 1:
        _scatter_cols(g, idx, out, rows, d, 0, d)
        return
    master = gl_master_cpu()
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        for t in prange(nt, schedule='static', chunksize=1):
            lo = d * t // nt
            hi = d * (t + 1) // nt
            _scatter_cols(g, idx, out, rows, d, lo, hi)


def embedding_backward(grad_out, indices, num_rows):
    """(num_rows, D) zeros with grad_out[t] (of (T, D)) added into row indices[t] (of (T,)), t = 0, 1, ..."""
    op = "embedding_backward"
    grad_out = _checked(op, "grad_out", grad_out, None, None)
    if grad_out.ndim != 2:
        raise ValueError(f"{op}: grad_out must be 2-D (T, D), got shape {tuple(grad_out.shape)}")
    indices = _checked(op, "indices", indices, np.int64, (grad_out.shape[0],))
    num_rows = _int(op, "num_rows", num_rows)
    cdef idx_t rows = grad_out.shape[0], d = grad_out.shape[1], n = num_rows, t
    if n < 0:
        raise ValueError(f"{op}: num_rows must be >= 0, got {num_rows}")
    cdef const int64_t* ip = <const int64_t*>cnp.PyArray_DATA(<cnp.ndarray>indices)
    cdef idx_t bad = -1
    with nogil:
        for t in range(rows):
            if ip[t] < 0 or ip[t] >= n:
                bad = t
                break
    if bad >= 0:
        raise IndexError(f"{op}: indices[{bad}] = {indices[bad]} is outside [0, {num_rows}) "
                         f"(grad_out {tuple(grad_out.shape)})")
    cdef cnp.ndarray out = np.zeros((num_rows, d), dtype=grad_out.dtype)
    cdef void* gp = cnp.PyArray_DATA(<cnp.ndarray>grad_out)
    cdef void* outp = cnp.PyArray_DATA(out)
    cdef bint f32 = grad_out.dtype == np.float32
    with nogil:
        if f32:
            _run(<const float*>gp, ip, <float*>outp, rows, d)
        else:
            _run(<const double*>gp, ip, <double*>outp, rows, d)
    return out
