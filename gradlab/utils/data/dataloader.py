"""DataLoader: batches from a data set, as ``torch.utils.data.DataLoader``.

    >>> loader = DataLoader(dataset, batch_size=64, shuffle=True,
    ...                     generator=gradlab.Generator().manual_seed(0))
    >>> for images, labels in loader:
    ...     ...

One pass goes: a sampler yields indices, a ``BatchSampler`` groups them,
and for each group the loader fetches the samples and ``collate_fn`` stacks
them into one batch (``default_collate``: tensors and arrays are stacked,
numbers become int64/float64 tensors, tuples/lists/dicts are collated field
by field).

The fast path
-------------
Fetching 64 samples one by one costs 64 trips through Python.  For data
sets that hold everything in memory (``TensorDataset``; ``MNIST`` and
``DigitsMNIST`` without a transform or with ``ToTensor``/``Normalize``;
``Subset``s of these) the loader instead takes the whole batch with one
NumPy fancy index and applies the transform to the batch at once.  The
batch is the same, value for value and dtype for dtype, as the slow path
gives; ``tests/data/test_dataloader.py`` holds the two equal.

Workers
-------
gradlab loads in the main process: ``num_workers > 0`` is accepted (tutorial
code passes it) and runs in-process, with a warning.
"""
import collections.abc
import warnings

import numpy as np

from ..._dtype import get_default_dtype, promote_types
from ..._tensor import Tensor
from .dataset import IterableDataset, Subset, TensorDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

_COLLATE_TYPE_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, "
                       "dicts or lists; found {}")


# ---------------------------------------------------------------- collate


def _promoted(dtypes):
    """The dtype PyTorch stacks mixed dtypes to (a float beats any integer: int64 + float32 -> float32)."""
    result = dtypes[0]
    for d in dtypes[1:]:
        if d != result:
            result = promote_types(result, d)
    return result


def _stack_arrays(arrays):
    """Stack same-shaped ndarrays into one tensor, with a clear error otherwise."""
    if arrays[0].dtype.kind in "OSUV":
        raise TypeError(_COLLATE_TYPE_ERROR.format(arrays[0].dtype))
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise RuntimeError(f"default_collate: stack expects each array to be equal size, "
                           f"but got shapes {sorted(shapes)}")
    dtype = _promoted([a.dtype for a in arrays])
    return Tensor._wrap(np.stack(arrays, dtype=dtype, casting="unsafe"))


def _stack_tensors(tensors):
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"default_collate: expected Tensor as element {i} of the batch (element 0 is a "
                            f"Tensor), but got {type(t).__name__}; a batch holds samples of one kind")
    if any(t._requires_grad for t in tensors):
        from ... import stack  # keeps the autograd graph
        return stack(tensors)
    return _stack_arrays([t._data for t in tensors])


def _as_batch_tensor(item):
    """One element of a batch that starts with an ndarray, as ``torch.as_tensor`` would make it."""
    if isinstance(item, Tensor):
        return item
    if isinstance(item, np.ndarray):
        if item.dtype.kind in "OSUV":
            raise TypeError(_COLLATE_TYPE_ERROR.format(item.dtype))
        return Tensor._wrap(item)
    if isinstance(item, (int, float, np.number, np.bool_)):
        return _collate_numbers([item])[0]
    raise TypeError(f"default_collate: the batch starts with an ndarray, so it holds arrays, tensors and "
                    f"numbers only; got {type(item).__name__}")


_INT64_MIN, _INT64_MAX = -2**63, 2**63 - 1


def _number_dtype(item, i):
    """The dtype PyTorch infers for one number of a batch (``torch.tensor([...])``'s rule)."""
    if isinstance(item, (np.bool_, np.integer, np.floating)):  # first: np.float64 is also a float
        return item.dtype
    if isinstance(item, bool):
        return np.dtype(np.bool_)
    if isinstance(item, int):
        return np.dtype(np.int64)
    if isinstance(item, float):
        return get_default_dtype().np
    if isinstance(item, Tensor):
        return item._data.dtype
    raise TypeError(f"default_collate: element {i} of the batch is {type(item).__name__}, but element 0 "
                    "is a number: a batch of numbers holds bools, ints, floats and one-element tensors only")


def _scalar_value(item):
    return item._data.reshape(()) if isinstance(item, Tensor) else item


def _collate_numbers(batch):
    """Numbers -> a 1-d tensor.  As in PyTorch: a batch that starts with a Python float is float64;
    otherwise the dtype is promoted over the elements: bools alone stay bool, ints (and bools) give
    int64, a Python float gives the default dtype (float32), a NumPy scalar or one-element tensor
    brings its own dtype ([1, 2.5, 3] -> float32, [True, 2] -> int64)."""
    dtypes = [_number_dtype(item, i) for i, item in enumerate(batch)]  # also refuses what is no number
    if isinstance(batch[0], float) and not isinstance(batch[0], np.floating):
        dtype = np.dtype(np.float64)
    else:
        dtype = _promoted(dtypes)
    values = []
    for i, item in enumerate(batch):  # in order, so that the first bad element is the one reported
        if isinstance(item, Tensor):
            if item._data.size != 1:
                # PyTorch's split: into a float batch an element converts as a float (ValueError), into an
                # integer batch as an index (TypeError)
                error = ValueError if dtype.kind == "f" else TypeError
                raise error(f"default_collate: element {i} of a batch of numbers is a tensor of shape "
                            f"{list(item.shape)}; only one-element tensors can be taken as numbers")
            item = item._data.reshape(())
        elif type(item) is int:
            if dtype.kind == "f":
                float(item)  # OverflowError past float's range, as PyTorch
            elif not _INT64_MIN <= item <= _INT64_MAX:
                raise ValueError(f"default_collate: element {i}, the int {item}, does not fit in int64")
        values.append(item)
    return Tensor._wrap(np.array(values, dtype=dtype))


def default_collate(batch):
    """Turn a list of samples into one batch, as PyTorch's ``default_collate``.

    * tensors / ndarrays -> stacked along a new dim 0 (mixed dtypes promoted as
      PyTorch's stack does); a batch that starts with a tensor holds tensors only
    * numbers -> a 1-d tensor: Python floats first -> float64; otherwise the
      dtype ``torch.tensor(batch)`` infers (bools -> bool, ints -> int64, ints
      with a float -> float32, NumPy scalars -> their dtype)
    * strings -> the list itself
    * dicts -> a dict of collated fields; namedtuples -> the same namedtuple
    * tuples and lists -> a list of collated fields (so ``x, y = batch`` works)
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack_tensors(batch)
    if isinstance(elem, np.ndarray):
        if all(type(b) is np.ndarray for b in batch):
            return _stack_arrays(batch)
        if elem.dtype.kind in "OSUV":
            raise TypeError(_COLLATE_TYPE_ERROR.format(elem.dtype))
        return _stack_tensors([_as_batch_tensor(b) for b in batch])
    if isinstance(elem, (int, float, np.number, np.bool_)):
        return _collate_numbers(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(s) != len(elem) for s in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(_COLLATE_TYPE_ERROR.format(type(elem)))


def default_convert(data):
    """What the loader does with each sample when ``batch_size=None``: arrays become tensors."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "OSUV":
        return Tensor._wrap(data)
    if isinstance(data, (np.number, np.bool_)):
        return Tensor._wrap(np.asarray(data))
    if isinstance(data, (Tensor, str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return [default_convert(d) for d in data]
    return data


# ---------------------------------------------------------------- fast path


def _batch_reader(dataset):
    """A function ``read(index_array) -> batch`` for in-memory data sets, or None.

    Only exact types whose ``__getitem__`` we know are read this way, so a
    subclass that changes what an item is always takes the slow path.
    """
    if type(dataset).__getitem__ is TensorDataset.__getitem__:
        return _tensor_dataset_reader(dataset)
    if type(dataset).__getitem__ is Subset.__getitem__ and not _overrides_getitems(dataset):
        return _subset_reader(dataset)
    if _is_image_array_dataset(dataset):
        return _image_dataset_reader(dataset)
    return None


def _overrides_getitems(subset):
    return type(subset).__getitems__ is not Subset.__getitems__


def _tensor_dataset_reader(dataset):
    tensors = dataset.tensors
    if not all(isinstance(t, Tensor) and not t._requires_grad for t in tensors):
        return None
    arrays = [t._data for t in tensors]
    return lambda idx: [Tensor._wrap(a[idx]) for a in arrays]


def _subset_reader(subset):
    inner = _batch_reader(subset.dataset)
    if inner is None:
        return None
    indices = _integer_indices(subset.indices)
    if indices is None:
        return None  # floats, bools, ...: the item-by-item path raises what indexing raises
    return lambda idx: inner(indices[idx])


def _integer_indices(index):
    """``index`` as a 1-d intp array when it holds integers only (no bools), else None.

    NumPy would truncate 1.7 to 1 and read True as 1; item by item, and in
    PyTorch, such an index is an error or means something else, so those
    batches go the item-by-item way.
    """
    if isinstance(index, range):
        return np.arange(index.start, index.stop, index.step, dtype=np.intp)
    if isinstance(index, (list, tuple)):
        types = set(map(type, index))
        if bool in types or np.bool_ in types:
            return None
    try:
        array = np.asarray(getattr(index, "_data", index))
    except (TypeError, ValueError):
        return None
    if array.ndim != 1 or (array.dtype.kind not in "iu" and array.size):
        return None
    if array.dtype.kind == "u" and array.size and array.max() > np.iinfo(np.intp).max:
        return None  # would wrap around to a negative index
    return array.astype(np.intp, copy=False)


def _is_image_array_dataset(dataset):
    try:
        from ...datasets.mnist import ImageArrayDataset
    except ImportError:  # pragma: no cover - the data sets are part of gradlab
        return False
    return (isinstance(dataset, ImageArrayDataset)
            and type(dataset).__getitem__ is ImageArrayDataset.__getitem__)


def _image_dataset_reader(dataset):
    """MNIST-like: uint8 images and int labels, with a transform we can apply to a batch."""
    if dataset.target_transform is not None:
        return None
    steps = _transform_steps(dataset.transform)
    if steps is None:
        return None
    images, targets = dataset._images_np, dataset._targets_np

    def read(idx):
        batch = images[idx]
        for step in steps:
            batch = step(batch)
        labels = targets[idx].astype(np.int64, copy=False)
        return [batch if isinstance(batch, Tensor) else Tensor._wrap(batch), Tensor._wrap(labels)]

    return read


def _transform_steps(transform):
    """The transform as a list of functions on a whole batch, or None if we can't.

    Supported: None, ``ToTensor()``, ``ToTensor()`` then ``Normalize(...)``s,
    possibly inside ``Compose``.  ``Normalize`` already works on N x C x H x W,
    so the same object is called on the batch and gives the same numbers.
    """
    from ...datasets import transforms as T

    flat = []

    def flatten(t):
        if type(t) is T.Compose:
            for inner in t.transforms:
                if not flatten(inner):
                    return False
            return True
        if type(t) in (T.ToTensor, T.Normalize):
            flat.append(t)
            return True
        return False

    if transform is None:
        return []
    if not flatten(transform):
        return None
    if any(type(t) is T.Normalize for t in flat[:1]) or sum(type(t) is T.ToTensor for t in flat) > 1:
        return None  # Normalize on uint8 (an error item by item) or ToTensor twice: let the slow path say
    return [_batch_to_tensor if type(t) is T.ToTensor else t for t in flat]


def _batch_to_tensor(images):
    """``ToTensor`` for a batch: N x H x W (x C) -> N x C x H x W; uint8 scaled to [0, 1] in float32."""
    nchw = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
    if nchw.dtype == np.uint8:
        out = np.empty(nchw.shape, np.float32)
        np.divide(nchw, np.float32(255), out=out)  # the very operation ToTensor does per image
        return out
    return np.array(nchw, order="C", copy=True)


# ---------------------------------------------------------------- fetching


class _MapFetcher:
    """Turns a list of indices into a batch: fast path if possible, else item by item."""

    def __init__(self, dataset, auto_collation, collate_fn, fast, int_indices=False):
        self.dataset = dataset
        self.int_indices = int_indices  # the indices come from our own samplers: Python ints
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.reader = _batch_reader(dataset) if (fast and auto_collation) else None

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.reader is not None:
            array = np.asarray(index, dtype=np.intp) if self.int_indices else _integer_indices(index)
            if array is not None:
                return self.reader(array)
        getitems = getattr(self.dataset, "__getitems__", None)
        samples = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
        return self.collate_fn(samples)


class _IterableFetcher:
    """Takes samples from a stream, ``len(batch)`` at a time."""

    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        samples = []
        for _ in index:
            try:
                samples.append(next(self.iterator))
            except StopIteration:
                break
        if not samples or (self.drop_last and len(samples) < len(index)):
            raise StopIteration
        return self.collate_fn(samples)


class _InfiniteConstantSampler:
    """For an IterableDataset: the stream decides when to stop, the indices mean nothing."""

    def __iter__(self):
        while True:
            yield None


# ---------------------------------------------------------------- DataLoader


def get_worker_info():
    """None: gradlab always loads in the main process."""
    return None


class DataLoader:
    """Iterate over a data set in batches.

    Arguments as PyTorch's: ``batch_size`` (None: one sample at a time, no
    collation), ``shuffle`` (a new random order each pass, drawn from
    ``generator`` or the global generator), ``sampler`` / ``batch_sampler``
    (your own order), ``collate_fn``, ``drop_last`` (skip the last, short
    batch).  ``num_workers``, ``pin_memory``, ``timeout``, ``worker_init_fn``,
    ``prefetch_factor`` and ``persistent_workers`` are accepted for
    compatibility; loading always happens in the main process.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="", in_order=True):
        _check_workers(num_workers, timeout)
        self.dataset = dataset
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.generator = generator
        self._is_iterable = isinstance(dataset, IterableDataset)

        if self._is_iterable:
            _check_iterable_options(shuffle, sampler, batch_sampler)
            sampler = _InfiniteConstantSampler()
        elif sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")

        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive "
                             "with drop_last")

        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_sampler is None and batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._fast = collate_fn is None or collate_fn is default_collate
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self):
        if self._is_iterable:
            fetcher = _IterableFetcher(self.dataset, self._auto_collation, self.collate_fn, self.drop_last)
        else:
            own = (type(self.batch_sampler) is BatchSampler
                   and type(self.batch_sampler.sampler) in (SequentialSampler, RandomSampler))
            fetcher = _MapFetcher(self.dataset, self._auto_collation, self.collate_fn, self._fast, own)
        for index in self._index_sampler:
            try:
                yield fetcher.fetch(index)
            except StopIteration:  # an IterableDataset ran out
                return

    def __len__(self):
        if self._is_iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    def __repr__(self):
        return (f"DataLoader(dataset={type(self.dataset).__name__}, batch_size={self.batch_size}, "
                f"batches={len(self) if hasattr(self.dataset, '__len__') else '?'})")


def _check_workers(num_workers, timeout):
    if not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                         "multiprocessing.")
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if num_workers > 0:
        warnings.warn(f"gradlab's DataLoader loads in the main process: num_workers={num_workers} "
                      "is accepted but runs as num_workers=0.", stacklevel=3)


def _check_iterable_options(shuffle, sampler, batch_sampler):
    if shuffle not in (None, False):
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                         f"but got shuffle={shuffle}")
    if sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, "
                         f"but got sampler={sampler}")
    if batch_sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler "
                         f"option, but got batch_sampler={batch_sampler}")
