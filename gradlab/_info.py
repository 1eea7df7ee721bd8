"""``gradlab.finfo`` and ``gradlab.iinfo``: the numeric limits of gradlab's float and integer dtypes."""
import numpy as np

from . import _dtype

__all__ = ["finfo", "iinfo"]


def _short(x):
    return f"{x:.6g}"


class finfo:
    """bits, eps, max, min, tiny (= smallest_normal), resolution and dtype of a float dtype (as Python floats)."""

    def __init__(self, type=None):
        d = _dtype.get_default_dtype() if type is None else type
        if not isinstance(d, _dtype.dtype) or d.np.kind != "f":
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo to handle "
                            "'torch.finfo'")  # (PyTorch's message, word for word)
        info = np.finfo(d.np)
        self.dtype, self.bits = d.np.name, info.bits
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -info.precision  # (NumPy's is this number rounded to the dtype)

    def __repr__(self):
        return (f"finfo(resolution={_short(self.resolution)}, min={_short(self.min)}, max={_short(self.max)}, "
                f"eps={_short(self.eps)}, smallest_normal={_short(self.smallest_normal)}, "
                f"tiny={_short(self.tiny)}, dtype={self.dtype})")


class iinfo:
    """bits, max, min and dtype of an integer dtype (as Python ints)."""

    def __init__(self, type):
        if isinstance(type, _dtype.dtype) and type.np.kind == "b":
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if not isinstance(type, _dtype.dtype) or type.np.kind not in "iu":
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to handle 'torch.iinfo'")
        info = np.iinfo(type.np)
        self.dtype, self.bits, self.max, self.min = type.np.name, info.bits, int(info.max), int(info.min)

    def __repr__(self):
        return f"iinfo(min={_short(self.min)}, max={_short(self.max)}, dtype={self.dtype})"
