"""Both kernel backends against torch.nn.functional (skipped when torch is absent)."""
import numpy as np
import pytest
from hypothesis import given

import gradlab.kernels as K
from kernel_cases import conv_cases, pool_cases, tol

torch = pytest.importorskip("torch")
F = torch.nn.functional


backends = pytest.mark.parametrize("backend", K.available_backends())


def _t(a, grad=False):
    return None if a is None else torch.tensor(a, requires_grad=grad)


@backends
@given(c=conv_cases())
def test_conv2d_matches_torch(backend, c):
    with K.use_backend(backend):
        _test_conv2d_matches_torch(c)


def _test_conv2d_matches_torch(c):
    geo = (c["stride"], c["padding"], c["dilation"], c["groups"])
    x, w, b = _t(c["x"], True), _t(c["w"], True), _t(c["b"], c["b"] is not None)
    y = F.conv2d(x, w, b, *geo)
    y.backward(torch.tensor(c["g"]))
    ours = K.conv2d_forward(c["x"], c["w"], c["b"], *geo)
    np.testing.assert_allclose(ours, y.detach().numpy(), **tol(c["x"].dtype))
    gx, gw, gb = K.conv2d_backward(c["g"], c["x"], c["w"], *geo, need_bias=c["b"] is not None)
    np.testing.assert_allclose(gx, x.grad.numpy(), **tol(c["x"].dtype))
    np.testing.assert_allclose(gw, w.grad.numpy(), **tol(c["x"].dtype))
    if c["b"] is not None:
        np.testing.assert_allclose(gb, b.grad.numpy(), **tol(c["x"].dtype))


@backends
@given(c=pool_cases())
def test_max_pool2d_matches_torch(backend, c):
    with K.use_backend(backend):
        _test_max_pool2d_matches_torch(c)


def _test_max_pool2d_matches_torch(c):
    args = (c["kernel"], c["stride"], c["padding"], c["dilation"], c["ceil_mode"])
    x = _t(c["x"], True)
    try:
        y, idx = F.max_pool2d(x, *args, return_indices=True)
    except RuntimeError:            # torch's own limits (e.g. pad > kernel/2): ours must refuse too
        with pytest.raises(ValueError):
            K.max_pool2d_forward(c["x"], *args, return_indices=True)
        return
    ours, ours_idx = K.max_pool2d_forward(c["x"], *args, return_indices=True)
    real = ours_idx >= 0            # -1: a window over padding only (torch's index is arbitrary there)
    assert np.array_equal(ours, y.detach().numpy())
    assert np.array_equal(ours_idx[real], idx.numpy()[real])
    if real.all():
        y.backward(torch.tensor(c["g"]))
        np.testing.assert_allclose(K.max_pool2d_backward(c["g"], ours_idx, c["x"].shape),
                                   x.grad.numpy(), **tol(c["x"].dtype))


@backends
@given(c=pool_cases(dilation=False))
def test_avg_pool2d_matches_torch(backend, c):
    with K.use_backend(backend):
        _test_avg_pool2d_matches_torch(c)


def _test_avg_pool2d_matches_torch(c):
    for count_include_pad in (True, False):
        for divisor_override in (None, 2):
            args = (c["kernel"], c["stride"], c["padding"], c["ceil_mode"], count_include_pad,
                    divisor_override)
            x = _t(c["x"], True)
            y = F.avg_pool2d(x, *args)
            y.backward(torch.tensor(c["g"]))
            np.testing.assert_allclose(K.avg_pool2d_forward(c["x"], *args), y.detach().numpy(),
                                       **tol(c["x"].dtype))
            np.testing.assert_allclose(K.avg_pool2d_backward(c["g"], c["x"].shape, *args),
                                       x.grad.numpy(), **tol(c["x"].dtype))


@backends
def test_lenet_shapes_match_torch(backend):
    """The three LeNet-5 convolutions and two pools, at a realistic batch."""
    with K.use_backend(backend):
        _lenet_shapes()


def _lenet_shapes():
    rng = np.random.default_rng(5)
    for cin, cout, size, pad in [(1, 6, 28, 2), (6, 16, 14, 0), (16, 120, 5, 0)]:
        x = rng.standard_normal((32, cin, size, size)).astype(np.float32)
        w = rng.standard_normal((cout, cin, 5, 5)).astype(np.float32)
        b = rng.standard_normal(cout).astype(np.float32)
        tx, tw, tb = _t(x, True), _t(w, True), _t(b, True)
        y = F.conv2d(tx, tw, tb, 1, pad)
        g = rng.standard_normal(y.shape).astype(np.float32)
        y.backward(torch.tensor(g))
        np.testing.assert_allclose(K.conv2d_forward(x, w, b, 1, pad), y.detach().numpy(),
                                   rtol=1e-4, atol=1e-3)
        gx, gw, gb = K.conv2d_backward(g, x, w, 1, pad)
        for ours, ref in ((gx, tx.grad), (gw, tw.grad), (gb, tb.grad)):
            np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-4, atol=1e-2)
    for c, size in [(6, 28), (16, 10)]:
        x = rng.standard_normal((32, c, size, size)).astype(np.float32)
        y, idx = F.max_pool2d(torch.tensor(x), 2, return_indices=True)
        ours, ours_idx = K.max_pool2d_forward(x, 2, return_indices=True)
        assert np.array_equal(ours, y.numpy()) and np.array_equal(ours_idx, idx.numpy())
