"""gradlab.autograd.functional (vjp, jvp, jacobian, hessian, hvp, vhp) against PyTorch on the same functions and
float64 inputs, against central finite differences, the nested shapes of tuple inputs and outputs, the results
differentiated again with create_graph=True, and the errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
from gradlab.autograd import functional as AF

torch = pytest.importorskip("torch")
TF = torch.autograd.functional


# the same functions, written once against the shared API (lib is gradlab or torch)
def f_vec(x):
    return x.tanh() * x.pow(2)


def f_pair(x, y):
    return (x.exp() * y.sum(), (x * y).sin().sum())


def f_scalar(x):
    return (x.pow(3) * x.cos()).sum()


def f_scalar2(x, y):
    return (x.exp() * y.pow(2)).sum() + (x * x).sum() * y.sum()


def rand(shape, seed):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, shape)


def both(*arrays):
    """The arrays as gradlab tensors and as torch tensors (float64, no grad)."""
    return (tuple(gradlab.tensor(a.copy()) for a in arrays), tuple(torch.tensor(a.copy()) for a in arrays))


def same(ours, theirs, rtol=1e-12, atol=1e-12):
    """Nested tuples of tensors with the same structure, shapes and values."""
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            same(o, t, rtol, atol)
        return
    assert isinstance(ours, gradlab.Tensor), type(ours)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple)


# ---- against torch ------------------------------------------------------------------------------
@settings(max_examples=10, deadline=None)
@given(shape=shapes, seed=st.integers(0, 1000))
def test_vjp_jvp_against_torch(shape, seed):
    (x, v), (tx, tv) = both(rand(shape, seed), rand(shape, seed + 1))
    same(AF.vjp(f_vec, x, v), TF.vjp(f_vec, tx, tv))
    same(AF.jvp(f_vec, x, v), TF.jvp(f_vec, tx, tv))
    (x, y, vo), (tx, ty, tvo) = both(rand(shape, seed), rand(shape, seed + 2), rand(shape, seed + 3))
    ours, theirs = AF.vjp(f_pair, (x, y), (vo, gradlab.tensor(0.7, dtype=gradlab.float64))), \
        TF.vjp(f_pair, (tx, ty), (tvo, torch.tensor(0.7, dtype=torch.float64)))
    same(ours, theirs)
    same(AF.jvp(f_pair, (x, y), (vo, y)), TF.jvp(f_pair, (tx, ty), (tvo, ty)))


@settings(max_examples=10, deadline=None)
@given(shape=shapes, seed=st.integers(0, 1000))
def test_jacobian_hessian_against_torch(shape, seed):
    (x, y), (tx, ty) = both(rand(shape, seed), rand(shape, seed + 1))
    same(AF.jacobian(f_vec, x), TF.jacobian(f_vec, tx))
    same(AF.jacobian(f_pair, (x, y)), TF.jacobian(f_pair, (tx, ty)))
    same(AF.jacobian(lambda a: (a.sin(), a.sum()), x), TF.jacobian(lambda a: (a.sin(), a.sum()), tx))
    same(AF.jacobian(lambda a, b: a * b, (x, y)), TF.jacobian(lambda a, b: a * b, (tx, ty)))
    same(AF.hessian(f_scalar, x), TF.hessian(f_scalar, tx))
    same(AF.hessian(f_scalar2, (x, y)), TF.hessian(f_scalar2, (tx, ty)))


@settings(max_examples=10, deadline=None)
@given(shape=shapes, seed=st.integers(0, 1000))
def test_hvp_vhp_against_torch(shape, seed):
    (x, y, v, w), (tx, ty, tv, tw) = both(*(rand(shape, seed + k) for k in range(4)))
    same(AF.hvp(f_scalar, x, v), TF.hvp(f_scalar, tx, tv))
    same(AF.vhp(f_scalar, x, v), TF.vhp(f_scalar, tx, tv))
    same(AF.hvp(f_scalar2, (x, y), (v, w)), TF.hvp(f_scalar2, (tx, ty), (tv, tw)))
    same(AF.vhp(f_scalar2, (x, y), (v, w)), TF.vhp(f_scalar2, (tx, ty), (tv, tw)))


def test_v_none_for_single_elements_as_torch():
    (x,), (tx,) = both(np.array(0.3))
    for name in ("vjp", "jvp", "hvp", "vhp"):
        fn = (lambda a: a.exp() * a.sin()) if name in ("vjp", "jvp") else (lambda a: a.pow(4))
        same(getattr(AF, name)(fn, x), getattr(TF, name)(fn, tx))


# ---- against finite differences -----------------------------------------------------------------
def numeric_jacobian(fn, x, eps=1e-6):
    """d fn / d x by central differences, shape fn(x).shape + x.shape."""
    base = x.copy()
    columns = []
    for i in range(base.size):
        plus, minus = base.copy(), base.copy()
        plus.flat[i] += eps
        minus.flat[i] -= eps
        columns.append((fn(plus) - fn(minus)) / (2 * eps))
    out_shape = np.shape(columns[0])
    return np.stack(columns, -1).reshape(out_shape + base.shape)


def test_jacobian_and_products_against_finite_differences():
    x = rand((2, 3), 5)
    v = rand((2, 3), 6)
    evaluate = lambda a: f_vec(gradlab.tensor(a)).numpy()  # noqa: E731
    expected = numeric_jacobian(evaluate, x)
    jac = AF.jacobian(f_vec, gradlab.tensor(x)).numpy()
    np.testing.assert_allclose(jac, expected, rtol=1e-6, atol=1e-8)
    flat_jac = expected.reshape(6, 6)
    np.testing.assert_allclose(AF.jvp(f_vec, gradlab.tensor(x), gradlab.tensor(v))[1].numpy().ravel(),
                               flat_jac @ v.ravel(), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(AF.vjp(f_vec, gradlab.tensor(x), gradlab.tensor(v))[1].numpy().ravel(),
                               v.ravel() @ flat_jac, rtol=1e-6, atol=1e-8)
    gradient = lambda a: AF.vjp(f_scalar, gradlab.tensor(a))[1].numpy()  # noqa: E731
    hess = numeric_jacobian(gradient, x)
    np.testing.assert_allclose(AF.hessian(f_scalar, gradlab.tensor(x)).numpy(), hess, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(AF.hvp(f_scalar, gradlab.tensor(x), gradlab.tensor(v))[1].numpy().ravel(),
                               hess.reshape(6, 6) @ v.ravel(), rtol=1e-6, atol=1e-7)


# ---- structure of the results -------------------------------------------------------------------
def test_nested_shapes_for_tuple_inputs_and_outputs():
    x, y = gradlab.randn(2, 3, dtype=gradlab.float64), gradlab.randn(4, dtype=gradlab.float64)
    jac = AF.jacobian(lambda a, b: (a * b.sum(), a.sum() * b, (a.sum() * b).sum()), (x, y))
    assert isinstance(jac, tuple) and len(jac) == 3 and all(isinstance(row, tuple) and len(row) == 2 for row in jac)
    assert [[tuple(j.shape) for j in row] for row in jac] == [[(2, 3, 2, 3), (2, 3, 4)], [(4, 2, 3), (4, 4)],
                                                            [(2, 3), (4,)]]
    single_in = AF.jacobian(lambda a: (a, a.sum()), x)
    assert isinstance(single_in, tuple) and [tuple(j.shape) for j in single_in] == [(2, 3, 2, 3), (2, 3)]
    single_out = AF.jacobian(lambda a, b: a.sum() * b, (x, y))
    assert isinstance(single_out, tuple) and [tuple(j.shape) for j in single_out] == [(4, 2, 3), (4, 4)]
    hess = AF.hessian(lambda a, b: (a.sum() * b).sum(), (x, y))
    assert [[tuple(h.shape) for h in row] for row in hess] == [[(2, 3, 2, 3), (2, 3, 4)], [(4, 2, 3), (4, 4)]]
    out, vjp = AF.vjp(lambda a, b: (a * 2, b * 3), (x, y), (gradlab.ones(2, 3, dtype=gradlab.float64),
                                                              gradlab.ones(4, dtype=gradlab.float64)))
    assert isinstance(out, tuple) and isinstance(vjp, tuple) and len(vjp) == 2


def test_unused_input_gives_zeros_or_strict_error_as_torch():
    (x, y), (tx, ty) = both(rand(3, 0), rand(2, 1))
    same(AF.jacobian(lambda a, b: a.exp(), (x, y)), TF.jacobian(lambda a, b: a.exp(), (tx, ty)))
    same(AF.vjp(lambda a, b: a.exp().sum(), (x, y)), TF.vjp(lambda a, b: a.exp().sum(), (tx, ty)))
    for fn, args, message in [
        (AF.jacobian, (lambda a, b: a.exp(), (x, y)), "Output 0 of the user-provided function is independent of "
                                                      "input 1"),
        (AF.vjp, (lambda a, b: a.exp().sum(), (x, y)), "independent of input 1"),
        (AF.jacobian, (lambda a: gradlab.ones(2), x), "Output 0 of the user-provided function does not require"),
    ]:
        with pytest.raises(RuntimeError, match=message):
            fn(*args, strict=True)


# ---- create_graph -------------------------------------------------------------------------------
def test_create_graph_results_can_be_differentiated():
    data = rand((3,), 9)
    x, tx = gradlab.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    v, tv = gradlab.tensor(rand((3,), 10)), torch.tensor(rand((3,), 10))
    results = []
    for mod, a, w in ((AF, x, v), (TF, tx, tv)):
        jac = mod.jacobian(f_vec, a, create_graph=True)
        hvp = mod.hvp(f_scalar, a, w, create_graph=True)[1]
        jvp = mod.jvp(f_vec, a, w, create_graph=True)[1]
        hess = mod.hessian(f_scalar, a, create_graph=True)
        assert jac.requires_grad and hvp.requires_grad and jvp.requires_grad and hess.requires_grad
        total = (jac.sin().sum() + hvp.pow(2).sum() + jvp.sum() + hess.sum())
        total.backward()
        results.append(a.grad)
    same(results[0], results[1], rtol=1e-10, atol=1e-12)
    # without create_graph the results are detached
    assert not AF.jacobian(f_vec, x).requires_grad and AF.jacobian(f_vec, x).grad_fn is None


def test_create_graph_result_matches_finite_difference_of_gradient():
    data = rand((4,), 11)
    x = gradlab.tensor(data, requires_grad=True)
    hvp = AF.hvp(f_scalar, x, gradlab.ones(4, dtype=gradlab.float64), create_graph=True)[1]
    (third,) = gradlab.autograd.grad(hvp.sum(), x)
    fn = lambda a: AF.hvp(f_scalar, gradlab.tensor(a), gradlab.ones(4, dtype=gradlab.float64))[1].numpy().sum()  # noqa
    np.testing.assert_allclose(third.numpy(), numeric_jacobian(fn, data), rtol=1e-6, atol=1e-7)


# ---- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, exc, message", [
    (lambda M, x: M.vjp(lambda a: a * 2, x), RuntimeError, "The vector v can only be None if the user-provided"),
    (lambda M, x: M.jvp(lambda a: a * 2, x), RuntimeError, "The vector v can only be None if the input"),
    (lambda M, x: M.vjp(lambda a: a * 2, x, x[:2]), RuntimeError, "v has invalid size: should be"),
    (lambda M, x: M.vjp(lambda a: a * 2, [x]), TypeError, "The inputs given to vjp must be either a Tensor or a "
                                                          "tuple of Tensors"),
    (lambda M, x: M.hessian(lambda a: a * 2, x), RuntimeError, "The Tensor returned by the function given to "
                                                               "hessian should contain a single element"),
    (lambda M, x: M.hvp(lambda a: (a.sum(), a.sum()), x, x), RuntimeError, "The function given to hvp should "
                                                                            "return a single Tensor"),
    (lambda M, x: M.vhp(lambda a: a.sum(), (x, x), (x,)), RuntimeError, "v is a tuple of invalid length: should "
                                                                        "be 2 but got 1."),
    (lambda M, x: M.jacobian(lambda a: a, x, strategy="sideways"), AssertionError, "Expected strategy"),
])
def test_errors_as_torch(call, exc, message):
    for module, lib in ((AF, gradlab), (TF, torch)):
        x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)
        with pytest.raises(exc, match=message):
            call(module, x)
