"""``F.linear`` (the op in ``ops/nn/linear.py``) and ``F.bilinear`` (an einsum)."""
from ...ops import linalg as _linalg
from ...ops.nn import linear as _op

__all__ = ["linear", "bilinear"]


def linear(input, weight, bias=None):
    """y = input @ weight^T + bias."""
    return _op.linear(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """y_k = x1^T W_k x2 + b_k for weight (out, in1, in2)."""
    # the leading dims flattened into one: einsum's backward cannot sum out an ellipsis
    batch = input1.shape[:-1]
    flat1, flat2 = input1.reshape(-1, input1.shape[-1]), input2.reshape(-1, input2.shape[-1])
    out = _linalg.einsum("bi,kij,bj->bk", flat1, weight, flat2).reshape(*batch, weight.shape[0])
    return out if bias is None else out + bias
