"""In-place ops: ``a.add_(b)`` computes ``add(a, b)`` and writes it into ``a``.

The registry makes every declared in-place method with ``make_inplace``;
comparisons use ``predicate_inplace``.  Writes that do not come from an op
(``fill_``, ``zero_``, ``copy_``, the random fills) are here too.
"""
import numbers

import numpy as np

from .._tensor import Tensor
from ..autograd import grad_mode
from ..autograd.record import record
from ._common import (after_inplace, as_tensor_operand, check_inference_inplace, check_view_inplace,
                      check_writeable, sum_to)
from .registry import op

__all__ = ["inplace_update", "make_inplace", "predicate_inplace", "check_inplace", "shadow"]


def check_inplace(a, op="an in-place op", operand_requires_grad=False):
    """Refuse an in-place change of a leaf that requires grad, an inference tensor, or a guarded view."""
    check_inference_inplace(a)
    if grad_mode.state.enabled and a._requires_grad and a.grad_fn is None:
        raise RuntimeError(f"a leaf Variable that requires grad is being used in an in-place operation: {op} on a "
                           f"{a.dtype} leaf of shape {list(a._data.shape)}. Wrap the update in "
                           "`with gradlab.no_grad():`, or use the out-of-place op.")
    check_view_inplace(a, operand_requires_grad)


_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}


def inplace_update(a, result):
    """Make ``a`` hold ``result``'s values and take its place in the graph (an in-place op)."""
    check_inplace(a, operand_requires_grad=result._requires_grad)  # result requires grad if an operand does
    if result._data.dtype != a._data.dtype:
        if _KIND_RANK[result._data.dtype.kind] > _KIND_RANK[a._data.dtype.kind]:  # float -> int, int -> bool
            raise RuntimeError(f"result type {result.dtype} can't be cast to the desired output type {a.dtype} "
                               "of an in-place op")
        result = result.to(a.dtype)
    check_writeable(a)
    try:
        np.copyto(a._data, np.broadcast_to(result._data, a._data.shape))
    except ValueError:
        raise RuntimeError(f"output with shape {list(a._data.shape)} doesn't match the broadcast shape "
                           f"{list(result._data.shape)}") from None
    a._version_counter[0] += 1
    after_inplace(a, result)
    return a


def shadow(a):
    """The value of ``a`` before an in-place op, as a graph input (a copy only when the graph needs it)."""
    if not (grad_mode.state.enabled and a._requires_grad):
        return Tensor._wrap(a._data)
    old = Tensor._wrap(a._data.copy())
    old.grad_fn, old._requires_grad, old._out_nr = a.grad_fn, a._requires_grad, a._out_nr
    return old


def make_inplace(fn):
    """``a.fn_(...)``: ``fn`` on a's old value, written back into ``a``."""
    def method(a, *args, **kwargs):
        check_inplace(a, fn.__name__ + "_")
        return inplace_update(a, fn(shadow(a), *args, **kwargs))
    method.__name__ = fn.__name__ + "_"
    return method


# PyTorch records an in-place comparison as EqBackward0 (number operand) / EqBackward1 (tensor operand),
# an in-place logical op as a multiplication by zero
def predicate_inplace(fn):
    """A comparison or logical op in place: ``a`` keeps its dtype and takes the 0 / 1 result.

    As in PyTorch, a tensor in the graph stays in it, through a node whose gradients are zero.
    """
    name = fn.__name__
    nodes = ("MulBackward0",) * 2 if name.startswith("logical") else (name.capitalize() + "Backward0",
                                                                       name.capitalize() + "Backward1")

    def method(a, *other):
        check_inplace(a, name + "_")
        before = shadow(a)
        result = fn(before, *other)
        if grad_mode.state.enabled and before._requires_grad:
            operand = other[0] if other and isinstance(other[0], Tensor) else None
            inputs = (before,) if operand is None else (before, operand)
            result = record(result._data.astype(a._data.dtype), nodes[operand is not None],
                            lambda g: tuple(sum_to(g * 0, t._data.shape).to(t.dtype) if t._requires_grad else None
                                            for t in inputs), inputs)
        return inplace_update(a, result)
    method.__name__ = name + "_"
    return method


@op(function=False)
def float_power_(a, exponent):
    """float_power in place: only a float64 tensor can hold its (float64) result, as PyTorch insists."""
    from .arithmetic import float_power
    if a._data.dtype != np.float64:
        raise RuntimeError(f"the base given to float_power_ has dtype {a.dtype} but the operation's result "
                           "requires dtype gradlab.float64; call .double() first, or use float_power")
    return make_inplace(float_power)(a, exponent)


# ---- writes that do not come from an op ---------------------------------------------------------
@op(function=False)
def fill_(a, value):
    check_inplace(a, "fill_", isinstance(value, Tensor) and value._requires_grad)
    if isinstance(value, Tensor) and value._data.ndim:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value._data.ndim} dimensions.")
    return _write_all(a, value, "fill_", "FillBackward3" if isinstance(value, Tensor) else "FillBackward2")


@op(function=False)
def zero_(a):
    check_inplace(a, "zero_")
    return _write_all(a, 0, "zero_", "ZeroBackward0")


@op(function=False)
def copy_(a, src, non_blocking=False):
    src = as_tensor_operand(src)
    if not isinstance(src, Tensor):
        return fill_(a, src)
    check_inplace(a, "copy_", src._requires_grad)
    return _write_all(a, src, "copy_", "CopyBackwards")


def _write_all(a, value, op, name):
    """Overwrite every element of ``a`` with ``value`` (a number, or a tensor broadcast to a's shape).

    a's old values no longer matter: the graph node ``name`` gives them a zero
    gradient and gives ``value`` the whole gradient, summed to its shape, as PyTorch.
    ``op`` (fill_, zero_, copy_) names the method in errors.
    """
    source = value if isinstance(value, Tensor) else None
    check_writeable(a)
    tracking = grad_mode.state.enabled and (a._requires_grad or (source is not None and source._requires_grad))
    before = Tensor._wrap(a._data)  # a's place in the graph before the write (its values are not needed)
    before.grad_fn, before._requires_grad, before._out_nr = a.grad_fn, a._requires_grad, a._out_nr
    try:
        np.copyto(a._data, np.broadcast_to(source._data, a._data.shape) if source is not None else value,
                  casting="unsafe")
    except ValueError:
        raise RuntimeError(f"{op}: the source of shape {list(source._data.shape)} does not broadcast to the "
                           f"destination's shape {list(a._data.shape)}") from None
    if not tracking:
        return _overwritten(a)
    a._version_counter[0] += 1

    def backward(g):
        return (g * 0 if before._requires_grad else None,
                sum_to(g, source._data.shape).to(source.dtype) if source is not None and source._requires_grad
                else None)
    inputs = (before, source) if source is not None else (before,)
    after_inplace(a, record(a._data, name, lambda g: backward(g)[:len(inputs)], inputs))
    return a


def _overwritten(a):
    """After constants replaced a's values in place: bump the version, let the graph forget a's history."""
    a._version_counter[0] += 1
    after_inplace(a, Tensor._wrap(a._data))  # a result outside the graph
    return a


def _random_fill(name, draw):
    """The in-place method ``name``: a's values replaced by ``draw(rng, shape, ...)``."""
    def method(a, *args, generator=None, **kwargs):
        from .. import random
        check_inplace(a)
        a._data[...] = draw(random.generator_of(generator), a._data.shape, *args, **kwargs)
        return _overwritten(a)
    method.__name__ = method.__qualname__ = name
    return op(function=False)(method)


uniform_ = _random_fill("uniform_", lambda rng, shape, a=0.0, b=1.0, **k: rng.uniform(a, b, shape))
normal_ = _random_fill("normal_", lambda rng, shape, mean=0.0, std=1.0, **k: rng.normal(mean, std, shape))
bernoulli_ = _random_fill("bernoulli_", lambda rng, shape, p=0.5, **k: rng.random(shape) < p)
exponential_ = _random_fill("exponential_", lambda rng, shape, lambd=1.0, **k: rng.exponential(1.0 / lambd, shape))
random_ = _random_fill("random_", lambda rng, shape, low=0, high=None, **k:
                       rng.integers(low, high, shape) if high is not None else rng.integers(0, low or 2 ** 24, shape))


@op(function=False)
def fill_diagonal_(a, fill_value, wrap=False):
    """Write ``fill_value`` on the main diagonal (of a matrix, or of a tensor whose dims are all equal).

    A tall matrix's diagonal restarts below a gap row when ``wrap`` is set, as NumPy's fill_diagonal.
    """
    from .index import setitem
    shape = a._data.shape
    if len(shape) < 2:
        raise RuntimeError(f"fill_diagonal_: dimensions must larger than 1, but the tensor has shape {list(shape)}")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise RuntimeError(f"fill_diagonal_: all dimensions of input must be of equal length, got {list(shape)}")
    step = shape[1] + 1 if len(shape) == 2 else 1 + int(np.cumprod(shape[:-1]).sum())
    end = a._data.size if wrap or len(shape) > 2 else shape[1] * min(shape[0], shape[1])
    positions = np.unravel_index(np.arange(0, end, step), shape)
    setitem(a, tuple(positions), fill_value)
    return a


# apply_ and map_ run a Python function on every element.  As in PyTorch they are outside autograd: they
# refuse tensors that require grad and do not bump the version counter.  Each element reaches the function
# as a Python number of the tensor's kind, and the result is stored back converted to the tensor's dtype.
def _refuse_grad(op, *tensors):
    if any(t._requires_grad for t in tensors):
        raise RuntimeError(f"Can't call {op}() on Variable that requires grad. Use var.detach().{op}() instead.")


def _storable(value, dtype, op):
    """``value`` (a function's result) as a number of ``dtype``, with PyTorch's errors."""
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: must be real number, not {type(value).__name__}")
    if dtype.kind == "b":
        return bool(value)
    if dtype.kind in "iu":
        value = int(value)
        info = np.iinfo(dtype)
        if not info.min <= value <= info.max:
            raise RuntimeError(f"{op}: value cannot be converted to type {dtype} without overflow")
    return value


@op(function=False)
def apply_(a, callable):
    """Replace each element x of ``a`` by ``callable(x)``; returns ``a``."""
    _refuse_grad("apply_", a)
    check_writeable(a)
    x = a._data
    for position in np.ndindex(x.shape):
        x[position] = _storable(callable(x[position].item()), x.dtype, "apply_")
    return a


@op(function=False)
def map_(a, other, callable):
    """Replace each element x of ``a`` by ``callable(x, y)``, y the matching element of ``other``
    (broadcast to a's shape); returns ``a``."""
    if not isinstance(other, Tensor):
        raise TypeError(f"map_(): argument 'other' (position 1) must be Tensor, not {type(other).__name__}")
    if other._data.dtype != a._data.dtype:
        raise TypeError(f"map_: expected {a.dtype.tensor_type} for 'other' (got {other.dtype.tensor_type})")
    _refuse_grad("map_", a, other)
    check_writeable(a)
    try:
        others = np.broadcast_to(other._data, a._data.shape)
    except ValueError:
        raise RuntimeError(f"map_: The expanded size of the tensor ({list(a._data.shape)}) must match the existing "
                           f"size of other ({list(other._data.shape)}): other must broadcast to the tensor's shape") \
            from None
    x = a._data
    for position in np.ndindex(x.shape):
        x[position] = _storable(callable(x[position].item(), others[position].item()), x.dtype, "map_")
    return a
