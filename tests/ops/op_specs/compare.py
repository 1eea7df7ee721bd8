"""The comparisons, logical and bitwise ops, where / masked_fill and the float tests (isnan, signbit,
isposinf, ...) of gradlab/ops/compare.py.
"""
import operator

import numpy as np
from hypothesis import strategies as st

from gradlab.testing import OpSpec
from gradlab.testing.strategies import shapes as shape_strategy
from ._common import SCALARS, _binary, _scalar_right, _into_shapes, _method, _function, SPECIAL_VALUES


def _np_log_flags(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(x)
    return np.isnan(y), np.isinf(y), np.isfinite(y)


SPECS = [
    OpSpec(name, _binary(op), op, arity=2, grad=False, int_dtypes=("int64",), domain=(-2, 2))
    for name, op in [("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt), ("le", operator.le),
                     ("gt", operator.gt), ("ge", operator.ge)]
] + [
    OpSpec(f"{name}_scalar", _scalar_right(op), lambda x, s, op=op: op(x, s), grad=False,
           int_dtypes=("int64",), domain=(-2, 2), kwargs={"s": st.sampled_from([0, 1, -0.5, 1.5])})
    for name, op in [("eq", operator.eq), ("lt", operator.lt), ("ge", operator.ge)]
] + [
    OpSpec(name, _function(name), getattr(np, name), arity=2, dtypes=(), int_dtypes=("int64", "int32", "bool"),
           domain=(-20, 20))
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor")
] + [
    OpSpec("logical_and", lambda lib, x, y: (x > 0) & (y < 0), lambda x, y: (x > 0) & (y < 0), arity=2,
           grad=False),
    OpSpec("logical_or", lambda lib, x, y: (x > 0) | (y < 0), lambda x, y: (x > 0) | (y < 0), arity=2,
           grad=False),
    OpSpec("logical_not", lambda lib, x: ~(x > 0), lambda x: ~(x > 0), grad=False),
    OpSpec("where", lambda lib, x, y: lib.where(x > 0, x, y), lambda x, y: np.where(x > 0, x, y), arity=2,
           avoid=(0,), int_dtypes=("int64",)),
    OpSpec("where_three_inputs", lambda lib, c, x, y: lib.where(c > 0, x, y), lambda c, x, y: np.where(c > 0, x, y),
           arity=3, grad_inputs=(1, 2)),
    OpSpec("where_scalar_other", lambda lib, x: lib.where(x > 0, x, 0.0), lambda x: np.where(x > 0, x, 0.0),
           avoid=(0,)),
    OpSpec("where_two_numbers", lambda lib, x: (lib.where(x > 0, 1, 0.5), lib.where(x > 0, 2, -1)),
           lambda x: (np.where(x > 0, 1, 0.5).astype(np.float32), np.where(x > 0, 2, -1)), grad=False),
    OpSpec("tensor_where", lambda lib, x, y: x.where(y > 0, y), lambda x, y: np.where(y > 0, x, y), arity=2,
           avoid=(0,)),
    OpSpec("masked_fill", lambda lib, x, y, v: x.masked_fill(y > 0, v), lambda x, y, v: np.where(y > 0, np.asarray(v).astype(x.dtype), x),
           arity=2, shapes=_into_shapes(), grad_inputs=(0,), kwargs={"v": SCALARS}, int_dtypes=("int64",)),
    OpSpec("masked_fill_tensor_value", lambda lib, x, v: x.masked_fill(x > 0, v),
           lambda x, v: np.where(x > 0, v, x), arity=2, avoid=(0,),
           shapes=shape_strategy(max_dims=3).map(lambda s: (s, ()))),
    OpSpec("masked_fill_", lambda lib, x: (x * 1).masked_fill_(x < 0, -1.0), lambda x: np.where(x < 0, -1.0, x),
           avoid=(0,)),
    OpSpec("isnan_isinf_isfinite", lambda lib, x: (x.log().isnan(), x.log().isinf(), x.log().isfinite()),
           lambda x: _np_log_flags(x), elements=st.sampled_from([0.0, -1.0, 0.5, 2.0]), grad=False),
    OpSpec("signbit", _function("signbit"), np.signbit, elements=SPECIAL_VALUES, grad=False),
    OpSpec("signbit_int", _method("signbit"), np.signbit, dtypes=(), int_dtypes=("int64", "int32")),
    OpSpec("isposinf_isneginf", lambda lib, x: (lib.isposinf(x), x.isneginf()),
           lambda x: (np.isposinf(x), np.isneginf(x)), elements=SPECIAL_VALUES, grad=False),
    OpSpec("bitwise_methods_scalar", lambda lib, x: (x.bitwise_and(6), x.bitwise_or(1), x.bitwise_xor(3)),
           lambda x: (x & 6, x | 1, x ^ 3), dtypes=(), int_dtypes=("int64", "int32"), domain=(-20, 20)),
    OpSpec("bitwise_operators", lambda lib, x, y: (x & y, x | y, x ^ y, ~x), lambda x, y: (x & y, x | y, x ^ y, ~x),
           arity=2, dtypes=(), int_dtypes=("int64", "bool"), domain=(-20, 20)),
]

GRADGRAD_SPECS = []
