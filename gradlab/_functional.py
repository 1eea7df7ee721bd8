"""The ``gradlab.*`` op functions (``gradlab.exp(x)``, ``gradlab.cat([...])``), made from the op registry.

Each is the op itself, called as PyTorch's module-level function: the tensors
the ops call ``a`` and ``b`` may come as ``input=`` and ``other=`` (or by the
NumPy names PyTorch takes, ``x=``, ``x2=``, ``axis=``: ``registry.keyword_names``),
and ``out=`` names a tensor to write the result into.
"""
import functools
import warnings

import numpy as np

from .ops import inplace_update, registry


def _write_out(name, result, out):
    """PyTorch's ``out=``: ``out`` takes the result's values (and, if it differs, its shape) and is returned."""
    if isinstance(result, tuple):  # max(x, dim, out=(values, indices)) and the like
        return tuple(_write_out(name, r, o) for r, o in zip(result, out))
    if result._requires_grad or out._requires_grad:
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    if out._data.shape != result._data.shape:
        if out._data.size:
            warnings.warn(f"{name}(): an output with one or more elements was resized since it had shape "
                          f"{list(out._data.shape)}, which does not match the required output shape "
                          f"{list(result._data.shape)}.", UserWarning, stacklevel=3)
        out._data = np.empty(result._data.shape, out._data.dtype)
    return inplace_update(out, result)


def _as_pytorch_function(name, op):
    """``op`` as PyTorch's module-level function ``name`` (PyTorch's and NumPy's keyword names, and ``out=``)."""
    names = registry.keyword_names(op)

    @functools.wraps(op)
    def function(*args, out=None, **kwargs):
        if kwargs and not names.keys().isdisjoint(kwargs):
            kwargs = registry.renamed(name, kwargs, names)
        result = op(*args, **kwargs)
        return result if out is None else _write_out(name, result, out)
    function.__name__ = function.__qualname__ = name
    return function


__all__ = []
_made = {}  # one function per op: gradlab.arcsinh is gradlab.asinh
for _name, _op in registry.functions().items():
    if _op not in _made:
        _made[_op] = _as_pytorch_function(_name, _op)
    globals()[_name] = _made[_op]
    __all__.append(_name)

# gradlab.layer_norm, gradlab.selu, ... as torch's: the nn.functional functions of the same name and arguments
_NN_FUNCTIONS = ("layer_norm group_norm rms_norm prelu selu selu_ celu celu_ rrelu rrelu_ threshold threshold_ "
                 "hardshrink pdist cosine_similarity pairwise_distance")


def _nn_function(name):
    def function(*args, **kwargs):
        from .nn import functional
        return getattr(functional, name)(*args, **kwargs)
    function.__name__ = function.__qualname__ = name
    return function


for _name in _NN_FUNCTIONS.split():
    globals()[_name] = _nn_function(_name)
    __all__.append(_name)
