"""dtypes and PyTorch's type-promotion rules.

A gradlab dtype is a thin name over a NumPy dtype (``float32.np``).  NumPy and
PyTorch promote differently: PyTorch keeps a float tensor's dtype against
integer tensors (``int64 + float32 -> float32``), lets Python floats default
to float32, and lets a dimensioned tensor outrank a zero-dim one of the same
kind.  ``result_type`` implements PyTorch's rule.
"""
import numpy as np

__all__ = ["dtype", "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
           "bool", "half", "float", "double", "short", "int", "long",
           "get_default_dtype", "set_default_dtype", "to_numpy_dtype", "from_numpy_dtype", "result_type"]

_builtin_bool, _builtin_int, _builtin_float = bool, int, float


class dtype:
    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "tensor_type")

    def __init__(self, name, np_dtype, tensor_type):
        self.name = name
        self.tensor_type = tensor_type  # the legacy type name, as Tensor.type() prints it: "gradlab.FloatTensor"
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.is_signed = self.np.kind in "fi"
        self.itemsize = self.np.itemsize

    def __repr__(self):
        return "gradlab." + self.name

    def __reduce__(self):
        return self.name


float16 = half = dtype("float16", np.float16, "gradlab.HalfTensor")
float32 = float = dtype("float32", np.float32, "gradlab.FloatTensor")
float64 = double = dtype("float64", np.float64, "gradlab.DoubleTensor")
int8 = dtype("int8", np.int8, "gradlab.CharTensor")
int16 = short = dtype("int16", np.int16, "gradlab.ShortTensor")
int32 = int = dtype("int32", np.int32, "gradlab.IntTensor")
int64 = long = dtype("int64", np.int64, "gradlab.LongTensor")
uint8 = dtype("uint8", np.uint8, "gradlab.ByteTensor")
bool = dtype("bool", np.bool_, "gradlab.BoolTensor")

_by_numpy = {d.np: d for d in (float16, float32, float64, int8, int16, int32, int64, uint8, bool)}
_default = [float32]


def get_default_dtype():
    return _default[0]


def set_default_dtype(d):
    d = from_any(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the default type, got {d}")
    _default[0] = d


def from_numpy_dtype(np_dtype):
    try:
        return _by_numpy[np_dtype]
    except KeyError:
        d = np.dtype(np_dtype)
        if d in _by_numpy:
            return _by_numpy[d]
        raise TypeError(f"gradlab does not support NumPy dtype {d}; supported: "
                        f"{', '.join(str(k) for k in _by_numpy)}") from None


def from_any(d):
    """A gradlab dtype from a gradlab dtype, NumPy dtype, Python type or name."""
    if type(d) is dtype:
        return d
    if d is _builtin_float:
        return float64
    if d is _builtin_int:
        return int64
    if d is _builtin_bool:
        return bool
    if isinstance(d, str):
        d = d.replace("torch.", "").replace("gradlab.", "")
        if d in globals() and type(globals()[d]) is dtype:
            return globals()[d]
        for known in _by_numpy.values():  # legacy names: "FloatTensor", "torch.LongTensor"
            if known.tensor_type == "gradlab." + d:
                return known
    return from_numpy_dtype(np.dtype(d))


def to_numpy_dtype(d):
    return from_any(d).np


# ---- promotion -------------------------------------------------------------
_BOOL, _INT, _FLOAT = 0, 1, 2


def _category(np_dtype):
    k = np_dtype.kind
    return _FLOAT if k == "f" else _BOOL if k == "b" else _INT


def promote_types(a, b):
    """PyTorch's promote_types on NumPy dtypes: a float beats any integer."""
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca == _FLOAT and cb != _FLOAT:
        return a
    if cb == _FLOAT and ca != _FLOAT:
        return b
    return np.promote_types(a, b)


def _combine(higher, lower):
    if higher is None:
        return lower
    if lower is None:
        return higher
    if _category(higher) == _FLOAT:
        return higher
    if _category(higher) == _BOOL or _category(lower) == _FLOAT:
        return promote_types(higher, lower)
    return higher


def result_type(*operands):
    """The dtype (NumPy) of an op on ``operands``: arrays and Python scalars.

    Arrays with dimensions outrank zero-dim arrays, which outrank Python
    scalars, unless a lower rank brings a higher category (bool < int < float).
    """
    dim = zero = wrapped = None
    for x in operands:
        if isinstance(x, np.ndarray):
            if x.ndim:
                dim = x.dtype if dim is None else promote_types(dim, x.dtype)
            else:
                zero = x.dtype if zero is None else promote_types(zero, x.dtype)
        else:
            t = type(x)
            if t is _builtin_bool or isinstance(x, np.bool_):
                d = np.dtype(np.bool_)
            elif t is _builtin_int or isinstance(x, np.integer):
                d = np.dtype(np.int64)
            else:
                d = _default[0].np
            wrapped = d if wrapped is None else promote_types(wrapped, d)
    return _combine(dim, _combine(zero, wrapped))
