"""Second derivatives (create_graph=True) of a representative set of ops, by gradgradcheck."""
import numpy as np
from hypothesis import strategies as st

import gradlab
from gradlab.testing import OpSpec, gradgradcheck, make_op_tests
from op_specs import _basic_index, _expand_case, _matmul_shapes, reduce_kwargs

SMALL = dict(max_dims=2, max_side=3)

GRADGRAD_SPECS = [
    OpSpec("mul", lambda lib, x, y: x * y, arity=2, **SMALL),
    OpSpec("div", lambda lib, x, y: x / y, arity=2, domain=[(-2, 2), (0.5, 2)], **SMALL),
    OpSpec("pow", lambda lib, x, y: x ** y, arity=2, domain=[(0.5, 2), (-1.5, 2)], **SMALL),
    OpSpec("pow_scalar", lambda lib, x: x ** 3, **SMALL),
    OpSpec("exp", lambda lib, x: x.exp(), **SMALL),
    OpSpec("log", lambda lib, x: x.log(), domain=(0.3, 3), **SMALL),
    OpSpec("sqrt", lambda lib, x: x.sqrt(), domain=(0.3, 3), **SMALL),
    OpSpec("tanh", lambda lib, x: x.tanh(), **SMALL),
    OpSpec("sigmoid", lambda lib, x: x.sigmoid(), **SMALL),
    OpSpec("matmul", lambda lib, a, b: a @ b, arity=2, shapes=_matmul_shapes()),
    OpSpec("sum", lambda lib, x, dim, keepdim: (x * x).sum(dim, keepdim=keepdim) if dim is not None
           else (x * x).sum(), kwargs=reduce_kwargs(), **SMALL),
    OpSpec("mean", lambda lib, x, dim, keepdim: (x ** 3).mean(dim, keepdim=keepdim) if dim is not None
           else (x ** 3).mean(), kwargs=reduce_kwargs(), **SMALL),
    OpSpec("getitem", lambda lib, x, idx: (x * x)[idx], kwargs=lambda shapes: st.fixed_dictionaries(
        {"idx": _basic_index(shapes[0])}), **SMALL),
    OpSpec("getitem_advanced", lambda lib, x: (x * x)[lib.tensor([0, 0, -1])], min_dims=1, **SMALL),
    OpSpec("expand", lambda lib, x, size: x.expand(size) ** 2, kwargs=_expand_case, **SMALL),
    OpSpec("norm", lambda lib, x: x.norm(), avoid=(0,), **SMALL),
    OpSpec("norm_dim", lambda lib, x: x.norm(dim=-1), avoid=(0,), min_dims=1, **SMALL),
    OpSpec("logsumexp", lambda lib, x, dim, keepdim: x.logsumexp(dim if dim is not None else tuple(range(x.ndim)),
                                                                 keepdim=keepdim),
           kwargs=reduce_kwargs(), **SMALL),
]

test_gradgrad = make_op_tests(GRADGRAD_SPECS, gradgrad=True)


def test_gradgradcheck_catches_a_wrong_second_derivative():
    """A first derivative that is right but not differentiable in the graph must fail gradgradcheck."""
    class Cube(gradlab.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * gradlab.from_numpy(3 * x.detach().numpy() ** 2)  # detached: d2 is lost
    x = gradlab.tensor([0.5, -1.0, 2.0], dtype=gradlab.float64, requires_grad=True)
    assert gradlab.autograd.gradcheck(Cube.apply, (x,))
    assert not gradgradcheck(Cube.apply, (x,), raise_exception=False)


def test_second_derivative_values():
    x = gradlab.tensor([0.5, 2.0], dtype=gradlab.float64, requires_grad=True)
    (g,) = gradlab.autograd.grad((x ** 3).sum(), x, create_graph=True)
    (gg,) = gradlab.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * x.detach().numpy())


def test_prod_differentiates_twice_where_the_input_holds_zeros():
    """With zeros, prod's gradient is built from exclusive cumulative products; it used to be a constant."""
    x = gradlab.tensor(np.array([[0.0, 2.0, 3.0, 0.0], [1.0, 0.0, 2.0, 3.0], [1.5, 2.0, 3.0, 4.0]]),
                       requires_grad=True)
    for reduce in (lambda t: t.prod(1), lambda t: t.prod(0, keepdim=True), lambda t: t.prod(-1), lambda t: t.prod()):
        assert gradgradcheck(reduce, (x,))
