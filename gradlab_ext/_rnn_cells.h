/* The elementwise part of one time step for one row of the batch, over B hidden units: the gate
   nonlinearities forward, their derivatives backward.  Included twice by rnn.pyx, once with
   GL_REAL float and once double (GL_SUFFIX names the two versions, GL_SIGMOID and GL_TANH are
   the activations for that type).  Pointers are at the row's first unit j0 of its block; the
   gates of a row are H apart in x, b, g and d (PyTorch's layout), B apart in the scratch s, which
   holds this thread's h_prev W_hh^T columns.  `omp simd` because the arrays never overlap, which
   the compiler cannot prove: it then vectorises the loops, activations included.  GL_SKIP_LSTM leaves out
   the LSTM's rows (the x86-64-v3 build has them for float in _lstm_avx2.h). */

#ifndef GL_SKIP_LSTM
static void GL_SUFFIX(gl_lstm_forward_row)(Py_ssize_t B, Py_ssize_t H, const GL_REAL* x, const GL_REAL* b,
                                          const GL_REAL* s, const GL_REAL* cp, GL_REAL* g, GL_REAL* c, GL_REAL* h) {
    Py_ssize_t j;
    #pragma omp simd
    for (j = 0; j < B; j++) {
        GL_REAL gi = GL_SIGMOID(x[j] + b[j] + s[j]);
        GL_REAL gf = GL_SIGMOID(x[H + j] + b[H + j] + s[B + j]);
        GL_REAL gg = GL_TANH(x[2 * H + j] + b[2 * H + j] + s[2 * B + j]);
        GL_REAL go = GL_SIGMOID(x[3 * H + j] + b[3 * H + j] + s[3 * B + j]);
        GL_REAL cc = gf * cp[j] + gi * gg;
        c[j] = cc;
        h[j] = go * GL_TANH(cc);
        g[j] = gi; g[H + j] = gf; g[2 * H + j] = gg; g[3 * H + j] = go;
    }
}

#endif

/* g holds r, z, n and h_n (the hidden part of n's pre-activation, b_hn included) */
static void GL_SUFFIX(gl_gru_forward_row)(Py_ssize_t B, Py_ssize_t H, const GL_REAL* x, const GL_REAL* b,
                                         const GL_REAL* s, const GL_REAL* hp, GL_REAL* g, GL_REAL* h) {
    Py_ssize_t j;
    #pragma omp simd
    for (j = 0; j < B; j++) {
        GL_REAL gr = GL_SIGMOID(x[j] + b[j] + s[j]);
        GL_REAL gz = GL_SIGMOID(x[H + j] + b[H + j] + s[B + j]);
        GL_REAL hn = b[2 * H + j] + s[2 * B + j];
        GL_REAL gn = GL_TANH(x[2 * H + j] + gr * hn);
        h[j] = (1 - gz) * gn + gz * hp[j];
        g[j] = gr; g[H + j] = gz; g[2 * H + j] = gn; g[3 * H + j] = hn;
    }
}

static void GL_SUFFIX(gl_rnn_forward_row)(Py_ssize_t B, int relu, const GL_REAL* x, const GL_REAL* b,
                                         const GL_REAL* s, GL_REAL* h) {
    Py_ssize_t j;
    if (relu) {
        #pragma omp simd
        for (j = 0; j < B; j++) {
            GL_REAL v = x[j] + b[j] + s[j];
            h[j] = v > 0 ? v : 0;
        }
    } else {
        #pragma omp simd
        for (j = 0; j < B; j++)
            h[j] = GL_TANH(x[j] + b[j] + s[j]);
    }
}

#ifndef GL_SKIP_LSTM
/* dh: the gradient of h from the later step (through W_hh), dc: of c from the later step, replaced
   by the gradient of c_prev; d: the gradient of the four gate pre-activations */
static void GL_SUFFIX(gl_lstm_backward_row)(Py_ssize_t B, Py_ssize_t H, const GL_REAL* g, const GL_REAL* gout,
                                           const GL_REAL* c, const GL_REAL* cp, const GL_REAL* dh, GL_REAL* dc,
                                           GL_REAL* d) {
    Py_ssize_t j;
    #pragma omp simd
    for (j = 0; j < B; j++) {
        GL_REAL gi = g[j], gf = g[H + j], gg = g[2 * H + j], go = g[3 * H + j];
        GL_REAL dhv = dh[j] + gout[j];
        GL_REAL tc = GL_TANH(c[j]);
        GL_REAL dcv = dc[j] + dhv * go * (1 - tc * tc);
        d[j] = dcv * gg * gi * (1 - gi);
        d[H + j] = dcv * cp[j] * gf * (1 - gf);
        d[2 * H + j] = dcv * gi * (1 - gg * gg);
        d[3 * H + j] = dhv * tc * go * (1 - go);
        dc[j] = dcv * gf;
    }
}

#endif

/* dz: h's direct path to h_prev (dh * z) from the later step, replaced by this step's; d: the
   gradient of x_proj's gates, e: of h_prev W_hh^T + b_hh's (they differ in n: r multiplies only h_n) */
static void GL_SUFFIX(gl_gru_backward_row)(Py_ssize_t B, Py_ssize_t H, const GL_REAL* g, const GL_REAL* gout,
                                          const GL_REAL* hp, const GL_REAL* dh, GL_REAL* dz, GL_REAL* d, GL_REAL* e) {
    Py_ssize_t j;
    #pragma omp simd
    for (j = 0; j < B; j++) {
        GL_REAL gr = g[j], gz = g[H + j], gn = g[2 * H + j], hn = g[3 * H + j];
        GL_REAL dhv = dh[j] + dz[j] + gout[j];
        GL_REAL dn = dhv * (1 - gz) * (1 - gn * gn);
        GL_REAL dr = dn * hn * gr * (1 - gr);
        GL_REAL dzv = dhv * (hp[j] - gn) * gz * (1 - gz);
        d[j] = dr; d[H + j] = dzv; d[2 * H + j] = dn;
        e[j] = dr; e[H + j] = dzv; e[2 * H + j] = dn * gr;
        dz[j] = dhv * gz;
    }
}

static void GL_SUFFIX(gl_rnn_backward_row)(Py_ssize_t B, int relu, const GL_REAL* gout, const GL_REAL* h,
                                          const GL_REAL* dh, GL_REAL* d) {
    Py_ssize_t j;
    if (relu) {
        #pragma omp simd
        for (j = 0; j < B; j++)
            d[j] = h[j] > 0 ? dh[j] + gout[j] : 0;
    } else {
        #pragma omp simd
        for (j = 0; j < B; j++)
            d[j] = (dh[j] + gout[j]) * (1 - h[j] * h[j]);
    }
}
