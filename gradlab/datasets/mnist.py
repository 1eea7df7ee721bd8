"""MNIST, as ``torchvision.datasets.MNIST`` has it.

    >>> from gradlab.datasets import MNIST, transforms
    >>> tf = transforms.Compose([transforms.ToTensor(),
    ...                          transforms.Normalize((0.1307,), (0.3081,))])
    >>> train = MNIST("data", train=True, download=True, transform=tf)
    >>> image, label = train[0]          # image: float32 1x28x28, label: 5

Where the files are looked for
------------------------------
The four files (each raw or ``.gz``)::

    train-images-idx3-ubyte   train-labels-idx1-ubyte
    t10k-images-idx3-ubyte    t10k-labels-idx1-ubyte

are searched in ``root/MNIST/raw`` (torchvision's layout, where downloads
go), ``root/MNIST``, ``root/raw`` and ``root`` itself, so a folder holding
just the four files works as ``root``.

Downloading
-----------
``download=True`` fetches the missing files from each mirror in turn
(``MIRRORS`` below, or the ``mirrors=`` argument, or the environment variable
``GRADLAB_MNIST_MIRRORS``: URLs or local folders separated by spaces or
commas), checks each file's MD5 against ``MNIST.resources`` before it is put
in place, and writes it atomically (temporary file, fsync, ``os.replace``).
A failed, truncated or corrupted download leaves nothing behind; files
already verified stay, so a retry only fetches what is missing.

Items
-----
PIL is not used.  Without a transform, ``dataset[i]`` is ``(image, label)``
with ``image`` a uint8 28x28 gradlab tensor (where torchvision gives a PIL
image) and ``label`` a Python int.  ``transforms.ToTensor()`` turns that image
into float32 1x28x28 in [0, 1], exactly as torchvision does with the PIL one.
``.data`` (uint8 N x 28 x 28) and ``.targets`` (int64 N) are gradlab tensors
sharing memory with the NumPy arrays ``._images_np`` and ``._targets_np``.
"""
import hashlib
import http.client
import os
import pathlib
import re
import urllib.error
import urllib.request

import numpy as np

from ._tensors import to_numpy, to_tensor
from .idx import IDXError, atomic_write, read_idx_pair

try:  # the DataLoader layer; MNIST works without it
    from gradlab.utils.data import Dataset as _Dataset
except Exception:  # pragma: no cover - depends on what is installed
    _Dataset = object

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "ImageArrayDataset", "MIRRORS", "RESOURCES", "DownloadError", "DatasetNotFoundError", "download_file"]

#: Public mirrors, tried in order.  Edit in place, set ``MNIST.mirrors``, pass
#: ``mirrors=`` or set ``GRADLAB_MNIST_MIRRORS`` to use others.
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]

#: The published files and their MD5 sums.
RESOURCES = [
    ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
]

MIRRORS_ENV = "GRADLAB_MNIST_MIRRORS"

#: Refuse to store more than this from one URL (the largest file is ~10 MB).
MAX_DOWNLOAD_BYTES = 64 << 20


class DatasetNotFoundError(RuntimeError):
    """The data set's files are not on disk (and were not to be downloaded)."""


class DownloadError(RuntimeError):
    """No mirror delivered a complete file with the right checksum."""


# ------------------------------------------------------------------ download


def _resolve_mirrors(mirrors, default, env_name=MIRRORS_ENV):
    if mirrors is None:
        env = os.environ.get(env_name, "").strip()
        mirrors = re.split(r"[\s,]+", env) if env else default
    elif isinstance(mirrors, (str, os.PathLike)):
        mirrors = [mirrors]
    out = []
    for m in mirrors:
        m = os.fspath(m)
        if not m:
            continue
        if "://" not in m:  # a local folder
            m = pathlib.Path(m).expanduser().resolve().as_uri()
        out.append(m if m.endswith("/") else m + "/")
    return out


def _fetch_verified(url, dest, md5, timeout):
    """Stream url into dest via a temporary file; check length and MD5 first."""
    request = urllib.request.Request(url, headers={"User-Agent": "gradlab"})
    with atomic_write(dest) as f:  # removes the temporary file on any error
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            digest, got = hashlib.md5(), 0
            while True:
                try:
                    chunk = response.read(1 << 16)
                except http.client.IncompleteRead as e:
                    raise DownloadError(
                        f"truncated: connection closed after {got + len(e.partial)} of {expected} bytes"
                    ) from None
                if not chunk:
                    break
                got += len(chunk)
                if got > MAX_DOWNLOAD_BYTES:
                    raise DownloadError(f"refusing to store more than {MAX_DOWNLOAD_BYTES} bytes")
                digest.update(chunk)
                f.write(chunk)
        if expected is not None and got != expected:
            raise DownloadError(f"truncated: received {got} of {expected} bytes")
        if digest.hexdigest() != md5:
            raise DownloadError(
                f"checksum mismatch: MD5 {digest.hexdigest()}, expected {md5} ({got} bytes received)"
            )


def download_file(filename, md5, folder, mirrors, timeout=30.0):
    """Download ``filename`` into ``folder`` from the first mirror that works.

    Each attempt is verified (length, MD5) before the file appears under its
    name; a failed attempt leaves nothing.  Returns the path written, or
    raises ``DownloadError`` listing every mirror's failure.
    """
    dest = os.path.join(folder, filename)
    errors = []
    for mirror in mirrors:
        url = mirror + filename
        try:
            _fetch_verified(url, dest, md5, timeout)
            return dest
        except DownloadError as e:
            errors.append(f"{url}: {e}")
        except urllib.error.HTTPError as e:
            errors.append(f"{url}: HTTP {e.code} {e.reason}")
        except urllib.error.URLError as e:
            errors.append(f"{url}: {e.reason}")
        except (OSError, ValueError, http.client.HTTPException) as e:
            errors.append(f"{url}: {type(e).__name__}: {e}")
    if not mirrors:
        errors.append("no mirrors configured")
    raise DownloadError(f"could not download {filename}:\n  " + "\n  ".join(errors))


# ------------------------------------------------------------------ data set


def _variants(base):
    """File names a file may have on disk: raw or gzip, '-idx' or '.idx'."""
    names = [base, base + ".gz"]
    dotted = base.replace("-idx", ".idx")
    if dotted != base:
        names += [dotted, dotted + ".gz"]
    return names


def _tensor_over_array(name, array_name, doc):
    """A property holding a tensor in ``name`` and the NumPy array behind it in ``array_name``.

    Assigning an array stores it and a tensor that shares its memory; assigning
    a tensor stores it and its array.
    """
    def get(self):
        return getattr(self, name)

    def set(self, value):
        array = to_numpy(value)
        setattr(self, array_name, array)
        setattr(self, name, to_tensor(array) if isinstance(value, np.ndarray) else value)

    return property(get, set, doc=doc)


class ImageArrayDataset(_Dataset):
    """Images and labels held as NumPy arrays, handed out as gradlab tensors.

    The common part of ``MNIST`` and ``DigitsMNIST``: ``.data`` / ``.targets``
    are tensors sharing memory with ``._images_np`` / ``._targets_np`` (assigning
    either one, e.g. ``ds.data = ds.data[:1000]``, keeps both in step), and
    ``ds[i]`` is ``(transform(image), target_transform(label))``.
    """

    classes = [
        "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
        "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
    ]
    root = None
    train = True
    transform = None
    target_transform = None

    def __init__(self, root=None, train=True, transform=None, target_transform=None):
        self.root = root
        self.train = train
        self.transform = transform
        self.target_transform = target_transform

    data = _tensor_over_array("_data", "_images_np", "uint8 tensor N x H x W (shares memory with ``_images_np``).")
    targets = _tensor_over_array("_targets", "_targets_np", "int64 tensor N (shares memory with ``_targets_np``).")

    # torchvision's old names
    train_data = test_data = property(lambda self: self.data)
    train_labels = test_labels = property(lambda self: self.targets)

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self):
        return len(self._images_np)

    def __getitem__(self, index):
        img = to_tensor(self._images_np[index])
        target = int(self._targets_np[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"    Root location: {self.root}")
        lines.append(f"    Split: {'Train' if self.train else 'Test'}")
        if self.transform is not None:
            lines.append("    Transform: " + repr(self.transform).replace("\n", "\n    "))
        if self.target_transform is not None:
            lines.append("    Target transform: " + repr(self.target_transform).replace("\n", "\n    "))
        return "\n".join(lines)


class MNIST(ImageArrayDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images.

    Arguments follow torchvision: ``root`` is the folder holding (or to hold)
    the files, ``train`` picks the split, ``transform`` / ``target_transform``
    are applied to each item, ``download=True`` fetches missing files.
    Two extras: ``mirrors`` (list of base URLs or folders) and ``timeout``
    (seconds per request).
    """

    mirrors = MIRRORS
    mirrors_env = MIRRORS_ENV
    resources = RESOURCES

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False, mirrors=None, timeout=30.0):
        if isinstance(root, (str, os.PathLike)):
            root = os.path.expanduser(os.fspath(root))
        super().__init__(root, train, transform, target_transform)
        self._mirrors = mirrors
        self._timeout = timeout

        if download:
            self.download()
        images_path, labels_path = self._locate()
        images, labels = read_idx_pair(images_path, labels_path)
        if images.dtype != np.uint8 or images.ndim != 3:
            raise IDXError(f"{images_path}: expected uint8 images N x H x W, got {images.dtype} {images.shape}")
        if labels.ndim != 1:
            raise IDXError(f"{labels_path}: expected a 1-d array of labels, got shape {labels.shape}")
        self.data = images
        self.targets = labels.astype(np.int64)

    # -- files --

    @property
    def raw_folder(self):
        """Where downloads go: ``root/<ClassName>/raw``, as in torchvision."""
        return os.path.join(self.root, type(self).__name__, "raw")

    def _search_dirs(self):
        name = type(self).__name__
        dirs = [self.raw_folder, os.path.join(self.root, name), os.path.join(self.root, "raw"), self.root]
        seen, out = set(), []
        for d in dirs:
            key = os.path.normpath(d)
            if key not in seen:
                seen.add(key)
                out.append(d)
        return out

    def _find(self, filename):
        """Path of ``filename`` (raw or .gz) under one of the search dirs, or None."""
        base = filename[:-3] if filename.endswith(".gz") else filename
        for d in self._search_dirs():
            for name in _variants(base):
                path = os.path.join(d, name)
                if os.path.isfile(path):
                    return path
        return None

    def _split_files(self, train=None):
        train = self.train if train is None else train
        prefix = "train-" if train else "t10k-"
        return [f for f, _ in self.resources if f.startswith(prefix)]

    def _locate(self):
        files = self._split_files()
        found = [self._find(f) for f in files]
        if any(p is None for p in found):
            missing = [f for f, p in zip(files, found) if p is None]
            raise DatasetNotFoundError(self._not_found_message(missing))
        images = next(p for f, p in zip(files, found) if "images" in f)
        labels = next(p for f, p in zip(files, found) if "labels" in f)
        return images, labels

    def _check_exists(self):
        return all(self._find(f) is not None for f, _ in self.resources)

    def _not_found_message(self, missing, download_errors=None):
        split = "" if download_errors else (" training" if self.train else " test")
        looked = "\n".join(f"    {d}" for d in self._search_dirs())
        wanted = "\n".join(f"    {f}" for f, _ in self.resources)
        mirrors = ", ".join(_resolve_mirrors(self._mirrors, self.mirrors, self.mirrors_env)) or "(none)"
        parts = [f"{type(self).__name__}{split} files not found: {', '.join(missing)} (raw or .gz)."]
        if download_errors:
            parts.append("Download failed:\n  " + download_errors.replace("\n", "\n  "))
        parts += [
            f"Looked in:\n{looked}",
            f"To fix it, either pass download=True (needs access to one of: {mirrors}), "
            f"or put these 4 files\n{wanted}\n"
            f"into {self.raw_folder} or directly into {self.root}. "
            "Gzipped or uncompressed both work; no other layout or preprocessing is needed: "
            "a folder holding just the 4 files can be passed as root.",
        ]
        return "\n".join(parts)

    def download(self):
        """Fetch the files that are not already on disk into ``raw_folder``."""
        if self._check_exists():
            return
        mirrors = _resolve_mirrors(self._mirrors, self.mirrors, self.mirrors_env)
        created = []  # folders made here, removed again if they stay empty
        folder = self.raw_folder
        probe = folder
        while probe and not os.path.isdir(probe):
            created.append(probe)
            parent = os.path.dirname(probe)
            if parent == probe:
                break
            probe = parent
        os.makedirs(folder, exist_ok=True)
        errors = []
        try:
            for filename, md5 in self.resources:
                if self._find(filename) is None:
                    try:
                        download_file(filename, md5, folder, mirrors, self._timeout)
                    except DownloadError as e:
                        errors.append(str(e))
        finally:
            for d in created:  # deepest first
                try:
                    os.rmdir(d)
                except OSError:
                    break  # not empty (or not ours to remove)
        if errors:
            missing = [f for f, _ in self.resources if self._find(f) is None]
            raise DownloadError(self._not_found_message(missing, "\n".join(errors)))


class _MNISTLike(MNIST):
    """A data set in MNIST's format and file names (Fashion-MNIST, KMNIST).

    Because the four files are named as MNIST's, they are looked for only in
    ``root/<ClassName>/raw`` and ``root/<ClassName>`` (torchvision's layout),
    never in ``root`` itself, where MNIST's files may lie.
    """

    def _search_dirs(self):
        name = type(self).__name__
        return [self.raw_folder, os.path.join(self.root, name)]


class FashionMNIST(_MNISTLike):
    """Zalando's Fashion-MNIST: 28x28 grey images of 10 kinds of clothing, 60,000 for training and 10,000
    for test, in MNIST's format (the data set of "Dive into Deep Learning")."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    mirrors_env = "GRADLAB_FASHIONMNIST_MIRRORS"
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


class KMNIST(_MNISTLike):
    """Kuzushiji-MNIST: 28x28 images of 10 cursive Japanese characters, in MNIST's format."""

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    mirrors_env = "GRADLAB_KMNIST_MIRRORS"
    resources = [
        ("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
        ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
        ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
        ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134"),
    ]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
