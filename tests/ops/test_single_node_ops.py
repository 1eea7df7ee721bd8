"""cumprod's gradient where the input has zeros, and second derivatives of the ops that are one node each.

cumprod's backward has three paths: no zeros (a reversed cumulative sum
divided by x), zeros in a plain backward (array ops that never divide by
zero) and zeros under create_graph (Tensor ops, differentiable again).  Each
is checked by finite differences here and against PyTorch where it is
installed; the op factory (op spec ``cumprod_with_zeros``) covers random inputs.
"""
import numpy as np
import pytest
from hypothesis import strategies as st

import gradlab
from gradlab.autograd import gradcheck, gradgradcheck
from gradlab.testing import OpSpec, grid_floats, make_op_tests
from op_specs import DISTINCT_SIZES, _dim, _kw, reduce_kwargs

try:
    import torch
except ImportError:
    torch = None

ZERO_CASES = [
    ([2.0, 0.0, 3.0, 0.0, 5.0], 0),          # two zeros: the gradient stops at the first
    ([0.0, 1.5, -2.0], 0),                    # a zero first
    ([1.5, -2.0, 0.0], 0),                    # a zero last
    ([0.0, 0.0, 0.0], 0),                     # only zeros
    ([[1.0, 0.0, 2.0], [0.0, 3.0, 0.5]], 1),  # zeros in different places per row
    ([[1.0, 0.0, 2.0], [0.0, 3.0, 0.5]], 0),
    ([[[0.5, 0.0], [2.0, -1.0]], [[0.0, 0.0], [1.5, 2.0]]], -1),
]


def _x(values):
    return gradlab.tensor(values, dtype=gradlab.float64, requires_grad=True)


@pytest.mark.parametrize("values, dim", ZERO_CASES)
def test_cumprod_gradient_with_zeros(values, dim):
    x = _x(values)
    assert gradcheck(lambda t: t.cumprod(dim), (x,))
    assert gradgradcheck(lambda t: t.cumprod(dim), (x,))


def test_cumprod_gradient_with_zeros_by_hand():
    # y = [2, 0, 0, 0, 0]: x_0 only reaches y_0 (x_1 = 0 blocks the rest); x_1 reaches every y_k, k >= 1,
    # with the factors after it: 2 * (g_1 + 3 g_2 + 3 * 0 * g_3 + ...) = 2 * (1 + 3) for g = 1;
    # every x after the first zero gets 0
    x = _x([2.0, 0.0, 3.0, 0.0, 5.0])
    x.cumprod(0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 8.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("values, dim", ZERO_CASES + [([1.5, -0.5, 2.0, 0.25], 0)])
def test_cumprod_gradient_paths_agree_with_torch(values, dim, create_graph):
    if torch is None:
        pytest.skip("torch is not installed")
    x = _x(values)
    g = np.random.default_rng(1).uniform(-2, 2, x.shape)
    (ours,) = gradlab.autograd.grad(x.cumprod(dim), x, gradlab.from_numpy(g), create_graph=create_graph)
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    (theirs,) = torch.autograd.grad(tx.cumprod(dim), tx, torch.from_numpy(g))
    np.testing.assert_allclose(ours.detach().numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)


def test_cumprod_forward_dtypes_and_edges():
    x = gradlab.tensor([[1, 2, 3], [4, 5, 6]], dtype=gradlab.int32)
    assert x.cumprod(1).dtype == gradlab.int64  # integers accumulate in int64, as PyTorch
    assert x.cumprod(1).tolist() == [[1, 2, 6], [4, 20, 120]]
    assert gradlab.cumprod(x, 0, dtype=gradlab.float32).dtype == gradlab.float32
    s = _x(3.0)
    y = s.cumprod(0)
    assert y.shape == () and y.item() == 3.0 and y.grad_fn.name() == "CumprodBackward0"
    y.backward()
    assert s.grad.item() == 1.0
    with pytest.raises(IndexError, match="cumprod"):
        x.cumprod(2)


def test_cumsum_and_cumprod_methods_and_functions():
    x = _x([[0.5, 2.0], [3.0, -1.0]])
    np.testing.assert_array_equal(gradlab.cumprod(x, 1).detach().numpy(), [[0.5, 1.0], [3.0, -3.0]])
    np.testing.assert_array_equal(x.cumsum(0).detach().numpy(), gradlab.cumsum(x, 0).detach().numpy())


# ---- second derivatives of ops that are now one node each ------------------------------------------
SMALL = dict(max_dims=2, max_side=3)
UNIQUE = dict(unique=True, min_dims=1, min_side=2, max_dims=2, max_side=3)

GRADGRAD_SPECS = [
    OpSpec("var", lambda lib, x, dim, keepdim, correction: x.var(dim, keepdim=keepdim, correction=correction),
           kwargs=reduce_kwargs(correction=st.sampled_from([0, 1])), **UNIQUE),
    OpSpec("std", lambda lib, x, dim, keepdim: x.std(dim, keepdim=keepdim), kwargs=reduce_kwargs(), **UNIQUE),
    OpSpec("var_mean", lambda lib, x: lib.var_mean(x, 0), **UNIQUE),
    OpSpec("std_mean", lambda lib, x: lib.std_mean(x, -1), **UNIQUE),
    OpSpec("norm", lambda lib, x, p: x.norm(p), kwargs={"p": st.sampled_from([1, 2, 3, 1.5, float("inf")])},
           elements=DISTINCT_SIZES, unique=True, **SMALL),
    OpSpec("cumprod", lambda lib, x, dim: x.cumprod(dim), kwargs=_kw(dim=_dim), domain=(-2, 2), **SMALL),
    OpSpec("cumprod_with_zeros", lambda lib, x, dim: x.cumprod(dim), kwargs=_kw(dim=_dim),
           elements=st.sampled_from([0.0, 1.0, -2.0, 0.5]), **SMALL),
    OpSpec("clamp_tensor_bounds", lambda lib, x, lo, hi: (x * x).clamp(lo, hi + 3.01), arity=3,
           elements=[grid_floats(-2, 2), grid_floats(-1.5, -0.5), grid_floats(0.5, 1.5)], **SMALL),
    OpSpec("lerp_tensor_weight", lambda lib, a, b, w: (a * a).lerp(b, w), arity=3, **SMALL),
    OpSpec("addcmul_addcdiv", lambda lib, x, a, b: (lib.addcmul(x, a, b * b), lib.addcdiv(x, a * a, b)), arity=3,
           elements=[grid_floats(-2, 2), grid_floats(-2, 2), grid_floats(0.5, 2)], **SMALL),
    OpSpec("rdiv", lambda lib, x: 2 / x, domain=(0.5, 2), **SMALL),
    OpSpec("split_unbind_stack", lambda lib, x: lib.stack([p * p for p in x.unbind(0)] + [x.split(1)[0][0] ** 3]),
           min_dims=1, **SMALL),
    OpSpec("sort_topk", lambda lib, x: (x.sort(0)[0] ** 2, x.topk(1, 0)[0] ** 2), unique=True, min_dims=1, **SMALL),
    OpSpec("roll_masked_select", lambda lib, x: (x.roll(1, 0) ** 2, x.masked_select(x > 0) ** 2), avoid=(0,),
           min_dims=1, **SMALL),
]

test_gradgrad = make_op_tests(GRADGRAD_SPECS, gradgrad=True)
