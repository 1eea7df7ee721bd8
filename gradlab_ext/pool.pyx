# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Compiled 2-D pooling kernels: max pool and average pool, forward and backward.

The fast twins of ``gradlab/kernels/pool.py`` (same names, signatures and
results).  Arrays are NCHW, float32 or float64.  Every (sample, channel)
plane is independent, so the planes are spread over the cores with OpenMP.

Windows follow PyTorch exactly:
  * a window's rows are oh*sh - ph + i*dh for i < kh (columns alike), and
    only positions inside the input take part (padding never wins a max);
  * max pool keeps the FIRST maximum in row-major window order, but a NaN
    always wins (the max of a window holding NaN is NaN, index of its last NaN);
  * the argmax index is the flat position ih*W + iw inside the input plane;
    a window that covers no input position (possible with dilation) gives
    -inf and index -1, and max_pool2d_backward skips it;
  * average pool divides by divisor_override if given, else by the window
    area clipped to the padded input (count_include_pad=True) or to the input
    (count_include_pad=False); a window with no input position gives 0.
"""

from cython.parallel cimport prange, parallel, threadid
from libc.string cimport memset
from libc.math cimport INFINITY
cimport numpy as cnp
import numpy as np

from gradlab_ext._common cimport real, gl_omp_max_threads, gl_have_openmp, gl_pin_init, gl_master_cpu, gl_place

cnp.import_array()

ctypedef Py_ssize_t idx_t
ctypedef cnp.int64_t i64

include "_threads.pxi"
include "_checks.pxi"

__all__ = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"]

# below this many input elements, one thread does the whole job
cdef idx_t _PARALLEL_MIN_ELEMS = 32768



cdef extern from "_pool_avx2.h":
    idx_t gl_maxpool2x2_row_f(const float* r0, const float* r1, float* y, i64* ind, idx_t wo, i64 base,
                              cnp.int32_t W) noexcept nogil


cdef struct PGeom:
    idx_t planes, H, W, Ho, Wo
    idx_t kh, kw, sh, sw, ph, pw, dh, dw


cdef object _pool_out(object size, object k, object s, object p, object d, bint ceil_mode):
    """PyTorch's pooling output size (see gradlab/kernels/pool.py), in Python ints."""
    span = size + 2 * p - d * (k - 1) - 1
    if ceil_mode:
        span += s - 1
    if span < 0:
        return 0
    out = span // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


cdef PGeom _make_geom(str op, object xshape, object kernel_size, object stride, object padding,
                      object dilation, bint ceil_mode) except *:
    """The geometry of a call; refuses one whose loops would divide by zero, index
    out of the arrays or overflow (gradlab.kernels explains what is wrong in detail).
    Sizes are Python ints until they are checked, so no product overflows first."""
    cdef PGeom g
    N, C, H, W = xshape = _ints(op, "input shape", xshape, 4)
    kh, kw = kernel_size = _ints(op, "kernel_size", kernel_size, 2)
    sh, sw = stride = _ints(op, "stride", stride, 2)
    ph, pw = padding = _ints(op, "padding", padding, 2)
    dh, dw = dilation = _ints(op, "dilation", dilation, 2)
    context = (("input", xshape), ("kernel", kernel_size), ("stride", stride), ("padding", padding),
               ("dilation", dilation))
    if min(N, C, H, W, ph, pw) < 0 or min(kh, kw, sh, sw, dh, dw) < 1:
        raise ValueError(f"{op}: invalid geometry: {_described(context)} (gradlab.kernels.{op} says what is wrong)")
    if max(N, C, H, W) >= 2**63:
        raise ValueError(f"{op}: a dimension does not fit in 64 bits: {_described(context)}")
    _too_large(op, (("kernel size", max(kh, kw)), ("stride", max(sh, sw)), ("padding", max(ph, pw)),
                    ("dilation", max(dh, dw)), ("window size (kh*kw)", kh * kw),
                    ("input elements", N * C * H * W)), context)
    Ho = _pool_out(H, kh, sh, ph, dh, ceil_mode)
    Wo = _pool_out(W, kw, sw, pw, dw, ceil_mode)
    _too_large(op, (("output elements", N * C * Ho * Wo), ("output positions per plane", Ho * Wo)), context)
    g.planes = N * C
    g.H, g.W, g.Ho, g.Wo = H, W, Ho, Wo
    g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw = kh, kw, sh, sw, ph, pw, dh, dw
    return g


cdef inline int _threads(idx_t work, idx_t planes) noexcept nogil:
    if work < _PARALLEL_MIN_ELEMS or planes < 2:
        return 1
    return <int>min(<idx_t>_num_threads, planes)


cdef inline void _first_valid(idx_t start, idx_t d, idx_t* s) noexcept nogil:
    """Advance a window start by whole dilation steps until it is >= 0."""
    cdef idx_t v = start
    if v < 0:
        v += ((-v + d - 1) // d) * d
    s[0] = v


# ----------------------------------------------------------------------------
# Max pool
# ----------------------------------------------------------------------------

cdef inline void _take(real v, i64 k, real* best, i64* best_i, i64* nan_i) noexcept nogil:
    """One step of the window scan, without branches (compare + conditional moves):
    a strictly larger value replaces the best; a NaN is remembered separately."""
    cdef bint up = v > best[0]
    best_i[0] = k if up else best_i[0]
    best[0] = v if up else best[0]
    nan_i[0] = k if v != v else nan_i[0]


cdef void _maxpool_plane(const real* x, real* y, i64* ind, const PGeom* g) noexcept nogil:
    """One plane; ind may be NULL (no index bookkeeping).

    Random data makes "is this the new maximum?" a coin flip, so the scan
    uses conditional moves rather than branches (a mispredicted branch costs
    more than the whole window).  NaNs are tracked on the side: a window with
    a NaN yields NaN and the position of its last NaN, as PyTorch does.
    """
    cdef idx_t oh, ow, ow0, ih, iw, hs, he, ws, we
    cdef idx_t W = g.W
    cdef i64 best_i, nan_i, k0, i1, i2, k
    cdef real best, a, b, c, d
    cdef const real* r0
    cdef const real* r1
    if g.kh == 2 and g.kw == 2 and g.sh == 2 and g.sw == 2 and g.ph == 0 and g.pw == 0 \
            and g.dh == 1 and g.dw == 1 and 2 * g.Ho <= g.H and 2 * g.Wo <= g.W:
        # the common 2x2 / stride 2 case: every window is four in-bounds values
        for oh in range(g.Ho):
            r0 = x + 2 * oh * W
            r1 = r0 + W
            ow0 = 0
            if real is float and W < 2**30:
                ow0 = gl_maxpool2x2_row_f(r0, r1, y + oh * g.Wo, NULL if ind == NULL else ind + oh * g.Wo,
                                          g.Wo, 2 * oh * W, <cnp.int32_t>W)
            if ind == NULL:
                for ow in range(ow0, g.Wo):
                    a = r0[2 * ow]
                    b = r0[2 * ow + 1]
                    c = r1[2 * ow]
                    d = r1[2 * ow + 1]
                    a = b if (b > a or b != b) else a
                    a = c if (c > a or c != c) else a
                    a = d if (d > a or d != d) else a
                    y[oh * g.Wo + ow] = a
                continue
            for ow in range(ow0, g.Wo):
                a = r0[2 * ow]
                b = r0[2 * ow + 1]
                c = r1[2 * ow]
                d = r1[2 * ow + 1]
                k0 = 2 * oh * W + 2 * ow
                if a != a or b != b or c != c or d != d:       # rare: NaN wins, last one
                    best_i = k0 + W + 1 if d != d else (k0 + W if c != c else (k0 + 1 if b != b else k0))
                    y[oh * g.Wo + ow] = x[best_i]
                    ind[oh * g.Wo + ow] = best_i
                    continue
                # a tournament keeps the first maximum: (a vs b), (c vs d), then the
                # winners, a tie going to the earlier position.  Comparisons become
                # 0/1 integers and values pass through max, so nothing branches.
                i1 = b > a
                a = b if b > a else a
                i2 = d > c
                c = d if d > c else c
                k = c > a
                y[oh * g.Wo + ow] = c if c > a else a
                ind[oh * g.Wo + ow] = k0 + i1 + k * (W + i2 - i1)
        return
    for oh in range(g.Ho):
        _first_valid(oh * g.sh - g.ph, g.dh, &hs)
        he = min(oh * g.sh - g.ph + (g.kh - 1) * g.dh + 1, g.H)
        for ow in range(g.Wo):
            _first_valid(ow * g.sw - g.pw, g.dw, &ws)
            we = min(ow * g.sw - g.pw + (g.kw - 1) * g.dw + 1, g.W)
            best = -INFINITY
            best_i = -1
            nan_i = -1
            if hs < he and ws < we:
                best_i = hs * W + ws
                ih = hs
                while ih < he:
                    iw = ws
                    while iw < we:
                        _take(x[ih * W + iw], ih * W + iw, &best, &best_i, &nan_i)
                        iw += g.dw
                    ih += g.dh
                if nan_i >= 0:
                    best = x[nan_i]
                    best_i = nan_i
            y[oh * g.Wo + ow] = best
            if ind != NULL:
                ind[oh * g.Wo + ow] = best_i


# The planes cost alike, so each thread takes one contiguous run of them ('static'): handed out eight
# at a time from a shared counter, LeNet-5's small planes ran slower on two threads than on one
# (docs/performance.md, "Convolutions and pooling").
cdef void _maxpool(const real* x, real* y, i64* ind, const PGeom* g, int nt) noexcept nogil:
    cdef idx_t p, HW = g.H * g.W, L = g.Ho * g.Wo
    cdef int master = gl_master_cpu() if nt > 1 else -1
    if nt == 1:
        for p in range(g.planes):
            _maxpool_plane(x + p * HW, y + p * L, NULL if ind == NULL else ind + p * L, g)
        return
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        for p in prange(g.planes, schedule='static'):
            _maxpool_plane(x + p * HW, y + p * L, NULL if ind == NULL else ind + p * L, g)


def max_pool2d_forward(x, kernel_size, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False,
                       return_indices=False):
    """(y, indices): max over each window of x (N, C, H, W); indices is None
    unless return_indices (no index bookkeeping at all in that case)."""
    op = "max_pool2d_forward"
    x = _checked(op, "x", x, None, None)
    dt = x.dtype
    cdef PGeom g = _make_geom(op, x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    N, C = x.shape[0], x.shape[1]
    cdef cnp.ndarray y = np.empty((N, C, g.Ho, g.Wo), dtype=dt)
    cdef cnp.ndarray ind = np.empty((N, C, g.Ho, g.Wo), dtype=np.int64) if return_indices else None
    if y.size == 0:
        return y, ind
    cdef void* xp = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef void* yp = cnp.PyArray_DATA(y)
    cdef i64* ip = <i64*>cnp.PyArray_DATA(ind) if return_indices else NULL
    cdef int nt = _threads(x.size, g.planes)
    cdef bint f32 = dt == np.float32
    with nogil:
        if f32:
            _maxpool(<float*>xp, <float*>yp, ip, &g, nt)
        else:
            _maxpool(<double*>xp, <double*>yp, ip, &g, nt)
    return y, ind


cdef void _maxpool_bwd(const real* gy, const i64* ind, real* gx, idx_t planes, idx_t HW, idx_t L,
                       int nt, int* bad) noexcept nogil:
    cdef idx_t p
    cdef int master = gl_master_cpu() if nt > 1 else -1
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        for p in prange(planes, schedule='static'):
            _maxpool_bwd_plane(gy + p * L, ind + p * L, gx + p * HW, HW, L, bad)


cdef inline void _maxpool_bwd_plane(const real* gy, const i64* ind, real* dst, idx_t HW, idx_t L,
                                    int* bad) noexcept nogil:
    """One plane: zero it, then add each output gradient at its argmax."""
    cdef idx_t o
    cdef i64 k
    memset(dst, 0, HW * sizeof(real))
    for o in range(L):
        k = ind[o]
        if <cnp.uint64_t>k < <cnp.uint64_t>HW:
            dst[k] += gy[o]
        elif k != -1:
            bad[0] = 1


def max_pool2d_backward(grad_out, indices, input_shape):
    """grad_x (input_shape): each grad_out value added at its window's argmax."""
    op = "max_pool2d_backward"
    grad_out = _checked(op, "grad_out", grad_out, None, None)
    dt = grad_out.dtype
    shape = _ints(op, "input_shape", input_shape, 4)
    if grad_out.ndim != 4 or min(shape) < 0 or max(shape) >= 2**63:
        raise ValueError(f"{op}: expected 4-D grad_out and input_shape of 64-bit sizes, got "
                         f"{grad_out.shape} and {shape}")
    _too_large(op, (("input elements", shape[0] * shape[1] * shape[2] * shape[3]),
                    ("input plane", shape[2] * shape[3])), (("input_shape", shape),))
    indices = _checked(op, "indices", indices, np.dtype(np.int64), tuple(grad_out.shape))
    if tuple(grad_out.shape[:2]) != shape[:2]:
        raise ValueError(f"{op}: grad_out {tuple(grad_out.shape)} and input {shape} differ in (N, C)")
    cdef idx_t planes = shape[0] * shape[1]
    cdef idx_t HW = shape[2] * shape[3]
    cdef idx_t L = grad_out.shape[2] * grad_out.shape[3]
    cdef cnp.ndarray gx = np.empty(shape, dtype=dt)
    if HW == 0 and (indices != -1).any():     # (the loop below would catch it, but it is skipped)
        raise ValueError(f"{op}: indices out of range for an input plane of {shape[2]}x{shape[3]} "
                         f"(expected -1 or 0 <= index < {HW})")
    if gx.size == 0:
        return gx
    if L == 0:
        gx[...] = 0
        return gx
    cdef void* gyp = cnp.PyArray_DATA(<cnp.ndarray>grad_out)
    cdef i64* ip = <i64*>cnp.PyArray_DATA(<cnp.ndarray>indices)
    cdef void* gxp = cnp.PyArray_DATA(gx)
    cdef int nt = _threads(planes * HW, planes)
    cdef int bad = 0
    cdef bint f32 = dt == np.float32
    with nogil:
        if f32:
            _maxpool_bwd(<float*>gyp, ip, <float*>gxp, planes, HW, L, nt, &bad)
        else:
            _maxpool_bwd(<double*>gyp, ip, <double*>gxp, planes, HW, L, nt, &bad)
    if bad:
        raise ValueError(f"{op}: indices out of range for an input plane of {shape[2]}x{shape[3]} "
                         f"(expected -1 or 0 <= index < {HW})")
    return gx


# ----------------------------------------------------------------------------
# Average pool
# ----------------------------------------------------------------------------

cdef inline idx_t _avg_window(const PGeom* g, idx_t oh, idx_t ow, bint count_include_pad,
                              idx_t divisor_override, idx_t* hs, idx_t* he, idx_t* ws,
                              idx_t* we) noexcept nogil:
    """Clip window (oh, ow) to the input and return its divisor."""
    cdef idx_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw
    cdef idx_t h1 = min(h0 + g.kh, g.H + g.ph), w1 = min(w0 + g.kw, g.W + g.pw)
    cdef idx_t area = (h1 - h0) * (w1 - w0)
    h0 = max(h0, 0)
    w0 = max(w0, 0)
    h1 = min(h1, g.H)
    w1 = min(w1, g.W)
    hs[0] = h0
    he[0] = h1
    ws[0] = w0
    we[0] = w1
    if divisor_override != 0:
        return divisor_override
    if count_include_pad:
        return area
    return max((h1 - h0) * (w1 - w0), 1)


cdef void _avgpool_plane(const real* x, real* y, const PGeom* g, bint cip, idx_t dov) noexcept nogil:
    cdef idx_t oh, ow, ih, iw, hs, he, ws, we, div
    cdef real acc
    for oh in range(g.Ho):
        for ow in range(g.Wo):
            div = _avg_window(g, oh, ow, cip, dov, &hs, &he, &ws, &we)
            if hs >= he or ws >= we:
                y[oh * g.Wo + ow] = 0
                continue
            acc = 0
            for ih in range(hs, he):
                for iw in range(ws, we):
                    acc = acc + x[ih * g.W + iw]
            y[oh * g.Wo + ow] = acc / div


cdef void _avgpool_plane_bwd(const real* gy, real* gx, const PGeom* g, bint cip, idx_t dov) noexcept nogil:
    cdef idx_t oh, ow, ih, iw, hs, he, ws, we, div
    cdef real v
    memset(gx, 0, g.H * g.W * sizeof(real))
    for oh in range(g.Ho):
        for ow in range(g.Wo):
            div = _avg_window(g, oh, ow, cip, dov, &hs, &he, &ws, &we)
            if hs >= he or ws >= we:
                continue
            v = gy[oh * g.Wo + ow] / div
            for ih in range(hs, he):
                for iw in range(ws, we):
                    gx[ih * g.W + iw] += v


cdef void _avgpool(const real* x, real* y, const PGeom* g, bint cip, idx_t dov, int nt,
                   bint backward) noexcept nogil:
    cdef idx_t p, HW = g.H * g.W, L = g.Ho * g.Wo
    cdef int master = gl_master_cpu() if nt > 1 else -1
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        for p in prange(g.planes, schedule='static'):
            if backward:
                _avgpool_plane_bwd(x + p * L, y + p * HW, g, cip, dov)
            else:
                _avgpool_plane(x + p * HW, y + p * L, g, cip, dov)


cdef object _avg_pool(str op, object src, object shape, object kernel_size, object stride, object padding,
                      bint ceil_mode, bint count_include_pad, object divisor_override, bint backward):
    """avg_pool2d of src, an input of this shape; or with backward, its gradient (src is grad_out)."""
    src = _checked(op, "grad_out" if backward else "x", src, None, None)
    dt = src.dtype
    shape = _ints(op, "input_shape", src.shape if shape is None else shape, 4)
    cdef PGeom g = _make_geom(op, shape, kernel_size, stride, padding, (1, 1), ceil_mode)
    if divisor_override is not None:
        divisor_override = _int(op, "divisor_override", divisor_override)
        if divisor_override == 0 or not -2**63 <= divisor_override < 2**63:
            raise ValueError(f"{op}: divisor_override must be a non-zero 64-bit int, got {divisor_override}")
    cdef idx_t dov = 0 if divisor_override is None else divisor_override   # 0: the window's size
    cdef tuple out_shape = (shape[0], shape[1], g.Ho, g.Wo)
    if backward:
        _checked(op, "grad_out", src, dt, out_shape)
    cdef cnp.ndarray out = np.empty(shape if backward else out_shape, dtype=dt)
    if out.size == 0:
        return out
    cdef void* sp = cnp.PyArray_DATA(<cnp.ndarray>src)
    cdef void* op_ = cnp.PyArray_DATA(out)
    cdef int nt = _threads(g.planes * g.H * g.W, g.planes)
    cdef bint f32 = dt == np.float32
    with nogil:
        if f32:
            _avgpool(<float*>sp, <float*>op_, &g, count_include_pad, dov, nt, backward)
        else:
            _avgpool(<double*>sp, <double*>op_, &g, count_include_pad, dov, nt, backward)
    return out


def avg_pool2d_forward(x, kernel_size, stride, padding=(0, 0), ceil_mode=False,
                       count_include_pad=True, divisor_override=None):
    """Mean over each window of x (N, C, H, W)."""
    return _avg_pool("avg_pool2d_forward", x, None, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, False)


def avg_pool2d_backward(grad_out, input_shape, kernel_size, stride, padding=(0, 0), ceil_mode=False,
                        count_include_pad=True, divisor_override=None):
    """grad_x (input_shape): each grad_out value spread evenly (1/divisor) over its window."""
    return _avg_pool("avg_pool2d_backward", grad_out, input_shape, kernel_size, stride, padding,
                     ceil_mode, count_include_pad, divisor_override, True)
