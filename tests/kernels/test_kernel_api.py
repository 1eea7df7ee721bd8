"""The kernels' public behaviour: backend switch, validation, dtypes, layouts, edge cases."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import gradlab.kernels as K
from kernel_cases import requires_cython

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RNG = np.random.default_rng(0)


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


@pytest.fixture(params=K.available_backends())
def backend(request):
    with K.use_backend(request.param):
        yield request.param


# ---------------------------------------------------------------------------
# Backend switch
# ---------------------------------------------------------------------------

def test_backend_switch_roundtrip():
    start = K.get_backend()
    for name in K.available_backends():
        K.set_backend(name)
        assert K.get_backend() == name
    with K.use_backend("numpy"):
        assert K.get_backend() == "numpy"
    K.set_backend(start)
    assert K.get_backend() == start


def test_set_backend_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown backend 'torch'"):
        K.set_backend("torch")


@requires_cython
def test_default_backend_is_cython_when_built():
    out = subprocess.run([sys.executable, "-W", "error", "-c",
                          "import gradlab.kernels as K; print(K.get_backend())"],
                         cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "GRADLAB_BACKEND": ""})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "cython"


def test_environment_variable_selects_numpy():
    out = subprocess.run([sys.executable, "-c", "import gradlab.kernels as K; print(K.get_backend())"],
                         cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "GRADLAB_BACKEND": "numpy"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "numpy"


def test_missing_extension_falls_back_with_one_warning():
    code = (
        "import sys, warnings\n"
        "sys.modules['gradlab_ext.conv'] = None  # makes the import fail\n"
        "sys.modules['gradlab_ext.v3.conv'] = None  # and that of the x86-64-v3 build\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import gradlab.kernels as K\n"
        "    K.conv2d_forward([[[[1.0]]]], [[[[2.0]]]])\n"
        "mine = [w for w in caught if 'compiled kernels' in str(w.message)]\n"
        "print(K.get_backend(), len(mine), K.available_backends())\n"
        "try:\n"
        "    K.set_backend('cython')\n"
        "except RuntimeError as e:\n"
        "    print('refused')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "GRADLAB_BACKEND": ""})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["numpy 1 ['numpy']", "refused"]


@requires_cython
def test_thread_count_does_not_change_results():
    x, w, g = randn(8, 4, 12, 12), randn(6, 4, 3, 3), None
    g = randn(8, 6, 10, 10)
    old = K.get_num_threads()
    try:
        K.set_num_threads(1)
        one = K.conv2d_forward(x, w), K.conv2d_backward(g, x, w)
        K.set_num_threads(2)
        two = K.conv2d_forward(x, w), K.conv2d_backward(g, x, w)
    finally:
        K.set_num_threads(old)
    np.testing.assert_array_equal(one[0], two[0])
    for a, b in zip(one[1], two[1]):   # the same bits: the parallel sums do not depend on the thread count
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        K.set_num_threads(0)


@requires_cython
@pytest.mark.parametrize("x_shape, w_shape, padding", [((256, 1, 28, 28), (6, 1, 5, 5), 2),
                                                       ((256, 6, 14, 14), (16, 6, 5, 5), 0),
                                                       ((64, 3, 9, 9), (4, 3, 3, 3), 1),
                                                       # wide: a sample's GEMM is above OpenBLAS's threading
                                                       # threshold, so BLAS is held to one thread in the region
                                                       ((12, 32, 16, 16), (48, 32, 3, 3), 1),
                                                       ((12, 160, 8, 8), (192, 160, 1, 1), 0)])
def test_backward_on_two_threads_has_the_same_bits_every_run(x_shape, w_shape, padding):
    """The weight and bias gradients sum over the batch; with two threads the partial
    sums must still be taken in one fixed order (a resumed training run depends on it),
    the same order as on one thread."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    g = rng.standard_normal(K.conv2d_forward(x, w, None, 1, padding).shape).astype(np.float32)
    old = K.get_num_threads()
    K.set_num_threads(1)
    try:
        first = K.conv2d_backward(g, x, w, 1, padding)
        y1 = K.conv2d_forward(x, w, None, 1, padding)
        K.set_num_threads(2)
        for _ in range(20):
            for a, b in zip(first, K.conv2d_backward(g, x, w, 1, padding)):
                assert np.array_equal(a, b)
        assert np.array_equal(y1, K.conv2d_forward(x, w, None, 1, padding))
    finally:
        K.set_num_threads(old)


@requires_cython
def test_wide_convolutions_hold_blas_to_one_thread_and_give_it_back():
    """A wide layer's per-sample GEMMs run on gradlab's threads with OpenBLAS held to
    one thread (its own pool inside ours collapses on a loaded machine); afterwards
    BLAS has its thread count back."""
    conv = K._COMPILED["conv"]     # the build the dispatcher runs: baseline or x86-64-v3
    before, held, after = conv._blas_hold_probe()
    if before == 0:
        pytest.skip("this BLAS exposes no thread control")
    assert held == 1 and after == before
    x, w = randn(4, 32, 16, 16), randn(48, 32, 3, 3)
    old = K.get_num_threads()
    K.set_num_threads(2)
    try:
        y = K.conv2d_forward(x, w, None, 1, 1)
        K.conv2d_backward(randn(*y.shape), x, w, 1, 1)
    finally:
        K.set_num_threads(old)
    assert conv._blas_hold_probe()[0] == before


@requires_cython
def test_concurrent_calls_from_python_threads():
    """The GIL is released inside the kernels; shared workspaces must not mix."""
    x, w = randn(16, 3, 20, 20), randn(8, 3, 5, 5)
    g = randn(16, 8, 16, 16)
    expected = K.conv2d_forward(x, w), K.conv2d_backward(g, x, w)[1]
    failures = []

    def work():
        for _ in range(20):
            if not np.allclose(K.conv2d_forward(x, w), expected[0], atol=1e-4):
                failures.append("forward")
            if not np.allclose(K.conv2d_backward(g, x, w)[1], expected[1], atol=1e-3):
                failures.append("backward")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


# ---------------------------------------------------------------------------
# Validation: clear errors naming the op, never a crash
# ---------------------------------------------------------------------------

def test_conv_validation(backend):
    x, w = randn(2, 3, 8, 8), randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d_forward: expected input to be 4-D"):
        K.conv2d_forward(x[0], w)
    with pytest.raises(ValueError, match=r"has 3 channels but weight \(4, 2, 3, 3\)"):
        K.conv2d_forward(x, randn(4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"groups=2 must divide"):
        K.conv2d_forward(x, randn(4, 1, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"larger than the padded input"):
        K.conv2d_forward(x, randn(4, 3, 9, 3))
    with pytest.raises(ValueError, match=r"larger than the padded input"):
        K.conv2d_forward(x, w, dilation=4)
    with pytest.raises(ValueError, match=r"stride must be >= 1"):
        K.conv2d_forward(x, w, stride=0)
    with pytest.raises(ValueError, match=r"padding must be >= 0"):
        K.conv2d_forward(x, w, padding=(-1, 0))
    with pytest.raises(TypeError, match=r"stride must be an int or a pair"):
        K.conv2d_forward(x, w, stride=(1, 2, 3))
    with pytest.raises(ValueError, match=r"groups must be >= 1"):
        K.conv2d_forward(x, w, groups=0)
    with pytest.raises(ValueError, match=r"bias has shape \(3,\)"):
        K.conv2d_forward(x, w, randn(3))
    with pytest.raises(TypeError, match=r"conv2d_forward: input has dtype int64"):
        K.conv2d_forward(x.astype(np.int64), w)
    with pytest.raises(TypeError, match=r"weight has dtype complex128"):
        K.conv2d_forward(x, w.astype(np.complex128))
    with pytest.raises(ValueError, match=r"conv2d_backward: grad_out has shape \(2, 4, 5, 5\), "
                                         r"expected \(2, 4, 6, 6\)"):
        K.conv2d_backward(randn(2, 4, 5, 5), x, w)
    with pytest.raises(ValueError, match=r"input_shape must be 4"):
        K.conv2d_input_grad(randn(2, 4, 6, 6), w, (2, 3, 8))
    with pytest.raises(ValueError, match=r"cols has shape"):
        K.col2im(randn(2, 27, 35), (2, 3, 8, 8), 3)


def test_pool_validation(backend):
    x = randn(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"max_pool2d_forward: expected input to be 4-D"):
        K.max_pool2d_forward(x[0, 0], 2)
    with pytest.raises(ValueError, match=r"padding \(2, 2\) must be at most half"):
        K.max_pool2d_forward(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"too small for kernel \(9, 9\)"):
        K.max_pool2d_forward(x, 9)
    with pytest.raises(ValueError, match=r"stride must be >= 1"):
        K.avg_pool2d_forward(x, 2, stride=0)
    with pytest.raises(TypeError, match=r"avg_pool2d_forward: input has dtype bool"):
        K.avg_pool2d_forward(x > 0, 2)
    with pytest.raises(ValueError, match=r"divisor_override must be non-zero"):
        K.avg_pool2d_forward(x, 2, divisor_override=0)
    y, idx = K.max_pool2d_forward(x, 2, return_indices=True)
    with pytest.raises(ValueError, match=r"indices out of range"):
        K.max_pool2d_backward(y, idx + 64, x.shape)
    with pytest.raises(ValueError, match=r"indices out of range"):
        K.max_pool2d_backward(y, idx - 100, x.shape)
    with pytest.raises(TypeError, match=r"indices has dtype float"):
        K.max_pool2d_backward(y, idx.astype(np.float32), x.shape)
    with pytest.raises(ValueError, match=r"indices shape"):
        K.max_pool2d_backward(y, idx[:, :, :2], x.shape)
    with pytest.raises(ValueError, match=r"avg_pool2d_backward: grad_out has shape"):
        K.avg_pool2d_backward(y[:, :, :3], x.shape, 2)


def test_matmul_validation(backend):
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) cannot be multiplied"):
        K.matmul(randn(2, 3), randn(4, 5))
    with pytest.raises(ValueError, match=r"expected a to be 2-D"):
        K.matmul(randn(2, 3, 4), randn(4, 5))
    with pytest.raises(TypeError, match=r"b has dtype int32"):
        K.matmul(randn(2, 3), np.ones((3, 2), np.int32))


@requires_cython
def test_compiled_kernels_refuse_inconsistent_direct_calls():
    """Called without the dispatcher, the .pyx functions still check what they index."""
    from gradlab_ext import conv, matmul, pool
    x, w = randn(2, 3, 8, 8), randn(4, 3, 3, 3)
    with pytest.raises(ValueError):
        conv.conv2d_forward(x, randn(4, 2, 3, 3), None, (1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(ValueError):
        conv.conv2d_forward(x, w, randn(5), (1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(ValueError):
        conv.conv2d_forward(x, w, None, (0, 1), (0, 0), (1, 1), 1)
    with pytest.raises(ValueError):
        conv.conv2d_backward(randn(2, 4, 5, 5), x, w, (1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(ValueError):
        conv.conv2d_forward(np.asfortranarray(x), w, None, (1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(TypeError):
        conv.conv2d_forward(x, w.astype(np.float64), None, (1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(ValueError):
        conv.col2im(randn(2, 27, 35), (2, 3, 8, 8), (3, 3), (1, 1), (0, 0), (1, 1))
    with pytest.raises(ValueError):
        pool.max_pool2d_backward(randn(2, 3, 4, 4), np.full((2, 3, 4, 4), 99), (2, 3, 8, 8))
    with pytest.raises(ValueError):
        pool.max_pool2d_backward(randn(2, 3, 4, 4), np.zeros((2, 3, 4, 4), np.int64), (2, 4, 8, 8))
    with pytest.raises(ValueError):
        pool.avg_pool2d_backward(randn(2, 3, 3, 4), (2, 3, 8, 8), (2, 2), (2, 2))
    with pytest.raises(ValueError):
        matmul.matmul(randn(2, 3), randn(4, 5))
    from gradlab_ext import activation
    with pytest.raises(ValueError, match="C-contiguous"):
        activation.relu_forward(randn(3, 4).T)
    with pytest.raises(TypeError, match="float32 or float64"):
        activation.relu_forward(np.arange(3))
    with pytest.raises(ValueError, match="same dtype and shape"):
        activation.relu_backward(randn(3), randn(4))
    with pytest.raises(ValueError, match="same dtype and shape"):
        activation.relu_backward(randn(3), randn(3, dtype=np.float64))


# ---------------------------------------------------------------------------
# Dtypes, layouts and edge cases
# ---------------------------------------------------------------------------

def test_non_contiguous_inputs(backend):
    x = randn(3, 8, 10, 2).transpose(0, 3, 1, 2)          # (3, 2, 8, 10), not contiguous
    w = randn(4, 3, 2, 3).transpose(0, 3, 2, 1)[:, :2]     # (4, 2, 3, 2), strided
    ref = K.conv2d_forward(np.ascontiguousarray(x), np.ascontiguousarray(w), None, 1, 1)
    np.testing.assert_allclose(K.conv2d_forward(x, w, None, 1, 1), ref, rtol=1e-6)
    y, idx = K.max_pool2d_forward(x, 2, return_indices=True)
    y_ref, idx_ref = K.max_pool2d_forward(np.ascontiguousarray(x), 2, return_indices=True)
    assert np.array_equal(y, y_ref) and np.array_equal(idx, idx_ref)
    g = randn(3, 2, 4, 5)[:, :, :, ::-1]
    np.testing.assert_allclose(K.avg_pool2d_backward(g, x.shape, 2),
                               K.avg_pool2d_backward(g.copy(), x.shape, 2))


def test_dtype_handling(backend):
    x, w, b = randn(2, 3, 6, 6), randn(4, 3, 3, 3), randn(4)
    y = K.conv2d_forward(x.astype(np.float16), w.astype(np.float16), b.astype(np.float16))
    assert y.dtype == np.float16
    np.testing.assert_allclose(y, K.conv2d_forward(x, w, b), rtol=2e-2, atol=2e-2)
    y64 = K.conv2d_forward(x, w.astype(np.float64), b)    # mixed: promoted like NumPy
    assert y64.dtype == np.float64
    g = randn(2, 4, 4, 4)
    gx, gw, gb = K.conv2d_backward(g, x, w.astype(np.float64))
    assert (gx.dtype, gw.dtype, gb.dtype) == (np.float32, np.float64, np.float64)
    assert K.max_pool2d_forward(x.astype(np.float16), 2)[0].dtype == np.float16
    assert K.matmul(randn(2, 3), randn(3, 2, dtype=np.float64)).dtype == np.float64
    assert K.matmul(randn(2, 3).astype(np.float16), randn(3, 2).astype(np.float16)).dtype == np.float16
    y = K.conv2d_forward(x.tolist(), w)                   # array-likes are accepted
    np.testing.assert_allclose(y, K.conv2d_forward(x.astype(np.float64), w), rtol=1e-5, atol=1e-5)


def test_empty_batch_and_need_flags(backend):
    x, w, b = randn(0, 3, 6, 6), randn(4, 3, 3, 3), randn(4)
    assert K.conv2d_forward(x, w, b).shape == (0, 4, 4, 4)
    gx, gw, gb = K.conv2d_backward(randn(0, 4, 4, 4), x, w)
    assert gx.shape == x.shape and not gw.any() and not gb.any()
    x = randn(2, 3, 6, 6)
    assert K.conv2d_backward(randn(2, 4, 4, 4), x, w, need_input=False, need_weight=False,
                             need_bias=False) == (None, None, None)
    gx, gw, gb = K.conv2d_backward(randn(2, 4, 4, 4), x, w, need_input=False, need_bias=False)
    assert gx is None and gb is None and gw.shape == w.shape
    assert K.max_pool2d_forward(randn(0, 3, 4, 4), 2, return_indices=True)[1].shape == (0, 3, 2, 2)
    g = randn(2, 4, 3, 3)                                   # no input channels: only the bias acts
    y = K.conv2d_forward(randn(2, 0, 5, 5), randn(4, 0, 3, 3), b)
    assert np.array_equal(y, np.broadcast_to(b.reshape(1, 4, 1, 1), (2, 4, 3, 3)))
    gx, gw, gb = K.conv2d_backward(g, randn(2, 0, 5, 5), randn(4, 0, 3, 3))
    assert gx.shape == (2, 0, 5, 5) and gw.shape == (4, 0, 3, 3)
    np.testing.assert_allclose(gb, g.sum(axis=(0, 2, 3)), rtol=1e-6)
    assert K.matmul(randn(3, 0), randn(0, 2)).tolist() == [[0, 0]] * 3


def test_fully_connected_and_pointwise_convolutions(backend):
    """The two shapes that need no unfolding (kernel == input, and 1x1) with groups."""
    x, w = randn(5, 6, 4, 3, dtype=np.float64), randn(4, 3, 4, 3, dtype=np.float64)
    y = K.conv2d_forward(x, w, None, groups=2)
    ref = np.stack([np.einsum("nchw,ochw->no", x[:, 3 * g:3 * g + 3], w[2 * g:2 * g + 2])
                    for g in range(2)], 1).reshape(5, 4, 1, 1)
    np.testing.assert_allclose(y, ref, rtol=1e-12)
    w1 = randn(4, 3, 1, 1, dtype=np.float64)
    y1 = K.conv2d_forward(x, w1, None, groups=2)
    ref1 = np.concatenate([np.einsum("nchw,oc->nohw", x[:, 3 * g:3 * g + 3], w1[2 * g:2 * g + 2, :, 0, 0])
                           for g in range(2)], 1)
    np.testing.assert_allclose(y1, ref1, rtol=1e-12)


def test_max_pool_nan_and_inf(backend):
    x = np.array([[[[1.0, np.nan, 3.0, np.nan], [-np.inf, -np.inf, 0.0, 2.0]]]], np.float32)
    y, idx = K.max_pool2d_forward(x, 2, return_indices=True)
    assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 1
    assert np.isnan(y[0, 0, 0, 1]) and idx[0, 0, 0, 1] == 3
    x = np.full((1, 1, 2, 2), -np.inf, np.float32)
    y, idx = K.max_pool2d_forward(x, 2, padding=1, return_indices=True)
    assert (y == -np.inf).all() and idx.ravel().tolist() == [0, 1, 2, 3]


def test_window_over_padding_only(backend):
    """Dilation can leave a window with no input position: -inf, index -1, no gradient."""
    x = randn(1, 1, 2, 1)
    y, idx = K.max_pool2d_forward(x, (1, 2), 1, (0, 1), (1, 2), return_indices=True)
    assert y.shape == (1, 1, 2, 1) and (y == -np.inf).all() and (idx == -1).all()
    assert not K.max_pool2d_backward(np.ones_like(y), idx, x.shape).any()


def test_relu_kernels_check_their_arguments(backend):
    with pytest.raises(TypeError, match="relu_forward: x has dtype int64"):
        K.relu_forward(np.arange(3))
    with pytest.raises(ValueError, match=r"relu_backward: grad_out shape \(2,\) differs from out shape \(3,\)"):
        K.relu_backward(randn(2), randn(3))
    half = np.array([-1, 2], np.float16)
    assert K.relu_forward(half).dtype == np.float16
    assert K.relu_backward(half, K.relu_forward(half)).tolist() == [0, 2]
