"""Data sets: anything with ``__getitem__`` and ``__len__``, as ``torch.utils.data``.

* ``Dataset``: the base class; ``a + b`` concatenates two data sets.
* ``IterableDataset``: a stream of samples (``__iter__``) instead of an index.
* ``TensorDataset(x, y)``: item ``i`` is ``(x[i], y[i])``.
* ``Subset(ds, indices)`` and ``random_split(ds, [0.8, 0.2])``: views on part
  of a data set.
* ``ConcatDataset([a, b])``: one data set after the other.
* ``ChainDataset([a, b])``: one stream after the other (``a + b`` for streams).
* ``StackDataset(x=a, y=b)``: item ``i`` is ``{"x": a[i], "y": b[i]}`` (or a
  tuple, for positional data sets).
"""
import bisect
import itertools
import math
import warnings

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset", "StackDataset",
           "random_split"]


class Dataset:
    """A map-style data set: ``ds[i]`` is sample ``i``, ``len(ds)`` how many there are.

    Subclasses implement ``__getitem__`` (and usually ``__len__``, which the
    DataLoader's samplers need).
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A data set read as a stream: subclasses implement ``__iter__``.

    The DataLoader takes samples in the order the stream gives them; it
    cannot shuffle or sample one.
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are slices of tensors along their first dimension.

        >>> ds = TensorDataset(images, labels)   # images N x ..., labels N
        >>> x, y = ds[0]                          # images[0], labels[0]
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        n = tensors[0].shape[0]
        if any(t.shape[0] != n for t in tensors):
            sizes = ", ".join(str(t.shape[0]) for t in tensors)
            raise ValueError(f"Size mismatch between tensors: TensorDataset needs the same size "
                             f"along dim 0, got {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        """A batch of samples; uses the parent's ``__getitems__`` when it has one."""
        parent = [self.indices[i] for i in indices]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(parent)
        return [self.dataset[i] for i in parent]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several data sets one after the other; ``cumulative_sizes[k]`` is where the k-th ends."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset):
    """Several streams one after the other, read lazily (nothing is loaded up front)."""

    def __init__(self, datasets):
        super().__init__()
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            total += len(d)
        return total


class StackDataset(Dataset):
    """Several data sets of the same length side by side: item i gathers item i of each.

        >>> StackDataset(images, labels)[0]          # (images[0], labels[0])
        >>> StackDataset(image=images, label=labels)[0]  # {"image": images[0], "label": labels[0]}
    """

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("Supported either ``tuple``- (via ``args``) or``dict``- (via ``kwargs``) like "
                             "input/output, but both types are given.")
        if not args and not kwargs:
            raise ValueError("At least one dataset should be passed")
        parts = args or list(kwargs.values())
        self._length = len(parts[0])
        if any(self._length != len(dataset) for dataset in parts):
            raise ValueError("Size mismatch between datasets")
        self.datasets = args or kwargs

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: dataset[index] for k, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def __getitems__(self, indices):
        """A batch of samples; each part uses its own ``__getitems__`` when it has one."""
        parts = self.datasets.items() if isinstance(self.datasets, dict) else enumerate(self.datasets)
        columns = {key: self._column(dataset, indices) for key, dataset in parts}
        if isinstance(self.datasets, dict):
            return [{k: column[i] for k, column in columns.items()} for i in range(len(indices))]
        return [tuple(column[i] for column in columns.values()) for i in range(len(indices))]

    @staticmethod
    def _column(dataset, indices):
        if not callable(getattr(dataset, "__getitems__", None)):
            return [dataset[i] for i in indices]
        items = dataset.__getitems__(indices)
        if len(items) != len(indices):
            raise ValueError(f"Nested dataset's output size mismatch. Expected {len(indices)}, got {len(items)}")
        return items

    def __len__(self):
        return self._length


def _lengths_from_fractions(fractions, n):
    """floor(f * n) for each fraction, the remainder handed out one by one from the first."""
    lengths = []
    for i, frac in enumerate(fractions):
        if frac < 0 or frac > 1:
            raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        lengths.append(math.floor(n * frac))
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.",
                          stacklevel=3)
    return lengths


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` at random into non-overlapping ``Subset``s.

    ``lengths`` are sizes that add up to ``len(dataset)``, or fractions that
    add up to 1 (``[0.8, 0.2]``).  Pass ``generator=gradlab.Generator().manual_seed(s)``
    for the same split every time; without it the global generator is used.
    """
    from ...random import generator_of

    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _lengths_from_fractions(lengths, len(dataset))
    if sum(lengths) != len(dataset):
        raise ValueError("Sum of input lengths does not equal the length of the input dataset! "
                         f"(lengths {list(lengths)} add up to {sum(lengths)}, the dataset has {len(dataset)})")
    indices = generator_of(generator).permutation(sum(lengths)).tolist()
    ends = itertools.accumulate(lengths)
    return [Subset(dataset, indices[end - length:end]) for end, length in zip(ends, lengths)]
