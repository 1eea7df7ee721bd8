"""The dtype conversions of gradlab/ops/convert.py (float(), long(), to(), type(), ...), devices, and the ways
out to NumPy and Python (item, tolist, numpy), against PyTorch where it is installed."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import gradlab
from gradlab.testing import shapes, tensors
from ops_helpers import needs_torch, torch


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


CASTS = ["float", "double", "half", "long", "int", "bool"]


@given(x=tensors(dtype=st.sampled_from(["float32", "float64", "int64", "int32", "bool"]), shape=shapes(max_dims=2),
                 min_value=-5, max_value=5), cast=st.sampled_from(CASTS))
def test_cast_methods(x, cast):
    out = getattr(x, cast)()
    expected = {"float": gradlab.float32, "double": gradlab.float64, "half": gradlab.float16,
                "long": gradlab.int64, "int": gradlab.int32, "bool": gradlab.bool}[cast]
    assert out.dtype is expected and out.shape == x.shape
    assert out.to(x.dtype).dtype is x.dtype
    np.testing.assert_array_equal(out.numpy(), x.numpy().astype(expected.np))
    if x.dtype is expected:
        assert out is x  # a no-op cast returns the tensor itself, as torch
    assert x.to(expected).dtype is expected and x.type(expected).dtype is expected


@needs_torch
@pytest.mark.parametrize("cast", CASTS)
@pytest.mark.parametrize("src", ["float32", "float64", "int64", "bool"])
def test_cast_values_match_torch(cast, src):
    values = [-2.7, -0.5, 0.0, 0.4, 1.0, 3.9] if src.startswith("float") else [0, 1, 1, 0, 1, 0] if src == "bool" \
        else [-3, 0, 1, 2, 7, 250]
    g = getattr(gradlab.tensor(values, dtype=getattr(gradlab, src)), cast)()
    t = getattr(torch.tensor(values, dtype=getattr(torch, src)), cast)()
    assert _dtype_name(g) == _dtype_name(t)
    np.testing.assert_array_equal(g.numpy(), t.numpy())


def test_to_forms():
    x = gradlab.ones(2, 3)
    assert x.to(gradlab.float64).dtype == gradlab.float64
    assert x.to("cpu") is x and x.to(gradlab.device("cpu")) is x and x.cpu() is x
    assert x.to("cpu", gradlab.int64).dtype == gradlab.int64
    assert x.to(dtype=gradlab.float16).dtype == gradlab.float16
    assert x.to(gradlab.tensor([1, 2])).dtype == gradlab.int64
    assert x.to(np.float64).dtype == gradlab.float64
    copy = x.to(gradlab.float32, copy=True)
    assert copy is not x and gradlab.equal(copy, x)
    with pytest.raises(RuntimeError, match="CPU"):
        x.to("cuda")


def test_a_gpu_device_can_be_named_but_holds_no_tensor():
    # tutorials write `cuda.is_available() & (device('cuda').index is not None)`: naming one is no error
    cuda = gradlab.device("cuda")
    assert (cuda.type, cuda.index, str(cuda), repr(cuda)) == ("cuda", None, "cuda", "device(type='cuda')")
    assert str(gradlab.device("cuda:1")) == "cuda:1" and gradlab.device("cuda", 1).index == 1
    assert gradlab.device("cpu") == "cpu" and gradlab.device("cuda") != gradlab.device("cpu")
    with pytest.raises(RuntimeError, match="device type at start of device string: gpu"):
        gradlab.device("gpu")
    for use in (lambda: gradlab.ones(2, device=cuda), lambda: gradlab.ones(2).to(cuda),
                lambda: gradlab.nn.Linear(2, 2).to(cuda)):
        with pytest.raises(RuntimeError, match="CPU only; device 'cuda' is not available"):
            use()


def test_accelerator_and_default_device_as_tutorials_query_them():
    # `torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"`
    assert gradlab.accelerator.is_available() is False and gradlab.accelerator.device_count() == 0
    assert gradlab.accelerator.current_accelerator() is None
    gradlab.set_default_device("cpu")
    gradlab.set_default_device(None)
    assert gradlab.get_default_device() == gradlab.device("cpu")
    with pytest.raises(RuntimeError, match="CPU only; device 'mps' is not available"):
        gradlab.set_default_device("mps")


def test_casts_carry_gradients():
    x = gradlab.tensor([1.0, 2.0], dtype=gradlab.float64, requires_grad=True)
    y = x.float()
    assert y.grad_fn is not None and y.dtype == gradlab.float32
    (y * y).sum().backward()
    assert x.grad.dtype == gradlab.float64
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert not x.long().requires_grad  # integer results leave the graph
    z = gradlab.ones(2, requires_grad=True)
    (z.double() * 3).sum().backward()
    assert z.grad.dtype == gradlab.float32 and z.grad.tolist() == [3.0, 3.0]


@given(x=tensors(dtype=st.sampled_from(["float32", "float64", "int64", "bool"]), shape=shapes(max_dims=3)))
def test_item_tolist_numpy(x):
    assert x.tolist() == x.numpy().tolist()
    assert x.numpy() is x._data
    assert np.asarray(x) is x._data or np.shares_memory(np.asarray(x), x._data)
    if x.numel() == 1:
        item = x.item()
        assert item == x.numpy().reshape(()).item() and type(item) is type(x.numpy().reshape(()).item())
    else:
        with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
            x.item()


def test_numpy_of_a_tensor_requiring_grad_is_an_error():
    x = gradlab.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert x.detach().numpy().tolist() == [1.0, 1.0]

