"""Conv1d, ConvTranspose1d/2d and the 1-D pooling layers against PyTorch: forward and every gradient on
random geometries, float64 gradcheck and gradgradcheck, the Modules (weights copied into torch), their
default init and printout, and the DCGAN generator's shapes."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F
from gradlab import kernels, nn
from gradlab.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def distinct(*shape, seed=0):
    """Values without ties, so that max pooling's choice (and gradient) is the same in both libraries."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) / n + 0.01


def check_against_torch(ours_fn, torch_fn, arrays, rtol=1e-7, atol=1e-9):
    """Same output and the same gradient for every input, under a random upstream gradient."""
    ours = [gradlab.tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    out, ref = ours_fn(*ours), torch_fn(*theirs)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out._data, ref.detach().numpy(), rtol=rtol, atol=atol)
    upstream = rand(*ref.shape, seed=7)
    out.backward(gradlab.tensor(upstream))
    ref.backward(torch.tensor(upstream))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad._data, b.grad.numpy(), rtol=rtol, atol=atol)
    return out


def copy_into_torch(ours, theirs):
    """Give a torch module gradlab's parameter values, checking that the names and shapes agree."""
    named = dict(ours.named_parameters())
    assert list(named) == [name for name, _ in theirs.named_parameters()]
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            assert tuple(p.shape) == tuple(named[name].shape), name
            p.copy_(torch.tensor(named[name]._data))


def check_module(ours, theirs, x, rtol=1e-7, atol=1e-9, **kwargs):
    """Module outputs and the gradients of input and every parameter, with the weights copied into torch."""
    copy_into_torch(ours, theirs)
    xo, xt = gradlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(xo, **kwargs), theirs(xt, **kwargs)
    np.testing.assert_allclose(out._data, ref.detach().numpy(), rtol=rtol, atol=atol)
    upstream = rand(*ref.shape, seed=3)
    out.backward(gradlab.tensor(upstream))
    ref.backward(torch.tensor(upstream))
    np.testing.assert_allclose(xo.grad._data, xt.grad.numpy(), rtol=rtol, atol=atol)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad._data, q.grad.numpy(), rtol=rtol, atol=atol, err_msg=name)
    return out


# ---- conv1d -----------------------------------------------------------------------------------
@st.composite
def conv1d_cases(draw):
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k, d, p, s = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(0, 2)), draw(st.integers(1, 3))
    length = draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 12))
    return dict(x=(draw(st.integers(1, 3)), c_in, length), w=(c_out, c_in // groups, k),
                geometry=dict(stride=s, padding=p, dilation=d, groups=groups), bias=draw(st.booleans()),
                batched=draw(st.booleans()), seed=draw(st.integers(0, 999)))


@given(case=conv1d_cases())
def test_conv1d_matches_torch_on_random_geometries(case):
    x = rand(*case["x"], seed=case["seed"])
    arrays = [x if case["batched"] else x[0], rand(*case["w"], seed=case["seed"] + 1)]
    if case["bias"]:
        arrays.append(rand(case["w"][0], seed=case["seed"] + 2))
    g = case["geometry"]
    out = check_against_torch(lambda *a: F.conv1d(*a, **g), lambda *a: TF.conv1d(*a, **g), arrays)
    assert out.grad_fn.name() == ("ConvolutionBackward0" if case["batched"] else "SqueezeBackward1")


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kernel,dilation", [(3, 1), (4, 1), (2, 3)])
def test_conv1d_string_padding_matches_torch(kernel, dilation):
    arrays = [rand(2, 2, 9), rand(3, 2, kernel, seed=1)]
    for padding in ("same", "valid"):
        out = check_against_torch(lambda *a: F.conv1d(*a, padding=padding, dilation=dilation),
                                  lambda *a: TF.conv1d(*a, padding=padding, dilation=dilation), arrays)
        if padding == "same":
            assert out.shape[-1] == 9


@pytest.mark.parametrize("backend", kernels.available_backends())
def test_conv1d_gradcheck_and_gradgradcheck(backend):
    x = gradlab.tensor(rand(2, 4, 7), requires_grad=True)
    w = gradlab.tensor(rand(6, 2, 3, seed=1), requires_grad=True)
    b = gradlab.tensor(rand(6, seed=2), requires_grad=True)

    def conv(x, w, b):
        return F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2)
    with kernels.use_backend(backend):
        assert gradcheck(conv, (x, w, b))
        assert gradgradcheck(conv, (x, w, b))


def assert_errors_match_torch(cases):
    """Each ``case(lib, F)`` raises a RuntimeError in both libraries, gradlab's message holding torch's."""
    for case in cases:
        with pytest.raises(RuntimeError) as theirs:
            case(torch, TF)
        with pytest.raises(RuntimeError) as ours:
            case(gradlab, F)
        assert str(theirs.value) in str(ours.value)


def test_conv1d_errors_match_torch():
    x, w = rand(2, 3, 10), rand(4, 3, 3)
    cases = [lambda lib, F_: F_.conv1d(lib.tensor(x[None]), lib.tensor(w)),
             lambda lib, F_: F_.conv1d(lib.tensor(x), lib.tensor(rand(4, 2, 3))),
             lambda lib, F_: F_.conv1d(lib.tensor(x), lib.tensor(w), lib.tensor(rand(3))),
             lambda lib, F_: F_.conv1d(lib.tensor(x), lib.tensor(rand(4, 3, 30)))]
    assert_errors_match_torch(cases)


# ---- transposed convolution -------------------------------------------------------------------
@st.composite
def transposed_cases(draw, dims):
    groups = draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(dims))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    size = tuple(draw(st.integers(1, 6)) for _ in range(dims))
    # padding small enough that the output is not empty
    padding = tuple(draw(st.integers(0, max(0, ((n - 1) * s + d * (k - 1) + op) // 2)))
                    for n, s, d, k, op in zip(size, stride, dilation, kernel, output_padding))
    return dict(x=(draw(st.integers(1, 2)), c_in) + size, w=(c_in, c_out // groups) + kernel, bias=draw(st.booleans()),
                geometry=dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                              dilation=dilation), seed=draw(st.integers(0, 999)))


@given(case=transposed_cases(2))
def test_conv_transpose2d_matches_torch_on_random_geometries(case):
    arrays = [rand(*case["x"], seed=case["seed"]), rand(*case["w"], seed=case["seed"] + 1)]
    if case["bias"]:
        arrays.append(rand(case["w"][1] * case["geometry"]["groups"], seed=case["seed"] + 2))
    g = case["geometry"]
    out = check_against_torch(lambda *a: F.conv_transpose2d(*a, **g), lambda *a: TF.conv_transpose2d(*a, **g),
                              arrays)
    assert out.grad_fn.name() == "ConvolutionBackward0"
    assert len(out.grad_fn.next_functions) == len(arrays)


@given(case=transposed_cases(1), batched=st.booleans())
def test_conv_transpose1d_matches_torch_on_random_geometries(case, batched):
    x = rand(*case["x"], seed=case["seed"])
    arrays = [x if batched else x[0], rand(*case["w"], seed=case["seed"] + 1)]
    if case["bias"]:
        arrays.append(rand(case["w"][1] * case["geometry"]["groups"], seed=case["seed"] + 2))
    g = {name: value[0] if isinstance(value, tuple) else value for name, value in case["geometry"].items()}
    check_against_torch(lambda *a: F.conv_transpose1d(*a, **g), lambda *a: TF.conv_transpose1d(*a, **g), arrays)


def test_conv_transpose_float32_matches_torch():
    arrays = [rand(2, 4, 5, 5).astype(np.float32), rand(4, 3, 4, 4, seed=1).astype(np.float32)]
    out = check_against_torch(lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1),
                              lambda x, w: TF.conv_transpose2d(x, w, stride=2, padding=1), arrays, rtol=1e-5,
                              atol=1e-5)
    assert out.dtype == gradlab.float32


@pytest.mark.parametrize("backend", kernels.available_backends())
@pytest.mark.parametrize("geometry", [dict(), dict(stride=2, padding=1, output_padding=1),
                                      dict(groups=2, dilation=(2, 1), stride=(1, 2)),
                                      dict(dilation=3, output_padding=2)])
def test_conv_transpose2d_gradcheck_and_gradgradcheck(backend, geometry):
    x = gradlab.tensor(rand(2, 4, 3, 4), requires_grad=True)
    w = gradlab.tensor(rand(4, 2, 3, 2, seed=1), requires_grad=True)
    b = gradlab.tensor(rand(2 * geometry.get("groups", 1), seed=2), requires_grad=True)

    def deconv(x, w, b):
        return F.conv_transpose2d(x, w, b, **geometry)
    with kernels.use_backend(backend):
        assert gradcheck(deconv, (x, w, b))
        assert gradgradcheck(deconv, (x, w, b))


def test_conv_transpose1d_gradcheck_and_gradgradcheck():
    x = gradlab.tensor(rand(2, 2, 5), requires_grad=True)
    w = gradlab.tensor(rand(2, 3, 3, seed=1), requires_grad=True)
    b = gradlab.tensor(rand(3, seed=2), requires_grad=True)

    def deconv(x, w, b):
        return F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1)
    assert gradcheck(deconv, (x, w, b))
    assert gradgradcheck(deconv, (x, w, b))


def test_conv_transpose2d_double_backward_matches_torch():
    """d/d(x, w) of |d deconv / d(x, w)|^2, through create_graph, equals torch's."""
    arrays = [rand(2, 4, 4, 5), rand(4, 3, 3, 3, seed=1)]
    grads = {}
    for lib, deconv in ((gradlab, F.conv_transpose2d), (torch, TF.conv_transpose2d)):
        x, w = (lib.tensor(a.copy(), requires_grad=True) for a in arrays)
        y = deconv(x, w, None, 2, 1, 1, 2)
        gx, gw = lib.autograd.grad((y * y).sum(), (x, w), create_graph=True)
        ((gx * gx).sum() + (gw * gw).sum()).backward()
        grads[lib.__name__] = (x.grad, w.grad)
    for ours, theirs in zip(grads["gradlab"], grads["torch"]):
        np.testing.assert_allclose(ours._data, theirs.numpy(), rtol=1e-7, atol=1e-9)


def test_conv_transpose_is_the_adjoint_of_conv():
    """<conv(u, w), x> == <u, conv_transpose(x, w)> for any u and x: the transposed convolution's definition."""
    w = gradlab.tensor(rand(4, 3, 3, 3))
    u, x = gradlab.tensor(rand(2, 3, 9, 8, seed=1)), gradlab.tensor(rand(2, 4, 5, 4, seed=2))
    left = (F.conv2d(u, w, stride=2, padding=1) * x).sum().item()
    right = (u * F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=(0, 1))).sum().item()
    assert math.isclose(left, right, rel_tol=1e-10)


def test_conv_transpose_errors_match_torch():
    x = rand(2, 3, 4, 4)
    cases = [lambda lib, F_: F_.conv_transpose2d(lib.tensor(x), lib.tensor(rand(2, 4, 3, 3))),
             lambda lib, F_: F_.conv_transpose2d(lib.tensor(x[None]), lib.tensor(rand(3, 4, 3, 3))),
             lambda lib, F_: F_.conv_transpose1d(lib.tensor(x), lib.tensor(rand(3, 4, 3)))]
    assert_errors_match_torch(cases)
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(gradlab.tensor(x), gradlab.tensor(rand(3, 4, 3, 3)), stride=2, output_padding=2)


# ---- the conv Modules -------------------------------------------------------------------------
MODULE_CASES = [
    ("Conv1d", dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, groups=2), (2, 4, 9)),
    ("Conv1d", dict(in_channels=3, out_channels=2, kernel_size=4, padding="same", bias=False), (3, 8)),
    ("Conv1d", dict(in_channels=3, out_channels=2, kernel_size=3, padding=2, padding_mode="reflect"), (2, 3, 8)),
    ("Conv1d", dict(in_channels=3, out_channels=2, kernel_size=3, padding=1, padding_mode="circular"), (2, 3, 8)),
    ("ConvTranspose1d", dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, output_padding=1, groups=2),
     (2, 4, 5)),
    ("ConvTranspose2d", dict(in_channels=3, out_channels=5, kernel_size=(3, 2), stride=(2, 1), padding=1,
                             dilation=(1, 2), bias=False), (2, 3, 4, 5)),
    ("ConvTranspose2d", dict(in_channels=3, out_channels=2, kernel_size=4, stride=2, padding=1), (3, 4, 4)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("name,kwargs,shape", MODULE_CASES)
def test_conv_modules_match_torch(name, kwargs, shape):
    ours, theirs = getattr(nn, name)(**kwargs).double(), getattr(torch.nn, name)(**kwargs).double()
    assert repr(ours) == repr(theirs)
    check_module(ours, theirs, rand(*shape, seed=5))


def test_conv_transpose2d_output_size_matches_torch():
    ours, theirs = nn.ConvTranspose2d(4, 6, 3, stride=2).double(), torch.nn.ConvTranspose2d(4, 6, 3, stride=2).double()
    for size in ((12, 11), [1, 6, 11, 12]):
        out = check_module(ours, theirs, rand(1, 4, 5, 5), output_size=size)
        assert tuple(out.shape[-2:]) == tuple(size[-2:])
    with pytest.raises(ValueError) as theirs_error:
        theirs(torch.zeros(1, 4, 5, 5, dtype=torch.float64), output_size=(14, 14))
    with pytest.raises(ValueError) as ours_error:
        ours(gradlab.zeros(1, 4, 5, 5, dtype=gradlab.float64), output_size=(14, 14))
    assert str(ours_error.value).startswith(str(theirs_error.value).split(" (for an input")[0])


@pytest.mark.parametrize("cls,kwargs,fan_in", [
    (nn.Conv1d, dict(in_channels=4, out_channels=8, kernel_size=5), 4 * 5),
    (nn.ConvTranspose1d, dict(in_channels=4, out_channels=8, kernel_size=5, groups=2), 4 * 5),
    (nn.ConvTranspose2d, dict(in_channels=6, out_channels=10, kernel_size=3), 10 * 9),
])
def test_conv_default_init_is_torchs(cls, kwargs, fan_in):
    """kaiming_uniform_(a=sqrt(5)): weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in from dim 1."""
    gradlab.manual_seed(0)
    layer = cls(**kwargs)
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        values = np.abs(p._data)
        assert values.max() <= bound and values.max() > 0.6 * bound
    reference = getattr(torch.nn, cls.__name__)(**kwargs)
    assert tuple(layer.weight.shape) == tuple(reference.weight.shape)


def test_conv_transpose_modules_refuse_what_torch_refuses():
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(4, 6, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.ConvTranspose2d(4, 6, 3, groups=4)


def test_dcgan_generator_shapes_and_gradients_match_torch():
    """The DCGAN tutorial's generator (at small widths): 1x1 noise -> 64x64 image through 5 ConvTranspose2d."""
    nz, ngf, nc = 10, 4, 3

    def generator(lib):
        return lib.nn.Sequential(
            lib.nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), lib.nn.ReLU(True),
            lib.nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), lib.nn.ReLU(True),
            lib.nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), lib.nn.ReLU(True),
            lib.nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), lib.nn.ReLU(True),
            lib.nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), lib.nn.Tanh()).double()
    out = check_module(generator(gradlab), generator(torch), rand(2, nz, 1, 1), rtol=1e-6)
    assert tuple(out.shape) == (2, nc, 64, 64)


# ---- 1-D pooling ------------------------------------------------------------------------------
@st.composite
def pool1d_cases(draw):
    k = draw(st.integers(1, 4))
    s, p, d = draw(st.integers(1, 3)), draw(st.integers(0, k // 2)), draw(st.integers(1, 2))
    length = draw(st.integers(d * (k - 1) + 1, 11))
    batched = draw(st.booleans())
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), length) if batched else (2, length)
    return dict(shape=shape, k=k, s=s, p=p, d=d, ceil=draw(st.booleans()), seed=draw(st.integers(0, 99)),
                out=draw(st.integers(1, length + 2)), count_include_pad=draw(st.booleans()))


@given(case=pool1d_cases())
def test_pool1d_matches_torch_on_random_geometries(case):
    x = [distinct(*case["shape"], seed=case["seed"])]
    k, s, p, d, ceil = case["k"], case["s"], case["p"], case["d"], case["ceil"]
    # PyTorch drops a last window that would start inside the right padding; only check geometries it accepts
    try:
        TF.max_pool1d(torch.tensor(x[0]), k, s, p, d, ceil)
    except RuntimeError:
        return
    out = check_against_torch(lambda a: F.max_pool1d(a, k, s, p, d, ceil), lambda a: TF.max_pool1d(a, k, s, p, d, ceil),
                              x)
    assert out.grad_fn.name() == "SqueezeBackward1"
    ours_idx = F.max_pool1d(gradlab.tensor(x[0]), k, s, p, d, ceil, return_indices=True)[1]
    theirs_idx = TF.max_pool1d(torch.tensor(x[0]), k, s, p, d, ceil, return_indices=True)[1]
    np.testing.assert_array_equal(ours_idx._data, theirs_idx.numpy())
    cip = case["count_include_pad"]
    check_against_torch(lambda a: F.avg_pool1d(a, k, s, p, ceil, cip),
                        lambda a: TF.avg_pool1d(a, k, s, p, ceil, cip), x)
    o = case["out"]
    check_against_torch(lambda a: F.adaptive_avg_pool1d(a, o), lambda a: TF.adaptive_avg_pool1d(a, o), x)
    check_against_torch(lambda a: F.adaptive_max_pool1d(a, o), lambda a: TF.adaptive_max_pool1d(a, o), x)
    ours_idx = F.adaptive_max_pool1d(gradlab.tensor(x[0]), o, return_indices=True)[1]
    np.testing.assert_array_equal(ours_idx._data, TF.adaptive_max_pool1d(torch.tensor(x[0]), o, True)[1].numpy())


def test_pool1d_gradcheck_and_gradgradcheck():
    x = gradlab.tensor(distinct(2, 3, 9), requires_grad=True)
    for fn in (lambda a: F.max_pool1d(a, 3, 2, 1), lambda a: F.avg_pool1d(a, 3, 2, 1),
               lambda a: F.adaptive_avg_pool1d(a, 4), lambda a: F.adaptive_max_pool1d(a, 4)):
        assert gradcheck(fn, (x,))
        assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("name,args", [("MaxPool1d", (3, 2, 1)), ("MaxPool1d", (2,)), ("AvgPool1d", (3, 1, 1)),
                                       ("AvgPool1d", (2,)), ("AdaptiveAvgPool1d", (3,)), ("AdaptiveMaxPool1d", (2,))])
def test_pool1d_modules_match_torch(name, args):
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    check_module(ours, theirs, distinct(2, 3, 8))


def test_pool1d_rejects_4d_input():
    with pytest.raises(RuntimeError, match="Expected 2D or 3D"):
        F.max_pool1d(gradlab.zeros(1, 2, 3, 4), 2)
    with pytest.raises(RuntimeError, match="Expected 2D or 3D"):
        F.adaptive_avg_pool1d(gradlab.zeros(1, 2, 3, 4), 2)


@pytest.mark.parametrize("conv,x,w", [("conv1d", (1, 2, 5), (2, 2, 3)), ("conv2d", (1, 2, 5, 5), (2, 2, 3, 3))])
def test_string_padding_errors_match_torch(conv, x, w):
    for kwargs in (dict(padding="same", stride=2), dict(padding="foo")):
        with pytest.raises(RuntimeError) as theirs:
            getattr(TF, conv)(torch.zeros(*x), torch.zeros(*w), **kwargs)
        with pytest.raises(RuntimeError) as ours:
            getattr(F, conv)(gradlab.zeros(*x), gradlab.zeros(*w), **kwargs)
        assert str(theirs.value) in str(ours.value)


@pytest.mark.parametrize("call", [lambda F_, x: F_.max_pool1d(x, 0), lambda F_, x: F_.max_pool1d(x, 2, 0),
                                  lambda F_, x: F_.max_pool1d(x, 2, 1, 0, 0),
                                  lambda F_, x: F_.max_pool1d(x, 2, padding=2)])
def test_pool1d_window_errors_match_torch(call):
    with pytest.raises(RuntimeError) as theirs:
        call(TF, torch.zeros(2, 3, 10))
    with pytest.raises(RuntimeError) as ours:
        call(F, gradlab.zeros(2, 3, 10))
    assert str(theirs.value) in str(ours.value)


def test_conv_forward_takes_a_given_weight_as_torch():
    """Subclasses (weight standardisation, for example) call _conv_forward(input, weight, bias)."""
    ours, theirs = nn.Conv1d(2, 3, 3, padding=1, padding_mode="reflect").double(), \
        torch.nn.Conv1d(2, 3, 3, padding=1, padding_mode="reflect").double()
    copy_into_torch(ours, theirs)
    x, w = rand(2, 2, 6), rand(3, 2, 3, seed=1)
    out = ours._conv_forward(gradlab.tensor(x), gradlab.tensor(w), None)
    ref = theirs._conv_forward(torch.tensor(x), torch.tensor(w), None)
    np.testing.assert_allclose(out._data, ref.numpy(), rtol=1e-12)


@pytest.mark.parametrize("pool", ["max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d"])
def test_1d_pools_name_themselves_when_refusing_integers(pool):
    with pytest.raises(RuntimeError, match=rf"^{pool}: expected a floating-point input, got gradlab.int64"):
        getattr(F, pool)(gradlab.ones(1, 3, 4, dtype=gradlab.int64), 2)
