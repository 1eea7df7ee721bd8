"""Reductions: sum, mean, prod, max/min, var/std, norm, logsumexp, cumsum.

A reduction's backward spreads the output gradient back over the reduced
axes: ``_expand_back`` re-inserts them (when ``keepdim`` dropped them) and
broadcasts to the input's shape.
"""
from collections import namedtuple

import numpy as np

from .. import _dtype
from .._tensor import Tensor
from ..autograd.function import record
from ._common import normalize_dim, normalize_dims
from .elementwise import where

values_indices = namedtuple("values_indices", ["values", "indices"])


def _expand_back(g, in_shape, dims, keepdim):
    """Undo a reduction over ``dims`` on a gradient: reshape and broadcast to ``in_shape``."""
    if not keepdim and dims and g._data.ndim:  # (a 0-d gradient expands to any shape as it is)
        kept = list(in_shape)
        for d in dims:
            kept[d] = 1
        g = g.reshape(tuple(kept))
    return g.expand(in_shape)


def _accumulating_dtype(a, dtype):
    if dtype is not None:
        return _dtype.to_numpy_dtype(dtype)
    # integer and bool sums accumulate in int64, as PyTorch
    return np.dtype(np.int64) if a._data.dtype.kind in "biu" else None


def sum(a, dim=None, keepdim=False, dtype=None):
    dims = normalize_dims(dim, a._data.ndim, "sum") if dim is not None and dim != () else None
    axes = dims if dims is not None else None
    # the ndarray method skips np.sum's dispatch layer (microseconds on small tensors)
    out = a._data.sum(axis=axes, keepdims=keepdim, dtype=_accumulating_dtype(a, dtype))
    shape = a._data.shape
    all_dims = dims if dims is not None else tuple(range(len(shape)))

    def backward(g):
        return (_expand_back(g, shape, all_dims, keepdim),)
    return record(out, "SumBackward1" if dims is not None else "SumBackward0", backward, (a,))


def mean(a, dim=None, keepdim=False, dtype=None):
    if a._data.dtype.kind != "f" and dtype is None:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point "
                           f"or complex dtype. Got: {a.dtype}")
    dims = normalize_dims(dim, a._data.ndim, "mean") if dim is not None and dim != () else None
    out = a._data.mean(axis=dims, keepdims=keepdim, dtype=_dtype.to_numpy_dtype(dtype) if dtype else None)
    shape = a._data.shape
    all_dims = dims if dims is not None else tuple(range(len(shape)))
    count = 1
    for d in all_dims:
        count *= shape[d]

    def backward(g):
        return (_expand_back(g / count, shape, all_dims, keepdim),)
    return record(np.asarray(out, dtype=out.dtype), "MeanBackward1" if dims is not None else "MeanBackward0",
                  backward, (a,))


def prod(a, dim=None, keepdim=False, dtype=None):
    dims = None if dim is None else normalize_dims(dim, a._data.ndim, "prod")
    out = np.prod(a._data, axis=dims, keepdims=keepdim, dtype=_accumulating_dtype(a, dtype))
    shape = a._data.shape
    all_dims = dims if dims is not None else tuple(range(len(shape)))

    def backward(g):
        g = _expand_back(g, shape, all_dims, keepdim)
        x = a._data
        if (x != 0).all():
            # product of the others = product / self (differentiable, for create_graph)
            return (g * _expand_back(Tensor._wrap(out) if not a._requires_grad else prod(a, dim, keepdim),
                                     shape, all_dims, keepdim) / a,)
        # with zeros: the product of every other element, from exclusive cumulative products
        axis = all_dims[0] if len(all_dims) == 1 else None
        flat = x if axis is not None else x.reshape(-1)
        ax = axis if axis is not None else 0
        left = np.cumprod(np.concatenate([np.ones_like(np.take(flat, [0], ax)), flat], ax), ax)
        left = np.take(left, range(flat.shape[ax]), ax)
        rev = np.flip(flat, ax)
        right = np.cumprod(np.concatenate([np.ones_like(np.take(rev, [0], ax)), rev], ax), ax)
        right = np.flip(np.take(right, range(flat.shape[ax]), ax), ax)
        others = (left * right).reshape(shape)
        return (g * Tensor._wrap(others),)
    return record(out, "ProdBackward1" if dims is not None else "ProdBackward0", backward, (a,), saved=(a,))


def _extreme(a, dim, keepdim, np_fn, arg_fn, name):
    if dim is None:
        if a._data.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument.")
        out = np_fn(a._data)

        def backward(g):
            # ties share the gradient evenly, as PyTorch's full reductions
            mask = (a._data == out)
            share = mask / mask.sum()
            return (g * Tensor._wrap(share.astype(g._data.dtype)),)
        return record(out, name.capitalize() + "Backward1", backward, (a,), saved=(a,))
    d = normalize_dim(dim, a._data.ndim, name)
    x = a._data if a._data.ndim else a._data.reshape(1)
    idx = np.expand_dims(arg_fn(x, axis=d), d)
    values = np.take_along_axis(x, idx, d)
    if not keepdim:
        values = np.squeeze(values, d)
        idx_out = np.squeeze(idx, d)
    else:
        idx_out = idx
    if a._data.ndim == 0:
        values, idx_out, idx = values.reshape(()), idx_out.reshape(()), idx
    shape = a._data.shape
    index = Tensor._wrap(idx)

    def backward(g):
        if not keepdim and shape:
            g = g.unsqueeze(d)
        return (scatter_into_zeros(g, index, d, shape),)
    out = record(values, name.capitalize() + "Backward0", backward, (a,))
    return values_indices(out, Tensor._wrap(idx_out.astype(np.int64)))


def max(a, dim=None, keepdim=False, *, other=None):
    if isinstance(dim, Tensor):  # max(a, b) is the elementwise maximum
        from .elementwise import maximum
        return maximum(a, dim)
    return _extreme(a, dim, keepdim, np.max, np.argmax, "max")


def min(a, dim=None, keepdim=False):
    if isinstance(dim, Tensor):
        from .elementwise import minimum
        return minimum(a, dim)
    return _extreme(a, dim, keepdim, np.min, np.argmin, "min")


def amax(a, dim=(), keepdim=False):
    dims = normalize_dims(dim if dim != () else None, a._data.ndim, "amax")
    out = np.max(a._data, axis=dims, keepdims=keepdim)
    shape = a._data.shape

    def backward(g):
        kept = Tensor._wrap(np.max(a._data, axis=dims, keepdims=True))
        mask = (a == kept).to(g.dtype)
        return (_expand_back(g, shape, dims, keepdim) * mask / mask.sum(dims, keepdim=True),)
    return record(out, "AmaxBackward0", backward, (a,), saved=(a,))


def amin(a, dim=(), keepdim=False):
    return -amax(-a, dim, keepdim)


def argmax(a, dim=None, keepdim=False):
    if dim is None:
        out = np.argmax(a._data)
        return Tensor._wrap(np.asarray(out, dtype=np.int64).reshape((1,) * a._data.ndim if keepdim else ()))
    d = normalize_dim(dim, a._data.ndim, "argmax")
    return Tensor._wrap(np.argmax(a._data, axis=d, keepdims=keepdim).astype(np.int64))


def argmin(a, dim=None, keepdim=False):
    if dim is None:
        out = np.argmin(a._data)
        return Tensor._wrap(np.asarray(out, dtype=np.int64).reshape((1,) * a._data.ndim if keepdim else ()))
    d = normalize_dim(dim, a._data.ndim, "argmin")
    return Tensor._wrap(np.argmin(a._data, axis=d, keepdims=keepdim).astype(np.int64))


def var(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance with Bessel's correction by default (``correction=1``), as PyTorch."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if isinstance(dim, bool):  # var(x, False): the old positional ``unbiased``
        correction, dim = int(dim), None
    dims = normalize_dims(dim, a._data.ndim, "var")
    n = 1
    for d in dims:
        n *= a._data.shape[d]
    centered = a - a.mean(dims, keepdim=True)
    return (centered * centered).sum(dims, keepdim=keepdim) / builtin_max(n - correction, 0)


def std(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(a, dim, unbiased, keepdim, correction=correction).sqrt()


def var_mean(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(a, dim, unbiased, keepdim, correction=correction), a.mean(dim, keepdim=keepdim)


def std_mean(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return std(a, dim, unbiased, keepdim, correction=correction), a.mean(dim, keepdim=keepdim)


def norm(a, p="fro", dim=None, keepdim=False, dtype=None):
    """The p-norm over ``dim`` (all elements by default); its gradient at 0 is 0, as PyTorch."""
    if p == "fro" or p is None:
        p = 2
    dims = normalize_dims(dim, a._data.ndim, "norm")
    if p == 2:
        out = np.sqrt(np.sum(a._data * a._data, axis=dims, keepdims=keepdim))
        shape = a._data.shape

        def backward(g):
            # d|a|/da = a / |a|, with the norm itself in the graph so that it can be differentiated again
            n = _expand_back(result, shape, dims, keepdim)
            zero = n == 0
            safe = where(zero, 1.0, n)
            return (where(zero, 0.0, a * _expand_back(g, shape, dims, keepdim) / safe),)
        result = record(out, "NormBackward1", backward, (a,), saved=(a,))
        return result
    if p == float("inf"):
        return a.abs().amax(dims, keepdim)
    if p == float("-inf"):
        return a.abs().amin(dims, keepdim)
    if p == 0:
        return (a != 0).to(a.dtype).sum(dims, keepdim=keepdim)
    if p == 1:
        return a.abs().sum(dims, keepdim=keepdim)
    return (a.abs() ** p).sum(dims, keepdim=keepdim) ** (1.0 / p)


def logsumexp(a, dim, keepdim=False):
    dims = normalize_dims(dim, a._data.ndim, "logsumexp")
    peak = np.max(a._data, axis=dims, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0)
    out = np.log(np.sum(np.exp(a._data - peak), axis=dims, keepdims=True)) + peak
    shape = a._data.shape
    kept = Tensor._wrap(out)
    if not keepdim:
        out = np.squeeze(out, dims)

    def backward(g):
        return (_expand_back(g, shape, dims, keepdim) * (a - kept).exp(),)
    return record(out, "LogsumexpBackward0", backward, (a,), saved=(a,))


def cumsum(a, dim, dtype=None):
    d = normalize_dim(dim, a._data.ndim, "cumsum")
    out = np.cumsum(a._data, axis=d, dtype=_accumulating_dtype(a, dtype)).reshape(a._data.shape)

    def backward(g):
        return (g.flip(d).cumsum(d).flip(d),)
    return record(out, "CumsumBackward0", backward, (a,))


def all(a, dim=None, keepdim=False):
    return Tensor._wrap(np.all(a._data, axis=dim, keepdims=keepdim))


def any(a, dim=None, keepdim=False):
    return Tensor._wrap(np.any(a._data, axis=dim, keepdims=keepdim))


def count_nonzero(a, dim=None):
    return Tensor._wrap(np.asarray(np.count_nonzero(a._data, axis=dim), dtype=np.int64))


builtin_max = __builtins__["max"] if isinstance(__builtins__, dict) else __builtins__.max


def scatter_into_zeros(g, index, dim, shape):
    """Zeros of ``shape`` with ``g`` placed at ``index`` along ``dim`` (backward of max/min/gather)."""
    out = np.zeros(shape, dtype=g._data.dtype)
    if len(shape) == 0:
        out = g._data.reshape(()).copy()
    else:
        np.put_along_axis(out, index._data, g._data, dim)

    def backward(gg):
        return (gg.gather(dim, index),)
    return record(out, "ScatterBackward0", backward, (g,))
