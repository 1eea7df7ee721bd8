"""nn.functional: activations, softmax, linear, dropout, batch_norm, embedding, pad, against torch and gradcheck."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F
from gradlab.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def both(array, requires_grad=True):
    """The same values as a gradlab and a torch tensor."""
    array = np.asarray(array)
    rg = requires_grad and array.dtype.kind == "f"
    return gradlab.tensor(array.copy(), requires_grad=rg), torch.tensor(array.copy(), requires_grad=rg)


def assert_close(ours, theirs, rtol=1e-6, atol=1e-7):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    ours = ours._data if hasattr(ours, "_data") else np.asarray(ours)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def check_against_torch(ours_fn, torch_fn, *arrays, rtol=1e-6, atol=1e-7, seed=0):
    """Forward values and input gradients (for a random output gradient) equal torch's."""
    pairs = [both(a) for a in arrays]
    out = ours_fn(*[p[0] for p in pairs])
    ref = torch_fn(*[p[1] for p in pairs])
    assert_close(out, ref, rtol, atol)
    upstream = np.random.default_rng(seed).standard_normal(tuple(ref.shape)).astype(np.asarray(arrays[0]).dtype)
    out.backward(gradlab.tensor(upstream))
    ref.backward(torch.tensor(upstream))
    for (g, t) in pairs:
        if t.requires_grad:
            assert_close(g.grad, t.grad, rtol, atol)
    return out


def f64(*shape, seed=0, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


small_shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)


# ---- activations ------------------------------------------------------------------------------
ACTIVATIONS = [
    ("relu", lambda x: F.relu(x), lambda x: TF.relu(x)),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    ("elu", lambda x: F.elu(x, 0.7), lambda x: TF.elu(x, 0.7)),
    ("silu", F.silu, TF.silu),
    ("gelu", F.gelu, TF.gelu),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    ("sigmoid", F.sigmoid, torch.sigmoid),
    ("tanh", F.tanh, torch.tanh),
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 0.7), lambda x: TF.hardtanh(x, -0.5, 0.7)),
    ("relu6", lambda x: F.relu6(x * 4), lambda x: TF.relu6(x * 4)),
    ("softplus", lambda x: F.softplus(x, 2.0, 3.0), lambda x: TF.softplus(x, 2.0, 3.0)),
    ("softmax", lambda x: F.softmax(x, -1), lambda x: TF.softmax(x, -1)),
    ("log_softmax", lambda x: F.log_softmax(x, 0), lambda x: TF.log_softmax(x, 0)),
]
SMOOTH = {"silu", "gelu", "gelu_tanh", "sigmoid", "tanh", "softmax", "log_softmax", "softplus"}


@pytest.mark.parametrize("name,ours,theirs", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_matches_torch(name, ours, theirs):
    x = f64(3, 5, scale=2.0)
    check_against_torch(ours, theirs, x)
    check_against_torch(ours, theirs, x.astype(np.float32), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,ours,theirs", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_gradcheck(name, ours, theirs):
    x = gradlab.tensor(f64(2, 4, seed=1, scale=2.0) + 0.05, requires_grad=True)  # away from kinks at 0
    assert gradcheck(ours, (x,))
    if name in SMOOTH:
        assert gradgradcheck(ours, (x,))


@given(shape=small_shapes, seed=st.integers(0, 2 ** 16))
def test_activations_on_random_shapes(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape) * 3
    for _, ours, theirs in ACTIVATIONS:
        check_against_torch(ours, theirs, x, seed=seed)


def test_activation_grad_fn_names():
    x = gradlab.randn(3, 4, requires_grad=True)
    assert F.log_softmax(x, 1).grad_fn.name() == "LogSoftmaxBackward0"
    assert F.softmax(x, 1).grad_fn.name() == "SoftmaxBackward0"
    assert F.gelu(x).grad_fn.name() == "GeluBackward0"
    assert F.leaky_relu(x).grad_fn.name() == "LeakyReluBackward0"
    assert F.relu(x).grad_fn.name() == "ReluBackward0"


def test_inplace_activations_modify_their_input():
    for fn, tfn in [(F.relu, TF.relu), (lambda x, inplace: F.leaky_relu(x, 0.3, inplace),
                                        lambda x, inplace: TF.leaky_relu(x, 0.3, inplace)),
                    (lambda x, inplace: F.elu(x, 1.0, inplace), lambda x, inplace: TF.elu(x, 1.0, inplace))]:
        a = f64(4, 3)
        g, t = both(a, requires_grad=False)
        out = fn(g, inplace=True)
        tfn(t, inplace=True)
        assert out is g
        assert_close(g, t)
        # on a non-leaf in the graph, gradients flow through the in-place op
        g, t = both(a)
        yg, yt = g * 2, t * 2
        fn(yg, inplace=True).sum().backward()
        tfn(yt, inplace=True).sum().backward()
        assert_close(g.grad, t.grad)


@pytest.mark.parametrize("fn", [F.relu, lambda x: F.softmax(x, 1), lambda x: F.log_softmax(x, 1), F.elu])
def test_modifying_a_saved_output_in_place_is_caught(fn):
    x = gradlab.randn(2, 3, requires_grad=True)
    y = fn(x)
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_softmax_default_dim_warns_and_follows_torch():
    for shape in [(5,), (2, 5), (2, 3, 4), (2, 3, 4, 5)]:
        a = f64(*shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = TF.softmax(torch.tensor(a))
        with pytest.warns(UserWarning, match="Implicit dimension"):
            out = F.softmax(gradlab.tensor(a))
        assert_close(out, ref)


@pytest.mark.parametrize("value", [1e4, -1e4, 1e30])
def test_softmax_and_log_softmax_are_stable_at_large_logits(value):
    a = np.array([[value, 0.0, -value], [value, value, 0.0]], dtype=np.float32)
    for ours, theirs in [(F.softmax, TF.softmax), (F.log_softmax, TF.log_softmax)]:
        out = check_against_torch(lambda x: ours(x, 1), lambda x: theirs(x, 1), a)
        assert np.isfinite(out._data).all()


def test_softmax_dtype_argument_casts_first():
    g, t = both(f64(2, 3).astype(np.float32), requires_grad=False)
    assert_close(F.softmax(g, 1, dtype=gradlab.float64), TF.softmax(t, 1, dtype=torch.float64))


def test_softmax_of_integers_is_an_error():
    with pytest.raises(RuntimeError, match="floating"):
        F.softmax(gradlab.tensor([1, 2, 3]), 0)


# ---- linear -----------------------------------------------------------------------------------
@given(batch=st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple), n_in=st.integers(1, 5),
       n_out=st.integers(1, 5), bias=st.booleans(), seed=st.integers(0, 1000))
def test_linear_matches_torch(batch, n_in, n_out, bias, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(batch + (n_in,)), rng.standard_normal((n_out, n_in))]
    if bias:
        arrays.append(rng.standard_normal(n_out))
    check_against_torch(F.linear, TF.linear, *arrays, seed=seed)


def test_linear_gradcheck_and_gradgradcheck():
    x, w, b = (gradlab.tensor(f64(*s, seed=i), requires_grad=True) for i, s in enumerate([(3, 4), (2, 4), (2,)]))
    assert gradcheck(F.linear, (x, w, b))
    assert gradgradcheck(F.linear, (x, w, b))
    assert F.linear(x, w, b).grad_fn.name() == "AddmmBackward0"


def test_linear_computes_only_needed_gradients():
    x = gradlab.randn(3, 4)
    w = gradlab.randn(2, 4, requires_grad=True)
    F.linear(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (2, 4)


def test_linear_errors_name_the_shapes():
    with pytest.raises(RuntimeError, match=r"3x4 and 5x2"):
        F.linear(gradlab.randn(3, 4), gradlab.randn(2, 5))
    with pytest.raises(RuntimeError, match="same dtype"):
        F.linear(gradlab.randn(3, 4).double(), gradlab.randn(2, 4))


# ---- dropout ----------------------------------------------------------------------------------
def test_dropout_scales_survivors_and_gradient_uses_the_same_mask():
    gradlab.manual_seed(0)
    x = gradlab.ones(200, 100, requires_grad=True)
    y = F.dropout(x, 0.3)
    values = np.unique(y._data)
    np.testing.assert_allclose(values, [0.0, 1 / 0.7], rtol=1e-6)
    assert abs((y._data == 0).mean() - 0.3) < 0.02
    y.sum().backward()
    np.testing.assert_array_equal(x.grad._data, y._data)


def test_dropout_identity_cases_and_errors():
    x = gradlab.randn(4, 5)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert (F.dropout(x, 1.0)._data == 0).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)


def test_dropout_is_reproducible_with_manual_seed_and_inplace():
    gradlab.manual_seed(3)
    a = F.dropout(gradlab.ones(10, 10))
    gradlab.manual_seed(3)
    b = gradlab.ones(10, 10)
    assert F.dropout(b, inplace=True) is b
    np.testing.assert_array_equal(a._data, b._data)


def test_dropout2d_zeroes_whole_channels():
    gradlab.manual_seed(0)
    x = gradlab.ones(50, 40, 3, 3, requires_grad=True)
    y = F.dropout2d(x, 0.25)
    per_channel = y._data.reshape(50, 40, 9)
    assert (per_channel.min(axis=2) == per_channel.max(axis=2)).all()  # each map all kept or all zero
    np.testing.assert_allclose(np.unique(per_channel), [0.0, 1 / 0.75], rtol=1e-6)
    assert abs((per_channel[:, :, 0] == 0).mean() - 0.25) < 0.04
    y.sum().backward()
    np.testing.assert_array_equal(x.grad._data, y._data)
    assert F.dropout2d(x, training=False) is x
    with pytest.warns(UserWarning, match="3D input"):
        F.dropout2d(gradlab.ones(2, 3, 4))


# ---- batch_norm -------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 2, 4, 5)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_matches_torch(shape, affine):
    c = shape[1]
    x = f64(*shape, seed=2, scale=3) + 1.5
    w, b = f64(c, seed=3), f64(c, seed=4)
    rm_g, rm_t = both(np.zeros(c), requires_grad=False)
    rv_g, rv_t = both(np.ones(c), requires_grad=False)

    def ours(x, w=None, b=None):
        return F.batch_norm(x, rm_g, rv_g, w, b, training=True, momentum=0.2, eps=1e-3)

    def theirs(x, w=None, b=None):
        return TF.batch_norm(x, rm_t, rv_t, w, b, training=True, momentum=0.2, eps=1e-3)
    arrays = (x, w, b) if affine else (x,)
    check_against_torch(ours, theirs, *arrays, rtol=1e-6, atol=1e-8)
    assert_close(rm_g, rm_t)
    assert_close(rv_g, rv_t)


@given(n=st.integers(2, 5), c=st.integers(1, 4), spatial=st.lists(st.integers(1, 3), max_size=2),
       momentum=st.sampled_from([0.1, 0.5, 1.0]), seed=st.integers(0, 999))
def test_batch_norm_training_on_random_shapes(n, c, spatial, momentum, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, *spatial)) * 2 + 1
    rm_g, rm_t = both(rng.standard_normal(c), requires_grad=False)
    rv_g, rv_t = both(rng.random(c) + 0.5, requires_grad=False)
    check_against_torch(lambda x, w, b: F.batch_norm(x, rm_g, rv_g, w, b, True, momentum),
                        lambda x, w, b: TF.batch_norm(x, rm_t, rv_t, w, b, True, momentum),
                        x, rng.standard_normal(c), rng.standard_normal(c), rtol=1e-6, atol=1e-8, seed=seed)
    assert_close(rm_g, rm_t)
    assert_close(rv_g, rv_t)


def test_batch_norm_eval_uses_running_statistics():
    x, rm, rv, w, b = f64(4, 3, 2), f64(3, seed=1), np.abs(f64(3, seed=2)) + 0.5, f64(3, seed=3), f64(3, seed=4)
    rmg, rmt = both(rm, requires_grad=False)
    rvg, rvt = both(rv, requires_grad=False)
    check_against_torch(lambda x, w, b: F.batch_norm(x, rmg, rvg, w, b, training=False),
                        lambda x, w, b: TF.batch_norm(x, rmt, rvt, w, b, training=False), x, w, b)
    assert_close(rmg, rmt)


def test_batch_norm_gradcheck_and_gradgradcheck():
    x = gradlab.tensor(f64(4, 2, 3, seed=5), requires_grad=True)
    w = gradlab.tensor(f64(2, seed=6), requires_grad=True)
    b = gradlab.tensor(f64(2, seed=7), requires_grad=True)

    def fn(x, w, b):
        return F.batch_norm(x, None, None, w, b, training=True)
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))
    assert fn(x, w, b).grad_fn.name() == "NativeBatchNormBackward0"


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(gradlab.randn(1, 3), None, None, training=True)
    with pytest.raises(RuntimeError, match="running_mean"):
        F.batch_norm(gradlab.randn(4, 3), None, None, training=False)
    with pytest.raises(RuntimeError, match="should contain 3 elements"):
        F.batch_norm(gradlab.randn(4, 3), gradlab.zeros(2), gradlab.ones(3), training=False)


# ---- embedding --------------------------------------------------------------------------------
@pytest.mark.parametrize("padding_idx", [None, 1, -1])
@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
def test_embedding_matches_torch(padding_idx, scale_grad_by_freq):
    idx = np.array([[0, 1, 4], [1, 1, 3]])
    weight = f64(5, 3)
    ig, it = both(idx, requires_grad=False)
    check_against_torch(lambda w: F.embedding(ig, w, padding_idx, scale_grad_by_freq=scale_grad_by_freq),
                        lambda w: TF.embedding(it, w, padding_idx, scale_grad_by_freq=scale_grad_by_freq), weight)


def test_embedding_max_norm_renormalises_the_rows_it_reads():
    idx = np.array([0, 2, 2])
    weight = f64(4, 3, scale=3)
    (ig, it), (wg, wt) = both(idx, False), both(weight, False)
    assert_close(F.embedding(ig, wg, max_norm=1.0), TF.embedding(it, wt, max_norm=1.0), rtol=1e-5)
    assert_close(wg, wt, rtol=1e-5)


def test_embedding_gradcheck_and_errors():
    w = gradlab.tensor(f64(4, 2), requires_grad=True)
    idx = gradlab.tensor([[0, 3], [3, 3]])
    assert gradcheck(lambda w: F.embedding(idx, w, padding_idx=1), (w,))  # padding row unused: exact
    assert gradgradcheck(lambda w: F.embedding(idx, w) * F.embedding(idx, w), (w,))
    with pytest.raises(IndexError, match="out of range"):
        F.embedding(gradlab.tensor([4]), w)
    with pytest.raises(RuntimeError, match="Long, Int"):
        F.embedding(gradlab.tensor([0.0]), w)


# ---- pad, one_hot, normalize ------------------------------------------------------------------
@pytest.mark.parametrize("pads", [(1, 2), (0, 1, 2, 0), (2, 1, 1, 2), (-1, 2, 1, -1), (1, 1, 1, 1, 1, 0)])
def test_constant_pad_matches_torch(pads):
    x = f64(2, 3, 4, 5)
    check_against_torch(lambda t: F.pad(t, pads, value=1.5), lambda t: TF.pad(t, pads, value=1.5), x)
    xg = gradlab.tensor(f64(2, 3, 4), requires_grad=True)
    assert gradgradcheck(lambda t: F.pad(t, pads[:4]), (xg,))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("pads", [(1, 2), (2, 0, 1, 3), (0, 0, 2, 2)])
def test_index_pad_modes_match_torch(mode, pads):
    x = f64(2, 3, 4, 5) if len(pads) == 4 else f64(2, 3, 5)
    check_against_torch(lambda t: F.pad(t, pads, mode=mode), lambda t: TF.pad(t, pads, mode=mode), x)


@pytest.mark.parametrize("shape, pads", [((2, 5), (2, 1)), ((2, 3, 5), (0, 5)), ((1, 1, 4, 4), (1, 1, 1, 1)),
                                         ((1, 2, 3, 4), (3, 0, 2, 1)), ((1, 2, 2, 3, 3), (1, 1, 0, 2, 1, 0))])
def test_circular_pad_is_one_node_with_checked_gradients(shape, pads):
    """One CopySlices node (PyTorch's last node for circular padding) straight from the input."""
    x = gradlab.tensor(f64(*shape), requires_grad=True)
    out = F.pad(x, pads, mode="circular")
    torch_node = TF.pad(torch.zeros(shape, requires_grad=True), pads, mode="circular").grad_fn
    assert out.grad_fn.name() == type(torch_node).__name__ == "CopySlices"
    (leaf, _), = out.grad_fn.next_functions
    assert leaf.name() == "AccumulateGrad" and leaf.variable is x
    check_against_torch(lambda t: F.pad(t, pads, mode="circular"), lambda t: TF.pad(t, pads, mode="circular"),
                        f64(*shape), rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda t: F.pad(t, pads, mode="circular") ** 2, (x,))
    assert gradgradcheck(lambda t: F.pad(t, pads, mode="circular") ** 2, (x,))


def test_pad_errors():
    x = gradlab.randn(1, 2, 3)
    with pytest.raises(ValueError, match="even"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(RuntimeError, match="less than"):
        F.pad(x, (3, 3), mode="reflect")
    with pytest.raises(NotImplementedError, match="mode"):
        F.pad(x, (1, 1), mode="wrap")
    with pytest.raises(NotImplementedError, match="not supported for 4D"):
        F.pad(gradlab.randn(1, 2, 3, 4), (1, 1), mode="replicate")


def test_one_hot_flatten_normalize():
    labels = np.array([[0, 2], [1, 3]])
    lg, lt = both(labels, False)
    assert_close(F.one_hot(lg), TF.one_hot(lt))
    assert_close(F.one_hot(lg, 6), TF.one_hot(lt, 6))
    assert F.flatten(gradlab.zeros(2, 3, 4), 1).shape == (2, 12)
    check_against_torch(lambda t: F.normalize(t, dim=1), lambda t: TF.normalize(t, dim=1), f64(3, 4))


@pytest.mark.parametrize("batch", [(), (3,), (2, 3)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_bilinear_forward_and_gradients_match_torch(batch, with_bias):
    """y_k = x1^T W_k x2 + b_k over any leading dims; the backward of its product used to fail on them."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(batch + (4,)), rng.standard_normal(batch + (5,)), rng.standard_normal((2, 4, 5))]
    arrays += [rng.standard_normal(2)] if with_bias else []
    ours, theirs = zip(*[both(a) for a in arrays])
    out, ref = F.bilinear(*ours), TF.bilinear(*theirs)
    assert_close(out, ref, rtol=1e-10, atol=1e-12)
    upstream = rng.standard_normal(tuple(ref.shape))
    out.backward(gradlab.tensor(upstream))
    ref.backward(torch.tensor(upstream))
    for g, t in zip(ours, theirs):
        assert_close(g.grad, t.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim", [((0, 3), 0), ((0, 3), 1), ((3, 0), 1), ((3, 0), 0)])
def test_softmax_over_an_empty_tensor_matches_torch(name, shape, dim):
    ours, theirs = both(np.zeros(shape))
    assert_close(getattr(F, name)(ours, dim), getattr(TF, name)(theirs, dim))


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_refuses_mixed_dtypes_as_torch(training):
    """A float64 input with float32 statistics raised in PyTorch; gradlab silently computed in float64."""
    for lib, functional in ((torch, TF), (gradlab, F)):
        x = lib.arange(6.0, dtype=lib.float64).reshape(2, 3)
        with pytest.raises(RuntimeError, match="mixed dtype"):
            functional.batch_norm(x, lib.zeros(3), lib.ones(3), lib.ones(3), lib.zeros(3), training=training)
    half = gradlab.arange(6.0, dtype=gradlab.float16).reshape(2, 3)  # float16 with float32 parameters is allowed
    assert F.batch_norm(half, gradlab.zeros(3), gradlab.ones(3), training=training).shape == (2, 3)
