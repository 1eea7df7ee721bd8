/* gradlab_ext/_pool_avx2.h: the 2x2, stride-2 float32 max pool of one output row on 8-lane AVX2 vectors
   (included by pool.pyx; the x86-64-v3 build has the vector loop, the baseline build a stub that does no
   columns).  The scalar loop in pool.pyx, a compare and conditional move per
   value, took about 12 cycles per output; here 8 outputs take a few instructions.  Same results: the
   first maximum in window order (a, b on the top row, c, d below), and any window holding a NaN is left to
   the scalar loop (NaN wins there, at its last position). */
#ifndef GL_POOL_AVX2_H
#define GL_POOL_AVX2_H
#include <stdint.h>

#if defined(__AVX2__)
#include <immintrin.h>

/* Outputs 0 .. 8*(wo/8) of the row whose windows' top rows start at r0 and bottom rows at r1 (W floats
   apart in the plane, base = the top-left position's index in the plane): y[ow] and, when ind is not NULL,
   ind[ow] = the plane index of the maximum.  Returns how many outputs it wrote: groups of 8, then one of
   4, up to the first group with a NaN in a window, where it stops for the scalar loop to go on. */
static inline Py_ssize_t gl_maxpool2x2_row_f(const float* r0, const float* r1, float* y, int64_t* ind,
                                             Py_ssize_t wo, int64_t base, int32_t W) {
    Py_ssize_t ow;
    const __m256i one = _mm256_set1_epi32(1), w = _mm256_set1_epi32(W);
    const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for (ow = 0; ow + 8 <= wo; ow += 8) {
        __m256 t0 = _mm256_loadu_ps(r0 + 2 * ow), t1 = _mm256_loadu_ps(r0 + 2 * ow + 8);
        __m256 u0 = _mm256_loadu_ps(r1 + 2 * ow), u1 = _mm256_loadu_ps(r1 + 2 * ow + 8);
        /* even and odd columns; within each 128-bit lane, so the outputs come in the order 0 1 4 5 2 3 6 7 */
        __m256 a = _mm256_shuffle_ps(t0, t1, 0x88), b = _mm256_shuffle_ps(t0, t1, 0xDD);
        __m256 c = _mm256_shuffle_ps(u0, u1, 0x88), d = _mm256_shuffle_ps(u0, u1, 0xDD);
        __m256 nan = _mm256_or_ps(_mm256_cmp_ps(a, b, _CMP_UNORD_Q), _mm256_cmp_ps(c, d, _CMP_UNORD_Q));
        __m256 m1, m2, mk, ab, cd, best;
        if (_mm256_movemask_ps(nan))
            break;
        m1 = _mm256_cmp_ps(b, a, _CMP_GT_OQ);       /* a tie keeps the earlier position */
        m2 = _mm256_cmp_ps(d, c, _CMP_GT_OQ);
        ab = _mm256_blendv_ps(a, b, m1);
        cd = _mm256_blendv_ps(c, d, m2);
        mk = _mm256_cmp_ps(cd, ab, _CMP_GT_OQ);
        best = _mm256_blendv_ps(ab, cd, mk);
        _mm256_storeu_ps(y + ow, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(best), 0xD8)));
        if (ind != NULL) {
            /* offset in the window: 0 or 1 on the top row, W or W + 1 below */
            __m256i i1 = _mm256_and_si256(_mm256_castps_si256(m1), one);
            __m256i i2 = _mm256_and_si256(_mm256_castps_si256(m2), one);
            __m256i off = _mm256_blendv_epi8(i1, _mm256_add_epi32(w, i2), _mm256_castps_si256(mk));
            __m256i idx = _mm256_add_epi32(_mm256_permute4x64_epi64(off, 0xD8), lane2);
            __m256i b64 = _mm256_set1_epi64x(base + 2 * ow);
            _mm256_storeu_si256((__m256i*)(ind + ow),
                                _mm256_add_epi64(b64, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(idx))));
            _mm256_storeu_si256((__m256i*)(ind + ow + 4),
                                _mm256_add_epi64(b64, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(idx, 1))));
        }
    }
    if (ow + 4 <= wo) {         /* four more on half vectors (in order: 128-bit shuffles do not mix lanes) */
        __m128 t0 = _mm_loadu_ps(r0 + 2 * ow), t1 = _mm_loadu_ps(r0 + 2 * ow + 4);
        __m128 u0 = _mm_loadu_ps(r1 + 2 * ow), u1 = _mm_loadu_ps(r1 + 2 * ow + 4);
        __m128 a = _mm_shuffle_ps(t0, t1, 0x88), b = _mm_shuffle_ps(t0, t1, 0xDD);
        __m128 c = _mm_shuffle_ps(u0, u1, 0x88), d = _mm_shuffle_ps(u0, u1, 0xDD);
        __m128 nan = _mm_or_ps(_mm_cmp_ps(a, b, _CMP_UNORD_Q), _mm_cmp_ps(c, d, _CMP_UNORD_Q));
        if (!_mm_movemask_ps(nan)) {
            __m128 m1 = _mm_cmp_ps(b, a, _CMP_GT_OQ), m2 = _mm_cmp_ps(d, c, _CMP_GT_OQ);
            __m128 ab = _mm_blendv_ps(a, b, m1), cd = _mm_blendv_ps(c, d, m2);
            __m128 mk = _mm_cmp_ps(cd, ab, _CMP_GT_OQ);
            _mm_storeu_ps(y + ow, _mm_blendv_ps(ab, cd, mk));
            if (ind != NULL) {
                __m128i i1 = _mm_and_si128(_mm_castps_si128(m1), _mm256_castsi256_si128(one));
                __m128i i2 = _mm_and_si128(_mm_castps_si128(m2), _mm256_castsi256_si128(one));
                __m128i off = _mm_blendv_epi8(i1, _mm_add_epi32(_mm256_castsi256_si128(w), i2), _mm_castps_si128(mk));
                off = _mm_add_epi32(off, _mm256_castsi256_si128(lane2));
                _mm256_storeu_si256((__m256i*)(ind + ow),
                                    _mm256_add_epi64(_mm256_set1_epi64x(base + 2 * ow), _mm256_cvtepi32_epi64(off)));
            }
            ow += 4;
        }
    }
    return ow;
}
#else
static inline Py_ssize_t gl_maxpool2x2_row_f(const float* r0, const float* r1, float* y, int64_t* ind,
                                             Py_ssize_t wo, int64_t base, int32_t W) {
    (void)r0; (void)r1; (void)y; (void)ind; (void)wo; (void)base; (void)W;
    return 0;
}
#endif
#endif
