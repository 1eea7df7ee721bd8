"""Reductions: sum, mean, prod, max/min, var/std, norm, logsumexp, cumsum/cumprod, sort/topk.

A reduction's backward spreads the output gradient back over the reduced
axes: ``_expand_back`` re-inserts them (when ``keepdim`` dropped them) and
broadcasts to the input's shape.
"""
import math
from collections import namedtuple

import numpy as np

from .. import _dtype
from .._tensor import Tensor
from ..autograd.record import record, record_outputs
from ._common import normalize_dim, normalize_dims
from .compare import where
from .join_split import cat, stack
from .registry import op

values_indices = namedtuple("values_indices", ["values", "indices"])


def _expand_back(g, in_shape, dims, keepdim):
    """Undo a reduction over ``dims`` on a gradient: reshape and broadcast to ``in_shape``."""
    if not keepdim and dims and g._data.ndim:  # (a 0-d gradient expands to any shape as it is)
        kept = list(in_shape)
        for d in dims:
            kept[d] = 1
        g = g.reshape(tuple(kept))
    return g if g._data.shape == in_shape else g.expand(in_shape)


def _reduce_dims(dim, ndim, op):
    """The axes ``dim`` names, or None for all of them (dim None or empty, as PyTorch)."""
    if dim is None:
        return None
    return normalize_dims(dim, ndim, op) or None


def _accumulating_dtype(a, dtype):
    if dtype is not None:
        return _dtype.to_numpy_dtype(dtype)
    # integer and bool sums accumulate in int64, as PyTorch
    return np.dtype(np.int64) if a._data.dtype.kind in "biu" else None


# PyTorch names a full reduction's node ...Backward0 and one given ``dim`` (even dim=()) ...Backward1
@op()
def sum(a, dim=None, keepdim=False, dtype=None):
    dims = _reduce_dims(dim, a._data.ndim, "sum")
    # the ndarray method skips np.sum's dispatch layer (microseconds on small tensors)
    out = a._data.sum(axis=dims, keepdims=keepdim, dtype=_accumulating_dtype(a, dtype))
    shape = a._data.shape
    all_dims = dims if dims is not None else tuple(range(len(shape)))

    def backward(g):
        """grad_a = g expanded back to a's shape (each element of a gets g)"""
        return (_expand_back(g, shape, all_dims, keepdim),)
    return record(out, "SumBackward0" if dim is None else "SumBackward1", backward, (a,))


@op()
def mean(a, dim=None, keepdim=False, dtype=None):
    if a._data.dtype.kind != "f" and dtype is None:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point "
                           f"or complex dtype. Got: {a.dtype}")
    dims = _reduce_dims(dim, a._data.ndim, "mean")
    out = a._data.mean(axis=dims, keepdims=keepdim, dtype=_dtype.to_numpy_dtype(dtype) if dtype else None)
    shape = a._data.shape
    all_dims = dims if dims is not None else tuple(range(len(shape)))
    count = 1
    for d in all_dims:
        count *= shape[d]

    def backward(g):
        """grad_a = g / n expanded back to a's shape (n: the number of elements averaged)"""
        return (_expand_back(g / count, shape, all_dims, keepdim),)
    return record(np.asarray(out, dtype=out.dtype), "MeanBackward0" if dim is None else "MeanBackward1",
                  backward, (a,))


@op()
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
        return (g * _product_of_the_others(a, all_dims),)
    return record(out, "ProdBackward1" if dims is not None else "ProdBackward0", backward, (a,), saved=(a,))


def _product_of_the_others(a, all_dims):
    """For each element of ``a``, the product of the other elements of its slice along ``all_dims`` (one dim, or
    every dim): the product of those before it times the product of those after it, as exclusive cumulative
    products.  Tensor ops, so that prod's gradient differentiates again where ``a`` holds zeros."""
    axis = all_dims[0] if len(all_dims) == 1 else 0
    flat = a if len(all_dims) == 1 else a.reshape(-1)
    n = flat.shape[axis]
    one_shape = list(flat.shape)
    one_shape[axis] = 1
    ones = Tensor._wrap(np.ones(one_shape, dtype=a._data.dtype))
    before = cat([ones, flat.narrow(axis, 0, n - 1)], axis).cumprod(axis)
    after = cat([ones, flat.flip(axis).narrow(axis, 0, n - 1)], axis).cumprod(axis).flip(axis)
    return (before * after).reshape(a.shape)


def _extreme(a, dim, keepdim, np_fn, arg_fn, name, nodes=("Backward0", "Backward1"), result=values_indices):
    """max / min / median: one value over all of ``a``, or (values, indices) along ``dim``.

    ``nodes`` are the suffixes of the two node names: along a dim, over all;
    ``result`` is the named tuple returned along a dim.
    """
    if dim is None:
        if a._data.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument.")
        out = np_fn(a._data)

        def backward(g):
            """grad_a = g where a equals the result, else 0 (ties share g evenly)"""
            # ties share the gradient evenly, as PyTorch's full reductions
            mask = (a._data == out)
            share = mask / mask.sum()
            return (g * Tensor._wrap(share.astype(g._data.dtype)),)
        return record(out, name.capitalize() + nodes[1], backward, (a,), saved=(a,))
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
        """grad_a = g at the index each value came from, 0 elsewhere"""
        if not keepdim and shape:
            g = g.unsqueeze(d)
        return (scatter_into_zeros(g, index, d, shape),)
    out = record(values, name.capitalize() + nodes[0], backward, (a,))
    return result(out, Tensor._wrap(idx_out.astype(np.int64)))


@op()
def max(a, dim=None, keepdim=False, *, other=None):
    if isinstance(dim, Tensor):  # max(a, b) is the elementwise maximum
        from .arithmetic import maximum
        return maximum(a, dim)
    return _extreme(a, dim, keepdim, np.max, np.argmax, "max")


@op()
def min(a, dim=None, keepdim=False):
    if isinstance(dim, Tensor):
        from .arithmetic import minimum
        return minimum(a, dim)
    return _extreme(a, dim, keepdim, np.min, np.argmin, "min")


def _extreme_values(a, dim, keepdim, np_fn, name):
    """amax / amin: the largest / smallest values over ``dim``; ties share the gradient evenly."""
    dims = _reduce_dims(dim, a._data.ndim, name)
    dims = dims if dims is not None else tuple(range(a._data.ndim))
    out = np_fn(a._data, axis=dims, keepdims=keepdim)
    shape = a._data.shape

    def backward(g):
        """grad_a = g where a equals the result, else 0 (ties share g evenly)"""
        kept = Tensor._wrap(np_fn(a._data, axis=dims, keepdims=True))
        mask = (a == kept).to(g.dtype)
        return (_expand_back(g, shape, dims, keepdim) * mask / mask.sum(dims, keepdim=True),)
    return record(np.asarray(out), name.capitalize() + "Backward0", backward, (a,), saved=(a,))


@op()
def amax(a, dim=(), keepdim=False):
    return _extreme_values(a, dim, keepdim, np.max, "amax")


@op()
def amin(a, dim=(), keepdim=False):
    return _extreme_values(a, dim, keepdim, np.min, "amin")


@op()
def argmax(a, dim=None, keepdim=False):
    return _arg_extreme(a, dim, keepdim, np.argmax, "argmax")


@op()
def argmin(a, dim=None, keepdim=False):
    return _arg_extreme(a, dim, keepdim, np.argmin, "argmin")


def _arg_extreme(a, dim, keepdim, np_fn, op):
    """The index of the extreme value (of the flattened tensor when dim is None), as int64."""
    if dim is None:
        out = np_fn(a._data)
        return Tensor._wrap(np.asarray(out, dtype=np.int64).reshape((1,) * a._data.ndim if keepdim else ()))
    d = normalize_dim(dim, a._data.ndim, op)
    return Tensor._wrap(np_fn(a._data, axis=d, keepdims=keepdim).astype(np.int64))


# ---- variance and standard deviation: one node each, as PyTorch ------------------------------------
def _var_args(a, dim, unbiased, correction, op):
    """(axes, N - correction) for var/std: Bessel's correction (1) by default, as PyTorch."""
    if isinstance(dim, bool):  # var(x, False): the old positional ``unbiased``
        unbiased, dim = dim, None
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if a._data.dtype.kind != "f":
        raise RuntimeError(f"{op}(): std and var only support floating point and complex dtypes, got {a.dtype}")
    dims = _reduce_dims(dim, a._data.ndim, op)
    dims = dims if dims is not None else tuple(range(a._data.ndim))
    n = 1
    for d in dims:
        n *= a._data.shape[d]
    return dims, builtin_max(n - correction, 0)


def _var_array(x, dims, keepdim, dof):
    """sum((x - mean)^2) / dof over ``dims`` (inf or nan when dof is 0, as PyTorch)."""
    centered = x - x.mean(axis=dims, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.divide((centered * centered).sum(axis=dims, keepdims=keepdim), dof))


def _var_grad(g, a, dims, keepdim, dof):
    """The gradient of var: 2 (x - mean) / dof times the output gradient, written with Tensor ops."""
    scale = 2.0 / dof if dof else float("inf")
    return _expand_back(g, a._data.shape, dims, keepdim) * scale * (a - a.mean(dims, keepdim=True))


@op()
def var(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over ``dim``: sum((x - mean)^2) / (N - correction)."""
    dims, dof = _var_args(a, dim, unbiased, correction, "var")

    def backward(g):
        return (_var_grad(g, a, dims, keepdim, dof),)
    return record(_var_array(a._data, dims, keepdim, dof), "VarBackward0", backward, (a,), saved=(a,))


def _std_grad(g, std, a, dims, keepdim, dof):
    """d std = d var / (2 std), taken as 0 where std is 0 (as PyTorch)."""
    zero = std == 0
    return _var_grad(where(zero, 0.0, g / (2 * where(zero, 1.0, std))), a, dims, keepdim, dof)


@op()
def std(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation: the square root of ``var``."""
    dims, dof = _var_args(a, dim, unbiased, correction, "std")

    def backward(g):
        return (_std_grad(g, result, a, dims, keepdim, dof),)
    result = record(np.sqrt(_var_array(a._data, dims, keepdim, dof)), "StdBackward0", backward, (a,),
                    saved=(a,), saves_output=True)
    return result


def _with_mean(op, a, dim, unbiased, keepdim, correction, take_root):
    """(var or std, mean) from one node with two outputs, as PyTorch's var_mean / std_mean."""
    dims, dof = _var_args(a, dim, unbiased, correction, op)
    count = 1
    for d in dims:
        count *= a._data.shape[d]
    spread = _var_array(a._data, dims, keepdim, dof)
    spread = np.sqrt(spread) if take_root else spread
    mean_out = np.asarray(a._data.mean(axis=dims, keepdims=keepdim))

    def backward(grads):
        g_spread, g_mean = grads
        ga = None
        if g_spread is not None:
            ga = (_std_grad(g_spread, outs[0], a, dims, keepdim, dof) if take_root
                  else _var_grad(g_spread, a, dims, keepdim, dof))
        if g_mean is not None:
            gm = _expand_back(g_mean / count, a._data.shape, dims, keepdim)
            ga = gm if ga is None else ga + gm
        return (ga,)
    name = "StdMeanBackward0" if take_root else "VarMeanBackward0"
    outs = record_outputs((spread, mean_out), name, backward, (a,), saved=(a,), saves_outputs=take_root)
    return tuple(outs)


@op(method=False)
def var_mean(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _with_mean("var_mean", a, dim, unbiased, keepdim, correction, take_root=False)


@op(method=False)
def std_mean(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _with_mean("std_mean", a, dim, unbiased, keepdim, correction, take_root=True)


# ---- norms: one node for every p, as PyTorch's linalg.vector_norm -----------------------------------
@op()
def norm(a, p="fro", dim=None, keepdim=False, dtype=None):
    """The p-norm over ``dim`` (all elements by default): (sum |x|^p)^(1/p), max |x| for p=inf."""
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str):
        raise NotImplementedError(f"norm: p={p!r} is not supported by gradlab (only numbers and 'fro')")
    if dtype is not None:
        a = a.to(dtype)
    if a._data.dtype.kind != "f":
        raise RuntimeError(f"norm(): expected a floating point tensor as input, got {a.dtype}")
    dims = _reduce_dims(dim, a._data.ndim, "norm")
    dims = dims if dims is not None else tuple(range(a._data.ndim))
    out = np.asarray(_norm_array(a._data, p, dims, keepdim))
    shape = a._data.shape

    def backward(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (_norm_grad(a, _expand_back(g, shape, dims, keepdim),
                               _expand_back(result, shape, dims, keepdim), p, dims),)
    result = record(out, "LinalgVectorNormBackward0", backward, (a,), saved=(a,), saves_output=True)
    return result


def _norm_array(x, p, dims, keepdim):
    size = np.abs(x)
    if p == float("inf"):
        return size.max(axis=dims, keepdims=keepdim)
    if p == float("-inf"):
        return size.min(axis=dims, keepdims=keepdim)
    if p == 0:
        return (x != 0).sum(axis=dims, keepdims=keepdim, dtype=x.dtype)
    if p == 1:
        return size.sum(axis=dims, keepdims=keepdim)
    if p == 2:
        return np.sqrt((x * x).sum(axis=dims, keepdims=keepdim))
    return (size ** p).sum(axis=dims, keepdims=keepdim) ** (1.0 / p)


def _norm_grad(a, g, n, p, dims):
    """d||x||_p / dx (PyTorch's formulas; 0 where the norm is 0), with g and the norm n broadcast to x."""
    if p == 0:
        return g * 0
    if p == 1:
        return a.sign() * g
    zero = n == 0
    if p == 2:
        return where(zero, 0.0, a * g / where(zero, 1.0, n))
    if p in (float("inf"), float("-inf")):  # the extreme elements share the gradient
        mask = (a.abs() == n).to(g.dtype)
        return a.sign() * g * mask / mask.sum(dims, keepdim=True)
    if p < 1:
        scaled = where(a == 0, 0.0, a.sign() * a.abs() ** (p - 1))
        return scaled * g * n ** (1 - p)
    scaled = a.sign() * a.abs() ** (p - 1) if p < 2 else a * a.abs() ** (p - 2)
    return scaled * where(zero, 0.0, g / where(zero, 1.0, n) ** (p - 1))


@op()
def logsumexp(a, dim, keepdim=False):
    dims = normalize_dims(dim, a._data.ndim, "logsumexp")
    if a._data.dtype.kind != "f":  # integers compute in the default float dtype, as PyTorch
        a = a.to(_dtype.get_default_dtype())
    # initial=-inf: an empty slice sums to 0, whose log is -inf (np.max alone refuses empty slices)
    peak = np.max(a._data, axis=dims, keepdims=True, initial=-np.inf)
    peak = np.where(np.isfinite(peak), peak, 0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a._data - peak), axis=dims, keepdims=True)) + peak
    shape = a._data.shape
    if not keepdim:
        out = np.squeeze(out, dims)

    def backward(g):
        # softmax(a) = exp(a - logsumexp(a)), read from the recorded result so that it differentiates again
        softmax = (a - _expand_back(result, shape, dims, keepdim)).exp()
        return (_expand_back(g, shape, dims, keepdim) * softmax,)
    result = record(out, "LogsumexpBackward0", backward, (a,), saved=(a,), saves_output=True)
    return result


# ---- cumulative sums and products -------------------------------------------------------------------
@op(inplace=True)
def cumsum(a, dim, dtype=None):
    d = normalize_dim(dim, a._data.ndim, "cumsum")
    out = np.cumsum(a._data, axis=d, dtype=_accumulating_dtype(a, dtype)).reshape(a._data.shape)

    def backward(g):
        return (g.flip(d).cumsum(d).flip(d),)
    return record(out, "CumsumBackward0", backward, (a,))


@op(inplace=True)
def cumprod(a, dim, dtype=None):
    """y_k = x_0 * x_1 * ... * x_k along ``dim``.

    dL/dx_i = sum over k >= i of g_k * (the product of x_0..x_k without x_i).
    Without zeros that is reversed_cumsum(g * y)_i / x_i; with zeros the
    division is not allowed, and the sum is taken without it (see below).
    """
    if dtype is not None:
        a = a.to(dtype)
    d = normalize_dim(dim, a._data.ndim, "cumprod")
    out = np.cumprod(a._data, axis=d, dtype=_accumulating_dtype(a, None)).reshape(a._data.shape)

    def backward(g):  # Tensor ops, differentiable again
        x = a._data
        if x.size <= 1 or x.shape[d] == 1:
            return (g,)
        if (x != 0).all():
            return ((g * result).flip(d).cumsum(d).flip(d) / a,)
        return (_cumprod_grad_as_graph(a, g, d),)

    def fast(g):  # with zeros, in a few array ops
        x = a._data
        if x.size > 1 and x.shape[d] > 1 and not (x != 0).all():
            return (Tensor._wrap(_cumprod_grad_with_zeros(x, g._data, d)),)
        return backward(g)
    result = record(out, "CumprodBackward0", backward, (a,), saved=(a,), saves_output=True, fast=fast)
    return result


def _cumprod_grad_with_zeros(x, g, d):
    """cumprod's gradient for an x with zeros, in a few array ops (PyTorch's method).

    Let z be the first zero along d and z2 the second (or the end):
    * i < z:  sum_{k>=i} g_k y_k / x_i as without zeros (x_i != 0, and y_k = 0 from z on);
    * i = z:  prod(x before z) * sum_{z<=k<z2} g_k * prod(x_{z+1..k});
    * i > z:  0, since every product it appears in contains x_z = 0.
    """
    zeros_so_far = np.cumsum(x == 0, axis=d)
    before = zeros_so_far == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        tail_sums = np.flip(np.cumsum(np.flip(np.cumprod(x, axis=d) * g, d), axis=d), d) / x
    grad = np.where(before, tail_sums, 0).astype(g.dtype)
    first_zero = (zeros_so_far == 1) & (x == 0)
    between = (zeros_so_far == 1) & ~first_zero
    products_after = np.cumprod(np.where(between, x, 1), axis=d)  # prod(x_{z+1..k}) for z <= k < z2
    at_zero = np.sum(np.where(zeros_so_far == 1, g * products_after, 0), axis=d, keepdims=True)
    product_before = np.prod(np.where(before, x, 1), axis=d, keepdims=True)
    return np.where(first_zero, product_before * at_zero, grad).astype(g.dtype)


def _cumprod_grad_as_graph(a, g, d):
    """The same gradient with Tensor ops and no division: grad_i = E_i * S_i where
    E_i = x_0 * ... * x_{i-1} (an exclusive cumprod) and S_i = g_i + x_{i+1} * S_{i+1}."""
    n = a._data.shape[d]
    ones = list(a._data.shape)
    ones[d] = 1
    exclusive = cat([Tensor._wrap(np.ones(ones, dtype=a._data.dtype)), a.narrow(d, 0, n - 1)], d).cumprod(d)
    sums = [g.select(d, n - 1)]
    for i in range(n - 2, -1, -1):
        sums.append(g.select(d, i) + a.select(d, i + 1) * sums[-1])
    return exclusive * stack(sums[::-1], d)


@op()
def all(a, dim=None, keepdim=False):
    return Tensor._wrap(np.all(a._data, axis=dim, keepdims=keepdim))


@op()
def any(a, dim=None, keepdim=False):
    return Tensor._wrap(np.any(a._data, axis=dim, keepdims=keepdim))


@op()
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


# ---- more reductions and scans: aminmax, cummax/cummin, logcumsumexp, kthvalue, mode, nanmedian, dist -------
aminmax_result = namedtuple("aminmax", ["min", "max"])
# (values, indices) named after the op, as PyTorch's torch.return_types.cummax and the like
_RESULTS = {name: namedtuple(name, ["values", "indices"]) for name in ("cummax", "cummin", "kthvalue", "mode",
                                                                        "nanmedian")}


@op()
def aminmax(a, *, dim=None, keepdim=False):
    """(min, max) over ``dim`` (all elements when None) from one node; ties share the gradient evenly."""
    if a._data.size == 0 and (dim is None or a._data.shape[normalize_dim(dim, a._data.ndim, "aminmax")] == 0):
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                           f"identity (input shape {list(a._data.shape)}, dim {dim})")
    dims = tuple(range(a._data.ndim)) if dim is None else (normalize_dim(dim, a._data.ndim, "aminmax"),)
    dims = dims if a._data.ndim else ()
    keep = keepdim and (dim is not None or a._data.ndim > 0)
    lows = np.asarray(np.min(a._data, axis=dims, keepdims=keep))
    highs = np.asarray(np.max(a._data, axis=dims, keepdims=keep))
    shape = a._data.shape

    def share(g, extreme):
        """g spread evenly over the elements equal to ``extreme`` (both brought back to a's shape)."""
        mask = (a == _expand_back(extreme, shape, dims, keep)).to(g.dtype)
        return _expand_back(g, shape, dims, keep) * mask / mask.sum(dims, keepdim=True)

    def backward(grads):
        g_min, g_max = grads
        parts = [share(g, out) for g, out in ((g_min, outs[0]), (g_max, outs[1])) if g is not None]
        return (parts[0] if len(parts) == 1 else parts[0] + parts[1],)
    outs = record_outputs((lows, highs), "AminmaxBackward0", backward, (a,), saved=(a,), saves_outputs=True)
    return aminmax_result(*outs)


def _running_extreme(a, dim, accumulate, name):
    """cummax / cummin: the running max (min) along ``dim`` and where it was last reached.

    A NaN wins and stays, as in PyTorch.  The gradient of each output element
    goes to the input element it came from (adding up where many came from one).
    """
    d = normalize_dim(dim, a._data.ndim, name)
    x = a._data if a._data.ndim else a._data.reshape(1)
    values = accumulate.accumulate(x, axis=d) if x.size else x.copy()
    positions = np.arange(x.shape[d]).reshape((-1,) + (1,) * (x.ndim - d - 1))
    # x_i equals the running extreme just where the extreme is reached (again); the last such i is the index
    reached = (x == values) | np.isnan(x) if x.dtype.kind == "f" else x == values
    indices = np.maximum.accumulate(np.where(reached, positions, 0), axis=d) if x.size else np.zeros(x.shape, int)
    values, indices = values.reshape(a._data.shape), indices.astype(np.int64).reshape(a._data.shape)
    index = Tensor._wrap(indices if a._data.ndim else indices.reshape(1))
    shape = a._data.shape

    def backward(g):
        from .index import scatter_add_into_zeros
        if not shape:
            return (g,)
        return (scatter_add_into_zeros(g, d, index, shape),)
    out = record(values, name.capitalize() + "Backward0", backward, (a,))
    return _RESULTS[name](out, Tensor._wrap(indices))


@op()
def cummax(a, dim):
    return _running_extreme(a, dim, np.maximum, "cummax")


@op()
def cummin(a, dim):
    return _running_extreme(a, dim, np.minimum, "cummin")


@op()
def logcumsumexp(a, dim):
    """y_k = log(exp(x_0) + ... + exp(x_k)) along ``dim``, without overflow (NumPy's logaddexp)."""
    if a._data.dtype.kind != "f":
        raise RuntimeError(f"logcumsumexp(): expected a floating point input, got {a.dtype}")
    d = normalize_dim(dim, a._data.ndim, "logcumsumexp")
    x = a._data if a._data.ndim else a._data.reshape(1)
    out = np.logaddexp.accumulate(x, axis=d).reshape(a._data.shape) if x.size else a._data.copy()

    def backward(g):
        # dL/dx_i = sum_{k>=i} g_k exp(x_i - y_k), summed in log space separately for the positive
        # and negative parts of g (PyTorch's formula: no exp of a large number, no overflow)
        if not a._data.ndim:
            return (g,)
        lowest = np.finfo(g._data.dtype).min
        parts = []
        with np.errstate(divide="ignore", over="ignore"):  # log(0) = -inf and the "lowest" stand-ins are fine
            log_size = g.abs().log()
            for keep in (g > 0, g < 0):
                log_part = where(keep, log_size, lowest)
                parts.append((log_part - result).flip(d).logcumsumexp(d).flip(d).add(a).exp())
        return (parts[0] - parts[1],)
    result = record(out, "LogcumsumexpBackward0", backward, (a,), saved=(a,), saves_output=True)
    return result


@op()
def dist(a, b, p=2):
    """The p-norm of ``a - b`` (broadcast), as one node."""
    from ._common import promote
    a, b = promote(a, b)
    if a._data.dtype.kind != "f":
        raise RuntimeError(f"dist(): input dtype should be either floating point or complex. Got {a.dtype} instead.")
    try:
        diff = a._data - b._data
    except ValueError:
        from ._common import broadcast_error
        raise broadcast_error("dist", a._data.shape, b._data.shape) from None
    dims = tuple(range(diff.ndim))
    with np.errstate(divide="ignore"):
        out = np.asarray(_norm_array(diff, p, dims, False), dtype=diff.dtype)

    def backward(g):
        from ._common import sum_to
        difference = a - b
        with np.errstate(divide="ignore", invalid="ignore"):
            grad = _norm_grad(difference, g.expand(diff.shape), result.expand(diff.shape), p, dims)
        return (sum_to(grad, a._data.shape) if a._requires_grad else None,
                sum_to(-grad, b._data.shape) if b._requires_grad else None)
    result = record(out, "DistBackward0", backward, (a, b), saved=(a, b), saves_output=True)
    return result


# ---- renorm -------------------------------------------------------------------------------------
def _slice_norm(x, p, dims):
    """The p-norm of each slice (summing over ``dims``, kept as size-1 axes)."""
    if p == math.inf:
        return x.abs().amax(dim=dims, keepdim=True)
    return x.abs().pow(p).sum(dim=dims, keepdim=True).pow(1.0 / p)


@op(inplace=True)
def renorm(a, p, dim, maxnorm):
    """Each slice a.select(dim, i) scaled down to p-norm maxnorm if its norm is above it (others unchanged).

    The factor is maxnorm / (norm + 1e-7), as PyTorch.
    """
    if a.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {a.ndim} dimensions")
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if a._data.dtype.kind != "f":
        raise RuntimeError(f"renorm: expected a floating-point tensor, got {a.dtype}")
    dim = dim % a.ndim
    dims = tuple(d for d in range(a.ndim) if d != dim)
    x = Tensor._wrap(a._data)
    norm = _slice_norm(x, p, dims)
    over = norm > maxnorm
    factor = where(over, maxnorm / (norm + 1e-7), 1.0)

    def backward(g):
        # out = a * factor(norm(a)): the product rule, factor' = -maxnorm / (norm + 1e-7)^2 where capped
        norm = _slice_norm(a, p, dims)
        factor = where(over, maxnorm / (norm + 1e-7), 1.0)
        d_factor = where(over, -maxnorm / (norm + 1e-7) ** 2, 0.0)
        if p == math.inf:
            d_norm = a.sign() * (a.abs() == norm)
        else:
            safe = where(norm == 0, 1.0, norm)
            d_norm = a.sign() * (a.abs() / safe).pow(p - 1)
        return (g * factor + d_norm * d_factor * (g * a).sum(dim=dims, keepdim=True),)
    return record((x * factor)._data, "RenormBackward0", backward, (a,), saved=(a,))


def __getattr__(name):
    """sort, topk, median and the other ordering ops moved to sort.py; old imports still work."""
    from . import sort
    try:
        return getattr(sort, name)
    except AttributeError:
        raise AttributeError(f"module 'gradlab.ops.reduce' has no attribute '{name}'") from None
