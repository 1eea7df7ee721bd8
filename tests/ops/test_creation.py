"""Creation functions, dtype conversions and Python protocols, against PyTorch where it is installed."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import gradlab
from gradlab.testing import shapes, tensors

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


def _same(make, values=True):
    """``make(lib)`` gives the same shape, dtype (and values) on gradlab and torch."""
    g, t = make(gradlab), make(torch)
    assert tuple(g.shape) == tuple(t.shape), (g.shape, t.shape)
    assert _dtype_name(g) == _dtype_name(t), (g.dtype, t.dtype)
    assert g.requires_grad == t.requires_grad
    if values:
        np.testing.assert_allclose(g.detach().numpy().astype(np.float64), t.detach().double().numpy(),
                                   rtol=1e-6, atol=1e-7)


# ---- shapes given every way ----------------------------------------------------------------------
@given(shape=shapes(max_dims=3, min_side=0, max_side=4), name=st.sampled_from(["zeros", "ones", "empty", "rand",
                                                                               "randn"]))
def test_size_as_varargs_tuple_list_and_keyword(shape, name):
    make = getattr(gradlab, name)
    outs = [make(*shape), make(shape), make(list(shape)), make(size=shape)]
    for out in outs:
        assert out.shape == shape and out.dtype == gradlab.float32
    assert isinstance(outs[0].shape, gradlab.Size)


@needs_torch
@pytest.mark.parametrize("case", [
    lambda lib: lib.zeros(2, 3),
    lambda lib: lib.zeros((2, 3), dtype=lib.float64),
    lambda lib: lib.ones(4, dtype=lib.int64),
    lambda lib: lib.ones(size=(2, 2), requires_grad=True),
    lambda lib: lib.zeros(()),
    lambda lib: lib.zeros(0, 3),
    lambda lib: lib.full((2, 3), 7),
    lambda lib: lib.full((2,), 2.5),
    lambda lib: lib.full((2,), True),
    lambda lib: lib.full([3], 1, dtype=lib.float16),
    lambda lib: lib.full(size=(2,), fill_value=-1.5),
    lambda lib: lib.arange(5),
    lambda lib: lib.arange(5.0),
    lambda lib: lib.arange(1, 4),
    lambda lib: lib.arange(0, 1, 0.25),
    lambda lib: lib.arange(10, 0, -3),
    lambda lib: lib.arange(5, dtype=lib.float64),
    lambda lib: lib.arange(0, 5, 2, dtype=lib.int32),
    lambda lib: lib.arange(-1.5, 2.5, 0.5),
    lambda lib: lib.linspace(0, 1, 5),
    lambda lib: lib.linspace(-2, 2, steps=9),
    lambda lib: lib.linspace(0, 1, 1),
    lambda lib: lib.linspace(1, 3, 3, dtype=lib.float64),
    lambda lib: lib.eye(3),
    lambda lib: lib.eye(2, 4),
    lambda lib: lib.eye(3, dtype=lib.int64),
    lambda lib: lib.tensor([[1, 2], [3, 4]]),
    lambda lib: lib.tensor([1.5, 2]),
    lambda lib: lib.tensor(3),
    lambda lib: lib.tensor(2.5),
    lambda lib: lib.tensor(True),
    lambda lib: lib.tensor([True, False]),
    lambda lib: lib.tensor([1, 2], dtype=lib.float32),
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True),
    lambda lib: lib.tensor([]),
    lambda lib: lib.tensor(np.arange(3, dtype=np.int32)),
    lambda lib: lib.tensor(np.ones(2)),
    lambda lib: lib.Tensor([1, 2]),
    lambda lib: lib.FloatTensor([1, 2]),
    lambda lib: lib.LongTensor([1, 2]),
    lambda lib: lib.zeros_like(lib.ones(2, 3, dtype=lib.float64)),
    lambda lib: lib.ones_like(lib.tensor([1, 2])),
    lambda lib: lib.full_like(lib.ones(2), 4),
    lambda lib: lib.zeros_like(lib.ones(2), dtype=lib.int64),
    lambda lib: lib.ones_like(lib.ones(2), requires_grad=True),
])
def test_deterministic_constructors_match_torch(case):
    _same(case)


@needs_torch
@pytest.mark.parametrize("case", [
    lambda lib: lib.empty(2, 3),
    lambda lib: lib.empty((4,), dtype=lib.int64),
    lambda lib: lib.Tensor(2, 3),
    lambda lib: lib.FloatTensor(3),
    lambda lib: lib.LongTensor(2, 2),
    lambda lib: lib.rand(2, 3),
    lambda lib: lib.rand((2,), dtype=lib.float64),
    lambda lib: lib.randn(size=(3, 1)),
    lambda lib: lib.randint(10, (3,)),
    lambda lib: lib.randint(2, 5, (2, 2)),
    lambda lib: lib.randint(0, 10, size=(3,)),
    lambda lib: lib.randint(10, size=(3,)),  # data_tutorial.py's form
    lambda lib: lib.randint(high=10, size=(2, 2)),
    lambda lib: lib.randint(3, (4,), dtype=lib.int32),
    lambda lib: lib.empty_like(lib.ones(2, dtype=lib.float64)),
    lambda lib: lib.rand_like(lib.ones(2, 2)),
    lambda lib: lib.randn_like(lib.ones(3, dtype=lib.float64)),
    lambda lib: lib.randint_like(lib.ones(3), 5),
    lambda lib: lib.randperm(5),
])
def test_random_and_uninitialised_constructors_match_torch_shape_and_dtype(case):
    _same(case, values=False)


def test_random_values_lie_in_their_ranges():
    gradlab.manual_seed(0)
    u = gradlab.rand(2000)
    assert 0 <= u.min().item() and u.max().item() < 1 and abs(u.mean().item() - 0.5) < 0.05
    n = gradlab.randn(4000, dtype=gradlab.float64)
    assert abs(n.mean().item()) < 0.1 and abs(n.std().item() - 1) < 0.1
    r = gradlab.randint(3, 7, (2000,))
    assert r.dtype == gradlab.int64 and r.min().item() == 3 and r.max().item() == 6
    p = gradlab.randperm(10)
    assert sorted(p.tolist()) == list(range(10))


def test_randint_with_one_bound_and_size_by_keyword():
    draws = gradlab.randint(10, size=(1000,))
    assert draws.shape == (1000,) and set(draws.tolist()) == set(range(10))
    with pytest.raises(TypeError, match="missing required argument 'size'"):
        gradlab.randint(10)


def test_manual_seed_reproduces_every_random_source():
    def draw():
        x = gradlab.empty(3)
        return [gradlab.rand(3).tolist(), gradlab.randn(2, 2).tolist(), gradlab.randint(0, 100, (4,)).tolist(),
                gradlab.randperm(6).tolist(), x.uniform_(-1, 1).tolist(), x.normal_(2, 0.5).tolist(),
                gradlab.rand_like(x).tolist()]
    gradlab.manual_seed(1234)
    first = draw()
    gradlab.manual_seed(1234)
    assert draw() == first
    gradlab.manual_seed(4321)
    assert draw() != first


def test_generator_objects_give_independent_reproducible_streams():
    g = gradlab.Generator().manual_seed(7)
    a = gradlab.rand(4, generator=g)
    gradlab.rand(10)  # the global stream does not disturb g
    g.manual_seed(7)
    assert gradlab.equal(gradlab.rand(4, generator=g), a)


# ---- from_numpy shares memory ------------------------------------------------------------------
@given(array=st.sampled_from([np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_]).map(
    lambda dt: np.arange(6).reshape(2, 3).astype(dt)))
def test_from_numpy_shares_memory_both_ways(array):
    t = gradlab.from_numpy(array)
    assert t.dtype.np == array.dtype and t.shape == array.shape
    array[0, 0] = 1
    assert t[0, 0].item() == array[0, 0]
    t[1, 2] = 0
    assert array[1, 2] == 0
    assert np.shares_memory(t.numpy(), array)


def test_from_numpy_rejects_unsupported_dtypes_clearly():
    with pytest.raises(TypeError, match="complex128"):
        gradlab.from_numpy(np.ones(2, dtype=np.complex128))
    with pytest.raises(TypeError, match="np.ndarray"):
        gradlab.from_numpy([1, 2])


def test_tensor_copies_its_data():
    array = np.ones(3)
    t = gradlab.tensor(array)
    array[0] = 5
    assert t[0].item() == 1


def test_requires_grad_only_for_floats():
    with pytest.raises(RuntimeError, match="floating point"):
        gradlab.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        gradlab.zeros(2, dtype=gradlab.int64, requires_grad=True)


# ---- conversions ---------------------------------------------------------------------------------
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


# ---- Python protocols -----------------------------------------------------------------------------
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
