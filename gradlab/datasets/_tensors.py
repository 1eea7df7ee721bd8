"""The bridge between the data sets (NumPy arrays) and gradlab tensors.

The data sets keep their arrays as NumPy and hand out gradlab tensors that
share the same memory (``gradlab.from_numpy``), so ``dataset.data`` costs no
copy and a DataLoader can still slice the raw arrays directly.
"""
import numpy as np


def to_tensor(arr):
    """Wrap an ndarray as a gradlab tensor sharing its memory.

    Falls back to returning the array itself when gradlab's Tensor is not
    importable (for example while only the data layer is installed).
    """
    try:
        import gradlab
    except ImportError:
        return arr
    from_numpy = getattr(gradlab, "from_numpy", None)
    if from_numpy is not None:
        return from_numpy(np.asarray(arr))
    tensor = getattr(gradlab, "tensor", None)
    if tensor is not None:
        return tensor(np.asarray(arr))
    return arr


def to_numpy(x):
    """The ndarray behind a gradlab tensor (or any array-like), no copy if possible."""
    if isinstance(x, np.ndarray):
        return x
    detach = getattr(x, "detach", None)
    if callable(detach):
        x = detach()
    numpy = getattr(x, "numpy", None)
    if callable(numpy):
        return numpy()
    return np.asarray(x)


def is_tensor(x):
    """True for a gradlab tensor (anything that is not an ndarray but has .numpy())."""
    return not isinstance(x, np.ndarray) and callable(getattr(x, "numpy", None))


def requires_grad(x):
    return bool(getattr(x, "requires_grad", False))
