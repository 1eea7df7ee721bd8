# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Compiled 2-D convolution kernels: im2col, col2im, conv2d forward/backward.

Arrays in, arrays out, NCHW layout, float32 or float64 (both arrays of a call
share one dtype).  These are the fast twins of ``gradlab/kernels/conv.py``:
same names, same signatures, same results up to float rounding.  The
dispatcher in ``gradlab/kernels/__init__.py`` validates arguments and makes
them contiguous before calling in here; this file only refuses a direct call
that would touch memory it does not own.

This file holds the entry points and what forward and backward share
(workspace, geometry, the unfold of one sample, the blocking plan); the
loops themselves are in ``_conv_forward.pxi`` and ``_conv_backward.pxi``.

How the convolution runs
------------------------
The batch is cut into blocks of ``B`` samples.  For each block and group the
input patches are unfolded (im2col) into a column buffer of shape
``(Cg*kh*kw, B*Ho*Wo)``, and one GEMM multiplies the group's weights with it.
Blocks are handed to the OpenMP threads one at a time (a dynamic schedule:
a core shared with another process simply takes fewer blocks).  Each thread
owns its column buffer, so the unfold and the GEMM that reads it happen back
to back while the buffer is still in the core's cache.  Several samples
share one block only when a sample's output plane is small (a one-sample
GEMM would be too thin to run fast).  Backward walks the same blocks: the
weight gradient is ``dY @ cols^T`` accumulated per fixed chunk of blocks
(the chunks summed in order at the end, so the result has the same bits on
every run), the input gradient is ``W^T @ dY`` folded back with col2im.
OpenBLAS never runs its own threads inside ours: blocks gather samples only
up to its threading threshold, and when one sample's GEMM is bigger than
that (wide layers), BLAS is held to one thread for the parallel region.

The unfold copies each input value kh*kw times.  Most of that is avoidable
when the vertical stride divides the vertical dilation (stride 1 always
does): kernel rows i and i+1 then read the same input rows, shifted.  So
for each (channel, kernel column) we gather one "band" of input rows, and a
kernel row's columns are a slice of it.  Classic im2col copies those slices
into the column buffer; "band mode" (one sample per block) leaves them in
place and runs one GEMM per kernel row over strided views of the bands; see
_band_forward.  The backward pass uses band mode, the forward pass too for
wide layers (32 or more input channels in a 3x3 conv), classic im2col for
thin ones (docs/performance.md has the measurements behind these choices).

Two shapes need no unfolding at all: a 1x1 kernel with stride 1 and no
padding (the input plane is already the column matrix), and a kernel that
covers the whole unpadded input (the conv is a fully connected layer over
the batch: one GEMM per group, cut into tiles for the OpenMP threads).
"""

cimport cython
from cython.parallel cimport prange, parallel, threadid
from libc.string cimport memset, memcpy
cimport numpy as cnp
import numpy as np
import threading

from gradlab_ext._common cimport (real, gemm_rm, par_gemm, par_gemm2, axpy, vsum, copy_run, gl_omp_max_threads,
                                  gl_have_openmp, gl_pin_init, gl_master_cpu, gl_place, blas_single,
                                  blas_restore, gl_blas_threads, BLAS_SINGLE_THREAD_MNK)

cnp.import_array()

ctypedef Py_ssize_t idx_t

# ----------------------------------------------------------------------------
# Threads and workspace
# ----------------------------------------------------------------------------

include "_threads.pxi"
include "_checks.pxi"

__all__ = ["im2col", "col2im", "conv2d_forward", "conv2d_backward", "conv2d_input_grad",
           "conv2d_weight_grad"]

# Below this many multiply-adds per call, one thread does the whole job
# (starting the OpenMP team costs more than it saves).
cdef idx_t _PARALLEL_MIN_WORK = 200000
# A block gathers samples until its GEMM has about this many columns.
cdef idx_t _TARGET_COLS = 256
# ... but a batch is cut into at least this many blocks (for the threads to share).
cdef idx_t _MIN_BLOCKS = 4
# Backward sums the weight gradient per chunk of blocks: this many chunks (see
# _plan), unless their workspace slices would take more than this many bytes.
cdef idx_t _BWD_CHUNKS = 4
cdef idx_t _BWD_CHUNK_BYTES_MAX = (<idx_t>64) << 20
# Largest weight-gradient output (Cog*Kg) computed as a "TN" GEMM: OpenBLAS runs
# TN fast only for small outputs (docs/performance.md).
cdef idx_t _GW_TN_MAX = 256
# Smallest GEMM depth (Cg*kw) for band mode, forward and backward: always in
# backward (it saves the unfold and the col2im adds); in forward from 16 (below
# that the kh GEMMs are too thin; LeNet-5's second layer, 30, runs 8-11% faster
# than with im2col on 1 and 2 threads); docs/performance.md, "Convolutions".
cdef idx_t _BAND_MIN_CK = 16
cdef idx_t _BAND_MIN_CK_BWD = 1
# Band mode with a GEMM depth of at least _BAND_SLICE_MIN_CK runs its GEMMs over slices
# of at most _BAND_COLS output columns (0: all): OpenBLAS runs (Cog x 64 x CK) products
# markedly faster than (Cog x 1024 x CK) ones; thinner layers keep one call per kernel
# row (docs/performance.md, "Convolutions").
cdef idx_t _BAND_COLS = 64
cdef idx_t _BAND_SLICE_MIN_CK = 64


def _tune(target_cols=None, gw_tn_max=None, band_min_ck=None, band_min_ck_bwd=None,
          parallel_min_work=None, band_cols=None, direct_max_k=None, direct16_max_k=None):
    """Set the blocking heuristics (for benchmarking them); returns the old values."""
    global _TARGET_COLS, _GW_TN_MAX, _BAND_MIN_CK, _BAND_MIN_CK_BWD, _PARALLEL_MIN_WORK, _BAND_COLS
    global _DIRECT_MAX_K, _DIRECT16_MAX_K
    old = dict(target_cols=_TARGET_COLS, gw_tn_max=_GW_TN_MAX, band_min_ck=_BAND_MIN_CK,
               band_min_ck_bwd=_BAND_MIN_CK_BWD, parallel_min_work=_PARALLEL_MIN_WORK,
               band_cols=_BAND_COLS, direct_max_k=_DIRECT_MAX_K, direct16_max_k=_DIRECT16_MAX_K)
    if direct_max_k is not None:
        _DIRECT_MAX_K = direct_max_k
    if direct16_max_k is not None:
        _DIRECT16_MAX_K = direct16_max_k
    if band_cols is not None:
        _BAND_COLS = band_cols
    if target_cols is not None:
        _TARGET_COLS = max(1, target_cols)
    if gw_tn_max is not None:
        _GW_TN_MAX = gw_tn_max
    if band_min_ck is not None:
        _BAND_MIN_CK = band_min_ck
    if band_min_ck_bwd is not None:
        _BAND_MIN_CK_BWD = band_min_ck_bwd
    if parallel_min_work is not None:
        _PARALLEL_MIN_WORK = parallel_min_work
    return old



def _blas_hold_probe():
    """(BLAS threads before, while held to one thread, after); 0 where the BLAS's
    thread control was not found.  For the tests."""
    cdef int prev = blas_single()
    cdef int held = gl_blas_threads()
    blas_restore(prev)
    return prev, held, gl_blas_threads()


cdef object _ws_lock = threading.Lock()
cdef object _ws_buf = None


cdef class _Scratch:
    """A byte buffer for one kernel call, 64-byte aligned.

    The module keeps one buffer and reuses it call after call (it only grows),
    so steady-state training does no large allocations here.  If another
    Python thread is inside a kernel and holds it, this call gets a private
    buffer instead.
    """
    cdef object arr
    cdef bint owns_lock
    cdef char* ptr

    def __cinit__(self, idx_t nbytes):
        global _ws_buf
        self.owns_lock = _ws_lock.acquire(False)
        if self.owns_lock:
            if _ws_buf is None or (<cnp.ndarray>_ws_buf).shape[0] < nbytes + 64:
                _ws_buf = None
                _ws_buf = np.empty(nbytes + 64 + (nbytes >> 2), dtype=np.uint8)
            self.arr = _ws_buf
        else:
            self.arr = np.empty(nbytes + 64, dtype=np.uint8)
        cdef size_t p = <size_t>cnp.PyArray_DATA(<cnp.ndarray>self.arr)
        self.ptr = <char*>((p + 63) & ~(<size_t>63))

    cdef void release(self):
        if self.owns_lock:
            self.owns_lock = False
            _ws_lock.release()

    def __dealloc__(self):
        if self.owns_lock:
            _ws_lock.release()


cdef inline idx_t _round64(idx_t nelem, idx_t itemsize) noexcept nogil:
    """Bytes for nelem items, rounded up to whole cache lines."""
    return (nelem * itemsize + 63) & ~(<idx_t>63)


# ----------------------------------------------------------------------------
# Geometry
# ----------------------------------------------------------------------------

cdef struct Geom:
    idx_t N, C, H, W          # input
    idx_t Cout, G, Cg, Cog    # output channels, groups, channels per group
    idx_t kh, kw, sh, sw, ph, pw, dh, dw
    idx_t Ho, Wo, L, Kg       # output plane, L = Ho*Wo, Kg = Cg*kh*kw


cdef Geom _make_geom(str op, object xshape, object wshape, object stride, object padding,
                     object dilation, object groups, bint columns=False) except *:
    """The geometry of a call; refuses one that would index out of the arrays or
    past 32-bit BLAS indices (gradlab.kernels explains what is wrong in detail).
    With columns, the (N, C*kh*kw, Ho*Wo) matrix of im2col is bounded too.

    Everything is computed with Python ints first: a product of sizes could
    overflow 64 bits, and then a check on it would pass what it should refuse."""
    cdef Geom g
    N, C, H, W = xshape = _ints(op, "input shape", xshape, 4)
    Cout, Cg, kh, kw = wshape = _ints(op, "weight shape", wshape, 4)
    sh, sw = stride = _ints(op, "stride", stride, 2)
    ph, pw = padding = _ints(op, "padding", padding, 2)
    dh, dw = dilation = _ints(op, "dilation", dilation, 2)
    G = _int(op, "groups", groups)
    context = (("input", xshape), ("weight", wshape), ("stride", stride), ("padding", padding),
               ("dilation", dilation), ("groups", G))
    if (min(N, C, H, W, Cout, Cg, ph, pw) < 0 or min(kh, kw, sh, sw, dh, dw, G) < 1
            or C != G * Cg or Cout % G != 0):
        raise ValueError(f"{op}: inconsistent geometry: {_described(context)} "
                         f"(gradlab.kernels.{op} says what is wrong)")
    if max(N, C, H, W, Cout, Cg) >= 2**63:
        raise ValueError(f"{op}: a dimension does not fit in 64 bits: {_described(context)}")
    _too_large(op, (("kernel size", max(kh, kw)), ("stride", max(sh, sw)),
                    ("padding", max(ph, pw)), ("dilation", max(dh, dw))), context)
    span_h = H + 2 * ph - dh * (kh - 1) - 1
    span_w = W + 2 * pw - dw * (kw - 1) - 1
    if span_h < 0 or span_w < 0:
        raise ValueError(f"{op}: inconsistent geometry: the kernel does not fit: {_described(context)} "
                         f"(gradlab.kernels.{op} says what is wrong)")
    Ho, Wo = span_h // sh + 1, span_w // sw + 1
    Kg = Cg * kh * kw
    _too_large(op, (("weights per filter (C/groups*kh*kw)", Kg), ("output positions (N*Ho*Wo)", max(N, 1) * Ho * Wo),
                    ("output channels", Cout), ("input elements per sample", C * H * W),
                    ("input elements", N * C * H * W), ("weight elements", Cout * Kg),
                    ("output elements", N * Cout * Ho * Wo), ("band workspace elements (2x)", 2 * (Ho + kh * dh) * Wo),
                    ("column elements", N * C * kh * kw * Ho * Wo if columns else 0)), context)
    g.N, g.C, g.H, g.W = N, C, H, W
    g.Cout, g.Cg, g.kh, g.kw = Cout, Cg, kh, kw
    g.sh, g.sw, g.ph, g.pw, g.dh, g.dw = sh, sw, ph, pw, dh, dw
    g.G = G
    g.Ho, g.Wo = Ho, Wo
    g.Cog = g.Cout // g.G
    g.L = g.Ho * g.Wo
    g.Kg = Kg
    return g


cdef inline bint _is_identity(const Geom* g) noexcept nogil:
    """1x1 kernel, stride 1, no padding: a sample's input plane IS its column matrix."""
    return (g.kh == 1 and g.kw == 1 and g.sh == 1 and g.sw == 1 and g.ph == 0 and g.pw == 0)


cdef inline bint _is_full(const Geom* g) noexcept nogil:
    """The kernel covers the whole unpadded input: one output pixel, a dense layer."""
    return (g.kh == g.H and g.kw == g.W and g.ph == 0 and g.pw == 0 and g.Ho == 1 and g.Wo == 1)


# ----------------------------------------------------------------------------
# im2col / col2im of one sample (a range of channels), into a strided buffer
# ----------------------------------------------------------------------------

cdef inline void _bounds(idx_t off, idx_t s, idx_t size, idx_t nout,
                         idx_t* lo, idx_t* hi) noexcept nogil:
    """Outputs o in [lo, hi) are exactly those with 0 <= o*s + off < size."""
    cdef idx_t a, b
    if off >= 0:
        a = 0
    else:
        a = (-off + s - 1) // s
    if size - off <= 0:
        b = 0
    else:
        b = (size - off + s - 1) // s
    if b > nout:
        b = nout
    if a > b:
        a = b
    lo[0] = a
    hi[0] = b


cdef inline void _segment_copy(real* dst, const real* x, idx_t base, idx_t sw,
                               idx_t lo, idx_t hi, idx_t n) noexcept nogil:
    """dst[o] = x[base + o*sw] for o in [lo, hi), 0 for the rest of [0, n)."""
    cdef idx_t o
    for o in range(lo):
        dst[o] = 0
    if sw == 1:
        copy_run(dst + lo, x + base + lo, hi - lo)
    else:
        for o in range(lo, hi):
            dst[o] = x[base + o * sw]
    for o in range(hi, n):
        dst[o] = 0


cdef extern from "_conv_moves.h":
    void gl_add_run_f(float* dst, const float* src, idx_t n) noexcept nogil
    void gl_add_run_d(double* dst, const double* src, idx_t n) noexcept nogil


cdef inline void _segment_add(const real* src, real* x, idx_t base, idx_t sw,
                              idx_t lo, idx_t hi) noexcept nogil:
    """x[base + o*sw] += src[o] for o in [lo, hi)."""
    cdef idx_t o
    if sw == 1:
        if real is float:
            gl_add_run_f(x + base + lo, src + lo, hi - lo)
        else:
            gl_add_run_d(x + base + lo, src + lo, hi - lo)
    else:
        for o in range(lo, hi):
            x[base + o * sw] += src[o]


cdef inline idx_t _band_rows(const Geom* g) noexcept nogil:
    """Rows of the band buffer (0 when the band method does not apply)."""
    if g.dh % g.sh != 0:
        return 0
    return g.Ho + (g.kh - 1) * (g.dh // g.sh)


cdef void _im2col1(const real* x, real* col, idx_t ldc, idx_t nchan, const Geom* g,
                   real* band) noexcept nogil:
    """Unfold nchan channels of one sample: row (c, i, j) of col, length Ho*Wo
    at stride ldc, holds x[c, oh*sh - ph + i*dh, ow*sw - pw + j*dw] (0 outside).

    When the vertical stride divides the vertical dilation (stride 1 always
    does), kernel rows i and i+1 read the same input rows shifted by
    step = dh/sh output rows.  So for each (c, j) we gather once a band of
    Ho + (kh-1)*step rows, band[r, ow] = x[c, r*sh - ph, ow*sw - pw + j*dw],
    and every kernel row i is the contiguous slice band[i*step : i*step + Ho]:
    one memcpy instead of Ho short copies.
    """
    cdef idx_t c, i, j, r, oh, oh_lo, oh_hi, ow_lo, ow_hi, hoff, woff, step
    cdef idx_t H = g.H, W = g.W, Ho = g.Ho, Wo = g.Wo, sh = g.sh, sw = g.sw
    cdef idx_t HW = H * W, L = g.Ho * g.Wo
    cdef idx_t R = _band_rows(g)
    cdef real* row
    if R > 0:
        step = g.dh // sh
        _bounds(-g.ph, sh, H, R, &oh_lo, &oh_hi)       # band rows inside the input
        for c in range(nchan):
            for j in range(g.kw):
                woff = j * g.dw - g.pw
                _bounds(woff, sw, W, Wo, &ow_lo, &ow_hi)
                if oh_lo > 0:
                    memset(band, 0, oh_lo * Wo * sizeof(real))
                for r in range(oh_lo, oh_hi):
                    _segment_copy(band + r * Wo, x, c * HW + (r * sh - g.ph) * W + woff,
                                  sw, ow_lo, ow_hi, Wo)
                if oh_hi < R:
                    memset(band + oh_hi * Wo, 0, (R - oh_hi) * Wo * sizeof(real))
                for i in range(g.kh):
                    memcpy(col + ((c * g.kh + i) * g.kw + j) * ldc, band + i * step * Wo,
                           L * sizeof(real))
        return
    for i in range(g.kh):
        hoff = i * g.dh - g.ph
        _bounds(hoff, sh, H, Ho, &oh_lo, &oh_hi)
        for j in range(g.kw):
            woff = j * g.dw - g.pw
            _bounds(woff, sw, W, Wo, &ow_lo, &ow_hi)
            for c in range(nchan):
                row = col + ((c * g.kh + i) * g.kw + j) * ldc
                if oh_lo > 0:
                    memset(row, 0, oh_lo * Wo * sizeof(real))
                for oh in range(oh_lo, oh_hi):
                    _segment_copy(row + oh * Wo, x, c * HW + (oh * sh + hoff) * W + woff,
                                  sw, ow_lo, ow_hi, Wo)
                if oh_hi < Ho:
                    memset(row + oh_hi * Wo, 0, (Ho - oh_hi) * Wo * sizeof(real))


cdef void _col2im1(const real* col, idx_t ldc, real* x, idx_t nchan, const Geom* g,
                   real* band) noexcept nogil:
    """Fold back: x[c, ih, iw] += every col entry that _im2col1 copied from there.

    Band method (see _im2col1) in reverse: the kh rows of (c, j) are summed
    into the band with contiguous vector adds, then the band is added onto
    the input rows once.
    """
    cdef idx_t c, i, j, r, t, oh, oh_lo, oh_hi, ow_lo, ow_hi, hoff, woff, step
    cdef idx_t H = g.H, W = g.W, Wo = g.Wo, sh = g.sh, sw = g.sw
    cdef idx_t HW = H * W, L = g.Ho * g.Wo
    cdef idx_t R = _band_rows(g)
    cdef const real* row
    cdef real* dst
    if R > 0:
        step = g.dh // sh
        _bounds(-g.ph, sh, H, R, &oh_lo, &oh_hi)
        for c in range(nchan):
            for j in range(g.kw):
                woff = j * g.dw - g.pw
                _bounds(woff, sw, W, Wo, &ow_lo, &ow_hi)
                memset(band, 0, R * Wo * sizeof(real))
                for i in range(g.kh):
                    axpy(<int>L, 1, col + ((c * g.kh + i) * g.kw + j) * ldc, band + i * step * Wo)
                for r in range(oh_lo, oh_hi):
                    _segment_add(band + r * Wo, x, c * HW + (r * sh - g.ph) * W + woff,
                                 sw, ow_lo, ow_hi)
        return
    for c in range(nchan):
        for i in range(g.kh):
            hoff = i * g.dh - g.ph
            _bounds(hoff, sh, H, g.Ho, &oh_lo, &oh_hi)
            for j in range(g.kw):
                woff = j * g.dw - g.pw
                _bounds(woff, sw, W, Wo, &ow_lo, &ow_hi)
                row = col + ((c * g.kh + i) * g.kw + j) * ldc
                for oh in range(oh_lo, oh_hi):
                    _segment_add(row + oh * Wo, x, c * HW + (oh * sh + hoff) * W + woff,
                                 sw, ow_lo, ow_hi)


# ----------------------------------------------------------------------------
# Blocking plan and workspace layout, shared by forward and backward
# ----------------------------------------------------------------------------

cdef struct Plan:
    idx_t B          # samples per block
    idx_t nblk       # number of blocks
    int nt           # OpenMP threads
    idx_t nslot      # workspace slices: one per thread (forward), one per chunk of blocks (backward)
    bint ident       # no unfolding needed (1x1 kernel, stride 1, no padding)
    bint band        # "band" mode (see _band_forward), else classic im2col
    bint gw_t        # accumulate the weight gradient transposed (see _bwd_block)
    bint blas1       # hold BLAS to one thread during the parallel region
    idx_t CK         # band mode: GEMM depth Cg*kw
    idx_t S          # band mode: elements from one band to the next
    idx_t step       # band mode: band rows between kernel rows (dh / sh)
    idx_t cols       # band mode: output columns per GEMM (a slice of L)
    # byte offsets: a shared read-only part, then one slice per thread
    idx_t shared     # bytes before the first thread's slice (reordered weights)
    idx_t off_aux    # (Cog x B*L): forward GEMM output / backward gathered dY
    idx_t off_dyt    # (B*L x Cog): backward dY transposed (when gw_t)
    idx_t off_band   # band rows (classic: one band; band mode: Cg*kw bands)
    idx_t off_gw     # (Cout x Kg) weight-gradient accumulator
    idx_t off_gb     # (Cout,) bias-gradient accumulator
    idx_t per_thread # bytes per slice (classic: cols start at offset 0)


cdef Plan _plan(const Geom* g, idx_t work, idx_t isz, bint backward):
    cdef Plan p
    cdef idx_t per_sample = g.L * g.Cog * g.Kg
    cdef idx_t R = _band_rows(g)
    cdef int nt = _num_threads
    p.ident = _is_identity(g)
    if p.ident:
        p.B = 1
    else:
        p.B = max(1, _TARGET_COLS // g.L)
        # keep each GEMM below OpenBLAS's own threading threshold
        p.B = min(p.B, max(1, BLAS_SINGLE_THREAD_MNK // max(per_sample, 1)))
        # at least _MIN_BLOCKS blocks, so that threads have blocks to share; the
        # same rule for any thread count keeps the GEMMs (and so the bits) the same
        p.B = min(p.B, max(1, (g.N + _MIN_BLOCKS - 1) // _MIN_BLOCKS))
        p.B = min(p.B, max(g.N, 1))
    p.nblk = (g.N + p.B - 1) // p.B
    if work < _PARALLEL_MIN_WORK:
        nt = 1          # a tiny job: waking the threads costs more than it saves
    p.nt = <int>min(<idx_t>nt, p.nblk)
    if p.nt < 1:
        p.nt = 1
    # A sample's GEMM may be bigger than OpenBLAS's own threading threshold: then
    # BLAS is held to one thread while ours share the samples (its spinning
    # workers would fight ours for the cores, and collapse on a loaded machine).
    p.blas1 = p.nt > 1 and p.B * per_sample > BLAS_SINGLE_THREAD_MNK
    p.CK = g.Cg * g.kw
    p.band = (not p.ident and p.B == 1 and R > 0 and g.kh >= 2
              and p.CK >= (_BAND_MIN_CK_BWD if backward else _BAND_MIN_CK))
    p.step = g.dh // g.sh if R > 0 else 0
    p.cols = g.L if _BAND_COLS <= 0 or p.CK < _BAND_SLICE_MIN_CK else max(1, min(g.L, _BAND_COLS))
    p.S = ((R * g.Wo + 15) // 16) * 16
    # Weight gradient: gw (Cog x Kg) += dY (Cog x BL) @ cols^T reads both operands
    # along their rows ("TN" for BLAS), which OpenBLAS only runs fast for small
    # outputs.  Otherwise transpose the (small) dY block and compute
    # gw^T (Kg x Cog) += cols (Kg x BL) @ dY^T (BL x Cog), a plain "NN" product.
    p.gw_t = backward and g.Cog * (p.CK if p.band else g.Kg) > _GW_TN_MAX
    if p.band:
        p.shared = _round64(g.Cout * g.Kg, isz)
        p.off_band = 0
        p.off_aux = 0
        p.off_dyt = _round64(p.CK * p.S, isz)
        p.off_gw = p.off_dyt + (_round64(g.L * g.Cog, isz) if p.gw_t else 0)
    else:
        p.shared = 0
        p.off_aux = 0 if p.ident else _round64(g.Kg * p.B * g.L, isz)
        p.off_dyt = p.off_aux + _round64(g.Cog * p.B * g.L, isz)
        p.off_band = p.off_dyt + (_round64(g.Cog * p.B * g.L, isz) if p.gw_t else 0)
        p.off_gw = p.off_band + _round64(R * g.Wo, isz)
    p.off_gb = p.off_gw + (_round64(g.Cout * g.Kg, isz) if backward else 0)
    p.per_thread = p.off_gb + (_round64(g.Cout, isz) if backward else 0)
    # Backward, the weight and bias gradients are sums over the blocks.  For the
    # same bits run after run, each partial sum must cover the same blocks in the
    # same order whichever thread computes it: the blocks are cut into fixed
    # chunks, each with its own slice (and accumulators), and the threads take
    # whole chunks (more chunks than threads, so a thread on a busy core can take
    # fewer).  The number of chunks does not depend on the thread count (up to
    # _BWD_CHUNKS threads), so 1 and 2 threads give the same bits too; only
    # layers whose slices are too big to keep _BWD_CHUNKS of get one per thread.
    p.nslot = p.nt
    if backward:
        p.nslot = max(p.nt, _BWD_CHUNKS) if p.per_thread * _BWD_CHUNKS <= _BWD_CHUNK_BYTES_MAX else p.nt
        p.nslot = min(p.nblk, p.nslot)
    return p


cdef void _reorder_weights(const real* w, real* wr, const Geom* g) noexcept nogil:
    """wr[gi, i, co, c*kw + j] = w[gi*Cog + co, c, i, j]: for each group and kernel
    row i, the (Cog x Cg*kw) matrix that multiplies the bands (band mode)."""
    cdef idx_t gi, i, co, c, j
    cdef idx_t CK = g.Cg * g.kw
    for gi in range(g.G):
        for i in range(g.kh):
            for co in range(g.Cog):
                for c in range(g.Cg):
                    for j in range(g.kw):
                        wr[((gi * g.kh + i) * g.Cog + co) * CK + c * g.kw + j] = \
                            w[(((gi * g.Cog + co) * g.Cg + c) * g.kh + i) * g.kw + j]


cdef void _build_bands(const real* x, real* bands, idx_t S, const Geom* g) noexcept nogil:
    """bands[(c*kw + j)*S + r*Wo + ow] = x[c, r*sh - ph, ow*sw - pw + j*dw] (0 outside),
    for the Cg channels at x and r < Ho + (kh-1)*dh/sh (see _im2col1)."""
    cdef idx_t c, j, r, r_lo, r_hi, ow_lo, ow_hi, woff
    cdef idx_t R = _band_rows(g), Wo = g.Wo, HW = g.H * g.W
    cdef real* band
    _bounds(-g.ph, g.sh, g.H, R, &r_lo, &r_hi)
    for c in range(g.Cg):
        for j in range(g.kw):
            band = bands + (c * g.kw + j) * S
            woff = j * g.dw - g.pw
            _bounds(woff, g.sw, g.W, Wo, &ow_lo, &ow_hi)
            if r_lo > 0:
                memset(band, 0, r_lo * Wo * sizeof(real))
            for r in range(r_lo, r_hi):
                _segment_copy(band + r * Wo, x, c * HW + (r * g.sh - g.ph) * g.W + woff,
                              g.sw, ow_lo, ow_hi, Wo)
            if r_hi < R:
                memset(band + r_hi * Wo, 0, (R - r_hi) * Wo * sizeof(real))


cdef void _fold_bands(const real* bands, real* x, idx_t S, const Geom* g) noexcept nogil:
    """x[c, r*sh - ph, ow*sw - pw + j*dw] += bands[...]: the adjoint of _build_bands."""
    cdef idx_t c, j, r, r_lo, r_hi, ow_lo, ow_hi, woff
    cdef idx_t R = _band_rows(g), Wo = g.Wo, HW = g.H * g.W
    cdef const real* band
    _bounds(-g.ph, g.sh, g.H, R, &r_lo, &r_hi)
    for c in range(g.Cg):
        for j in range(g.kw):
            band = bands + (c * g.kw + j) * S
            woff = j * g.dw - g.pw
            _bounds(woff, g.sw, g.W, Wo, &ow_lo, &ow_hi)
            for r in range(r_lo, r_hi):
                _segment_add(band + r * Wo, x, c * HW + (r * g.sh - g.ph) * g.W + woff,
                             g.sw, ow_lo, ow_hi)


# ----------------------------------------------------------------------------
# Forward: the loops are in _conv_forward.pxi
# ----------------------------------------------------------------------------

include "_conv_forward.pxi"
include "_conv_direct.pxi"


def conv2d_forward(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """y = conv2d(x, w) + b.  x (N, C, H, W), w (Cout, C/groups, kh, kw), b (Cout,) or None."""
    op = "conv2d_forward"
    x = _checked(op, "x", x, None, None)
    dt = x.dtype
    w = _checked(op, "w", w, dt, None)
    cdef Geom g = _make_geom(op, tuple(x.shape), tuple(w.shape), stride, padding, dilation, groups)
    if b is not None:
        b = _checked(op, "b", b, dt, (g.Cout,))
    cdef cnp.ndarray y = np.empty((g.N, g.Cout, g.Ho, g.Wo), dtype=dt)
    if y.size == 0:
        return y
    if g.Kg == 0:
        y[...] = 0 if b is None else b.reshape(1, -1, 1, 1)
        return y
    cdef idx_t isz = 4 if dt == np.float32 else 8
    cdef void* xp = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef void* wp = cnp.PyArray_DATA(<cnp.ndarray>w)
    cdef void* bp = NULL if b is None else cnp.PyArray_DATA(<cnp.ndarray>b)
    cdef void* yp = cnp.PyArray_DATA(y)
    cdef Geom* gp = &g
    cdef Plan p
    cdef _Scratch s
    cdef char* ws
    cdef int nt = 1 if g.N * g.Cout * g.Kg < _PARALLEL_MIN_WORK else _num_threads
    if _is_full(&g):
        with nogil:
            if isz == 4:
                _fc_fwd(<float*>xp, <float*>wp, <float*>bp, <float*>yp, gp, nt)
            else:
                _fc_fwd(<double*>xp, <double*>wp, <double*>bp, <double*>yp, gp, nt)
        return y
    cdef bint thin = isz == 4 and _direct_ok(&g)
    if thin or (isz == 4 and _direct16_ok(&g)):     # the direct loops (_conv_direct.pxi)
        nt = 1 if g.N * g.L * g.Cout * g.Kg < _PARALLEL_MIN_WORK else <int>min(<idx_t>_num_threads, g.N)
        s = _Scratch(_direct_bytes(&g) * nt if thin else _direct16_bytes(&g, nt))
        try:
            with nogil:
                if thin:
                    _direct_fwd(<float*>xp, <float*>wp, <float*>bp, <float*>yp, s.ptr, gp, nt)
                else:
                    _direct16_fwd(<float*>xp, <float*>wp, <float*>bp, <float*>yp, s.ptr, gp, nt)
        finally:
            s.release()
        return y
    p = _plan(&g, g.N * g.L * g.Cog * g.Kg * g.G, isz, False)
    s = _Scratch(p.shared + p.per_thread * p.nslot)
    ws = s.ptr
    try:
        with nogil:
            if isz == 4:
                _fwd(<float*>xp, <float*>wp, <float*>bp, <float*>yp, ws, gp, &p)
            else:
                _fwd(<double*>xp, <double*>wp, <double*>bp, <double*>yp, ws, gp, &p)
    finally:
        s.release()
    return y


# ----------------------------------------------------------------------------
# Backward: the loops are in _conv_backward.pxi
# ----------------------------------------------------------------------------

include "_conv_backward.pxi"


cdef tuple _backward(str op, object gy, object x, object xshape, object w, object wshape,
                     object stride, object padding, object dilation, object groups,
                     bint need_x, bint need_w, bint need_b):
    gy = _checked(op, "grad_out", gy, None, None)
    dt = gy.dtype
    cdef Geom g = _make_geom(op, xshape, wshape, stride, padding, dilation, groups)
    xshape = (g.N, g.C, g.H, g.W)
    wshape = (g.Cout, g.Cg, g.kh, g.kw)
    gy = _checked(op, "grad_out", gy, dt, (g.N, g.Cout, g.Ho, g.Wo))
    if need_w:
        x = _checked(op, "x", x, dt, xshape)
    if need_x:
        w = _checked(op, "w", w, dt, wshape)
    cdef cnp.ndarray gx = np.empty(xshape, dtype=dt) if need_x else None
    cdef cnp.ndarray gw = np.empty(wshape, dtype=dt) if need_w else None
    cdef cnp.ndarray gb = np.empty((g.Cout,), dtype=dt) if need_b else None
    if not (need_x or need_w or need_b):
        return None, None, None
    if g.N == 0 or g.Cout == 0 or g.Kg == 0:      # nothing to multiply
        for a in (gx, gw):
            if a is not None:
                a[...] = 0
        if gb is not None:
            gb[...] = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb
    cdef idx_t isz = 4 if dt == np.float32 else 8
    cdef void* xp = cnp.PyArray_DATA(<cnp.ndarray>x) if need_w else NULL
    cdef void* wp = cnp.PyArray_DATA(<cnp.ndarray>w) if need_x else NULL
    cdef void* gyp = cnp.PyArray_DATA(<cnp.ndarray>gy)
    cdef void* gxp = cnp.PyArray_DATA(gx) if need_x else NULL
    cdef void* gwp = cnp.PyArray_DATA(gw) if need_w else NULL
    cdef void* gbp = cnp.PyArray_DATA(gb) if need_b else NULL
    cdef Geom* gp = &g
    cdef Plan p
    cdef _Scratch s
    cdef char* ws
    cdef int nt = 1 if g.N * g.Cout * g.Kg < _PARALLEL_MIN_WORK else _num_threads
    if _is_full(&g):
        with nogil:
            if isz == 4:
                _fc_bwd(<float*>xp, <float*>wp, <float*>gyp, <float*>gxp, <float*>gwp, <float*>gbp,
                        gp, need_x, need_w, need_b, nt)
            else:
                _fc_bwd(<double*>xp, <double*>wp, <double*>gyp, <double*>gxp, <double*>gwp, <double*>gbp,
                        gp, need_x, need_w, need_b, nt)
        return gx, gw, gb
    cdef idx_t nslot
    if isz == 4 and need_w and _direct16_ok(&g):
        # the weight and bias gradients by the pixel-tile loop; the input gradient, if wanted, below
        nt = 1 if g.N * g.L * g.Cout * g.Kg < _PARALLEL_MIN_WORK else <int>min(<idx_t>_num_threads, g.N)
        nslot = min(g.N, max(<idx_t>nt, _BWD_CHUNKS))
        s = _Scratch(_round64(g.Kg, sizeof(idx_t)) + _direct16_wgrad_bytes(&g) * nslot)
        try:
            with nogil:
                _direct16_wgrad(<float*>xp, <float*>gyp, <float*>gwp, <float*>gbp, s.ptr, gp, nt, nslot, need_b)
        finally:
            s.release()
        if not need_x:
            return gx, gw, gb
        need_w = need_b = False
    p = _plan(&g, g.N * g.L * g.Cog * g.Kg * g.G * (<int>need_x + <int>need_w), isz, True)
    s = _Scratch(p.shared + p.per_thread * p.nslot)
    ws = s.ptr
    try:
        with nogil:
            if isz == 4:
                _bwd(<float*>xp, <float*>wp, <float*>gyp, <float*>gxp, <float*>gwp, <float*>gbp,
                     ws, gp, &p, need_x, need_w, need_b)
            else:
                _bwd(<double*>xp, <double*>wp, <double*>gyp, <double*>gxp, <double*>gwp, <double*>gbp,
                     ws, gp, &p, need_x, need_w, need_b)
    finally:
        s.release()
    return gx, gw, gb


def conv2d_backward(grad_out, x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                    bint need_input=True, bint need_weight=True, bint need_bias=True):
    """(grad_x, grad_w, grad_b) of conv2d; an entry is None when its need_* flag is False."""
    op = "conv2d_backward"
    x = _checked(op, "x", x, None, None)
    w = _checked(op, "w", w, None, None)
    return _backward(op, grad_out, x, x.shape, w, w.shape,
                     stride, padding, dilation, groups, need_input, need_weight, need_bias)


def conv2d_input_grad(grad_out, w, input_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                      groups=1):
    """grad_x of conv2d for an input of shape input_shape (a transposed convolution)."""
    w = _checked("conv2d_input_grad", "w", w, None, None)
    return _backward("conv2d_input_grad", grad_out, None, input_shape, w, w.shape,
                     stride, padding, dilation, groups, True, False, False)[0]


def conv2d_weight_grad(grad_out, x, weight_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                       groups=1):
    """grad_w of conv2d for a weight of shape weight_shape."""
    x = _checked("conv2d_weight_grad", "x", x, None, None)
    return _backward("conv2d_weight_grad", grad_out, x, x.shape, None, weight_shape,
                     stride, padding, dilation, groups, False, True, False)[1]


# ----------------------------------------------------------------------------
# Stand-alone im2col / col2im
# ----------------------------------------------------------------------------

cdef void _unfold_all(real* x, real* cols, const Geom* g, int nt, char* ws, idx_t per,
                      bint fold) noexcept nogil:
    """im2col of every sample (x -> cols), or with fold col2im (cols -> x); one sample per task."""
    cdef idx_t n, rows = g.C * g.kh * g.kw, HW = g.H * g.W
    cdef int master = gl_master_cpu() if nt > 1 else -1
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        for n in prange(g.N, schedule='dynamic'):
            if fold:
                memset(x + n * g.C * HW, 0, g.C * HW * sizeof(real))
                _col2im1(cols + n * rows * g.L, g.L, x + n * g.C * HW, g.C, g,
                         <real*>(ws + threadid() * per))
            else:
                _im2col1(x + n * g.C * HW, cols + n * rows * g.L, g.L, g.C, g,
                         <real*>(ws + threadid() * per))


cdef object _unfold(str op, object src, object shape, object kernel_size, object stride, object padding,
                    object dilation, bint fold):
    """im2col (src is the image, of this shape) or, with fold, col2im (src is the columns)."""
    src = _checked(op, "cols" if fold else "x", src, None, None)
    dt = src.dtype
    shape = tuple(src.shape) if not fold else _ints(op, "input_shape", shape, 4)
    kh, kw = _ints(op, "kernel_size", kernel_size, 2)
    cdef Geom g = _make_geom(op, shape, (1, shape[1], kh, kw), stride, padding, dilation, 1, True)
    shape = (g.N, g.C, g.H, g.W)
    cdef tuple cols_shape = (g.N, g.C * g.kh * g.kw, g.L)
    if fold:
        _checked(op, "cols", src, dt, cols_shape)
    cdef cnp.ndarray out = np.empty(shape if fold else cols_shape, dtype=dt)
    if out.size == 0:
        return out
    cdef void* xp = cnp.PyArray_DATA(out if fold else <cnp.ndarray>src)
    cdef void* cp = cnp.PyArray_DATA(<cnp.ndarray>src if fold else out)
    cdef Geom* gp = &g
    cdef int nt = 1 if g.N * g.C * g.kh * g.kw * g.L < 100000 else <int>min(<idx_t>_num_threads, g.N)
    cdef bint f32 = dt == np.float32
    cdef idx_t per = _round64(_band_rows(&g) * g.Wo, 8)
    cdef _Scratch s = _Scratch(per * nt)
    cdef char* ws = s.ptr
    try:
        with nogil:
            if f32:
                _unfold_all(<float*>xp, <float*>cp, gp, nt, ws, per, fold)
            else:
                _unfold_all(<double*>xp, <double*>cp, gp, nt, ws, per, fold)
    finally:
        s.release()
    return out


def im2col(x, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Unfold x (N, C, H, W) into columns (N, C*kh*kw, Ho*Wo)."""
    return _unfold("im2col", x, None, kernel_size, stride, padding, dilation, False)


def col2im(cols, input_shape, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Fold columns (N, C*kh*kw, Ho*Wo) back to (N, C, H, W), summing overlaps."""
    return _unfold("col2im", cols, input_shape, kernel_size, stride, padding, dilation, True)
