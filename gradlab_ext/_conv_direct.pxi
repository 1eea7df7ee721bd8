# The direct float32 convolutions (gradlab_ext/conv.pyx includes this): the loops are in _conv_direct.h;
# here which layers take them, the per-sample padding, the threads and the scratch layouts.

cdef extern from "_conv_direct.h":
    enum: GL_STRIP
    int gl_conv_direct_built() noexcept nogil
    void gl_direct_forward(const float* xp, idx_t prow, idx_t pplane, int C, int kh, int kw, const float* w,
                           const float* bias, int Cout, float* y, int Ho, int Wo) noexcept nogil
    void gl_direct_forward16(const float* xp, idx_t prow, const idx_t* toff, int K, const float* wt,
                             const float* bias, float* out, int Ho, int Wo) noexcept nogil
    void gl_transpose8_f(const float* a, float* t, idx_t rows, idx_t cols) noexcept nogil
    void gl_direct_wgrad16(const float* xp, idx_t prow, const idx_t* toff, int K, const float* dyt, float* gwt,
                           int Ho, int Wo) noexcept nogil

# the direct loops take layers with at most this many taps per output (C * kh * kw)
cdef idx_t _DIRECT_MAX_K = 32


cdef bint _direct_ok(const Geom* g) noexcept nogil:
    """Stride 1, no dilation or groups, at most 5 kernel columns and _DIRECT_MAX_K taps, and output
    rows that fill at least three quarters of their 32-column strips."""
    cdef idx_t strips = (g.Wo + GL_STRIP - 1) // GL_STRIP
    return (gl_conv_direct_built() and g.G == 1 and g.sh == 1 and g.sw == 1 and g.dh == 1 and g.dw == 1
            and g.kw <= 5 and g.Kg <= _DIRECT_MAX_K and 4 * g.Wo >= 3 * GL_STRIP * strips
            and g.Wo + g.kw + GL_STRIP < 2**30 and g.H + 2 * g.ph < 2**30)


cdef inline idx_t _direct_prow(const Geom* g) noexcept nogil:
    """Floats per padded row: every strip's last vector plus the kernel's reach, in whole vectors."""
    return ((((g.Wo + GL_STRIP - 1) // GL_STRIP) * GL_STRIP + g.kw - 1 + 7) // 8) * 8


cdef inline void _direct_pad(const float* x, float* xp, const Geom* g, idx_t prow) noexcept nogil:
    """One sample's planes into xp at their padded places.  The caller zeroes xp once, before its first
    sample; the padding is never written, so it stays zero from sample to sample."""
    cdef idx_t c, r, pplane = (g.H + 2 * g.ph) * prow
    for c in range(g.C):
        for r in range(g.H):
            memcpy(xp + c * pplane + (r + g.ph) * prow + g.pw, x + (c * g.H + r) * g.W, g.W * sizeof(float))


cdef inline idx_t _direct_bytes(const Geom* g) noexcept nogil:
    return _round64(g.C * (g.H + 2 * g.ph) * _direct_prow(g), 4)


cdef void _direct_fwd(const float* x, const float* w, const float* b, float* y, char* ws, const Geom* g,
                      int nt) noexcept nogil:
    cdef idx_t n, prow = _direct_prow(g), pplane = (g.H + 2 * g.ph) * prow, per = _direct_bytes(g)
    cdef int master = gl_master_cpu() if nt > 1 else -1
    cdef float* xp
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        xp = <float*>(ws + threadid() * per)
        memset(xp, 0, per)
        for n in prange(g.N, schedule='dynamic'):
            _direct_pad(x + n * g.C * g.H * g.W, xp, g, prow)
            gl_direct_forward(xp, prow, pplane, <int>g.C, <int>g.kh, <int>g.kw, w, b, <int>g.Cout,
                              y + n * g.Cout * g.L, <int>g.Ho, <int>g.Wo)


# ... and the pixel-tile loop layers of a multiple of 16 output channels with at most this many taps
cdef idx_t _DIRECT16_MAX_K = 256


cdef bint _direct16_ok(const Geom* g) noexcept nogil:
    """Stride 1, no dilation or groups, a multiple of 16 output channels, at most _DIRECT16_MAX_K taps
    (the block's weights, 16 KB, stay in L1)."""
    return (gl_conv_direct_built() and g.G == 1 and g.sh == 1 and g.sw == 1 and g.dh == 1 and g.dw == 1
            and g.Cout % 16 == 0 and g.Kg <= _DIRECT16_MAX_K and g.L >= 1
            and (g.H + 2 * g.ph) * (g.W + 2 * g.pw) < 2**30)


cdef inline idx_t _planes16_bytes(const Geom* g) noexcept nogil:
    """One sample's padded planes for the pixel-tile loops (rows of W + 2 pw floats)."""
    return _round64(g.C * (g.H + 2 * g.ph) * (g.W + 2 * g.pw), 4)


cdef void _direct16_fwd(const float* x, const float* w, const float* b, float* y, char* ws, const Geom* g,
                        int nt) noexcept nogil:
    """ws: the weights tap-major per block of 16 channels and the tap offsets, then per thread the padded
    planes and one block's pixel-major output."""
    cdef idx_t n, cb, k, q, prow = g.W + 2 * g.pw, K = g.Kg, nb = g.Cout // 16
    cdef idx_t wbytes = _round64(g.Cout * K, 4), obytes = _round64(K, sizeof(idx_t))
    cdef idx_t pbytes = _planes16_bytes(g), per = pbytes + _round64(g.L * 16, 4)
    cdef float* wt = <float*>ws
    cdef idx_t* toff = <idx_t*>(ws + wbytes)
    cdef char* mine
    cdef float* xp
    cdef float* out
    cdef int master = gl_master_cpu() if nt > 1 else -1
    for cb in range(nb):
        for k in range(K):
            for q in range(16):
                wt[(cb * K + k) * 16 + q] = w[(cb * 16 + q) * K + k]
    _direct16_offsets(toff, g)
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        mine = ws + wbytes + obytes + threadid() * per
        xp = <float*>mine
        out = <float*>(mine + pbytes)
        memset(xp, 0, pbytes)
        for n in prange(g.N, schedule='dynamic'):
            _direct_pad(x + n * g.C * g.H * g.W, xp, g, prow)
            for cb in range(nb):
                gl_direct_forward16(xp, prow, toff, <int>K, wt + cb * K * 16, NULL if b == NULL else b + cb * 16,
                                    out, <int>g.Ho, <int>g.Wo)
                gl_transpose8_f(out, y + (n * g.Cout + cb * 16) * g.L, g.L, 16)


cdef inline idx_t _direct16_bytes(const Geom* g, int nt) noexcept nogil:
    return (_round64(g.Cout * g.Kg, 4) + _round64(g.Kg, sizeof(idx_t))
            + nt * (_planes16_bytes(g) + _round64(g.L * 16, 4)))


cdef inline void _direct16_offsets(idx_t* toff, const Geom* g) noexcept nogil:
    """toff[(c, i, j)] = c * pplane + i * prow + j: tap k's place in the padded planes from an output
    pixel's (prow = W + 2 pw floats per padded row)."""
    cdef idx_t c, i, j, prow = g.W + 2 * g.pw, pplane = (g.H + 2 * g.ph) * prow
    for c in range(g.C):
        for i in range(g.kh):
            for j in range(g.kw):
                toff[(c * g.kh + i) * g.kw + j] = c * pplane + i * prow + j


cdef inline idx_t _direct16_wgrad_bytes(const Geom* g) noexcept nogil:
    """One chunk's slice: padded planes, a block's output gradient pixel-major, the gradient sums."""
    return _planes16_bytes(g) + _round64(g.L * 16, 4) + _round64(g.Cout * g.Kg + g.Cout, 4)


cdef void _direct16_wgrad(const float* x, const float* gy, float* gw, float* gb, char* ws, const Geom* g,
                          int nt, idx_t nslot, bint need_b) noexcept nogil:
    """Weight (and bias) gradient by the pixel-tile loop: slot k sums samples [k*N/nslot, (k+1)*N/nslot)
    into its own sums (tap-major per block of 16 channels), then the slots are added in order, as in _bwd:
    the same bits for any thread count."""
    cdef idx_t n, k, q, co, cb, chunk, prow = g.W + 2 * g.pw, K = g.Kg, nb = g.Cout // 16
    cdef idx_t obytes = _round64(K, sizeof(idx_t)), per = _direct16_wgrad_bytes(g)
    cdef idx_t pbytes = _planes16_bytes(g), dbytes = _round64(g.L * 16, 4)
    cdef idx_t* toff = <idx_t*>ws
    cdef char* mine
    cdef float* acc
    cdef int master = gl_master_cpu() if nt > 1 else -1
    _direct16_offsets(toff, g)
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        for chunk in prange(nslot, schedule='dynamic'):
            mine = ws + obytes + chunk * per
            acc = <float*>(mine + pbytes + dbytes)
            memset(mine, 0, per)
            for n in range(chunk * g.N // nslot, (chunk + 1) * g.N // nslot):
                _direct_pad(x + n * g.C * g.H * g.W, <float*>mine, g, prow)
                for cb in range(nb):
                    gl_transpose8_f(gy + (n * g.Cout + cb * 16) * g.L, <float*>(mine + pbytes), 16, g.L)
                    gl_direct_wgrad16(<float*>mine, prow, toff, <int>K, <float*>(mine + pbytes), acc + cb * K * 16,
                                      <int>g.Ho, <int>g.Wo)
                if need_b:
                    for co in range(g.Cout):
                        acc[g.Cout * K + co] += vsum(gy + (n * g.Cout + co) * g.L, g.L)
    memset(gw, 0, g.Cout * K * sizeof(float))
    if need_b:
        memset(gb, 0, g.Cout * sizeof(float))
    for chunk in range(nslot):
        acc = <float*>(ws + obytes + chunk * per + pbytes + dbytes)
        for cb in range(nb):
            for k in range(K):
                for q in range(16):
                    gw[(cb * 16 + q) * K + k] += acc[(cb * K + k) * 16 + q]
        if need_b:
            for co in range(g.Cout):
                gb[co] += acc[g.Cout * K + co]


def _takes_direct(xshape, wshape, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """Which direct loop a float32 forward of this geometry runs: "thin", "pixel tiles" (which the weight
    gradient takes too) or None (for the tests)."""
    cdef Geom g = _make_geom("conv2d_forward", tuple(xshape), tuple(wshape), stride, padding, dilation, groups)
    return "thin" if _direct_ok(&g) else "pixel tiles" if _direct16_ok(&g) else None
