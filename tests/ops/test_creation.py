"""Creation functions (zeros, full, arange, rand, from_numpy, tensor, ...), against PyTorch where it is installed."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import gradlab
from gradlab.testing import shapes

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


def same(make, values=True):
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
    same(case)


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
    same(case, values=False)


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


