# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Compiled recurrent layers over a whole sequence: the fast twins of ``gradlab/kernels/rnn.py``.

Same names, signatures and formulas (PyTorch's, gate orders LSTM i, f, g, o
and GRU r, z, n); the docstring of the twin has them.  One call runs one
layer in one direction over all T steps with no Python in between: per step
the recurrent product h W_hh^T and one pass of the gate nonlinearities.
Every buffer is allocated once per call.  In float32 on a CPU with AVX2 and
FMA, each thread packs its part of W_hh once and every step's product runs on
_sgemm_packed.h's kernel (BLAS would pack it again at every step); otherwise
BLAS, called from C.

Threads: one parallel region spans the whole sequence.  The rows of a batch
never meet in the recurrence, so when every thread can have 8 rows or more
each OpenMP thread runs its own contiguous rows through every step, with no
barrier.  A smaller batch is shared by hidden units instead: they are cut
into blocks of 64 and each thread takes a run of blocks, computes the gate
columns of its own units (its rows of W_hh), then their nonlinearities, and
waits at a barrier for the others before the next step, which reads all of h
(backward likewise, with the product dh = grad_pre W_hh cut by columns).  No
thread pool is woken per step, and BLAS never starts threads of its own
(each GEMM is cut into tiles below OpenBLAS's threading size, _common.pxd's
tiled_gemm).

Weight gradients: on the packed kernel, each thread adds its own blocks of
units' share of gw and gb every ~256 rows of steps during the backward walk,
while those gradient rows are still in cache (after a barrier, when the
threads share the rows); otherwise one GEMM over all steps at the end
(packed_gemm's or par_gemm's fixed tiling).

Bits: every product is cut into the same blocks and tiles whatever the thread
count and however they share the sequence (the reduction at fixed chunks of
256; the packed kernel sums each element over k in order whatever the cut;
the weight gradients' chunks of steps depend on the batch size alone), and
the gate loops are elementwise, so results are the same bits for any number
of threads.

float32 activations use a vectorisable exp (Cephes' polynomial, about 1 ulp;
tanh by its odd polynomial near 0): libm's expf and tanhf cost as much as the
recurrent GEMM itself.  The x86-64-v3 build runs the LSTM's float32 rows on
explicit AVX2 vectors (_lstm_avx2.h: tanh as a rational function, within 7
ulps).  float64 uses libm.
"""
cimport numpy as cnp
import numpy as np
from cython.parallel cimport parallel, threadid
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset

from gradlab_ext._common cimport (real, gl_omp_max_threads, gl_have_openmp, gl_pin_init, gl_master_cpu, gl_place,
                                  TiledGemm, tiled_gemm, run_tile, par_gemm, packed_gemm, gl_packed_gemm_ok,
                                  gl_packed_size, gl_pack_b, gl_packed_gemm, gl_packed_gemm_into)

cnp.import_array()

ctypedef Py_ssize_t idx_t

include "_threads.pxi"
include "_checks.pxi"

__all__ = ["lstm_forward", "lstm_backward", "gru_forward", "gru_backward", "rnn_forward", "rnn_backward"]

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static void gl_rnn_barrier(void) {
        #pragma omp barrier
    }
    static int gl_rnn_team(void) { return omp_get_num_threads(); }
    #else
    static void gl_rnn_barrier(void) {}
    static int gl_rnn_team(void) { return 1; }
    #endif
    """
    void gl_rnn_barrier() noexcept nogil
    int gl_rnn_team() noexcept nogil

cdef extern from *:
    """
    #include <math.h>
    #include <stdint.h>
    #include <string.h>
    /* The activations and cell loops below raise no floating-point exceptions anyone reads, so GCC
       may turn their comparisons into vector selects (it will not under the default -ftrapping-math) */
    #pragma GCC push_options
    #pragma GCC optimize ("no-trapping-math")
    #include "_expf.h"
    /* exp with x clamped to [-87, 88] first, so that sigmoid and tanh of +-inf come out finite */
    static inline float gl_exp_clampf(float x) { return gl_expf(x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x)); }
    static inline float gl_sigmoidf(float x) { return 1.0f / (1.0f + gl_exp_clampf(-x)); }
    /* tanh: Cephes' odd polynomial near 0 (where 1 - 2 / (e^2x + 1) would cancel), else that */
    static inline float gl_tanhf(float x) {
        float z = x * x;
        float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z
                        + 1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
        float large = 1.0f - 2.0f / (gl_exp_clampf(2.0f * x) + 1.0f);
        return fabsf(x) < 0.625f ? small : large;
    }
    static inline double gl_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

    #define GL_REAL float
    #define GL_SUFFIX(name) name##_f
    #define GL_SIGMOID gl_sigmoidf
    #define GL_TANH gl_tanhf
    #if defined(__AVX2__) && defined(__FMA__)
    #define GL_SKIP_LSTM      /* the x86-64-v3 build: the LSTM's float rows on explicit vectors */
    #include "_lstm_avx2.h"
    #endif
    #include "_rnn_cells.h"
    #undef GL_SKIP_LSTM
    #undef GL_REAL
    #undef GL_SUFFIX
    #undef GL_SIGMOID
    #undef GL_TANH
    #define GL_REAL double
    #define GL_SUFFIX(name) name##_d
    #define GL_SIGMOID gl_sigmoid
    #define GL_TANH tanh
    #include "_rnn_cells.h"
    #pragma GCC pop_options
    """
    void gl_lstm_forward_row_f(idx_t B, idx_t H, const float* x, const float* b, const float* s, const float* cp,
                               float* g, float* c, float* h) noexcept nogil
    void gl_lstm_forward_row_d(idx_t B, idx_t H, const double* x, const double* b, const double* s,
                               const double* cp, double* g, double* c, double* h) noexcept nogil
    void gl_gru_forward_row_f(idx_t B, idx_t H, const float* x, const float* b, const float* s, const float* hp,
                              float* g, float* h) noexcept nogil
    void gl_gru_forward_row_d(idx_t B, idx_t H, const double* x, const double* b, const double* s,
                              const double* hp, double* g, double* h) noexcept nogil
    void gl_rnn_forward_row_f(idx_t B, int relu, const float* x, const float* b, const float* s,
                              float* h) noexcept nogil
    void gl_rnn_forward_row_d(idx_t B, int relu, const double* x, const double* b, const double* s,
                              double* h) noexcept nogil
    void gl_lstm_backward_row_f(idx_t B, idx_t H, const float* g, const float* gout, const float* c,
                                const float* cp, const float* dh, float* dc, float* d) noexcept nogil
    void gl_lstm_backward_row_d(idx_t B, idx_t H, const double* g, const double* gout, const double* c,
                                const double* cp, const double* dh, double* dc, double* d) noexcept nogil
    void gl_gru_backward_row_f(idx_t B, idx_t H, const float* g, const float* gout, const float* hp,
                               const float* dh, float* dz, float* d, float* e) noexcept nogil
    void gl_gru_backward_row_d(idx_t B, idx_t H, const double* g, const double* gout, const double* hp,
                               const double* dh, double* dz, double* d, double* e) noexcept nogil
    void gl_rnn_backward_row_f(idx_t B, int relu, const float* gout, const float* h, const float* dh,
                               float* d) noexcept nogil
    void gl_rnn_backward_row_d(idx_t B, int relu, const double* gout, const double* h, const double* dh,
                               double* d) noexcept nogil

cdef enum:
    LSTM = 0
    GRU = 1
    TANH = 2
    RELU = 3

# below this many multiply-adds in a step's recurrent product, one thread runs the sequence
cdef idx_t _PARALLEL_MIN_MACS = 1 << 17
# the hidden units are cut into blocks of this many, whatever the thread count: each block's products
# have the same shape (so the same bits) however the blocks are shared among threads
cdef enum:
    _UNIT_BLOCK = 64
# the threads share the batch rows when each gets at least this many (else the hidden units)
cdef enum:
    _MIN_ROWS = 8

cdef struct Seq:
    int mode
    idx_t T, N, H, G
    bint reverse
    # forward: inputs, then results
    const void* xp
    const void* h0
    const void* c0
    const void* w
    const void* b
    void* out
    void* cells
    void* gates
    # backward: output gradients, results, work buffers
    const void* gout
    void* gx          # grad of x_proj
    void* ghp         # grad of h W_hh^T + b_hh (GRU; else gx)
    void* dh          # (N, H): dh flowing to the previous step; grad_h0 at the end
    void* dz          # (N, H): GRU's dh * z, the direct path to h_prev
    void* dc          # (N, H): LSTM's dc flowing to the previous step; grad_c0 at the end
    void* scratch     # per thread: forward, (N, G * block) of the step's recurrent product; backward, a chunk
    idx_t scratch_stride    # of h_prev packed (chunked)
    # backward's weight gradients
    void* hprev       # (T, N, H): h_prev of every step
    void* gw
    void* gb
    bint packed       # float32 on the packed kernel (and so, backward, gw and gb a chunk of steps at a time)
    const idx_t* cols     # 0 .. H-1, the columns gl_pack_b reads from h_prev


cdef inline idx_t _time(const Seq* s, idx_t k) noexcept nogil:
    """The time index of the k-th step run."""
    return s.T - 1 - k if s.reverse else k


# the row functions of _rnn_cells.h for either float type
cdef inline void _lstm_forward_row(idx_t B, idx_t H, const real* x, const real* b, const real* s, const real* cp,
                                   real* g, real* c, real* h) noexcept nogil:
    if real is float:
        gl_lstm_forward_row_f(B, H, x, b, s, cp, g, c, h)
    else:
        gl_lstm_forward_row_d(B, H, x, b, s, cp, g, c, h)


cdef inline void _gru_forward_row(idx_t B, idx_t H, const real* x, const real* b, const real* s, const real* hp,
                                  real* g, real* h) noexcept nogil:
    if real is float:
        gl_gru_forward_row_f(B, H, x, b, s, hp, g, h)
    else:
        gl_gru_forward_row_d(B, H, x, b, s, hp, g, h)


cdef inline void _rnn_forward_row(idx_t B, int relu, const real* x, const real* b, const real* s,
                                  real* h) noexcept nogil:
    if real is float:
        gl_rnn_forward_row_f(B, relu, x, b, s, h)
    else:
        gl_rnn_forward_row_d(B, relu, x, b, s, h)


cdef inline void _lstm_backward_row(idx_t B, idx_t H, const real* g, const real* gout, const real* c,
                                    const real* cp, const real* dh, real* dc, real* d) noexcept nogil:
    if real is float:
        gl_lstm_backward_row_f(B, H, g, gout, c, cp, dh, dc, d)
    else:
        gl_lstm_backward_row_d(B, H, g, gout, c, cp, dh, dc, d)


cdef inline void _gru_backward_row(idx_t B, idx_t H, const real* g, const real* gout, const real* hp,
                                   const real* dh, real* dz, real* d, real* e) noexcept nogil:
    if real is float:
        gl_gru_backward_row_f(B, H, g, gout, hp, dh, dz, d, e)
    else:
        gl_gru_backward_row_d(B, H, g, gout, hp, dh, dz, d, e)


cdef inline void _rnn_backward_row(idx_t B, int relu, const real* gout, const real* h, const real* dh,
                                   real* d) noexcept nogil:
    if real is float:
        gl_rnn_backward_row_f(B, relu, gout, h, dh, d)
    else:
        gl_rnn_backward_row_d(B, relu, gout, h, dh, d)


cdef inline void _gemm(bint ta, bint tb, idx_t m, idx_t n, idx_t k, const real* a, idx_t lda,
                       const real* b, idx_t ldb, real* c, idx_t ldc) noexcept nogil:
    """C = op(A) @ op(B) on the calling thread, in tiles small enough that BLAS stays single-threaded."""
    cdef TiledGemm plan
    cdef idx_t t
    if m <= 0 or n <= 0:
        return
    plan = tiled_gemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc)
    for t in range(plan.tiles):
        run_tile(&plan, t, c)


cdef float* _packed_w(const real* w, idx_t H, idx_t G, idx_t j0, idx_t j1, bint rows) noexcept nogil:
    """This thread's part of W_hh packed for _sgemm_packed.h, or NULL (float64, no AVX2/FMA, no memory).

    rows: the forward product's B = (rows q*H + j0:j1 of W_hh for each gate q)^T, (H, G*(j1-j0));
    else the backward's B = W_hh[:, j0:j1], (G*H, j1-j0)."""
    cdef idx_t B = j1 - j0, n = G * B if rows else B, k = H if rows else G * H, j
    cdef float* packed = NULL
    cdef idx_t* col = NULL
    if real is float and B > 0 and gl_packed_gemm_ok():
        col = <idx_t*>malloc(n * sizeof(idx_t))
        packed = <float*>malloc(gl_packed_size(k, n) * sizeof(float))
        if col != NULL and packed != NULL:
            for j in range(n):
                col[j] = (j // B * H + j0 + j % B) * H if rows else j0 + j
            gl_pack_b(k, n, <const float*><const void*>w, col, 1 if rows else H, packed)
        else:
            free(packed)
            packed = NULL
        free(col)
    return packed


cdef inline void _dh_product(idx_t N, idx_t H, idx_t GH, const real* grad_pre, const real* w, real* dh,
                             idx_t j0, idx_t j1, const float* packed) noexcept nogil:
    """dh[:, j0:j1] = grad_pre (N, G*H) @ W_hh[:, j0:j1], packed (see _packed_w) or block by block."""
    cdef idx_t jb = j0
    if packed != NULL:
        gl_packed_gemm(N, j1 - j0, GH, <const float*><const void*>grad_pre, GH, 1, packed,
                       <float*><void*>(dh + j0), H, NULL)
        return
    while jb < j1:
        _gemm(False, False, N, min(<idx_t>_UNIT_BLOCK, j1 - jb), GH, grad_pre, GH, w + jb, H, dh + jb, H)
        jb += _UNIT_BLOCK


cdef void _forward_block(const Seq* s, idx_t n0, idx_t n1, idx_t j0, idx_t j1, bint by_units,
                         real* sc) noexcept nogil:
    """Run every step for batch rows n0:n1 and hidden units j0:j1 (this thread's block); sc is its scratch.
    by_units: the threads share the units, and meet at a barrier after every step."""
    cdef idx_t T = s.T, N = s.N, H = s.H, G = s.G, GH = s.G * s.H, B = j1 - j0, M = n1 - n0
    cdef idx_t k, t, q, n, row, jb
    cdef const real* xp = <const real*>s.xp
    cdef const real* w = <const real*>s.w
    cdef const real* b = <const real*>s.b
    cdef real* out = <real*>s.out
    cdef real* cells = <real*>s.cells
    cdef real* gates = <real*>s.gates
    cdef const real* hp
    cdef const real* cp
    cdef const real* x
    cdef const real* r
    cdef float* packed = _packed_w(w, H, G, j0, j1, True)
    for k in range(T):
        t = _time(s, k)
        if k == 0:
            hp, cp = <const real*>s.h0, <const real*>s.c0
        else:
            hp, cp = out + _time(s, k - 1) * N * H, cells + _time(s, k - 1) * N * H
        if B > 0 and M > 0:
            if packed != NULL:      # sc = h_prev[n0:n1] @ (each gate's rows j0:j1 of W_hh)^T
                gl_packed_gemm(M, G * B, H, <const float*><const void*>(hp + n0 * H), H, 1, packed,
                               <float*><void*>sc, G * B, NULL)
            else:
                for q in range(G):     # sc[:, q*B:(q+1)*B] = h_prev[n0:n1] @ (gate q's rows j0:j1 of W_hh)^T
                    jb = j0
                    while jb < j1:
                        _gemm(False, True, M, min(<idx_t>_UNIT_BLOCK, j1 - jb), H, hp + n0 * H, H,
                              w + (q * H + jb) * H, H, sc + q * B + jb - j0, G * B)
                        jb += _UNIT_BLOCK
            for n in range(n0, n1):
                row = t * N + n
                x, r = xp + row * GH + j0, sc + (n - n0) * G * B
                if s.mode == LSTM:
                    _lstm_forward_row(B, H, x, b + j0, r, cp + n * H + j0, gates + row * GH + j0,
                                      cells + row * H + j0, out + row * H + j0)
                elif s.mode == GRU:
                    _gru_forward_row(B, H, x, b + j0, r, hp + n * H + j0, gates + row * 4 * H + j0,
                                     out + row * H + j0)
                else:
                    _rnn_forward_row(B, s.mode == RELU, x, b + j0, r, out + row * H + j0)
        if by_units:
            gl_rnn_barrier()    # the next step reads every unit of this step's h
    free(packed)


cdef inline idx_t _chunk_steps(const Seq* s) noexcept nogil:
    """Steps per chunk of the chunked weight gradients: about 256 rows, whatever the thread count."""
    return max(<idx_t>1, 256 // s.N)


cdef void _chunk_weight_grads(const Seq* s, idx_t k, idx_t j0, idx_t j1, float* bpack) noexcept nogil:
    """gw and gb of units j0:j1's gate rows over the run's steps k .. k + chunk - 1, just computed: the
    gradient rows are read while they are still in cache (one GEMM over all steps at the end reads them
    back from memory).  The first chunk of the walk (the last steps) overwrites, the others add."""
    cdef idx_t T = s.T, N = s.N, H = s.H, GH = s.G * s.H, B = j1 - j0, CH = _chunk_steps(s)
    cdef idx_t steps = min(CH, T - k), q, r, j
    cdef idx_t r0 = (T - k - steps if s.reverse else k) * N, rows = steps * N
    cdef bint first = k == (T - 1) // CH * CH
    cdef const float* hg = <const float*>s.ghp + r0 * GH
    cdef const float* row
    cdef float* gb
    if B <= 0:
        return
    gl_pack_b(rows, H, <const float*>s.hprev + r0 * H, s.cols, H, bpack)
    for q in range(s.G):
        gl_packed_gemm_into(B, H, rows, hg + q * H + j0, 1, GH, bpack, <float*>s.gw + (q * H + j0) * H, H,
                            NULL, not first)
        gb = <float*>s.gb + q * H + j0
        if first:
            memset(gb, 0, B * sizeof(float))
        for r in range(rows):
            row = hg + r * GH + q * H + j0
            for j in range(B):
                gb[j] += row[j]


cdef void _backward_block(const Seq* s, idx_t n0, idx_t n1, idx_t j0, idx_t j1, bint by_units, int team,
                          idx_t w0, idx_t w1, real* sc) noexcept nogil:
    """Backpropagate through every step, last first, for batch rows n0:n1 and hidden units j0:j1; sc is its
    scratch (chunked).  by_units as in _forward_block.  The chunked weight gradients take units w0:w1 (this
    thread's share of the units whatever the split) over all rows: when the threads share the rows, after a
    barrier at each chunk."""
    cdef idx_t T = s.T, N = s.N, H = s.H, GH = s.G * s.H, B = j1 - j0, M = n1 - n0
    cdef idx_t k, t, n, j, row
    cdef const real* w = <const real*>s.w
    cdef const real* out = <const real*>s.out
    cdef const real* cells = <const real*>s.cells
    cdef const real* gates = <const real*>s.gates
    cdef const real* gout = <const real*>s.gout
    cdef real* gx = <real*>s.gx
    cdef real* ghp = <real*>s.ghp
    cdef real* dhb = <real*>s.dh
    cdef real* dzb = <real*>s.dz
    cdef real* dcb = <real*>s.dc
    cdef const real* hp
    cdef const real* cp
    cdef float* packed
    if B <= 0:      # sharing the units, more threads than blocks of them
        for k in range(T):      # an idle thread still meets the others at every step's barrier
            gl_rnn_barrier()
        return
    packed = _packed_w(w, H, s.G, j0, j1, False)
    for k in range(T - 1, -1, -1):
        t = _time(s, k)
        if k < T - 1:   # dh[n0:n1, j0:j1] = (grad of the later step's h W_hh^T)[n0:n1] @ W_hh[:, j0:j1]
            _dh_product(M, H, GH, ghp + (_time(s, k + 1) * N + n0) * GH, w, dhb + n0 * H, j0, j1, packed)
        if k == 0:
            hp, cp = <const real*>s.h0, <const real*>s.c0
        else:
            hp, cp = out + _time(s, k - 1) * N * H, cells + _time(s, k - 1) * N * H
        for n in range(n0, n1):
            row = t * N + n
            if s.mode == LSTM:
                _lstm_backward_row(B, H, gates + row * GH + j0, gout + row * H + j0, cells + row * H + j0,
                                   cp + n * H + j0, dhb + n * H + j0, dcb + n * H + j0, gx + row * GH + j0)
            elif s.mode == GRU:
                _gru_backward_row(B, H, gates + row * 4 * H + j0, gout + row * H + j0, hp + n * H + j0,
                                  dhb + n * H + j0, dzb + n * H + j0, gx + row * GH + j0, ghp + row * GH + j0)
            else:
                _rnn_backward_row(B, s.mode == RELU, gout + row * H + j0, out + row * H + j0, dhb + n * H + j0,
                                  gx + row * GH + j0)
        if real is float:
            if s.packed and k % _chunk_steps(s) == 0:
                if team > 1 and not by_units:
                    gl_rnn_barrier()    # the chunk's gradient rows come from every thread
                _chunk_weight_grads(s, k, w0, w1, sc)
        if by_units:
            gl_rnn_barrier()    # the step before reads every unit of this step's gradient
    # grad_h0 = grad of the first step's h W_hh^T, through W_hh (+ GRU's direct path)
    _dh_product(M, H, GH, ghp + (_time(s, 0) * N + n0) * GH, w, dhb + n0 * H, j0, j1, packed)
    free(packed)
    if s.mode == GRU:
        for n in range(n0, n1):
            for j in range(j0, j1):
                dhb[n * H + j] += dzb[n * H + j]


cdef inline bint _by_units(const Seq* s) noexcept nogil:
    """Whether the threads share the hidden units (a barrier every step) rather than the batch rows (none):
    when the batch is too small to give every thread _MIN_ROWS rows, and off the packed kernel (BLAS may
    round a product of fewer rows differently)."""
    return s.N < _num_threads * _MIN_ROWS or not s.packed


cdef int _team(const Seq* s) noexcept nogil:
    """Threads for this sequence: one when a step's product is too small to share, at most one per block of
    units when they share the units."""
    if s.N * s.G * s.H * s.H < _PARALLEL_MIN_MACS:
        return 1
    return <int>max(1, min(<idx_t>_num_threads, _blocks(s)) if _by_units(s) else _num_threads)


cdef inline idx_t _blocks(const Seq* s) noexcept nogil:
    return (s.H + _UNIT_BLOCK - 1) // _UNIT_BLOCK


cdef void _run(const Seq* s, bint backward, real* kind) noexcept nogil:
    """The whole sequence, forward or backward, over the threads."""
    cdef int nt = _team(s), team = 1, tid = 0, master
    cdef bint by_units = _by_units(s)
    cdef idx_t n0 = 0, n1 = 0, j0 = 0, j1 = 0, w0 = 0, w1 = 0
    if nt == 1:
        if backward:
            _backward_block(s, 0, s.N, 0, s.H, False, 1, 0, s.H, <real*>s.scratch)
        else:
            _forward_block(s, 0, s.N, 0, s.H, False, <real*>s.scratch)
        return
    master = gl_master_cpu()
    with parallel(num_threads=nt):
        tid = threadid()
        team = gl_rnn_team()      # the team OpenMP gave us, which may be smaller than asked
        gl_place(master, tid)
        w0 = min(s.H, _blocks(s) * tid // team * _UNIT_BLOCK)        # whole blocks of units per thread
        w1 = min(s.H, _blocks(s) * (tid + 1) // team * _UNIT_BLOCK)
        if by_units:
            n0, n1, j0, j1 = 0, s.N, w0, w1
        else:
            n0, n1, j0, j1 = s.N * tid // team, s.N * (tid + 1) // team, 0, s.H
        if backward:
            _backward_block(s, n0, n1, j0, j1, by_units, team, w0, w1,
                            <real*>s.scratch + tid * s.scratch_stride)
        else:
            _forward_block(s, n0, n1, j0, j1, by_units, <real*>s.scratch + tid * s.scratch_stride)


cdef void _fill_hprev(const Seq* s, real* hprev) noexcept nogil:
    """h_prev of every step: out shifted by one step, h0 at the first one."""
    cdef idx_t T = s.T, NH = s.N * s.H
    cdef const real* out = <const real*>s.out
    if s.reverse:
        memcpy(hprev, out + NH, (T - 1) * NH * sizeof(real))
        memcpy(hprev + (T - 1) * NH, s.h0, NH * sizeof(real))
    else:
        memcpy(hprev, s.h0, NH * sizeof(real))
        memcpy(hprev + NH, out, (T - 1) * NH * sizeof(real))


cdef void _weight_grads(const Seq* s, real* kind) noexcept nogil:
    """gw = sum over steps of hg[t]^T @ h_prev[t] (one GEMM over all steps), gb = hg summed over steps and rows:
    the weight gradients when they were not computed in chunks during the walk."""
    cdef idx_t T = s.T, N = s.N, H = s.H, GH = s.G * s.H, r, j
    cdef const real* hg = <const real*>s.ghp
    cdef const real* hprev = <const real*>s.hprev
    cdef real* gw = <real*>s.gw
    cdef real* gb = <real*>s.gb
    cdef const real* row
    if real is double or not packed_gemm(True, False, GH, H, T * N, <const float*><const void*>hg, GH,
                                         <const float*><const void*>hprev, H, <float*><void*>gw, H, _num_threads):
        par_gemm(True, False, GH, H, T * N, hg, GH, hprev, H, gw, H, _num_threads)
    memset(gb, 0, GH * sizeof(real))
    for r in range(T * N):
        row = hg + r * GH
        for j in range(GH):
            gb[j] += row[j]


# ---- entry points -------------------------------------------------------------------------------------------
cdef tuple _sizes(str op, object x_proj, object h0, object w_hh, idx_t G):
    """(T, N, H) of a call, after checking the arrays every mode shares."""
    _checked(op, "x_proj", x_proj, None, None)
    if x_proj.ndim != 3 or h0.ndim != 2:
        raise ValueError(f"{op}: x_proj must be 3-D (T, N, {G}*H) and h0 2-D (N, H), got shapes "
                         f"{tuple(x_proj.shape)} and {tuple(np.shape(h0))}")
    T, N, H = x_proj.shape[0], x_proj.shape[1], h0.shape[1]
    if T < 1 or N < 1 or H < 1:
        raise ValueError(f"{op}: needs at least one step, row and hidden unit, got x_proj {tuple(x_proj.shape)}, "
                         f"h0 {tuple(h0.shape)}")
    dt = x_proj.dtype
    _checked(op, "x_proj", x_proj, dt, (T, N, G * H))
    _checked(op, "h0", h0, dt, (N, H))
    _checked(op, "w_hh", w_hh, dt, (G * H, H))
    _too_large(op, (("x_proj elements", T * N * G * H), ("gate rows", T * N * max(G, 4) * H)), ())
    return T, N, H


cdef Seq _seq(int mode, idx_t T, idx_t N, idx_t H, idx_t G, bint reverse, dtype):
    cdef Seq s
    memset(&s, 0, sizeof(Seq))
    s.mode, s.T, s.N, s.H, s.G, s.reverse = mode, T, N, H, G, reverse
    s.packed = dtype == np.float32 and gl_packed_gemm_ok()
    return s


cdef inline void* _ptr(object a):
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)


cdef object _forward(int mode, idx_t G, str op, x_proj, h0, c0, w_hh, b_hh, bint reverse):
    T, N, H = _sizes(op, x_proj, h0, w_hh, G)
    dt = x_proj.dtype
    _checked(op, "b_hh", b_hh, dt, (G * H,))
    if mode == LSTM:
        _checked(op, "c0", c0, dt, (N, H))
    cdef Seq s = _seq(mode, T, N, H, G, reverse, dt)
    out = np.empty((T, N, H), dt)
    cells = np.empty((T, N, H), dt) if mode == LSTM else None
    gates = np.empty((T, N, 4 * H if mode == GRU else G * H), dt) if mode <= GRU else None
    cdef int nt = _team(&s)
    scratch = np.empty((nt, N * G * H), dt)     # a thread's block may hold all H units if OpenMP gives fewer threads
    s.xp, s.h0, s.c0, s.w, s.b = _ptr(x_proj), _ptr(h0), _ptr(c0), _ptr(w_hh), _ptr(b_hh)
    s.out, s.cells, s.gates, s.scratch = _ptr(out), _ptr(cells), _ptr(gates), _ptr(scratch)
    s.scratch_stride = N * G * H
    if dt == np.float32:
        with nogil:
            _run(&s, False, <float*>NULL)
    else:
        with nogil:
            _run(&s, False, <double*>NULL)
    return out, cells, gates


cdef tuple _backward(int mode, idx_t G, str op, grad_out, grad_hn, grad_cn, h0, c0, w_hh, out, cells, gates,
                     bint reverse):
    T, N, H = out.shape[0] if out.ndim == 3 else 0, h0.shape[1] if h0.ndim == 2 else 0, 0
    _checked(op, "out", out, None, None)
    if out.ndim != 3:
        raise ValueError(f"{op}: out must be 3-D (T, N, H), got shape {tuple(out.shape)}")
    T, N, H = out.shape
    if T < 1 or N < 1 or H < 1:
        raise ValueError(f"{op}: needs at least one step, row and hidden unit, got out {tuple(out.shape)}")
    dt = out.dtype
    for name, a, shape in (("grad_out", grad_out, (T, N, H)), ("grad_hn", grad_hn, (N, H)), ("h0", h0, (N, H)),
                           ("w_hh", w_hh, (G * H, H))):
        _checked(op, name, a, dt, shape)
    if mode == LSTM:
        for name, a, shape in (("grad_cn", grad_cn, (N, H)), ("c0", c0, (N, H)), ("cells", cells, (T, N, H)),
                               ("gates", gates, (T, N, 4 * H))):
            _checked(op, name, a, dt, shape)
    elif mode == GRU:
        _checked(op, "gates", gates, dt, (T, N, 4 * H))
    cdef Seq s = _seq(mode, T, N, H, G, reverse, dt)
    gx = np.empty((T, N, G * H), dt)
    ghp = np.empty((T, N, G * H), dt) if mode == GRU else gx
    dh = np.array(grad_hn, dtype=dt, copy=True)     # the later step's dh, grad_h0 at the end
    dz = np.zeros((N, H), dt) if mode == GRU else None
    dc = np.array(grad_cn, dtype=dt, copy=True) if mode == LSTM else None
    gw, gb, hprev = np.empty((G * H, H), dt), np.empty(G * H, dt), np.empty((T, N, H), dt)
    s.h0, s.c0, s.w, s.out, s.cells, s.gates = _ptr(h0), _ptr(c0), _ptr(w_hh), _ptr(out), _ptr(cells), _ptr(gates)
    s.gout, s.gx, s.ghp, s.dh, s.dz, s.dc = _ptr(grad_out), _ptr(gx), _ptr(ghp), _ptr(dh), _ptr(dz), _ptr(dc)
    s.hprev, s.gw, s.gb = _ptr(hprev), _ptr(gw), _ptr(gb)
    cdef int nt = _team(&s)
    if s.packed:
        cols = np.arange(H, dtype=np.intp)
        scratch = np.empty((nt, gl_packed_size(_chunk_steps(&s) * N, H)), dt)
        s.cols, s.scratch, s.scratch_stride = <const idx_t*>_ptr(cols), _ptr(scratch), scratch.shape[1]
    if dt == np.float32:
        with nogil:
            _fill_hprev(&s, <float*>s.hprev)
            _run(&s, True, <float*>NULL)
            if not s.packed:
                _weight_grads(&s, <float*>NULL)
    else:
        with nogil:
            _fill_hprev(&s, <double*>s.hprev)
            _run(&s, True, <double*>NULL)
            _weight_grads(&s, <double*>NULL)
    return gx, dh, dc, gw, gb


def _sharing(idx_t N, idx_t H, idx_t G, dtype):
    """How the threads set now share a sequence of batch N, H hidden units and G gates in dtype: "rows",
    "units" or "one thread"."""
    cdef Seq s = _seq(LSTM, 1, N, H, G, False, dtype)
    return "one thread" if _team(&s) == 1 else ("units" if _by_units(&s) else "rows")


def lstm_forward(x_proj, h0, c0, w_hh, b_hh, reverse):
    """(out, cells, gates); see gradlab/kernels/rnn.py."""
    out, cells, gates = _forward(LSTM, 4, "lstm_forward", x_proj, h0, c0, w_hh, b_hh, reverse)
    return out, cells, gates


def lstm_backward(grad_out, grad_hn, grad_cn, h0, c0, w_hh, out, cells, gates, reverse):
    """(grad_x_proj, grad_h0, grad_c0, grad_w_hh, grad_b_hh); see gradlab/kernels/rnn.py."""
    return _backward(LSTM, 4, "lstm_backward", grad_out, grad_hn, grad_cn, h0, c0, w_hh, out, cells, gates,
                     reverse)


def gru_forward(x_proj, h0, w_hh, b_hh, reverse):
    """(out, gates); see gradlab/kernels/rnn.py."""
    out, _, gates = _forward(GRU, 3, "gru_forward", x_proj, h0, None, w_hh, b_hh, reverse)
    return out, gates


def gru_backward(grad_out, grad_hn, h0, w_hh, out, gates, reverse):
    """(grad_x_proj, grad_h0, grad_w_hh, grad_b_hh); see gradlab/kernels/rnn.py."""
    gx, dh, _, gw, gb = _backward(GRU, 3, "gru_backward", grad_out, grad_hn, None, h0, None, w_hh, out, None,
                                  gates, reverse)
    return gx, dh, gw, gb


def rnn_forward(x_proj, h0, w_hh, b_hh, relu, reverse):
    """out; see gradlab/kernels/rnn.py."""
    return _forward(RELU if relu else TANH, 1, "rnn_forward", x_proj, h0, None, w_hh, b_hh, reverse)[0]


def rnn_backward(grad_out, grad_hn, h0, w_hh, out, relu, reverse):
    """(grad_x_proj, grad_h0, grad_w_hh, grad_b_hh); see gradlab/kernels/rnn.py."""
    gx, dh, _, gw, gb = _backward(RELU if relu else TANH, 1, "rnn_backward", grad_out, grad_hn, None, h0, None,
                                  w_hh, out, None, None, reverse)
    return gx, dh, gw, gb
