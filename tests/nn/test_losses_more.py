"""SmoothL1, Huber, KLDiv, SoftMargin, MarginRanking, HingeEmbedding, CosineEmbedding, TripletMargin, MultiMargin,
MultiLabelMargin, MultiLabelSoftMargin, PoissonNLL and GaussianNLL losses, cosine_similarity, pairwise_distance
and pdist: gradcheck, and values, gradients, grad_fn names and module reprs against torch."""
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

from against_torch import assert_close  # noqa: E402

REDUCTIONS = ["mean", "sum", "none"]


def check_against_torch(call, arrays, constants=(), names=True, rtol=1e-6, atol=1e-8):
    """``call(F, *tensors, *constants)`` in gradlab and torch: same value, grad_fn name and input gradients.

    ``arrays`` become float64 tensors that require grad; ``constants`` (targets, labels) do not.
    """
    ours = [gradlab.tensor(np.array(a), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(np.array(a), requires_grad=True) for a in arrays]
    ours_c = [gradlab.tensor(np.array(c)) for c in constants]
    theirs_c = [torch.tensor(np.array(c)) for c in constants]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out, ref = call(F, *ours, *ours_c), call(TF, *theirs, *theirs_c)
    assert_close(out, ref, rtol, atol)
    if names:
        assert out.grad_fn.name() == type(ref.grad_fn).__name__
    upstream = np.random.default_rng(1).standard_normal(tuple(ref.shape))
    out.backward(gradlab.tensor(upstream))
    ref.backward(torch.tensor(upstream))
    for a, b in zip(ours, theirs):
        assert_close(a.grad, b.grad, rtol, atol)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def signs(*shape, seed=0):
    return np.random.default_rng(seed).choice([-1.0, 1.0], shape)


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2 ** 16)
reductions = st.sampled_from(REDUCTIONS)


# ---- pointwise regression losses --------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(shape=shapes, reduction=reductions, beta=st.sampled_from([0.0, 0.3, 1.0, 2.5]), seed=seeds)
def test_smooth_l1_loss_matches_torch(shape, reduction, beta, seed):
    check_against_torch(lambda F, x, t: F.smooth_l1_loss(x, t, reduction=reduction, beta=beta),
                        [rand(*shape, seed=seed), rand(*shape, seed=seed + 1)], names=beta != 0)


@settings(max_examples=20, deadline=None)
@given(shape=shapes, reduction=reductions, delta=st.sampled_from([0.3, 1.0, 2.5]), seed=seeds)
def test_huber_loss_matches_torch(shape, reduction, delta, seed):
    check_against_torch(lambda F, x, t: F.huber_loss(x, t, reduction=reduction, delta=delta),
                        [rand(*shape, seed=seed), rand(*shape, seed=seed + 1)])


def test_huber_weight_and_broadcasting_and_errors():
    check_against_torch(lambda F, x, t, w: F.huber_loss(x, t, weight=w), [rand(3, 4), rand(3, 4, seed=1)],
                        [np.abs(rand(3, 4, seed=2))], names=False)
    check_against_torch(lambda F, x, t: F.smooth_l1_loss(x, t), [rand(3, 4), rand(4, seed=1)])
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
    check_against_torch(lambda F, x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target),
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
    check_against_torch(lambda F, x, t: F.poisson_nll_loss(x, t, log_input=log_input, full=full,
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
        check_against_torch(lambda F, x, t: F.gaussian_nll_loss(x, t, 0.7, full=full, reduction=reduction), [x, t])
        return
    var = np.abs(rand(*var_shape, seed=seed + 2))
    var[var < 0.3] = 1e-9  # some below eps: clamped in value only
    check_against_torch(lambda F, x, t, v: F.gaussian_nll_loss(x, t, v, full=full, reduction=reduction),
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
    check_against_torch(lambda F, x, y: F.soft_margin_loss(x, y, reduction=reduction), [rand(*shape, seed=seed)],
                        [signs(*shape, seed=seed)])


@settings(max_examples=20, deadline=None)
@given(shape=shapes, reduction=reductions, margin=st.sampled_from([0.0, 0.5]), seed=seeds)
def test_margin_ranking_and_hinge_embedding_match_torch(shape, reduction, margin, seed):
    x1, x2, y = rand(*shape, seed=seed), rand(*shape, seed=seed + 1), signs(*shape, seed=seed)
    # unreduced, torch's top node is ClampMin, gradlab's clamp(min=) node is Clamp
    check_against_torch(lambda F, a, b, y: F.margin_ranking_loss(a, b, y, margin, reduction=reduction), [x1, x2],
                        [y], names=reduction != "none")
    check_against_torch(lambda F, a, y: F.hinge_embedding_loss(a, y, margin + 1, reduction=reduction), [x1], [y])


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 4), d=st.integers(1, 4), batched=st.booleans(), reduction=reductions,
       margin=st.sampled_from([0.0, 0.3]), seed=seeds)
def test_cosine_embedding_loss_matches_torch(n, d, batched, reduction, margin, seed):
    shape, y = ((n, d), signs(n, seed=seed)) if batched else ((d,), np.array(1.0))
    check_against_torch(lambda F, a, b, y: F.cosine_embedding_loss(a, b, y, margin, reduction=reduction),
                        [rand(*shape, seed=seed), rand(*shape, seed=seed + 1)], [y])


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 4), d=st.integers(1, 4), p=st.sampled_from([1.0, 2.0, 3.0]), swap=st.booleans(),
       reduction=reductions, seed=seeds)
def test_triplet_margin_loss_matches_torch(n, d, p, swap, reduction, seed):
    arrays = [rand(n, d, seed=seed + i) for i in range(3)]
    # torch's top node is ClampMin, gradlab's clamp(min=) node is Clamp: compare values and gradients
    check_against_torch(lambda F, a, pos, neg: F.triplet_margin_loss(a, pos, neg, margin=0.5, p=p, swap=swap,
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
    check_against_torch(lambda F, x, t, *w: F.multi_margin_loss(x, t, p, margin, *w, reduction=reduction),
                        [rand(*shape, seed=seed)], [target] + weight)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 5), batched=st.booleans(), reduction=reductions, seed=seeds)
def test_multilabel_margin_loss_matches_torch(n, c, batched, reduction, seed):
    rng = np.random.default_rng(seed)
    target = rng.integers(-1, c, (n, c))  # each row's classes are those before its first -1
    if not batched:
        target = target[0]
    check_against_torch(lambda F, x, t: F.multilabel_margin_loss(x, t, reduction=reduction),
                        [rand(*target.shape, seed=seed)], [target])


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 5), weighted=st.booleans(), reduction=reductions, seed=seeds)
def test_multilabel_soft_margin_loss_matches_torch(n, c, weighted, reduction, seed):
    target = (rand(n, c, seed=seed + 1) > 0).astype(np.float64)
    weight = [np.abs(rand(c, seed=seed + 2))] if weighted else []
    check_against_torch(lambda F, x, t, *w: F.multilabel_soft_margin_loss(x, t, *w, reduction=reduction),
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


# ---- distances --------------------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), data=st.data(), seed=seeds)
def test_cosine_similarity_matches_torch(shape, data, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x1, x2 = rand(*shape, seed=seed), rand(*shape, seed=seed + 1)
    if data.draw(st.booleans()):
        x1[...] = 0  # a zero vector: its norm is clamped to eps
    check_against_torch(lambda F, a, b: F.cosine_similarity(a, b, dim), [x1, x2])


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 4), d=st.integers(1, 4), p=st.sampled_from([1.0, 2.0, 3.0]), keepdim=st.booleans(),
       seed=seeds)
def test_pairwise_distance_matches_torch(n, d, p, keepdim, seed):
    # torch names the norm NormBackward1, gradlab's norm LinalgVectorNormBackward0: compare values and gradients
    check_against_torch(lambda F, a, b: F.pairwise_distance(a, b, p, keepdim=keepdim),
                        [rand(n, d, seed=seed), rand(n, d, seed=seed + 1)], names=False)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 5), m=st.integers(1, 4), p=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, float("inf")]),
       repeat=st.booleans(), seed=seeds)
def test_pdist_matches_torch(n, m, p, repeat, seed):
    x = rand(n, m, seed=seed)
    if repeat and n > 1:
        x[1] = x[0]  # a zero distance: gradient 0, as PyTorch
    check_against_torch(lambda F, a: F.pdist(a, p), [x])


def test_distance_gradchecks_and_errors():
    x, y = (gradlab.tensor(rand(4, 3, seed=i), requires_grad=True) for i in range(2))
    for p in (1.5, 2.0, 3.0):
        assert gradcheck(lambda x: F.pdist(x, p), (x,))
        assert gradgradcheck(lambda x: F.pdist(x, p), (x,))
    assert gradcheck(lambda x, y: F.cosine_similarity(x, y), (x, y))
    assert gradgradcheck(lambda x, y: F.pairwise_distance(x, y), (x, y))
    with pytest.raises(RuntimeError, match="pdist only supports 2D tensors, got: 3D"):
        F.pdist(x[None])
    with pytest.raises(RuntimeError, match="pdist only supports non-negative p values"):
        F.pdist(x, -1)


# ---- modules ----------------------------------------------------------------------------------
MODULES = [
    ("SmoothL1Loss", {}), ("SmoothL1Loss", {"beta": 0.5, "reduction": "sum"}), ("HuberLoss", {"delta": 2.0}),
    ("KLDivLoss", {"reduction": "batchmean"}), ("SoftMarginLoss", {}), ("MarginRankingLoss", {"margin": 0.2}),
    ("HingeEmbeddingLoss", {}), ("CosineEmbeddingLoss", {"margin": 0.1}), ("TripletMarginLoss", {"p": 1.0}),
    ("TripletMarginWithDistanceLoss", {}), ("MultiMarginLoss", {"p": 2}), ("MultiLabelMarginLoss", {}),
    ("MultiLabelSoftMarginLoss", {}), ("PoissonNLLLoss", {"full": True}), ("GaussianNLLLoss", {"eps": 1e-3}),
    ("CosineSimilarity", {"dim": 0}), ("PairwiseDistance", {"p": 3.0, "keepdim": True}),
]


@pytest.mark.parametrize("name,kwargs", MODULES)
def test_module_repr_and_options_match_torch(name, kwargs):
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    for attr in ("reduction", "beta", "delta", "log_target", "margin", "p", "eps", "swap", "full", "log_input",
                 "dim", "norm", "keepdim"):
        if hasattr(theirs, attr):
            assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_modules_compute_what_the_functionals_compute():
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
        (nn.CosineSimilarity(), torch.nn.CosineSimilarity(), [x, t]),
        (nn.PairwiseDistance(), torch.nn.PairwiseDistance(), [x, t]),
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
