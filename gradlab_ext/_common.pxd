# Shared inline helpers for the gradlab kernels: the fused float type, a
# GIL-free GEMM on row-major matrices, and OpenMP queries that still compile
# when OpenMP is not available.

from libc.stdlib cimport malloc, free
from libc.string cimport memcpy
from cython.parallel cimport prange, parallel, threadid
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


cdef extern from *:
    """
    /* Thread placement for the OpenMP workers (Linux).  The scheduler may wake
       a worker on the CPU of the thread that woke it and leave it there, two
       threads on one core (docs/performance.md).  So each worker pins itself
       to a CPU other than the master's (the master is never pinned; it is the
       user's thread).  Workers are re-placed when the master has moved.  Off
       when the user binds threads himself (OMP_PROC_BIND). */
    #if defined(__linux__)
    #include <sched.h>
    static int gl_cpus[1024];
    static int gl_ncpus = 0;
    static int gl_pin_on = 0;
    static __thread int gl_pinned = -1;
    static void gl_pin_init(int enable) {
        cpu_set_t set; int i;
        gl_ncpus = 0;
        gl_pin_on = 0;
        if (!enable || sched_getaffinity(0, sizeof(set), &set) != 0) return;
        for (i = 0; i < CPU_SETSIZE && gl_ncpus < 1024; i++)
            if (CPU_ISSET(i, &set)) gl_cpus[gl_ncpus++] = i;
        gl_pin_on = gl_ncpus > 1;
    }
    static int gl_master_cpu(void) { return gl_pin_on ? sched_getcpu() : -1; }
    static void gl_place(int master_cpu, int tid) {
        int k, target; cpu_set_t set;
        if (tid <= 0 || master_cpu < 0 || !gl_pin_on) return;
        for (k = 0; k < gl_ncpus && gl_cpus[k] != master_cpu; k++) ;
        if (k == gl_ncpus) k = 0;
        target = gl_cpus[(k + tid) % gl_ncpus];
        if (target == gl_pinned) return;
        CPU_ZERO(&set);
        CPU_SET(target, &set);
        if (sched_setaffinity(0, sizeof(set), &set) == 0) gl_pinned = target;
    }
    #else
    static void gl_pin_init(int enable) { (void)enable; }
    static int gl_master_cpu(void) { return -1; }
    static void gl_place(int master_cpu, int tid) { (void)master_cpu; (void)tid; }
    #endif
    """
    void gl_pin_init(int enable) noexcept nogil
    int gl_master_cpu() noexcept nogil
    void gl_place(int master_cpu, int tid) noexcept nogil


cdef extern from *:
    """
    /* The BLAS's own thread count, to keep BLAS on the calling thread while our
       OpenMP threads each run GEMMs (two thread pools on two cores fight, and
       OpenBLAS's spinning workers collapse when another process takes a core;
       docs/performance.md).  The library is the one scipy's cython_blas calls:
       found from the address of its sgemm, then its set/get functions by name
       (scipy's OpenBLAS, or a plain OpenBLAS).  Without them nothing changes. */
    #if defined(__linux__) || defined(__APPLE__)
    #include <dlfcn.h>
    static void (*gl_blas_set)(int) = 0;
    static int (*gl_blas_get)(void) = 0;
    static int gl_blas_ready = 0;
    static void gl_blas_find(void* inside) {
        static const char* set_names[] = {"scipy_openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                                          "openblas_set_num_threads", "openblas_set_num_threads64_"};
        static const char* get_names[] = {"scipy_openblas_get_num_threads", "scipy_openblas_get_num_threads64_",
                                          "openblas_get_num_threads", "openblas_get_num_threads64_"};
        Dl_info info; void* h; int i;
        if (gl_blas_ready) return;
        if (inside && dladdr(inside, &info) && info.dli_fname
                && (h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD)) != 0) {
            for (i = 0; i < 4; i++) {
                void* s = dlsym(h, set_names[i]);
                void* g = dlsym(h, get_names[i]);
                if (s && g) {
                    gl_blas_set = (void (*)(int))s;
                    gl_blas_get = (int (*)(void))g;
                    break;
                }
            }
        }
        gl_blas_ready = 1;
    }
    #else
    static void (*gl_blas_set)(int) = 0;
    static int (*gl_blas_get)(void) = 0;
    static void gl_blas_find(void* inside) { (void)inside; }
    #endif
    /* BLAS on the calling thread from now on; returns what to pass to gl_blas_restore. */
    static int gl_blas_single(void) {
        int n;
        if (!gl_blas_get) return 0;
        n = gl_blas_get();
        if (n > 1) gl_blas_set(1);
        return n;
    }
    static void gl_blas_restore(int n) { if (n > 1 && gl_blas_set) gl_blas_set(n); }
    static int gl_blas_threads(void) { return gl_blas_get ? gl_blas_get() : 0; }
    """
    void gl_blas_find(void* inside) noexcept nogil
    int gl_blas_single() noexcept nogil
    void gl_blas_restore(int n) noexcept nogil
    int gl_blas_threads() noexcept nogil


cdef inline int blas_single() noexcept nogil:
    """Keep BLAS on the calling thread (its own thread count set to 1) until
    blas_restore(returned value): for the OpenMP regions whose GEMMs are big
    enough that OpenBLAS would start its own threads inside ours."""
    gl_blas_find(<void*>sgemm)
    return gl_blas_single()


cdef inline void blas_restore(int previous) noexcept nogil:
    gl_blas_restore(previous)


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


cdef extern from "_sgemm_packed.h":
    enum: GL_NR
    int gl_packed_gemm_ok() noexcept nogil
    Py_ssize_t gl_packed_size(Py_ssize_t k, Py_ssize_t n) noexcept nogil
    void gl_pack_b(Py_ssize_t k, Py_ssize_t n, const float* base, const Py_ssize_t* col, Py_ssize_t rs,
                   float* out) noexcept nogil
    Py_ssize_t gl_panel_count(Py_ssize_t n) noexcept nogil
    Py_ssize_t gl_panel_start(Py_ssize_t n, Py_ssize_t idx) noexcept nogil
    void gl_pack_panel(Py_ssize_t k, Py_ssize_t n, Py_ssize_t p, const float* base, const Py_ssize_t* col,
                       Py_ssize_t rs, float* out) noexcept nogil
    void gl_packed_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* a, Py_ssize_t ra, Py_ssize_t ka,
                        const float* bp, float* c, Py_ssize_t ldc, const float* bias) noexcept nogil
    void gl_packed_gemm_into(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* a, Py_ssize_t ra,
                             Py_ssize_t ka, const float* bp, float* c, Py_ssize_t ldc, const float* bias,
                             int accumulate) noexcept nogil


cdef enum:
    PACKED_ROWS = 64    # the rows of C a thread takes at a time in packed_gemm


cdef inline bint packed_gemm(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                             const float* a, Py_ssize_t lda, const float* b, Py_ssize_t ldb,
                             float* c, Py_ssize_t ldc, int nthreads, const float* bias=NULL) noexcept nogil:
    """Row-major float32 C (m x n) = op(A) @ op(B) (+ bias, n floats, on every row) on _sgemm_packed.h's kernel: op(B) packed once (its panels
    shared among the threads), then blocks of PACKED_ROWS rows of C over `nthreads` threads; the same bits
    for any count.  False, with C untouched, when this CPU lacks AVX2/FMA or memory ran out: then the
    caller uses BLAS."""
    cdef float* packed
    cdef Py_ssize_t* col
    cdef Py_ssize_t ra = 1 if trans_a else lda, ka = lda if trans_a else 1, rs = 1 if trans_b else ldb
    cdef Py_ssize_t blocks = (m + PACKED_ROWS - 1) // PACKED_ROWS, panels = gl_panel_count(n), i, i0, j, p
    cdef int master
    if not gl_packed_gemm_ok():
        return False
    col = <Py_ssize_t*>malloc(n * sizeof(Py_ssize_t))
    packed = <float*>malloc(gl_packed_size(k, n) * sizeof(float))
    if col == NULL or packed == NULL:
        free(col)
        free(packed)
        return False
    for j in range(n):
        col[j] = j * ldb if trans_b else j          # op(B)[kk][j] = b[col[j] + kk * rs]
    nthreads = <int>min(<Py_ssize_t>nthreads, max(blocks, panels))
    if nthreads > 1:
        master = gl_master_cpu()
        with parallel(num_threads=nthreads):
            gl_place(master, threadid())
            for p in prange(panels, schedule="static"):
                gl_pack_panel(k, n, gl_panel_start(n, p), b, col, rs, packed)
            for i in prange(blocks, schedule="static"):
                i0 = i * PACKED_ROWS
                gl_packed_gemm(min(<Py_ssize_t>PACKED_ROWS, m - i0), n, k, a + i0 * ra, ra, ka, packed,
                               c + i0 * ldc, ldc, bias)
    else:
        gl_pack_b(k, n, b, col, rs, packed)
        gl_packed_gemm(m, n, k, a, ra, ka, packed, c, ldc, bias)
    free(col)
    free(packed)
    return True


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


cdef inline double vsum64(const real* x, Py_ssize_t n) noexcept nogil:
    """sum(x[:n]): 16 partial sums in x's type (vectorisable; the runs summed are short),
    added up in float64."""
    cdef real p[16]
    cdef double total = 0
    cdef Py_ssize_t i = 0, k
    for k in range(16):
        p[k] = 0
    while i + 16 <= n:
        for k in range(16):
            p[k] += x[i + k]
        i += 16
    while i < n:
        total += x[i]
        i += 1
    for k in range(16):
        total += p[k]
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


cdef inline void gemm_tile(bint trans_a, bint trans_b, Py_ssize_t mm, Py_ssize_t nn,
                           Py_ssize_t k, Py_ssize_t kc, const real* a, Py_ssize_t lda,
                           const real* b, Py_ssize_t ldb, real* c, Py_ssize_t ldc) noexcept nogil:
    """One tile of par_gemm: a at its first row, b at its first column; the
    reduction in chunks of kc (the first chunk overwrites c, the others add)."""
    cdef Py_ssize_t k0 = 0, kk
    while k0 < k:
        kk = min(kc, k - k0)
        gemm_rm(trans_a, trans_b, <int>mm, <int>nn, <int>kk, 1,
                a + (k0 * lda if trans_a else k0), <int>lda,
                b + (k0 if trans_b else k0 * ldb), <int>ldb,
                0 if k0 == 0 else 1, c, <int>ldc)
        k0 += kc


cdef struct TiledGemm:
    # row-major C (m x n) = op(A) @ op(B), cut into tiles of mt x nt, the
    # reduction in chunks of kc; tiles are numbered row by row (tn per row)
    bint ta, tb
    Py_ssize_t m, n, k, kc, mt, nt, tn, tiles
    const void* a
    Py_ssize_t lda
    const void* b
    Py_ssize_t ldb
    void* c
    Py_ssize_t ldc


cdef inline TiledGemm tiled_gemm(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n,
                                 Py_ssize_t k, const void* a, Py_ssize_t lda, const void* b,
                                 Py_ssize_t ldb, void* c, Py_ssize_t ldc) noexcept nogil:
    """Plan the tiles of a GEMM so that each tile (with the reduction split into
    chunks of at most 256) is one BLAS call small enough that OpenBLAS runs it
    on the calling thread: the threads are ours, BLAS never starts its own."""
    cdef TiledGemm j
    cdef Py_ssize_t area, mt = 8
    j.ta, j.tb, j.m, j.n, j.k = trans_a, trans_b, m, n, k
    j.a, j.lda, j.b, j.ldb, j.c, j.ldc = a, lda, b, ldb, c, ldc
    j.kc = max(1, min(k, 256))
    area = max(64, BLAS_SINGLE_THREAD_MNK // j.kc)
    while mt * mt * 4 <= area:
        mt *= 2                       # about sqrt(area), a power of two
    j.mt = max(1, min(m, mt))
    j.nt = max(1, min(n, area // j.mt))
    j.mt = max(1, min(m, area // j.nt))
    j.tn = (n + j.nt - 1) // j.nt
    j.tiles = ((m + j.mt - 1) // j.mt) * j.tn if m > 0 and n > 0 else 0
    return j


cdef inline void run_tile(const TiledGemm* j, Py_ssize_t t, real* kind) noexcept nogil:
    """Compute tile t of j (kind only selects float or double)."""
    cdef Py_ssize_t i0 = (t // j.tn) * j.mt, j0 = (t % j.tn) * j.nt
    cdef const real* a = <const real*>j.a
    cdef const real* b = <const real*>j.b
    gemm_tile(j.ta, j.tb, min(j.mt, j.m - i0), min(j.nt, j.n - j0), j.k, j.kc,
              a + (i0 if j.ta else i0 * j.lda), j.lda,
              b + (j0 * j.ldb if j.tb else j0), j.ldb,
              <real*>j.c + i0 * j.ldc + j0, j.ldc)


cdef inline void par_gemm(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                          const real* a, Py_ssize_t lda, const real* b, Py_ssize_t ldb,
                          real* c, Py_ssize_t ldc, int nthreads) noexcept nogil:
    """Row-major C (m x n) = op(A) @ op(B), its tiles spread over `nthreads` OpenMP threads."""
    par_gemm2(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc,
              False, False, 0, 0, 0, NULL, 1, NULL, 1, NULL, 1, nthreads)


cdef inline void par_gemm2(bint ta1, bint tb1, Py_ssize_t m1, Py_ssize_t n1, Py_ssize_t k1,
                           const real* a1, Py_ssize_t lda1, const real* b1, Py_ssize_t ldb1,
                           real* c1, Py_ssize_t ldc1,
                           bint ta2, bint tb2, Py_ssize_t m2, Py_ssize_t n2, Py_ssize_t k2,
                           const real* a2, Py_ssize_t lda2, const real* b2, Py_ssize_t ldb2,
                           real* c2, Py_ssize_t ldc2, int nthreads) noexcept nogil:
    """Two independent GEMMs (as par_gemm) in one parallel region: the threads
    are woken once.  A GEMM with m, n or k of 0 is skipped (k = 0 leaves C as is)."""
    cdef TiledGemm j1 = tiled_gemm(ta1, tb1, m1, n1, k1, a1, lda1, b1, ldb1, c1, ldc1)
    cdef TiledGemm j2 = tiled_gemm(ta2, tb2, m2, n2, k2, a2, lda2, b2, ldb2, c2, ldc2)
    cdef Py_ssize_t t, t1 = j1.tiles if k1 > 0 else 0
    cdef Py_ssize_t total = t1 + (j2.tiles if k2 > 0 else 0)
    cdef int master = gl_master_cpu()
    if total < 2:
        nthreads = 1
    with parallel(num_threads=nthreads):
        gl_place(master, threadid())
        for t in prange(total, schedule='dynamic'):
            if t < t1:
                run_tile(&j1, t, c1)
            else:
                run_tile(&j2, t - t1, c2)
