/* gradlab_ext/_sgemm_packed.h: C = A @ B in float32 with B packed once and used many times
   (included through _common.pxd by matmul.pyx and rnn.pyx).

   A recurrent layer multiplies by the same W_hh at every step, a small product (batch x H by
   H x 4H).  BLAS packs W_hh again on every call, which costs about as much as the product itself
   at these sizes; here it is packed once per sequence, in panels of 24 columns (16 at the right
   edge), each panel's rows contiguous, and a 4 x 24 (or 4 x 16) register tile runs over it with
   AVX2 and FMA.  A transposed A is copied a block at a time (gl_pack_a).

   Every element of C is one float accumulator summed over k in order from 0, so its bits do not
   depend on how rows and columns are cut among threads or tiles.

   gl_packed_gemm_ok() says whether this CPU (and its OS) runs AVX2 and FMA; when it does not, or
   the compiler is not GCC or Clang on x86-64, the caller keeps to BLAS. */
#ifndef GL_SGEMM_PACKED_H
#define GL_SGEMM_PACKED_H
#include <stdlib.h>
#include <string.h>
#include <Python.h>

#define GL_MR 4
#define GL_NR 24
#ifndef GL_KC
#define GL_KC 256       /* k is cut into blocks of this many, so a panel's block stays in L1 */
#endif
#ifndef GL_MC
#define GL_MC 64        /* and the rows of A into blocks of this many, so a block of A stays in L2 */
#endif

/* B's columns are cut into panels of 24 columns and, at the right edge, of 16, chosen so that the common
   widths (64, 128, 512, ...) need no padding: with 24 alone, 128 columns would take six panels, the last
   two thirds padding.  The width of the panel that starts with `rem` columns left: */
static Py_ssize_t gl_panel_width(Py_ssize_t rem) {
    if (rem > 32 || (rem > 16 && rem <= 24))
        return GL_NR;
    return 16;
}

/* how many panels n columns take, and where panel `idx` starts */
static Py_ssize_t gl_panel_count(Py_ssize_t n) {
    Py_ssize_t p = 0, count = 0;
    for (; p < n; p += gl_panel_width(n - p))
        count++;
    return count;
}

static Py_ssize_t gl_panel_start(Py_ssize_t n, Py_ssize_t idx) {
    Py_ssize_t p = 0;
    for (; idx > 0; idx--)
        p += gl_panel_width(n - p);
    return p;
}

/* floats of packed storage for k rows and n columns of B (the last panel may be padded by up to 15) */
static Py_ssize_t gl_packed_size(Py_ssize_t k, Py_ssize_t n) {
    return (n + 16) * k;
}

/* Pack the panel of B (k x n), B[kk][j] = base[col[j] + kk * rs], that starts at column p: its w columns
   (zero-padded on the right past n) row after row, B[0][p .. p+w), B[1][...], ..., at out + p * k.  The
   loops read the source along whichever of k and j it is contiguous in. */
static void gl_pack_panel(Py_ssize_t k, Py_ssize_t n, Py_ssize_t p, const float* base, const Py_ssize_t* col,
                          Py_ssize_t rs, float* out) {
    Py_ssize_t kk, j, w = gl_panel_width(n - p), valid = n - p < w ? n - p : w;
    float* panel = out + p * k;
    if (valid < w)
        for (kk = 0; kk < k; kk++)
            memset(panel + kk * w + valid, 0, (size_t)(w - valid) * sizeof(float));
    if (rs == 1) {
        for (j = 0; j < valid; j++) {
            const float* src = base + col[p + j];
            for (kk = 0; kk < k; kk++)
                panel[kk * w + j] = src[kk];
        }
    } else if (col[p + valid - 1] - col[p] == valid - 1) {     /* the panel's columns side by side */
        for (kk = 0; kk < k; kk++)
            memcpy(panel + kk * w, base + col[p] + kk * rs, (size_t)valid * sizeof(float));
    } else {
        for (kk = 0; kk < k; kk++)
            for (j = 0; j < valid; j++)
                panel[kk * w + j] = base[col[p + j] + kk * rs];
    }
}

/* every panel of B */
static void gl_pack_b(Py_ssize_t k, Py_ssize_t n, const float* base, const Py_ssize_t* col, Py_ssize_t rs,
                      float* out) {
    Py_ssize_t p;
    for (p = 0; p < n; p += gl_panel_width(n - p))
        gl_pack_panel(k, n, p, base, col, rs, out);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* GRADLAB_PACKED_GEMM=0 keeps every product on BLAS (to compare the two) */
static int gl_packed_gemm_ok(void) {
    static int ok = -1;
    const char* setting;
    if (ok < 0) {
        __builtin_cpu_init();
        setting = getenv("GRADLAB_PACKED_GEMM");
        ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
             && !(setting != NULL && strcmp(setting, "0") == 0);
    }
    return ok;
}

/* C[0:m, 0:n] (+)= A[0:m, 0:kc] @ panel, for m <= MR rows and n <= 8 * nv columns of a panel nv vectors
   (24 or 16 floats) wide; accumulate adds to C, else C starts from bias (8 * nv floats) when given.  A[i][kk]
   is a[i * ra + kk * ka].  Rows of A past m read row 0 (their results are dropped).  nv is a constant in each
   caller below, so the loops over it and over the rows unroll into 8 or 12 accumulators in registers. */
__attribute__((target("avx2,fma"), always_inline))
static inline void gl_tile(const int nv, Py_ssize_t kc, const float* a, Py_ssize_t ra, Py_ssize_t ka,
                           const float* panel, float* c, Py_ssize_t ldc, int m, int n, int accumulate,
                           const float* bias) {
    const float* a0 = a;
    const float* a1 = a + (m > 1 ? ra : 0);
    const float* a2 = a + (m > 2 ? 2 * ra : 0);
    const float* a3 = a + (m > 3 ? 3 * ra : 0);
    __m256 c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32, b0, b1, b2, av;
    float tile[GL_MR * GL_NR];
    const float* src = c;
    Py_ssize_t ld = ldc, kk;
    const int w = 8 * nv, wide = nv == 3;   /* wide: the third vector of each row is in use */
    int i, j, full = m == GL_MR && n == w;
    if (accumulate && !full) {      /* an edge tile: its C goes through a full-size tile */
        memset(tile, 0, sizeof(tile));
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++)
                tile[i * GL_NR + j] = c[i * ldc + j];
        src = tile;
        ld = GL_NR;
    }
    c02 = c12 = c22 = c32 = b2 = _mm256_setzero_ps();
    if (accumulate) {
        c00 = _mm256_loadu_ps(src);          c01 = _mm256_loadu_ps(src + 8);
        c10 = _mm256_loadu_ps(src + ld);     c11 = _mm256_loadu_ps(src + ld + 8);
        c20 = _mm256_loadu_ps(src + 2 * ld); c21 = _mm256_loadu_ps(src + 2 * ld + 8);
        c30 = _mm256_loadu_ps(src + 3 * ld); c31 = _mm256_loadu_ps(src + 3 * ld + 8);
        if (wide) {
            c02 = _mm256_loadu_ps(src + 16);          c12 = _mm256_loadu_ps(src + ld + 16);
            c22 = _mm256_loadu_ps(src + 2 * ld + 16); c32 = _mm256_loadu_ps(src + 3 * ld + 16);
        }
    } else if (bias != NULL) {      /* every row starts from the bias */
        c00 = c10 = c20 = c30 = _mm256_loadu_ps(bias);
        c01 = c11 = c21 = c31 = _mm256_loadu_ps(bias + 8);
        if (wide)
            c02 = c12 = c22 = c32 = _mm256_loadu_ps(bias + 16);
    } else {
        c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = _mm256_setzero_ps();
    }
    for (kk = 0; kk < kc; kk++) {
        b0 = _mm256_loadu_ps(panel);
        b1 = _mm256_loadu_ps(panel + 8);
        if (wide)
            b2 = _mm256_loadu_ps(panel + 16);
        panel += w;
        av = _mm256_broadcast_ss(a0 + kk * ka);
        c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
        if (wide) c02 = _mm256_fmadd_ps(av, b2, c02);
        av = _mm256_broadcast_ss(a1 + kk * ka);
        c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
        if (wide) c12 = _mm256_fmadd_ps(av, b2, c12);
        av = _mm256_broadcast_ss(a2 + kk * ka);
        c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
        if (wide) c22 = _mm256_fmadd_ps(av, b2, c22);
        av = _mm256_broadcast_ss(a3 + kk * ka);
        c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
        if (wide) c32 = _mm256_fmadd_ps(av, b2, c32);
    }
    {
        float* d = full ? c : tile;     /* an edge tile goes through the full-size tile */
        Py_ssize_t ldd = full ? ldc : GL_NR;
        _mm256_storeu_ps(d, c00);           _mm256_storeu_ps(d + 8, c01);
        _mm256_storeu_ps(d + ldd, c10);     _mm256_storeu_ps(d + ldd + 8, c11);
        _mm256_storeu_ps(d + 2 * ldd, c20); _mm256_storeu_ps(d + 2 * ldd + 8, c21);
        _mm256_storeu_ps(d + 3 * ldd, c30); _mm256_storeu_ps(d + 3 * ldd + 8, c31);
        if (wide) {
            _mm256_storeu_ps(d + 16, c02);           _mm256_storeu_ps(d + ldd + 16, c12);
            _mm256_storeu_ps(d + 2 * ldd + 16, c22); _mm256_storeu_ps(d + 3 * ldd + 16, c32);
        }
    }
    if (!full)
        for (i = 0; i < m; i++)
            memcpy(c + i * ldc, tile + i * GL_NR, (size_t)n * sizeof(float));
}

__attribute__((target("avx2,fma")))
static void gl_tile_4x24(Py_ssize_t kc, const float* a, Py_ssize_t ra, Py_ssize_t ka, const float* panel, float* c,
                         Py_ssize_t ldc, int m, int n, int accumulate, const float* bias) {
    gl_tile(3, kc, a, ra, ka, panel, c, ldc, m, n, accumulate, bias);
}

__attribute__((target("avx2,fma")))
static void gl_tile_4x16(Py_ssize_t kc, const float* a, Py_ssize_t ra, Py_ssize_t ka, const float* panel, float* c,
                         Py_ssize_t ldc, int m, int n, int accumulate, const float* bias) {
    gl_tile(2, kc, a, ra, ka, panel, c, ldc, m, n, accumulate, bias);
}

/* A's block of rows i0:i1 and k k0:k0+kc, when A is read down its columns (ka > 1, a transposed A such as a
   weight gradient's g^T), copied tile by tile into buf: tile t's A[t*MR + r][kk] at buf[t*GL_ASTRIDE(kc) + kk*MR + r].
   Read in place, the tile's broadcasts would step ka floats apart, and at a power-of-two ka those lines fall
   into a few L1 sets and evict each other; the tiles are one cache line more than MR*kc apart for the same
   reason, as the copy writes to all of them at once. */
#define GL_ASTRIDE(kc) (GL_MR * (kc) + 16)
#ifndef GL_PREFETCH_A
#define GL_PREFETCH_A 16
#endif
static void gl_pack_a(Py_ssize_t rows, Py_ssize_t kc, const float* a, Py_ssize_t ka, float* buf) {
    Py_ssize_t kk, t, full = rows / GL_MR;
    for (kk = 0; kk < kc; kk++) {
        const float* src = a + kk * ka;
        float* dst = buf + kk * GL_MR;
        for (t = 0; t < rows && kk + GL_PREFETCH_A < kc; t += 16)   /* the rows ahead: no stride prefetcher follows */
            __builtin_prefetch(src + GL_PREFETCH_A * ka + t);
        for (t = 0; t < full; t++)     /* a tile's MR rows are side by side in the source */
            memcpy(dst + t * GL_ASTRIDE(kc), src + t * GL_MR, GL_MR * sizeof(float));
        if (full * GL_MR < rows)
            memcpy(dst + full * GL_ASTRIDE(kc), src + full * GL_MR, (size_t)(rows - full * GL_MR) * sizeof(float));
    }
}

/* C (m x n, row stride ldc) = A (m x k, A[i][kk] = a[i * ra + kk * ka]) @ B (+ bias, n floats, on every row
   when not NULL), B packed by gl_pack_b(k, n, ...); with accumulate, C += A @ B instead */
static void gl_packed_gemm_into(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* a, Py_ssize_t ra,
                                Py_ssize_t ka, const float* bp, float* c, Py_ssize_t ldc, const float* bias,
                                int accumulate) {
    Py_ssize_t p, i, i0, i1, k0, kc;
    float bias_nr[GL_NR];
    float* abuf = ra == 1 && ka > 1 && m > 1 ? (float*)malloc(GL_MC / GL_MR * GL_ASTRIDE(GL_KC) * sizeof(float)) : NULL;
    Py_ssize_t tra = abuf != NULL ? 1 : ra, tka = abuf != NULL ? GL_MR : ka;    /* how the tiles read A */
    for (i0 = 0; i0 < m; i0 += GL_MC) {
        i1 = m - i0 < GL_MC ? m : i0 + GL_MC;
        for (k0 = 0; k0 < k; k0 += GL_KC) {
            kc = k - k0 < GL_KC ? k - k0 : GL_KC;
            if (abuf != NULL)
                gl_pack_a(i1 - i0, kc, a + i0 + k0 * ka, ka, abuf);
            for (p = 0; p < n; p += gl_panel_width(n - p)) {
                int pw = (int)gl_panel_width(n - p), w = n - p < pw ? (int)(n - p) : pw;
                void (*tile)(Py_ssize_t, const float*, Py_ssize_t, Py_ssize_t, const float*, float*, Py_ssize_t, int,
                             int, int, const float*) = pw == GL_NR ? gl_tile_4x24 : gl_tile_4x16;
                if (bias != NULL) {
                    memset(bias_nr, 0, sizeof(bias_nr));
                    memcpy(bias_nr, bias + p, (size_t)w * sizeof(float));
                }
                for (i = i0; i < i1; i += GL_MR) {
                    int rows = i1 - i < GL_MR ? (int)(i1 - i) : GL_MR;
                    if (i + 2 * GL_MR <= i1) {  /* the next tile's C: a short k leaves too little time to wait for it */
                        int r;
                        for (r = 0; r < GL_MR; r++) {
                            __builtin_prefetch(c + (i + GL_MR + r) * ldc + p, 1);
                            __builtin_prefetch(c + (i + GL_MR + r) * ldc + p + w - 1, 1);
                        }
                    }
                    tile(kc, abuf != NULL ? abuf + (i - i0) / GL_MR * GL_ASTRIDE(kc) : a + i * ra + k0 * ka,
                         tra, tka, bp + p * k + k0 * pw, c + i * ldc + p, ldc, rows, w, accumulate || k0 > 0,
                         bias != NULL ? bias_nr : NULL);
                }
            }
        }
    }
    free(abuf);
}

static void gl_packed_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* a, Py_ssize_t ra, Py_ssize_t ka,
                           const float* bp, float* c, Py_ssize_t ldc, const float* bias) {
    gl_packed_gemm_into(m, n, k, a, ra, ka, bp, c, ldc, bias, 0);
}
#else
static int gl_packed_gemm_ok(void) { return 0; }
static void gl_packed_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* a, Py_ssize_t ra, Py_ssize_t ka,
                           const float* bp, float* c, Py_ssize_t ldc, const float* bias) {
    (void)m; (void)n; (void)k; (void)a; (void)ra; (void)ka; (void)bp; (void)c; (void)ldc; (void)bias;
}
static void gl_packed_gemm_into(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* a, Py_ssize_t ra,
                                Py_ssize_t ka, const float* bp, float* c, Py_ssize_t ldc, const float* bias,
                                int accumulate) {
    (void)accumulate;
    gl_packed_gemm(m, n, k, a, ra, ka, bp, c, ldc, bias);
}
#endif
#endif
