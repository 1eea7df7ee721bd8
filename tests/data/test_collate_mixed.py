"""default_collate on batches that mix bools, ints, floats, NumPy scalars, arrays and tensors, against
torch's; and the DataLoader's batch-at-once path against its item-by-item path for indices that are not
integers.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
from gradlab.utils.data import DataLoader, Subset, TensorDataset, default_collate
from gradlab.utils.data.dataloader import _integer_indices

try:
    import torch
    from torch.utils.data import default_collate as torch_collate
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")

# ---------------------------------------------------------------- what the issue names


@pytest.mark.parametrize("batch, dtype, values", [
    ([1, 2.5, 3], gradlab.float32, [1.0, 2.5, 3.0]),  # torch.tensor's inference: ints with a float -> float32
    ([True, 2], gradlab.int64, [1, 2]),
    ([2, True], gradlab.int64, [2, 1]),
    ([True, False], gradlab.bool, [True, False]),
    ([1.5, 2, True], gradlab.float64, [1.5, 2.0, 1.0]),  # a Python float first: float64
    ([3, gradlab.tensor(1.5)], gradlab.float32, [3.0, 1.5]),
])
def test_mixed_numbers_follow_pytorch(batch, dtype, values):
    out = default_collate(batch)
    assert out.dtype == dtype and out.tolist() == values


def test_a_tensor_first_then_a_number_is_a_type_error_naming_the_element():
    with pytest.raises(TypeError, match="expected Tensor as element 1 of the batch.*got int"):
        default_collate([gradlab.tensor(1.0), 3])
    with pytest.raises(TypeError, match="expected Tensor as element 2 .*got ndarray"):
        default_collate([gradlab.zeros(2), gradlab.ones(2), np.zeros(2)])


def test_a_number_first_then_something_else_is_a_type_error_naming_the_element():
    for other in ("a", None, [1], 1 + 2j):
        with pytest.raises(TypeError, match="element 1 of the batch is"):
            default_collate([1, other])


def test_an_int_too_big_for_int64_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match=f"element 1, the int {2**63}, does not fit in int64"):
        default_collate([1, 2**63])
    assert default_collate([1.5, 2**70]).tolist() == [1.5, float(2**70)]  # float64 holds it


# ---------------------------------------------------------------- random mixes against torch

TENSOR_DTYPES = ["float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"]


def _scalar(draw, kind):
    if kind == "bool":
        return draw(st.booleans())
    if kind == "int":
        return draw(st.one_of(st.integers(-1000, 1000), st.integers(-2**64, 2**64)))
    if kind == "float":
        return draw(st.floats(width=32) | st.sampled_from([math.nan, math.inf, -0.0]))
    dtype = draw(st.sampled_from(TENSOR_DTYPES))
    if dtype == "bool":
        value = draw(st.booleans())
    elif dtype.startswith("float"):
        value = draw(st.floats(-1e6, 1e6))
    else:
        info = np.iinfo(dtype)
        value = draw(st.integers(int(info.min), int(info.max)))
    shape = draw(st.sampled_from([(), (), (2,), (1,)]))
    return ("tensor", np.full(shape, value, dtype=dtype))


@st.composite
def mixed_batches(draw):
    kinds = draw(st.lists(st.sampled_from(["bool", "int", "float", "tensor"]), min_size=1, max_size=6))
    return [_scalar(draw, kind) for kind in kinds]


def _ours(item):
    return gradlab.tensor(item[1]) if isinstance(item, tuple) else item


def _theirs(item):
    return torch.from_numpy(np.array(item[1])) if isinstance(item, tuple) else item


def _outcome(collate, batch):
    try:
        out = collate(batch)
    except (TypeError, ValueError, RuntimeError, OverflowError) as e:
        return type(e), None
    array = out._data if isinstance(out, gradlab.Tensor) else out.numpy()
    return array.dtype, array


@needs_torch
@given(batch=mixed_batches())
@settings(max_examples=max(300, settings.default.max_examples))  # more under the fuzz profile
def test_collate_of_random_mixes_matches_torch(batch):
    """Bools, ints (some past int64), floats and tensors (0-d, 1-element, 2-element) in any order: the same
    dtype and values as torch, or an error of the same type."""
    # torch warns about tensors inside a list it builds a tensor from
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = _outcome(torch_collate, [_theirs(b) for b in batch])
    ours = _outcome(default_collate, [_ours(b) for b in batch])
    assert ours[0] == theirs[0], (batch, ours, theirs)
    if theirs[1] is not None:
        np.testing.assert_array_equal(ours[1], theirs[1])


@needs_torch
@given(arrays=st.lists(st.sampled_from(["float32", "float64", "int64", "int32", "uint8", "bool"]),
                       min_size=1, max_size=4),
       tensor_first=st.booleans())
def test_stacking_mixed_dtypes_promotes_as_torch(arrays, tensor_first):
    """Arrays (or tensors) of one shape and several dtypes stack to torch's promoted dtype, not NumPy's."""
    items = [np.arange(3).astype(d) for d in arrays]
    ours = default_collate([gradlab.tensor(a) for a in items] if tensor_first else items)
    theirs = torch_collate([torch.from_numpy(a) for a in items] if tensor_first else items)
    assert ours._data.dtype == theirs.numpy().dtype
    np.testing.assert_array_equal(ours._data, theirs.numpy())


# ---------------------------------------------------------------- the loader's indices

DATA = TensorDataset(gradlab.arange(10.0), gradlab.arange(10))


def _batches(indices, fast):
    """All batches of a Subset, through the batch-at-once path (fast) or item by item."""
    collate = None if fast else (lambda samples: default_collate(samples))
    return [[t.tolist() for t in batch] for batch in DataLoader(Subset(DATA, indices), batch_size=3,
                                                                collate_fn=collate)]


def _outcome_of(fn, *args):
    try:
        return fn(*args)
    except (IndexError, TypeError, ValueError, OverflowError, RuntimeError) as e:
        return type(e)


INDEX_ITEMS = st.one_of(st.integers(-10, 9), st.floats(-10, 10), st.booleans(),
                        st.sampled_from([np.int32(2), np.float64(1.0), np.bool_(True), np.uint8(3), "1", None]))


@given(indices=st.lists(INDEX_ITEMS, min_size=1, max_size=5))
@settings(max_examples=max(150, settings.default.max_examples))  # more under the fuzz profile
def test_subset_indices_give_the_same_batches_or_error_on_both_paths(indices):
    """Subset(ds, [1.7, 2.2]) is an IndexError item by item, so it must be one batch-at-once too; whatever
    mix of ints, floats, bools and NumPy scalars the indices hold, both paths agree."""
    assert _outcome_of(_batches, indices, True) == _outcome_of(_batches, indices, False)


@given(indices=st.lists(INDEX_ITEMS, min_size=1, max_size=5))
@settings(max_examples=max(100, settings.default.max_examples))  # more under the fuzz profile
def test_sampled_indices_give_the_same_batches_or_error_on_both_paths(indices):
    """The same for the indices a batch sampler yields (here: a list given as batch_sampler)."""
    def batches(fast):
        collate = None if fast else (lambda samples: default_collate(samples))
        loader = DataLoader(DATA, batch_sampler=[indices], collate_fn=collate)
        return [[t.tolist() for t in batch] for batch in loader]
    assert _outcome_of(batches, True) == _outcome_of(batches, False)


@needs_torch
def test_float_subset_indices_are_an_index_error_as_in_torch():
    with pytest.raises(IndexError):
        list(torch.utils.data.DataLoader(torch.utils.data.Subset(
            torch.utils.data.TensorDataset(torch.arange(10.0)), [1.7, 2.2]), batch_size=2))
    with pytest.raises(IndexError):
        _batches([1.7, 2.2], fast=True)


def test_integer_indices_are_read_exactly():
    assert _integer_indices([3, 1, -2]).tolist() == [3, 1, -2]
    assert _integer_indices(range(5, 0, -2)).tolist() == [5, 3, 1]
    assert _integer_indices(np.array([2**63], dtype=np.uint64)) is None  # would wrap to a negative index
    for not_integers in ([1.0], [True, 1], [np.bool_(True)], ["1"], [[1]], np.zeros(2)):
        assert _integer_indices(not_integers) is None
