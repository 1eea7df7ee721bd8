# Shared inline helpers for the gradlab kernels: the fused float type, a
# GIL-free GEMM on row-major matrices, and OpenMP queries that still compile
# when OpenMP is not available.

from libc.string cimport memcpy
from scipy.linalg.cython_blas cimport sgemm, dgemm, saxpy, daxpy

ctypedef fused real:
    float
    double

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int gl_omp_max_threads(void) { return omp_get_max_threads(); }
    static int gl_have_openmp(void) { return 1; }
    #else
    static int gl_omp_max_threads(void) { return 1; }
    static int gl_have_openmp(void) { return 0; }
    #endif
    """
    int gl_omp_max_threads() noexcept nogil
    int gl_have_openmp() noexcept nogil


# OpenBLAS runs a GEMM on one thread when m*n*k is at most this many
# multiply-adds (SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD = 65536 * 4).
# Our OpenMP loops only call GEMMs below it, so the two thread pools never nest.
cdef enum:
    BLAS_SINGLE_THREAD_MNK = 262144


cdef inline void gemm_rm(bint trans_a, bint trans_b, int m, int n, int k,
                         real alpha, const real* a, int lda,
                         const real* b, int ldb,
                         real beta, real* c, int ldc) noexcept nogil:
    """Row-major C (m x n) = alpha * op(A) @ op(B) + beta * C.

    op(A) is m x k (A stored k x m when trans_a), op(B) is k x n.  BLAS is
    column-major, and a row-major matrix is its column-major transpose, so we
    ask BLAS for C^T = op(B)^T @ op(A)^T: swap the operands, keep the flags.
    """
    cdef char ta = b'T' if trans_b else b'N'
    cdef char tb = b'T' if trans_a else b'N'
    if real is float:
        sgemm(&ta, &tb, &n, &m, &k, &alpha, <float*>b, &ldb, <float*>a, &lda,
              &beta, c, &ldc)
    else:
        dgemm(&ta, &tb, &n, &m, &k, &alpha, <double*>b, &ldb, <double*>a, &lda,
              &beta, c, &ldc)


cdef inline void axpy(int n, real alpha, const real* x, real* y) noexcept nogil:
    """y[:n] += alpha * x[:n] (BLAS, vectorised for the running CPU)."""
    cdef int one = 1
    if real is float:
        saxpy(&n, &alpha, <float*>x, &one, y, &one)
    else:
        daxpy(&n, &alpha, <double*>x, &one, y, &one)


cdef inline real vsum(const real* x, Py_ssize_t n) noexcept nogil:
    """Sum of x[:n] with 16 independent partial sums (vectorisable, fixed order)."""
    cdef real part[16]
    cdef Py_ssize_t i, k
    cdef real total = 0
    for k in range(16):
        part[k] = 0
    i = 0
    while i + 16 <= n:
        for k in range(16):
            part[k] += x[i + k]
        i += 16
    for k in range(16):
        total += part[k]
    while i < n:
        total += x[i]
        i += 1
    return total


cdef inline void copy_run(real* dst, const real* src, Py_ssize_t n) noexcept nogil:
    """dst[:n] = src[:n] (no overlap).  Short runs, the common case in im2col,
    move 16 bytes at a time with fixed-size copies the compiler inlines (the
    last one may overlap the previous); long runs go to memcpy."""
    cdef Py_ssize_t k = 0
    cdef Py_ssize_t per = 16 // sizeof(real)
    if n >= 64:
        memcpy(dst, src, n * sizeof(real))
    elif n >= per:
        while k + per <= n:
            memcpy(dst + k, src + k, 16)
            k += per
        if k < n:
            memcpy(dst + n - per, src + n - per, 16)
    else:
        while k < n:
            dst[k] = src[k]
            k += 1
