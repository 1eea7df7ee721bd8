"""The special functions (gradlab/ops/special.py and the gradlab.special namespace, torch.special) beyond their
specs: values against SciPy, float64 gradients (first and second order) by central differences, aliases,
NaN-aware reductions, edge values, errors, and values and gradients against PyTorch."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special as sp

import gradlab
from gradlab import special as S
from ops_helpers import (check_binary_edges, check_grads, check_unary_edges, computes_in_default_float, leaf,
                         needs_torch, raises_named_error, torch, values_and_grads_match)

SETTINGS = settings(max_examples=10, deadline=None)
seeds = st.integers(0, 2 ** 31 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)


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
    np.testing.assert_allclose(ours(leaf(x)).detach().numpy(), reference(x), rtol=1e-12, atol=1e-14)
    check_grads(ours, leaf(np.ravel(x)[:6]))  # (at most 6 elements: the second-order check costs more)


@SETTINGS
@given(shape=shapes, seed=seeds)
def test_xlog1py(shape, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=shape), rng.uniform(-0.9, 3, shape)
    np.testing.assert_allclose(S.xlog1py(leaf(x), leaf(y)).detach().numpy(), sp.xlog1py(x, y), rtol=1e-12)
    check_grads(S.xlog1py, leaf(x), leaf(y))


def test_special_edge_values():
    assert S.xlog1py(leaf(0.0), leaf(-1.0)).item() == 0.0  # 0 * log(0) is 0
    assert np.isnan(S.xlog1py(leaf(0.0), leaf(float("nan"))).item())
    assert S.entr(leaf(0.0)).item() == 0.0 and S.entr(leaf(-1.0)).item() == -np.inf
    for fn, slope in ((S.i1, 0.5), (S.i1e, 0.5), (S.i0e, 0.0)):
        x = leaf([0.0])
        fn(x).backward()
        assert x.grad.item() == slope  # at 0, without 0 / 0
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        S.multigammaln(leaf([2.0]), 0)
    assert S.ndtri(leaf([0.0, 1.0])).tolist() == [-np.inf, np.inf]


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
    np.testing.assert_array_equal(getattr(S, name)(leaf(x)).detach().numpy(),
                                  getattr(gradlab, ALIASES[name])(leaf(x)).detach().numpy())


def test_aliases_with_arguments():
    x = np.random.default_rng(0).uniform(0.1, 3, (3, 4))
    np.testing.assert_allclose(S.polygamma(2, leaf(x)).detach().numpy(), sp.polygamma(2, x))
    np.testing.assert_allclose(S.xlogy(leaf(x), leaf(x)).detach().numpy(), x * np.log(x))
    np.testing.assert_allclose(S.logsumexp(leaf(x), 1, keepdim=True).detach().numpy(), sp.logsumexp(x, 1, keepdims=True))
    np.testing.assert_allclose(S.softmax(leaf(x), 0).detach().numpy(), sp.softmax(x, 0))
    np.testing.assert_allclose(S.log_softmax(leaf(x), 1, dtype=gradlab.float32).detach().numpy(),
                               sp.log_softmax(x, 1), rtol=1e-6)
    assert S.log_softmax(leaf(x), 1, dtype=gradlab.float32).dtype == gradlab.float32
    np.testing.assert_array_equal(S.round(leaf(x * 10)).detach().numpy(), np.round(x * 10))
    np.testing.assert_array_equal(S.round(leaf(x), decimals=1).detach().numpy(), np.round(x, 1))


# ---- NaN-aware reductions -------------------------------------------------------------------------------------
def test_nanmean_gradient_with_nan():
    """NaN elements get no gradient; the others share 1 / (their count), for any dims."""
    nan = float("nan")
    values = np.array([[[1.0, nan, 2.0], [nan, 0.5, -1.0]], [[3.0, 0.25, nan], [2.0, -2.0, 1.5]]])
    for dim in (None, 0, 1, -1, (0, 2)):
        x = gradlab.tensor(values, requires_grad=True)
        assert gradlab.autograd.gradcheck(lambda t: gradlab.nanmean(t, dim), (x,))
        assert gradlab.autograd.gradcheck(lambda t: t.nansum(dim, keepdim=True), (x,))
        (g,) = gradlab.autograd.grad(gradlab.nanmean(x, dim).sum(), x)
        assert (g.numpy()[np.isnan(values)] == 0).all()
        if torch is not None:
            t = torch.tensor(values, requires_grad=True)
            (tg,) = torch.autograd.grad((torch.nanmean(t) if dim is None else torch.nanmean(t, dim)).sum(), t)
            np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-12)
            assert gradlab.nanmean(x, dim).grad_fn.name() == type(torch.nanmean(t, dim).grad_fn).__name__


def test_nanmean_of_all_nan_is_nan():
    out = gradlab.tensor([[float("nan")] * 2, [1.0, float("nan")]]).nanmean(1)
    np.testing.assert_array_equal(out.numpy(), [np.nan, 1.0])
    assert gradlab.nansum(gradlab.full((3,), float("nan"))).item() == 0


# ---- values and gradients at the edges (ops_helpers.EDGES) ------------------------------------------------------
UNARY_EDGE_CASES = {name: (lambda name: lambda lib, x: getattr(lib, name)(x))(name) for name in (
    "erf", "erfc", "erfinv", "lgamma", "digamma", "logit", "sinc")}
# (without NaN: PyTorch's gradient of logit(NaN, eps) is NaN or 0 depending on the vectorized loop it lands in)
UNARY_EDGE_CASES["logit_eps"] = lambda lib, x: lib.logit(x[:-1], eps=0.25)
UNARY_EDGE_CASES["logit_eps_0"] = lambda lib, x: lib.logit(x[:-1], eps=0.0)
# (finite values only: PyTorch's polygamma(2, inf) is NaN and polygamma(2, -inf) is -inf)
UNARY_EDGE_CASES["polygamma_2"] = lambda lib, x: lib.polygamma(2, x[:-3])
# PyTorch's trigamma (digamma's derivative) at a pole comes out finite, e.g. 6.6e32 at -1 (the reflection
# formula's pi**2 / sin(pi x)**2 with sin(-pi) ~ 1e-16); gradlab's is inf there
POLES = {"digamma": [-1.0]}
# logit'(x) = 1 / (x (1 - x)) at x = -0.0 is +inf, its limit inside the domain; PyTorch's sign there depends on
# the vectorized loop that runs (-inf with AVX2, +inf with AVX-512), so only its magnitude is compared
SIGNED_ZERO = ("logit", "logit_eps_0")


@pytest.mark.parametrize("name", sorted(UNARY_EDGE_CASES))
def test_unary_edge_values_match_torch(name):
    check_unary_edges(name, UNARY_EDGE_CASES[name], poles=POLES.get(name, []), signed_zero=name in SIGNED_ZERO)


def test_binary_edge_values_match_torch():
    check_binary_edges("xlogy", lambda lib, x, y: lib.xlogy(x, y))


@pytest.mark.parametrize("name", ["erf", "xlogy", "lgamma"])
def test_integer_inputs_compute_in_the_default_dtype(name):
    x = gradlab.tensor([1, 2, 3])
    computes_in_default_float(getattr(gradlab, name), *((x, x) if name == "xlogy" else (x,)))


ERRORS = {
    "nanmean on ints": (lambda lib: lib.ones(2, dtype=lib.int64).nanmean(), ["nanmean", "int64"]),
    "polygamma of negative order": (lambda lib: lib.polygamma(-1, lib.ones(2)), ["polygamma", "negative"]),
    "xlogy shapes": (lambda lib: lib.xlogy(lib.ones(2, 3), lib.ones(4)), ["xlogy", "[2, 3]", "[4]"]),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_error(case):
    raises_named_error(case, *ERRORS[case])


# ---- against PyTorch --------------------------------------------------------------------------------------------
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


@needs_torch
@pytest.mark.parametrize("name", sorted(SPECIAL_CASES))
@settings(max_examples=4, deadline=None)
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=4),
                    elements=st.floats(-3, 3, allow_subnormal=False)))
def test_special_matches_torch(name, x):
    # sinc's slope (cos(pi x) - sinc(x)) / x loses digits to cancellation near 0, in both libraries
    values_and_grads_match(SPECIAL_CASES[name], x, rtol=1e-9, atol=1e-8 if name == "sinc" else 1e-11)
