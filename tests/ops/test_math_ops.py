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
# logit'(x) = 1 / (x (1 - x)) at x = -0.0 is +inf, its limit inside the domain; PyTorch's sign there depends on
# the vectorized loop that runs (-inf with AVX2, +inf with AVX-512), so only its magnitude is compared
SIGNED_ZERO = ("logit", "logit_eps_0")


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
    if name in SIGNED_ZERO:
        pole = np.signbit(EDGES[:len(ours[1])]) & (np.array(EDGES[:len(ours[1])]) == 0)
        assert (ours[1][pole] == np.inf).all() and (np.abs(theirs[1][pole]) == np.inf).all()
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


# ---- in-place variants ----------------------------------------------------------------------------------------
X = [[0.25, -0.5, 0.75], [0.5, -0.125, 0.375]]  # in (-1, 1) and away from 0: in every op's domain (but logs)
POSITIVE = [[0.25, 0.5, 0.75], [1.5, 0.125, 2.0]]
Y = [[0.5, 0.25, -0.75], [1.25, 0.5, 0.125]]
INPLACE_CASES = {
    # name: (arguments, which input values); "y" stands for a second tensor
    **{name: ((), X) for name in "asin acos atan arcsin arccos arctan sinh cosh exp2 deg2rad rad2deg erf erfc erfinv "
                                 "sinc sgn sign tan trunc frac negative absolute square expm1".split()},
    **{name: ((), POSITIVE) for name in "log10 lgamma digamma rsqrt log1p log2".split()},
    "logit_": ((), X), "logit_eps": ((0.3,), X), "polygamma_": ((1,), POSITIVE),
    "atan2": (("y",), X), "arctan2": (("y",), X), "hypot": (("y",), X), "ldexp": (("y",), X),
    "xlogy": ((2.0,), X), "xlogy_tensor": (("y",), POSITIVE), "clamp_min": ((0.3,), X), "clamp_max": (("y",), X),
    "multiply": (("y",), X), "divide": (("y",), X), "true_divide": ((2,), X), "subtract": (("y",), X),
    "floor_divide": ((0.25,), X), "float_power": ((3,), X), "heaviside": (("y",), X),
    **{name: (("y",), X) for name in "eq ne lt le gt ge not_equal greater greater_equal less less_equal "
                                     "logical_and logical_or logical_xor".split()},
    "eq_scalar": ((0.25,), X), "logical_not": ((), X),
}


def _inplace(lib, name, x, y, args):
    method = name.split("_")[0] if name.endswith(("_eps", "_tensor", "_scalar")) else name.rstrip("_")
    if method == "logical":  # logical_and ... keep their underscores
        method = name
    args = [y if a == "y" else a for a in args]
    if method == "heaviside":
        args = [y.detach()]
    z = x * 1  # a non-leaf in the graph, as an in-place op needs
    returned = getattr(z, method + "_")(*args)
    assert returned is z
    return z


# PyTorch records a node whose backward raises (no derivative); gradlab's result leaves the graph, as for x // 2
NOT_DIFFERENTIABLE = {"floor_divide", "heaviside"}
# PyTorch computes these in place as a multiplication (MulBackward0) whose gradient is not the op's (which is 0,
# the result being piecewise constant); gradlab keeps the node's name and gives the zero gradient
ZERO_GRADIENT = {"logical_and", "logical_or"}


@pytest.mark.parametrize("name", sorted(INPLACE_CASES))
def test_inplace_variant_matches_torch(name):
    """y.fn_(...) changes y to fn(y, ...) in y's dtype, with PyTorch's graph node and gradients."""
    if torch is None:
        pytest.skip("torch is not installed")
    args, values = INPLACE_CASES[name]
    results = []
    for lib in (gradlab, torch):
        x = lib.tensor(values, dtype=lib.float64, requires_grad=True)
        y = lib.tensor(Y if name != "xlogy_tensor" else POSITIVE, dtype=lib.float64, requires_grad=True)
        z = _inplace(lib, name, x, y, args)
        node = None if z.grad_fn is None else z.grad_fn.name() if lib is gradlab else type(z.grad_fn).__name__
        grads = (None, None)
        if z.requires_grad and name not in NOT_DIFFERENTIABLE:
            grads = lib.autograd.grad((z * z).sum(), (x, y), allow_unused=True)
        results.append((z.detach().numpy().copy(), str(z.dtype).split(".")[-1], node,
                        [None if g is None else g.numpy(force=True) if lib is torch else g.numpy() for g in grads]))
    (ours, our_dtype, our_node, our_grads), (theirs, their_dtype, their_node, their_grads) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-7, equal_nan=True)
    if name in NOT_DIFFERENTIABLE:
        assert (our_dtype, our_node, their_node) == (their_dtype, None, "NotImplemented")
        return
    assert (our_dtype, our_node) == (their_dtype, their_node)
    if name in ZERO_GRADIENT:
        assert not any(np.any(g) for g in our_grads if g is not None)
        assert any(np.any(g) for g in their_grads if g is not None), f"{name}: torch's gradient is now 0 as well"
        return
    for g, tg in zip(our_grads, their_grads):
        if g is None or tg is None:  # no gradient on one side: zeros (or nothing) on the other
            assert (g if tg is None else tg) is None or not np.any(g if tg is None else tg)
        else:
            np.testing.assert_allclose(g, tg, rtol=1e-7, equal_nan=True)


INT_INPLACE = {
    "gcd_": lambda a, b: a.gcd_(b), "lcm_": lambda a, b: a.lcm_(b), "bitwise_and_": lambda a, b: a.bitwise_and_(b),
    "bitwise_or_": lambda a, b: a.bitwise_or_(b), "bitwise_xor_": lambda a, b: a.bitwise_xor_(b),
    "bitwise_not_": lambda a, b: a.bitwise_not_(), "sgn_": lambda a, b: a.sgn_(), "floor_divide_": lambda a, b:
    a.floor_divide_(b), "eq_": lambda a, b: a.eq_(b), "clamp_min_": lambda a, b: a.clamp_min_(b),
    "&=": lambda a, b: a.__iand__(b), "|=": lambda a, b: a.__ior__(b), "^=": lambda a, b: a.__ixor__(b),
    "//=": lambda a, b: a.__ifloordiv__(b),
}


@pytest.mark.parametrize("name", sorted(INT_INPLACE))
def test_integer_inplace_variant_matches_torch(name):
    if torch is None:
        pytest.skip("torch is not installed")
    values, other = [[12, -7, 0], [5, 9, -20]], [4, 3, 6]
    outs = []
    for lib in (gradlab, torch):
        a = lib.tensor(values)
        out = INT_INPLACE[name](a, lib.tensor(other))
        assert out is a
        outs.append((a.numpy(), str(a.dtype).split(".")[-1]))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    assert outs[0][1] == outs[1][1]


# ---- errors as PyTorch's (same exception type), naming the op and the dtypes ---------------------------------
ERRORS = {
    "gcd on floats": (lambda lib: lib.gcd(lib.ones(2), lib.ones(2)), ["gcd", "Float"]),
    "lcm on bools": (lambda lib: lib.lcm(lib.ones(2, dtype=lib.bool), lib.ones(2, dtype=lib.bool)), ["lcm", "Bool"]),
    "hypot on ints": (lambda lib: lib.hypot(lib.ones(2, dtype=lib.int64), lib.ones(2, dtype=lib.int64)),
                      ["hypot", "Long"]),
    "logaddexp on ints": (lambda lib: lib.ones(2, dtype=lib.int32).logaddexp(lib.ones(2, dtype=lib.int32)),
                          ["logaddexp", "Int"]),
    "bitwise_and on floats": (lambda lib: lib.ones(2).bitwise_and(lib.ones(2)), ["bitwise_and", "Float"]),
    "bitwise_xor with a float number": (lambda lib: lib.ones(2, dtype=lib.int64) ^ 1.5, ["bitwise_xor", "Float"]),
    "heaviside with different dtypes": (lambda lib: lib.heaviside(lib.ones(2), lib.tensor(1)),
                                        ["heaviside", "different dtypes"]),
    "float_power_ on float32": (lambda lib: lib.ones(2).float_power_(2), ["float_power_", "float32"]),
    "nanmean on ints": (lambda lib: lib.ones(2, dtype=lib.int64).nanmean(), ["nanmean", "int64"]),
    "polygamma of negative order": (lambda lib: lib.polygamma(-1, lib.ones(2)), ["polygamma", "negative"]),
    "acos_ on ints": (lambda lib: lib.ones(2, dtype=lib.int64).acos_(), ["float32", "int64"]),
    "clamp_min_ on ints with a float bound": (lambda lib: lib.ones(2, dtype=lib.int64).clamp_min_(0.5),
                                             ["float32", "int64"]),
    "atan2 shapes": (lambda lib: lib.atan2(lib.ones(2, 3), lib.ones(4)), ["atan2", "[2, 3]", "[4]"]),
    "xlogy shapes": (lambda lib: lib.xlogy(lib.ones(2, 3), lib.ones(4)), ["xlogy", "[2, 3]", "[4]"]),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_error(case):
    fn, words = ERRORS[case]
    with pytest.raises(RuntimeError) as ours:
        fn(gradlab)
    for word in words:
        assert word in str(ours.value), f"{case}: {word!r} not in {ours.value}"
    if torch is not None:
        with pytest.raises(Exception) as theirs:
            fn(torch)
        assert type(ours.value) is type(theirs.value), f"{case}: torch raises {theirs.value!r}"


@pytest.mark.parametrize("name", ["erf", "exp", "atan2", "xlogy", "ldexp", "lgamma", "deg2rad"])
def test_integer_inputs_compute_in_the_default_dtype(name):
    x = gradlab.tensor([1, 2, 3])
    args = (x, x) if name in ("atan2", "xlogy", "ldexp") else (x,)
    assert getattr(gradlab, name)(*args).dtype == gradlab.float32
    gradlab.set_default_dtype(gradlab.float64)
    try:
        assert getattr(gradlab, name)(*args).dtype == gradlab.float64
    finally:
        gradlab.set_default_dtype(gradlab.float32)


@pytest.mark.parametrize("dtype", ["bool", "int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("bounds", [(0, 1), (0.5, None), (None, 1.5), (0.5, 1.5), (0, 1.5)])
def test_clamp_with_number_bounds_promotes_as_torch(dtype, bounds):
    """An integer tensor clamped to a float bound computes in the default float dtype (not float64)."""
    torch = pytest.importorskip("torch")
    values = np.array([0, 1, 2, 3]).astype(dtype)
    ours = gradlab.from_numpy(values.copy()).clamp(*bounds)
    theirs = torch.from_numpy(values.copy()).clamp(*bounds)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("call", [
    lambda lib, a, b: a % b, lambda lib, a, b: a // b, lambda lib, a, b: lib.fmod(a, b),
    lambda lib, a, b: lib.div(a, b, rounding_mode="trunc"), lambda lib, a, b: lib.div(a, b, rounding_mode="floor"),
    lambda lib, a, b: a.remainder_(b),
])
def test_integer_division_by_zero_raises_as_torch(call):
    """NumPy gives 0 (and a warning) for an integer divided by 0; PyTorch raises ZeroDivisionError."""
    torch = pytest.importorskip("torch")
    for lib in (torch, gradlab):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            call(lib, lib.tensor([5, -3]), lib.tensor([2, 0]))
    np.testing.assert_array_equal(call(gradlab, gradlab.tensor([5, -3]), gradlab.tensor([2, 4])).numpy(),
                                  call(torch, torch.tensor([5, -3]), torch.tensor([2, 4])).numpy())


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_gradients_at_nan_and_ties_match_torch(name):
    """A NaN on either side gives both inputs the gradient (PyTorch's formula); ties split it evenly."""
    torch = pytest.importorskip("torch")
    nan = float("nan")
    grads = []
    for lib in (gradlab, torch):
        a = lib.tensor([nan, 2.0, 3.0, 1.0, 5.0], dtype=lib.float64, requires_grad=True)
        b = lib.tensor([1.0, nan, 3.0, 2.0, nan], dtype=lib.float64, requires_grad=True)
        getattr(lib, name)(a, b).backward(lib.tensor([1.0, 10.0, 100.0, 1000.0, 1e4], dtype=lib.float64))
        grads.append((a.grad.numpy(), b.grad.numpy()))
    for ours, theirs in zip(*grads):
        np.testing.assert_array_equal(ours, theirs)
