"""What the chapter-style tests share: PyTorch when it is installed, the same weights on both libraries,
Fashion-MNIST-shaped random batches, and the check for NumPy-style keywords.

A chapter is written once as a function whose first argument is the library (``gradlab`` or ``torch``);
the test runs it on gradlab, then on PyTorch from gradlab's weights, and compares.
"""
import numpy as np
import pytest

import gradlab


def _has_numpy_keywords():
    try:
        gradlab.ones(2).sum(axis=0)
    except TypeError:
        return False
    return True


needs_numpy_keywords = pytest.mark.skipif(not _has_numpy_keywords(),
                                          reason="needs NumPy-style keywords (h-numpy)")


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def fashion_batch(n=16, seed=0):
    """Images shaped like Fashion-MNIST's (n, 1, 28, 28) in [0, 1] and labels 0-9, as float32 / int64 arrays."""
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n)


def tensors(lib, *arrays):
    """The arrays as tensors of ``lib`` (gradlab or torch), dtypes kept."""
    return [lib.tensor(a) for a in arrays]


def copy_weights(ours, theirs, torch):
    """Load a gradlab module's state_dict into the same PyTorch module (strict: every key)."""
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})


def numpy_of(value):
    if hasattr(value, "detach"):
        value = value.detach().numpy()
    return np.asarray(value, dtype=np.float64)


def assert_close(ours, theirs, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(numpy_of(ours), numpy_of(theirs), rtol=rtol, atol=atol)


def assert_same_state(ours, theirs, rtol=1e-5, atol=1e-6):
    theirs = theirs.state_dict()
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(numpy_of(value), numpy_of(theirs[key]), rtol=rtol, atol=atol, err_msg=key)
