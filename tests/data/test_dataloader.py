"""gradlab.utils.data against torch.utils.data: batching, shuffling, collation, splits.

The fast path (a whole batch in one fancy index) is held equal, value for
value and dtype for dtype, to the item-by-item path it replaces.
"""
import collections
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
from gradlab.datasets import DigitsMNIST, transforms as T
from gradlab.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset,
                                RandomSampler, SequentialSampler, Subset, SubsetRandomSampler,
                                TensorDataset, WeightedRandomSampler, default_collate, default_convert,
                                random_split)
from gradlab.utils.data.dataloader import _batch_reader

try:
    import torch
    import torch.utils.data as tud
except ImportError:  # the cross-checks skip, the rest runs
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


def as_np(x):
    return x._data if isinstance(x, gradlab.Tensor) else x.numpy()


def same_structure(ours, theirs):
    """Our batch and torch's: same nesting, same dtypes, same values."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, gradlab.Tensor), type(ours)
        a, b = as_np(ours), theirs.numpy()
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and ours.keys() == theirs.keys()
        for k in theirs:
            same_structure(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            same_structure(a, b)
    else:
        assert ours == theirs


def batch_arrays(batch):
    return [as_np(b) for b in batch]


# ---------------------------------------------------------------- collate

Point = collections.namedtuple("Point", "x y")

SAMPLE_KINDS = {
    "ints": [1, 2, 3],
    "floats": [1.5, 2.0, -3.25],
    "bools": [True, False, True],
    "np_int32": [np.int32(1), np.int32(7), np.int32(-2)],
    "np_float32": [np.float32(0.5), np.float32(2), np.float32(3)],
    "np_float64": [np.float64(0.5), np.float64(2), np.float64(3)],
    "np_uint8_arrays": [np.full((2, 3), i, np.uint8) for i in range(3)],
    "np_float32_arrays": [np.arange(4, dtype=np.float32) * i for i in range(3)],
    "tuples": [(1, 2.0), (3, 4.0), (5, 6.0)],
    "lists": [[1, 2], [3, 4], [5, 6]],
    "dicts": [{"a": 1, "b": np.float32(i)} for i in range(3)],
    "strings": ["a", "b", "c"],
    "nested": [{"x": (i, [float(i), np.int64(i)])} for i in range(3)],
    "namedtuples": [Point(i, float(i)) for i in range(3)],
}


@needs_torch
@pytest.mark.parametrize("kind", sorted(SAMPLE_KINDS))
def test_default_collate_matches_torch(kind):
    batch = SAMPLE_KINDS[kind]
    same_structure(default_collate(batch), tud.default_collate(batch))


@needs_torch
def test_default_collate_of_tensors_matches_torch():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((3, 2)).astype(np.float32) for _ in range(4)]
    ours = default_collate([(gradlab.tensor(a), i) for i, a in enumerate(arrays)])
    theirs = tud.default_collate([(torch.tensor(a), i) for i, a in enumerate(arrays)])
    same_structure(ours, theirs)


def test_python_numbers_collate_to_64_bit():
    assert default_collate([1, 2]).dtype == gradlab.int64
    assert default_collate([1.0, 2.0]).dtype == gradlab.float64
    assert default_collate([True, False]).dtype == gradlab.bool


def test_collate_keeps_autograd_graph():
    w = gradlab.ones(3, requires_grad=True)
    batch = default_collate([w * 2, w * 3])
    batch.sum().backward()
    np.testing.assert_array_equal(w.grad._data, np.full(3, 5.0, np.float32))


@pytest.mark.parametrize("batch, error, match", [
    ([[1, 2], [3]], RuntimeError, "equal size"),
    ([object(), object()], TypeError, "default_collate: batch must contain"),
    ([np.array(["a"]), np.array(["b"])], TypeError, "default_collate: batch must contain"),
    ([np.zeros(2), np.zeros(3)], RuntimeError, "equal size"),
])
def test_collate_errors(batch, error, match):
    with pytest.raises(error, match=match):
        default_collate(batch)


@needs_torch
def test_default_convert_matches_torch():
    for sample in [np.float32(3), (np.zeros(2), 1), {"a": np.ones(2, np.int32)}, "s"]:
        same_structure(default_convert(sample), tud.default_convert(sample))


# ---------------------------------------------------------------- batching vs torch

@needs_torch
@given(n=st.integers(0, 60), batch_size=st.integers(1, 17), drop_last=st.booleans(),
       shuffle=st.booleans())
def test_batches_match_torch(n, batch_size, drop_last, shuffle):
    if shuffle and n == 0:  # both refuse to shuffle nothing
        with pytest.raises(ValueError):
            DataLoader(range(n), shuffle=True)
        with pytest.raises(ValueError):
            tud.DataLoader(range(n), shuffle=True)
        return
    x = np.arange(n, dtype=np.int64)
    ours = DataLoader(TensorDataset(gradlab.tensor(x)), batch_size=batch_size, shuffle=shuffle,
                      drop_last=drop_last, generator=gradlab.Generator().manual_seed(n))
    theirs = tud.DataLoader(tud.TensorDataset(torch.tensor(x)), batch_size=batch_size, shuffle=shuffle,
                            drop_last=drop_last)
    our_batches = [as_np(b[0]) for b in ours]
    their_batches = [b[0].numpy() for b in theirs]
    assert len(ours) == len(theirs) == len(our_batches) == len(their_batches)
    assert [len(b) for b in our_batches] == [len(b) for b in their_batches]
    seen = np.concatenate(our_batches) if our_batches else np.array([], np.int64)
    if shuffle:
        assert len(np.unique(seen)) == len(seen)  # a permutation, minus a dropped tail
    else:
        np.testing.assert_array_equal(seen, np.concatenate(their_batches) if their_batches else seen)


@needs_torch
@given(n=st.integers(1, 40), batch_size=st.integers(1, 9), drop_last=st.booleans())
def test_batch_sampler_matches_torch(n, batch_size, drop_last):
    ours = BatchSampler(SequentialSampler(range(n)), batch_size, drop_last)
    theirs = tud.BatchSampler(tud.SequentialSampler(range(n)), batch_size, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


@needs_torch
def test_python_list_dataset_matches_torch():
    data = [(i, float(i) / 2, {"k": np.int16(i)}) for i in range(7)]
    for bs in (1, 3, None):
        for a, b in zip(DataLoader(data, batch_size=bs), tud.DataLoader(data, batch_size=bs)):
            same_structure(a, b)


@needs_torch
@pytest.mark.parametrize("kwargs", [
    dict(shuffle=True, sampler=[0, 1]),
    dict(batch_size=3, batch_sampler=[[0, 1]]),
    dict(drop_last=True, batch_sampler=[[0, 1]]),
    dict(num_workers=-1),
    dict(batch_size=0),
    dict(batch_size=None, drop_last=True),
])
def test_option_errors_match_torch(kwargs):
    with pytest.raises(ValueError) as theirs:
        tud.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(ValueError) as ours:
        DataLoader(list(range(4)), **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_custom_sampler_and_batch_sampler():
    data = list(range(10))
    assert [b.tolist() for b in DataLoader(data, sampler=[9, 8, 7], batch_size=2)] == [[9, 8], [7]]
    loader = DataLoader(data, batch_sampler=[[1, 2], [5]])
    assert [b.tolist() for b in loader] == [[1, 2], [5]] and len(loader) == 2


def test_num_workers_runs_in_process_with_a_warning():
    with pytest.warns(UserWarning, match="main process"):
        loader = DataLoader(list(range(5)), batch_size=2, num_workers=2)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4]]


# ---------------------------------------------------------------- shuffling

def epoch_order(loader):
    return np.concatenate([as_np(b[0]) for b in loader]).tolist()


def test_shuffle_with_a_seeded_generator_repeats():
    ds = TensorDataset(gradlab.arange(50))
    a = DataLoader(ds, batch_size=8, shuffle=True, generator=gradlab.Generator().manual_seed(3))
    b = DataLoader(ds, batch_size=8, shuffle=True, generator=gradlab.Generator().manual_seed(3))
    c = DataLoader(ds, batch_size=8, shuffle=True, generator=gradlab.Generator().manual_seed(4))
    first, second = epoch_order(a), epoch_order(a)
    assert first == epoch_order(b) and second == epoch_order(b)
    assert first != second  # a new order every epoch
    assert first != epoch_order(c)
    assert sorted(first) == list(range(50))


def test_shuffle_follows_the_global_seed():
    ds = TensorDataset(gradlab.arange(50))
    loader = DataLoader(ds, batch_size=8, shuffle=True)
    gradlab.manual_seed(11)
    first = [epoch_order(loader), epoch_order(loader)]
    gradlab.manual_seed(11)
    assert [epoch_order(loader), epoch_order(loader)] == first


def test_generator_state_restores_the_next_epoch():
    """What a checkpoint relies on: saving the generator's state saves the next order."""
    g = gradlab.Generator().manual_seed(0)
    loader = DataLoader(TensorDataset(gradlab.arange(30)), batch_size=4, shuffle=True, generator=g)
    epoch_order(loader)
    state = g.get_state()
    expected = epoch_order(loader)
    g.set_state(state)
    assert epoch_order(loader) == expected


def test_random_samplers():
    g = gradlab.Generator().manual_seed(0)
    draws = list(RandomSampler(range(5), replacement=True, num_samples=100, generator=g))
    assert len(draws) == 100 and set(draws) <= set(range(5))
    wrapped = list(RandomSampler(range(4), num_samples=10, generator=g))
    assert sorted(wrapped[:4]) == sorted(wrapped[4:8]) == [0, 1, 2, 3] and len(wrapped) == 10
    assert sorted(SubsetRandomSampler([3, 5, 9], generator=g)) == [3, 5, 9]
    weighted = list(WeightedRandomSampler([0, 1, 0, 3], 50, generator=g))
    assert set(weighted) <= {1, 3} and len(weighted) == 50
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler([])


# ---------------------------------------------------------------- the fast path

def slow(batch):
    """A collate_fn that is not default_collate: forces item-by-item fetching."""
    return default_collate(batch)


def assert_same_batches(dataset, seed, **kwargs):
    fast = list(DataLoader(dataset, collate_fn=None, shuffle=True,
                           generator=gradlab.Generator().manual_seed(seed), **kwargs))
    ref = list(DataLoader(dataset, collate_fn=slow, shuffle=True,
                          generator=gradlab.Generator().manual_seed(seed), **kwargs))
    assert len(fast) == len(ref) > 0
    for a, b in zip(fast, ref):
        assert type(a) is type(b) is list and len(a) == len(b)
        for x, y in zip(a, b):
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(as_np(x), as_np(y))  # bit for bit


NORMALIZE = T.Normalize((0.1307,), (0.3081,))
TRANSFORMS = {
    "none": None,
    "to_tensor": T.ToTensor(),
    "compose": T.Compose([T.ToTensor(), NORMALIZE]),
    "nested_compose": T.Compose([T.Compose([T.ToTensor()]), NORMALIZE, T.Normalize(0.5, 2.0)]),
}


@pytest.fixture
def digits():
    return DigitsMNIST(train=False)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_image_dataset_fast_path_equals_item_by_item(digits, name):
    digits.transform = TRANSFORMS[name]
    assert _batch_reader(digits) is not None
    assert_same_batches(digits, seed=1, batch_size=64)


def test_mnist_fast_path_equals_item_by_item(mnist_dir):
    from gradlab.datasets import MNIST
    ds = MNIST(mnist_dir, train=False, transform=TRANSFORMS["compose"])
    ds.data = ds.data[:500]
    ds.targets = ds.targets[:500]
    assert_same_batches(ds, seed=0, batch_size=100)


@given(n=st.integers(1, 40), batch_size=st.integers(1, 12), drop_last=st.booleans(),
       seed=st.integers(0, 2 ** 32))
def test_tensor_dataset_fast_path_equals_item_by_item(n, batch_size, drop_last, seed):
    rng = np.random.default_rng(seed)
    ds = TensorDataset(gradlab.tensor(rng.standard_normal((n, 3)).astype(np.float32)),
                       gradlab.tensor(rng.integers(0, 10, n)), gradlab.tensor(rng.random(n) > 0.5))
    if drop_last and n < batch_size:
        assert len(DataLoader(ds, batch_size=batch_size, drop_last=True)) == 0
        return
    assert_same_batches(ds, seed, batch_size=batch_size, drop_last=drop_last)


def test_subset_and_split_fast_path(digits):
    digits.transform = TRANSFORMS["compose"]
    train, val = random_split(digits, [0.75, 0.25], generator=gradlab.Generator().manual_seed(0))
    nested = Subset(train, list(range(0, len(train), 3)))
    for ds in (train, val, nested):
        assert _batch_reader(ds) is not None
        assert_same_batches(ds, seed=2, batch_size=32)


class CountingDigits(DigitsMNIST):
    calls = 0

    def __getitem__(self, index):
        CountingDigits.calls += 1
        return super().__getitem__(index)


def test_fast_path_only_where_items_are_known(digits):
    assert _batch_reader(CountingDigits(train=False)) is None  # a subclass may change items
    digits.transform = T.Compose([T.ToTensor(), T.Lambda(lambda x: x * 2)])
    assert _batch_reader(digits) is None
    digits.transform = None
    digits.target_transform = lambda y: y + 1
    assert _batch_reader(digits) is None
    digits.target_transform = None
    assert _batch_reader(TensorDataset(gradlab.ones(3, requires_grad=True))) is None
    assert _batch_reader(Subset(list(range(5)), [0, 1])) is None


def test_a_changed_getitem_takes_the_item_path(digits):
    """Patching or overriding __getitem__ switches the fast path off: items are then fetched one by one."""
    calls = []
    original = type(digits).__getitem__
    try:
        type(digits).__getitem__ = lambda self, i: calls.append(i) or original(self, i)
        # the patched class no longer has ImageArrayDataset's __getitem__: slow path
        assert _batch_reader(digits) is None
    finally:
        type(digits).__getitem__ = original
    counted = CountingDigits(train=False)
    list(DataLoader(counted, batch_size=50))
    assert CountingDigits.calls == len(counted)  # item by item for the subclass
    assert _batch_reader(digits) is not None


# ---------------------------------------------------------------- data sets and splits

@needs_torch
@given(n=st.integers(0, 200), parts=st.lists(st.integers(1, 10), min_size=1, max_size=5))
def test_random_split_fraction_lengths_match_torch(n, parts):
    fractions = [p / sum(parts) for p in parts]
    fractions[-1] = 1 - sum(fractions[:-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            theirs = [len(s) for s in tud.random_split(range(n), fractions)]
        except ValueError:
            with pytest.raises(ValueError):
                random_split(range(n), fractions)
            return
        ours = random_split(range(n), fractions, generator=gradlab.Generator().manual_seed(0))
    assert [len(s) for s in ours] == theirs
    flat = sorted(i for s in ours for i in s)
    assert flat == list(range(n))


def test_random_split_is_reproducible_and_checks_lengths():
    a = random_split(range(20), [5, 15], generator=gradlab.Generator().manual_seed(1))
    b = random_split(range(20), [5, 15], generator=gradlab.Generator().manual_seed(1))
    assert list(a[0]) == list(b[0]) and list(a[1]) == list(b[1])
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(range(10), [0.5, 0.6])


@needs_torch
def test_concat_dataset_matches_torch():
    parts = [list(range(3)), list(range(10, 15)), list(range(20, 21))]
    ours, theirs = ConcatDataset(parts), tud.ConcatDataset(parts)
    assert len(ours) == len(theirs) and ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i] for i in range(-9, 9)] == [theirs[i] for i in range(-9, 9)]
    with pytest.raises(ValueError, match="absolute value"):
        ours[-10]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])


def test_dataset_add_and_tensor_dataset():
    class Squares(Dataset):
        def __getitem__(self, i):
            return i * i

        def __len__(self):
            return 4

    both = Squares() + Squares()
    assert isinstance(both, ConcatDataset) and [both[i] for i in range(8)] == [0, 1, 4, 9] * 2
    x, y = TensorDataset(gradlab.arange(3), gradlab.tensor([5, 6, 7]))[1]
    assert x.item() == 1 and y.item() == 6
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(gradlab.zeros(3), gradlab.zeros(4))


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


@pytest.mark.parametrize("drop_last", [False, True])
def test_iterable_dataset(drop_last):
    loader = DataLoader(Stream(7), batch_size=3, drop_last=drop_last)
    batches = [b.tolist() for b in loader]
    assert batches == ([[0, 1, 2], [3, 4, 5]] + ([] if drop_last else [[6]]))
    assert len(loader) == len(batches)
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(Stream(3), shuffle=True)


def test_utils_data_is_reachable_after_a_bare_import():
    # cifar10_tutorial.py and others write torch.utils.data.DataLoader after only `import torch`
    import subprocess
    import sys
    code = ("import gradlab as torch; "
            "print(torch.utils.data.DataLoader.__name__, len(torch.utils.data.random_split(range(10), [7, 3])[0]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "DataLoader 7\n"
