/* gradlab_ext/_conv_direct.h: float32 convolutions that read the padded input in place instead of unfolding
   it (included by conv.pyx; the x86-64-v3 build defines GL_CONV_DIRECT and has the loops, the baseline
   build stubs that are never called).  Stride 1, dilation 1, no groups; docs/performance.md.
   - gl_direct_forward, thin inputs: a network's first layer sees one to three channels (LeNet-5's 5x5
     over one channel: a GEMM depth of 25, six output channels, where im2col writes 25 copies of the
     image for a product too thin for the GEMM rate).  32 output columns of three output channels sit in
     twelve registers while every (channel, kernel row, kernel column) tap is added.
   - gl_direct_forward16 / gl_direct_wgrad16, 16 output channels over a few hundred taps: tiles of six
     output pixels (or six taps) by 16 channels.
   - gl_transpose8_f, 8 x 8 blocks through registers (also the band backward's transpose).

   The caller copies each sample's planes into `xp` with their padding as zeros, rows `prow` floats
   apart, planes `pplane` floats apart (for gl_direct_forward prow >= 32 * strips + kw - 1, so a strip's
   last vectors read inside the row). */
#ifndef GL_CONV_DIRECT_H
#define GL_CONV_DIRECT_H
#include <string.h>

#define GL_STRIP 32     /* output columns a strip computes at a time: four vectors */

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define GL_CONV_DIRECT 1

/* the first `valid` columns of a strip: whole vectors, then halves, pairs and singles (no masked store,
   slow on AMD, and no copy through memory) */
static inline void gl_store_strip(float* out, __m256 a0, __m256 a1, __m256 a2, __m256 a3, int valid) {
    __m256 rest = a3;
    __m128 h;
    int r;
    if (valid == GL_STRIP) {
        _mm256_storeu_ps(out, a0);
        _mm256_storeu_ps(out + 8, a1);
        _mm256_storeu_ps(out + 16, a2);
        _mm256_storeu_ps(out + 24, a3);
        return;
    }
    if (valid >= 8) { _mm256_storeu_ps(out, a0); rest = a1; }
    if (valid >= 16) { _mm256_storeu_ps(out + 8, a1); rest = a2; }
    if (valid >= 24) { _mm256_storeu_ps(out + 16, a2); rest = a3; }
    if (valid < 8)
        rest = a0;
    out += valid & ~7;
    r = valid & 7;
    h = _mm256_castps256_ps128(rest);
    if (r >= 4) {
        _mm_storeu_ps(out, h);
        h = _mm256_extractf128_ps(rest, 1);
        out += 4;
        r -= 4;
    }
    if (r >= 2) {
        _mm_storel_pi((__m64*)out, h);
        h = _mm_movehl_ps(h, h);
        out += 2;
        r -= 2;
    }
    if (r)
        _mm_store_ss(out, h);
}

/* Output channels co .. co + CO (CO = 2 or 3, a constant in each instance) of y (Cout planes of Ho x Wo) =
   bias + the convolution of one sample's padded planes with w (Cout x C x kh x kw), for output row oh and
   the strip at column s0.  Each output is the bias, then its taps added in (c, i, j) order.  4 * CO
   accumulators (three channels leave the multiply-adds enough independent chains to hide their
   latency), each input vector loaded once for all CO of them. */
__attribute__((always_inline))
static inline void gl_direct_strip(const int CO, int co, int oh, int s0, const float* xp, Py_ssize_t prow,
                                   Py_ssize_t pplane, int C, int kh, int kw, const float* w, const float* bias,
                                   int Cout, float* y, int Ho, int Wo) {
    int K = C * kh * kw, c, i, j;
    int last = CO == 3 ? co + 2 : co + 1 < Cout ? co + 1 : co;    /* an odd last channel is computed twice */
    Py_ssize_t L = (Py_ssize_t)Ho * Wo;
    const float* w0 = w + (Py_ssize_t)co * K;
    const float* w1 = w + (Py_ssize_t)(co + 1 < Cout ? co + 1 : co) * K;
    const float* w2 = w + (Py_ssize_t)last * K;
    float* out = y + co * L + (Py_ssize_t)oh * Wo + s0;
    int valid = Wo - s0 < GL_STRIP ? Wo - s0 : GL_STRIP;
    __m256 a0, a1, a2, a3, b0, b1, b2, b3, d0, d1, d2, d3;
    a0 = a1 = a2 = a3 = _mm256_set1_ps(bias != NULL ? bias[co] : 0.0f);
    b0 = b1 = b2 = b3 = _mm256_set1_ps(bias != NULL ? bias[co + 1 < Cout ? co + 1 : co] : 0.0f);
    d0 = d1 = d2 = d3 = _mm256_set1_ps(bias != NULL ? bias[last] : 0.0f);
    for (c = 0; c < C; c++)
        for (i = 0; i < kh; i++) {
            const float* r = xp + c * pplane + (oh + i) * prow + s0;
            const float* u0 = w0 + (c * kh + i) * kw;
            const float* u1 = w1 + (c * kh + i) * kw;
            const float* u2 = w2 + (c * kh + i) * kw;
            for (j = 0; j < kw; j++) {
                __m256 f0 = _mm256_broadcast_ss(u0 + j), f1 = _mm256_broadcast_ss(u1 + j), f2, x;
                if (CO == 3)
                    f2 = _mm256_broadcast_ss(u2 + j);
#define GL_TAP(av, bv, dv, off) x = _mm256_loadu_ps(r + j + (off)); \
                __asm__("" : "+x"(x));      /* one load for all CO products, not one each */ \
                av = _mm256_fmadd_ps(x, f0, av); bv = _mm256_fmadd_ps(x, f1, bv); \
                if (CO == 3) dv = _mm256_fmadd_ps(x, f2, dv);
                GL_TAP(a0, b0, d0, 0)
                GL_TAP(a1, b1, d1, 8)
                GL_TAP(a2, b2, d2, 16)
                GL_TAP(a3, b3, d3, 24)
#undef GL_TAP
            }
        }
    gl_store_strip(out, a0, a1, a2, a3, valid);
    if (co + 1 < Cout)
        gl_store_strip(out + L, b0, b1, b2, b3, valid);
    if (CO == 3)
        gl_store_strip(out + 2 * L, d0, d1, d2, d3, valid);
}

/* y (Cout planes of Ho x Wo) = bias + the convolution of one sample's padded planes with w */
static void gl_direct_forward(const float* xp, Py_ssize_t prow, Py_ssize_t pplane, int C, int kh, int kw,
                              const float* w, const float* bias, int Cout, float* y, int Ho, int Wo) {
    int oh, s0, co;
    for (oh = 0; oh < Ho; oh++)
        for (s0 = 0; s0 < Wo; s0 += GL_STRIP) {
            for (co = 0; co + 3 <= Cout; co += 3)
                gl_direct_strip(3, co, oh, s0, xp, prow, pplane, C, kh, kw, w, bias, Cout, y, Ho, Wo);
            if (co < Cout)
                gl_direct_strip(2, co, oh, s0, xp, prow, pplane, C, kh, kw, w, bias, Cout, y, Ho, Wo);
        }
}

/* The pixel-tile loops' step, in both directions: one value broadcast from pq + o times the 16 floats
   in f0, f1, added into av, bv; for the six pairs of accumulators a0 b0 .. a5 b5 and pointers p[0..5] */
#define GL_FMA2(av, bv, pq) { __m256 x_ = _mm256_broadcast_ss((pq) + o); av = _mm256_fmadd_ps(x_, f0, av); \
                              bv = _mm256_fmadd_ps(x_, f1, bv); }
#define GL_SIX(M) M(a0, b0, p[0]) M(a1, b1, p[1]) M(a2, b2, p[2]) M(a3, b3, p[3]) M(a4, b4, p[4]) M(a5, b5, p[5])
#define GL_SIX_Q(M) M(0, a0, b0) M(1, a1, b1) M(2, a2, b2) M(3, a3, b3) M(4, a4, b4) M(5, a5, b5)

/* The channels co .. co + 16 of every output pixel of one sample, pixel-major: out[l * 16 + q] = bias + the
   sum over taps k of wt[k * 16 + q] * xp[base(l) + toff[k]], taps in order, base(l) = oh * prow + ow.  A
   pixel's 16 channels are two registers, six pixels at a time: each tap loads its 16 weights once and
   broadcasts one input value per pixel, read in place from the padded planes (no unfolding).  For
   layers of 16 or 32 output channels over a few hundred taps, where the product per sample is too small
   for BLAS to run at its rate next to the unfolding.  Stride 1. */
static void gl_direct_forward16(const float* xp, Py_ssize_t prow, const Py_ssize_t* toff, int K, const float* wt,
                                const float* bias, float* out, int Ho, int Wo) {
    int L = Ho * Wo, l0, q, k;
    for (l0 = 0; l0 < L; l0 += 6) {
        const float* p[6];
        __m256 a0, b0, a1, b1, a2, b2, a3, b3, a4, b4, a5, b5;
        for (q = 0; q < 6; q++) {   /* a pixel past the end repeats the last one (its result is dropped) */
            int l = l0 + q < L ? l0 + q : L - 1;
            p[q] = xp + (Py_ssize_t)(l / Wo) * prow + l % Wo;
        }
        a0 = a1 = a2 = a3 = a4 = a5 = bias != NULL ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
        b0 = b1 = b2 = b3 = b4 = b5 = bias != NULL ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
        for (k = 0; k < K; k++) {
            Py_ssize_t o = toff[k];
            __m256 f0 = _mm256_loadu_ps(wt + 16 * k), f1 = _mm256_loadu_ps(wt + 16 * k + 8);
            GL_SIX(GL_FMA2)
        }
#define GL_OUT(q, av, bv) if (l0 + q < L) { _mm256_storeu_ps(out + (l0 + q) * 16, av); \
                                           _mm256_storeu_ps(out + (l0 + q) * 16 + 8, bv); }
        GL_SIX_Q(GL_OUT)
#undef GL_OUT
    }
}

/* The weight gradient of 16 output channels from one sample, tap-major: gwt[k * 16 + q] += the sum over
   output pixels l of xp[base(l) + toff[k]] * dyt[l * 16 + q], pixels in order (dyt: the sample's output
   gradient for these channels, pixel-major).  The forward's loop turned around: six taps' 16 channels
   in registers, each pixel's 16 gradients loaded once and one input value broadcast per tap.  A tap
   past K repeats the last one (its sums are dropped). */
static void gl_direct_wgrad16(const float* xp, Py_ssize_t prow, const Py_ssize_t* toff, int K, const float* dyt,
                              float* gwt, int Ho, int Wo) {
    int k0, q, oh, ow;
    for (k0 = 0; k0 < K; k0 += 6) {
        const float* p[6];
        const float* d = dyt;
        __m256 a0, b0, a1, b1, a2, b2, a3, b3, a4, b4, a5, b5;
        for (q = 0; q < 6; q++)
            p[q] = xp + toff[k0 + q < K ? k0 + q : K - 1];
        a0 = a1 = a2 = a3 = a4 = a5 = b0 = b1 = b2 = b3 = b4 = b5 = _mm256_setzero_ps();
        for (oh = 0; oh < Ho; oh++)
            for (ow = 0; ow < Wo; ow++, d += 16) {
                Py_ssize_t o = oh * prow + ow;
                __m256 f0 = _mm256_loadu_ps(d), f1 = _mm256_loadu_ps(d + 8);
                GL_SIX(GL_FMA2)
            }
#define GL_ADD(q, av, bv) if (k0 + q < K) { \
            _mm256_storeu_ps(gwt + (k0 + q) * 16, _mm256_add_ps(_mm256_loadu_ps(gwt + (k0 + q) * 16), av)); \
            _mm256_storeu_ps(gwt + (k0 + q) * 16 + 8, _mm256_add_ps(_mm256_loadu_ps(gwt + (k0 + q) * 16 + 8), bv)); }
        GL_SIX_Q(GL_ADD)
#undef GL_ADD
    }
}

/* t (cols x rows) = a (rows x cols)^T: 8 x 8 blocks through registers, the edges one at a time */
static void gl_transpose8_f(const float* a, float* t, Py_ssize_t rows, Py_ssize_t cols) {
    Py_ssize_t r0, c0, r, c;
    for (r0 = 0; r0 + 8 <= rows; r0 += 8) {
        for (c0 = 0; c0 + 8 <= cols; c0 += 8) {
            __m256 v0 = _mm256_loadu_ps(a + (r0 + 0) * cols + c0), v1 = _mm256_loadu_ps(a + (r0 + 1) * cols + c0);
            __m256 v2 = _mm256_loadu_ps(a + (r0 + 2) * cols + c0), v3 = _mm256_loadu_ps(a + (r0 + 3) * cols + c0);
            __m256 v4 = _mm256_loadu_ps(a + (r0 + 4) * cols + c0), v5 = _mm256_loadu_ps(a + (r0 + 5) * cols + c0);
            __m256 v6 = _mm256_loadu_ps(a + (r0 + 6) * cols + c0), v7 = _mm256_loadu_ps(a + (r0 + 7) * cols + c0);
            __m256 u0 = _mm256_unpacklo_ps(v0, v1), u1 = _mm256_unpackhi_ps(v0, v1);
            __m256 u2 = _mm256_unpacklo_ps(v2, v3), u3 = _mm256_unpackhi_ps(v2, v3);
            __m256 u4 = _mm256_unpacklo_ps(v4, v5), u5 = _mm256_unpackhi_ps(v4, v5);
            __m256 u6 = _mm256_unpacklo_ps(v6, v7), u7 = _mm256_unpackhi_ps(v6, v7);
            __m256 s0 = _mm256_shuffle_ps(u0, u2, 0x44), s1 = _mm256_shuffle_ps(u0, u2, 0xEE);
            __m256 s2 = _mm256_shuffle_ps(u1, u3, 0x44), s3 = _mm256_shuffle_ps(u1, u3, 0xEE);
            __m256 s4 = _mm256_shuffle_ps(u4, u6, 0x44), s5 = _mm256_shuffle_ps(u4, u6, 0xEE);
            __m256 s6 = _mm256_shuffle_ps(u5, u7, 0x44), s7 = _mm256_shuffle_ps(u5, u7, 0xEE);
            _mm256_storeu_ps(t + (c0 + 0) * rows + r0, _mm256_permute2f128_ps(s0, s4, 0x20));
            _mm256_storeu_ps(t + (c0 + 1) * rows + r0, _mm256_permute2f128_ps(s1, s5, 0x20));
            _mm256_storeu_ps(t + (c0 + 2) * rows + r0, _mm256_permute2f128_ps(s2, s6, 0x20));
            _mm256_storeu_ps(t + (c0 + 3) * rows + r0, _mm256_permute2f128_ps(s3, s7, 0x20));
            _mm256_storeu_ps(t + (c0 + 4) * rows + r0, _mm256_permute2f128_ps(s0, s4, 0x31));
            _mm256_storeu_ps(t + (c0 + 5) * rows + r0, _mm256_permute2f128_ps(s1, s5, 0x31));
            _mm256_storeu_ps(t + (c0 + 6) * rows + r0, _mm256_permute2f128_ps(s2, s6, 0x31));
            _mm256_storeu_ps(t + (c0 + 7) * rows + r0, _mm256_permute2f128_ps(s3, s7, 0x31));
        }
        for (c = c0; c < cols; c++)
            for (r = r0; r < r0 + 8; r++)
                t[c * rows + r] = a[r * cols + c];
    }
    for (r = r0; r < rows; r++)
        for (c = 0; c < cols; c++)
            t[c * rows + r] = a[r * cols + c];
}

#else
static void gl_direct_forward(const float* xp, Py_ssize_t prow, Py_ssize_t pplane, int C, int kh, int kw,
                              const float* w, const float* bias, int Cout, float* y, int Ho, int Wo) {
    (void)xp; (void)prow; (void)pplane; (void)C; (void)kh; (void)kw; (void)w; (void)bias; (void)Cout; (void)y;
    (void)Ho; (void)Wo;
}
static void gl_direct_forward16(const float* xp, Py_ssize_t prow, const Py_ssize_t* toff, int K, const float* wt,
                                const float* bias, float* out, int Ho, int Wo) {
    (void)xp; (void)prow; (void)toff; (void)K; (void)wt; (void)bias; (void)out; (void)Ho; (void)Wo;
}
static void gl_direct_wgrad16(const float* xp, Py_ssize_t prow, const Py_ssize_t* toff, int K, const float* dyt,
                              float* gwt, int Ho, int Wo) {
    (void)xp; (void)prow; (void)toff; (void)K; (void)dyt; (void)gwt; (void)Ho; (void)Wo;
}
static void gl_transpose8_f(const float* a, float* t, Py_ssize_t rows, Py_ssize_t cols) {
    (void)a; (void)t; (void)rows; (void)cols;
}
#endif

/* 1 when this build has the loops above */
static int gl_conv_direct_built(void) {
#ifdef GL_CONV_DIRECT
    return 1;
#else
    return 0;
#endif
}
#endif
