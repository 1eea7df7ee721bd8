"""scikit-learn's 8x8 digits dressed up as MNIST: the offline fallback.

scikit-learn ships 1,797 handwritten digits as 8x8 images with values 0-16.
``load_digits_as_mnist`` turns them into MNIST's shape and range (uint8
28x28, 0-255) and splits them into train and test the same way every time,
so LeNet-5 and the training command run unchanged without the MNIST files.
``DigitsMNIST`` wraps the same arrays in MNIST's data set interface.
"""
import functools

import numpy as np

from .mnist import ImageArrayDataset

__all__ = ["load_digits_as_mnist", "DigitsMNIST"]


def _resize_matrix(n_in, n_out):
    """The (n_out x n_in) matrix of 1-d linear interpolation between pixel centres.

    Output pixel i sits at input coordinate (i + 0.5) * n_in / n_out - 0.5;
    it takes a weighted mean of the two input pixels either side of it.
    Resizing an image is then ``M @ image @ M.T``.
    """
    x = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    x = np.clip(x, 0, n_in - 1)
    lo = np.floor(x).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    w = x - lo
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] += 1 - w
    m[np.arange(n_out), hi] += w
    return m


def _to_mnist_images(images, size, method):
    """(N, 8, 8) floats in [0, 16] -> (N, size, size) uint8 in [0, 255]."""
    n, h, w = images.shape
    if method == "resize":
        # Like MNIST: the digit fills a box of 20/28 of the side, centred.
        box = max(1, round(size * 20 / 28))
        m = _resize_matrix(h, box)
        small = np.einsum("ij,njk,lk->nil", m, images, m)
    elif method == "pad":
        # Each pixel becomes a k x k block (k = 3 for 28), no interpolation.
        k = max(1, size // max(h, w))
        small = np.kron(images, np.ones((1, k, k)))
    else:
        raise ValueError(f"method must be 'resize' or 'pad', got {method!r}")
    out = np.zeros((n, size, size))
    top = (size - small.shape[1]) // 2
    left = (size - small.shape[2]) // 2
    out[:, top:top + small.shape[1], left:left + small.shape[2]] = small
    return np.clip(np.rint(out * (255.0 / 16.0)), 0, 255).astype(np.uint8)


def _split(labels, test_fraction, seed):
    """Stratified, seeded split: the same indices on every machine."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(len(idx) * test_fraction))
        test.append(idx[:k])
        train.append(idx[k:])
    train = rng.permutation(np.concatenate(train))
    test = rng.permutation(np.concatenate(test))
    return train, test


def load_digits_as_mnist(size=28, method="resize", test_fraction=0.2, seed=0):
    """scikit-learn's digits as MNIST-like arrays.

    Returns ``((train_images, train_labels), (test_images, test_labels))``:
    images uint8 N x size x size scaled to 0-255, labels int64.  ``method``
    is ``"resize"`` (bilinear to a 20x20 box centred in 28x28, MNIST's
    framing) or ``"pad"`` (each pixel a 3x3 block, 24x24 centred).  The split
    is stratified by class and fixed by ``seed``; with the defaults it gives
    1,438 training and 359 test images.
    """
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    images, labels = _converted(size, method)
    train, test = _split(labels, test_fraction, seed)
    # Fancy indexing copies: callers never see the cached arrays.
    return (images[train], labels[train]), (images[test], labels[test])


@functools.lru_cache(maxsize=4)
def _converted(size, method):
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = _to_mnist_images(np.asarray(digits.images, dtype=np.float64), size, method)
    return images, np.asarray(digits.target, dtype=np.int64)


class DigitsMNIST(ImageArrayDataset):
    """scikit-learn's digits with MNIST's interface (``.data``, ``.targets``,
    ``.classes``, ``(image, label)`` items, transforms).

    ``DigitsMNIST(train=True)`` stands in for ``MNIST(root, train=True)`` when
    the MNIST files are not available; ``root`` is accepted and ignored.
    """

    def __init__(self, root=None, train=True, transform=None, target_transform=None,
                 download=False, size=28, method="resize", test_fraction=0.2, seed=0):
        super().__init__(root, train, transform, target_transform)
        (xtr, ytr), (xte, yte) = load_digits_as_mnist(size, method, test_fraction, seed)
        self.data, self.targets = (xtr, ytr) if train else (xte, yte)
