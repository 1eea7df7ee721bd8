"""Losses (cross_entropy, nll, regression, binary, margin, KL, Poisson and Gaussian NLL) and their modules: values,
gradients and grad_fn names against torch, gradcheck and gradgradcheck, errors."""
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

from against_torch import assert_close, check_call  # noqa: E402


def both(array, requires_grad=True):
    array = np.asarray(array)
    rg = requires_grad and array.dtype.kind == "f"
    return gradlab.tensor(array.copy(), requires_grad=rg), torch.tensor(array.copy(), requires_grad=rg)


def check_loss(ours_fn, torch_fn, input, target, grad_target=False, rtol=1e-6, atol=1e-8, **kwargs):
    """Loss value and gradients (input, and target when it is differentiable) equal torch's."""
    xg, xt = both(input)
    tg, tt = both(target, requires_grad=grad_target)
    tkwargs = {k: torch.tensor(v._data) if isinstance(v, gradlab.Tensor) else v for k, v in kwargs.items()}
    out, ref = ours_fn(xg, tg, **kwargs), torch_fn(xt, tt, **tkwargs)
    assert_close(out, ref, rtol, atol)
    upstream = np.random.default_rng(0).standard_normal(tuple(ref.shape)).astype(xg._data.dtype)
    out.backward(gradlab.tensor(upstream))
    ref.backward(torch.tensor(upstream))
    assert_close(xg.grad, xt.grad, rtol, atol)
    if grad_target:
        assert_close(tg.grad, tt.grad, rtol, atol)
    return out


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def labels(n_classes, *shape, seed=0):
    return np.random.default_rng(seed).integers(0, n_classes, shape)


def signs(*shape, seed=0):
    return np.random.default_rng(seed).choice([-1.0, 1.0], shape)


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2 ** 16)
reductions = st.sampled_from(["mean", "sum", "none"])


REDUCTIONS = ["mean", "sum", "none"]


# ---- cross_entropy ----------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy_class_indices(reduction, smoothing, weighted, ignore):
    x, t = rand(6, 4), labels(4, 6)
    if ignore:
        t[[1, 4]] = 2
    kwargs = dict(reduction=reduction, label_smoothing=smoothing, ignore_index=2 if ignore else -100)
    if weighted:
        kwargs["weight"] = gradlab.tensor(np.abs(rand(4, seed=1)) + 0.1)
    check_loss(F.cross_entropy, TF.cross_entropy, x, t, **kwargs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_k_dimensional(reduction, smoothing, weighted):
    x, t = rand(2, 3, 4, 5), labels(3, 2, 4, 5)
    t[0, 1, :2] = -100
    kwargs = dict(reduction=reduction, label_smoothing=smoothing)
    if weighted:
        kwargs["weight"] = gradlab.tensor(np.abs(rand(3, seed=1)) + 0.1)
    check_loss(F.cross_entropy, TF.cross_entropy, x, t, **kwargs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probability_targets(reduction, smoothing, weighted):
    x = rand(5, 4, 3)
    p = np.exp(rand(5, 4, 3, seed=2))
    p /= p.sum(1, keepdims=True)
    kwargs = dict(reduction=reduction, label_smoothing=smoothing)
    if weighted:
        kwargs["weight"] = gradlab.tensor(np.abs(rand(4, seed=1)) + 0.1)
    check_loss(F.cross_entropy, TF.cross_entropy, x, p, grad_target=True, **kwargs)


def test_cross_entropy_unbatched():
    check_loss(F.cross_entropy, TF.cross_entropy, rand(5), np.array(3))
    check_loss(F.cross_entropy, TF.cross_entropy, rand(5), np.array(3), reduction="none")
    p = np.full(5, 0.2)
    check_loss(F.cross_entropy, TF.cross_entropy, rand(5), p, grad_target=True, label_smoothing=0.2)


def test_cross_entropy_float32_and_grad_fn():
    x, t = rand(8, 10).astype(np.float32), labels(10, 8)
    out = check_loss(F.cross_entropy, TF.cross_entropy, x, t, rtol=1e-5, atol=1e-6)
    assert out.grad_fn.name() == "NllLossBackward0"
    assert out.dtype == gradlab.float32


@given(n=st.integers(1, 6), c=st.integers(1, 6), extra=st.lists(st.integers(1, 3), max_size=2),
       smoothing=st.sampled_from([0.0, 0.2]), reduction=st.sampled_from(REDUCTIONS), seed=st.integers(0, 999))
def test_cross_entropy_random_shapes(n, c, extra, smoothing, reduction, seed):
    x = rand(n, c, *extra, seed=seed) * 3
    t = labels(c, n, *extra, seed=seed)
    check_loss(F.cross_entropy, TF.cross_entropy, x, t, reduction=reduction, label_smoothing=smoothing)


@pytest.mark.parametrize("value", [1e4, -1e4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_at_extreme_logits(value, dtype):
    x = np.array([[value, 0.0, -value], [-value, value, 0.0], [0.0, 0.0, value]], dtype=dtype)
    t = np.array([2, 1, 0])
    out = check_loss(F.cross_entropy, TF.cross_entropy, x, t, rtol=1e-6)
    assert np.isfinite(out._data)
    xg = gradlab.tensor(x, requires_grad=True)
    F.cross_entropy(xg, gradlab.tensor(t), label_smoothing=0.1).backward()
    assert np.isfinite(xg.grad._data).all()


def test_cross_entropy_gradcheck_and_gradgradcheck():
    x = gradlab.tensor(rand(3, 4, 2), requires_grad=True)
    t = gradlab.tensor(labels(4, 3, 2))
    w = gradlab.tensor(np.abs(rand(4, seed=3)) + 0.5)
    p = gradlab.tensor(np.full((3, 4, 2), 0.25), requires_grad=True)
    for reduction in REDUCTIONS:
        assert gradcheck(lambda x: F.cross_entropy(x, t, w, reduction=reduction, label_smoothing=0.2), (x,))
        assert gradgradcheck(lambda x: F.cross_entropy(x, t, w, reduction=reduction, label_smoothing=0.2), (x,))
        assert gradgradcheck(lambda x, p: F.cross_entropy(x, p, w, reduction=reduction), (x, p))


def test_cross_entropy_all_ignored_is_nan_as_torch():
    x, t = both(rand(2, 3))
    tt = np.array([-100, -100])
    out = F.cross_entropy(x, gradlab.tensor(tt))
    ref = TF.cross_entropy(t, torch.tensor(tt))
    assert np.isnan(out.item()) and np.isnan(ref.item())


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("targets, options", [
    ([-100, -100], {}),                                         # every target ignored: the gradient is 0
    ([[-100, -100], [-100, -100]], {"label_smoothing": 0.2}),  # (N, d) targets of an (N, C, d) input
    ([0, -100], {"weight": [0.0, 0.0, 1.0]}),                   # total weight 0: NaN reaches the kept samples only
    ([0, 1], {"weight": [0.0, 0.0, 1.0]}),
])
def test_mean_over_no_weight_gives_torch_gradients(loss, targets, options):
    """A mean over a total weight of 0 is NaN; its gradient is 0 at ignored samples, as PyTorch's (not NaN)."""
    if loss == "nll_loss" and "label_smoothing" in options:
        options = {}
    targets = np.array(targets)
    input = rand(2, 3, *targets.shape[1:])
    options = {k: gradlab.tensor(v, dtype=gradlab.float64) if k == "weight" else v for k, v in options.items()}
    check_loss(getattr(F, loss), getattr(TF, loss), input, targets, **options)
    xg = gradlab.tensor(input, requires_grad=True)
    (grad,) = gradlab.autograd.grad(getattr(F, loss)(xg, gradlab.tensor(targets), **options), xg, create_graph=True)
    xt = torch.tensor(input, requires_grad=True)
    tkwargs = {k: torch.tensor(v._data) if isinstance(v, gradlab.Tensor) else v for k, v in options.items()}
    (ref,) = torch.autograd.grad(getattr(TF, loss)(xt, torch.tensor(targets), **tkwargs), xt)
    np.testing.assert_allclose(grad._data, ref.numpy())


def test_cross_entropy_errors():
    x = gradlab.randn(3, 4)
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, gradlab.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match="shape"):
        F.cross_entropy(x, gradlab.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="int64"):
        F.cross_entropy(x, gradlab.tensor([0, 1, 2], dtype=gradlab.int32))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, gradlab.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(RuntimeError, match="label_smoothing"):
        F.cross_entropy(x, gradlab.tensor([0, 1, 2]), label_smoothing=1.5)


# ---- nll_loss ---------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(reduction, weighted):
    x, t = rand(5, 3, 2), labels(3, 5, 2)
    t[1, 0] = 1
    kwargs = dict(reduction=reduction, ignore_index=1)
    if weighted:
        kwargs["weight"] = gradlab.tensor(np.abs(rand(3, seed=4)))
    out = check_loss(F.nll_loss, TF.nll_loss, x, t, **kwargs)
    assert out.grad_fn.name() == "NllLossBackward0"
    check_loss(F.nll_loss, TF.nll_loss, rand(4), np.array(2), reduction=reduction)


def test_log_softmax_then_nll_equals_cross_entropy_and_gradchecks():
    x = gradlab.tensor(rand(4, 5), requires_grad=True)
    t = gradlab.tensor(labels(5, 4))
    a = F.nll_loss(F.log_softmax(x, 1), t)
    b = F.cross_entropy(x, t)
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)
    assert gradgradcheck(lambda x: F.nll_loss(F.log_softmax(x, 1), t), (x,))


# ---- regression and binary losses -------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_regression_losses_match_torch(name, reduction):
    out = check_loss(getattr(F, name), getattr(TF, name), rand(3, 4), rand(3, 4, seed=1), grad_target=True,
                     reduction=reduction)
    if reduction != "none":
        assert out.grad_fn.name() == {"mse_loss": "MseLossBackward0", "l1_loss": "L1LossBackward0"}[name]
    x = gradlab.tensor(rand(2, 3), requires_grad=True)
    y = gradlab.tensor(rand(2, 3, seed=1), requires_grad=True)
    assert gradcheck(lambda x, y: getattr(F, name)(x, y, reduction=reduction), (x, y))


def test_mse_loss_broadcasts_with_a_warning_and_takes_weights():
    with pytest.warns(UserWarning, match="different to the input size"):
        check_loss(F.mse_loss, TF.mse_loss, rand(3, 4), rand(1, 4), grad_target=True)
    w = np.abs(rand(3, 4, seed=5))
    for reduction in REDUCTIONS:
        check_loss(F.mse_loss, TF.mse_loss, rand(3, 4), rand(3, 4, seed=1), reduction=reduction,
                   weight=gradlab.tensor(w))
    assert gradgradcheck(lambda x: F.mse_loss(x, gradlab.zeros(2, 2, dtype=gradlab.float64)),
                         (gradlab.tensor(rand(2, 2), requires_grad=True),))


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("input_dtype, target_dtype", [("float32", "int64"), ("float32", "float64"),
                                                        ("float64", "float32")])
def test_regression_losses_of_mixed_dtypes_promote_as_torch(name, input_dtype, target_dtype):
    # neural_networks_tutorial.py (one revision) compares a float32 output with torch.arange(1, 11)
    x = rand(2, 5).astype(input_dtype)
    t = np.arange(10).reshape(2, 5).astype(target_dtype)
    ours_x, theirs_x = both(x)
    ours = getattr(F, name)(ours_x, gradlab.tensor(t))
    theirs = getattr(TF, name)(theirs_x, torch.tensor(t))
    assert_close(ours, theirs, rtol=1e-6)
    ours.backward()
    theirs.backward()
    assert_close(ours_x.grad, theirs_x.grad, rtol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_torch(reduction, weighted):
    p = 1 / (1 + np.exp(-rand(4, 3)))
    t = np.random.default_rng(1).random((4, 3))
    kwargs = dict(reduction=reduction)
    if weighted:
        kwargs["weight"] = gradlab.tensor(np.abs(rand(4, 3, seed=2)))
    check_loss(F.binary_cross_entropy, TF.binary_cross_entropy, p, t, grad_target=True, **kwargs)
    x = gradlab.tensor(p, requires_grad=True)
    assert gradcheck(lambda x: F.binary_cross_entropy(x, gradlab.tensor(t), reduction=reduction), (x,))


def test_binary_cross_entropy_clamps_logs_at_minus_100():
    p = np.array([0.0, 1.0, 0.5])
    t = np.array([1.0, 0.0, 1.0])
    xg, xt = both(p, requires_grad=False)
    assert_close(F.binary_cross_entropy(xg, gradlab.tensor(t), reduction="none"),
                 TF.binary_cross_entropy(xt, torch.tensor(t), reduction="none"))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(gradlab.tensor([1.5]), gradlab.tensor([1.0]))
    with pytest.raises(ValueError, match="same size"):
        F.binary_cross_entropy(gradlab.tensor([0.5, 0.5]), gradlab.tensor([[1.0, 0.0]]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [None, "vector"])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits_matches_torch(reduction, pos_weight, weighted):
    x = rand(5, 3) * 4
    t = np.random.default_rng(1).random((5, 3))
    kwargs = dict(reduction=reduction)
    if pos_weight:
        kwargs["pos_weight"] = gradlab.tensor(np.abs(rand(3, seed=3)) + 0.5)
    if weighted:
        kwargs["weight"] = gradlab.tensor(np.abs(rand(5, 3, seed=4)))
    out = check_loss(F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, x, t,
                     grad_target=True, **kwargs)
    if reduction != "none":
        assert out.grad_fn.name() == "BinaryCrossEntropyWithLogitsBackward0"
    xg = gradlab.tensor(x, requires_grad=True)
    tg = gradlab.tensor(t, requires_grad=True)
    assert gradcheck(lambda x, t: F.binary_cross_entropy_with_logits(x, t, **kwargs), (xg, tg))
    assert gradgradcheck(lambda x, t: F.binary_cross_entropy_with_logits(x, t, **kwargs), (xg, tg))


def test_bce_with_logits_is_finite_at_extreme_logits():
    x = np.array([1e4, -1e4, 50.0, -50.0], dtype=np.float32)
    t = np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32)
    out = check_loss(F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, x, t)
    assert np.isfinite(out._data)


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), reduction=st.sampled_from(REDUCTIONS),
       seed=st.integers(0, 999))
def test_elementwise_losses_on_random_shapes(shape, reduction, seed):
    x, y = rand(*shape, seed=seed), rand(*shape, seed=seed + 1)
    probs = 1 / (1 + np.exp(-x))
    targets = np.random.default_rng(seed).random(shape)
    check_loss(F.mse_loss, TF.mse_loss, x, y, grad_target=True, reduction=reduction)
    check_loss(F.l1_loss, TF.l1_loss, x, y, grad_target=True, reduction=reduction)
    check_loss(F.binary_cross_entropy, TF.binary_cross_entropy, probs, targets, grad_target=True,
               reduction=reduction)
    check_loss(F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, x * 3, targets,
               grad_target=True, reduction=reduction)


def test_legacy_size_average_and_reduce_flags():
    x, t = rand(3, 2), rand(3, 2, seed=1)
    xg, xt = both(x, False)
    tg, tt = both(t, False)
    with pytest.warns(UserWarning):
        ours = F.mse_loss(xg, tg, size_average=False)
    with pytest.warns(UserWarning):
        theirs = TF.mse_loss(xt, tt, size_average=False)
    assert_close(ours, theirs)
    with pytest.warns(UserWarning):
        assert F.l1_loss(xg, tg, reduce=False).shape == (3, 2)


# ---- loss modules -----------------------------------------------------------------------------
LOSS_MODULES = [
    ("MSELoss", {}, "float"), ("L1Loss", {"reduction": "sum"}, "float"),
    ("CrossEntropyLoss", {"label_smoothing": 0.1, "ignore_index": 1}, "index"),
    ("CrossEntropyLoss", {"weight": [0.5, 1.0, 2.0]}, "index"),
    ("NLLLoss", {"weight": [0.5, 1.0, 2.0], "reduction": "sum"}, "index"),
    ("BCELoss", {"weight": [0.5, 1.0, 2.0]}, "prob"),
    ("BCEWithLogitsLoss", {"pos_weight": [0.5, 1.0, 2.0]}, "prob"),
]


@pytest.mark.parametrize("name,kwargs,kind", LOSS_MODULES, ids=[f"{m[0]}-{i}" for i, m in enumerate(LOSS_MODULES)])
def test_loss_modules_match_torch(name, kwargs, kind):
    ours_kwargs = {k: gradlab.tensor(v, dtype=gradlab.float64) if isinstance(v, list) else v
                   for k, v in kwargs.items()}
    theirs_kwargs = {k: torch.tensor(v, dtype=torch.float64) if isinstance(v, list) else v for k, v in kwargs.items()}
    ours, theirs = getattr(nn, name)(**ours_kwargs), getattr(torch.nn, name)(**theirs_kwargs)
    assert repr(ours) == repr(theirs)
    assert list(dict(ours.named_buffers())) == list(dict(theirs.named_buffers()))
    x = rand(4, 3)
    target = {"float": rand(4, 3, seed=1), "index": labels(3, 4), "prob": np.random.default_rng(2).random((4, 3))}[kind]
    if name == "BCELoss":
        x = 1 / (1 + np.exp(-x))
    check_loss(ours, theirs, x, target)


def test_binary_cross_entropy_target_gradient_differentiates_in_the_input():
    """d loss / d target = log(1 - x) - log(x): built from x in the graph, so the mixed second derivative exists;
    at x = 0 or 1 it is infinite, as PyTorch's (not clamped at 100)."""
    rng = np.random.default_rng(0)
    x = gradlab.tensor(1 / (1 + np.exp(-rng.standard_normal((3, 4)))), requires_grad=True)
    t = gradlab.tensor(rng.random((3, 4)), requires_grad=True)
    w = gradlab.tensor(rng.random(4))
    for reduction in REDUCTIONS:
        assert gradgradcheck(lambda x, t: F.binary_cross_entropy(x, t, w, reduction=reduction), (x, t))
    with np.errstate(divide="ignore"):
        check_loss(F.binary_cross_entropy, TF.binary_cross_entropy, np.array([0.0, 1.0, 0.5, 1e-30]),
                   np.array([0.0, 1.0, 1.0, 0.3]), grad_target=True)


# ---- pointwise regression losses --------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(shape=shapes, reduction=reductions, beta=st.sampled_from([0.0, 0.3, 1.0, 2.5]), seed=seeds)
def test_smooth_l1_loss_matches_torch(shape, reduction, beta, seed):
    check_call(lambda F, x, t: F.smooth_l1_loss(x, t, reduction=reduction, beta=beta),
               [rand(*shape, seed=seed), rand(*shape, seed=seed + 1)], names=beta != 0)


@settings(max_examples=20, deadline=None)
@given(shape=shapes, reduction=reductions, delta=st.sampled_from([0.3, 1.0, 2.5]), seed=seeds)
def test_huber_loss_matches_torch(shape, reduction, delta, seed):
    check_call(lambda F, x, t: F.huber_loss(x, t, reduction=reduction, delta=delta),
               [rand(*shape, seed=seed), rand(*shape, seed=seed + 1)])


def test_huber_weight_and_broadcasting_and_errors():
    check_call(lambda F, x, t, w: F.huber_loss(x, t, weight=w), [rand(3, 4), rand(3, 4, seed=1)],
               [np.abs(rand(3, 4, seed=2))], names=False)
    check_call(lambda F, x, t: F.smooth_l1_loss(x, t), [rand(3, 4), rand(4, seed=1)])
    with pytest.raises(RuntimeError, match="smooth_l1_loss does not support negative values for beta"):
        F.smooth_l1_loss(gradlab.zeros(2), gradlab.zeros(2), beta=-1.0)
    with pytest.raises(RuntimeError, match="huber_loss does not support non-positive values for delta"):
        F.huber_loss(gradlab.zeros(2), gradlab.zeros(2), delta=0.0)


@pytest.mark.parametrize("name", ["smooth_l1_loss", "huber_loss"])
def test_pointwise_losses_gradcheck(name):
    x = gradlab.tensor(rand(3, 4), requires_grad=True)
    t = gradlab.tensor(rand(3, 4, seed=1) * 2, requires_grad=True)
    assert gradcheck(lambda x, t: getattr(F, name)(x, t, reduction="sum"), (x, t))
    assert gradgradcheck(lambda x, t: getattr(F, name)(x, t), (x, t))


# ---- kl divergence, poisson and gaussian nll --------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple),
       reduction=st.sampled_from(REDUCTIONS + ["batchmean"]), log_target=st.booleans(), seed=seeds)
def test_kl_div_matches_torch(shape, reduction, log_target, seed):
    target = rand(*shape, seed=seed + 1)
    target = target if log_target else np.where(target > -0.5, np.abs(target), 0.0)  # zeros: 0 log 0 = 0
    check_call(lambda F, x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target),
               [rand(*shape, seed=seed), target])


def test_kl_div_gradcheck_and_module():
    x = gradlab.tensor(rand(3, 4), requires_grad=True)
    t = gradlab.tensor(np.abs(rand(3, 4, seed=1)) + 0.1, requires_grad=True)
    assert gradcheck(lambda x, t: F.kl_div(x, t, reduction="batchmean"), (x, t))
    assert gradgradcheck(lambda x, t: F.kl_div(x, t, reduction="batchmean", log_target=True), (x, t))
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(x, t)
    m, mt = nn.KLDivLoss(reduction="batchmean", log_target=True), torch.nn.KLDivLoss(reduction="batchmean",
                                                                                      log_target=True)
    assert_close(m(x, t), mt(torch.tensor(x._data), torch.tensor(t._data)))


@settings(max_examples=20, deadline=None)
@given(shape=shapes, reduction=reductions, log_input=st.booleans(), full=st.booleans(), seed=seeds)
def test_poisson_nll_loss_matches_torch(shape, reduction, log_input, full, seed):
    x = rand(*shape, seed=seed)
    x = x if log_input else np.abs(x) + 0.1
    target = np.floor(np.abs(rand(*shape, seed=seed + 1)) * 3)  # counts, some 0 and 1
    check_call(lambda F, x, t: F.poisson_nll_loss(x, t, log_input=log_input, full=full,
                                                           reduction=reduction), [x], [target])


@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), reduction=reductions,
       full=st.booleans(), var_kind=st.sampled_from(["same", "short", "one_axis", "float"]), seed=seeds)
def test_gaussian_nll_loss_matches_torch(shape, reduction, full, var_kind, seed):
    if var_kind == "same":
        var_shape = shape
    elif var_kind == "short":
        var_shape = shape[:-1]
    else:
        var_shape = shape[:-1] + (1,)
    x, t = rand(*shape, seed=seed), rand(*shape, seed=seed + 1)
    if var_kind == "float":
        check_call(lambda F, x, t: F.gaussian_nll_loss(x, t, 0.7, full=full, reduction=reduction), [x, t])
        return
    var = np.abs(np.asarray(rand(*var_shape, seed=seed + 2)))  # (an array even when var_shape is ())
    var[var < 0.3] = 1e-9  # some below eps: clamped in value only
    check_call(lambda F, x, t, v: F.gaussian_nll_loss(x, t, v, full=full, reduction=reduction),
               [x, t, var], names=False)


def test_gaussian_nll_gradcheck_and_errors():
    x, t = (gradlab.tensor(rand(3, 4, seed=i), requires_grad=True) for i in range(2))
    v = gradlab.tensor(np.abs(rand(3, 4, seed=3)) + 0.5, requires_grad=True)
    assert gradcheck(F.gaussian_nll_loss, (x, t, v))
    assert gradcheck(lambda x, t: F.poisson_nll_loss(x, t.abs(), log_input=False, full=True), (x.abs() + 1, t))
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(x, t, gradlab.ones(2, 2, dtype=gradlab.float64))
    with pytest.raises(ValueError, match="var has negative entry"):
        F.gaussian_nll_loss(x, t, -1.0)


# ---- margin losses ----------------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(shape=shapes, reduction=reductions, seed=seeds)
def test_soft_margin_loss_matches_torch(shape, reduction, seed):
    check_call(lambda F, x, y: F.soft_margin_loss(x, y, reduction=reduction), [rand(*shape, seed=seed)],
               [signs(*shape, seed=seed)])


@settings(max_examples=20, deadline=None)
@given(shape=shapes, reduction=reductions, margin=st.sampled_from([0.0, 0.5]), seed=seeds)
def test_margin_ranking_and_hinge_embedding_match_torch(shape, reduction, margin, seed):
    x1, x2, y = rand(*shape, seed=seed), rand(*shape, seed=seed + 1), signs(*shape, seed=seed)
    # unreduced, torch's top node is ClampMin, gradlab's clamp(min=) node is Clamp
    check_call(lambda F, a, b, y: F.margin_ranking_loss(a, b, y, margin, reduction=reduction), [x1, x2],
               [y], names=reduction != "none")
    check_call(lambda F, a, y: F.hinge_embedding_loss(a, y, margin + 1, reduction=reduction), [x1], [y])


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 4), d=st.integers(1, 4), batched=st.booleans(), reduction=reductions,
       margin=st.sampled_from([0.0, 0.3]), seed=seeds)
def test_cosine_embedding_loss_matches_torch(n, d, batched, reduction, margin, seed):
    shape, y = ((n, d), signs(n, seed=seed)) if batched else ((d,), np.array(1.0))
    check_call(lambda F, a, b, y: F.cosine_embedding_loss(a, b, y, margin, reduction=reduction),
               [rand(*shape, seed=seed), rand(*shape, seed=seed + 1)], [y])


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 4), d=st.integers(1, 4), p=st.sampled_from([1.0, 2.0, 3.0]), swap=st.booleans(),
       reduction=reductions, seed=seeds)
def test_triplet_margin_loss_matches_torch(n, d, p, swap, reduction, seed):
    arrays = [rand(n, d, seed=seed + i) for i in range(3)]
    # torch's top node is ClampMin, gradlab's clamp(min=) node is Clamp: compare values and gradients
    check_call(lambda F, a, pos, neg: F.triplet_margin_loss(a, pos, neg, margin=0.5, p=p, swap=swap,
                                                                     reduction=reduction), arrays,
                        names=reduction != "none")


def test_triplet_with_distance_and_margin_gradchecks():
    a, p, n = (gradlab.tensor(rand(3, 4, seed=i), requires_grad=True) for i in range(3))
    assert gradcheck(lambda a, p, n: F.triplet_margin_loss(a, p, n, swap=True), (a, p, n))
    assert gradcheck(lambda a, p, n: F.cosine_embedding_loss(a, p, gradlab.tensor([1.0, -1.0, 1.0]), 0.1),
                     (a, p, n))
    ours = nn.TripletMarginWithDistanceLoss(distance_function=lambda x, y: 1 - F.cosine_similarity(x, y), swap=True)
    theirs = torch.nn.TripletMarginWithDistanceLoss(distance_function=lambda x, y: 1 - TF.cosine_similarity(x, y),
                                                    swap=True)
    assert_close(ours(a, p, n), theirs(*(torch.tensor(t._data) for t in (a, p, n))))
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_loss(a, p, n, margin=0)
    with pytest.raises(RuntimeError, match="anchor 2D, positive 2D, and negative 1D"):
        F.triplet_margin_loss(a, p, n[0])
    with pytest.raises(RuntimeError, match="All input tensors should have same dimension"):
        F.margin_ranking_loss(a, p[0], n)
    with pytest.raises(RuntimeError, match="1D target tensor expects 2D input tensors"):
        F.cosine_embedding_loss(a[None], p[None], gradlab.ones(1))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 5), batched=st.booleans(), p=st.sampled_from([1, 2]),
       margin=st.sampled_from([0.5, 1.0]), weighted=st.booleans(), reduction=reductions, seed=seeds)
def test_multi_margin_loss_matches_torch(n, c, batched, p, margin, weighted, reduction, seed):
    rng = np.random.default_rng(seed)
    shape, target = ((n, c), rng.integers(0, c, n)) if batched else ((c,), rng.integers(0, c, ()))
    weight = [np.abs(rand(c, seed=seed + 1))] if weighted else []
    check_call(lambda F, x, t, *w: F.multi_margin_loss(x, t, p, margin, *w, reduction=reduction),
               [rand(*shape, seed=seed)], [target] + weight)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 5), batched=st.booleans(), reduction=reductions, seed=seeds)
def test_multilabel_margin_loss_matches_torch(n, c, batched, reduction, seed):
    rng = np.random.default_rng(seed)
    target = rng.integers(-1, c, (n, c))  # each row's classes are those before its first -1
    if not batched:
        target = target[0]
    check_call(lambda F, x, t: F.multilabel_margin_loss(x, t, reduction=reduction),
               [rand(*target.shape, seed=seed)], [target])


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 5), weighted=st.booleans(), reduction=reductions, seed=seeds)
def test_multilabel_soft_margin_loss_matches_torch(n, c, weighted, reduction, seed):
    target = (rand(n, c, seed=seed + 1) > 0).astype(np.float64)
    weight = [np.abs(rand(c, seed=seed + 2))] if weighted else []
    check_call(lambda F, x, t, *w: F.multilabel_soft_margin_loss(x, t, *w, reduction=reduction),
               [rand(n, c, seed=seed)], [target] + weight)


def test_margin_losses_gradcheck_and_errors():
    x = gradlab.tensor(rand(3, 4), requires_grad=True)
    labels = gradlab.tensor([0, 3, 1])
    assert gradcheck(lambda x: F.multi_margin_loss(x, labels, p=2, margin=2.0), (x,))
    assert gradgradcheck(lambda x: F.multi_margin_loss(x, labels, p=2, margin=2.0), (x,))
    assert gradcheck(lambda x: F.multilabel_margin_loss(x, gradlab.tensor([[0, 2, -1, 1]] * 3)), (x,))
    assert gradcheck(lambda x: F.soft_margin_loss(x, gradlab.tensor(signs(3, 4))), (x,))
    assert gradgradcheck(lambda x: F.soft_margin_loss(x, gradlab.tensor(signs(3, 4))), (x,))
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        F.multi_margin_loss(x, labels, p=3)
    with pytest.raises(RuntimeError, match="target out of range"):
        F.multi_margin_loss(x, gradlab.tensor([0, 4, 1]))
    with pytest.raises(RuntimeError, match=r"inconsistent target size: \[2, 4\] for input of size: \[3, 4\]"):
        F.multilabel_margin_loss(x, gradlab.tensor([[0, 1, -1, 0]] * 2))
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'target'"):
        F.soft_margin_loss(x, gradlab.tensor(signs(3, 4), requires_grad=True))


# ---- modules ----------------------------------------------------------------------------------
MODULES = [
    ("SmoothL1Loss", {}), ("SmoothL1Loss", {"beta": 0.5, "reduction": "sum"}), ("HuberLoss", {"delta": 2.0}),
    ("KLDivLoss", {"reduction": "batchmean"}), ("SoftMarginLoss", {}), ("MarginRankingLoss", {"margin": 0.2}),
    ("HingeEmbeddingLoss", {}), ("CosineEmbeddingLoss", {"margin": 0.1}), ("TripletMarginLoss", {"p": 1.0}),
    ("TripletMarginWithDistanceLoss", {}), ("MultiMarginLoss", {"p": 2}), ("MultiLabelMarginLoss", {}),
    ("MultiLabelSoftMarginLoss", {}), ("PoissonNLLLoss", {"full": True}), ("GaussianNLLLoss", {"eps": 1e-3}),
]


@pytest.mark.parametrize("name,kwargs", MODULES)
def test_loss_module_repr_and_options_match_torch(name, kwargs):
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    for attr in ("reduction", "beta", "delta", "log_target", "margin", "p", "eps", "swap", "full", "log_input",
                 "dim", "norm", "keepdim"):
        if hasattr(theirs, attr):
            assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_loss_modules_compute_what_the_functionals_compute():
    x, t = rand(3, 4), rand(3, 4, seed=1)
    labels = np.array([1, 0, 3])
    pairs = [
        (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5), [x, t]),
        (nn.HuberLoss(delta=0.5), torch.nn.HuberLoss(delta=0.5), [x, t]),
        (nn.SoftMarginLoss(), torch.nn.SoftMarginLoss(), [x, signs(3, 4)]),
        (nn.MultiMarginLoss(weight=gradlab.tensor(np.abs(t[0]))), torch.nn.MultiMarginLoss(
            weight=torch.tensor(np.abs(t[0]))), [x, labels]),
        (nn.MultiLabelSoftMarginLoss(), torch.nn.MultiLabelSoftMarginLoss(), [x, (t > 0) * 1.0]),
        (nn.PoissonNLLLoss(), torch.nn.PoissonNLLLoss(), [x, np.abs(t)]),
        (nn.GaussianNLLLoss(), torch.nn.GaussianNLLLoss(), [x, t, np.abs(t)]),
        (nn.TripletMarginLoss(), torch.nn.TripletMarginLoss(), [x, t, rand(3, 4, seed=2)]),
        (nn.CosineEmbeddingLoss(), torch.nn.CosineEmbeddingLoss(), [x, t, signs(3)]),
        (nn.MarginRankingLoss(), torch.nn.MarginRankingLoss(), [x, t, signs(3, 4)]),
        (nn.HingeEmbeddingLoss(), torch.nn.HingeEmbeddingLoss(), [x, signs(3, 4)]),
    ]
    for ours, theirs, args in pairs:
        assert_close(ours(*(gradlab.tensor(a) for a in args)), theirs(*(torch.tensor(a) for a in args)))


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
def test_regression_losses_name_themselves_when_shapes_do_not_broadcast(loss):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "target size different to the input size" warning
        with pytest.raises(RuntimeError, match="must match the size"):
            getattr(TF, loss)(torch.ones(2, 3), torch.ones(3, 3))
        with pytest.raises(RuntimeError, match=rf"{loss}: .*\(shapes \[2, 3\] and \[3, 3\] do not broadcast\)"):
            getattr(F, loss)(gradlab.ones(2, 3), gradlab.ones(3, 3))
