"""The ops, one file per family, each op declared once with ``@op`` (``registry.py``).

Importing this package imports every op file, then attaches what they
declare to Tensor: ``a * b``, ``a.mul(b)`` and ``a.mul_(b)`` all call
``arithmetic.mul``.  ``docs/ops.md`` lists every op and the file it is in.
"""
from .._tensor import Tensor
from . import (arithmetic, compare, convert, diagonal, index, inplace, join_split, linalg, nn, reduce,  # noqa: F401
               registry, scatter, shape, sort, special, unary)
from .inplace import check_inplace as _check_inplace, inplace_update, make_inplace, shadow as _shadow  # noqa: F401

registry.install(Tensor, make_inplace)

# Tensor attributes that are not ops
Tensor.nbytes = property(lambda a: a._data.size * a._data.itemsize)  # elements x bytes each, as PyTorch
Tensor.itemsize = property(lambda a: a._data.itemsize)
Tensor.is_complex = lambda a: a._data.dtype.kind == "c"
