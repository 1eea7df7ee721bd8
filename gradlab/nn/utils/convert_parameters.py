"""All of a model's parameters as one flat vector, and back (as ``torch.nn.utils``)."""
import numpy as np

from ..._tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """One 1-D tensor holding every parameter's values in order (differentiable, like ``cat``)."""
    from ... import cat
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters`` (replacing their data)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected gradlab.Tensor, but got: {type(vec).__name__}")
    offset = 0
    for param in parameters:
        n = param.numel()
        if offset + n > vec.numel():
            raise RuntimeError(f"vector_to_parameters: the vector has {vec.numel()} elements, fewer than the "
                               f"parameters need ({offset + n} so far)")
        param.data = Tensor._wrap(np.array(vec._data[offset:offset + n]).reshape(param._data.shape))
        offset += n
