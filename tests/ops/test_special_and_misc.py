"""gradlab.special (torch.special), finfo / iinfo, cdist, block_diag, atleast_nd, cartesian_prod and
combinations: values against SciPy / NumPy / itertools, float64 gradients (first and second order) by
central differences, and values, gradients and errors against PyTorch."""
import itertools

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial.distance
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special as sp

import gradlab
from gradlab import special as S
from gradlab.autograd import gradcheck, gradgradcheck

SETTINGS = settings(max_examples=10, deadline=None)
seeds = st.integers(0, 2 ** 31 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)


def t(array):
    return gradlab.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def check_grads(fn, *inputs):
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


# ---- special: the new functions, against SciPy ----------------------------------------------------------------
# name -> (gradlab function, SciPy reference, a sampler of safe inputs)
NEW = {
    "ndtr": (S.ndtr, sp.ndtr, lambda rng, shape: rng.normal(0, 2, shape)),
    "ndtri": (S.ndtri, sp.ndtri, lambda rng, shape: rng.uniform(0.02, 0.98, shape)),
    "log_ndtr": (S.log_ndtr, sp.log_ndtr, lambda rng, shape: rng.normal(0, 3, shape)),
    "entr": (S.entr, sp.entr, lambda rng, shape: rng.uniform(0.1, 3, shape)),
    "i0": (S.i0, sp.i0, lambda rng, shape: rng.normal(0, 2, shape)),
    "i1": (S.i1, sp.i1, lambda rng, shape: rng.normal(0, 2, shape)),
    "i0e": (S.i0e, sp.i0e, lambda rng, shape: rng.normal(0, 4, shape)),
    "i1e": (S.i1e, sp.i1e, lambda rng, shape: rng.normal(0, 4, shape)),
    "erfcx": (S.erfcx, sp.erfcx, lambda rng, shape: rng.normal(0, 2, shape)),
    "multigammaln(p=3)": (lambda x: S.multigammaln(x, 3), lambda x: sp.multigammaln(x, 3),
                          lambda rng, shape: rng.uniform(1.2, 5, shape)),
}


@pytest.mark.parametrize("name", sorted(NEW))
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_new_special_values_and_gradients(name, shape, seed):
    ours, reference, sample = NEW[name]
    x = sample(np.random.default_rng(seed), shape)
    np.testing.assert_allclose(ours(t(x)).detach().numpy(), reference(x), rtol=1e-12, atol=1e-14)
    check_grads(ours, t(np.ravel(x)[:6]))  # (at most 6 elements: the second-order check costs more)


@SETTINGS
@given(shape=shapes, seed=seeds)
def test_xlog1py(shape, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=shape), rng.uniform(-0.9, 3, shape)
    np.testing.assert_allclose(S.xlog1py(t(x), t(y)).detach().numpy(), sp.xlog1py(x, y), rtol=1e-12)
    check_grads(S.xlog1py, t(x), t(y))


def test_special_edge_values():
    assert S.xlog1py(t(0.0), t(-1.0)).item() == 0.0  # 0 * log(0) is 0
    assert np.isnan(S.xlog1py(t(0.0), t(float("nan"))).item())
    assert S.entr(t(0.0)).item() == 0.0 and S.entr(t(-1.0)).item() == -np.inf
    for fn, slope in ((S.i1, 0.5), (S.i1e, 0.5), (S.i0e, 0.0)):
        x = t([0.0])
        fn(x).backward()
        assert x.grad.item() == slope  # at 0, without 0 / 0
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        S.multigammaln(t([2.0]), 0)
    assert S.ndtri(t([0.0, 1.0])).tolist() == [-np.inf, np.inf]


def test_integers_compute_in_the_default_float_dtype():
    for fn in (S.ndtr, S.ndtri, S.log_ndtr, S.entr, S.i0, S.i1, S.i0e, S.i1e, S.erfcx):
        assert fn(gradlab.tensor([1, 2])).dtype == gradlab.float32
    assert S.ndtr(gradlab.tensor([1.0], dtype=gradlab.float64)).dtype == gradlab.float64


ALIASES = {"expit": "sigmoid", "gammaln": "lgamma", "psi": "digamma", "erf": "erf", "erfc": "erfc",
           "erfinv": "erfinv", "logit": "logit", "sinc": "sinc", "exp2": "exp2", "expm1": "expm1", "log1p": "log1p",
           "digamma": "digamma"}


@pytest.mark.parametrize("name", sorted(ALIASES))
def test_aliases_compute_the_same_function(name):
    x = np.random.default_rng(0).uniform(0.1, 0.9, (3, 4))
    np.testing.assert_array_equal(getattr(S, name)(t(x)).detach().numpy(),
                                  getattr(gradlab, ALIASES[name])(t(x)).detach().numpy())


def test_aliases_with_arguments():
    x = np.random.default_rng(0).uniform(0.1, 3, (3, 4))
    np.testing.assert_allclose(S.polygamma(2, t(x)).detach().numpy(), sp.polygamma(2, x))
    np.testing.assert_allclose(S.xlogy(t(x), t(x)).detach().numpy(), x * np.log(x))
    np.testing.assert_allclose(S.logsumexp(t(x), 1, keepdim=True).detach().numpy(), sp.logsumexp(x, 1, keepdims=True))
    np.testing.assert_allclose(S.softmax(t(x), 0).detach().numpy(), sp.softmax(x, 0))
    np.testing.assert_allclose(S.log_softmax(t(x), 1, dtype=gradlab.float32).detach().numpy(),
                               sp.log_softmax(x, 1), rtol=1e-6)
    assert S.log_softmax(t(x), 1, dtype=gradlab.float32).dtype == gradlab.float32
    np.testing.assert_array_equal(S.round(t(x * 10)).detach().numpy(), np.round(x * 10))
    np.testing.assert_array_equal(S.round(t(x), decimals=1).detach().numpy(), np.round(x, 1))


# ---- finfo and iinfo -------------------------------------------------------------------------------------------
def test_finfo_iinfo_values():
    f = gradlab.finfo(gradlab.float32)
    assert (f.bits, f.eps, f.tiny, f.resolution, f.dtype) == (32, 2.0 ** -23, 2.0 ** -126, 1e-06, "float32")
    assert gradlab.finfo().dtype == "float32"
    assert gradlab.finfo(gradlab.float16).max == 65504.0
    i = gradlab.iinfo(gradlab.int8)
    assert (i.bits, i.min, i.max, i.dtype) == (8, -128, 127, "int8")
    assert gradlab.iinfo(gradlab.int64).max == 2 ** 63 - 1
    with pytest.raises(TypeError, match="floating point"):
        gradlab.finfo(gradlab.int32)
    with pytest.raises(TypeError, match="integer"):
        gradlab.iinfo(gradlab.float32)


# ---- cdist -----------------------------------------------------------------------------------------------------
P_VALUES = [0.0, 1.0, 1.5, 2.0, 3.0, float("inf")]


@SETTINGS
@given(p=st.sampled_from(P_VALUES), rows=st.integers(1, 4), cols=st.integers(1, 4), dim=st.integers(1, 3),
       seed=seeds)
def test_cdist_values(p, rows, cols, dim, seed):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=(rows, dim)), rng.normal(size=(cols, dim))
    if p == 0:
        expected = (x1[:, None, :] != x2[None, :, :]).sum(-1)
    elif p == float("inf"):
        expected = scipy.spatial.distance.cdist(x1, x2, "chebyshev")
    else:
        expected = scipy.spatial.distance.cdist(x1, x2, "minkowski", p=p)
    np.testing.assert_allclose(gradlab.cdist(t(x1), t(x2), p).detach().numpy(), expected, rtol=1e-12)


@settings(max_examples=5, deadline=None)
@given(p=st.sampled_from(P_VALUES[1:]), batch=st.sampled_from([(), (2,)]), seed=seeds)
def test_cdist_gradients(p, batch, seed):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=batch + (3, 2)), rng.normal(size=(1,) * len(batch) + (2, 2))
    assert gradcheck(lambda a, b: gradlab.cdist(a, b, p), (t(x1), t(x2)))
    if p in (1.5, 2.0, 3.0):  # (at p = 1 and inf the derivative is piecewise constant)
        assert gradgradcheck(lambda a, b: gradlab.cdist(a, b, p), (t(x1), t(x2)))


@pytest.mark.parametrize("p", [0.3, 0.5])
def test_cdist_gradient_for_p_below_one_where_a_coordinate_difference_is_zero(p):
    # |0|^(p-1) is inf for p < 1: a shared coordinate, or a zero distance, must give a zero gradient, not NaN
    x1 = np.array([[0.5, 1.0], [2.0, -1.0]])
    x2 = np.array([[0.5, 3.0], [2.0, -1.0]])  # x2[0] shares a coordinate with x1[0]; x2[1] equals x1[1]
    a, b = t(x1), t(x2)
    gradlab.cdist(a, b, p).sum().backward()
    for grad in (a.grad, b.grad):
        assert np.isfinite(grad.numpy()).all()
    a_ = t(x1[:1])
    b_ = t(x2[:1])  # a single pair at nonzero distance: the shared coordinate gets exactly 0
    gradlab.cdist(a_, b_, p).sum().backward()
    assert a_.grad.numpy()[0, 0] == 0 and a_.grad.numpy()[0, 1] == pytest.approx(-1.0)
    torch = pytest.importorskip("torch")
    ta, tb = (torch.tensor(x, requires_grad=True) for x in (x1, x2))
    torch.cdist(ta, tb, p).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_cdist_errors():
    with pytest.raises(RuntimeError, match="same number of columns"):
        gradlab.cdist(t(np.ones((2, 3))), t(np.ones((2, 4))))
    with pytest.raises(RuntimeError, match="at least 2D"):
        gradlab.cdist(t(np.ones(3)), t(np.ones((2, 3))))
    with pytest.raises(RuntimeError, match="non-negative"):
        gradlab.cdist(t(np.ones((2, 3))), t(np.ones((2, 3))), p=-1)
    with pytest.raises(RuntimeError, match=r"cdist: the batch dims of X1 \[2, 3, 2\] and X2 \[3, 4, 2\]"):
        gradlab.cdist(t(np.ones((2, 3, 2))), t(np.ones((3, 4, 2))))


# ---- block_diag, atleast_nd, cartesian_prod, combinations ------------------------------------------------------
@SETTINGS
@given(blocks=st.lists(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), min_size=1, max_size=3), seed=seeds)
def test_block_diag(blocks, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(size=shape) for shape in blocks]
    expected = scipy.linalg.block_diag(*[a.reshape(1, -1) if a.ndim < 2 else a for a in arrays])
    np.testing.assert_array_equal(gradlab.block_diag(*[t(a) for a in arrays]).detach().numpy(), expected)
    check_grads(lambda *xs: gradlab.block_diag(*xs), *[t(a) for a in arrays])


def test_block_diag_dtype_and_errors():
    out = gradlab.block_diag(gradlab.tensor([1, 2]), gradlab.tensor([[1.5]]))
    assert out.dtype == gradlab.float32 and out.tolist() == [[1, 2, 0], [0, 0, 1.5]]
    with pytest.raises(RuntimeError, match="2 or fewer dimensions"):
        gradlab.block_diag(gradlab.ones(1, 1, 1))
    empty = gradlab.block_diag()  # no blocks at all: a 1 x 0 float32 matrix, as PyTorch
    assert empty.shape == (1, 0) and empty.dtype == gradlab.float32


@SETTINGS
@given(shape=shapes)
def test_atleast_nd(shape):
    x = np.zeros(shape)
    for ours, theirs in ((gradlab.atleast_1d, np.atleast_1d), (gradlab.atleast_2d, np.atleast_2d),
                         (gradlab.atleast_3d, np.atleast_3d)):
        assert tuple(ours(t(x)).shape) == theirs(x).shape
        pair = ours(t(x), t(x))
        assert isinstance(pair, tuple) and [tuple(p.shape) for p in pair] == [theirs(x).shape] * 2
        assert isinstance(ours([t(x)]), tuple)


@SETTINGS
@given(sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3), seed=seeds)
def test_cartesian_prod(sizes, seed):
    rng = np.random.default_rng(seed)
    vectors = [rng.normal(size=n) for n in sizes]
    expected = np.array(list(itertools.product(*vectors)))
    out = gradlab.cartesian_prod(*[t(v) for v in vectors]).detach().numpy()
    np.testing.assert_array_equal(out, expected[:, 0] if len(sizes) == 1 else expected)
    check_grads(lambda *vs: gradlab.cartesian_prod(*vs), *[t(v) for v in vectors])


@SETTINGS
@given(n=st.integers(1, 5), r=st.integers(1, 4), with_replacement=st.booleans(), seed=seeds)
def test_combinations(n, r, with_replacement, seed):
    v = np.random.default_rng(seed).normal(size=n)
    choose = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    expected = np.array(list(choose(v, r))).reshape(-1, r)
    out = gradlab.combinations(t(v), r, with_replacement).detach().numpy()
    np.testing.assert_array_equal(out, expected)
    if expected.size:
        check_grads(lambda x: gradlab.combinations(x, r, with_replacement), t(v))


def test_vector_only_errors():
    with pytest.raises(RuntimeError, match=r"Expect a 1D vector, but got shape \[2, 2\]"):
        gradlab.combinations(gradlab.ones(2, 2))
    with pytest.raises(RuntimeError, match="Expect a 1D vector"):
        gradlab.cartesian_prod(gradlab.ones(2), gradlab.ones(2, 2))


# ---- against PyTorch --------------------------------------------------------------------------------------------
torch = pytest.importorskip("torch")


def grads_match(fn, *arrays, rtol=1e-10, atol=1e-12):
    """fn(lib, *tensors).sum() in both libraries: the values, and the gradient of every input."""
    ours = [t(a) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out_ours, out_theirs = fn(gradlab, *ours), fn(torch, *theirs)
    np.testing.assert_allclose(out_ours.detach().numpy(), out_theirs.detach().numpy(), rtol=rtol, atol=atol)
    out_ours.sum().backward()
    out_theirs.sum().backward()
    for a, b in zip(ours, theirs):
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)


SPECIAL_CASES = {
    "ndtr": lambda lib, x: lib.special.ndtr(x),
    "ndtri": lambda lib, x: lib.special.ndtri(lib.sigmoid(x)),
    "log_ndtr": lambda lib, x: lib.special.log_ndtr(x * 4),
    "entr": lambda lib, x: lib.special.entr(x.abs() + 0.1),
    "i0": lambda lib, x: lib.special.i0(x),
    "i1": lambda lib, x: lib.special.i1(x),
    "i0e": lambda lib, x: lib.special.i0e(x * 3),
    "i1e": lambda lib, x: lib.special.i1e(x * 3),
    "erfcx": lambda lib, x: lib.special.erfcx(x),
    "multigammaln": lambda lib, x: lib.special.multigammaln(x.abs() + 2, 4),
    "xlog1py": lambda lib, x: lib.special.xlog1py(x, x.exp()),
    "expit": lambda lib, x: lib.special.expit(x),
    "gammaln": lambda lib, x: lib.special.gammaln(x.abs() + 0.5),
    "psi": lambda lib, x: lib.special.psi(x.abs() + 0.5),
    "polygamma": lambda lib, x: lib.special.polygamma(1, x.abs() + 0.5),
    "logit": lambda lib, x: lib.special.logit(lib.sigmoid(x), eps=0.1),
    "erfinv": lambda lib, x: lib.special.erfinv(lib.tanh(x)),
    "erfc": lambda lib, x: lib.special.erfc(x),
    "sinc": lambda lib, x: lib.special.sinc(x),
    "exp2": lambda lib, x: lib.special.exp2(x),
    "logsumexp": lambda lib, x: lib.special.logsumexp(x, -1),
    "softmax": lambda lib, x: lib.special.softmax(x, 0) * x,
    "log_softmax": lambda lib, x: lib.special.log_softmax(x, -1) * x,
    "round": lambda lib, x: lib.special.round(x * 3, decimals=1),
}


@pytest.mark.parametrize("name", sorted(SPECIAL_CASES))
@settings(max_examples=4, deadline=None)
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=4),
                    elements=st.floats(-3, 3, allow_subnormal=False)))
def test_special_matches_torch(name, x):
    # sinc's slope (cos(pi x) - sinc(x)) / x loses digits to cancellation near 0, in both libraries
    grads_match(SPECIAL_CASES[name], x, rtol=1e-9, atol=1e-8 if name == "sinc" else 1e-11)


MISC_CASES = {
    "cdist p=2": lambda lib, a, b: lib.cdist(a, b),
    "cdist p=1": lambda lib, a, b: lib.cdist(a, b, p=1),
    "cdist p=3": lambda lib, a, b: lib.cdist(a, b, p=3.0),
    "cdist p=inf": lambda lib, a, b: lib.cdist(a, b, p=float("inf")),
    "block_diag": lambda lib, a, b: lib.block_diag(a, b[0], b) * lib.block_diag(a, b[0], b).detach(),
    "cartesian_prod": lambda lib, a, b: lib.cartesian_prod(a[0], b[1]) ** 2,
    "combinations": lambda lib, a, b: lib.combinations(a[0], 2) ** 2,
    "combinations(with_replacement)": lambda lib, a, b: lib.combinations(b[0], 3, with_replacement=True) ** 2,
    "atleast_3d": lambda lib, a, b: lib.atleast_3d(a[0]) ** 2,
}


@pytest.mark.parametrize("name", sorted(MISC_CASES))
@settings(max_examples=4, deadline=None)
@given(rows=st.integers(1, 4), seed=seeds)
def test_misc_matches_torch(name, rows, seed):
    rng = np.random.default_rng(seed)
    grads_match(MISC_CASES[name], rng.normal(size=(rows, 3)), rng.normal(size=(2, 3)))


@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_finfo_matches_torch(name):
    ours, theirs = gradlab.finfo(getattr(gradlab, name)), torch.finfo(getattr(torch, name))
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo_matches_torch(name):
    ours, theirs = gradlab.iinfo(getattr(gradlab, name)), torch.iinfo(getattr(torch, name))
    for field in ("bits", "max", "min", "dtype"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert repr(ours) == repr(theirs)


def test_info_errors_match_torch():
    for ours, theirs in ((lambda: gradlab.finfo(gradlab.int32), lambda: torch.finfo(torch.int32)),
                         (lambda: gradlab.iinfo(gradlab.float32), lambda: torch.iinfo(torch.float32)),
                         (lambda: gradlab.iinfo(gradlab.bool), lambda: torch.iinfo(torch.bool))):
        with pytest.raises(TypeError) as ours_error:
            ours()
        with pytest.raises(TypeError) as theirs_error:
            theirs()
        assert str(ours_error.value) == str(theirs_error.value)
