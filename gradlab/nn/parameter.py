"""``Parameter``: a Tensor that a Module registers as one of its learnable weights.

Assigning a Parameter to a Module attribute (``self.weight = Parameter(...)``)
puts it in the module's ``_parameters``, so ``parameters()``, ``state_dict()``
and the optimizers find it.  A plain Tensor assigned the same way stays a
plain attribute.
"""
import numpy as np

from .._tensor import Tensor

__all__ = ["Parameter", "Buffer"]


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
