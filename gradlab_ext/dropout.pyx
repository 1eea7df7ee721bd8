# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Compiled dropout, forward and backward: the fast twins of ``gradlab/kernels/dropout.py``.

One pass per call: each element draws its own decision from a counter-based
generator (SplitMix64's i-th output for the call's seed; see the twin), so
the mask is never stored, the backward draws it again, and every thread
range gives the same bits as one thread.  NumPy needs a generator pass, a
compare, a cast and a multiply, on one thread.
"""
cimport numpy as cnp
import math

import numpy as np
from cython.parallel cimport prange, parallel, threadid
from libc.stdint cimport uint64_t

from gradlab_ext._common cimport real, gl_omp_max_threads, gl_have_openmp, gl_pin_init, gl_master_cpu, gl_place

cnp.import_array()

ctypedef Py_ssize_t idx_t

include "_threads.pxi"
include "_checks.pxi"

__all__ = ["dropout_forward", "dropout_backward"]

cdef extern from *:
    """
    #include <stdint.h>
    /* SplitMix64's output i (from 0) of the stream started at seed (Steele, Lea and Flood 2014) */
    static inline uint64_t gl_splitmix64(uint64_t seed, uint64_t i) {
        uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ULL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    /* The loop is integer multiplies that the x86-64 baseline (SSE2) cannot vectorize: with GCC 12+ it is
       also compiled for AVX2 and AVX-512 and the CPU picks at load time (4x and 6x faster). Integer work and
       one multiply per element: every version gives the same bits. */
    #if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
    #define GL_DROPOUT_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
    #else
    #define GL_DROPOUT_CLONES
    #endif
    #define GL_DROPOUT_RANGE(name, real) \
    GL_DROPOUT_CLONES static void name(const real* x, real* y, real scale, uint64_t threshold, \
                                       uint64_t seed, Py_ssize_t lo, Py_ssize_t hi) { \
        for (Py_ssize_t i = lo; i < hi; i++) \
            y[i] = x[i] * ((gl_splitmix64(seed, (uint64_t)i) >> 32) >= threshold ? scale : (real)0); \
    }
    GL_DROPOUT_RANGE(gl_dropout_range_f, float)
    GL_DROPOUT_RANGE(gl_dropout_range_d, double)
    """
    void gl_dropout_range_f(const float* x, float* y, float scale, uint64_t threshold, uint64_t seed,
                            Py_ssize_t lo, Py_ssize_t hi) noexcept nogil
    void gl_dropout_range_d(const double* x, double* y, double scale, uint64_t threshold, uint64_t seed,
                            Py_ssize_t lo, Py_ssize_t hi) noexcept nogil

# below this many elements one thread does the whole job (waking a second costs more)
cdef idx_t _PARALLEL_MIN_ELEMS = 1 << 15


cdef inline void _mask_range(const real* x, real* y, real scale, uint64_t threshold, uint64_t seed,
                             idx_t lo, idx_t hi) noexcept nogil:
    """y[i] = x[i] * (scale if element i is kept else 0), for lo <= i < hi."""
    if real is float:
        gl_dropout_range_f(x, y, scale, threshold, seed, lo, hi)
    else:
        gl_dropout_range_d(x, y, scale, threshold, seed, lo, hi)


cdef void _run(const real* x, real* y, real scale, uint64_t threshold, uint64_t seed, idx_t n) noexcept nogil:
    cdef int nt = _num_threads if n >= _PARALLEL_MIN_ELEMS else 1
    cdef int master, t
    cdef idx_t lo, hi
    if nt == 1:
        _mask_range(x, y, scale, threshold, seed, 0, n)
        return
    master = gl_master_cpu()
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        for t in prange(nt, schedule='static', chunksize=1):
            lo = n * t // nt
            hi = n * (t + 1) // nt
            _mask_range(x, y, scale, threshold, seed, lo, hi)


cdef object _apply(str op, str name, object x, object p, object seed):
    """x * mask for (p, seed), after the checks that protect memory and the generator's arguments."""
    x = _checked(op, name, x, None, None)
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: p must be in [0, 1], got {p}")
    seed = _int(op, "seed", seed)
    if not 0 <= seed < 2 ** 64:
        raise ValueError(f"{op}: seed must be in [0, 2**64), got {seed}")
    cdef uint64_t threshold = min(2 ** 32, math.ceil(p * 2 ** 32))   # as the twin: keep when bits >= it
    cdef double scale = 1.0 / (1.0 - p) if p < 1.0 else 0.0
    cdef uint64_t key = seed
    cdef cnp.ndarray y = np.empty_like(x)
    cdef idx_t n = x.size
    cdef void* xp = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef void* yp = cnp.PyArray_DATA(y)
    cdef bint f32 = x.dtype == np.float32
    with nogil:
        if f32:
            _run(<float*>xp, <float*>yp, <float>scale, threshold, key, n)
        else:
            _run(<double*>xp, <double*>yp, scale, threshold, key, n)
    return y


def dropout_forward(x, p, seed):
    """x * mask: each element kept with probability 1 - p and scaled by 1 / (1 - p), else times 0."""
    return _apply("dropout_forward", "x", x, p, seed)


def dropout_backward(grad_out, p, seed):
    """grad_out * mask, the mask of the forward with the same p and seed."""
    return _apply("dropout_backward", "grad_out", grad_out, p, seed)
