# The backward loops of gradlab_ext/conv.pyx (included there): input, weight and bias
# gradients of blocks of samples, the weight gradient summed per fixed chunk of blocks
# (the same bits on every run).  No Python objects: everything here runs without the GIL.

cdef inline void _transpose(const real* a, real* t, idx_t rows, idx_t cols) noexcept nogil:
    """t (cols x rows) = a (rows x cols)^T, in 8 x 8 tiles (both sides stay in few cache lines; float32
    on vectors in the x86-64-v3 build)."""
    cdef idx_t r0, c0, r, c, r1, c1
    if real is float and gl_conv_direct_built():
        gl_transpose8_f(a, t, rows, cols)
        return
    for r0 in range(0, rows, 8):
        r1 = min(r0 + 8, rows)
        for c0 in range(0, cols, 8):
            c1 = min(c0 + 8, cols)
            for c in range(c0, c1):
                for r in range(r0, r1):
                    t[c * rows + r] = a[r * cols + c]


cdef void _band_backward(const real* x, const real* wr, const real* gy, real* gx,
                         char* mine, const Geom* g, const Plan* p, idx_t n,
                         bint need_x, bint need_w, bint need_b) noexcept nogil:
    """Band mode (see _band_forward), one sample.  Weight gradient of kernel row
    i: dY @ (its strided column matrix)^T.  Input gradient: W_i^T @ dY is added
    straight into the bands by the GEMM (beta = 1; the kernel rows overlap in
    the bands exactly as they overlap in the input), then the bands are folded
    onto the input rows once."""
    cdef idx_t gi, i, co, l, c0, nc, L = g.L, CK = p.CK
    cdef real* bands = <real*>mine
    cdef real* dyt = <real*>(mine + p.off_dyt)
    cdef real* gw_acc = <real*>(mine + p.off_gw)
    cdef real* gb_acc = <real*>(mine + p.off_gb)
    cdef const real* dyp
    cdef const real* src
    cdef real* dst
    for gi in range(g.G):
        dyp = gy + (n * g.Cout + gi * g.Cog) * L
        if need_b:
            for co in range(g.Cog):
                gb_acc[gi * g.Cog + co] += vsum(dyp + co * L, L)
        if need_w:
            _build_bands(x + (n * g.C + gi * g.Cg) * g.H * g.W, bands, p.S, g)
            if p.gw_t:
                _transpose(dyp, dyt, g.Cog, L)
            # the reduction over the L columns in slices of p.cols (see _band_forward)
            c0 = 0
            while c0 < L:
                nc = min(p.cols, L - c0)
                for i in range(g.kh):
                    if p.gw_t:      # acc[gi, i] is (CK x Cog) += cols_i (CK x L) @ dY^T
                        gemm_rm(False, False, <int>CK, <int>g.Cog, <int>nc, 1,
                                bands + i * p.step * g.Wo + c0, <int>p.S, dyt + c0 * g.Cog, <int>g.Cog,
                                1, gw_acc + (gi * g.kh + i) * CK * g.Cog, <int>g.Cog)
                    else:           # acc[gi, i] is (Cog x CK) += dY @ cols_i^T
                        gemm_rm(False, True, <int>g.Cog, <int>CK, <int>nc, 1, dyp + c0, <int>L,
                                bands + i * p.step * g.Wo + c0, <int>p.S,
                                1, gw_acc + (gi * g.kh + i) * g.Cog * CK, <int>CK)
                c0 += nc
        if need_x:
            memset(bands, 0, CK * p.S * sizeof(real))
            c0 = 0
            while c0 < L:
                nc = min(p.cols, L - c0)
                for i in range(g.kh):
                    gemm_rm(True, False, <int>CK, <int>nc, <int>g.Cog, 1,
                            wr + (gi * g.kh + i) * g.Cog * CK, <int>CK, dyp + c0, <int>L,
                            1, bands + i * p.step * g.Wo + c0, <int>p.S)
                c0 += nc
            dst = gx + (n * g.C + gi * g.Cg) * g.H * g.W
            memset(dst, 0, g.Cg * g.H * g.W * sizeof(real))
            _fold_bands(bands, dst, p.S, g)


cdef void _bwd_block(const real* x, const real* w, const real* gy, real* gx,
                     char* mine, const Geom* g, const Plan* p, idx_t n0, idx_t nb,
                     bint need_x, bint need_w, bint need_b) noexcept nogil:
    cdef idx_t BL = nb * g.L, L = g.L, HW = g.H * g.W
    cdef idx_t b, gi, co, l
    cdef real* col = <real*>mine
    cdef real* dyb = <real*>(mine + p.off_aux)
    cdef real* dyt = <real*>(mine + p.off_dyt)
    cdef real* band = <real*>(mine + p.off_band)
    cdef real* gw_acc = <real*>(mine + p.off_gw)
    cdef real* gb_acc = <real*>(mine + p.off_gb)
    cdef const real* dyp
    cdef const real* src
    cdef const real* colp
    cdef real* dst
    for gi in range(g.G):
        # the block's output gradient as a (Cog x BL) matrix
        if nb == 1:
            dyp = gy + (n0 * g.Cout + gi * g.Cog) * L
        else:
            for co in range(g.Cog):
                for b in range(nb):
                    src = gy + ((n0 + b) * g.Cout + gi * g.Cog + co) * L
                    dst = dyb + co * BL + b * L
                    for l in range(L):
                        dst[l] = src[l]
            dyp = dyb
        if need_b:
            for co in range(g.Cog):
                gb_acc[gi * g.Cog + co] += vsum(dyp + co * BL, BL)
        if need_w:
            if p.ident:
                colp = x + (n0 * g.C + gi * g.Cg) * HW
            else:
                for b in range(nb):
                    _im2col1(x + ((n0 + b) * g.C + gi * g.Cg) * HW, col + b * L, BL, g.Cg, g, band)
                colp = col
            if p.gw_t:
                # gw_g^T (Kg x Cog) += cols (Kg x BL) @ dY^T (BL x Cog)
                _transpose(dyp, dyt, g.Cog, BL)
                gemm_rm(False, False, <int>g.Kg, <int>g.Cog, <int>BL, 1, colp, <int>BL, dyt, <int>g.Cog,
                        1, gw_acc + gi * g.Cog * g.Kg, <int>g.Cog)
            else:
                # gw_g (Cog x Kg) += dY (Cog x BL) @ cols^T (BL x Kg)
                gemm_rm(False, True, <int>g.Cog, <int>g.Kg, <int>BL, 1, dyp, <int>BL, colp, <int>BL,
                        1, gw_acc + gi * g.Cog * g.Kg, <int>g.Kg)
        if need_x:
            # dcols (Kg x BL) = W_g^T (Kg x Cog) @ dY (Cog x BL)
            if p.ident:
                dst = gx + (n0 * g.C + gi * g.Cg) * HW
                gemm_rm(True, False, <int>g.Kg, <int>BL, <int>g.Cog, 1, w + gi * g.Cog * g.Kg, <int>g.Kg,
                        dyp, <int>BL, 0, dst, <int>BL)
            else:
                gemm_rm(True, False, <int>g.Kg, <int>BL, <int>g.Cog, 1, w + gi * g.Cog * g.Kg, <int>g.Kg,
                        dyp, <int>BL, 0, col, <int>BL)
                for b in range(nb):
                    dst = gx + ((n0 + b) * g.C + gi * g.Cg) * HW
                    memset(dst, 0, g.Cg * HW * sizeof(real))
                    _col2im1(col + b * L, BL, dst, g.Cg, g, band)


cdef void _bwd_chunk(const real* x, const real* w, const real* wr, const real* gy, real* gx, char* ws,
                     const Geom* g, const Plan* p, idx_t chunk, bint need_x, bint need_w, bint need_b) noexcept nogil:
    """The blocks of one chunk, in order, accumulating into the chunk's own workspace slice."""
    cdef char* mine = ws + p.shared + chunk * p.per_thread
    cdef idx_t blk, n0
    for blk in range(chunk * p.nblk // p.nslot, (chunk + 1) * p.nblk // p.nslot):
        n0 = blk * p.B
        if p.band:
            _band_backward(x, wr, gy, gx, mine, g, p, n0, need_x, need_w, need_b)
        else:
            _bwd_block(x, w, gy, gx, mine, g, p, n0, min(p.B, g.N - n0), need_x, need_w, need_b)


cdef void _bwd(const real* x, const real* w, const real* gy, real* gx, real* gw, real* gb,
               char* ws, const Geom* g, const Plan* p, bint need_x, bint need_w, bint need_b) noexcept nogil:
    cdef idx_t nw = g.Cout * g.Kg, k, gi, co, c, i, j, src, chunk
    cdef idx_t CK = p.CK
    cdef int t, nt = p.nt, blas_prev
    cdef int master = gl_master_cpu() if p.nt > 1 else -1
    cdef const real* wr = <real*>ws
    cdef real* part
    if p.band and need_x:
        _reorder_weights(w, <real*>ws, g)
    # zero every chunk's accumulators up front
    for t in range(p.nslot):
        memset(ws + p.shared + t * p.per_thread + p.off_gw, 0, p.per_thread - p.off_gw)
    if nt == 1:
        for chunk in range(p.nslot):
            _bwd_chunk(x, w, wr, gy, gx, ws, g, p, chunk, need_x, need_w, need_b)
    else:
        blas_prev = blas_single() if p.blas1 else 0
        with parallel(num_threads=nt):
            gl_place(master, threadid())
            for chunk in prange(p.nslot, schedule='dynamic'):
                _bwd_chunk(x, w, wr, gy, gx, ws, g, p, chunk, need_x, need_w, need_b)
        blas_restore(blas_prev)
    # sum the chunks' partial weight and bias gradients in chunk order, undoing their layouts
    if need_w:
        memset(gw, 0, nw * sizeof(real))
        for t in range(p.nslot):
            part = <real*>(ws + p.shared + t * p.per_thread + p.off_gw)
            if p.band:
                # part[gi, i] is (CK x Cog) if gw_t else (Cog x CK), CK ordered (c, j)
                for gi in range(g.G):
                    for i in range(g.kh):
                        for co in range(g.Cog):
                            for c in range(g.Cg):
                                for j in range(g.kw):
                                    if p.gw_t:
                                        src = ((gi * g.kh + i) * CK + c * g.kw + j) * g.Cog + co
                                    else:
                                        src = ((gi * g.kh + i) * g.Cog + co) * CK + c * g.kw + j
                                    gw[(((gi * g.Cog + co) * g.Cg + c) * g.kh + i) * g.kw + j] += part[src]
            elif p.gw_t:        # part holds G blocks of (Kg x Cog)
                for gi in range(g.G):
                    for co in range(g.Cog):
                        for k in range(g.Kg):
                            gw[(gi * g.Cog + co) * g.Kg + k] += part[(gi * g.Kg + k) * g.Cog + co]
            else:
                for k in range(nw):
                    gw[k] += part[k]
    if need_b:
        memset(gb, 0, g.Cout * sizeof(real))
        for t in range(p.nslot):
            part = <real*>(ws + p.shared + t * p.per_thread + p.off_gb)
            for k in range(g.Cout):
                gb[k] += part[k]


cdef void _fc_bwd(const real* x, const real* w, const real* gy, real* gx, real* gw, real* gb,
                  const Geom* g, bint need_x, bint need_w, bint need_b, int nt) noexcept nogil:
    cdef idx_t gi, n, co
    cdef idx_t CHW = g.C * g.H * g.W
    for gi in range(g.G):
        # gw_g (Cog x Kg) = dY_g^T (Cog x N) @ X_g (N x Kg)  and
        # gx_g (N x Kg) = dY_g (N x Cog) @ W_g (Cog x Kg), in one parallel region
        # (a GEMM with k = 0 is skipped: so is the one not needed, whose pointers are NULL)
        par_gemm2(True, False, g.Cog, g.Kg, g.N if need_w else 0, gy + gi * g.Cog, g.Cout,
                  x + gi * g.Kg if need_w else NULL, CHW,
                  gw + gi * g.Cog * g.Kg if need_w else NULL, g.Kg,
                  False, False, g.N, g.Kg, g.Cog if need_x else 0, gy + gi * g.Cog, g.Cout,
                  w + gi * g.Cog * g.Kg if need_x else NULL, g.Kg,
                  gx + gi * g.Kg if need_x else NULL, CHW, nt)
    if need_b:
        for co in range(g.Cout):
            gb[co] = 0
        for n in range(g.N):
            for co in range(g.Cout):
                gb[co] += gy[n * g.Cout + co]
