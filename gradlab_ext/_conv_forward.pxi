# The forward loops of gradlab_ext/conv.pyx (included there): the convolution of
# blocks of samples, as im2col + GEMM, in band mode, or as one GEMM when the kernel
# covers the input.  No Python objects: everything here runs without the GIL.

cdef void _band_forward(const real* x, const real* wr, const real* bias, real* y,
                        char* mine, const Geom* g, const Plan* p, idx_t n) noexcept nogil:
    """Band mode, one sample.  The Cg*kw bands are stored S elements apart, so
    for kernel row i the rows band[(c, j)][i*step*Wo :][: Ho*Wo] form an ordinary
    strided (Cg*kw x Ho*Wo) matrix: the unfolded columns of kernel row i, read
    by the GEMM in place.  y_g = sum over i of W[:, :, i, :] @ that matrix, so the
    unfold writes Cg*kw bands instead of Cg*kw*kh rows."""
    cdef idx_t gi, i, co, l, c0, nc, L = g.L
    cdef real* bands = <real*>mine
    cdef real* out
    cdef real bv
    for gi in range(g.G):
        _build_bands(x + (n * g.C + gi * g.Cg) * g.H * g.W, bands, p.S, g)
        out = y + (n * g.Cout + gi * g.Cog) * L
        if bias != NULL:            # start from the bias, every GEMM adds to it
            for co in range(g.Cog):
                bv = bias[gi * g.Cog + co]
                for l in range(L):
                    out[co * L + l] = bv
        # a few hundred columns at a time: the kh GEMMs then add into an output
        # slice that stays in cache, and OpenBLAS runs these shapes faster
        c0 = 0
        while c0 < L:
            nc = min(p.cols, L - c0)
            for i in range(g.kh):
                gemm_rm(False, False, <int>g.Cog, <int>nc, <int>p.CK, 1,
                        wr + (gi * g.kh + i) * g.Cog * p.CK, <int>p.CK,
                        bands + i * p.step * g.Wo + c0, <int>p.S, 0 if i == 0 and bias == NULL else 1,
                        out + c0, <int>L)
            c0 += nc


cdef void _fwd_block(const real* x, const real* w, const real* bias, real* y,
                     char* mine, const Geom* g, const Plan* p, idx_t n0, idx_t nb) noexcept nogil:
    cdef idx_t BL = nb * g.L, b, gi, co, l
    cdef idx_t HW = g.H * g.W, L = g.L
    cdef real* col = <real*>mine
    cdef real* tmp = <real*>(mine + p.off_aux)
    cdef real* band = <real*>(mine + p.off_band)
    cdef const real* colp
    cdef real* dst
    cdef real* out
    cdef const real* src
    cdef real bv
    for gi in range(g.G):
        if p.ident:
            colp = x + (n0 * g.C + gi * g.Cg) * HW
        else:
            for b in range(nb):
                _im2col1(x + ((n0 + b) * g.C + gi * g.Cg) * HW, col + b * L, BL, g.Cg, g, band)
            colp = col
        dst = y + (n0 * g.Cout + gi * g.Cog) * L if nb == 1 else tmp
        # (Cog x BL) = W_g (Cog x Kg) @ cols (Kg x BL)
        gemm_rm(False, False, <int>g.Cog, <int>BL, <int>g.Kg, 1, w + gi * g.Cog * g.Kg, <int>g.Kg,
                colp, <int>BL, 0, dst, <int>BL)
        if nb == 1:
            if bias != NULL:
                for co in range(g.Cog):
                    bv = bias[gi * g.Cog + co]
                    out = dst + co * L
                    for l in range(L):
                        out[l] += bv
        else:
            for b in range(nb):
                for co in range(g.Cog):
                    out = y + ((n0 + b) * g.Cout + gi * g.Cog + co) * L
                    src = tmp + co * BL + b * L
                    bv = bias[gi * g.Cog + co] if bias != NULL else 0
                    for l in range(L):
                        out[l] = src[l] + bv


cdef void _fwd(const real* x, const real* w, const real* bias, real* y, char* ws,
               const Geom* g, const Plan* p) noexcept nogil:
    cdef idx_t blk, n0, nb
    cdef int tid = 0, nt = p.nt, blas_prev
    cdef int master = gl_master_cpu() if p.nt > 1 else -1
    cdef char* mine = ws + p.shared
    cdef const real* wr = <real*>ws
    if p.band:
        _reorder_weights(w, <real*>ws, g)
    if nt == 1:
        for blk in range(p.nblk):
            n0 = blk * p.B
            if p.band:
                _band_forward(x, wr, bias, y, mine, g, p, n0)
            else:
                _fwd_block(x, w, bias, y, mine, g, p, n0, min(p.B, g.N - n0))
        return
    blas_prev = blas_single() if p.blas1 else 0
    with parallel(num_threads=nt):
        tid = threadid()
        gl_place(master, tid)
        mine = ws + p.shared + tid * p.per_thread
        for blk in prange(p.nblk, schedule='dynamic'):
            n0 = blk * p.B
            nb = min(p.B, g.N - n0)
            if p.band:
                _band_forward(x, wr, bias, y, mine, g, p, n0)
            else:
                _fwd_block(x, w, bias, y, mine, g, p, n0, nb)
    blas_restore(blas_prev)


cdef void _fc_fwd(const real* x, const real* w, const real* bias, real* y, const Geom* g,
                  int nt) noexcept nogil:
    """Kernel == input plane: y[n, :] = W @ x[n, :] for every group, one GEMM each."""
    cdef idx_t gi, n, co
    cdef idx_t CHW = g.C * g.H * g.W
    for gi in range(g.G):
        # y_g (N x Cog, ld Cout) = X_g (N x Kg, ld CHW) @ W_g^T
        par_gemm(False, True, g.N, g.Cog, g.Kg, x + gi * g.Kg, CHW,
                 w + gi * g.Cog * g.Kg, g.Kg, y + gi * g.Cog, g.Cout, nt)
    if bias != NULL:
        for n in range(g.N):
            for co in range(g.Cout):
                y[n * g.Cout + co] += bias[co]
