"""Helpers shared by the op files: operand conversion and un-broadcasting."""
import numbers
import re
import weakref

import numpy as np

from .. import _dtype
from .._tensor import Tensor

_DEFAULT_FLOAT = _dtype._default


def as_tensor_operand(x, like=None):
    """A Tensor for ``x`` (a Tensor, array or nested list); Python scalars stay scalars."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, int, float)):
        return x
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, numbers.Number):
        return float(x)
    from .._tensor import tensor
    return tensor(x)


def promote(a, b):
    """Two Tensors of PyTorch's common dtype for a binary op on ``a`` and ``b``.

    Python scalars become zero-dim tensors of that dtype (they never widen a
    float32 tensor; an int tensor with a float scalar becomes float32).
    """
    # fast paths for the common cases: two tensors of one dtype; a float tensor and a Python number
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a._data.dtype == b._data.dtype:
                return a, b
        elif (type(b) is float or type(b) is int) and a._data.dtype.kind == "f":
            return a, Tensor._wrap(np.array(b, dtype=a._data.dtype))
    elif (type(a) is float or type(a) is int) and isinstance(b, Tensor) and b._data.dtype.kind == "f":
        return Tensor._wrap(np.array(a, dtype=b._data.dtype)), b
    a = as_tensor_operand(a)
    b = as_tensor_operand(b)
    a_is_t = isinstance(a, Tensor)
    b_is_t = isinstance(b, Tensor)
    if a_is_t and b_is_t:
        if a._data.dtype == b._data.dtype:
            return a, b
        dt = _dtype.result_type(a._data, b._data)
        return a.to(dt), b.to(dt)
    # astype wraps an out-of-range int as PyTorch does (uint8 tensor + 300), where np.array(300, uint8) raises
    if a_is_t:
        dt = _dtype.result_type(a._data, b)
        return a.to(dt), Tensor._wrap(np.asarray(b).astype(dt))
    dt = _dtype.result_type(a, b._data)
    return Tensor._wrap(np.asarray(a).astype(dt)), b.to(dt)


def broadcast_view(array, shape):
    """``np.broadcast_to(array, shape)``: a read-only view, with stride 0 along the broadcast axes.

    For a C-contiguous array the view is built directly (np.broadcast_to costs
    several microseconds of checks, paid by every reduction's backward).
    """
    if not array.flags.c_contiguous:
        return np.broadcast_to(array, shape)
    lead = len(shape) - array.ndim
    strides = [0] * lead
    for size, target, stride in zip(array.shape, shape[lead:], array.strides):
        strides.append(stride if size == target else 0)
    view = np.ndarray(shape, array.dtype, array, 0, tuple(strides))
    view.flags.writeable = False
    return view


def sum_to(g, shape):
    """Sum gradient ``g`` down to ``shape``: undo broadcasting (one helper for every op)."""
    if g._data.shape == shape:
        return g
    lead = g._data.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g._data.shape[lead + i] != 1)
    if dims:
        g = g.sum(dims)
    return g.reshape(shape) if g._data.shape != shape else g


def normalize_dim(dim, ndim, op="op"):
    """A non-negative axis for ``dim``, with PyTorch's error for an out-of-range one."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def normalize_dims(dim, ndim, op="op"):
    """A sorted tuple of axes for ``dim`` (None, int, or a sequence)."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    axes = tuple(sorted(normalize_dim(int(d), ndim, op) for d in dims))
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"{op}: dim {axes[0]} appears multiple times in the list of dims {list(dims)}")
    # a zero-dim tensor accepts dim 0 / -1, but has no axis to reduce
    return axes if ndim else ()


def shape_arg(args):
    """Shapes given as ``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    return tuple(int(s) for s in args)


def broadcast_error(op, a, b):
    """PyTorch's message for shapes that do not broadcast, naming the op, the first clash and both shapes."""
    for k in range(1, min(len(a), len(b)) + 1):
        if a[-k] != b[-k] and a[-k] != 1 and b[-k] != 1:
            dim = max(len(a), len(b)) - k
            return RuntimeError(f"{op}: the size of tensor a ({a[-k]}) must match the size of tensor b ({b[-k]}) at "
                                f"non-singleton dimension {dim} (shapes {list(a)} and {list(b)} do not broadcast)")
    return RuntimeError(f"{op}: shapes {list(a)} and {list(b)} do not broadcast")


def broadcasting(op, fn, a, b):
    """``fn`` on the arrays of ``a`` and ``b``; a shape mismatch names the op and both shapes."""
    try:
        return fn(a._data, b._data)
    except ValueError:
        raise broadcast_error(op, a._data.shape, b._data.shape) from None


SCALAR_TYPE_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char", "int16": "Short",
                     "int32": "Int", "int64": "Long", "uint8": "Byte", "bool": "Bool"}


def not_implemented(op, a, expected):
    return NotImplementedError(f'"{op}" not implemented for \'{SCALAR_TYPE_NAMES[a._data.dtype.name]}\' '
                               f"(a {a.dtype} tensor): {op} takes {expected} tensors")


# ---- views and in-place writes ---------------------------------------------------------------------
# A view (x[0], x.t(), x.view(...)) shares memory with its base.  An in-place write into a view changes
# the base's values too, so the base's graph must learn of it, as PyTorch's CopySlices node does.  Each
# view remembers its root base and ``view_fn``, the Tensor ops that re-create it from that base; the
# base keeps weak references to its views so that their graphs follow when the base changes in place.
def check_writeable(a):
    """Refuse to write into an expanded tensor, whose elements share memory (NumPy marks it read-only)."""
    if not a._data.flags.writeable:
        raise RuntimeError(f"unsupported operation: more than one element of the written-to tensor (shape "
                           f"{list(a._data.shape)}) refers to a single memory location, as after expand(); "
                           "call .clone() before the in-place op")


def mark_view(out, base, view_fn, multi_output=False):
    """Record that ``out`` is ``view_fn(base)`` sharing base's memory.

    Some views refuse recorded in-place writes, as in PyTorch (see
    ``check_view_inplace``); ``out._view_creation`` = (kind, root) says why:
    ``multi_output``, one of several views returned by one op (split, chunk,
    unbind); ``no_grad`` or ``inference_mode``, taken while nothing was
    recorded from a root base that requires grad.  A view of such a view
    inherits the mark.
    """
    if not grad_mode.state.enabled:
        if base._requires_grad or base._view_creation is not None:  # else: nothing that requires grad
            _mark_unrecorded_view(out, base)
        return out
    # (an empty view shares no memory, but is a view all the same)
    if out._data.size and not np.may_share_memory(out._data, base._data):
        return out
    creation = base._view_creation
    if creation is not None or multi_output:
        out._view_creation = creation or ("multi_output", None)
    parent = base._view_base
    if parent is not None:
        base, view_fn = parent, _compose(base._view_fn, view_fn)
    out._view_base, out._view_fn = base, view_fn
    if base._requires_grad:
        views = base.__dict__.setdefault("_views", {})
        key = id(out)
        views[key] = weakref.ref(out, lambda _, key=key, views=views: views.pop(key, None))
    return out


def _mark_unrecorded_view(out, base):
    """Mark a view taken under no_grad or in inference mode from a base that requires grad (or such a view)."""
    creation = base._view_creation
    if creation is not None and creation[1] is not None:  # a view of such a view: same root, same mode
        out._view_creation = creation
    elif base._requires_grad:
        root = base if base._view_base is None else base._view_base
        out._view_creation = ("inference_mode" if grad_mode.state.inference else "no_grad", root)


def _compose(first, then):
    return lambda t: then(first(t))


def check_inference_inplace(a):
    """An inference tensor keeps no version to bump: outside inference mode, in-place writes to it are errors."""
    if a._version_counter.__class__ is grad_mode.InferenceVersion and not grad_mode.state.inference:
        raise RuntimeError(grad_mode.INPLACE_INFERENCE_TENSOR)


def check_view_inplace(a, operand_requires_grad=False):
    """Refuse the in-place writes into a view that PyTorch refuses, while grad mode is on.

    A view of a leaf that requires grad is as untouchable as the leaf itself.
    A view marked by ``mark_view`` may not be written once the write would be
    recorded (the view, its root base or an operand requires grad): an output
    of split, chunk or unbind shares one backward node with the others, so it
    cannot be rebased alone; a view taken without recording has no graph link
    to its base that the write could follow.
    """
    if not grad_mode.state.enabled:
        return
    creation = a._view_creation
    if creation is not None:
        kind, root = creation
        if a._requires_grad or operand_requires_grad or (root is not None and root._requires_grad):
            raise RuntimeError(_view_creation_error(a, kind))
    base = a._view_base
    if base is not None and base._requires_grad and base.grad_fn is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")


_VIEW_CREATION_ADVICE = {
    "multi_output": "This view is the output of a function that returns multiple views. Such functions do not "
                    "allow the output views to be modified inplace. You should replace the inplace operation by "
                    "an out-of-place one.",
    "no_grad": "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by "
               "moving both the view and the inplace either both inside the no_grad block (if you don't want the "
               "inplace to be tracked) or both outside (if you want the inplace to be tracked).",
    "inference_mode": "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your "
                      "code by moving both the view and the inplace either both inside the inference_mode block (if "
                      "you don't want the inplace to be tracked) or both outside (if you want the inplace to be "
                      "tracked).",
}


def _view_creation_error(a, kind):
    """PyTorch's message for a refused in-place write into view ``a`` (marked ``kind`` by mark_view)."""
    op = None if a.grad_fn is None else re.sub(r"Backward\d*$", "", a.grad_fn.name())  # SplitBackward0 -> Split
    if kind == "multi_output" and op:
        what = f"Output {a._out_nr} of {op} is a view and is being modified inplace."
    else:  # no graph link to the base: the view was taken while nothing was recorded
        made = f"Output {a._out_nr} of {op} is a view of a view which was created in" if op else "A view was created in"
        what = (f"{made} inference mode and is being modified inplace in normal mode." if kind == "inference_mode"
                else f"{made} no_grad mode and is being modified inplace with grad mode enabled.")
    return f"{what} {_VIEW_CREATION_ADVICE[kind]}"


def _take_graph(t, source):
    t.grad_fn, t._requires_grad, t._out_nr = source.grad_fn, source._requires_grad, source._out_nr
    if t._retains_grad and t.grad_fn is not None:
        t.grad_fn.retain(t)  # retain_grad follows the tensor to its new value, as in PyTorch


def after_inplace(a, result):
    """Update the graph after ``a``'s values were overwritten in place by ``result``'s.

    For a view, the base gets a CopySlices node: the gradient of the written
    region goes to ``result``, the rest to the base's earlier history.  Live
    views of the base then re-derive their graph from the new base.
    """
    if not grad_mode.state.enabled:
        return
    base = getattr(a, "_view_base", None)
    if base is None:
        if result._requires_grad:
            _take_graph(a, result)
        elif a.grad_fn is not None:  # constants overwrote a: its history no longer affects its values
            a.grad_fn, a._requires_grad = None, False
        _refresh_views(a)
        return
    if not (result._requires_grad or base._requires_grad):
        return
    view_fn = a._view_fn
    old = Tensor._wrap(base._data)
    _take_graph(old, base)
    keep = np.ones(base._data.shape, dtype=base._data.dtype)
    with grad_mode.no_grad():
        view_fn(Tensor._wrap(keep))._data[...] = 0  # zero where the view lies
    keep = Tensor._wrap(keep)
    result_shape = result._data.shape

    def backward(g):
        return (g * keep if old._requires_grad else None,
                sum_to(view_fn(g), result_shape) if result._requires_grad else None)
    new_base = record(base._data, "CopySlices", backward, (old, result))
    _take_graph(base, new_base)
    _refresh_views(base)
    _take_graph(a, view_fn(base))


def _refresh_views(base):
    """Give every live view of ``base`` a graph through base's current history."""
    views = base.__dict__.get("_views")
    if not views:
        return
    for ref in list(views.values()):
        view = ref()
        if view is not None:
            _take_graph(view, view._view_fn(base))


from ..autograd import grad_mode  # noqa: E402
from ..autograd.record import record  # noqa: E402
