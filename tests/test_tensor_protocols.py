"""The Python protocols of Tensor: format, int / float / bool, len, iteration, membership, hashing, NumPy's
__array__, and the attributes PyTorch code reads."""
import numpy as np
import pytest
from hypothesis import given

import gradlab
from gradlab.testing import shapes, tensors

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


def test_format_and_fstrings_of_one_element_tensors():
    assert f"{gradlab.tensor(2.25):.2f}" == "2.25"
    assert format(gradlab.tensor(3.14159), ".4f") == "3.1416"
    assert format(gradlab.tensor([0.5]), ".3f") == "0.500"  # one element, one dimension
    assert f"{gradlab.tensor(7)}" == "7"
    assert f"{gradlab.tensor([1.0, 2.0])}" == "tensor([1., 2.])"
    assert f"loss {gradlab.tensor(0.12345, requires_grad=True):.3f}" == "loss 0.123"


def test_number_conversions():
    assert float(gradlab.tensor([2.5])) == 2.5
    assert int(gradlab.tensor(2.7)) == 2 and int(gradlab.tensor([[-2.7]])) == -2
    assert bool(gradlab.tensor([0.0])) is False and bool(gradlab.tensor(3)) is True
    assert [10, 20, 30][gradlab.tensor(1)] == 20  # __index__ for integer tensors
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(gradlab.tensor([1, 2]))
    with pytest.raises((RuntimeError, ValueError, TypeError)):
        float(gradlab.tensor([1.0, 2.0]))


@given(x=tensors(dtype="int64", shape=shapes(min_dims=1, max_dims=3), min_value=-3, max_value=3))
def test_len_iteration_and_membership(x):
    assert len(x) == x.shape[0]
    rows = list(x)
    assert len(rows) == x.shape[0]
    for row, expected in zip(rows, x.numpy()):
        assert row.shape == expected.shape and row.tolist() == expected.tolist()
    for value in range(-4, 5):
        assert (value in x) == bool((x.numpy() == value).any())


def test_zero_dim_has_no_len_or_iteration():
    with pytest.raises(TypeError):
        len(gradlab.tensor(1.0))
    with pytest.raises(TypeError):
        iter(gradlab.tensor(1.0))


def test_hashing_is_by_identity():
    a, b = gradlab.ones(2), gradlab.ones(2)
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b" and len({a, b, a}) == 2
    assert hash(a) == id(a) or hash(a) != hash(b)


def test_numpy_interop():
    x = gradlab.tensor([[1.0, 2.0], [3.0, 4.0]])
    array = np.asarray(x)
    assert array.dtype == np.float32 and array.shape == (2, 2)
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert np.array(x).tolist() == x.tolist()
    y = np.ones((2, 2), dtype=np.float32) + x  # ndarray + Tensor defers to the Tensor
    assert isinstance(y, gradlab.Tensor) and y.tolist() == [[2.0, 3.0], [4.0, 5.0]]


@needs_torch
def test_tensor_attributes_match_torch():
    for lib in (gradlab, torch):
        x = lib.ones(2, 3, 4)
        assert x.dim() == x.ndim == 3 and x.numel() == 24 and x.size() == (2, 3, 4) and x.size(1) == 3
        assert x.size(-1) == 4 and x.shape[0] == 2 and x[0].T.shape == (4, 3)
        assert x.is_contiguous() and not x.transpose(0, 1).is_contiguous()
        assert x.transpose(0, 1).contiguous().is_contiguous()
        assert x.clone() is not x and x.detach().requires_grad is False
        assert x.stride() == (12, 4, 1)
