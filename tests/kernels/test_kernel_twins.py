"""The compiled kernels and their NumPy twins agree on random geometries and dtypes."""
import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

import gradlab.kernels as K
from kernel_cases import both_backends, conv_cases, pool_cases, requires_cython, tol

pytestmark = requires_cython


def _close(a, b, dtype):
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(a, b, **tol(dtype))


@given(conv_cases())
def test_conv2d_forward_twins(c):
    geo = (c["stride"], c["padding"], c["dilation"], c["groups"])
    a, b = both_backends(K.conv2d_forward, c["x"], c["w"], c["b"], *geo)
    _close(a, b, c["x"].dtype)


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 8), st.integers(1, 5), st.integers(1, 5),
       st.integers(0, 2), st.integers(24, 70), st.booleans(), st.integers(0, 2 ** 32 - 1))
@example(4, 1, 6, 5, 5, 2, 28, True, 0)        # LeNet-5's first layer
def test_conv2d_forward_thin_input(n, cin, cout, kh, kw, pad, width, with_bias, seed):
    """Thin inputs at stride 1 (the direct loop of the x86-64-v3 build: strips of 32 columns, two output
    channels at a time): the same as the GEMM path and the NumPy twin, odd channel counts and partial
    strips included, and infinities reaching the same outputs."""
    import importlib
    conv = importlib.import_module("gradlab_ext.v3.conv" if K.cpu_build() == "x86-64-v3" else "gradlab_ext.conv")
    rng = np.random.default_rng(seed)
    h = rng.integers(max(1, kh - 2 * pad), 12)
    x = rng.standard_normal((n, cin, h, width)).astype(np.float32)
    x.flat[rng.integers(0, x.size, 2)] = np.inf
    w = rng.standard_normal((cout, cin, kh, kw)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if with_bias else None
    geo = ((1, 1), (pad, pad))
    wo = width + 2 * pad - kw + 1
    if K.cpu_build() == "x86-64-v3" and cin * kh * kw <= 32 and 4 * wo >= 3 * 32 * -(-wo // 32):
        assert conv._takes_direct(x.shape, w.shape, *geo) == "thin"
    y = conv.conv2d_forward(x, w, b, *geo)
    old = conv._tune(direct_max_k=0)
    try:
        y_gemm = conv.conv2d_forward(x, w, b, *geo)
    finally:
        conv._tune(**old)
    with K.use_backend("numpy"), np.errstate(invalid="ignore"):     # inf - inf: an inf under weights of both signs
        y_np = K.conv2d_forward(x, w, b, *geo)
    for other in (y_gemm, y_np):
        assert np.array_equal(np.isfinite(y), np.isfinite(other))
        np.testing.assert_allclose(y, other, **tol(np.float32))


@given(st.integers(1, 3), st.integers(1, 12), st.sampled_from([16, 32]), st.integers(1, 5), st.integers(1, 5),
       st.integers(0, 2), st.integers(1, 20), st.booleans(), st.integers(0, 2 ** 32 - 1))
@example(3, 6, 16, 5, 5, 0, 14, True, 0)       # LeNet-5's second layer
def test_conv2d_forward_sixteen_channels(n, cin, cout, kh, kw, pad, width, with_bias, seed):
    """16 or 32 output channels over at most 256 taps at stride 1 (the pixel-tile loops of the x86-64-v3
    build: six output pixels', or six taps', 16 channels in registers, partial last tiles): forward and
    backward the same as the GEMM path and the NumPy twin."""
    import importlib
    conv = importlib.import_module("gradlab_ext.v3.conv" if K.cpu_build() == "x86-64-v3" else "gradlab_ext.conv")
    rng = np.random.default_rng(seed)
    h = rng.integers(max(1, kh - 2 * pad), 12)
    width = max(width, kw - 2 * pad)
    x = rng.standard_normal((n, cin, h, width)).astype(np.float32)
    w = rng.standard_normal((cout, cin, kh, kw)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if with_bias else None
    geo = ((1, 1), (pad, pad))
    if K.cpu_build() == "x86-64-v3" and 32 < cin * kh * kw <= 256:     # (at most 32 taps go the thin way)
        assert conv._takes_direct(x.shape, w.shape, *geo) == "pixel tiles"
    y = conv.conv2d_forward(x, w, b, *geo)
    g = rng.standard_normal(y.shape).astype(np.float32)
    needs = [dict(), dict(need_input=False), dict(need_input=False, need_bias=False)]
    grads = [conv.conv2d_backward(g, x, w, *geo, **need) for need in needs]
    old = conv._tune(direct_max_k=0, direct16_max_k=0)
    try:
        y_gemm = conv.conv2d_forward(x, w, b, *geo)
        grads_gemm = [conv.conv2d_backward(g, x, w, *geo, **need) for need in needs]
    finally:
        conv._tune(**old)
    with K.use_backend("numpy"):
        y_np = K.conv2d_forward(x, w, b, *geo)
        gx_np, gw_np, gb_np = K.conv2d_backward(g, x, w, *geo)
    for other in (y_gemm, y_np):
        np.testing.assert_allclose(y, other, **tol(np.float32))
    for got, gemm in zip(grads, grads_gemm):
        for a, e in zip(got, gemm):
            assert (a is None) == (e is None)
            if a is not None:
                np.testing.assert_allclose(a, e, rtol=2e-4, atol=1e-3)
    for a, e in zip(grads[0], (gx_np, gw_np, gb_np)):
        np.testing.assert_allclose(a, e, rtol=2e-4, atol=1e-3)


@given(conv_cases(), st.booleans(), st.booleans(), st.booleans())
def test_conv2d_backward_twins(c, need_x, need_w, need_b):
    geo = (c["stride"], c["padding"], c["dilation"], c["groups"])
    a, b = both_backends(K.conv2d_backward, c["g"], c["x"], c["w"], *geo,
                         need_input=need_x, need_weight=need_w, need_bias=need_b)
    for ra, rb, needed in zip(a, b, (need_x, need_w, need_b)):
        if not needed:
            assert ra is None and rb is None
        else:
            _close(ra, rb, c["x"].dtype)


@given(conv_cases())
def test_conv2d_input_and_weight_grad_twins(c):
    geo = (c["stride"], c["padding"], c["dilation"], c["groups"])
    gx, gx_np = both_backends(K.conv2d_input_grad, c["g"], c["w"], c["x"].shape, *geo)
    gw, gw_np = both_backends(K.conv2d_weight_grad, c["g"], c["x"], c["w"].shape, *geo)
    _close(gx, gx_np, c["x"].dtype)
    _close(gw, gw_np, c["x"].dtype)
    full = K.conv2d_backward(c["g"], c["x"], c["w"], *geo)
    _close(full[0], gx, c["x"].dtype)
    _close(full[1], gw, c["x"].dtype)


@given(conv_cases())
def test_im2col_col2im_twins(c):
    kernel = c["w"].shape[2:]
    geo = (c["stride"], c["padding"], c["dilation"])
    cols, cols_np = both_backends(K.im2col, c["x"], kernel, *geo)
    assert np.array_equal(cols, cols_np)                  # pure copies: bit-identical
    back, back_np = both_backends(K.col2im, cols, c["x"].shape, kernel, *geo)
    _close(back, back_np, c["x"].dtype)


@given(conv_cases())
def test_col2im_is_adjoint_of_im2col(c):
    """<im2col(x), y> == <x, col2im(y)> for every backend."""
    kernel = c["w"].shape[2:]
    geo = (c["stride"], c["padding"], c["dilation"])
    x = c["x"].astype(np.float64)
    cols = K.im2col(x, kernel, *geo)
    y = np.random.default_rng(0).standard_normal(cols.shape)
    for backend in K.available_backends():
        with K.use_backend(backend):
            lhs = np.vdot(K.im2col(x, kernel, *geo), y)
            rhs = np.vdot(x, K.col2im(y, x.shape, kernel, *geo))
        np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-9)


@given(pool_cases())
def test_max_pool2d_twins(c):
    args = (c["kernel"], c["stride"], c["padding"], c["dilation"], c["ceil_mode"])
    (y, idx), (y_np, idx_np) = both_backends(K.max_pool2d_forward, c["x"], *args, return_indices=True)
    assert np.array_equal(y, y_np) and y.dtype == y_np.dtype
    assert np.array_equal(idx, idx_np) and idx.dtype == np.int64
    (y2, none), _ = both_backends(K.max_pool2d_forward, c["x"], *args)
    assert none is None and np.array_equal(y2, y)
    gx, gx_np = both_backends(K.max_pool2d_backward, c["g"], idx, c["x"].shape)
    _close(gx, gx_np, c["x"].dtype)


@given(st.integers(1, 3), st.integers(2, 12), st.integers(2, 40), st.sampled_from([np.float32, np.float64]),
       st.floats(0, 0.2), st.integers(0, 2 ** 32 - 1))
@example(2, 14, 28, np.float32, 0.0, 0)       # LeNet-5's first pool: 8 outputs on vectors, 6 after
@example(1, 4, 33, np.float32, 0.05, 7)       # an odd width: its last column is in no window
def test_max_pool2d_2x2_twins(n, h, w, dtype, nan_fraction, seed):
    """The 2x2 / stride-2 pool (vectors over 8 outputs of a row in the x86-64-v3 build, and a backward
    that writes each position once) on rows wide enough for the vectors, with ties and NaNs."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, (n, 3, h, w)).astype(dtype)
    x[rng.random(x.shape) < nan_fraction] = np.nan
    args = ((2, 2), (2, 2))
    (y, idx), (y_np, idx_np) = both_backends(K.max_pool2d_forward, x, *args, return_indices=True)
    assert np.array_equal(y, y_np, equal_nan=True) and np.array_equal(idx, idx_np)
    (y2, _), _ = both_backends(K.max_pool2d_forward, x, *args)
    assert np.array_equal(y2, y, equal_nan=True)
    g = rng.standard_normal(y.shape).astype(dtype)
    gx, gx_np = both_backends(K.max_pool2d_backward, g, idx, x.shape)
    _close(gx, gx_np, dtype)


@given(st.integers(1, 10), st.integers(0, 2 ** 32 - 1))
def test_max_pool2d_backward_indices_outside_their_block(half, seed):
    """Input planes of exactly 2x2 blocks per output, but indices from overlapping windows (3x3, stride 2,
    padding 1) or repeated: the backward must still add every gradient at its index."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2, 2 * half, 2 * half))
    _, idx = K.max_pool2d_forward(x, (3, 3), (2, 2), (1, 1), return_indices=True)
    assert idx.shape[2:] == (half, half)
    g = rng.standard_normal(idx.shape)
    shared = np.zeros_like(idx)       # every output's gradient at position 0
    for ind in (idx, shared):
        gx, gx_np = both_backends(K.max_pool2d_backward, g, ind, x.shape)
        _close(gx, gx_np, x.dtype)


@given(pool_cases(dilation=False), st.booleans(), st.sampled_from([None, 1, 3, -2]))
def test_avg_pool2d_twins(c, count_include_pad, divisor_override):
    args = (c["kernel"], c["stride"], c["padding"], c["ceil_mode"], count_include_pad, divisor_override)
    y, y_np = both_backends(K.avg_pool2d_forward, c["x"], *args)
    _close(y, y_np, c["x"].dtype)
    gx, gx_np = both_backends(K.avg_pool2d_backward, c["g"], c["x"].shape, *args)
    _close(gx, gx_np, c["x"].dtype)


@given(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40), st.sampled_from([np.float32, np.float64]),
       st.sampled_from(["cc", "cf", "fc", "ff", "strided"]))
def test_matmul_twins(m, k, n, dtype, layout):
    rng = np.random.default_rng(m * 1681 + k * 41 + n)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    if layout[0] == "f":
        a = np.asfortranarray(a)
    if layout[1:] == "f":
        b = np.asfortranarray(b)
    if layout == "strided":
        a = np.repeat(a, 2, axis=1)[:, ::2]
    out, out_np = both_backends(K.matmul, a, b)
    assert out.shape == (m, n) and out.dtype == dtype
    np.testing.assert_allclose(out, out_np, **tol(dtype))
    np.testing.assert_allclose(out, a.astype(np.float64) @ b.astype(np.float64),
                               rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-4 * max(k, 1) if dtype == np.float32 else 1e-10)


@given(st.integers(1, 700), st.integers(1, 300), st.integers(1, 300), st.sampled_from([np.float32, np.float64]),
       st.sampled_from(["cc", "cf", "fc", "ff"]), st.sampled_from([1, 2]))
@example(700, 100, 100, np.float32, "cf", 2).via("above 2^22 multiply-adds: tiles on both threads")
@example(333, 257, 61, np.float64, "fc", 2).via("above 2^22, sizes that do not divide into tiles")
def test_matmul_tiled_over_threads_matches_the_twin(m, k, n, dtype, layout, threads):
    """Products above one BLAS call's single-thread size are tiled over the kernel
    threads (gradlab_ext/matmul.pyx): every tile must land in the right place."""
    from hypothesis import assume
    assume(m * n * k > 262144)
    rng = np.random.default_rng(m * 90001 + k * 301 + n)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    if layout[0] == "f":
        a = np.asfortranarray(a)
    if layout[1] == "f":
        b = np.asfortranarray(b)
    old = K.get_num_threads()
    K.set_num_threads(threads)
    try:
        out, out_np = both_backends(K.matmul, a, b)
    finally:
        K.set_num_threads(old)
    assert out.shape == (m, n) and out.dtype == dtype
    exact = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(out, exact, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-4 * k if dtype == np.float32 else 1e-10)
    np.testing.assert_allclose(out_np, exact, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-4 * k if dtype == np.float32 else 1e-10)


def test_matmul_beyond_the_tiled_range_goes_to_blas_whole():
    a = np.random.default_rng(0).standard_normal((600, 500)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((500, 300)).astype(np.float32)   # 9e7 > 2**24 multiply-adds
    out, out_np = both_backends(K.matmul, a, b.T.copy().T)
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4 * 500)


@given(conv_cases())
def test_every_compiled_conv_mode_agrees_with_the_twin(c):
    """Force each path of the compiled conv (classic im2col with multi-sample blocks,
    band mode, band mode over column slices, one thread) on the same case: all must
    match the NumPy twin."""
    compiled = K._COMPILED["conv"]     # the build the dispatcher runs: baseline or x86-64-v3
    geo = (c["stride"], c["padding"], c["dilation"], c["groups"])
    with K.use_backend("numpy"):
        ref_y = K.conv2d_forward(c["x"], c["w"], c["b"], *geo)
        ref_g = K.conv2d_backward(c["g"], c["x"], c["w"], *geo)
    never = 10 ** 9
    modes = [dict(band_min_ck=1, band_min_ck_bwd=1, target_cols=1),
             dict(band_min_ck=never, band_min_ck_bwd=never, target_cols=4096),
             dict(band_min_ck=never, band_min_ck_bwd=never, target_cols=1, gw_tn_max=0),
             dict(band_min_ck=1, band_min_ck_bwd=1, gw_tn_max=never, parallel_min_work=0),
             dict(band_min_ck=1, band_min_ck_bwd=1, gw_tn_max=0, target_cols=1),
             # band mode's GEMMs over slices of a few output columns (wide layers use 128)
             dict(band_min_ck=1, band_min_ck_bwd=1, target_cols=1, band_cols=3),
             dict(band_min_ck=1, band_min_ck_bwd=1, target_cols=1, band_cols=2, gw_tn_max=0)]
    old_threads = K.get_num_threads()
    for i, mode in enumerate(modes):
        old = compiled._tune(**mode)
        K.set_num_threads(1 if i == 1 else old_threads)
        try:
            with K.use_backend("cython"):
                y = K.conv2d_forward(c["x"], c["w"], c["b"], *geo)
                got = K.conv2d_backward(c["g"], c["x"], c["w"], *geo)
        finally:
            compiled._tune(**old)
            K.set_num_threads(old_threads)
        _close(y, ref_y, c["x"].dtype)
        for a, b in zip(got, ref_g):
            _close(a, b, c["x"].dtype)


@given(st.lists(st.integers(0, 9), min_size=0, max_size=4).map(tuple), st.sampled_from([np.float32, np.float64]),
       st.sampled_from([1, 2]), st.booleans(), st.integers(0, 2 ** 31))
def test_relu_twins_agree_bit_for_bit_nan_and_inf_included(shape, dtype, threads, transposed, seed):
    rng = np.random.default_rng(seed)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype)
    x = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    if x.size:
        x.flat[rng.integers(0, x.size, 3)] = rng.choice(specials, 3)
        g.flat[rng.integers(0, g.size, 3)] = rng.choice(specials, 3)
    if transposed:   # non-contiguous inputs go through the dispatcher's slow path
        x, g = x.T, g.T
    old = K.get_num_threads()
    K.set_num_threads(threads)
    try:
        y, y_np = both_backends(K.relu_forward, x)
        gx, gx_np = both_backends(K.relu_backward, g, y)
    finally:
        K.set_num_threads(old)
    np.testing.assert_array_equal(y, y_np)
    np.testing.assert_array_equal(gx, gx_np)
    # the definition, as PyTorch: relu(NaN) = NaN, and the gradient passes unless out <= 0
    np.testing.assert_array_equal(y, np.where(np.isnan(x), x, np.where(x > 0, x, 0)))
    np.testing.assert_array_equal(gx, np.where(y <= 0, 0, g))
    assert y.dtype == gx.dtype == dtype and y.shape == gx.shape == x.shape


def test_relu_kernels_on_a_large_array_use_the_threads_and_agree():
    x = np.random.default_rng(0).standard_normal(1 << 20).astype(np.float32)
    (y, y_np) = both_backends(K.relu_forward, x)
    (g, g_np) = both_backends(K.relu_backward, x, y)
    np.testing.assert_array_equal(y, y_np)
    np.testing.assert_array_equal(g, g_np)


@given(conv_cases())
def test_one_and_two_threads_give_the_same_bits(c):
    """Blocks and the chunks the weight gradient is summed over do not depend on the
    thread count, so a run can be resumed with another --threads and end the same."""
    compiled = K._COMPILED["conv"]     # the build the dispatcher runs: baseline or x86-64-v3
    geo = (c["stride"], c["padding"], c["dilation"], c["groups"])
    old_threads, old = K.get_num_threads(), compiled._tune(parallel_min_work=0)   # parallel even when small
    results = []
    try:
        with K.use_backend("cython"):
            for threads in (1, 2):
                K.set_num_threads(threads)
                results.append((K.conv2d_forward(c["x"], c["w"], c["b"], *geo),)
                               + K.conv2d_backward(c["g"], c["x"], c["w"], *geo))
    finally:
        compiled._tune(**old)
        K.set_num_threads(old_threads)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
