/* gradlab_ext/_expf.h: a float32 exp for loops the compiler vectorises
   (included by softmax.pyx and rnn.pyx). */
#ifndef GL_EXPF_H
#define GL_EXPF_H
#include <string.h>
/* exp for float32 in straight-line arithmetic (no branch, no call), so
   that the compiler vectorises the loops that call it: libm's expf is a
   call per element, several times slower.  Cephes' method: exp(x) =
   2^n * exp(r) with n = round(x / ln 2) and |r| <= ln(2) / 2, exp(r) by a
   polynomial; within 1e-7 relative of expf.  Below -87 it gives 0 (so
   exp(-inf) = 0); NaN stays NaN.  softmax passes x <= 0 (x - max); rnn.pyx clamps
   its arguments to [-87, 88]. */
static inline float gl_expf(float x) {
    float t = x * 1.44269504088896341f;
    float big = 12582912.0f;                /* 1.5 * 2^23: adding it rounds to an integer */
    float fn = (t + big) - big;
    int n = (int)fn, bits, ob;
    float r, p, scale, out;
    n = n < -126 ? -126 : n;
    n = n > 127 ? 127 : n;
    r = x - fn * 0.693359375f - fn * -2.12194440e-4f;
    p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    bits = (n + 127) << 23;                 /* 2^n */
    memcpy(&scale, &bits, sizeof(scale));
    out = p * scale;
    memcpy(&ob, &out, sizeof(ob));
    ob &= -(int)!(x < -87.0f);
    memcpy(&out, &ob, sizeof(out));
    return out;
}
#endif
