"""What the focused op tests share: the same values in gradlab and torch, comparisons of the two, and the
checks that tables of cases (edge values, errors) run."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradlab
from gradlab.autograd import gradcheck, gradgradcheck

try:
    import torch
except ImportError:  # the tests that compare with PyTorch skip
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


# ---- the same values in both libraries ------------------------------------------------------------------------
def pair(values, dtype="float64", requires_grad=False):
    """The same values as a gradlab and a torch tensor."""
    array = np.array(values, dtype=dtype)
    g, t = gradlab.from_numpy(array.copy()), torch.from_numpy(array.copy())
    if requires_grad:
        g.requires_grad_()
        t.requires_grad_()
    return g, t


def same(ours, theirs):
    """Equal values (to rounding) and the same dtype."""
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6, atol=1e-9)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]


def grad_fn_name(t):
    return None if t.grad_fn is None else (t.grad_fn.name() if isinstance(t, gradlab.Tensor)
                                           else type(t.grad_fn).__name__)


def leaf(array):
    """A float64 leaf that requires grad."""
    return gradlab.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def check_grads(fn, *inputs, second=True):
    """First (and second) derivatives of fn at inputs against central differences."""
    assert gradcheck(fn, inputs)
    if second:
        assert gradgradcheck(fn, inputs)


SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)


def arrays(low, high, shape=SHAPES):
    """float64 arrays with values in [low, high] (the domain kept off each function's poles)."""
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, allow_infinity=False))


def values_and_grads_match(fn, *arrays, rtol=1e-10, atol=1e-12):
    """fn(lib, *tensors).sum() in both libraries: the values, and the gradient of every input."""
    ours = [leaf(a) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out_ours, out_theirs = fn(gradlab, *ours), fn(torch, *theirs)
    np.testing.assert_allclose(out_ours.detach().numpy(), out_theirs.detach().numpy(), rtol=rtol, atol=atol)
    out_ours.sum().backward()
    out_theirs.sum().backward()
    for a, b in zip(ours, theirs):
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)


def random_rows_test(cases):
    """A test over ``cases`` ({name: fn(lib, a, b)}): values_and_grads_match on random (rows, 3) and (2, 3) inputs."""
    @needs_torch
    @pytest.mark.parametrize("name", sorted(cases))
    @settings(max_examples=4, deadline=None)
    @given(rows=st.integers(1, 4), seed=st.integers(0, 2 ** 31 - 1))
    def test(name, rows, seed):
        rng = np.random.default_rng(seed)
        values_and_grads_match(cases[name], rng.normal(size=(rows, 3)), rng.normal(size=(2, 3)))
    return test


# ---- values and gradients at the edges: poles, infinities, NaN, the ends of a domain ----------------------------
EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.5, 3.0, float("inf"), float("-inf"), float("nan")]


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


def check_unary_edges(name, fn, grad=True, poles=(), signed_zero=False):
    """fn(lib, x) at EDGES: values, dtype and gradient as PyTorch's; at ``poles`` gradlab's gradient is inf
    where PyTorch's is only huge; with ``signed_zero`` the gradient at -0.0 is +inf (the limit inside the
    domain) and PyTorch's is compared by magnitude, as its sign there depends on the CPU's vector loop."""
    if torch is None:
        pytest.skip("torch is not installed")
    ours, theirs = _both(fn, EDGES, grad=grad)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=0, equal_nan=True, err_msg=f"{name} forward")
    assert ours[2] == theirs[2]
    if ours[1] is None and theirs[1] is None:
        return
    pole = np.isin(EDGES[:len(ours[1])], poles)
    assert (ours[1][pole] == np.inf).all() and (theirs[1][pole] > 1e30).all()
    if signed_zero:
        pole = np.signbit(EDGES[:len(ours[1])]) & (np.array(EDGES[:len(ours[1])]) == 0)
        assert (ours[1][pole] == np.inf).all() and (np.abs(theirs[1][pole]) == np.inf).all()
    # (PyTorch's trigamma is accurate to about 1e-9, SciPy's to 1e-15)
    np.testing.assert_allclose(ours[1][~pole], theirs[1][~pole], rtol=1e-8, atol=0, equal_nan=True,
                               err_msg=f"{name} grad")


def check_binary_edges(name, fn):
    """Every pair of edge values (ties, zeros, infinities, NaN): values and both gradients as PyTorch's."""
    if torch is None:
        pytest.skip("torch is not installed")
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


# ---- errors -------------------------------------------------------------------------------------------------
def error_message(call):
    with pytest.raises(RuntimeError) as info:
        call()
    return str(info.value)


def raises_with(call, exc, *fragments):
    """call raises exc, whose message holds every fragment."""
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in error message: {message}"


def raises_all(cases):
    """Each (call, exception type, message) case raises that exception with that message (taken literally)."""
    for call, error, message in cases:
        with pytest.raises(error, match=message.replace("(", "\\(").replace(")", "\\)").replace("[", "\\[")):
            call()


def raises_as_torch(call):
    """call(lib) raises in gradlab as in torch: the same exception type, and the words of torch's message."""
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(gradlab)
    words = str(theirs.value).split()[1:3]  # (the first word may name another op: scatter_add's says scatter())
    assert all(word in str(ours.value) for word in words), (str(ours.value), str(theirs.value))


def raises_named_error(name, fn, words):
    """fn(gradlab) raises a RuntimeError naming ``words``; torch raises the same exception type."""
    with pytest.raises(RuntimeError) as ours:
        fn(gradlab)
    for word in words:
        assert word in str(ours.value), f"{name}: {word!r} not in {ours.value}"
    if torch is not None:
        with pytest.raises(Exception) as theirs:
            fn(torch)
        assert type(ours.value) is type(theirs.value), f"{name}: torch raises {theirs.value!r}"


def computes_in_default_float(fn, *args):
    """Integer inputs compute in the default float dtype (float32, then float64 once it is the default)."""
    assert fn(*args).dtype == gradlab.float32
    gradlab.set_default_dtype(gradlab.float64)
    try:
        assert fn(*args).dtype == gradlab.float64
    finally:
        gradlab.set_default_dtype(gradlab.float32)
