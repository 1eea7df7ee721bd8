"""``Parameter``: a Tensor that a Module registers as one of its learnable weights.

Assigning a Parameter to a Module attribute (``self.weight = Parameter(...)``)
puts it in the module's ``_parameters``, so ``parameters()``, ``state_dict()``
and the optimizers find it.  A plain Tensor assigned the same way stays a
plain attribute.
"""
import numpy as np

from .. import _dtype
from .._device import check_device
from .._tensor import Tensor

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer", "UninitializedTensorMixin",
           "is_lazy"]


class Parameter(Tensor):
    """A learnable tensor: ``Parameter(data=None, requires_grad=True)``.

    It shares ``data``'s memory (as ``torch.nn.Parameter``), is a leaf of the
    autograd graph, and requires grad unless told otherwise.
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            array = np.empty((0,), dtype=np.float32)
        elif isinstance(data, Tensor):
            array = data._data
        else:
            raise TypeError(f"Parameter(): data must be a Tensor or None (got {type(data).__name__})")
        self._init(array, False)
        if isinstance(data, Tensor):
            self._version_counter = data._version_counter
        if requires_grad:
            self.requires_grad = True  # the setter rejects integer dtypes with a clear message

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class _BufferMeta(type):
    # a Buffer is a plain Tensor marked to be registered as a buffer (as torch's)
    def __instancecheck__(cls, instance):
        return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)


class Buffer(metaclass=_BufferMeta):
    """Marks a tensor as a buffer when assigned to a Module attribute (as ``torch.nn.Buffer``).

    ``self.running_mean = Buffer(zeros(3))`` does what
    ``self.register_buffer("running_mean", zeros(3))`` does;
    ``persistent=False`` keeps it out of the ``state_dict``.
    """

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = Tensor._wrap(np.empty((0,), dtype=np.float32))
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer(): data must be a Tensor (got {type(data).__name__})")
        t = data.detach().requires_grad_(data.requires_grad)
        t._is_buffer = True
        t.persistent = persistent
        return t


# ---- tensors without a shape yet: the parameters and buffers of lazy modules -------------------------
_SLOT = Tensor.__dict__["_data"]  # the slot that holds a Tensor's array, read past the guard below


class _UninitializedUse(RuntimeError, ValueError):
    """Using an uninitialised parameter or buffer; also a ValueError, which is what PyTorch raises."""


class UninitializedTensorMixin:
    """What ``UninitializedParameter`` and ``UninitializedBuffer`` share: a dtype, no shape, no values.

    The array slot holds an empty array of the right dtype, and ``_data`` (which every op reads)
    raises instead of handing it out, so any op on the tensor stops with a message that says what
    to do.  Only the dtype and device conversions, ``requires_grad`` and ``.data`` (an empty
    tensor, as PyTorch's) work.  ``materialize(shape)`` gives the tensor its shape and turns it
    into ``cls_to_become``.
    """

    __slots__ = ()
    cls_to_become = None

    def _use_error(self):
        return _UninitializedUse(
            f"Attempted to use an uninitialized parameter or buffer ({type(self).__name__}): it has no shape or "
            f"values yet. A lazy module (nn.LazyLinear, nn.LazyConv2d, ...) infers them on its first call: run "
            f"a dry forward with a dummy batch first, e.g. net(gradlab.zeros(1, ...)), then use, initialise or "
            f"optimise the parameters.")

    @property
    def _data(self):
        raise self._use_error()

    @_data.setter
    def _data(self, array):
        _SLOT.__set__(self, array)

    def materialize(self, shape, device=None, dtype=None):
        """Give the tensor ``shape`` (its values are zeros until initialised) and make it ``cls_to_become``."""
        check_device(device)
        np_dtype = _SLOT.__get__(self).dtype if dtype is None else _dtype.to_numpy_dtype(dtype)
        self.__class__ = self.cls_to_become
        self._data = np.zeros(tuple(shape), dtype=np_dtype)

    @property
    def shape(self):
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error usually happens in "
            "`load_state_dict` when trying to load an uninitialized parameter into an initialized one. Call "
            "`forward` to initialize the parameters before accessing their attributes.")

    @property
    def dtype(self):
        return _dtype.from_numpy_dtype(_SLOT.__get__(self).dtype)

    def is_floating_point(self):
        return _SLOT.__get__(self).dtype.kind == "f"

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self._requires_grad = bool(value)

    @property
    def data(self):
        """An empty tensor (as PyTorch's): in-place initialisers on it, like ``.data.normal_()``, do nothing."""
        return Tensor._wrap(_SLOT.__get__(self))

    @data.setter
    def data(self, value):
        if not is_lazy(value):
            raise self._use_error()
        self._data = _SLOT.__get__(value)

    def _like(self, dtype=None):
        """A new uninitialised tensor of this kind, with ``dtype`` (or ours) and our flags."""
        new = type(self)(self._requires_grad, dtype=self.dtype if dtype is None else dtype)
        new.__dict__.update(self.__dict__)
        return new

    def detach(self):
        return self._like()

    def __deepcopy__(self, memo):
        new = memo[id(self)] = self._like()
        return new

    def to(self, *args, **kwargs):
        from .modules.module import _parse_to
        return self._like(_parse_to(args, dict(kwargs))[1])

    def float(self):
        return self._like(_dtype.float32)

    def double(self):
        return self._like(_dtype.float64)

    def half(self):
        return self._like(_dtype.float16)

    def __repr__(self):
        return f"<{type(self).__name__}>"


def is_lazy(param):
    """True for an ``UninitializedParameter`` or ``UninitializedBuffer``."""
    return isinstance(param, UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A Parameter whose shape is not known yet (a lazy module's, until its first forward).

    ``dtype`` and ``device`` are those it will be materialised with.
    """

    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        check_device(device)
        np_dtype = _dtype.to_numpy_dtype(dtype) if dtype is not None else _dtype.get_default_dtype().np
        self._init(np.empty((0,), dtype=np_dtype), bool(requires_grad))


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer whose shape is not known yet (a lazy batch norm's running statistics)."""

    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None, persistent=True):
        check_device(device)
        np_dtype = _dtype.to_numpy_dtype(dtype) if dtype is not None else _dtype.get_default_dtype().np
        self._init(np.empty((0,), dtype=np_dtype), bool(requires_grad))
        self.persistent = persistent
        self._is_buffer = True
