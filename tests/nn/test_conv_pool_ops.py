"""conv2d and pooling autograd ops: forward and gradients against torch on both kernel backends,
gradcheck and gradgradcheck, and that only the needed work is done."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F
from gradlab import kernels
from gradlab.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

BACKENDS = kernels.available_backends()


@pytest.fixture(params=BACKENDS)
def backend(request):
    with kernels.use_backend(request.param):
        yield request.param


def both(array, requires_grad=True):
    array = np.asarray(array)
    return (gradlab.tensor(array.copy(), requires_grad=requires_grad),
            torch.tensor(array.copy(), requires_grad=requires_grad))


def assert_close(ours, theirs, rtol=1e-7, atol=1e-9):
    theirs = theirs.detach().numpy()
    assert ours._data.shape == theirs.shape, (ours._data.shape, theirs.shape)
    assert ours._data.dtype == theirs.dtype, (ours._data.dtype, theirs.dtype)
    np.testing.assert_allclose(ours._data, theirs, rtol=rtol, atol=atol)


def check_against_torch(ours_fn, torch_fn, arrays, rtol=1e-7, atol=1e-9, seed=0):
    pairs = [both(a) for a in arrays]
    out, ref = ours_fn(*[p[0] for p in pairs]), torch_fn(*[p[1] for p in pairs])
    assert_close(out, ref, rtol, atol)
    upstream = np.random.default_rng(seed).standard_normal(tuple(ref.shape)).astype(arrays[0].dtype)
    out.backward(gradlab.tensor(upstream))
    ref.backward(torch.tensor(upstream))
    for g, t in pairs:
        assert_close(g.grad, t.grad, rtol, atol)
    return out


def rand(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def distinct(*shape, seed=0):
    """Values with no ties (so max pooling's gradient is well defined for finite differences)."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) / n + 0.01


# ---- conv2d -----------------------------------------------------------------------------------
@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 7))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 7))
    n = draw(st.integers(1, 3))
    return dict(x=(n, c_in, h, w), w=(c_out, c_in // groups, kh, kw), stride=(sh, sw), padding=(ph, pw),
                dilation=(dh, dw), groups=groups, bias=draw(st.booleans()), seed=draw(st.integers(0, 999)))


@given(case=conv_cases())
def test_conv2d_matches_torch_on_random_geometries(case):
    arrays = [rand(*case["x"], seed=case["seed"]), rand(*case["w"], seed=case["seed"] + 1)]
    if case["bias"]:
        arrays.append(rand(case["w"][0], seed=case["seed"] + 2))
    geometry = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
    for name in BACKENDS:
        with kernels.use_backend(name):
            check_against_torch(lambda *a: F.conv2d(*a, **geometry), lambda *a: TF.conv2d(*a, **geometry), arrays)


def test_conv2d_float32_matches_torch(backend):
    arrays = [rand(4, 3, 12, 11, dtype=np.float32), rand(8, 3, 5, 5, seed=1, dtype=np.float32),
              rand(8, seed=2, dtype=np.float32)]
    out = check_against_torch(lambda *a: F.conv2d(*a, padding=2), lambda *a: TF.conv2d(*a, padding=2), arrays,
                              rtol=1e-4, atol=1e-5)
    assert out.grad_fn.name() == "ConvolutionBackward0"


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kernel,dilation", [(3, 1), (4, 1), (2, 3), ((2, 3), (2, 1))])
def test_conv2d_string_padding_matches_torch(kernel, dilation):
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    arrays = [rand(2, 2, 7, 6), rand(3, 2, *k, seed=1)]
    for padding in ("same", "valid"):
        out = check_against_torch(lambda *a: F.conv2d(*a, padding=padding, dilation=dilation),
                                  lambda *a: TF.conv2d(*a, padding=padding, dilation=dilation), arrays)
        if padding == "same":
            assert out.shape[-2:] == (7, 6)


def test_conv2d_unbatched_input():
    check_against_torch(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1),
                        [rand(2, 5, 5), rand(3, 2, 3, 3, seed=1)])


@pytest.mark.parametrize("geometry", [dict(), dict(stride=2, padding=1), dict(dilation=2, padding=(1, 2)),
                                      dict(groups=2, stride=(1, 2))])
def test_conv2d_gradcheck_and_gradgradcheck(backend, geometry):
    x = gradlab.tensor(rand(2, 2, 5, 5), requires_grad=True)
    w = gradlab.tensor(rand(2, 2 // geometry.get("groups", 1), 3, 3, seed=1), requires_grad=True)
    b = gradlab.tensor(rand(2, seed=2), requires_grad=True)

    def conv(x, w, b):
        return F.conv2d(x, w, b, **geometry)
    assert gradcheck(conv, (x, w, b))
    assert gradgradcheck(conv, (x, w, b))


def test_conv2d_double_backward_matches_torch(backend):
    """d/d(x, w) of |d conv / d(x, w)|^2, through create_graph, equals torch's."""
    arrays = [rand(2, 4, 6, 6), rand(6, 2, 3, 3, seed=1)]
    grads = {}
    for lib, fn, conv in ((gradlab, lambda a: gradlab.tensor(a, requires_grad=True), F.conv2d),
                          (torch, lambda a: torch.tensor(a, requires_grad=True), TF.conv2d)):
        x, w = fn(arrays[0]), fn(arrays[1])
        y = conv(x, w, None, 2, 1, 1, 2)
        gx, gw = lib.autograd.grad((y * y).sum(), (x, w), create_graph=True)
        ((gx * gx).sum() + (gw * gw).sum()).backward()
        grads[lib.__name__] = (x.grad, w.grad)
    for ours, theirs in zip(grads["gradlab"], grads["torch"]):
        assert_close(ours, theirs, rtol=1e-6)


def test_conv2d_skips_the_input_gradient_of_data(monkeypatch):
    """The first conv of a network: its input is data, so no grad_x is computed."""
    calls = []
    real = kernels.conv2d_backward

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)
    monkeypatch.setattr(kernels, "conv2d_backward", spy)
    x = gradlab.randn(2, 1, 6, 6)
    w = gradlab.randn(3, 1, 3, 3, requires_grad=True)
    b = gradlab.randn(3, requires_grad=True)
    F.conv2d(x, w, b).sum().backward()
    assert calls == [dict(need_input=False, need_weight=True, need_bias=True)]
    assert x.grad is None and w.grad is not None and b.grad is not None


def test_conv2d_errors_name_the_shapes():
    with pytest.raises(RuntimeError, match=r"expected input\[2, 3, 8, 8\] to have 1 channels"):
        F.conv2d(gradlab.randn(2, 3, 8, 8), gradlab.randn(6, 1, 5, 5))
    with pytest.raises(RuntimeError, match="Kernel size can't be greater"):
        F.conv2d(gradlab.randn(1, 1, 3, 3), gradlab.randn(1, 1, 5, 5))
    with pytest.raises(RuntimeError, match="3D \\(unbatched\\) or 4D"):
        F.conv2d(gradlab.randn(3, 3), gradlab.randn(1, 1, 1, 1))
    with pytest.raises(RuntimeError, match="same floating-point type"):
        F.conv2d(gradlab.randn(1, 1, 3, 3).double(), gradlab.randn(1, 1, 1, 1))
    with pytest.raises(RuntimeError, match="strided"):  # a RuntimeError in PyTorch's functional form
        F.conv2d(gradlab.randn(1, 1, 5, 5), gradlab.randn(1, 1, 3, 3), stride=2, padding="same")


# ---- max pooling ------------------------------------------------------------------------------
@st.composite
def pool_cases(draw, with_dilation=True):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if with_dilation else (1, 1)
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 8))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 8))
    return dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w), kernel_size=(kh, kw),
                stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), ceil_mode=draw(st.booleans()),
                seed=draw(st.integers(0, 999)))


@given(case=pool_cases())
def test_max_pool2d_matches_torch_with_indices(case):
    geometry = {k: case[k] for k in ("kernel_size", "stride", "padding", "dilation", "ceil_mode")}
    x = distinct(*case["shape"], seed=case["seed"])
    for name in BACKENDS:
        with kernels.use_backend(name):
            out = check_against_torch(lambda t: F.max_pool2d(t, **geometry), lambda t: TF.max_pool2d(t, **geometry),
                                      [x])
            (g, t) = both(x, requires_grad=False)
            _, ours = F.max_pool2d(g, **geometry, return_indices=True)
            _, theirs = TF.max_pool2d(t, **geometry, return_indices=True)
            np.testing.assert_array_equal(ours._data, theirs.numpy())
    assert out.grad_fn.name() == "MaxPool2DWithIndicesBackward0"


def test_max_pool2d_gradcheck_and_gradgradcheck(backend):
    x = gradlab.tensor(distinct(2, 2, 5, 6), requires_grad=True)
    for geometry in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                     dict(kernel_size=2, dilation=2)):
        assert gradcheck(lambda t: F.max_pool2d(t, **geometry), (x,))
        assert gradgradcheck(lambda t: F.max_pool2d(t, **geometry), (x,))


def test_max_pool2d_overlapping_windows_add_their_gradients():
    check_against_torch(lambda t: F.max_pool2d(t, 3, stride=1), lambda t: TF.max_pool2d(t, 3, stride=1),
                        [distinct(1, 1, 5, 5)])


def test_max_pool2d_keeps_no_indices_when_no_gradient_is_needed(monkeypatch):
    flags = []
    real = kernels.max_pool2d_forward

    def spy(*args, **kwargs):
        flags.append(kwargs["return_indices"])
        return real(*args, **kwargs)
    monkeypatch.setattr(kernels, "max_pool2d_forward", spy)
    x = gradlab.randn(1, 2, 4, 4, requires_grad=True)
    with gradlab.no_grad():
        F.max_pool2d(x, 2)
    F.max_pool2d(gradlab.randn(1, 2, 4, 4), 2)
    F.max_pool2d(x, 2)
    assert flags == [False, False, True]


def test_max_pool2d_unbatched_and_errors():
    check_against_torch(lambda t: F.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2), [distinct(3, 4, 4)])
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        F.max_pool2d(gradlab.randn(1, 1, 4, 4), 2, padding=2)
    with pytest.raises(RuntimeError, match="3D or 4D"):
        F.max_pool2d(gradlab.randn(4, 4), 2)


# ---- average pooling --------------------------------------------------------------------------
@given(case=pool_cases(with_dilation=False), count_include_pad=st.booleans(),
       divisor=st.sampled_from([None, 1, 3]))
def test_avg_pool2d_matches_torch(case, count_include_pad, divisor):
    geometry = dict(kernel_size=case["kernel_size"], stride=case["stride"], padding=case["padding"],
                    ceil_mode=case["ceil_mode"], count_include_pad=count_include_pad, divisor_override=divisor)
    x = rand(*case["shape"], seed=case["seed"])
    for name in BACKENDS:
        with kernels.use_backend(name):
            check_against_torch(lambda t: F.avg_pool2d(t, **geometry), lambda t: TF.avg_pool2d(t, **geometry), [x])


def test_avg_pool2d_gradcheck_and_gradgradcheck(backend):
    x = gradlab.tensor(rand(2, 2, 5, 5), requires_grad=True)
    for geometry in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)):
        assert gradcheck(lambda t: F.avg_pool2d(t, **geometry), (x,))
        assert gradgradcheck(lambda t: F.avg_pool2d(t, **geometry) ** 2, (x,))


# ---- adaptive pooling -------------------------------------------------------------------------
@pytest.mark.parametrize("in_hw,out_size", [((6, 6), 1), ((6, 6), (2, 3)), ((7, 5), (3, 2)), ((5, 7), (None, 4)),
                                            ((4, 4), (4, 4)), ((3, 3), (5, 4))])
def test_adaptive_avg_pool2d_matches_torch(in_hw, out_size):
    out = check_against_torch(lambda t: F.adaptive_avg_pool2d(t, out_size),
                              lambda t: TF.adaptive_avg_pool2d(t, out_size), [rand(2, 3, *in_hw)])
    x = gradlab.tensor(rand(1, 2, *in_hw), requires_grad=True)
    assert gradcheck(lambda t: F.adaptive_avg_pool2d(t, out_size), (x,))
    assert out.dtype == gradlab.float64


def test_adaptive_avg_pool2d_float32_and_unbatched():
    check_against_torch(lambda t: F.adaptive_avg_pool2d(t, (2, 2)), lambda t: TF.adaptive_avg_pool2d(t, (2, 2)),
                        [rand(3, 5, 5, dtype=np.float32)], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("in_hw,out_size", [((6, 6), 2), ((7, 5), (3, 2)), ((5, 7), (None, 4))])
def test_adaptive_max_pool2d_matches_torch(in_hw, out_size):
    x = distinct(2, 3, *in_hw)
    check_against_torch(lambda t: F.adaptive_max_pool2d(t, out_size),
                        lambda t: TF.adaptive_max_pool2d(t, out_size), [x])
    _, ours = F.adaptive_max_pool2d(gradlab.tensor(x), out_size, return_indices=True)
    _, theirs = TF.adaptive_max_pool2d(torch.tensor(x), out_size, return_indices=True)
    np.testing.assert_array_equal(ours._data, theirs.numpy())


@pytest.mark.parametrize("pool, shape", [("adaptive_max_pool2d", (0, 3, 5, 5)), ("adaptive_max_pool1d", (0, 3, 5))])
def test_adaptive_max_pool_of_an_empty_batch_matches_torch(pool, shape):
    """Empty results, and an empty gradient (reshapes to (N * C, -1) could not infer -1 from 0 elements)."""
    x = gradlab.zeros(*shape, dtype=gradlab.float64, requires_grad=True)
    out = getattr(F, pool)(x, 2)
    assert tuple(out.shape) == tuple(getattr(TF, pool)(torch.zeros(*shape), 2).shape)
    (grad,) = gradlab.autograd.grad(out.sum(), x, create_graph=True)
    assert tuple(grad.shape) == shape
