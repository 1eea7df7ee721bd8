"""Conv3d and ConvTranspose3d (2-D convolutions summed over the kernel's depth taps) against PyTorch: outputs
and every gradient on random geometries, float64 gradcheck and gradgradcheck, padding modes, unbatched
inputs, output_size, printout and errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
from gradlab import nn
from gradlab.autograd import gradcheck, gradgradcheck
from gradlab.nn.modules.conv import _conv3d, _conv_transpose3d


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def check_module(name, args, kwargs, shape, forward_kwargs=None, seed=0):
    """gradlab's and torch's layer, same weights (float64): same printout, output and gradients."""
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    ours = getattr(nn, name)(*args, **kwargs).double()
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: gradlab.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = rand(*shape, seed=seed)
    xo, xt = gradlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(xo, **(forward_kwargs or {})), theirs(xt, **(forward_kwargs or {}))
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    upstream = rand(*ref.shape, seed=seed + 1)
    out.backward(gradlab.tensor(upstream))
    ref.backward(torch.tensor(upstream))
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (k, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


@st.composite
def geometries(draw, transposed):
    groups = draw(st.sampled_from([1, 2]))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(3))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(3))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(3))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(3))
    sizes = [draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 6)) for k, d, p in zip(kernel, dilation, padding)]
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, bias=draw(st.booleans()))
    if transposed:
        kwargs["output_padding"] = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
        padding = tuple(min(p, (d * (k - 1)) // 2) for p, d, k in zip(padding, dilation, kernel))
        kwargs["padding"] = padding
    batch = draw(st.sampled_from([(), (2,)]))
    return (2 * groups, 2 * groups, kernel), kwargs, batch + (2 * groups, *sizes)


@given(case=geometries(transposed=False))
def test_conv3d_matches_pytorch(case):
    args, kwargs, shape = case
    check_module("Conv3d", args, kwargs, shape)


@given(case=geometries(transposed=True))
def test_conv_transpose3d_matches_pytorch(case):
    args, kwargs, shape = case
    check_module("ConvTranspose3d", args, kwargs, shape)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's note on its own copy
@pytest.mark.parametrize("kwargs", [dict(padding="same"), dict(padding="valid"),
                                    dict(padding=1, padding_mode="reflect"),
                                    dict(padding=(1, 0, 2), padding_mode="circular"),
                                    dict(padding=1, padding_mode="replicate")])
def test_conv3d_padding_modes_match_pytorch(kwargs):
    check_module("Conv3d", (3, 2, (2, 3, 3)), kwargs, (2, 3, 4, 5, 5))


def test_conv_transpose3d_output_size_matches_pytorch():
    check_module("ConvTranspose3d", (2, 3, 3), dict(stride=2), (1, 2, 3, 4, 2), {"output_size": (8, 9, 6)})


def test_conv3d_and_its_transpose_gradcheck_and_gradgradcheck():
    x = gradlab.tensor(rand(1, 2, 4, 3, 4), requires_grad=True)
    w = gradlab.tensor(rand(4, 1, 2, 2, 2, seed=1), requires_grad=True)  # conv: (out, in / groups, ...)
    wt = gradlab.tensor(rand(2, 2, 2, 1, 2, seed=2), requires_grad=True)  # transposed: (in, out / groups, ...)
    b = gradlab.tensor(rand(4, seed=3), requires_grad=True)

    def conv(x, w, b):
        return _conv3d(x, w, b, (2, 1, 1), (1, 0, 1), (1, 2, 1), 2)

    def transposed(x, w, b):
        return _conv_transpose3d(x, w, b, (2, 1, 2), (0, 1, 0), (1, 0, 0), 2, (1, 1, 1))
    for fn, weight in ((conv, w), (transposed, wt)):
        assert gradcheck(fn, (x, weight, b))
        assert gradgradcheck(fn, (x, weight, b))


def test_conv3d_default_init_and_errors():
    conv = nn.Conv3d(4, 6, 3)
    bound = 1 / np.sqrt(4 * 27)
    assert conv.weight.shape == (6, 4, 3, 3, 3) and np.abs(conv.weight.detach().numpy()).max() <= bound
    with pytest.raises(RuntimeError, match=r"Expected 4D \(unbatched\) or 5D \(batched\) input to conv3d"):
        conv(gradlab.ones(4, 5, 5))
    with pytest.raises(RuntimeError, match="smaller than the kernel's dilated depth 3"):
        conv(gradlab.ones(1, 4, 2, 5, 5))
    with pytest.raises(ValueError, match="kernel_size must be an int or a sequence of 1 or 3 ints"):
        nn.Conv3d(4, 6, (3, 3))
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        nn.ConvTranspose3d(2, 2, 3, output_padding=(1, 0, 0))(gradlab.ones(1, 2, 3, 3, 3))
