"""Data sets and image transforms, as ``torchvision.datasets`` / ``.transforms``.

* ``MNIST``: the handwritten digits, found on disk or downloaded and checked;
  ``FashionMNIST`` and ``KMNIST`` in the same format.
* ``DigitsMNIST`` / ``load_digits_as_mnist``: scikit-learn's digits in
  MNIST's shape, for when MNIST is not at hand.
* ``transforms``: ``Compose``, ``ToTensor``, ``Normalize``, ``Lambda``, ``Resize``.
* ``read_idx`` / ``write_idx``: the IDX file format MNIST is stored in.
"""
from . import transforms
from .digits import DigitsMNIST, load_digits_as_mnist
from .idx import IDXError, IDXTruncatedError, read_idx, read_idx_pair, write_idx
from .mnist import KMNIST, MNIST, DatasetNotFoundError, DownloadError, FashionMNIST

__all__ = [
    "MNIST",
    "FashionMNIST",
    "KMNIST",
    "DigitsMNIST",
    "load_digits_as_mnist",
    "transforms",
    "read_idx",
    "read_idx_pair",
    "write_idx",
    "IDXError",
    "IDXTruncatedError",
    "DatasetNotFoundError",
    "DownloadError",
]
