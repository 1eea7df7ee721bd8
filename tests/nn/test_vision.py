"""F.interpolate / Upsample, PixelShuffle / PixelUnshuffle and ChannelShuffle against PyTorch: outputs and
gradients on random sizes and scales, float64 gradcheck and gradgradcheck, grad_fn names, printouts, errors."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F
from gradlab import nn
from gradlab.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from against_torch import assert_same, backward_both, pair, seeds  # noqa: E402


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def torch_backward_is_its_derivative(torch_fn, x):
    """False where PyTorch's backward kernel takes a shortcut its forward kernel does not (see below)."""
    return torch.autograd.gradcheck(torch_fn, (torch.tensor(x, requires_grad=True),), raise_exception=False)


def check_against_torch(ours_fn, torch_fn, x, rtol=1e-7, atol=1e-9, compare_grad=True):
    """Same output, same input gradient under a random upstream gradient, same grad_fn name."""
    xo, xt = gradlab.tensor(x.copy(), requires_grad=True), torch.tensor(x.copy(), requires_grad=True)
    out, ref = ours_fn(xo), torch_fn(xt)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out._data, ref.detach().numpy(), rtol=rtol, atol=atol)
    assert out.grad_fn.name() == type(ref.grad_fn).__name__
    if not compare_grad:
        return out
    upstream = rand(*ref.shape, seed=9)
    out.backward(gradlab.tensor(upstream))
    ref.backward(torch.tensor(upstream))
    np.testing.assert_allclose(xo.grad._data, xt.grad.numpy(), rtol=rtol, atol=atol)
    return out


# ---- interpolate ------------------------------------------------------------------------------
@st.composite
def interpolate_cases(draw):
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "area", "linear", "bilinear", "bicubic"]))
    spatial = 1 if mode == "linear" else 2 if mode in ("bilinear", "bicubic") else draw(st.integers(1, 2))
    sizes = tuple(draw(st.integers(1, 7)) for _ in range(spatial))
    kwargs = {}
    if draw(st.booleans()):
        kwargs["size"] = tuple(draw(st.integers(1, 12)) for _ in range(spatial))
    else:  # scales on a 1/4 grid, at least large enough for a non-empty output
        kwargs["scale_factor"] = tuple(max(draw(st.integers(1, 14)) / 4, 1.0 / n) for n in sizes)
    if mode in ("linear", "bilinear", "bicubic"):
        kwargs["align_corners"] = draw(st.booleans())
    return dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3))) + sizes, mode=mode, kwargs=kwargs,
                seed=draw(st.integers(0, 999)))


@given(case=interpolate_cases())
def test_interpolate_matches_torch_on_random_sizes_and_scales(case):
    mode, kwargs = case["mode"], case["kwargs"]
    x = rand(*case["shape"], seed=case["seed"])

    def theirs(a):
        return TF.interpolate(a, mode=mode, **kwargs)
    # gradlab's gradient is always the adjoint of its forward; compare it with PyTorch's only where PyTorch's is too
    exact = torch_backward_is_its_derivative(theirs, x)
    check_against_torch(lambda a: F.interpolate(a, mode=mode, **kwargs), theirs, x, compare_grad=exact)
    if not exact:
        assert gradcheck(lambda a: F.interpolate(a, mode=mode, **kwargs), (gradlab.tensor(x, requires_grad=True),))


@pytest.mark.parametrize("kwargs", [dict(scale_factor=2), dict(scale_factor=3), dict(size=(5, 9)),
                                    dict(scale_factor=(0.5, 1.5)), dict(scale_factor=1.7, recompute_scale_factor=True)])
@pytest.mark.parametrize("mode,align_corners", [("nearest", None), ("bilinear", False), ("bilinear", True)])
def test_interpolate_common_calls_match_torch(kwargs, mode, align_corners):
    check_against_torch(lambda x: F.interpolate(x, mode=mode, align_corners=align_corners, **kwargs),
                        lambda x: TF.interpolate(x, mode=mode, align_corners=align_corners, **kwargs), rand(2, 3, 6, 4))


def test_interpolate_float32_matches_torch():
    x = rand(2, 3, 5, 7).astype(np.float32)
    out = check_against_torch(lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"),
                              lambda x: TF.interpolate(x, scale_factor=2, mode="bilinear"), x, rtol=1e-5, atol=1e-6)
    assert out.dtype == gradlab.float32


@pytest.mark.parametrize("mode,shape", [("nearest", (1, 2, 3, 4)), ("bilinear", (1, 2, 3, 4)), ("linear", (2, 2, 5)),
                                        ("bicubic", (1, 1, 3, 4)), ("area", (1, 2, 5, 4))])
def test_interpolate_gradcheck_and_gradgradcheck(mode, shape):
    x = gradlab.tensor(rand(*shape), requires_grad=True)

    def resize(x):
        return F.interpolate(x, scale_factor=0.7 if mode == "area" else 1.5, mode=mode)
    assert gradcheck(resize, (x,))
    assert gradgradcheck(resize, (x,))


def _error(lib_F, call):
    try:
        call(lib_F)
    except Exception as error:  # noqa: BLE001 - the type is compared below
        return type(error), str(error)
    return None


@pytest.mark.parametrize("call", [
    lambda F_, lib: F_.interpolate(lib.zeros(2, 3, 5, 5)),
    lambda F_, lib: F_.interpolate(lib.zeros(2, 3, 5, 5), size=3, scale_factor=2),
    lambda F_, lib: F_.interpolate(lib.zeros(2, 3, 5, 5), size=3, align_corners=True),
    lambda F_, lib: F_.interpolate(lib.zeros(2, 3, 5, 5), size=3, mode="linear"),
    lambda F_, lib: F_.interpolate(lib.zeros(2, 3, 5), size=3, mode="bilinear"),
    lambda F_, lib: F_.interpolate(lib.zeros(2, 3, 5, 5), size=3, mode="foo"),
    lambda F_, lib: F_.interpolate(lib.zeros(2, 3, 5, 5), scale_factor=(2, 3, 4)),
    lambda F_, lib: F_.interpolate(lib.zeros(5, 5), scale_factor=2),
    lambda F_, lib: F_.pixel_shuffle(lib.zeros(5, 2, 2), 2),
    lambda F_, lib: F_.pixel_shuffle(lib.zeros(2, 2), 2),
    lambda F_, lib: F_.pixel_unshuffle(lib.zeros(1, 5, 4), 2),
])
def test_errors_match_torch(call):
    theirs = _error(TF, lambda F_: call(F_, torch))
    ours = _error(F, lambda F_: call(F_, gradlab))
    assert theirs is not None and ours is not None
    assert ours[0] is theirs[0] and theirs[1] in ours[1], (ours, theirs)


def test_interpolate_modes_gradlab_lacks_say_so():
    with pytest.raises(NotImplementedError, match="trilinear"):
        F.interpolate(gradlab.zeros(1, 1, 2, 2, 2), scale_factor=2, mode="trilinear")
    with pytest.raises(NotImplementedError, match="antialias"):
        F.interpolate(gradlab.zeros(1, 1, 4, 4), scale_factor=0.5, mode="bilinear", antialias=True)


# ---- Upsample modules -------------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", [
    ("Upsample", dict(scale_factor=2)), ("Upsample", dict(size=(3, 7), mode="bilinear", align_corners=True)),
    ("Upsample", dict(scale_factor=(1.5, 2), mode="bilinear")), ("UpsamplingNearest2d", dict(scale_factor=2)),
    ("UpsamplingBilinear2d", dict(size=(6, 5))),
])
def test_upsample_modules_match_torch(name, kwargs):
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    check_against_torch(ours, theirs, rand(2, 3, 4, 5))


def test_deprecated_upsample_functions_warn_and_match_torch():
    for name in ("upsample", "upsample_bilinear", "upsample_nearest"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_against_torch(lambda x: getattr(F, name)(x, scale_factor=2),
                                lambda x: getattr(TF, name)(x, scale_factor=2), rand(1, 2, 3, 3))
        assert any("deprecated" in str(w.message) for w in caught)


# ---- pixel shuffle ----------------------------------------------------------------------------
@given(r=st.integers(1, 3), batch=st.lists(st.integers(1, 2), max_size=2), c=st.integers(1, 3), h=st.integers(1, 3),
       w=st.integers(1, 3), seed=st.integers(0, 99))
def test_pixel_shuffle_and_unshuffle_match_torch(r, batch, c, h, w, seed):
    x = rand(*batch, c * r * r, h, w, seed=seed)
    out = check_against_torch(lambda a: F.pixel_shuffle(a, r), lambda a: TF.pixel_shuffle(a, r), x)
    check_against_torch(lambda a: F.pixel_unshuffle(a, r), lambda a: TF.pixel_unshuffle(a, r), out._data)
    np.testing.assert_array_equal(F.pixel_unshuffle(out, r)._data, x)


def test_pixel_shuffle_gradcheck_and_modules():
    x = gradlab.tensor(rand(1, 8, 2, 3), requires_grad=True)
    assert gradgradcheck(lambda a: F.pixel_shuffle(a, 2), (x,))
    assert gradgradcheck(lambda a: F.pixel_unshuffle(a, 2), (gradlab.tensor(rand(2, 4, 6), requires_grad=True),))
    for ours, theirs, shape in ((nn.PixelShuffle(2), torch.nn.PixelShuffle(2), (1, 8, 2, 3)),
                                (nn.PixelUnshuffle(2), torch.nn.PixelUnshuffle(2), (1, 2, 4, 6))):
        assert repr(ours) == repr(theirs)
        check_against_torch(ours, theirs, rand(*shape))


def test_nearest_copies_uint8_images_and_other_modes_refuse_integers():
    image = np.arange(12, dtype=np.uint8).reshape(1, 1, 3, 4)
    out = F.interpolate(gradlab.tensor(image), scale_factor=2)
    assert out.dtype == gradlab.uint8
    np.testing.assert_array_equal(out._data, TF.interpolate(torch.tensor(image), scale_factor=2).numpy())
    with pytest.raises(NotImplementedError, match="bilinear"):
        F.interpolate(gradlab.tensor(image), scale_factor=2, mode="bilinear")


@pytest.mark.parametrize("mode,shape", [("nearest", (1, 2, 3)), ("nearest", (1, 2, 2, 3)), ("linear", (1, 2, 3)),
                                        ("bilinear", (1, 2, 2, 3))])
@pytest.mark.parametrize("scale", [1.25, 1.4, 2.2, 2.4, (1.25, 2.5)])
def test_pytorchs_shortcuts_for_unchanged_and_doubled_sizes(mode, shape, scale):
    """A scale that rounds to the same (or, for 2-D nearest, twice the) size copies (or repeats) that axis."""
    if isinstance(scale, tuple) and len(shape) == 3:
        scale = scale[0]
    theirs = lambda x: TF.interpolate(x, scale_factor=scale, mode=mode)  # noqa: E731
    check_against_torch(lambda x: F.interpolate(x, scale_factor=scale, mode=mode), theirs, rand(*shape),
                        compare_grad=torch_backward_is_its_derivative(theirs, rand(*shape)))


@pytest.mark.parametrize("mode,shape,scale", [("nearest", (1, 1, 2), 1.25), ("nearest", (1, 1, 3), 2.2),
                                              ("bicubic", (1, 1, 2, 3), 1.25)])
def test_where_pytorchs_backward_is_not_its_derivative_gradlab_follows_the_forward(mode, shape, scale):
    """PyTorch's backward kernels copy an unchanged axis (and, 1-D nearest, repeat a doubled one) where its
    forward kernels interpolate; PyTorch fails its own gradcheck there.  gradlab's gradient is the adjoint of
    the forward both share.  If PyTorch's kernels come to agree, this test says so."""
    x = rand(*shape)
    theirs = lambda a: TF.interpolate(a, scale_factor=scale, mode=mode)  # noqa: E731
    assert not torch_backward_is_its_derivative(theirs, x)
    check_against_torch(lambda a: F.interpolate(a, scale_factor=scale, mode=mode), theirs, x, compare_grad=False)
    x_ours = gradlab.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: F.interpolate(a, scale_factor=scale, mode=mode), (x_ours,))


@settings(max_examples=20, deadline=None)
@given(groups=st.integers(1, 4), per_group=st.integers(1, 3), rest=st.lists(st.integers(1, 3), min_size=1, max_size=2),
       seed=seeds())
def test_channel_shuffle_matches_torch(groups, per_group, rest, seed):
    g, t = pair(np.random.default_rng(seed).standard_normal((2, groups * per_group, *rest)))
    gout, tout = gradlab.nn.ChannelShuffle(groups)(g), torch.nn.ChannelShuffle(groups)(t)
    assert_same(gout, tout)
    assert gout.grad_fn.name() == type(tout.grad_fn).__name__ == "ChannelShuffleBackward0"
    backward_both(gout, tout, seed)
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy())


def test_channel_shuffle_gradchecks_repr_and_errors():
    x = gradlab.randn(2, 6, 3, dtype=gradlab.float64, requires_grad=True)
    assert gradcheck(lambda t: F.channel_shuffle(t, 3), (x,))
    assert gradgradcheck(lambda t: F.channel_shuffle(t, 2) ** 2, (x,))
    assert repr(gradlab.nn.ChannelShuffle(3)) == repr(torch.nn.ChannelShuffle(3))
    with pytest.raises(RuntimeError, match="Got 6 channels and 4 groups"):
        F.channel_shuffle(x, 4)
    with pytest.raises(RuntimeError, match="> 2 dims"):
        F.channel_shuffle(x[0, 0], 3)
