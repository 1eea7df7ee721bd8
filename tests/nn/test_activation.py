"""PReLU, SELU, CELU, Mish, Hardswish, Hardsigmoid, Hardshrink, Softshrink, Tanhshrink, Softsign, Softmin,
LogSigmoid, GLU, Threshold, RReLU and the in-place functionals: gradcheck, and values, gradients, grad_fn names,
parameters and reprs against torch."""
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

from against_torch import assert_close, check_against_torch, pair  # noqa: E402


def values(shape, seed, scale=3.0):
    """Random values, with the kinks of the piecewise activations (0, +-0.5, +-3) among them."""
    rng = np.random.default_rng(seed)
    a = np.asarray(rng.standard_normal(shape) * scale)
    kinks = np.array([0.0, 0.5, -0.5, 3.0, -3.0, 1.0])
    pick = rng.random(shape) < 0.2
    a[pick] = rng.choice(kinks, size=int(pick.sum()))
    return a


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)

# (our functional call, torch's), both taking one tensor
UNARY = {
    "selu": (F.selu, TF.selu), "celu": (F.celu, TF.celu),
    "celu_alpha": (lambda x: F.celu(x, alpha=2.5), lambda x: TF.celu(x, alpha=2.5)),
    "mish": (F.mish, TF.mish), "hardswish": (F.hardswish, TF.hardswish),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid), "hardshrink": (F.hardshrink, TF.hardshrink),
    "hardshrink_l": (lambda x: F.hardshrink(x, 1.0), lambda x: TF.hardshrink(x, 1.0)),
    "softshrink": (F.softshrink, TF.softshrink),
    "softshrink_l": (lambda x: F.softshrink(x, 1.0), lambda x: TF.softshrink(x, 1.0)),
    "tanhshrink": (F.tanhshrink, TF.tanhshrink), "softsign": (F.softsign, TF.softsign),
    "softmin": (lambda x: F.softmin(x, -1), lambda x: TF.softmin(x, -1)), "logsigmoid": (F.logsigmoid, TF.logsigmoid),
    "threshold": (lambda x: F.threshold(x, 0.5, -2.0), lambda x: TF.threshold(x, 0.5, -2.0)),
    "rrelu_eval": (F.rrelu, TF.rrelu),
    "rrelu_bounds": (lambda x: F.rrelu(x, 0.1, 0.6), lambda x: TF.rrelu(x, 0.1, 0.6)),
}

# the ones whose gradient is smooth enough away from the kinks for finite differences
SMOOTH = ["selu", "celu", "celu_alpha", "mish", "tanhshrink", "softsign", "softmin", "logsigmoid"]


@settings(max_examples=8, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2 ** 16))
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_torch(name, shape, seed):
    ours, theirs = UNARY[name]
    check_against_torch(ours, theirs, [values(shape, seed)])


@pytest.mark.parametrize("name", SMOOTH + ["hardswish", "hardsigmoid", "hardshrink", "softshrink", "threshold",
                                           "rrelu_eval"])
def test_unary_gradcheck_and_gradgradcheck(name):
    # values away from every kink, where finite differences are exact enough
    a = np.random.default_rng(0).uniform(0.6, 2.9, (3, 4)) * np.random.default_rng(1).choice([-1, 1], (3, 4))
    x = gradlab.tensor(a, requires_grad=True)
    assert gradcheck(UNARY[name][0], (x,))
    assert gradgradcheck(UNARY[name][0], (x,))


def test_float32_keeps_dtype():
    a = values((3, 5), 0).astype(np.float32)
    for name, (ours, theirs) in UNARY.items():
        out = ours(gradlab.tensor(a))
        assert_close(out, theirs(torch.tensor(a)), rtol=1e-5, atol=1e-6)


# ---- prelu and glu ----------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple), per_channel=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_prelu_matches_torch(shape, per_channel, seed):
    channels = shape[1] if len(shape) >= 2 else 1
    n_weights = channels if per_channel else 1
    weight = np.random.default_rng(seed + 1).uniform(-0.5, 0.5, n_weights)
    check_against_torch(F.prelu, TF.prelu, [values(shape, seed), weight])


def test_prelu_gradcheck_and_errors():
    x = gradlab.tensor(values((2, 3, 2), 0), requires_grad=True)
    w = gradlab.tensor([0.2, -0.1, 0.4], dtype=gradlab.float64, requires_grad=True)
    assert gradcheck(F.prelu, (x, w))
    assert gradgradcheck(F.prelu, (x, w))
    with pytest.raises(RuntimeError, match="Found parameter numbers = 4 and channel size = 3"):
        F.prelu(x, gradlab.ones(4, dtype=gradlab.float64))
    with pytest.raises(RuntimeError, match="Expected `weight` to be a scalar or 1D tensor, but got: ndim = 2"):
        F.prelu(x, gradlab.ones(3, 1, dtype=gradlab.float64))


@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple), data=st.data(),
       seed=st.integers(0, 2 ** 16))
def test_glu_matches_torch(shape, data, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    shape = list(shape)
    shape[dim] *= 2
    check_against_torch(lambda x: F.glu(x, dim), lambda x: TF.glu(x, dim), [values(tuple(shape), seed)])


def test_glu_gradgradcheck_and_errors():
    x = gradlab.tensor(values((2, 4), 0), requires_grad=True)
    assert gradgradcheck(lambda x: F.glu(x, 1), (x,))
    with pytest.raises(RuntimeError, match="Halving dimension must be even, but dimension 0 is size 3"):
        F.glu(gradlab.randn(3, 4), 0)
    with pytest.raises(RuntimeError, match="glu does not support scalars"):
        F.glu(gradlab.tensor(1.0))


# ---- rrelu in training ------------------------------------------------------------------------
def test_rrelu_training_draws_slopes_within_bounds():
    gradlab.manual_seed(0)
    x = gradlab.tensor(-np.ones((200,)), requires_grad=True)
    out = F.rrelu(x, 0.1, 0.3, training=True)
    slopes = -out._data
    assert ((slopes >= 0.1) & (slopes <= 0.3)).all()
    assert slopes.std() > 0.03  # drawn per element, not one slope for all
    out.sum().backward()
    np.testing.assert_array_equal(x.grad._data, slopes)  # the gradient is each element's slope
    positive = gradlab.tensor(np.arange(1.0, 5.0))
    np.testing.assert_array_equal(F.rrelu(positive, training=True)._data, positive._data)
    with pytest.raises(RuntimeError, match="Lower bound should be less than or equal to the upper bound"):
        F.rrelu(x, 0.5, 0.1, training=True)


def test_rrelu_module_is_deterministic_in_eval():
    m = nn.RReLU(0.1, 0.5)
    x = gradlab.tensor(values((4, 5), 0))
    m.eval()
    np.testing.assert_allclose(m(x)._data, TF.rrelu(torch.tensor(x._data), 0.1, 0.5).numpy())
    m.train()
    assert not np.allclose(m(x)._data, m(x)._data)


# ---- in-place functionals ---------------------------------------------------------------------
INPLACE = [
    ("elu_", {}), ("elu_", {"alpha": 0.5}), ("leaky_relu_", {}), ("leaky_relu_", {"negative_slope": 0.2}),
    ("hardtanh_", {}), ("hardtanh_", {"min_val": -0.5, "max_val": 2.0}), ("selu_", {}), ("celu_", {}),
    ("celu_", {"alpha": 2.0}), ("threshold_", {"threshold": 0.3, "value": 5.0}), ("rrelu_", {}),
]


@pytest.mark.parametrize("name,kwargs", INPLACE)
def test_inplace_functionals_match_torch(name, kwargs):
    a = values((3, 4), 2)
    x, xt = pair(a)
    y, yt = x * 1, xt * 1
    out, ref = getattr(F, name)(y, **kwargs), getattr(TF, name)(yt, **kwargs)
    assert out is y and ref is yt
    assert_close(y, yt)
    assert y.grad_fn.name() == type(yt.grad_fn).__name__
    y.sum().backward()
    yt.sum().backward()
    assert_close(x.grad, xt.grad)


@pytest.mark.parametrize("name", ["selu", "celu", "mish", "hardswish", "hardsigmoid", "threshold", "rrelu"])
def test_inplace_flag_writes_into_the_input(name):
    a = values((3, 4), 3)
    x = gradlab.tensor(a.copy())
    args = (0.2, 1.0) if name == "threshold" else ()
    out = getattr(F, name)(x, *args, inplace=True)
    assert out is x
    np.testing.assert_allclose(x._data, getattr(TF, name)(torch.tensor(a), *args).numpy(), rtol=1e-6)


# ---- modules: parameters, reset, repr ---------------------------------------------------------
MODULES = [
    ("PReLU", (), {}), ("PReLU", (3, 0.1), {}), ("SELU", (), {}), ("SELU", (True,), {}), ("CELU", (), {}),
    ("CELU", (2.0, True), {}), ("Mish", (), {}), ("Mish", (True,), {}), ("Hardswish", (), {}),
    ("Hardswish", (True,), {}), ("Hardsigmoid", (True,), {}), ("Hardshrink", (), {}), ("Softshrink", (0.3,), {}),
    ("Tanhshrink", (), {}), ("Softsign", (), {}), ("Softmin", (1,), {}), ("Softmin", (), {}), ("LogSigmoid", (), {}),
    ("GLU", (), {}), ("GLU", (1,), {}), ("Threshold", (0.1, 20.0), {}), ("Threshold", (0.1, 2, True), {}),
    ("RReLU", (), {}), ("RReLU", (0.1, 0.3, True), {}), ("Softmax2d", (), {}),
]


@pytest.mark.parametrize("name,args,kwargs", MODULES)
def test_module_repr_and_parameters_match_torch(name, args, kwargs):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for key in ours_state:
        assert_close(ours_state[key], theirs_state[key])
    if hasattr(ours, "reset_parameters"):
        for p in ours.parameters():
            p.data.mul_(-3.0)
        ours.reset_parameters()
        for key in ours_state:
            assert_close(ours.state_dict()[key], theirs_state[key])


@pytest.mark.parametrize("name,args", [("SELU", ()), ("CELU", (1.5,)), ("Mish", ()), ("Hardswish", ()),
                                       ("Hardsigmoid", ()), ("Hardshrink", (0.7,)), ("Softshrink", ()),
                                       ("Tanhshrink", ()), ("Softsign", ()), ("Softmin", (0,)), ("LogSigmoid", ()),
                                       ("GLU", (0,)), ("Threshold", (0.2, -1.0)), ("RReLU", ())])
def test_module_forward_matches_torch(name, args):
    ours, theirs = getattr(nn, name)(*args).eval(), getattr(torch.nn, name)(*args).eval()
    check_against_torch(ours, theirs, [values((4, 3), 5)])


def test_prelu_module_trains_like_torch():
    ours, theirs = nn.PReLU(3).double(), torch.nn.PReLU(3).double()
    a = values((5, 3, 2), 7)
    for model, lib in ((ours, gradlab), (theirs, torch)):
        out = model(lib.tensor(a))
        (out * out).sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad)


@pytest.mark.parametrize("shape", [(3, 2, 4), (2, 3, 2, 2)])
def test_softmax2d_matches_torch(shape):
    check_against_torch(nn.Softmax2d(), torch.nn.Softmax2d(), [values(shape, 0)])
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D instead"):
        nn.Softmax2d()(gradlab.randn(2, 3))


# ---- gradlab.<name> as torch.<name> -------------------------------------------------------------
TOP_LEVEL = [("layer_norm", ((4,),)), ("group_norm", (2,)), ("rms_norm", ([4],)), ("selu", ()), ("celu", (0.5,)),
             ("rrelu", ()), ("threshold", (0.2, -1.0)), ("hardshrink", (0.3,)), ("pdist", (1.0,))]


@pytest.mark.parametrize("name,args", TOP_LEVEL)
def test_top_level_functions_match_torch(name, args):
    check_against_torch(lambda x: getattr(gradlab, name)(x, *args), lambda x: getattr(torch, name)(x, *args),
                        [values((3, 4), 4)])


def test_top_level_two_argument_functions_match_torch():
    check_against_torch(gradlab.prelu, torch.prelu, [values((3, 4), 0), np.array([0.3])])
    check_against_torch(gradlab.cosine_similarity, torch.cosine_similarity, [values((3, 4), 0), values((3, 4), 1)])
    a, b = values((3, 4), 0), values((3, 4), 1)  # (its node is named differently: see test_grad_fn_names)
    assert_close(gradlab.pairwise_distance(gradlab.tensor(a), gradlab.tensor(b)),
                 torch.pairwise_distance(torch.tensor(a), torch.tensor(b)))
    y = gradlab.tensor(values((3, 4), 2))
    assert gradlab.selu_(y) is y and gradlab.celu_(y) is y and gradlab.threshold_(y, 0.0, 1.0) is y


@pytest.mark.parametrize("name", ["mish", "hardswish", "silu", "hardsigmoid", "selu", "celu", "elu"])
def test_inplace_flag_backward_matches_torch(name):
    """In place, the ops whose backward reads their input still differentiate (from the old values)."""
    a = values((3, 4), 6)
    x, xt = (lib.tensor(a.copy(), requires_grad=True) for lib in (gradlab, torch))
    y, yt = x * 1, xt * 1
    getattr(F, name)(y, inplace=True)
    getattr(TF, name)(yt, inplace=True)
    assert_close(y, yt)
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    assert_close(x.grad, xt.grad)


def test_prelu_refuses_a_weight_of_another_dtype_as_torch():
    for lib in (torch, gradlab):
        with pytest.raises(RuntimeError, match="Type promoting not supported"):
            lib.nn.functional.prelu(lib.ones(2, 3, dtype=lib.float64), lib.ones(1))
