"""nn.functional ops that record one node each, as PyTorch: hardtanh/relu6, softplus,
adaptive_avg_pool2d, reflect/replicate padding, unbatched pooling, batch_norm with
running statistics, 4-D nll_loss/cross_entropy and in-place elu/leaky_relu.

For each: the node's name, forward values and gradients against PyTorch (also at
the points where the derivative jumps, which finite differences cannot check),
and float64 gradcheck + gradgradcheck away from those points.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F
from gradlab import kernels
from gradlab.autograd import gradcheck, gradgradcheck

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def lib_f(lib):
    return lib.nn.functional


def run(lib, fn, arrays, grad_out_seed=1):
    """fn(lib, *tensors) on float64 copies of ``arrays``; (output, node name, input gradients).

    The output's gradient is a fixed random array, so every input position is weighed differently.
    """
    tensors = [lib.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = fn(lib, *tensors)
    name = out.grad_fn.name() if lib is gradlab else type(out.grad_fn).__name__
    g = np.random.default_rng(grad_out_seed).uniform(-1, 1, tuple(out.shape))
    out.backward(lib.tensor(g))
    grads = [None if t.grad is None else t.grad.numpy() for t in tensors]
    return out.detach().numpy(), name, grads


def assert_matches_torch(fn, arrays, name=None):
    """Same node name (``name`` when given), output and gradients as PyTorch; returns gradlab's gradients."""
    out, ours, grads = run(gradlab, fn, arrays)
    ref_out, theirs, ref_grads = run(torch, fn, arrays)
    assert ours == theirs, f"gradlab records {ours}, torch {theirs}"
    if name is not None:
        assert ours == name
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-12)
    for g, rg in zip(grads, ref_grads):
        assert (g is None) == (rg is None)
        if g is not None:
            np.testing.assert_allclose(g, rg, rtol=1e-12, atol=1e-12)
    return grads


def assert_gradchecks(fn, arrays):
    """gradcheck and gradgradcheck of fn(gradlab, *tensors) in float64."""
    tensors = [gradlab.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    assert gradcheck(lambda *ts: fn(gradlab, *ts), tensors)
    assert gradgradcheck(lambda *ts: fn(gradlab, *ts), tensors)


def values_away_from(points, shape, seed, low=-3.0, high=3.0, gap=1e-2):
    """Uniform values in [low, high) none of which lies within ``gap`` of a kink in ``points``."""
    x = np.random.default_rng(seed).uniform(low, high, shape)
    for p in points:
        near = np.abs(x - p) < gap
        x[near] = p + np.where(x[near] >= p, gap, -gap)
    return x


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2 ** 16)


# ---- hardtanh / relu6 -------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("fn", [
    lambda lib, x: lib_f(lib).hardtanh(x),
    lambda lib, x: lib_f(lib).hardtanh(x, -0.5, 2.0),
    lambda lib, x: lib_f(lib).relu6(x),
    lambda lib, x: lib.nn.ReLU6()(x),
    lambda lib, x: lib.nn.Hardtanh(-2.0, 1.0)(x),
    lambda lib, x: lib_f(lib).hardtanh(x * 1, -2.0, 1.0, inplace=True),
], ids=["default", "bounds", "relu6", "nn.ReLU6", "nn.Hardtanh", "inplace"])
def test_hardtanh_gradient_is_zero_at_the_bounds_as_torch(fn):
    # every bound of the cases above, exactly, and points on each side
    x = np.array([-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 5.0, 6.0, 7.0])
    grads = assert_matches_torch(fn, [x], "HardtanhBackward0")
    out, _, _ = run(gradlab, fn, [x])
    at_bound = (out == out.min()) | (out == out.max())  # clipped values, and values exactly at a bound
    assert np.all(grads[0][at_bound] == 0)


def test_hardtanh_gradient_by_hand():
    x = gradlab.tensor([-1.0, -0.5, 1.0, 2.0, 6.0], dtype=gradlab.float64, requires_grad=True)
    F.hardtanh(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]  # clamp would give 1 at -1 and at 1
    x.grad = None
    F.relu6(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]  # 0 at 6


def test_hardtanh_checks_its_bounds():
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(gradlab.zeros(3), 1.0, -1.0)


@given(shape=shapes, seed=seeds, bounds=st.sampled_from([(-1.0, 1.0), (0.0, 6.0), (-0.25, 0.5)]))
def test_hardtanh_gradchecks(shape, seed, bounds):
    x = values_away_from(bounds, shape, seed, -2.0, 7.0)
    assert_gradchecks(lambda lib, t: lib_f(lib).hardtanh(t * t, *bounds), [x])


# ---- softplus ---------------------------------------------------------------------------------
softplus_params = st.tuples(st.sampled_from([1.0, 2.0, 0.5, -1.0, -3.0]), st.sampled_from([20.0, 5.0, 1.0, -2.0]))


@needs_torch
@given(shape=shapes, seed=seeds, params=softplus_params)
def test_softplus_matches_torch(shape, seed, params):
    beta, threshold = params
    x = np.random.default_rng(seed).uniform(-30, 30, shape)
    assert_matches_torch(lambda lib, t: lib_f(lib).softplus(t, beta, threshold), [x], "SoftplusBackward0")


@needs_torch
@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 10.0), (-1.0, 20.0), (0.5, 5.0)])
def test_softplus_at_the_threshold_as_torch(beta, threshold):
    # beta * x == threshold exactly stays on the soft side (PyTorch's test is beta * x > threshold)
    x = np.array([threshold / beta, threshold / beta + 1e-6, threshold / beta - 1e-6, 0.0, -40.0, 40.0])
    assert_matches_torch(lambda lib, t: lib_f(lib).softplus(t, beta, threshold), [x])
    assert_matches_torch(lambda lib, t: lib.nn.Softplus(beta, threshold)(t), [x])


@given(shape=shapes, seed=seeds, params=softplus_params)
def test_softplus_gradchecks(shape, seed, params):
    beta, threshold = params
    x = values_away_from([threshold / beta], shape, seed, -4.0, 4.0)
    assert_gradchecks(lambda lib, t: lib_f(lib).softplus(t, beta, threshold), [x])


# ---- adaptive_avg_pool2d ----------------------------------------------------------------------
pool_inputs = st.tuples(st.sampled_from([(), (1,), (2,)]), st.integers(1, 3), st.integers(1, 7), st.integers(1, 7))


@needs_torch
@given(dims=pool_inputs, out_h=st.integers(1, 8), out_w=st.one_of(st.none(), st.integers(1, 8)), seed=seeds)
def test_adaptive_avg_pool2d_matches_torch(dims, out_h, out_w, seed):
    batch, c, h, w = dims
    x = np.random.default_rng(seed).standard_normal(batch + (c, h, w))
    size = (out_h, out_w)
    name = "MeanBackward1" if (out_h, w if out_w is None else out_w) == (1, 1) else "AdaptiveAvgPool2DBackward0"
    assert_matches_torch(lambda lib, t: lib_f(lib).adaptive_avg_pool2d(t, size), [x], name)


@given(dims=pool_inputs, out_h=st.integers(1, 5), out_w=st.integers(1, 5), seed=seeds)
def test_adaptive_avg_pool2d_gradchecks(dims, out_h, out_w, seed):
    batch, c, h, w = dims
    x = np.random.default_rng(seed).standard_normal(batch + (c, h, w))
    assert_gradchecks(lambda lib, t: lib_f(lib).adaptive_avg_pool2d(t * t, (out_h, out_w)), [x])


def test_adaptive_avg_pool2d_non_divisible_bins_by_hand():
    # 5 rows into 3 bins: rows 0-1, 1-3, 3-4 (start floor(i*5/3), end ceil((i+1)*5/3)); row 1 and 3 are shared
    x = gradlab.arange(5, dtype=gradlab.float64).reshape(1, 1, 5, 1).requires_grad_()
    y = F.adaptive_avg_pool2d(x, (3, 1))
    assert y.flatten().tolist() == [0.5, 2.0, 3.5]
    y.sum().backward()
    np.testing.assert_allclose(x.grad.flatten().numpy(), [1 / 2, 1 / 2 + 1 / 3, 1 / 3, 1 / 3 + 1 / 2, 1 / 2])


# ---- reflect and replicate padding ------------------------------------------------------------
@st.composite
def pad_cases(draw):
    """(mode, input shape, pad): k padded axes (1 to 3) of a (k+1)- or (k+2)-D input."""
    mode = draw(st.sampled_from(["reflect", "replicate"]))
    k = draw(st.integers(1, 3))
    lead = draw(st.sampled_from([(2,), (1, 2)]))
    sizes = tuple(draw(st.integers(1 if mode == "replicate" else 2, 4)) for _ in range(k))
    limit = (lambda n: n - 1) if mode == "reflect" else (lambda n: 3)
    pad = []
    for n in reversed(sizes):
        pad += [draw(st.integers(0, limit(n))), draw(st.integers(0, limit(n)))]
    return mode, lead + sizes, tuple(pad)


PAD_NODE = {"reflect": "ReflectionPad{}DBackward0", "replicate": "ReplicationPad{}DBackward0"}


@needs_torch
@given(case=pad_cases(), seed=seeds)
def test_pad_matches_torch(case, seed):
    mode, shape, pad = case
    x = np.random.default_rng(seed).standard_normal(shape)
    assert_matches_torch(lambda lib, t: lib_f(lib).pad(t, pad, mode=mode), [x], PAD_NODE[mode].format(len(pad) // 2))


@given(case=pad_cases(), seed=seeds)
def test_pad_gradchecks(case, seed):
    mode, shape, pad = case
    x = np.random.default_rng(seed).standard_normal(shape)
    assert_gradchecks(lambda lib, t: lib_f(lib).pad(t * t, pad, mode=mode), [x])


def test_reflect_pad_gradient_by_hand():
    # [a b c] padded (2, 1) reflects to [c b a b c b]: b is read three times, c twice, a once
    x = gradlab.tensor([[1.0, 2.0, 3.0]], dtype=gradlab.float64, requires_grad=True)
    y = F.pad(x, (2, 1), mode="reflect")
    assert y.tolist() == [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
    y.sum().backward()
    assert x.grad.tolist() == [[1.0, 3.0, 2.0]]


# ---- unbatched max and average pooling ---------------------------------------------------------
@pytest.fixture(params=kernels.available_backends())
def backend(request):
    with kernels.use_backend(request.param):
        yield request.param


POOLS = {
    "max_pool2d": (lambda lib, t: lib_f(lib).max_pool2d(t, 2), "MaxPool2DWithIndicesBackward0"),
    "max_pool2d stride padding": (lambda lib, t: lib_f(lib).max_pool2d(t, 3, 2, 1), "MaxPool2DWithIndicesBackward0"),
    "avg_pool2d": (lambda lib, t: lib_f(lib).avg_pool2d(t, 2), "AvgPool2DBackward0"),
    "avg_pool2d padding": (lambda lib, t: lib_f(lib).avg_pool2d(t, 3, 2, 1, count_include_pad=False),
                           "AvgPool2DBackward0"),
}


@needs_torch
@pytest.mark.parametrize("pool", sorted(POOLS))
def test_unbatched_pooling_matches_torch(pool, backend):
    fn, name = POOLS[pool]
    x = np.random.default_rng(3).permutation(2 * 5 * 6).reshape(2, 5, 6) / 7.0  # distinct values: one max each
    assert_matches_torch(fn, [x], name)


@pytest.mark.parametrize("pool", sorted(POOLS))
def test_unbatched_pooling_gradchecks_and_equals_a_batch_of_one(pool, backend):
    fn, _ = POOLS[pool]
    x = np.random.default_rng(4).permutation(2 * 5 * 6).reshape(2, 5, 6) / 7.0
    assert_gradchecks(fn, [x])
    out, _, (grad,) = run(gradlab, fn, [x])
    out1, _, (grad1,) = run(gradlab, fn, [x[None]])
    np.testing.assert_array_equal(out, out1[0])
    np.testing.assert_array_equal(grad, grad1[0])


def test_unbatched_max_pool2d_indices():
    x = gradlab.tensor(np.arange(32.0).reshape(2, 4, 4), requires_grad=True)
    out, indices = F.max_pool2d(x, 2, return_indices=True)
    assert out.shape == (2, 2, 2) and indices.shape == (2, 2, 2)
    assert indices[0].tolist() == [[5, 7], [13, 15]]


# ---- batch_norm with running statistics ---------------------------------------------------------
BN_SHAPES = [(3, 4), (2, 4, 3), (2, 4, 2, 3)]


def bn_arrays(shape, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    return (rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c),
            rng.standard_normal(c), rng.uniform(0.5, 2.0, c))


@needs_torch
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_running_stats_matches_torch(shape, training, affine):
    x, w, b, mean, var = bn_arrays(shape, 5)

    def fn(lib, t, tw=None, tb=None):
        stats = lib.tensor(mean), lib.tensor(var)
        return lib_f(lib).batch_norm(t, *stats, tw, tb, training, 0.3, 1e-3)
    assert_matches_torch(fn, [x, w, b] if affine else [x], "NativeBatchNormBackward0")


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_eval_gradchecks(shape, affine):
    x, w, b, mean, var = bn_arrays(shape, 6)
    stats = gradlab.tensor(mean), gradlab.tensor(var)
    if affine:
        assert_gradchecks(lambda lib, t, tw, tb: F.batch_norm(t * t, *stats, tw * tw, tb), [x, w, b])
    else:
        assert_gradchecks(lambda lib, t: F.batch_norm(t * t, *stats), [x])


def test_batch_norm_eval_backward_uses_the_statistics_of_its_forward():
    x = gradlab.tensor([[1.0, 2.0], [3.0, 5.0]], dtype=gradlab.float64, requires_grad=True)
    w = gradlab.tensor([2.0, 3.0], dtype=gradlab.float64, requires_grad=True)
    mean = gradlab.tensor([1.0, 1.0], dtype=gradlab.float64)
    var = gradlab.tensor([3.0, 8.0], dtype=gradlab.float64)
    y = F.batch_norm(x, mean, var, w, eps=1.0)
    mean.fill_(100.0)
    var.fill_(100.0)  # a later update of the running statistics
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1.0, 1.0], [1.0, 1.0]])  # weight / sqrt(var + eps)
    np.testing.assert_allclose(w.grad.numpy(), [(0 + 2) / 2, (1 + 4) / 3])  # sum of (x - mean) / sqrt(var + eps)


# ---- 4-D cross_entropy and nll_loss ------------------------------------------------------------
LOSS_KWARGS = [dict(), dict(reduction="sum"), dict(reduction="none"), dict(ignore_index=1),
               dict(weight=(0.5, 2.0, 1.0)), dict(weight=(0.5, 2.0, 1.0), ignore_index=0, reduction="sum")]


def _loss(op, kwargs, target):
    def fn(lib, x):
        kw = dict(kwargs)
        if "weight" in kw:
            kw["weight"] = lib.tensor(kw["weight"], dtype=lib.float64)
        return getattr(lib_f(lib), op)(x, lib.tensor(target), **kw)
    return fn


@needs_torch
@pytest.mark.parametrize("kwargs", LOSS_KWARGS, ids=str)
@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss"])
def test_image_losses_match_torch(op, kwargs):
    rng = np.random.default_rng(7)
    x, target = rng.standard_normal((2, 3, 2, 3)), rng.integers(0, 3, (2, 2, 3))
    assert_matches_torch(_loss(op, kwargs, target), [x], "NllLoss2DBackward0")


@pytest.mark.parametrize("kwargs", LOSS_KWARGS[:4], ids=str)
@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss"])
def test_image_losses_gradcheck(op, kwargs):
    rng = np.random.default_rng(8)
    x, target = rng.standard_normal((2, 3, 2, 2)), rng.integers(0, 3, (2, 2, 2))
    assert_gradchecks(lambda lib, t: _loss(op, kwargs, target)(lib, t * t), [x])


# ---- in-place elu and leaky_relu ---------------------------------------------------------------
INPLACE = {
    "elu": (lambda lib, t: lib_f(lib).elu(t * 1, inplace=True), "EluBackward1"),
    "elu alpha": (lambda lib, t: lib_f(lib).elu(t * 1, 0.5, inplace=True), "EluBackward1"),
    "nn.ELU": (lambda lib, t: lib.nn.ELU(2.0, inplace=True)(t * 1), "EluBackward1"),
    "leaky_relu": (lambda lib, t: lib_f(lib).leaky_relu(t * 1, 0.2, inplace=True), "LeakyReluBackward1"),
    "nn.LeakyReLU": (lambda lib, t: lib.nn.LeakyReLU(inplace=True)(t * 1), "LeakyReluBackward1"),
}


@needs_torch
@pytest.mark.parametrize("case", sorted(INPLACE))
def test_inplace_activations_match_torch(case):
    fn, name = INPLACE[case]
    x = np.array([[-2.0, -0.5, 0.0, 0.5], [1.0, 3.0, -1e-3, 2.0]])
    assert_matches_torch(fn, [x], name)


@pytest.mark.parametrize("case", sorted(INPLACE))
def test_inplace_activations_gradcheck(case):
    fn, _ = INPLACE[case]
    assert_gradchecks(fn, [values_away_from([0.0], (3, 4), 9)])


@pytest.mark.parametrize("op, message", [("elu", "In-place elu"), ("leaky_relu", "In-place leakyReLu")])
def test_inplace_activation_with_negative_slope_cannot_backward(op, message):
    # in place, backward reads the output, whose sign no longer tells the input's when the slope is negative
    x = gradlab.tensor([-1.0, 2.0], requires_grad=True)
    y = getattr(F, op)(x * 1, -0.5, inplace=True)
    with pytest.raises(RuntimeError, match=message):
        y.sum().backward()
    z = getattr(F, op)(x * 1, -0.5)  # out of place is fine
    z.sum().backward()
