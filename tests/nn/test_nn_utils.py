"""nn.utils: gradient clipping and parameter vectors, against torch on random shapes."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradlab
from gradlab import nn
from gradlab.nn import utils

grad_arrays = st.lists(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                                  elements=st.floats(-100, 100)), min_size=1, max_size=4)
norm_types = st.sampled_from([1.0, 2.0, 3.5, math.inf, 0.0])


def params_with_grads(lib, arrays):
    params = []
    for a in arrays:
        p = lib.nn.Parameter(lib.zeros(a.shape, dtype=lib.float64))
        p.grad = lib.tensor(a.copy())
        params.append(p)
    return params


@given(grad_arrays, norm_types, st.floats(0.01, 50))
def test_clip_grad_norm_matches_torch(arrays, norm_type, max_norm):
    torch = pytest.importorskip("torch")
    ours, theirs = params_with_grads(gradlab, arrays), params_with_grads(torch, arrays)
    total = utils.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, gradlab.Tensor) and total.dim() == 0
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-10, atol=1e-150)  # subnormals aside
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.tolist(), q.grad.tolist(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("values", [[1e20, -1e20, 3e19], [1e-30, 2e-30], [0.0, 0.0]])
def test_clip_grad_norm_at_float32_extremes_matches_torch(values):
    """Like torch, the norm is computed in the gradients' dtype: float32 squares may overflow or underflow."""
    torch = pytest.importorskip("torch")
    p = nn.Parameter(gradlab.zeros(3, dtype=gradlab.float32)[:len(values)])
    p.grad = gradlab.tensor(values, dtype=gradlab.float32)
    q = torch.nn.Parameter(torch.zeros(len(values)))
    q.grad = torch.tensor(values, dtype=torch.float32)
    total = utils.clip_grad_norm_([p], 1.0)
    assert total.dtype == gradlab.float32
    np.testing.assert_allclose(total.item(), torch.nn.utils.clip_grad_norm_([q], 1.0).item(), rtol=1e-6)
    np.testing.assert_allclose(p.grad.tolist(), q.grad.tolist(), rtol=1e-6)


def test_clip_grad_norm_scales_to_max_norm_and_keeps_direction():
    p = nn.Parameter(gradlab.zeros(2))
    p.grad = gradlab.tensor([3.0, 4.0])
    grad = p.grad
    assert utils.clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)
    assert p.grad is grad  # in place
    np.testing.assert_allclose(p.grad.tolist(), [0.6, 0.8], rtol=1e-5)
    utils.clip_grad_norm_([p], 10.0)  # below the limit: unchanged
    np.testing.assert_allclose(p.grad.tolist(), [0.6, 0.8], rtol=1e-5)
    q = nn.Parameter(gradlab.zeros(1))  # parameters without gradients are skipped
    assert utils.clip_grad_norm_([q], 1.0).item() == 0.0


def test_clip_grad_norm_nonfinite():
    p = nn.Parameter(gradlab.zeros(2))
    p.grad = gradlab.tensor([math.inf, 1.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is "
                                           "non-finite"):
        utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    with pytest.warns(UserWarning, match="empty generator"):
        utils.clip_grad_norm_((p for p in []), 1.0)


@given(grad_arrays, st.floats(0.01, 50))
def test_clip_grad_value_matches_torch(arrays, clip):
    torch = pytest.importorskip("torch")
    ours, theirs = params_with_grads(gradlab, arrays), params_with_grads(torch, arrays)
    utils.clip_grad_value_(ours, clip)
    torch.nn.utils.clip_grad_value_(theirs, clip)
    for p, q in zip(ours, theirs):
        assert p.grad.tolist() == q.grad.tolist()


def test_parameters_to_vector_and_back():
    net = nn.Module()
    net.a = nn.Parameter(gradlab.tensor([[1.0, 2.0], [3.0, 4.0]]))
    net.b = nn.Parameter(gradlab.tensor([5.0]))
    vec = utils.parameters_to_vector(net.parameters())
    assert vec.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    (vec * gradlab.arange(5.0)).sum().backward()  # differentiable, like cat
    assert net.a.grad.tolist() == [[0.0, 1.0], [2.0, 3.0]] and net.b.grad.tolist() == [4.0]
    a = net.a
    utils.vector_to_parameters(gradlab.arange(10.0, 15.0), net.parameters())
    assert net.a is a and a.tolist() == [[10.0, 11.0], [12.0, 13.0]] and net.b.tolist() == [14.0]
    with pytest.raises(TypeError, match="expected gradlab.Tensor, but got: list"):
        utils.vector_to_parameters([1.0], net.parameters())
