"""Shape ops: views and rearrangements of the same values.

Views share memory and the version counter with their base, as in PyTorch.
Each backward rearranges the gradient the opposite way.
"""
import numpy as np

from .._tensor import Tensor
from ..autograd import grad_mode
from ..autograd.record import record
from ._common import _take_graph, broadcast_view, mark_view, normalize_dim, shape_arg, sum_to
from .unary import clone
from .index import alias, slice_view
from .registry import op


def _view(array, name, backward, a, view_fn):
    """Record ``array`` (a NumPy view of ``a``) as a view sharing a's version counter.

    ``view_fn`` re-creates the view from a tensor shaped like ``a``, so that an
    in-place write into the view can be routed into a's graph.
    """
    out = record(array, name, backward, (a,))
    out._version_counter = a._version_counter
    return mark_view(out, a, view_fn)


def _check_numel(a, shape, op):
    numel = a._data.size
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    bad = (shape.count(-1) > 1 or (-1 in shape and (known == 0 or numel % known))
           or (-1 not in shape and known != numel))
    if bad:
        raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel} "
                           f"(input shape {list(a._data.shape)})")


@op(method=False)
def numel(input):
    return input.numel()


@op()
def reshape(a, *shape):
    shape = shape_arg(shape)
    _check_numel(a, shape, "reshape")
    in_shape = a._data.shape
    out = a._data.view()
    try:
        out.shape = shape  # a view, when a's strides allow one
    except AttributeError:  # they do not: copy, then view the copy, as PyTorch
        return _unsafe_view(clone(a), shape)
    def backward(g):
        """grad_a = g.reshape(a.shape)"""
        return (g.reshape(in_shape),)
    return _view(out, "ViewBackward0", backward, a, lambda t: t.reshape(shape))


def _unsafe_view(copy, shape):
    """``copy`` (a fresh contiguous tensor no one else sees) reshaped; not tracked as a view."""
    in_shape = copy._data.shape
    return record(copy._data.reshape(shape), "UnsafeViewBackward0", lambda g: (g.reshape(in_shape),), (copy,))


@op(function=False)
def view(a, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int)) and not hasattr(shape[0], "__index__"):
        raise NotImplementedError("view(dtype) is not supported in gradlab; use .to(dtype)")
    shape = shape_arg(shape)
    _check_numel(a, shape, "view")
    out = a._data.view()
    try:
        out.shape = shape
    except AttributeError:
        raise RuntimeError(
            f"view size is not compatible with input tensor's size and stride (shape {list(a._data.shape)}, "
            f"requested {list(shape)}; at least one dimension spans across two contiguous subspaces). "
            "Use .reshape(...) instead.") from None
    in_shape = a._data.shape
    def backward(g):
        """grad_a = g.reshape(a.shape)"""
        return (g.reshape(in_shape),)
    return _view(out, "ViewBackward0", backward, a, lambda t: t.reshape(shape))


@op(function=False)
def view_as(a, other):
    return view(a, other._data.shape)


@op(function=False)
def reshape_as(a, other):
    return reshape(a, other._data.shape)


@op()
def flatten(a, start_dim=0, end_dim=-1):
    nd = a._data.ndim
    if nd == 0:
        return reshape(a, (1,))
    s = normalize_dim(start_dim, nd, "flatten")
    e = normalize_dim(end_dim, nd, "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return a  # nothing to merge: a itself, as PyTorch
    shape = a._data.shape
    middle = 1
    for d in shape[s:e + 1]:
        middle *= d
    return reshape(a, shape[:s] + (middle,) + shape[e + 1:])


@op()
def unflatten(a, dim, sizes):
    d = normalize_dim(dim, a._data.ndim, "unflatten")
    shape = a._data.shape
    sizes = tuple(sizes)
    if -1 in sizes:
        known = int(np.prod([s for s in sizes if s != -1]))
        sizes = tuple(shape[d] // known if s == -1 else s for s in sizes)
    return reshape(a, shape[:d] + sizes + shape[d + 1:])


@op()
def squeeze(a, dim=None):
    shape = a._data.shape
    if dim is None:
        axes = tuple(i for i, s in enumerate(shape) if s == 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        axes = tuple(d for d in (normalize_dim(d, a._data.ndim, "squeeze") for d in dims)
                     if a._data.ndim and shape[d] == 1)
    out = np.squeeze(a._data, axes) if axes else a._data.view()
    out_shape = out.shape
    # PyTorch's three overloads: squeeze(), squeeze(dim), squeeze(dims)
    name = "SqueezeBackward0" if dim is None else "SqueezeBackward1" if isinstance(dim, int) else "SqueezeBackward2"
    return _view(out, name, lambda g: (g.reshape(shape),), a, lambda t: t.reshape(out_shape))


@op()
def unsqueeze(a, dim):
    d = normalize_dim(dim, a._data.ndim + 1, "unsqueeze")
    shape = a._data.shape
    return _view(np.expand_dims(a._data, d), "UnsqueezeBackward0", lambda g: (g.reshape(shape),), a,
                 lambda t: t.unsqueeze(d))


@op()
def permute(a, *dims):
    dims = shape_arg(dims)
    nd = a._data.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
                           f"length of the desired ordering of dimensions i.e. input.dim() = {nd} is not equal "
                           f"to len(dims) = {len(dims)}")
    dims = tuple(normalize_dim(d, nd, "permute") for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError(f"permute(): duplicate dims are not allowed (got {list(dims)})")
    inverse = tuple(np.argsort(dims))
    def backward(g):
        """grad_a = g.permute(the inverse of dims)"""
        return (g.permute(inverse),)
    return _view(np.transpose(a._data, dims), "PermuteBackward0", backward, a,
                 lambda t: t.permute(dims))


@op(alias="swapaxes swapdims")
def transpose(a, dim0, dim1):
    nd = a._data.ndim
    if nd == 0:
        return _view(a._data.view(), "TransposeBackward0", lambda g: (g,), a, lambda t: t.view_as(t))
    d0, d1 = normalize_dim(dim0, nd, "transpose"), normalize_dim(dim1, nd, "transpose")
    def backward(g):
        """grad_a = g.transpose(dim0, dim1)"""
        return (g.transpose(d0, d1),)
    return _view(np.swapaxes(a._data, d0, d1), "TransposeBackward0", backward, a,
                 lambda t: t.transpose(d0, d1))


@op()
def t(a):
    if a._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {a._data.ndim}D")
    def backward(g):
        """grad_a = g.t()"""
        return (g.t(),)
    return _view(a._data.T, "TBackward0", backward, a, lambda t: t.t())  # (a vector or a scalar: itself)


@op(method=False, function=False, prop="T")
def T(a):
    return permute(a, tuple(range(a._data.ndim - 1, -1, -1)))


@op()
def adjoint(a):
    """The conjugate transpose of the last two dims; for real tensors, ``mT``."""
    return transpose(a, -2, -1)


@op(method=False, function=False, prop="mT mH")
def mT(a):
    return transpose(a, -2, -1)


@op(method=False, function=False, prop="H")
def H(a):
    """The (conjugate) transpose of a matrix; a scalar is itself, as PyTorch."""
    if a._data.ndim == 0:
        return a
    if a._data.ndim != 2:
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {a._data.ndim}-D tensor.")
    return transpose(a, 0, 1)


@op(function=False)
def expand(a, *sizes):
    sizes = shape_arg(sizes)
    shape = a._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
                           f"number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    target = tuple(shape[i - lead] if (s == -1 and i >= lead) else s for i, s in enumerate(sizes))
    for i, s in enumerate(shape):
        if s != 1 and s != target[lead + i]:
            raise RuntimeError(f"The expanded size of the tensor ({target[lead + i]}) must match the existing size "
                               f"({s}) at non-singleton dimension {lead + i}.  Target sizes: {list(sizes)}.  "
                               f"Tensor sizes: {list(shape)}")
    # expanding to a's own shape still makes a new view, as PyTorch (writable: no element repeats)
    out = a._data.view() if target == shape else broadcast_view(a._data, target)
    def backward(g):
        """grad_a = g summed over the expanded dims, back to a's shape"""
        return (sum_to(g, shape),)
    return _view(out, "ExpandBackward0", backward, a, lambda t: t.expand(target))


@op(function=False)
def expand_as(a, other):
    return expand(a, other._data.shape)


@op(method=False)
def expand_copy(a, *sizes):
    """A copy of ``a.expand(sizes)``, in one node as PyTorch."""
    with grad_mode.no_grad():
        out = np.array(expand(a, *sizes)._data)
    shape = a._data.shape
    return record(out, "ExpandBackward0_copy", lambda g: (sum_to(g, shape),), (a,))


@op()
def broadcast_to(a, shape):
    return expand(a, shape)


@op(function=False)
def contiguous(a, memory_format=None):
    if a._data.flags.c_contiguous:
        return a
    return record(np.ascontiguousarray(a._data), "CloneBackward0", lambda g: (g,), (a,))


@op()
def flip(a, *dim_args, dims=None):
    """Reverse along dims, given as ``x.flip(0, 1)``, ``x.flip((0, 1))`` or ``flip(x, dims=(0, 1))``, as PyTorch."""
    dims = shape_arg(dim_args) if dims is None else (dims,) if isinstance(dims, int) else tuple(dims)
    dims = tuple(normalize_dim(d, a._data.ndim, "flip") for d in dims) if a._data.ndim else ()
    return record(np.flip(a._data, dims).copy(), "FlipBackward0", lambda g: (g.flip(dims),), (a,))


@op(function=False)
def repeat(a, *sizes):
    sizes = shape_arg(sizes)
    shape = a._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    lead = len(sizes) - len(shape)
    full = (1,) * lead + shape
    out = np.tile(a._data.reshape(full), sizes)

    def backward(g):
        # fold each repeated axis into (repeats, size) and sum the repeats
        split = []
        for r, s in zip(sizes, full):
            split += [r, s]
        return (g.reshape(tuple(split)).sum(tuple(range(0, 2 * len(full), 2))).reshape(shape),)
    return record(out, "RepeatBackward0", backward, (a,))


@op()
def narrow(a, dim, start, length):
    d = normalize_dim(dim, a._data.ndim, "narrow")
    size = a._data.shape[d]
    if not -size <= start <= size:
        raise IndexError(f"narrow(): start out of range (expected to be in range of [{-size}, {size}], "
                         f"but got {start})")
    start = start + size if start < 0 else start  # a negative start counts from the end, as PyTorch
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > size:
        raise RuntimeError(f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return slice_view(a, d, slice(start, start + length))


@op(alias="moveaxis")
def movedim(a, source, destination):
    """Move the axes ``source`` to positions ``destination``, the others keeping their order (a permute)."""
    nd = a._data.ndim
    src = [normalize_dim(s, nd, "movedim") for s in ((source,) if isinstance(source, int) else source)]
    dst = [normalize_dim(s, nd, "movedim") for s in ((destination,) if isinstance(destination, int) else destination)]
    if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source {src} and destination {dst} "
                           "must be distinct dims, as many of each")
    if nd == 0:
        return alias(a)
    order = [None] * nd
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter([i for i in range(nd) if i not in src])
    return permute(a, [o if o is not None else next(rest) for o in order])


@op(function=False)
def unfold(a, dimension, size, step):
    """Sliding windows along ``dimension``: a view with that axis replaced by the window starts
    (``(length - size) // step + 1`` of them, ``step`` apart) and a new last axis of length ``size``.

    No values are copied: the view reads a's memory with strides.  Windows that
    overlap (step < size) share elements, so that view is read-only, as expand's is.
    """
    for name, value in (("size", size), ("step", step)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
            raise TypeError(f"unfold(): argument '{name}' must be int, not {type(value).__name__}")
    shape = a._data.shape
    d = normalize_dim(dimension, len(shape), "unfold")
    data = a._data if shape else a._data.reshape(1)  # a scalar unfolds as a 1-element vector
    length = data.shape[d]
    if size > length:
        raise RuntimeError(f"unfold: maximum size for tensor at dimension {d} is {length} but size is {size}")
    if size < 0:
        raise RuntimeError(f"unfold: size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"unfold: step is {step} but must be > 0")
    windows = (length - size) // step + 1
    strides = data.strides
    out = np.lib.stride_tricks.as_strided(
        data, data.shape[:d] + (windows,) + data.shape[d + 1:] + (size,),
        strides[:d] + (strides[d] * step,) + strides[d + 1:] + (strides[d],),
        writeable=step >= size or windows == 1)
    if not shape:
        out = out.reshape(size)  # drop the scalar's one window, as PyTorch

    def backward(g):
        return (unfold_backward(g, shape, d, size, step),)
    return _view(out, "UnfoldBackward0", backward, a, lambda t: t.unfold(d, size, step))


def unfold_backward(g, input_shape, dim, size, step):
    """The gradient of ``unfold``: every window's gradient added back where the window lies (overlaps sum).

    Its own gradient is ``unfold`` again, so it is differentiable twice.
    """
    work_shape = input_shape or (1,)  # a scalar's gradient, computed as a 1-element vector
    grad = np.zeros(work_shape, dtype=g._data.dtype)
    windows = (work_shape[dim] - size) // step + 1
    g_windows = g._data.reshape(work_shape[:dim] + (windows,) + work_shape[dim + 1:] + (size,))
    for k in range(size):  # tap k of the windows reads positions k, k + step, ..., k + step * (windows - 1)
        taps = (slice(None),) * dim + (slice(k, k + step * (windows - 1) + 1, step),)
        grad[taps] += g_windows[..., k]
    return record(grad.reshape(input_shape), "UnfoldBackwardBackward0",
                  lambda gg: (unfold(gg, dim, size, step),), (g,))


@op()
def tile(a, dims):
    """``repeat`` with missing leading repeats taken as 1 (``tile(x, (2,))`` on a matrix repeats columns)."""
    dims = tuple(dims) if not isinstance(dims, int) else (dims,)
    return repeat(a, (1,) * (a._data.ndim - len(dims)) + dims)


@op()
def roll(a, shifts, dims=None):
    """Shift elements along ``dims`` (of the flattened tensor when dims is None), wrapping around;
    the gradient rolls back the other way."""
    if dims is None:
        if not isinstance(shifts, int) and len(shifts) != 1:
            raise RuntimeError(f"roll: without dims, shifts must be one number, got {list(shifts)}")
        back = -shifts if isinstance(shifts, int) else [-s for s in shifts]
    else:
        shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        if len(shifts) != len(dims):
            raise RuntimeError(f"roll: shifts and dims must align, got shifts={list(shifts)} and dims={list(dims)}")
        dims = tuple(normalize_dim(d, a._data.ndim, "roll") for d in dims)
        back = tuple(-s for s in shifts)
    return record(np.roll(a._data, shifts, dims), "RollBackward0", lambda g: (g.roll(back, dims),), (a,))


@op()
def repeat_interleave(a, repeats, dim=None):
    """Each element repeated ``repeats`` times along ``dim`` (the flattened tensor when dim is None)."""
    if dim is None:
        a, dim = a.flatten(), 0
    d = normalize_dim(dim, a._data.ndim, "repeat_interleave")
    if isinstance(repeats, Tensor):  # a count per element: pick each index that many times
        order = np.repeat(np.arange(a._data.shape[d]), repeats._data)
        return a.index_select(d, Tensor._wrap(order.astype(np.int64)))
    # one count for all, as PyTorch: a new axis of ``repeats`` copies, then merged into dim
    shape = a._data.shape
    copies = shape[:d + 1] + (repeats,) + shape[d + 1:]
    return a.unsqueeze(d + 1).expand(copies).clone().flatten(d, d + 1)


# ---- more rearrangements: moveaxis, ravel, fliplr/flipud, rot90, column_stack, dstack, diag_embed, diagflat -
moveaxis = movedim


@op()
def ravel(a):
    """All elements in one row: a view of a contiguous ``a``, else a view of a contiguous copy (as PyTorch)."""
    return view(contiguous(a), -1)


@op()
def fliplr(a):
    if a._data.ndim < 2:
        raise RuntimeError(f"fliplr: Input must be >= 2-d. (got a tensor of shape {list(a._data.shape)})")
    return flip(a, 1)


@op()
def flipud(a):
    if a._data.ndim < 1:
        raise RuntimeError("flipud: Input must be >= 1-d. (got a 0-d tensor)")
    return flip(a, 0)


@op()
def rot90(a, k=1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first axis towards the second."""
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
    if a._data.ndim < 2:
        raise RuntimeError(f"rot90: expected total dims >= 2, but got total dims = {a._data.ndim}")
    d0, d1 = (normalize_dim(d, a._data.ndim, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(f"rot90: expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    out = np.ascontiguousarray(np.rot90(a._data, k, (d0, d1)))
    return record(out, "Rot90Backward0", lambda g: (rot90(g, -k, (d0, d1)),), (a,))


# ---- differences and sums to a shape ---------------------------------------------------------------------
@op()
def diff(a, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along ``dim`` (``!=`` for bool), after gluing on ``prepend`` and ``append``.

    Written with narrow and sub, as PyTorch computes it, so its node is SubBackward0.
    """
    if a._data.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"diff: order must be non-negative but got {n}")
    d = normalize_dim(dim, a._data.ndim, "diff")
    glued = {}
    for side, extra in (("prepend", prepend), ("append", append)):
        if extra is None:
            continue
        extra = extra if isinstance(extra, Tensor) else Tensor._wrap(np.asarray(extra, dtype=a._data.dtype))
        if extra._data.ndim == 0:  # a number is repeated across the other dims, one step deep
            extra = extra.expand(a._data.shape[:d] + (1,) + a._data.shape[d + 1:])
        if extra._data.ndim != a._data.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
        for k, (s, e) in enumerate(zip(a._data.shape, extra._data.shape)):
            if k != d and s != e:
                raise RuntimeError(f"diff expects the shape of tensor to prepend or append to match that of input "
                                   f"except along the differencing dimension; input.size({k}) = {s}, but got "
                                   f"tensor.size({k}) = {e}")
        glued[side] = extra
    if glued:
        before, after = glued.get("prepend"), glued.get("append")
        from .join_split import cat
        a = cat(([before] if before is not None else []) + [a] + ([after] if after is not None else []), d)
    if n == 0:
        out = Tensor._wrap(np.empty_like(a._data))
        return out.copy_(a)  # a copy (CopyBackwards), as PyTorch
    for _ in range(n):
        length = a._data.shape[d]
        if length == 0:
            break
        after, before = a.narrow(d, 1, length - 1), a.narrow(d, 0, length - 1)
        a = after.logical_xor(before) if a._data.dtype == np.bool_ else after - before
    return a


@op(function=False)
def sum_to_size(a, *size):
    """``a`` summed down to ``size`` (which must expand to a's shape): the undoing of broadcasting."""
    size = shape_arg(size)
    shape = a._data.shape
    fits = len(size) <= len(shape) and all(s in (1, t) for s, t in zip(size[::-1], shape[::-1]))
    if not fits:
        raise RuntimeError(f"sum_to_size: size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.")
    if not size:
        return a.sum()  # to a scalar: always a sum (a new tensor, even from a scalar), as PyTorch
    # as PyTorch: one sum keeping dims (the leading ones and those that are 1 in size), then a view
    lead = len(shape) - len(size)
    dims = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(size) if s == 1 and shape[lead + i] != 1)
    if not dims:
        return a
    summed = a.sum(dims, keepdim=True)
    return summed.view(size) if lead else summed


# ---- strided views -------------------------------------------------------------------------------------
def _storage(array):
    """(the whole memory block ``array`` lies in, as a flat array; array's first element's position in it).

    The block is the array that owns the memory (the end of NumPy's ``.base``
    chain), read in memory order: PyTorch's storage.
    """
    owner = array
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    if not (owner.flags.c_contiguous or owner.flags.f_contiguous) or owner.dtype != array.dtype:
        return array.reshape(-1) if array.flags.c_contiguous else np.ascontiguousarray(array).reshape(-1), 0
    flat = owner.ravel(order="K")
    start = flat.__array_interface__["data"][0]
    here = array.__array_interface__["data"][0]
    return flat, (here - start) // array.itemsize


@op(function=False)
def storage_offset(a):
    """How many elements into its storage (the memory block it shares with its views) ``a`` starts.

    For ``from_numpy`` of a slice of a NumPy array the storage is that whole
    array, so the offset counts from its start (PyTorch starts a new storage
    at the slice).
    """
    return int(_storage(a._data)[1])


def _overlapping(size, stride):
    """True when two positions of a (size, stride) view may name the same element."""
    extent = 0
    for s, st in sorted((st, s) for s, st in zip(size, stride) if s > 1):
        s, st = st, s
        if st <= extent:
            return True
        extent += (s - 1) * st
    return False


def _strided_positions(size, stride, offset):
    """The storage position of every element of a (size, stride, offset) view, as an int64 array."""
    positions = np.full(tuple(size), offset, dtype=np.int64)
    for k, (s, st) in enumerate(zip(size, stride)):
        positions += (np.arange(s, dtype=np.int64) * st).reshape((-1,) + (1,) * (len(size) - k - 1))
    return positions


def _strided_array(a, size, stride, storage_offset, op):
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"{op}: mismatch in length of strides and shape ({len(stride)} strides for "
                           f"{len(size)} sizes)")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"{op}: Negative strides are not supported at the moment, got strides: {list(stride)}")
    flat, own_offset = _storage(a._data)
    offset = own_offset if storage_offset is None else int(storage_offset)
    needed = offset + 1 + sum((n - 1) * st for n, st in zip(size, stride)) if all(size) else 0
    if needed > flat.size or offset < 0:
        item = a._data.itemsize
        raise RuntimeError(f"{op}: setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, "
                           f"and itemsize {item} requiring a storage size of {needed * item} are out of bounds for "
                           f"storage of size {flat.size * item}")
    array = np.lib.stride_tricks.as_strided(flat[offset:], size, tuple(st * flat.itemsize for st in stride),
                                            writeable=a._data.flags.writeable and not _overlapping(size, stride))
    return array, offset


@op()
def as_strided(a, size, stride, storage_offset=None):
    """A view of a's storage with the given sizes and strides (in elements), starting ``storage_offset``
    elements into the storage (a's own start by default).

    Its gradient adds each output gradient to the storage element it read and
    gives every element of ``a`` what landed on its storage element (shared
    equally among elements of ``a`` that share one, as after expand).
    """
    array, offset = _strided_array(a, size, stride, storage_offset, "as_strided")
    geometry = (tuple(array.shape), tuple(s // array.itemsize for s in array.strides), offset)

    def backward(g):
        return (_as_strided_grad(g, a, geometry),)
    return _view(array, "AsStridedBackward0", backward, a, lambda t: as_strided(t, *geometry))


def _as_strided_grad(g, a, geometry):
    """The gradient of ``as_strided(a, *geometry)`` with Tensor ops (index_add, then take)."""
    flat, own_offset = _storage(a._data)
    read = _strided_positions(*geometry).reshape(-1)
    own = _strided_positions(a._data.shape, [s // a._data.itemsize for s in a._data.strides], own_offset)
    shares = np.bincount(own.reshape(-1), minlength=flat.size)[own]
    buffer = Tensor._wrap(np.zeros(flat.size, dtype=g._data.dtype)).index_add(0, Tensor._wrap(read), g.reshape(-1))
    from .index import take
    grad = take(buffer, Tensor._wrap(own))
    return grad if shares.max(initial=1) == 1 else grad / Tensor._wrap(shares.astype(g._data.dtype))


# ---- products and tables built from shapes -----------------------------------------------------------------
@op()
def kron(a, b):
    """The Kronecker product: every element of ``a`` times a whole copy of ``b``, tiled in a's layout.

    Written as PyTorch computes it: ``a`` and ``b`` reshaped so that their
    axes interleave, multiplied with broadcasting, the product's axes merged.
    """
    nd = max(a._data.ndim, b._data.ndim)
    sa = (1,) * (nd - a._data.ndim) + a._data.shape
    sb = (1,) * (nd - b._data.ndim) + b._data.shape
    left = a.reshape(tuple(s for size in sa for s in (size, 1)))
    right = b.reshape(tuple(s for size in sb for s in (1, size)))
    product = left * right
    return _unsafe_view(product, tuple(x * y for x, y in zip(sa, sb)))


@op(method=False)
def vander(x, N=None, increasing=False):
    """The Vandermonde matrix: column j holds x ** (N - 1 - j) (x ** j when ``increasing``).

    As PyTorch: the powers are a cumulative product of [1, x, x, ...] (so
    gradients hold at x = 0 too), flipped unless ``increasing``; integer and
    bool inputs give int64.  (PyTorch's own backward of this fails with a
    version-counter error; gradlab's in-place cumprod keeps the values it needs.)
    """
    if x._data.ndim != 1:
        raise RuntimeError(f"vander: x must be a one-dimensional tensor. (got shape {list(x._data.shape)})")
    n = x._data.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError(f"vander: N must be non-negative. (got N={n})")
    if x._data.dtype.kind in "biu" and x._data.dtype != np.int64:
        x = x.long()
    columns = Tensor._wrap(np.ones((x._data.shape[0], n), dtype=x._data.dtype))
    if n > 1:  # columns 1.. hold x, then their running product x, x^2, x^3, ... (in place, as PyTorch)
        powers = columns[:, 1:]
        powers.copy_(x.unsqueeze(1).expand(x._data.shape[0], n - 1))
        powers.cumprod_(1)
    return columns if increasing else flip(columns, 1)


@op(method=False)
def unravel_index(indices, shape):
    """Flat indices into a tensor of ``shape`` as a tuple of coordinate tensors (int64), one per dim.

    As PyTorch's: coordinate k is (index // stride_k) % shape_k, so indices out
    of range wrap around rather than fail.
    """
    if not isinstance(indices, Tensor):
        raise TypeError(f"unravel_index: expected 'indices' to be a Tensor, got {type(indices).__name__}")
    if indices._data.dtype.kind not in "iu":
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    if 0 in shape:
        raise RuntimeError(f"unravel_index: shape {shape} has a zero-size dimension: no index fits it")
    strides = np.cumprod((1,) + shape[:0:-1])[::-1] if shape else ()
    flat = indices._data.astype(np.int64)
    return tuple(Tensor._wrap((flat // int(st)) % size) for st, size in zip(strides, shape))


# ---- in-place shape changes: t_, transpose_, squeeze_, unsqueeze_, as_strided_ ------------------------------
def _change_shape_in_place(a, op, new_view, name, backward, redo, undo):
    """Give ``a`` itself the geometry of ``new_view`` (a NumPy view of a's array), as PyTorch's t_() and the like.

    ``a`` stays the same object and shares memory as before; its version goes
    up by one (saved copies of it are stale).  When grad is recorded, ``a``
    gets the node ``name`` (backward undoes the change on the gradient).
    ``redo(t)`` makes the change on a tensor of a's old shape and ``undo(t)``
    reverses it: a view of ``a`` updates its recipe from its base with
    ``redo``, and views of ``a`` (when ``a`` is a base) compose with ``undo``,
    so that later in-place writes still find their way through the graph.
    After ``retain_grad()``, ``a.grad`` is the gradient of the new geometry
    (PyTorch keeps the gradient of the old one there).
    """
    from .inplace import check_inplace
    check_inplace(a, op)
    a._version_counter[0] += 1
    if grad_mode.state.enabled and a._requires_grad:
        before = Tensor._wrap(a._data)
        before.grad_fn, before._requires_grad, before._out_nr = a.grad_fn, a._requires_grad, a._out_nr
        _take_graph(a, record(new_view, name, backward, (before,)))  # retain_grad moves with it (see above)
    if a._view_base is not None:
        a._view_fn = _compose_fns(a._view_fn, redo)
    for ref in list(a.__dict__.get("_views", {}).values()):
        v = ref()
        if v is not None:
            v._view_fn = _compose_fns(undo, v._view_fn)
    a._data = new_view
    return a


def _compose_fns(first, then):
    return lambda t: then(first(t))


@op(function=False)
def t_(a):
    t(a)  # the same checks as t()
    return _change_shape_in_place(a, "t_", a._data.T, "TBackward1", lambda g: (g.t(),), t, t)


@op(function=False, alias="swapaxes_ swapdims_")
def transpose_(a, dim0, dim1):
    nd = a._data.ndim
    d0, d1 = (normalize_dim(d, nd, "transpose_") for d in (dim0, dim1)) if nd else (0, 0)
    flipped = np.swapaxes(a._data, d0, d1) if nd else a._data.view()

    def swap(x):
        return transpose(x, d0, d1)
    return _change_shape_in_place(a, "transpose_", flipped, "TransposeBackward1", lambda g: (swap(g),), swap, swap)


swapaxes_ = swapdims_ = transpose_


@op(function=False)
def squeeze_(a, dim=None):
    old_shape = a._data.shape
    new_shape = squeeze(Tensor._wrap(a._data), dim)._data.shape  # squeeze's own checks and rules
    name = "SqueezeBackward3" if dim is None else "SqueezeBackward4" if isinstance(dim, int) else "SqueezeBackward5"
    return _change_shape_in_place(a, "squeeze_", a._data.reshape(new_shape), name,
                                  lambda g: (g.reshape(old_shape),), lambda x: x.reshape(new_shape),
                                  lambda x: x.reshape(old_shape))


@op(function=False)
def unsqueeze_(a, dim):
    old_shape = a._data.shape
    d = normalize_dim(dim, a._data.ndim + 1, "unsqueeze_")
    return _change_shape_in_place(a, "unsqueeze_", np.expand_dims(a._data, d), "UnsqueezeBackward1",
                                  lambda g: (g.reshape(old_shape),), lambda x: x.unsqueeze(d),
                                  lambda x: x.reshape(old_shape))


@op(function=False)
def as_strided_(a, size, stride, storage_offset=None):
    array, offset = _strided_array(a, size, stride, storage_offset, "as_strided_")
    geometry = (tuple(array.shape), tuple(s // array.itemsize for s in array.strides), offset)
    old = Tensor._wrap(a._data)
    old_geometry = (a._data.shape, tuple(s // a._data.itemsize for s in a._data.strides), storage_offset_of(old))

    def backward(g):
        return (_as_strided_grad(g, old, geometry),)
    return _change_shape_in_place(a, "as_strided_", array, "AsStridedBackward1", backward,
                                  lambda x: as_strided(x, *geometry), lambda x: as_strided(x, *old_geometry))


storage_offset_of = storage_offset


# ---- resize_ ------------------------------------------------------------------------------------
@op(function=False)
def resize_(a, *sizes, memory_format=None):
    """``a`` reshaped in place to ``sizes``, its elements kept in order; new elements are zeros
    (PyTorch leaves them uninitialised).  Refused for tensors that require grad, as PyTorch."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    sizes = tuple(int(s) for s in sizes)
    if a._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"resize_: Trying to create tensor with negative dimension {min(sizes)}: {list(sizes)}")
    n = int(np.prod(sizes))
    flat = a._data.reshape(-1)  # (a view when a is contiguous, so that shrinking keeps sharing memory)
    if n <= flat.size and np.shares_memory(flat, a._data):
        a._data = flat[:n].reshape(sizes)
    else:
        data = np.zeros(n, dtype=a._data.dtype)
        data[:min(n, flat.size)] = flat[:n]
        a._data = data.reshape(sizes)
    a._version_counter[0] += 1
    return a


def __getattr__(name):
    """The join / split ops (cat, stack, split, ...) moved to join_split.py, the diagonal ones to diagonal.py;
    old imports still work."""
    from . import diagonal, join_split
    for module in (join_split, diagonal):
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"module 'gradlab.ops.shape' has no attribute '{name}'")
