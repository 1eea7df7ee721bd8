"""Tensor constructors: zeros, ones, full, rand, randn, arange, linspace, eye, ..."""
import numpy as np

from . import _dtype
from ._tensor import Tensor, _mark_if_inference, check_device
from .ops._common import shape_arg
from .random import generator_of

__all__ = ["zeros", "ones", "empty", "full", "rand", "randn", "randint", "randperm", "arange", "linspace",
           "logspace", "eye", "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like",
           "randint_like", "normal", "bernoulli", "multinomial", "FloatTensor", "LongTensor", "DoubleTensor",
           "IntTensor", "BoolTensor", "ByteTensor"]


def _finish(array, requires_grad, device):
    check_device(device)
    t = _mark_if_inference(Tensor._wrap(array))
    if requires_grad:
        t.requires_grad = True
    return t


def _float_dtype(dtype):
    return _dtype.to_numpy_dtype(dtype) if dtype is not None else _dtype.get_default_dtype().np


def _size(size, kw_size):
    return shape_arg(kw_size if size == () and kw_size is not None else size) if (size or kw_size is not None) else ()


def zeros(*size, dtype=None, device=None, requires_grad=False, **kw):
    return _finish(np.zeros(_size(size, kw.get("size")), _float_dtype(dtype)), requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad=False, **kw):
    return _finish(np.ones(_size(size, kw.get("size")), _float_dtype(dtype)), requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad=False, **kw):
    return _finish(np.empty(_size(size, kw.get("size")), _float_dtype(dtype)), requires_grad, device)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        kind = type(fill_value)
        np_dtype = (np.bool_ if kind is bool else np.int64 if kind is int else _dtype.get_default_dtype().np)
    else:
        np_dtype = _dtype.to_numpy_dtype(dtype)
    return _finish(np.full(shape_arg((size,)), fill_value, np_dtype), requires_grad, device)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, **kw):
    data = generator_of(generator).random(_size(size, kw.get("size")))
    return _finish(data.astype(_float_dtype(dtype)), requires_grad, device)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, **kw):
    data = generator_of(generator).standard_normal(_size(size, kw.get("size")))
    return _finish(data.astype(_float_dtype(dtype)), requires_grad, device)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:  # randint(high, size=...)
        low, high = 0, low
    if high is None or size is None:
        missing = "high" if high is None else "size"
        raise TypeError(f"randint() missing required argument '{missing}' (call randint(low, high, size) or "
                        "randint(high, size))")
    data = generator_of(generator).integers(low, high, shape_arg((size,)))
    return _finish(data.astype(_dtype.to_numpy_dtype(dtype) if dtype else np.int64), requires_grad, device)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    data = generator_of(generator).permutation(n)
    return _finish(data.astype(_dtype.to_numpy_dtype(dtype) if dtype else np.int64), requires_grad, device)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    shape = shape_arg((size,)) if size is not None else np.broadcast(np.asarray(m), np.asarray(s)).shape
    data = generator_of(generator).normal(m, s, shape)
    ref = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    np_dtype = ref._data.dtype if ref is not None and dtype is None else _float_dtype(dtype)
    return _finish(np.asarray(data, dtype=np_dtype), requires_grad, device)


def bernoulli(p, *, generator=None):
    probs = p._data
    return _mark_if_inference(Tensor._wrap((generator_of(generator).random(probs.shape) < probs).astype(probs.dtype)))


def multinomial(probs, num_samples, replacement=False, *, generator=None):
    rng = generator_of(generator)
    p = probs._data.astype(np.float64)
    rows = p.reshape(-1, p.shape[-1])
    out = np.stack([rng.choice(rows.shape[1], num_samples, replace=replacement, p=r / r.sum()) for r in rows])
    return _mark_if_inference(Tensor._wrap(out.reshape(p.shape[:-1] + (num_samples,)).astype(np.int64)))


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    values = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if dtype is None:
        np_dtype = np.int64 if all(isinstance(v, (int, np.integer)) for v in values) else _float_dtype(None)
    else:
        np_dtype = _dtype.to_numpy_dtype(dtype)
    data = np.arange(*values, dtype=np.float64 if np.dtype(np_dtype).kind == "f" else None)
    return _finish(data.astype(np_dtype), requires_grad, device)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    return _finish(np.linspace(start, end, steps).astype(_float_dtype(dtype)), requires_grad, device)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    return _finish(np.logspace(start, end, steps, base=base).astype(_float_dtype(dtype)), requires_grad, device)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    return _finish(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad, device)


def _like(fill):
    def like(t, dtype=None, device=None, requires_grad=False, memory_format=None, **kwargs):
        np_dtype = _dtype.to_numpy_dtype(dtype) if dtype is not None else t._data.dtype
        return _finish(fill(t._data.shape, np_dtype, **kwargs), requires_grad, device)
    return like


zeros_like = _like(lambda shape, dt: np.zeros(shape, dt))
ones_like = _like(lambda shape, dt: np.ones(shape, dt))
empty_like = _like(lambda shape, dt: np.empty(shape, dt))
rand_like = _like(lambda shape, dt, generator=None: generator_of(generator).random(shape).astype(dt))
randn_like = _like(lambda shape, dt, generator=None: generator_of(generator).standard_normal(shape).astype(dt))


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False, **kwargs):
    np_dtype = _dtype.to_numpy_dtype(dtype) if dtype is not None else t._data.dtype
    return _finish(np.full(t._data.shape, fill_value, np_dtype), requires_grad, device)


def randint_like(t, low=0, high=None, *, dtype=None, generator=None, device=None, requires_grad=False):
    if high is None:
        low, high = 0, low
    np_dtype = _dtype.to_numpy_dtype(dtype) if dtype is not None else t._data.dtype
    return _finish(generator_of(generator).integers(low, high, t._data.shape).astype(np_dtype), requires_grad, device)


def _typed_tensor(dt):
    class TypedTensor:
        """``FloatTensor(2, 3)`` (uninitialised) or ``FloatTensor([1, 2])`` (data), as legacy PyTorch."""

        def __new__(cls, *args):
            return Tensor(*args, dtype=dt)

        def __instancecheck__(self, obj):
            return isinstance(obj, Tensor) and obj.dtype is dt
    TypedTensor.__name__ = {"float32": "FloatTensor", "int64": "LongTensor", "float64": "DoubleTensor",
                            "int32": "IntTensor", "bool": "BoolTensor", "uint8": "ByteTensor"}[dt.name]
    return TypedTensor


FloatTensor = _typed_tensor(_dtype.float32)
LongTensor = _typed_tensor(_dtype.int64)
DoubleTensor = _typed_tensor(_dtype.float64)
IntTensor = _typed_tensor(_dtype.int32)
BoolTensor = _typed_tensor(_dtype.bool)
ByteTensor = _typed_tensor(_dtype.uint8)
