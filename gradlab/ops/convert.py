"""Conversions (``to``, ``float()``, ``type_as``) and the ``new_*`` constructors of a tensor's dtype."""
import numpy as np

from .. import _dtype
from .._tensor import Tensor, check_device
from ._common import shape_arg
from .unary import to_dtype
from .registry import op


@op(function=False)
def to(a, *args, dtype=None, device=None, copy=False, non_blocking=False, **kwargs):
    """``to(dtype)``, ``to(device)``, ``to(other_tensor)``, ``to(device, dtype)``."""
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif isinstance(arg, (_dtype.dtype, np.dtype, type)):
            dtype = arg
        else:
            check_device(arg)
    check_device(device)
    out = a if dtype is None else to_dtype(a, dtype)
    return out.clone() if copy and out is a else out


@op(function=False)
def _type(a, dtype=None):
    """``a.type()`` names the tensor type (``'gradlab.FloatTensor'``); ``a.type(dtype)`` converts."""
    return a.dtype.tensor_type if dtype is None else to_dtype(a, dtype)


@op(function=False)
def type_as(a, other):
    return to_dtype(a, other.dtype)


def _to(name, dt):
    """The method ``name`` (``a.float()``): ``a`` as dtype ``dt``."""
    def method(a, memory_format=None):
        return to_dtype(a, dt)
    method.__name__ = method.__qualname__ = name
    return op(function=False)(method)


to_float = _to("float", _dtype.float32)
to_double = _to("double", _dtype.float64)
to_half = _to("half", _dtype.float16)
to_long = _to("long", _dtype.int64)
to_int = _to("int", _dtype.int32)
to_short = _to("short", _dtype.int16)
to_bool = _to("bool", _dtype.bool)
to_byte = _to("byte", _dtype.uint8)
to_char = _to("char", _dtype.int8)


@op(method=False)
def is_floating_point(input):
    return input.is_floating_point()


# ---- new tensors with a's dtype ------------------------------------------------------------------
def _np_dtype(a, dtype):
    return _dtype.to_numpy_dtype(dtype) if dtype else a._data.dtype


@op(function=False)
def new_tensor(a, data, dtype=None, **kwargs):
    from .._tensor import tensor
    return tensor(data, dtype=dtype or a.dtype)


@op(function=False, alias="new_empty")
def new_zeros(a, *size, dtype=None, **kwargs):
    return Tensor._wrap(np.zeros(shape_arg(size), dtype=_np_dtype(a, dtype)))


@op(function=False)
def new_ones(a, *size, dtype=None, **kwargs):
    return Tensor._wrap(np.ones(shape_arg(size), dtype=_np_dtype(a, dtype)))


@op(function=False)
def new_full(a, size, fill_value, dtype=None, **kwargs):
    return Tensor._wrap(np.full(shape_arg((size,)), fill_value, dtype=_np_dtype(a, dtype)))
