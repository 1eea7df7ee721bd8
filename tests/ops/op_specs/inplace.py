"""In-place forms (add_, x += y, zero_, fill_, copy_, ...) and in-place writes into views, whose
changes the base's graph must see (PyTorch's CopySlices).
"""
import operator
import numpy as np

from gradlab.testing import OpSpec, grid_floats
from gradlab.testing.strategies import shapes as shape_strategy
from ._common import SCALARS, _into_shapes, _np_scalar


def _inplace_method(name):
    def fn(lib, x, y):
        z = x * 1
        out = getattr(z, name)(y)
        assert out is z
        return z
    return fn


def _augmented(op):
    def fn(lib, x, y):
        z = x * 1
        before = id(z)
        z = op(z, y)
        assert id(z) == before
        return z
    return fn


def _zero(lib, x):
    z = x * 2
    z.zero_()
    return z + x


def _fill(lib, x, v):
    z = x * 2
    z.fill_(v)
    return z * x


# ---- in-place writes into views: the base's graph must see them (PyTorch's CopySlices) ----------
def _view_row_mul(lib, x, y):
    z = x * 1
    z[0].mul_(y[0])
    return z


def _np_view_row_mul(x, y):
    z = x.copy()
    z[0] *= y[0]
    return z


def _view_chain_add(lib, x, y):
    z = x * 1
    z.t().t().view(-1)[1:].unsqueeze(0).add_(y.reshape(-1)[:-1] ** 2)
    return z


def _np_view_chain_add(x, y):
    z = x.copy()
    z.reshape(-1)[1:] += y.reshape(-1)[:-1] ** 2
    return z


def _view_then_base(lib, x, y):
    z = x * 1
    row = z[-1]
    z.mul_(y)
    return row * 3


def _view_zero(lib, x):
    z = x * 2
    z[:, :1].zero_()
    return z * x


def _np_view_zero(x):
    z = x * 2
    z[:, :1] = 0
    return z * x


def _view_setitem(lib, x, y):
    z = x * 1
    row = z.unsqueeze(0)[0, 0]
    row[0] = y[0, 0] * 4
    return z


def _np_view_setitem(x, y):
    z = x.copy()
    z[0, 0] = y[0, 0] * 4
    return z


_MATRICES = shape_strategy(min_dims=2, max_dims=2, max_side=4).map(lambda s: (s, s))


def _copy_into(lib, x, y):
    z = x * 2
    z.copy_(y)
    return z * x


SPECS = [
    OpSpec("add_", _inplace_method("add_"), np.add, arity=2, shapes=_into_shapes(), int_dtypes=("int64",)),
    OpSpec("sub_", _inplace_method("sub_"), np.subtract, arity=2, shapes=_into_shapes()),
    OpSpec("mul_", _inplace_method("mul_"), np.multiply, arity=2, shapes=_into_shapes(), int_dtypes=("int64",)),
    OpSpec("div_", _inplace_method("div_"), np.true_divide, arity=2, shapes=_into_shapes(),
           elements=[grid_floats(-3, 3), grid_floats(-3, 3, avoid=(0,), margin=0.2)]),
    OpSpec("iadd", _augmented(operator.iadd), np.add, arity=2, shapes=_into_shapes(), int_dtypes=("int64",)),
    OpSpec("isub", _augmented(operator.isub), np.subtract, arity=2, shapes=_into_shapes()),
    OpSpec("imul", _augmented(operator.imul), np.multiply, arity=2, shapes=_into_shapes()),
    OpSpec("itruediv", _augmented(operator.itruediv), np.true_divide, arity=2, shapes=_into_shapes(),
           elements=[grid_floats(-3, 3), grid_floats(-3, 3, avoid=(0,), margin=0.2)]),
    OpSpec("iadd_scalar", lambda lib, x, s: _augmented(operator.iadd)(lib, x, s), _np_scalar(operator.add),
           kwargs={"s": SCALARS}),
    OpSpec("imul_scalar", lambda lib, x, s: _augmented(operator.imul)(lib, x, s), _np_scalar(operator.mul),
           kwargs={"s": SCALARS}),
    OpSpec("zero_", _zero, lambda x: x.copy(), int_dtypes=("int64",)),
    OpSpec("fill_", _fill, lambda x, v: x * v, kwargs={"v": SCALARS}),
    OpSpec("exp_", lambda lib, x: (x * 1).exp_(), np.exp),
    OpSpec("clamp_", lambda lib, x: (x * 1).clamp_(-1.0 + 1 / 64, 1.0 + 1 / 64), lambda x: np.clip(
        x, -1.0 + 1 / 64, 1.0 + 1 / 64)),
    OpSpec("view_row_mul_", _view_row_mul, _np_view_row_mul, arity=2, shapes=_MATRICES),
    OpSpec("view_chain_add_", _view_chain_add, _np_view_chain_add, arity=2, shapes=_MATRICES),
    OpSpec("view_then_base_mul_", _view_then_base, lambda x, y: (x * y)[-1] * 3, arity=2, shapes=_MATRICES),
    OpSpec("view_zero_", _view_zero, _np_view_zero, min_dims=2, max_dims=2),
    OpSpec("view_setitem", _view_setitem, _np_view_setitem, arity=2, shapes=_MATRICES),
    OpSpec("addcmul_", lambda lib, x, a, b: (x * 1).addcmul_(a, b, value=0.5), lambda x, a, b: x + 0.5 * a * b,
           arity=3, broadcast=False),
    OpSpec("addcdiv_", lambda lib, x, a, b: (x * 1).addcdiv_(a, b, value=-2), lambda x, a, b: x - 2 * a / b,
           arity=3, broadcast=False, elements=[grid_floats(-3, 3), grid_floats(-3, 3),
                                               grid_floats(0.5, 3)]),
    OpSpec("fill_tensor_", _fill, lambda x, v: x * v, arity=2,
           shapes=shape_strategy(max_dims=3).map(lambda s: (s, ()))),
    OpSpec("copy_", _copy_into, lambda x, y: np.broadcast_to(y, x.shape) * x, arity=2, shapes=_into_shapes()),
]

GRADGRAD_SPECS = []
