# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Compiled layer norm and batch norm, forward and backward: the fast twins of ``gradlab/kernels/norm.py``.

Layer norm standardizes each row of x (M, N); batch norm each channel of
x (N, C, S) over the batch and the S spatial positions.  Forward computes the
statistics in two passes over data that is in cache (the mean, then the
squared deviations: no cancellation as E[x^2] - E[x]^2 would have), with
16 partial sums in x's type over a row (or a channel's run of positions) in
a fixed order, so that the compiler vectorises them, added up in float64.  It returns mean
and rstd = 1 / sqrt(var + eps) for the backward, which then needs neither a
saved xhat nor a second look at the statistics:

    gx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat)),  gh = g * weight

Threads: layer norm rows and batch norm channels are split over the OpenMP
team.  Every sum is computed by one thread in a fixed order, and layer
norm's weight and bias gradients (sums over rows) add fixed blocks of 64
rows in order, so the results are the same bits for any number of threads.
"""
cimport numpy as cnp
import numpy as np
from cython.parallel cimport prange, parallel, threadid
from libc.math cimport sqrt

from gradlab_ext._common cimport (real, vsum64, gl_omp_max_threads, gl_have_openmp, gl_pin_init, gl_master_cpu,
                                  gl_place)

cnp.import_array()

ctypedef Py_ssize_t idx_t

include "_threads.pxi"
include "_checks.pxi"

__all__ = ["layer_norm_forward", "layer_norm_backward", "batch_norm_forward", "batch_norm_backward"]

# below this many elements one thread does the whole job (waking a second costs more)
cdef idx_t _PARALLEL_MIN_ELEMS = 1 << 15
# layer norm's weight/bias gradients: one partial sum per block of this many rows
cdef idx_t _ROW_BLOCK = 64


cdef inline double _squared_deviations(const real* x, double m, idx_t n) noexcept nogil:
    """sum((x - m)^2), as _sum."""
    cdef real p[16]
    cdef real mr = <real>m
    cdef double total = 0
    cdef idx_t i = 0, k
    for k in range(16):
        p[k] = 0
    while i + 16 <= n:
        for k in range(16):
            p[k] += (x[i + k] - mr) * (x[i + k] - mr)
        i += 16
    while i < n:
        total += (x[i] - mr) * (x[i] - mr)
        i += 1
    for k in range(16):
        total += p[k]
    return total


cdef inline double _dot_centered(const real* g, const real* x, double m, idx_t n) noexcept nogil:
    """sum(g * (x - m)), as _sum."""
    cdef real p[16]
    cdef real mr = <real>m
    cdef double total = 0
    cdef idx_t i = 0, k
    for k in range(16):
        p[k] = 0
    while i + 16 <= n:
        for k in range(16):
            p[k] += g[i + k] * (x[i + k] - mr)
        i += 16
    while i < n:
        total += g[i] * (x[i] - mr)
        i += 1
    for k in range(16):
        total += p[k]
    return total


cdef inline int _threads_for(idx_t elems, idx_t units) noexcept nogil:
    """Team size for a job of `elems` elements in `units` independent pieces."""
    if elems < _PARALLEL_MIN_ELEMS or units < 2:
        return 1
    return <int>min(<idx_t>_num_threads, units)


# ---- layer norm -------------------------------------------------------------------------------

cdef void _ln_forward_rows(const real* x, const real* w, const real* b, real* y, real* mean, real* rstd,
                           idx_t lo, idx_t hi, idx_t n, double eps) noexcept nogil:
    cdef idx_t i, j
    cdef double m, r
    cdef const real* xr
    cdef real* yr
    cdef real mr, rr
    for i in range(lo, hi):
        xr = x + i * n
        yr = y + i * n
        m = vsum64(xr, n) / n
        r = 1.0 / sqrt(_squared_deviations(xr, m, n) / n + eps)
        mean[i] = <real>m
        rstd[i] = <real>r
        mr = <real>m
        rr = <real>r
        if w != NULL and b != NULL:
            for j in range(n):
                yr[j] = (xr[j] - mr) * rr * w[j] + b[j]
        elif w != NULL:
            for j in range(n):
                yr[j] = (xr[j] - mr) * rr * w[j]
        elif b != NULL:
            for j in range(n):
                yr[j] = (xr[j] - mr) * rr + b[j]
        else:
            for j in range(n):
                yr[j] = (xr[j] - mr) * rr


cdef void _ln_forward(const real* x, const real* w, const real* b, real* y, real* mean, real* rstd,
                      idx_t m, idx_t n, double eps) noexcept nogil:
    cdef int nt = _threads_for(m * n, m)
    cdef int master, t
    if nt == 1:
        _ln_forward_rows(x, w, b, y, mean, rstd, 0, m, n, eps)
        return
    master = gl_master_cpu()
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        for t in prange(nt, schedule='static', chunksize=1):
            _ln_forward_rows(x, w, b, y, mean, rstd, m * t // nt, m * (t + 1) // nt, n, eps)


cdef void _ln_backward_block(const real* g, const real* x, const real* mean, const real* rstd, const real* w,
                             real* gx, real* pw, real* pb, real* gh, idx_t lo, idx_t hi, idx_t n,
                             bint need_x) noexcept nogil:
    """Rows lo..hi: gx, and this block's partial sums of g * xhat (pw) and g (pb) when asked (not NULL)."""
    cdef idx_t i, j
    cdef double a, c, r
    cdef real m, rr, ra, rc
    cdef const real* gr
    cdef const real* xr
    cdef real* gxr
    if pw != NULL:
        for j in range(n):
            pw[j] = 0
    if pb != NULL:
        for j in range(n):
            pb[j] = 0
    for i in range(lo, hi):
        gr = g + i * n
        xr = x + i * n
        m = mean[i]
        rr = rstd[i]
        if pw != NULL:
            for j in range(n):
                pw[j] += gr[j] * ((xr[j] - m) * rr)
        if pb != NULL:
            for j in range(n):
                pb[j] += gr[j]
        if not need_x:
            continue
        if w != NULL:
            for j in range(n):
                gh[j] = gr[j] * w[j]
        else:
            for j in range(n):
                gh[j] = gr[j]
        r = rr
        a = vsum64(gh, n) / n                                # mean(gh)
        c = _dot_centered(gh, xr, m, n) * r / n           # mean(gh * xhat)
        ra = <real>a
        rc = <real>(c * r)                                # xhat * c = (x - m) * rstd * c
        gxr = gx + i * n
        for j in range(n):
            gxr[j] = rr * (gh[j] - ra - (xr[j] - m) * rc)


cdef void _ln_backward(const real* g, const real* x, const real* mean, const real* rstd, const real* w,
                       real* gx, real* gw, real* gb, real* pw, real* pb, real* scratch, int nt,
                       idx_t m, idx_t n, bint need_x) noexcept nogil:
    """pw and pb (blocks x n, or NULL): the blocks' partial sums; scratch: n values per thread of the team."""
    cdef idx_t blocks = (m + _ROW_BLOCK - 1) // _ROW_BLOCK
    cdef int master = gl_master_cpu()
    cdef idx_t blk, j
    cdef double sw, sb
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        for blk in prange(blocks, schedule='static'):
            _ln_backward_block(g, x, mean, rstd, w, gx, pw + blk * n if pw != NULL else NULL,
                               pb + blk * n if pb != NULL else NULL, scratch + threadid() * n,
                               blk * _ROW_BLOCK, min(m, (blk + 1) * _ROW_BLOCK), n, need_x)
    # the blocks' partial sums, added in order: the same bits for any thread count
    for j in range(n):
        sw = 0
        sb = 0
        for blk in range(blocks):
            if pw != NULL:
                sw += pw[blk * n + j]
            if pb != NULL:
                sb += pb[blk * n + j]
        if gw != NULL:
            gw[j] = <real>sw
        if gb != NULL:
            gb[j] = <real>sb


def layer_norm_forward(x, weight, bias, eps):
    """Each row of x (M, N) standardized, * weight (N,) + bias (N,) (either may be None).

    Returns (y (M, N), mean (M,), rstd (M,)), rstd = 1 / sqrt(biased var + eps).
    """
    op = "layer_norm_forward"
    x = _checked(op, "x", x, None, None)
    if x.ndim != 2:
        raise ValueError(f"{op}: x must be 2-D (rows, features), got shape {tuple(x.shape)}")
    cdef idx_t m = x.shape[0], n = x.shape[1]
    if weight is not None:
        weight = _checked(op, "weight", weight, x.dtype, (n,))
    if bias is not None:
        bias = _checked(op, "bias", bias, x.dtype, (n,))
    cdef double e = eps
    y = np.empty_like(x)
    mean = np.empty(m, dtype=x.dtype)
    rstd = np.empty(m, dtype=x.dtype)
    cdef void* xp = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef void* wp = NULL if weight is None else cnp.PyArray_DATA(<cnp.ndarray>weight)
    cdef void* bp = NULL if bias is None else cnp.PyArray_DATA(<cnp.ndarray>bias)
    cdef void* yp = cnp.PyArray_DATA(<cnp.ndarray>y)
    cdef void* mp = cnp.PyArray_DATA(<cnp.ndarray>mean)
    cdef void* rp = cnp.PyArray_DATA(<cnp.ndarray>rstd)
    cdef bint f32 = x.dtype == np.float32
    if m == 0 or n == 0:            # no rows, or rows without values: no statistics (NaN, as NumPy's mean)
        mean.fill(np.nan)
        rstd.fill(np.nan)
        return y, mean, rstd
    with nogil:
        if f32:
            _ln_forward(<float*>xp, <float*>wp, <float*>bp, <float*>yp, <float*>mp, <float*>rp, m, n, e)
        else:
            _ln_forward(<double*>xp, <double*>wp, <double*>bp, <double*>yp, <double*>mp, <double*>rp, m, n, e)
    return y, mean, rstd


def layer_norm_backward(grad_out, x, mean, rstd, weight, need_input, need_weight, need_bias):
    """(grad_x, grad_weight, grad_bias) of layer_norm_forward; None for what is not needed."""
    op = "layer_norm_backward"
    x = _checked(op, "x", x, None, None)
    if x.ndim != 2:
        raise ValueError(f"{op}: x must be 2-D (rows, features), got shape {tuple(x.shape)}")
    cdef idx_t m = x.shape[0], n = x.shape[1]
    grad_out = _checked(op, "grad_out", grad_out, x.dtype, (m, n))
    mean = _checked(op, "mean", mean, x.dtype, (m,))
    rstd = _checked(op, "rstd", rstd, x.dtype, (m,))
    if weight is not None:
        weight = _checked(op, "weight", weight, x.dtype, (n,))
    cdef bint nx = bool(need_input), nw = bool(need_weight), nb = bool(need_bias)
    gx = np.empty_like(x) if nx else None
    gw = np.zeros(n, dtype=x.dtype) if nw else None
    gb = np.zeros(n, dtype=x.dtype) if nb else None
    if m == 0 or n == 0 or not (nx or nw or nb):
        return gx, gw, gb
    cdef void* gp = cnp.PyArray_DATA(<cnp.ndarray>grad_out)
    cdef void* xp = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef void* mp = cnp.PyArray_DATA(<cnp.ndarray>mean)
    cdef void* rp = cnp.PyArray_DATA(<cnp.ndarray>rstd)
    cdef void* wp = NULL if weight is None else cnp.PyArray_DATA(<cnp.ndarray>weight)
    cdef void* gxp = NULL if gx is None else cnp.PyArray_DATA(<cnp.ndarray>gx)
    cdef void* gwp = NULL if gw is None else cnp.PyArray_DATA(<cnp.ndarray>gw)
    cdef void* gbp = NULL if gb is None else cnp.PyArray_DATA(<cnp.ndarray>gb)
    cdef idx_t blocks = (m + _ROW_BLOCK - 1) // _ROW_BLOCK
    cdef int nt = _threads_for(m * n, blocks)
    partial_w = np.empty((blocks, n), dtype=x.dtype) if nw else None
    partial_b = np.empty((blocks, n), dtype=x.dtype) if nb else None
    scratch = np.empty((nt, n), dtype=x.dtype)
    cdef void* pwp = NULL if partial_w is None else cnp.PyArray_DATA(<cnp.ndarray>partial_w)
    cdef void* pbp = NULL if partial_b is None else cnp.PyArray_DATA(<cnp.ndarray>partial_b)
    cdef void* sp = cnp.PyArray_DATA(<cnp.ndarray>scratch)
    cdef bint f32 = x.dtype == np.float32
    with nogil:
        if f32:
            _ln_backward(<float*>gp, <float*>xp, <float*>mp, <float*>rp, <float*>wp, <float*>gxp,
                         <float*>gwp, <float*>gbp, <float*>pwp, <float*>pbp, <float*>sp, nt, m, n, nx)
        else:
            _ln_backward(<double*>gp, <double*>xp, <double*>mp, <double*>rp, <double*>wp, <double*>gxp,
                         <double*>gwp, <double*>gbp, <double*>pwp, <double*>pbp, <double*>sp, nt, m, n, nx)
    return gx, gw, gb


# ---- batch norm -------------------------------------------------------------------------------

cdef void _bn_forward_channel(const real* x, const real* w, const real* b, real* y, real* mean, real* var,
                              real* rstd, idx_t c, idx_t nb, idx_t nc, idx_t s, double eps) noexcept nogil:
    cdef idx_t i, j
    cdef double m = 0, v = 0, r, count = <double>nb * s
    cdef real scale, shift, rm
    cdef const real* xr
    cdef real* yr
    for i in range(nb):
        m += vsum64(x + (i * nc + c) * s, s)
    m /= count
    for i in range(nb):
        xr = x + (i * nc + c) * s
        v += _squared_deviations(xr, m, s)
    v /= count
    r = 1.0 / sqrt(v + eps)
    mean[c] = <real>m
    var[c] = <real>v
    rstd[c] = <real>r
    # y = (x - m) * (r * w) + b  (x - m first: x * scale + shift would cancel when |m| >> std)
    scale = <real>(r * (w[c] if w != NULL else 1.0))
    shift = <real>(b[c] if b != NULL else 0.0)
    rm = <real>m
    for i in range(nb):
        xr = x + (i * nc + c) * s
        yr = y + (i * nc + c) * s
        for j in range(s):
            yr[j] = (xr[j] - rm) * scale + shift


cdef void _bn_backward_channel(const real* g, const real* x, const real* mean, const real* rstd, const real* w,
                               real* gx, real* gw, real* gb, idx_t c, idx_t nb, idx_t nc, idx_t s) noexcept nogil:
    cdef idx_t i, j
    cdef double sg = 0, sgx = 0, count = <double>nb * s, r = rstd[c], m = mean[c]
    cdef real k, a, d, rm
    cdef const real* gr
    cdef const real* xr
    cdef real* gxr
    for i in range(nb):
        gr = g + (i * nc + c) * s
        sg += vsum64(gr, s)
        sgx += _dot_centered(gr, x + (i * nc + c) * s, m, s)
    if gw != NULL:
        gw[c] = <real>(sgx * r)                       # sum(g * xhat)
    if gb != NULL:
        gb[c] = <real>sg
    if gx == NULL:
        return
    # gx = w * r * (g - mean(g) - xhat * mean(g * xhat)) = k * g - k * mean(g) - d * (x - m)
    k = <real>(r * (w[c] if w != NULL else 1.0))
    a = <real>(sg / count)
    d = <real>((r * (w[c] if w != NULL else 1.0)) * (sgx / count) * r * r)
    rm = <real>m
    for i in range(nb):
        gr = g + (i * nc + c) * s
        xr = x + (i * nc + c) * s
        gxr = gx + (i * nc + c) * s
        for j in range(s):
            gxr[j] = k * (gr[j] - a) - d * (xr[j] - rm)


cdef void _bn_forward(const real* x, const real* w, const real* b, real* y, real* mean, real* var, real* rstd,
                      idx_t nb, idx_t nc, idx_t s, double eps) noexcept nogil:
    cdef int nt = _threads_for(nb * nc * s, nc)
    cdef int master = gl_master_cpu()
    cdef idx_t c
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        for c in prange(nc, schedule='static'):
            _bn_forward_channel(x, w, b, y, mean, var, rstd, c, nb, nc, s, eps)


cdef void _bn_backward(const real* g, const real* x, const real* mean, const real* rstd, const real* w,
                       real* gx, real* gw, real* gb, idx_t nb, idx_t nc, idx_t s) noexcept nogil:
    cdef int nt = _threads_for(nb * nc * s, nc)
    cdef int master = gl_master_cpu()
    cdef idx_t c
    with parallel(num_threads=nt):
        gl_place(master, threadid())
        for c in prange(nc, schedule='static'):
            _bn_backward_channel(g, x, mean, rstd, w, gx, gw, gb, c, nb, nc, s)


def batch_norm_forward(x, weight, bias, eps):
    """Each channel of x (N, C, S) standardized over N and S, * weight (C,) + bias (C,) (either may be None).

    Returns (y (N, C, S), mean (C,), var (C,) biased, rstd (C,)).
    """
    op = "batch_norm_forward"
    x = _checked(op, "x", x, None, None)
    if x.ndim != 3:
        raise ValueError(f"{op}: x must be 3-D (batch, channels, positions), got shape {tuple(x.shape)}")
    cdef idx_t nb = x.shape[0], nc = x.shape[1], s = x.shape[2]
    if nb * s < 1:
        raise ValueError(f"{op}: x of shape {tuple(x.shape)} has no values per channel")
    if weight is not None:
        weight = _checked(op, "weight", weight, x.dtype, (nc,))
    if bias is not None:
        bias = _checked(op, "bias", bias, x.dtype, (nc,))
    cdef double e = eps
    y = np.empty_like(x)
    mean = np.empty(nc, dtype=x.dtype)
    var = np.empty(nc, dtype=x.dtype)
    rstd = np.empty(nc, dtype=x.dtype)
    cdef void* xp = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef void* wp = NULL if weight is None else cnp.PyArray_DATA(<cnp.ndarray>weight)
    cdef void* bp = NULL if bias is None else cnp.PyArray_DATA(<cnp.ndarray>bias)
    cdef void* yp = cnp.PyArray_DATA(<cnp.ndarray>y)
    cdef void* mp = cnp.PyArray_DATA(<cnp.ndarray>mean)
    cdef void* vp = cnp.PyArray_DATA(<cnp.ndarray>var)
    cdef void* rp = cnp.PyArray_DATA(<cnp.ndarray>rstd)
    cdef bint f32 = x.dtype == np.float32
    with nogil:
        if f32:
            _bn_forward(<float*>xp, <float*>wp, <float*>bp, <float*>yp, <float*>mp, <float*>vp, <float*>rp,
                        nb, nc, s, e)
        else:
            _bn_forward(<double*>xp, <double*>wp, <double*>bp, <double*>yp, <double*>mp, <double*>vp,
                        <double*>rp, nb, nc, s, e)
    return y, mean, var, rstd


def batch_norm_backward(grad_out, x, mean, rstd, weight, need_input, need_weight, need_bias):
    """(grad_x, grad_weight, grad_bias) of batch_norm_forward (training mode); None for what is not needed."""
    op = "batch_norm_backward"
    x = _checked(op, "x", x, None, None)
    if x.ndim != 3:
        raise ValueError(f"{op}: x must be 3-D (batch, channels, positions), got shape {tuple(x.shape)}")
    cdef idx_t nb = x.shape[0], nc = x.shape[1], s = x.shape[2]
    grad_out = _checked(op, "grad_out", grad_out, x.dtype, (nb, nc, s))
    mean = _checked(op, "mean", mean, x.dtype, (nc,))
    rstd = _checked(op, "rstd", rstd, x.dtype, (nc,))
    if weight is not None:
        weight = _checked(op, "weight", weight, x.dtype, (nc,))
    cdef bint nx = bool(need_input), nw = bool(need_weight), nbias = bool(need_bias)
    gx = np.empty_like(x) if nx else None
    gw = np.zeros(nc, dtype=x.dtype) if nw else None
    gb = np.zeros(nc, dtype=x.dtype) if nbias else None
    if nb * s == 0 or nc == 0 or not (nx or nw or nbias):
        return gx, gw, gb
    cdef void* gp = cnp.PyArray_DATA(<cnp.ndarray>grad_out)
    cdef void* xp = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef void* mp = cnp.PyArray_DATA(<cnp.ndarray>mean)
    cdef void* rp = cnp.PyArray_DATA(<cnp.ndarray>rstd)
    cdef void* wp = NULL if weight is None else cnp.PyArray_DATA(<cnp.ndarray>weight)
    cdef void* gxp = NULL if gx is None else cnp.PyArray_DATA(<cnp.ndarray>gx)
    cdef void* gwp = NULL if gw is None else cnp.PyArray_DATA(<cnp.ndarray>gw)
    cdef void* gbp = NULL if gb is None else cnp.PyArray_DATA(<cnp.ndarray>gb)
    cdef bint f32 = x.dtype == np.float32
    with nogil:
        if f32:
            _bn_backward(<float*>gp, <float*>xp, <float*>mp, <float*>rp, <float*>wp, <float*>gxp,
                         <float*>gwp, <float*>gbp, nb, nc, s)
        else:
            _bn_backward(<double*>gp, <double*>xp, <double*>mp, <double*>rp, <double*>wp, <double*>gxp,
                         <double*>gwp, <double*>gbp, nb, nc, s)
    return gx, gw, gb
