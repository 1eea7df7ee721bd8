# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Compiled 2-D matrix multiply without the GIL: a packed float32 kernel, or BLAS sgemm/dgemm.

The fast twin of ``gradlab/kernels/matmul.py``.  A transposed operand
(Fortran-ordered, e.g. ``w.T`` of a C-ordered ``w``) is passed to BLAS with
its transpose flag instead of being copied, which is exactly what the
backward pass of a linear layer produces (``grad @ w`` and ``x.T @ grad``).

float32 products of the shapes a layer's forward pass and input gradient give
(``_PACKED_MIN_ROWS`` rows and more) run on gradlab's own kernel,
``_sgemm_packed.h``, when the CPU has AVX2 and FMA: op(B) is packed once and
every row of C reuses it; the others, and all float64 products, go to BLAS.

Threads: a product of moderate size is cut into tiles that OpenBLAS runs on
the calling thread, and the tiles are spread over gradlab's OpenMP threads
(``par_gemm``), the same threads the convolution and pooling kernels use:
OpenBLAS's own threads keep spinning after each call, on the cores the next
convolution needs (docs/performance.md).  Very large products (above
``_OWN_THREADS_MAX_WORK`` multiply-adds), where BLAS's own blocking pays,
are cut into one block of rows per thread, one BLAS call each: gradlab holds
this BLAS's own pool at one thread (gradlab/_threads.py), so the only
threads are gradlab's.
"""

cimport numpy as cnp
import numpy as np

from cython.parallel cimport prange, parallel, threadid
from gradlab_ext._common cimport (real, gemm_rm, par_gemm, packed_gemm, gl_packed_gemm_ok, gl_omp_max_threads, gl_have_openmp, gl_pin_init,
                                  gl_master_cpu, gl_place, BLAS_SINGLE_THREAD_MNK)

cnp.import_array()

ctypedef Py_ssize_t idx_t

include "_threads.pxi"

__all__ = ["matmul"]

# Below this many multiply-adds (2^22) one thread computes the product: waking the
# OpenMP team costs more than it saves, the more so between the many small products
# of a recurrent layer (docs/performance.md).
cdef idx_t _PARALLEL_MIN_WORK = 1 << 22
cdef idx_t _OWN_THREADS_MAX_WORK = (<idx_t>1) << 24
# float32 products go to _sgemm_packed.h's kernel (on CPUs with AVX2 and FMA) when C has rows enough to repay
# packing op(B) (k * n copies: at 128 rows BLAS was faster), columns enough to fill its 24-wide panels, op(B)
# is small enough to stay in the caches the kernel is blocked for: docs/performance.md
cdef idx_t _PACKED_MIN_ROWS = 256, _PACKED_MIN_COLS = 32, _PACKED_MAX_B = 1 << 21


cdef void _gemm(bint ta, bint tb, idx_t m, idx_t n, idx_t k, const real* a, idx_t lda,
                const real* b, idx_t ldb, real* c, const real* bias) noexcept nogil:
    cdef idx_t work = m * n * k, i, j
    cdef int nt = _num_threads if work >= _PARALLEL_MIN_WORK else 1
    if real is float:
        if (m >= _PACKED_MIN_ROWS and n >= _PACKED_MIN_COLS and k * n <= _PACKED_MAX_B
                and packed_gemm(ta, tb, m, n, k, a, lda, b, ldb, c, n, nt, bias)):
            return
    _blas_gemm(ta, tb, m, n, k, a, lda, b, ldb, c, work, nt)
    if bias != NULL:
        for i in range(m):
            for j in range(n):
                c[i * n + j] += bias[j]


cdef void _blas_gemm(bint ta, bint tb, idx_t m, idx_t n, idx_t k, const real* a, idx_t lda,
                     const real* b, idx_t ldb, real* c, idx_t work, int nt) noexcept nogil:
    if work <= BLAS_SINGLE_THREAD_MNK or (work > _OWN_THREADS_MAX_WORK and _num_threads == 1):
        gemm_rm(ta, tb, <int>m, <int>n, <int>k, 1, a, <int>lda, b, <int>ldb, 0, c, <int>n)
    elif work > _OWN_THREADS_MAX_WORK and m >= 16 * _num_threads:
        _row_blocks(ta, tb, m, n, k, a, lda, b, ldb, c, _num_threads)
    else:
        par_gemm(ta, tb, m, n, k, a, lda, b, ldb, c, n, nt)


cdef void _row_blocks(bint ta, bint tb, idx_t m, idx_t n, idx_t k, const real* a, idx_t lda,
                      const real* b, idx_t ldb, real* c, int nthreads) noexcept nogil:
    """C = op(A) @ op(B) as one BLAS call per thread, each on its own block of C's rows."""
    cdef idx_t rows = (m + nthreads - 1) // nthreads, i0
    cdef int t, master = gl_master_cpu()
    with parallel(num_threads=nthreads):
        gl_place(master, threadid())
        for t in prange(nthreads, schedule='static'):
            i0 = t * rows
            if i0 < m:
                gemm_rm(ta, tb, <int>min(rows, m - i0), <int>n, <int>k, 1, a + (i0 if ta else i0 * lda), <int>lda,
                        b, <int>ldb, 0, c + i0 * n, <int>n)


cdef tuple _operand(object a):
    """(array, transposed, leading dimension) for BLAS, copying only if needed."""
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_IS_C_CONTIGUOUS(arr):
        return arr, False, max(arr.shape[1], 1)
    if cnp.PyArray_IS_F_CONTIGUOUS(arr):
        return arr, True, max(arr.shape[0], 1)
    arr = np.ascontiguousarray(arr)
    return arr, False, max(arr.shape[1], 1)


def matmul(a, b, bias=None):
    """a @ b (+ bias on every row) for 2-D float32/float64 arrays a (M, K), b (K, N) and bias (N,) of one dtype."""
    op = "matmul"
    if not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray):
        raise TypeError(f"{op}: expected numpy arrays, got {type(a).__name__} and {type(b).__name__}")
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"{op}: expected 2-D arrays, got shapes {a.shape} and {b.shape}")
    if a.dtype != b.dtype or (a.dtype != np.float32 and a.dtype != np.float64):
        raise TypeError(f"{op}: expected two float32 or two float64 arrays, got {a.dtype} and {b.dtype}")
    cdef idx_t M = a.shape[0], K = a.shape[1], N = b.shape[1]
    if b.shape[0] != K:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} are not aligned "
                         f"({K} != {b.shape[0]})")
    if bias is not None and (not isinstance(bias, np.ndarray) or bias.dtype != a.dtype or bias.shape != (N,)):
        raise ValueError(f"{op}: bias must be a {a.dtype} array of shape ({N},), got "
                         f"{type(bias).__name__} {getattr(bias, 'dtype', '')} {getattr(bias, 'shape', '')}")
    if max(M, N, K) >= (<idx_t>1) << 31:
        raise ValueError(f"{op}: dimensions {a.shape} x {b.shape} exceed 32-bit BLAS indices")
    cdef cnp.ndarray c
    if K == 0:
        return np.zeros((M, N), dtype=a.dtype) + (0 if bias is None else bias)
    c = np.empty((M, N), dtype=a.dtype)
    if M == 0 or N == 0:
        return c
    a, ta, lda = _operand(a)
    b, tb, ldb = _operand(b)
    cdef void* ap = cnp.PyArray_DATA(<cnp.ndarray>a)
    cdef void* bp = cnp.PyArray_DATA(<cnp.ndarray>b)
    cdef void* cp = cnp.PyArray_DATA(c)
    cdef bint bta = ta, btb = tb
    cdef idx_t ilda = lda, ildb = ldb
    cdef bint f32 = a.dtype == np.float32
    if bias is not None:
        bias = np.ascontiguousarray(bias)
    cdef void* biasp = NULL if bias is None else cnp.PyArray_DATA(<cnp.ndarray>bias)
    with nogil:
        if f32:
            _gemm(bta, btb, M, N, K, <float*>ap, ilda, <float*>bp, ildb, <float*>cp, <float*>biasp)
        else:
            _gemm(bta, btb, M, N, K, <double*>ap, ilda, <double*>bp, ildb, <double*>cp, <double*>biasp)
    return c


def _packed_kernel():
    """True when float32 products of layer size run on _sgemm_packed.h's kernel here (the CPU has AVX2 and FMA)."""
    return bool(gl_packed_gemm_ok())
