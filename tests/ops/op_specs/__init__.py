"""Every op of the Tensor surface, described once as an OpSpec for the factory in test_ops.py.

One module per op family, named as its file in gradlab/ops/ (the specs of ``kthvalue``
are in ``sort.py``, beside gradlab/ops/sort.py's), plus ``inplace`` for the in-place
forms and writes into views.  Each module gives SPECS (checked against NumPy, by
gradcheck and against PyTorch) and GRADGRAD_SPECS (second derivatives, small inputs).
"""
from . import (arithmetic, compare, diagonal, index, inplace, join_split, linalg, reduce, scatter, shape, sort, special,
               unary)

FAMILIES = {module.__name__.rsplit(".", 1)[-1]: module for module in (
    arithmetic, compare, unary, reduce, sort, shape, join_split, diagonal, index, scatter, linalg, special, inplace)}
ALL_SPECS = [spec for module in FAMILIES.values() for spec in module.SPECS]
GRADGRAD_SPECS = [spec for module in FAMILIES.values() for spec in module.GRADGRAD_SPECS]
