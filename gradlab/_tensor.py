"""Tensor: a NumPy array plus what autograd needs.

``_data``           the ndarray holding the values (``.data`` is the PyTorch-style
                    detached Tensor over the same array)
``grad``            the accumulated gradient (a Tensor), for leaves (stored in ``_grad``)
``grad_fn``         the graph Node of the op that made this tensor (None for leaves)
``requires_grad``   whether ops on it are recorded
``_version_counter`` a one-item list, bumped by every in-place op and shared
                    with views, so that backward can catch stale saved values
                    (an ``InferenceVersion`` marks an inference tensor, see
                    autograd/inference.py)

The arithmetic and methods are defined by the op files in ``gradlab/ops/``
and attached at the bottom of this file.
"""
import numpy as np

from . import _dtype
from ._device import check_device, device

__all__ = ["Tensor", "Size", "device", "tensor", "from_numpy", "as_tensor", "is_tensor", "zeros_like"]


class Size(tuple):
    """A tensor's shape: a tuple that prints as ``gradlab.Size([2, 3])``."""

    def __repr__(self):
        return f"gradlab.Size({list(self)})"

    __str__ = __repr__

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n


class Tensor:
    __slots__ = ("_data", "_grad", "grad_fn", "_requires_grad", "_version_counter", "_out_nr",
                 "__weakref__", "__dict__")
    # rarely set, so they live in the instance __dict__ only once used; these are the defaults
    _hooks = None                   # {handle id: fn(grad)} for a leaf's register_hook
    _post_accumulate_hooks = None   # {handle id: fn(tensor)}
    _retains_grad = False
    _view_base = None               # for a view: its root base (set by ops._common.mark_view, as below)
    _view_creation = None           # for a view that refuses recorded in-place writes: (why, root base)
    __array_priority__ = 1000  # ndarray (op) Tensor defers to the Tensor's reflected op

    # ---- construction ---------------------------------------------------------
    def __init__(self, *args, dtype=None, device=None, requires_grad=False):
        """``Tensor(2, 3)`` is uninitialised (float32); ``Tensor(data)`` copies data as float32."""
        check_device(device)
        np_dtype = _dtype.to_numpy_dtype(dtype) if dtype is not None else _dtype.get_default_dtype().np
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)) and not isinstance(args[0], Size):
            data = args[0]
            data = data._data if isinstance(data, Tensor) else data
            array = np.array(data, dtype=np_dtype)
        else:
            shape = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list, Size)) else args
            array = np.empty(tuple(int(s) for s in shape), dtype=np_dtype)
        self._init(array, False)
        _mark_if_inference(self)
        if requires_grad:
            self.requires_grad = True

    def _init(self, array, requires_grad):
        self._data = array
        self._grad = None
        self.grad_fn = None
        self._requires_grad = requires_grad
        self._version_counter = [0]
        self._out_nr = 0

    @classmethod
    def _wrap(cls, array, requires_grad=False, _new=object.__new__, _ndarray=np.ndarray):
        """The fast constructor every op uses: no copying, no checks.

        (``_new`` and ``_ndarray`` are never passed: as default arguments they are
        local names, a little faster than global lookups on this hot path.)
        """
        t = _new(cls)
        if type(array) is not _ndarray:
            array = np.asarray(array)
        t._data = array
        t._grad = None
        t.grad_fn = None
        t._requires_grad = requires_grad
        t._version_counter = [0]
        t._out_nr = 0
        return t

    def _view_of(self, array):
        """A Tensor over ``array`` (a NumPy view of ours) sharing our version counter."""
        t = Tensor._wrap(array)
        t._version_counter = self._version_counter
        return t

    # ---- autograd attributes ----------------------------------------------------
    @property
    def grad(self):
        """The gradient accumulated by backward (leaves, and non-leaves that called retain_grad)."""
        if self.grad_fn is not None and not self._retains_grad:
            import warnings
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute "
                "won't be populated during autograd.backward(). If you indeed want the .grad field to be populated "
                "for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf "
                "Tensor by mistake, make sure you access the leaf Tensor instead.", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise RuntimeError(f"assigned grad has data of a different size: the tensor has shape "
                                   f"{list(self._data.shape)}, the gradient {list(value._data.shape)}")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(f"assigned grad has data of a different type: the tensor is {self.dtype}, "
                                   f"the gradient {value.dtype}")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        value = bool(value)
        if value and not self._data.dtype.kind == "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients "
                               f"(got {self.dtype}); convert with .float() first")
        if value and self.is_inference() and not _grad_state.inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside InferenceMode is not allowed.")
        if not value and self.grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                               "computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        self._requires_grad = value

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def _version(self):
        if self.is_inference():
            raise RuntimeError("Inference tensors do not track version counter.")
        return self._version_counter[0]

    def is_inference(self):
        """True for a tensor made in inference mode (or a view of one)."""
        return self._version_counter.__class__ is InferenceVersion

    @property
    def retains_grad(self):
        return self._retains_grad

    @property
    def data(self):
        """A Tensor over the same values, outside the graph (as ``torch.Tensor.data``)."""
        t = Tensor._wrap(self._data)
        t._version_counter = InferenceVersion([0]) if self.is_inference() else [0]  # the mode does not matter
        return t

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)

    def detach(self):
        return self._view_of(self._data)

    def detach_(self):
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self):
        if self.grad_fn is None:
            return
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        self._retains_grad = True
        self.grad_fn.retain(self)

    def register_hook(self, hook):
        """``hook(grad) -> new grad | None`` runs when this tensor's gradient is computed."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn.add_tensor_hook(self._out_nr, hook)
        from .utils.hooks import RemovableHandle
        if self._hooks is None:
            self._hooks = {}
        handle = RemovableHandle(self._hooks)
        self._hooks[handle.id] = hook
        return handle

    def register_post_accumulate_grad_hook(self, hook):
        from .utils.hooks import RemovableHandle
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = {}
        handle = RemovableHandle(self._post_accumulate_hooks)
        self._post_accumulate_hooks[handle.id] = hook
        return handle

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        from .autograd import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    # ---- metadata -------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[dim]

    @property
    def dtype(self):
        return _dtype.from_numpy_dtype(self._data.dtype)

    @property
    def device(self):
        return device("cpu")

    @property
    def is_cuda(self):
        return False

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return self._data.size

    nelement = numel

    def element_size(self):
        return self._data.itemsize

    def stride(self, dim=None):
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[dim]

    def is_contiguous(self):
        return self._data.flags.c_contiguous

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def data_ptr(self):
        return self._data.__array_interface__["data"][0]

    # ---- conversion -----------------------------------------------------------
    def numpy(self, force=False):
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self._data

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    def cpu(self):
        return self

    def cuda(self, *args, **kwargs):
        check_device("cuda")

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous "
                               f"(shape {list(self._data.shape)})")
        return bool(self._data.reshape(()).item())

    def __complex__(self):
        return complex(self.item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __contains__(self, element):
        value = element._data if isinstance(element, Tensor) else element
        return bool((self._data == value).any())

    __hash__ = object.__hash__

    def __format__(self, spec):
        if self._data.ndim == 0 or (spec and self._data.size == 1):
            return format(self.item(), spec)
        if spec:  # as PyTorch: a format spec applies to single values only
            raise TypeError(f"unsupported format string passed to Tensor.__format__ ('{spec}' for a tensor of shape "
                            f"{list(self._data.shape)}; format its elements, e.g. t.tolist())")
        return repr(self)

    def __repr__(self):
        from ._tensor_str import tensor_repr
        return tensor_repr(self)

    def __reduce_ex__(self, protocol):
        raise TypeError("gradlab tensors are saved with gradlab.save, not pickle")

    def __deepcopy__(self, memo):
        new = type(self).__new__(type(self))
        Tensor._init(new, self._data.copy(), self._requires_grad)
        if self._grad is not None:
            new._grad = self._grad.clone()
        for k, v in self.__dict__.items():  # hooks and view links stay with the original
            if k not in ("_hooks", "_post_accumulate_hooks", "_retains_grad", "_grad_accumulator",
                         "_view_base", "_view_fn", "_views", "_view_creation"):
                new.__dict__[k] = v
        memo[id(self)] = new
        return new


def is_tensor(obj):
    return isinstance(obj, Tensor)


def _to_array(data, np_dtype=None):
    """Convert nested lists / scalars / arrays / tensors to an ndarray as torch.tensor does."""
    if isinstance(data, Tensor):
        array = data._data
    elif isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
        array = np.array([_to_array(x) for x in data])
    else:
        array = np.asarray(data)
    if np_dtype is not None:
        return np.array(array, dtype=np_dtype)
    kind = array.dtype.kind
    if kind == "f":
        if isinstance(data, np.ndarray) or isinstance(data, Tensor):
            return np.array(array)
        return array.astype(_dtype.get_default_dtype().np)
    if kind in "iu":
        if isinstance(data, (np.ndarray, Tensor)) and array.dtype in _dtype._by_numpy:
            return np.array(array)
        return array.astype(np.int64)
    if kind == "b":
        return np.array(array)
    raise TypeError(f"tensor(): can't convert data of NumPy dtype {array.dtype} ({type(data).__name__}); "
                    "expected numbers, bools, nested lists of them, or an array")


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of ``data`` (float32 for Python floats, int64 for ints)."""
    check_device(device)
    array = _to_array(data, _dtype.to_numpy_dtype(dtype) if dtype is not None else None)
    t = _mark_if_inference(Tensor._wrap(array))
    if requires_grad:
        t.requires_grad = True
    return t


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor) and (dtype is None or data.dtype is _dtype.from_any(dtype)):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == _dtype.to_numpy_dtype(dtype)):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    """A tensor sharing memory with ``array``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expected np.ndarray (got {type(array).__name__})")
    _dtype.from_numpy_dtype(array.dtype)  # raises for unsupported dtypes
    return _mark_if_inference(Tensor._wrap(array))


def zeros_like(t, dtype=None, requires_grad=False, **kwargs):
    np_dtype = _dtype.to_numpy_dtype(dtype) if dtype is not None else t._data.dtype
    out = _mark_if_inference(Tensor._wrap(np.zeros(t._data.shape, dtype=np_dtype)))
    if requires_grad:
        out.requires_grad = True
    return out


def _mark_if_inference(t):
    """A factory's new tensor: an inference tensor when made in inference mode (see autograd/inference.py)."""
    if _grad_state.inference:
        t._version_counter = InferenceVersion([0])
    return t


from . import ops as _ops  # noqa: E402,F401  (attaches the operators and methods to Tensor)
from .autograd.grad_mode import state as _grad_state  # noqa: E402
from .autograd.inference import InferenceVersion  # noqa: E402
