"""Bilinear, MaxUnpool1d/2d, LPPool1d/2d, ChannelShuffle, AlphaDropout, FeatureAlphaDropout and EmbeddingBag:
values, gradients and grad_fn names against PyTorch over random shapes, float64 gradcheck and
gradgradcheck, reprs, default initialisation and errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F
from gradlab.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def pair(array, requires_grad=True):
    """The same float64 values as a gradlab and a PyTorch tensor."""
    return (gradlab.tensor(array, requires_grad=requires_grad), torch.tensor(array, requires_grad=requires_grad))


def assert_same(g, t, **tol):
    np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12, **tol)


def backward_both(gout, tout, seed=0):
    """Backpropagate the same random output gradient through both libraries."""
    w = np.random.default_rng(seed).standard_normal(tuple(tout.shape))
    gout.backward(gradlab.tensor(w))
    tout.backward(torch.tensor(w))


def seeds():
    return st.integers(0, 2 ** 16)


# ---- Bilinear -----------------------------------------------------------------------------------
def test_bilinear_repr_init_and_grad_fn():
    layer = gradlab.nn.Bilinear(3, 4, 5)
    assert repr(layer) == repr(torch.nn.Bilinear(3, 4, 5))
    assert repr(gradlab.nn.Bilinear(2, 2, 1, bias=False)) == repr(torch.nn.Bilinear(2, 2, 1, bias=False))
    assert layer.weight.shape == (5, 3, 4) and layer.bias.shape == (5,)
    bound = 1 / np.sqrt(3)
    big = gradlab.nn.Bilinear(3, 40, 50)  # many draws: they fill U(-1/sqrt(in1), 1/sqrt(in1))
    for p in (big.weight, big.bias):
        assert p.abs().max().item() <= bound and p.abs().max().item() > 0.9 * bound
    with pytest.raises(ValueError, match="in1_features must be > 0"):
        gradlab.nn.Bilinear(0, 2, 2)


@settings(max_examples=15, deadline=None)
@given(batch=st.lists(st.integers(1, 3), max_size=2), in1=st.integers(1, 4), in2=st.integers(1, 4),
       out=st.integers(1, 3), bias=st.booleans(), seed=seeds())
def test_bilinear_matches_torch(batch, in1, in2, out, bias, seed):
    rng = np.random.default_rng(seed)
    gl_layer = gradlab.nn.Bilinear(in1, in2, out, bias=bias, dtype=gradlab.float64)
    t_layer = torch.nn.Bilinear(in1, in2, out, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        t_layer.weight.copy_(torch.tensor(gl_layer.weight.detach().numpy()))
        if bias:
            t_layer.bias.copy_(torch.tensor(gl_layer.bias.detach().numpy()))
    g1, t1 = pair(rng.standard_normal((*batch, in1)))
    g2, t2 = pair(rng.standard_normal((*batch, in2)))
    gout, tout = gl_layer(g1, g2), t_layer(t1, t2)
    assert_same(gout, tout)
    backward_both(gout, tout, seed)
    for a, b in [(g1.grad, t1.grad), (g2.grad, t2.grad), (gl_layer.weight.grad, t_layer.weight.grad)]:
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


# ---- MaxUnpool ----------------------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(2, 7), w=st.integers(2, 7),
       k=st.integers(1, 3), s=st.integers(1, 3), pad=st.integers(0, 1), seed=seeds())
def test_max_unpool2d_matches_torch(n, c, h, w, k, s, pad, seed):
    pad = min(pad, k // 2)
    if (h + 2 * pad - k) < 0 or (w + 2 * pad - k) < 0:
        return
    g, t = pair(np.random.default_rng(seed).standard_normal((n, c, h, w)))
    gp, gi = F.max_pool2d(g, k, s, pad, return_indices=True)
    tp, ti = TF.max_pool2d(t, k, s, pad, return_indices=True)
    try:
        TF.max_unpool2d(tp, ti, k, s, pad)
    except RuntimeError:  # a stride above the kernel can leave a maximum outside the default size
        with pytest.raises(RuntimeError, match="Found an invalid max index"):
            F.max_unpool2d(gp, gi, k, s, pad)
        return
    for size in (None, (n, c, h, w)):
        if size is not None and not all(abs(d - ((o - 1) * s + k - 2 * pad)) < s for d, o in
                                        zip((h, w), tp.shape[2:])):
            continue  # (an output_size more than a stride from the default is an error; tested below)
        layer = gradlab.nn.MaxUnpool2d(k, s, pad)
        gout, tout = layer(gp, gi, size), torch.nn.MaxUnpool2d(k, s, pad)(tp, ti, size)
        assert gout.shape == tout.shape
        assert_same(gout, tout)
        assert gout.grad_fn.name() == type(tout.grad_fn).__name__ == "MaxUnpool2DBackward0"
    g.grad = None
    t.grad = None
    backward_both(F.max_unpool2d(gp, gi, k, s, pad), TF.max_unpool2d(tp, ti, k, s, pad), seed)
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(batched=st.booleans(), c=st.integers(1, 3), length=st.integers(3, 9), k=st.integers(2, 3),
       s=st.integers(1, 3), seed=seeds())
def test_max_unpool1d_matches_torch(batched, c, length, k, s, seed):
    shape = (2, c, length) if batched else (c, length)
    g, t = pair(np.random.default_rng(seed).standard_normal(shape))
    gp, gi = F.max_pool1d(g, k, s, return_indices=True)
    tp, ti = TF.max_pool1d(t, k, s, return_indices=True)
    gout, tout = gradlab.nn.MaxUnpool1d(k, s)(gp, gi), torch.nn.MaxUnpool1d(k, s)(tp, ti)
    assert_same(gout, tout)
    assert gout.grad_fn.name() == type(tout.grad_fn).__name__
    backward_both(gout, tout, seed)
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_max_unpool_gradchecks_reprs_and_errors():
    x = gradlab.randn(1, 2, 4, 4, dtype=gradlab.float64)
    pooled, idx = F.max_pool2d(x, 2, return_indices=True)
    pooled = pooled.detach().requires_grad_()
    assert gradcheck(lambda p: F.max_unpool2d(p, idx, 2), (pooled,))
    assert gradgradcheck(lambda p: F.max_unpool2d(p, idx, 2) ** 2, (pooled,))
    for args in [(2,), (3, 2, 1), ((2, 3), 1)]:
        assert repr(gradlab.nn.MaxUnpool2d(*args)) == repr(torch.nn.MaxUnpool2d(*args))
    for args in [(2,), (3, 2, 1), ((3,), (1,))]:
        assert repr(gradlab.nn.MaxUnpool1d(*args)) == repr(torch.nn.MaxUnpool1d(*args))
    with pytest.raises(ValueError, match=r'invalid output_size "\[7, 7\]" \(dim 0 must be between 2 and 6\)'):
        F.max_unpool2d(pooled, idx, 2, output_size=[7, 7])
    with pytest.raises(ValueError, match="2 or 4 elements"):
        F.max_unpool2d(pooled, idx, 2, output_size=[4])
    with pytest.raises(RuntimeError, match="invalid max index"):
        F.max_unpool2d(pooled, idx + 100, 2)


# ---- LPPool -------------------------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(p=st.sampled_from([1.0, 2.0, 3.0, 1.5, float("inf")]), h=st.integers(2, 6), w=st.integers(3, 6),
       k=st.integers(1, 2), stride=st.sampled_from([None, 1, 2]), ceil_mode=st.booleans(), seed=seeds())
def test_lp_pool_matches_torch(p, h, w, k, stride, ceil_mode, seed):
    # inputs kept positive and off 0, where |x|^p with fractional p has an infinite slope
    x = np.random.default_rng(seed).uniform(0.5, 2.0, (2, 2, h, w))
    g, t = pair(x)
    gout = gradlab.nn.LPPool2d(p, k, stride, ceil_mode)(g)
    tout = torch.nn.LPPool2d(p, k, stride, ceil_mode)(t)
    assert_same(gout, tout, equal_nan=True)
    assert gout.grad_fn.name() == type(tout.grad_fn).__name__
    backward_both(gout, tout, seed)
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)
    g1, t1 = pair(x[0])
    gout = gradlab.nn.LPPool1d(p, k + 1, stride, ceil_mode)(g1)
    tout = torch.nn.LPPool1d(p, k + 1, stride, ceil_mode)(t1)
    assert_same(gout, tout, equal_nan=True)
    backward_both(gout, tout, seed)
    np.testing.assert_allclose(g1.grad.numpy(), t1.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_lp_pool_gradcheck_and_repr():
    x = gradlab.tensor(np.random.default_rng(1).uniform(0.5, 2.0, (1, 1, 4, 4)), requires_grad=True)
    assert gradcheck(lambda t: F.lp_pool2d(t, 2.0, 2), (x,))
    assert gradgradcheck(lambda t: F.lp_pool1d(t[0], 3.0, 2, 1), (x,))
    for args in [(2, 3), (1.5, (2, 3), 2, True)]:
        assert repr(gradlab.nn.LPPool2d(*args)) == repr(torch.nn.LPPool2d(*args))
        assert repr(gradlab.nn.LPPool1d(*args)) == repr(torch.nn.LPPool1d(*args))


# ---- ChannelShuffle -----------------------------------------------------------------------------
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


# ---- AlphaDropout -------------------------------------------------------------------------------
@pytest.mark.parametrize("feature", [False, True])
@pytest.mark.parametrize("p", [0.1, 0.5])
def test_alpha_dropout_keeps_mean_and_variance(feature, p):
    """On a zero-mean unit-variance input the output's mean stays 0 and its variance 1 (as PyTorch's)."""
    gradlab.manual_seed(0)
    x = gradlab.randn(400, 50, 10, dtype=gradlab.float64)
    fn = F.feature_alpha_dropout if feature else F.alpha_dropout
    y = fn(x, p, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    # each element is either kept (a * x + b_keep) or dropped (the constant b_drop)
    alpha = 1.7580993408473766
    a = 1 / np.sqrt((alpha ** 2 * p + 1) * (1 - p))
    dropped = y == (0.0 - 1) * (alpha * a) + alpha * a * p  # (a kept value lands there with probability 0)
    assert abs(dropped.mean() - p) < 0.02
    np.testing.assert_allclose(y[~dropped], a * x.numpy()[~dropped] + alpha * a * p, rtol=1e-12, atol=1e-12)
    if feature:  # each (sample, channel) map dropped whole
        assert np.all(dropped.all(axis=2) | ~dropped.any(axis=2))


def test_alpha_dropout_modes_grad_fn_and_layers():
    x = gradlab.randn(4, 3, requires_grad=True)
    tx = torch.randn(4, 3, requires_grad=True)
    for fn, tfn in [(F.alpha_dropout, TF.alpha_dropout), (F.feature_alpha_dropout, TF.feature_alpha_dropout)]:
        assert fn(x, 0.5) is x  # training defaults to False: the identity
        assert fn(x, 0.0, training=True) is x
        assert fn(x, 0.5, True).grad_fn.name() == type(tfn(tx, 0.5, True).grad_fn).__name__ == "AddBackward0"
        out = fn(x, 1.0, True)
        assert out.grad_fn.name() == type(tfn(tx, 1.0, True).grad_fn).__name__ and not out.detach().numpy().any()
        with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
            fn(x, 1.5, True)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        F.feature_alpha_dropout(gradlab.randn(5), 0.5, True)
    layer = gradlab.nn.AlphaDropout(0.3)
    assert repr(layer) == repr(torch.nn.AlphaDropout(0.3))
    assert repr(gradlab.nn.FeatureAlphaDropout(0.2, True)) == repr(torch.nn.FeatureAlphaDropout(0.2, True))
    layer.eval()
    assert layer(x) is x
    y = gradlab.ones(3, 4)
    gradlab.nn.AlphaDropout(0.5, inplace=True)(y)
    assert not np.all(y.numpy() == 1)
    # the gradient is the kept-unit scale a where kept, 0 where dropped
    g = gradlab.randn(50, dtype=gradlab.float64, requires_grad=True)
    out = F.alpha_dropout(g, 0.4, True)
    out.sum().backward()
    a = 1 / np.sqrt((1.7580993408473766 ** 2 * 0.4 + 1) * 0.6)
    assert set(np.round(g.grad.numpy(), 12)) <= {0.0, round(a, 12)}


# ---- EmbeddingBag -------------------------------------------------------------------------------
@st.composite
def bags(draw):
    """Indices into a (rows, dim) table, as 1-D input with offsets (empty bags allowed) or 2-D input."""
    rows = draw(st.integers(2, 6))
    if draw(st.booleans()):
        lengths = draw(st.lists(st.integers(0, 4), min_size=1, max_size=4))
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        idx = np.array(draw(st.lists(st.integers(0, rows - 1), min_size=sum(lengths), max_size=sum(lengths))),
                       dtype=np.int64)
    else:
        b, n = draw(st.integers(1, 3)), draw(st.integers(1, 4))
        idx = np.array(draw(st.lists(st.integers(0, rows - 1), min_size=b * n, max_size=b * n)),
                       dtype=np.int64).reshape(b, n)
        offsets = None
    return rows, idx, offsets


@settings(max_examples=40, deadline=None)
@given(layout=bags(), mode=st.sampled_from(["sum", "mean", "max"]), weighted=st.booleans(),
       use_padding=st.booleans(), last_offset=st.booleans(), seed=seeds())
def test_embedding_bag_matches_torch(layout, mode, weighted, use_padding, last_offset, seed):
    rows, idx, offsets = layout
    rng = np.random.default_rng(seed)
    gw, tw = pair(rng.standard_normal((rows, 3)))
    kwargs = {"mode": mode, "padding_idx": 1 if use_padding else None}
    g_off = t_off = None
    if offsets is not None:
        if last_offset:  # offsets then end with the input's length
            offsets = np.append(offsets, len(idx))
            kwargs["include_last_offset"] = True
        g_off, t_off = gradlab.tensor(offsets), torch.tensor(offsets)
    g_psw = t_psw = None
    if weighted and mode == "sum":
        g_psw, t_psw = pair(rng.uniform(0.5, 2.0, idx.shape))
    gout = F.embedding_bag(gradlab.tensor(idx), gw, g_off, per_sample_weights=g_psw, **kwargs)
    tout = TF.embedding_bag(torch.tensor(idx), tw, t_off, per_sample_weights=t_psw, **kwargs)
    assert_same(gout, tout)
    assert gout.grad_fn.name() == type(tout.grad_fn).__name__ == "EmbeddingBagBackward0"
    backward_both(gout, tout, seed)
    np.testing.assert_allclose(gw.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-12)
    if g_psw is not None:
        np.testing.assert_allclose(g_psw.grad.numpy(), t_psw.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_embedding_bag_gradchecks():
    idx, offsets = gradlab.tensor([0, 2, 2, 3, 1]), gradlab.tensor([0, 2, 2])
    w = gradlab.randn(4, 3, dtype=gradlab.float64, requires_grad=True)
    psw = gradlab.rand(5, dtype=gradlab.float64, requires_grad=True)
    for mode in ("sum", "mean", "max"):
        assert gradcheck(lambda t: F.embedding_bag(idx, t, offsets, mode=mode), (w,))
    weighted = lambda t, s: F.embedding_bag(idx, t, offsets, mode="sum", per_sample_weights=s) ** 2  # noqa: E731
    assert gradcheck(weighted, (w, psw))
    assert gradgradcheck(weighted, (w, psw))


def test_embedding_bag_layer_repr_init_and_errors():
    for kwargs in [{}, {"mode": "sum", "padding_idx": 2, "max_norm": 1.0}, {"norm_type": 1.0, "mode": "max"}]:
        assert repr(gradlab.nn.EmbeddingBag(10, 3, **kwargs)) == repr(torch.nn.EmbeddingBag(10, 3, **kwargs))
    gradlab.manual_seed(0)
    layer = gradlab.nn.EmbeddingBag(400, 50, padding_idx=-1)  # N(0, 1) init, padding row zeroed
    assert layer.padding_idx == 399 and not layer.weight[399].detach().numpy().any()
    w = layer.weight.detach().numpy()[:399]
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02
    out = layer(gradlab.tensor([[1, 399, 2]]))
    np.testing.assert_allclose(out.detach().numpy()[0], (w[1] + w[2]) / 2)  # mean over the non-padding entries
    pre = gradlab.nn.EmbeddingBag.from_pretrained(gradlab.ones(3, 2), mode="sum")
    assert not pre.weight.requires_grad and pre(gradlab.tensor([[0, 1, 2]])).tolist() == [[3.0, 3.0]]
    idx, w = gradlab.tensor([1, 2, 3]), gradlab.randn(5, 2)
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        F.embedding_bag(idx, w, gradlab.tensor([0]), mode="mean", per_sample_weights=gradlab.ones(3))
    with pytest.raises(ValueError, match="offsets has to be None"):
        F.embedding_bag(idx.view(1, 3), w, gradlab.tensor([0]))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor"):
        F.embedding_bag(idx, w)
    with pytest.raises(RuntimeError, match="offsets\\[0\\] has to be 0"):
        F.embedding_bag(idx, w, gradlab.tensor([1]))
    with pytest.raises(IndexError, match="index out of range"):
        F.embedding_bag(gradlab.tensor([7]), w, gradlab.tensor([0]))
    with pytest.raises(ValueError, match="max mode does not support"):
        F.embedding_bag(idx, w, gradlab.tensor([0]), mode="max", scale_grad_by_freq=True)


# ---- ConstantPad3d / ZeroPad3d ------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(padding=st.one_of(st.integers(0, 2), st.tuples(*[st.integers(0, 2)] * 6)), batched=st.booleans(),
       value=st.floats(-3, 3), seed=seeds())
def test_pad3d_layers_match_torch(padding, batched, value, seed):
    shape = (2, 1, 2, 3, 2) if batched else (1, 2, 3, 2)
    g, t = pair(np.random.default_rng(seed).standard_normal(shape))
    for gl_layer, t_layer in [(gradlab.nn.ConstantPad3d(padding, value), torch.nn.ConstantPad3d(padding, value)),
                              (gradlab.nn.ZeroPad3d(padding), torch.nn.ZeroPad3d(padding))]:
        assert repr(gl_layer) == repr(t_layer)
        gout, tout = gl_layer(g), t_layer(t)
        assert_same(gout, tout)
        assert gout.grad_fn.name() == type(tout.grad_fn).__name__
        g.grad = None
        t.grad = None
        backward_both(gout, tout, seed)
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy())
