"""gradlab.testing itself: the strategies draw what they promise, and the factory catches broken ops."""
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

import gradlab
from gradlab.testing import (OpSpec, broadcastable_shapes, check_op, conv_geometries, conv_output_size, gradcheck,
                             gradgradcheck, make_op_tests, pool_geometries, pool_output_size, shapes, tensors)

try:
    import torch
except ImportError:
    torch = None


@given(shape=shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
def test_shapes_respect_their_bounds(shape):
    assert 1 <= len(shape) <= 3 and all(2 <= s <= 4 for s in shape)


@given(group=broadcastable_shapes(3, max_dims=4))
def test_broadcastable_shapes_broadcast(group):
    assert len(group) == 3
    np.broadcast_shapes(*group)


@given(t=tensors(dtype=st.sampled_from(["float32", "float64", "int64"]), shape=shapes(max_dims=2, max_side=2), min_value=-2,
                 max_value=3, unique=True))
def test_tensors_respect_dtype_range_and_uniqueness(t):
    assert t.dtype in (gradlab.float32, gradlab.float64, gradlab.int64)
    values = t.numpy().reshape(-1)
    assert ((-2 <= values) & (values <= 3)).all() and len(set(values.tolist())) == values.size
    assert not t.requires_grad


@given(t=tensors(dtype="float64", shape=(2, 3), requires_grad=True))
def test_tensors_can_require_grad(t):
    assert t.requires_grad and t.is_leaf and t.shape == (2, 3)
    assert gradcheck(lambda x: (x * x).sum(), (t,))


@given(g=conv_geometries())
def test_conv_geometries_are_valid_with_a_non_empty_output(g):
    assert g.C_in % g.groups == 0 and g.C_out % g.groups == 0
    out = [conv_output_size(n, k, s, p, d) for n, k, s, p, d in
           zip((g.H, g.W), g.kernel, g.stride, g.padding, g.dilation)]
    assert min(out) >= 1
    if torch is not None:
        x = torch.zeros(g.N, g.C_in, g.H, g.W)
        w = torch.zeros(g.C_out, g.C_in // g.groups, *g.kernel)
        y = torch.nn.functional.conv2d(x, w, None, g.stride, g.padding, g.dilation, g.groups)
        assert tuple(y.shape) == (g.N, g.C_out, *out)


@given(g=pool_geometries())
def test_pool_geometries_are_valid_for_max_pool(g):
    out = [pool_output_size(n, k, s, p, d, g.ceil_mode) for n, k, s, p, d in
           zip((g.H, g.W), g.kernel, g.stride, g.padding, g.dilation)]
    assert min(out) >= 1
    if torch is not None:
        y = torch.nn.functional.max_pool2d(torch.zeros(g.N, g.C, g.H, g.W), g.kernel, g.stride, g.padding,
                                           g.dilation, g.ceil_mode)
        assert tuple(y.shape) == (g.N, g.C, *out)


@given(g=pool_geometries(dilation=False))
def test_pool_geometries_without_dilation_are_valid_for_avg_pool(g):
    assert g.dilation == (1, 1)
    if torch is not None:
        y = torch.nn.functional.avg_pool2d(torch.zeros(g.N, g.C, g.H, g.W), g.kernel, g.stride, g.padding,
                                           g.ceil_mode)
        assert tuple(y.shape[2:]) == tuple(pool_output_size(n, k, s, p, 1, g.ceil_mode) for n, k, s, p in
                                           zip((g.H, g.W), g.kernel, g.stride, g.padding))


# ---- the factory fails on broken ops ---------------------------------------------------------------
class _WrongGradSquare(gradlab.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x  # should be 2 * g * x


def _fails(spec, torch_module=None):
    @settings(max_examples=20, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # no shrinking: only the failure matters
    @given(data=st.data())
    def run(data):
        check_op(spec, data, torch=torch_module)
    with pytest.raises(Exception) as info:
        run()
    return str(info.value)


def test_factory_catches_a_wrong_forward():
    message = _fails(OpSpec("square", lambda lib, x: x * x + 1e-3, ref=np.square))
    assert "forward vs NumPy" in message


def test_factory_catches_a_wrong_gradient():
    spec = OpSpec("square", lambda lib, x: _WrongGradSquare.apply(x), ref=np.square, torch=False, min_dims=1)
    assert "Jacobian mismatch" in _fails(spec) or "u^T J v" in _fails(spec)


def test_factory_catches_an_op_that_changes_its_input():
    def sneaky(lib, x):
        out = x * 2
        x.add_(1)
        return out
    assert "changed its input" in _fails(OpSpec("sneaky", sneaky, ref=lambda x: x * 2, grad=False))


@pytest.mark.skipif(torch is None, reason="torch not installed")
def test_factory_catches_a_dtype_that_differs_from_torch():
    def widen(lib, x):
        return x.double() if lib is gradlab else x * 1
    message = _fails(OpSpec("widen", widen, ref=lambda x: x, dtypes=("float32",), grad=False), torch)
    assert "dtype" in message


# the usage example from gradlab.testing.opcheck's docstring, as a user would write it
def _softplus(lib, x, beta):
    return (1 + (x * beta).exp()).log() / beta


test_user_defined_op = make_op_tests(
    [OpSpec("softplus", _softplus, ref=lambda x, beta: np.log1p(np.exp(x * beta)) / beta,
            kwargs={"beta": st.sampled_from([0.5, 1.0, 2.0])})], torch=torch)


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
