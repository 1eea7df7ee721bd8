/* gradlab_ext/_lstm_avx2.h: the LSTM's float32 rows of _rnn_cells.h written on 8-lane AVX2 vectors (included
   by rnn.pyx in the x86-64-v3 build, where __AVX2__ and __FMA__ are defined).  The same arithmetic as the
   portable rows, but sigmoid's clamp is one max and one min (the compiler turns the portable clamp into
   compares and blends) and tanh is a rational function, with no exp: at H = 128 these rows took about as
   long as the step's product.  The last partial vector of a row is loaded and stored under a mask (slow
   on AMD, so only there), and every unit goes through the same arithmetic.  max and min take the constant first: then a NaN input
   passes through (they return their second operand when either is NaN). */
#ifndef GL_LSTM_AVX2_H
#define GL_LSTM_AVX2_H
#include <immintrin.h>

/* e^x for x in [-87, 88], so that 2^n is a normal float: gl_expf's steps */
static inline __m256 gl_exp8(__m256 x) {
    const __m256 big = _mm256_set1_ps(12582912.0f);
    __m256 fn = _mm256_sub_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), big), big);
    __m256 r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(0.693359375f), x);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    __m256i n;
    r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(-2.12194440e-4f), r);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    n = _mm256_add_epi32(_mm256_cvtps_epi32(fn), _mm256_set1_epi32(127));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(n, 23)));
}

/* 1 / (1 + e^-x), -x clamped to [-87, 88] (sigmoid of +inf is 1, of -inf 1 / (1 + e^88), 6e-39) */
static inline __m256 gl_sigmoid8(__m256 x) {
    __m256 nx = _mm256_sub_ps(_mm256_setzero_ps(), x);
    nx = _mm256_min_ps(_mm256_set1_ps(88.0f), _mm256_max_ps(_mm256_set1_ps(-87.0f), nx));
    return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), gl_exp8(nx)));
}

/* tanh as an odd degree-13 over an even degree-6 polynomial on x clamped to +-7.90531 (past which the
   quotient would exceed 1), within 7 float32 ulps of tanh, 4e-7 relative (the coefficients are Eigen's);
   +-1 exactly from |x| = 9.02 on, where float32's tanh is +-1 (and for +-inf) */
static inline __m256 gl_tanh8(__m256 x) {
    const __m256 lim = _mm256_set1_ps(7.90531110763549805f), sign = _mm256_set1_ps(-0.0f);
    __m256 xc, x2, p, q, one;
    xc = _mm256_min_ps(lim, _mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), lim), x));
    x2 = _mm256_mul_ps(xc, xc);
    p = _mm256_set1_ps(-2.76076847742355e-16f);
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.00018790482477e-13f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-8.60467152213735e-11f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(5.12229709037114e-08f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(1.48572235717979e-05f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(6.37261928875436e-04f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(4.89352455891786e-03f));
    q = _mm256_set1_ps(1.19825839466702e-06f);
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(1.18534705686654e-04f));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(2.26843463243900e-03f));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(4.89352518554385e-03f));
    one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(sign, x));     /* +-1 with x's sign */
    return _mm256_blendv_ps(_mm256_div_ps(_mm256_mul_ps(p, xc), q), one,
                            _mm256_cmp_ps(_mm256_andnot_ps(sign, x), _mm256_set1_ps(9.02f), _CMP_GE_OQ));
}

/* lanes j .. j+7 that lie below B */
static inline __m256i gl_lanes8(Py_ssize_t j, Py_ssize_t B) {
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    Py_ssize_t left = B - j;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left > 8 ? 8 : (int)left), idx);
}

#define GL_LD(p) (full ? _mm256_loadu_ps(p) : _mm256_maskload_ps((p), m))
#define GL_ST(p, v) (full ? _mm256_storeu_ps((p), (v)) : _mm256_maskstore_ps((p), m, (v)))

/* as gl_lstm_forward_row in _rnn_cells.h */
static void gl_lstm_forward_row_f(Py_ssize_t B, Py_ssize_t H, const float* x, const float* b, const float* s,
                                  const float* cp, float* g, float* c, float* h) {
    Py_ssize_t j;
    for (j = 0; j < B; j += 8) {
        const int full = j + 8 <= B;
        __m256i m = gl_lanes8(j, B);
        __m256 gi = gl_sigmoid8(_mm256_add_ps(_mm256_add_ps(GL_LD(x + j), GL_LD(b + j)), GL_LD(s + j)));
        __m256 gf = gl_sigmoid8(_mm256_add_ps(_mm256_add_ps(GL_LD(x + H + j), GL_LD(b + H + j)), GL_LD(s + B + j)));
        __m256 gg = gl_tanh8(_mm256_add_ps(_mm256_add_ps(GL_LD(x + 2 * H + j), GL_LD(b + 2 * H + j)),
                                           GL_LD(s + 2 * B + j)));
        __m256 go = gl_sigmoid8(_mm256_add_ps(_mm256_add_ps(GL_LD(x + 3 * H + j), GL_LD(b + 3 * H + j)),
                                              GL_LD(s + 3 * B + j)));
        __m256 cc = _mm256_fmadd_ps(gf, GL_LD(cp + j), _mm256_mul_ps(gi, gg));
        GL_ST(c + j, cc);
        GL_ST(h + j, _mm256_mul_ps(go, gl_tanh8(cc)));
        GL_ST(g + j, gi); GL_ST(g + H + j, gf); GL_ST(g + 2 * H + j, gg); GL_ST(g + 3 * H + j, go);
    }
}

/* as gl_lstm_backward_row in _rnn_cells.h */
static void gl_lstm_backward_row_f(Py_ssize_t B, Py_ssize_t H, const float* g, const float* gout, const float* c,
                                   const float* cp, const float* dh, float* dc, float* d) {
    const __m256 one = _mm256_set1_ps(1.0f);
    Py_ssize_t j;
    for (j = 0; j < B; j += 8) {
        const int full = j + 8 <= B;
        __m256i m = gl_lanes8(j, B);
        __m256 gi = GL_LD(g + j), gf = GL_LD(g + H + j), gg = GL_LD(g + 2 * H + j), go = GL_LD(g + 3 * H + j);
        __m256 dhv = _mm256_add_ps(GL_LD(dh + j), GL_LD(gout + j));
        __m256 tc = gl_tanh8(GL_LD(c + j));
        __m256 dcv = _mm256_add_ps(GL_LD(dc + j), _mm256_mul_ps(_mm256_mul_ps(dhv, go), _mm256_fnmadd_ps(tc, tc, one)));
        GL_ST(d + j, _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(dcv, gg), gi), _mm256_sub_ps(one, gi)));
        GL_ST(d + H + j, _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(dcv, GL_LD(cp + j)), gf), _mm256_sub_ps(one, gf)));
        GL_ST(d + 2 * H + j, _mm256_mul_ps(_mm256_mul_ps(dcv, gi), _mm256_fnmadd_ps(gg, gg, one)));
        GL_ST(d + 3 * H + j, _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(dhv, tc), go), _mm256_sub_ps(one, go)));
        GL_ST(dc + j, _mm256_mul_ps(dcv, gf));
    }
}
#undef GL_LD
#undef GL_ST
#endif
