"""ChainDataset and StackDataset, side by side with torch.utils.data's on the same plain-Python data: items, lengths,
batched access (__getitems__), '+' on streams, DataLoader batches and the errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
from gradlab.utils import data as D

torch = pytest.importorskip("torch")
TD = torch.utils.data


def stream_class(base):
    """An IterableDataset over a list, built on either library's base class."""

    class Stream(base):
        def __init__(self, items):
            self.items = list(items)

        def __iter__(self):
            return iter(self.items)

        def __len__(self):
            return len(self.items)

    return Stream


OurStream, TorchStream = stream_class(D.IterableDataset), stream_class(TD.IterableDataset)


class Batched(D.Dataset):
    """A map-style data set with __getitems__ that records that it was used."""

    def __init__(self, values):
        self.values = values
        self.batched_calls = 0

    def __getitem__(self, i):
        return self.values[i]

    def __getitems__(self, indices):
        self.batched_calls += 1
        return [self.values[i] for i in indices]

    def __len__(self):
        return len(self.values)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(), max_size=5), min_size=1, max_size=4))
def test_chain_dataset_as_torch(streams):
    ours = D.ChainDataset([OurStream(s) for s in streams])
    theirs = TD.ChainDataset([TorchStream(s) for s in streams])
    assert list(ours) == list(theirs) == [x for s in streams for x in s]
    assert len(ours) == len(theirs)
    assert list(ours) == list(ours)  # a chain can be read again


def test_chain_by_plus_and_errors():
    a, b = OurStream([1, 2]), OurStream([3])
    chained = a + b
    assert isinstance(chained, D.ChainDataset) and list(chained) == [1, 2, 3]
    assert type(TorchStream([1]) + TorchStream([2])) is TD.ChainDataset
    assert list(chained + OurStream([4])) == [1, 2, 3, 4]
    for chain in (D.ChainDataset([a, [5, 6]]), TD.ChainDataset([TorchStream([1]), [5, 6]])):
        with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
            list(chain)
        with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
            len(chain)


def test_chain_dataset_in_a_dataloader():
    loader = D.DataLoader(D.ChainDataset([OurStream(range(3)), OurStream(range(10, 14))]), batch_size=3)
    batches = [b.tolist() for b in loader]
    assert batches == [[0, 1, 2], [10, 11, 12], [13]]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 6), st.integers(1, 3), st.booleans(), st.randoms(use_true_random=False))
def test_stack_dataset_as_torch(n, parts, as_dict, rnd):
    columns = [[rnd.randint(-9, 9) for _ in range(n)] for _ in range(parts)]
    if as_dict:
        named = {f"part{k}": c for k, c in enumerate(columns)}
        ours, theirs = D.StackDataset(**named), TD.StackDataset(**named)
    else:
        ours, theirs = D.StackDataset(*columns), TD.StackDataset(*columns)
    assert len(ours) == len(theirs) == n
    assert [ours[i] for i in range(n)] == [theirs[i] for i in range(n)]
    indices = [rnd.randrange(n) for _ in range(n)] if n else []
    assert ours.__getitems__(indices) == theirs.__getitems__(indices)


def test_stack_dataset_uses_parts_getitems():
    batched = Batched([10, 20, 30])
    stack = D.StackDataset(x=batched, y=[1, 2, 3])
    assert stack.__getitems__([2, 0]) == [{"x": 30, "y": 3}, {"x": 10, "y": 1}]
    assert batched.batched_calls == 1
    assert D.StackDataset(batched, ["a", "b", "c"]).__getitems__([1]) == [(20, "b")]


def test_stack_dataset_in_a_dataloader():
    images = gradlab.arange(12.0).reshape(6, 2)
    labels = gradlab.arange(6)
    loader = D.DataLoader(D.StackDataset(image=D.TensorDataset(images), label=labels), batch_size=4)
    first = next(iter(loader))
    assert set(first) == {"image", "label"}
    np.testing.assert_array_equal(first["image"][0].numpy(), images[:4].numpy())
    np.testing.assert_array_equal(first["label"].numpy(), [0, 1, 2, 3])


class Short(Batched):
    def __getitems__(self, indices):
        return [self.values[i] for i in indices[:-1]]


@pytest.mark.parametrize("make, message", [
    (lambda M: M.StackDataset([1, 2], x=[1, 2]), "Supported either ``tuple``- \\(via ``args``\\)"),
    (lambda M: M.StackDataset(), "At least one dataset should be passed"),
    (lambda M: M.StackDataset([1, 2], [1]), "Size mismatch between datasets"),
    (lambda M: M.StackDataset(a=[1, 2], b=[1]), "Size mismatch between datasets"),
    (lambda M: M.StackDataset(Short([1, 2]), [3, 4]).__getitems__([0, 1]),
     "Nested dataset's output size mismatch. Expected 2, got 1"),
])
def test_stack_dataset_errors_as_torch(make, message):
    for module in (D, TD):
        with pytest.raises(ValueError, match=message):
            make(module)
