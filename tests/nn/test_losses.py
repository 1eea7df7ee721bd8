"""Losses (functional and modules) against torch, gradcheck, and cross-entropy's numerical stability."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F
from gradlab import nn
from gradlab.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def both(array, requires_grad=True):
    array = np.asarray(array)
    rg = requires_grad and array.dtype.kind == "f"
    return gradlab.tensor(array.copy(), requires_grad=rg), torch.tensor(array.copy(), requires_grad=rg)


def assert_close(ours, theirs, rtol=1e-6, atol=1e-8):
    theirs = theirs.detach().numpy()
    assert ours._data.shape == theirs.shape, (ours._data.shape, theirs.shape)
    assert ours._data.dtype == theirs.dtype
    np.testing.assert_allclose(ours._data, theirs, rtol=rtol, atol=atol)


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
