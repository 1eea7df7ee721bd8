"""The pointwise math ops (specs in op_specs_math.py) through the op factory, and what the factory
cannot reach: in-place variants, NaN-aware gradients, second derivatives and the errors for bad dtypes."""
import numpy as np
import pytest

import gradlab
from gradlab.testing import make_op_tests
from op_specs_math import MATH_SPECS

try:
    import torch
except ImportError:  # the NumPy and gradcheck parts still run
    torch = None


def test_spec_names_are_unique():
    names = [s.name for s in MATH_SPECS]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


test_math_op = make_op_tests(MATH_SPECS, torch=torch)


# ---- second derivatives (create_graph): every backward above is made of differentiable tensor ops ----------
def _small(spec, **changes):
    import dataclasses
    return dataclasses.replace(spec, max_dims=2, max_side=3, int_dtypes=(), **changes)


_BY_NAME = {s.name: s for s in MATH_SPECS}
GRADGRAD_SPECS = [_small(_BY_NAME[name]) for name in (
    "asin", "acos", "atan", "atan2", "sinh", "cosh", "hypot", "exp2", "log10", "logaddexp", "logaddexp2", "ldexp",
    "float_power", "erf", "erfc", "erfinv", "lgamma", "digamma", "polygamma", "logit", "logit_eps", "xlogy",
    "xlogy_scalar_other", "fmax", "clamp_min_tensor", "nansum", "nanmean")]
# sinc's second derivative at 0 is masked as PyTorch masks the first: keep the inputs off 0
GRADGRAD_SPECS.append(_small(_BY_NAME["sinc"], avoid=(0,)))

test_math_gradgrad = make_op_tests(GRADGRAD_SPECS, gradgrad=True)


# ---- values and gradients at the edges: poles, infinities, NaN, the ends of a domain ----------------------------
EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.5, 3.0, float("inf"), float("-inf"), float("nan")]
UNARY_EDGE_CASES = {name: (lambda name: lambda lib, x: getattr(lib, name)(x))(name) for name in (
    "asin", "acos", "atan", "sinh", "cosh", "exp2", "log10", "deg2rad", "rad2deg", "erf", "erfc", "erfinv", "lgamma",
    "digamma", "logit", "sinc", "sgn", "sign", "signbit", "isposinf", "isneginf")}
# (without NaN: PyTorch's gradient of logit(NaN, eps) is NaN or 0 depending on the vectorized loop it lands in)
UNARY_EDGE_CASES["logit_eps"] = lambda lib, x: lib.logit(x[:-1], eps=0.25)
UNARY_EDGE_CASES["logit_eps_0"] = lambda lib, x: lib.logit(x[:-1], eps=0.0)
# (finite values only: PyTorch's polygamma(2, inf) is NaN and polygamma(2, -inf) is -inf)
UNARY_EDGE_CASES["polygamma_2"] = lambda lib, x: lib.polygamma(2, x[:-3])
# PyTorch's trigamma (digamma's derivative) at a pole comes out finite, e.g. 6.6e32 at -1 (the reflection
# formula's pi**2 / sin(pi x)**2 with sin(-pi) ~ 1e-16); gradlab's is inf there
POLES = {"digamma": [-1.0]}


def _both(fn, values, grad=True):
    """fn on gradlab and on torch: (values, gradient of sum(out) or None, dtype name) for each."""
    results = []
    for lib in (gradlab, torch):
        x = lib.tensor(values, dtype=lib.float64, requires_grad=grad)
        out = fn(lib, x)
        g = lib.autograd.grad(out.sum(), x)[0] if grad and out.requires_grad else None
        results.append((out.detach().numpy(), None if g is None else g.numpy(force=True) if lib is torch
                        else g.numpy(), str(out.dtype).split(".")[-1]))
    return results


@pytest.mark.parametrize("name", sorted(UNARY_EDGE_CASES))
def test_unary_edge_values_match_torch(name):
    if torch is None:
        pytest.skip("torch is not installed")
    ours, theirs = _both(UNARY_EDGE_CASES[name], EDGES, grad=name not in ("signbit", "isposinf", "isneginf"))
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=0, equal_nan=True, err_msg=f"{name} forward")
    assert ours[2] == theirs[2]
    if ours[1] is None and theirs[1] is None:
        return
    pole = np.isin(EDGES[:len(ours[1])], POLES.get(name, []))
    assert (ours[1][pole] == np.inf).all() and (theirs[1][pole] > 1e30).all()
    # (PyTorch's trigamma is accurate to about 1e-9, SciPy's to 1e-15)
    np.testing.assert_allclose(ours[1][~pole], theirs[1][~pole], rtol=1e-8, atol=0, equal_nan=True,
                               err_msg=f"{name} grad")


BINARY_EDGE_CASES = {
    "xlogy": lambda lib, x, y: lib.xlogy(x, y),
    "atan2": lambda lib, x, y: lib.atan2(x, y),
    "hypot": lambda lib, x, y: lib.hypot(x, y),
    "logaddexp": lambda lib, x, y: lib.logaddexp(x, y),
    "logaddexp2": lambda lib, x, y: lib.logaddexp2(x, y),
    "fmax": lambda lib, x, y: lib.fmax(x, y),
    "fmin": lambda lib, x, y: lib.fmin(x, y),
    "ldexp": lambda lib, x, y: lib.ldexp(x, y),
    "float_power": lambda lib, x, y: lib.float_power(x, y),
    "clamp_min": lambda lib, x, y: lib.clamp_min(x, y),
    "clamp_max": lambda lib, x, y: x.clamp_max(y),
}


@pytest.mark.parametrize("name", sorted(BINARY_EDGE_CASES))
def test_binary_edge_values_match_torch(name):
    """Every pair of edge values (ties, zeros, infinities, NaN): values and both gradients as PyTorch's."""
    if torch is None:
        pytest.skip("torch is not installed")
    fn = BINARY_EDGE_CASES[name]
    a, b = np.meshgrid(np.array(EDGES), np.array(EDGES))
    results = []
    for lib in (gradlab, torch):
        x, y = (lib.tensor(v.ravel(), dtype=lib.float64, requires_grad=True) for v in (a, b))
        out = fn(lib, x, y)
        gx, gy = lib.autograd.grad(out.sum(), (x, y))
        results.append([out.detach().numpy(), gx.numpy(), gy.numpy()])
    for what, ours, theirs in zip(("forward", "grad of input", "grad of other"), *results):
        with np.errstate(invalid="ignore"):
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15, equal_nan=True,
                                       err_msg=f"{name}: {what}")


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
