"""linear: y = x @ W^T + b as one node (nn.Linear's op).

Its backward runs two matrix products and a sum, on arrays when no graph of the
backward is wanted (``fast``): the weight's gradient ``g^T @ x`` hands the
transposed ``g`` to BLAS as a flag, not a copy, and the input's rows flattened
in the forward are reused, not flattened (perhaps copied) again.
"""
import numpy as np

from ..._tensor import Tensor
from ...autograd.record import record
from ..linalg import _product
from ..registry import op


@op(method=False, function=False, nn=True)
def linear(x, weight, bias=None):
    """y = x @ W^T + b in one node (W is out_features x in_features, as nn.Linear stores it)."""
    if x._data.ndim == 0 or x._data.shape[-1] != weight._data.shape[-1]:
        rows = int(np.prod(x._data.shape[:-1])) if x._data.ndim else 1
        cols = x._data.shape[-1] if x._data.ndim else 1
        raise RuntimeError(f"linear: mat1 and mat2 shapes cannot be multiplied ({rows}x{cols} and "
                           f"{weight._data.shape[-1]}x{weight._data.shape[0]}): input {tuple(x.shape)}, "
                           f"weight {tuple(weight.shape)}")
    if x._data.dtype != weight._data.dtype:
        raise RuntimeError(f"linear: mat1 and mat2 must have the same dtype, but got {x.dtype} (input) and "
                           f"{weight.dtype} (weight)")
    n_out, n_in = weight._data.shape
    # leading dims flattened into rows: one 2-D product on the matmul kernel, whatever the input's rank
    rows = x._data if x._data.ndim == 2 else x._data.reshape(-1, n_in)
    # the bias goes into the product (the kernel starts each row's sums from it) when it is one per output
    fused = bias is not None and bias._data.shape == (n_out,)
    out = _product(rows, weight._data.T, bias._data if fused else None)
    if x._data.ndim != 2:
        out = out.reshape(x._data.shape[:-1] + (n_out,))
    if bias is not None and not fused:
        out += bias._data

    def backward(g):
        """grad_x = g @ W; grad_W = g.T @ x; grad_b = g summed over the rows"""
        g2 = g if g._data.ndim == 2 else g.reshape(-1, n_out)
        gx = None
        if x._requires_grad:
            gx = g2 @ weight if x._data.ndim == 2 else (g2 @ weight).reshape(x.shape)
        gw = g2.t() @ x.reshape(-1, n_in) if weight._requires_grad else None
        gb = g2.sum(0) if bias is not None and bias._requires_grad else None
        return (gx, gw) if bias is None else (gb, gx, gw)

    def fast(g):  # the same products on arrays, without an op (and its checks) per product
        g2 = g._data if g._data.ndim == 2 else g._data.reshape(-1, n_out)
        gx = gw = gb = None
        if x._requires_grad:
            gx = _product(g2, weight._data)
            gx = _wrap(gx if x._data.ndim == 2 else gx.reshape(x._data.shape))
        if weight._requires_grad:
            gw = _wrap(_product(g2.T, rows))
        if bias is not None and bias._requires_grad:
            gb = _wrap(g2.sum(0))
        return (gx, gw) if bias is None else (gb, gx, gw)
    if bias is None:
        return record(out, "MmBackward0", backward, (x, weight), saved=(x, weight), fast=fast)
    # inputs in addmm's order (bias, x, weight), so next_functions read as PyTorch's
    return record(out, "AddmmBackward0", backward, (bias, x, weight), saved=(x, weight), fast=fast)


_wrap = Tensor._wrap
