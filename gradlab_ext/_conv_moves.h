/* gradlab_ext/_conv_moves.h: adding a kernel row's gradient band back onto an input row (the fold of
   conv.pyx's band backward, included there), which the compiler left scalar while it could not rule out
   that the two runs overlap. */
#ifndef GL_CONV_MOVES_H
#define GL_CONV_MOVES_H
#include <Python.h>

/* dst[0:n] += src[0:n]; restrict tells the compiler the two runs do not overlap, so it vectorises */
static inline void gl_add_run_f(float* restrict dst, const float* restrict src, Py_ssize_t n) {
    Py_ssize_t i;
    for (i = 0; i < n; i++)
        dst[i] += src[i];
}

static inline void gl_add_run_d(double* restrict dst, const double* restrict src, Py_ssize_t n) {
    Py_ssize_t i;
    for (i = 0; i < n; i++)
        dst[i] += src[i];
}
#endif
