"""Helpers the nn op files share."""
from ..._tensor import Tensor


def _keep_output(out):
    """Mark ``out`` as a value its own backward reads (version-checked like any saved input)."""
    if out.grad_fn is not None:
        out.grad_fn.saved = ((out, out._version_counter[0]),)
    return out


def _check_float(x, op):
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating-point input, got {x.dtype}")


def _float_array(x, op):
    _check_float(x, op)
    return x._data


def _mask(condition):
    """A boolean array as a constant Tensor (backward multiplies or selects by it)."""
    return Tensor._wrap(condition)
