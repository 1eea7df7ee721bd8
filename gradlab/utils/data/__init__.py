"""Data loading, as ``torch.utils.data``: data sets, samplers and the DataLoader.

    >>> from gradlab.utils.data import DataLoader, TensorDataset, random_split
    >>> train, val = random_split(TensorDataset(x, y), [0.8, 0.2])
    >>> for xb, yb in DataLoader(train, batch_size=64, shuffle=True):
    ...     ...
"""
from .dataloader import DataLoader, default_collate, default_convert, get_worker_info
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset, TensorDataset,
                      random_split)
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                      WeightedRandomSampler)

__all__ = [
    "Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset", "StackDataset",
    "random_split",
    "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
    "BatchSampler", "DataLoader", "default_collate", "default_convert", "get_worker_info",
]
