"""Matrix products: matmul and its special cases (mm, bmm, dot, mv, outer, addmm).

For C = A @ B the gradients are dA = dC @ B^T and dB = A^T @ dC; batch
dimensions broadcast, so each gradient is summed back to its input's shape.
One-dimensional operands are treated as a row (left) or column (right)
vector, as NumPy and PyTorch do, and the added axis is removed again.
"""
import numpy as np

from .. import kernels
from .._tensor import Tensor
from ..autograd.function import record
from ._common import promote, sum_to

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _product(x, y):
    """x @ y on ndarrays.  Float matrices go to the matmul kernel, which runs on
    gradlab's kernel threads (see gradlab_ext/matmul.pyx); the rest to NumPy."""
    if x.ndim == 2 and y.ndim == 2 and x.dtype == y.dtype and x.dtype in _FLOATS:
        return kernels.matmul(x, y)
    return np.matmul(x, y)


def _matmul_error(op, a, b):
    return RuntimeError(f"{op}: mat1 and mat2 shapes cannot be multiplied "
                        f"({'x'.join(map(str, a)) or 'scalar'} and {'x'.join(map(str, b)) or 'scalar'})")


def _matmul_shape_error(a, b):
    """Say which part of the operands' shapes disagrees: the inner sizes or the batch dimensions."""
    inner_b = b[-2] if len(b) > 1 else b[0]
    if a[-1] != inner_b:
        return _matmul_error("matmul", a, b)
    batch_a, batch_b = a[:-2], b[:-2]
    return RuntimeError(f"matmul: the batch dimensions {list(batch_a)} of the first operand (shape {list(a)}) and "
                        f"{list(batch_b)} of the second (shape {list(b)}) do not broadcast")


def matmul(a, b):
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul: expected Tensor arguments, got {type(a).__name__} and {type(b).__name__}")
    if a._data.ndim == 0 or b._data.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a._data.ndim}D and {b._data.ndim}D")
    a, b = promote(a, b)
    try:
        out = _product(a._data, b._data)
    except ValueError:
        raise _matmul_shape_error(a._data.shape, b._data.shape) from None
    a_shape, b_shape = a._data.shape, b._data.shape
    # the product of the operands lifted to matrices has shape out2_shape
    a2_shape = (1,) + a_shape if len(a_shape) == 1 else a_shape
    b2_shape = b_shape + (1,) if len(b_shape) == 1 else b_shape
    if len(a2_shape) == 2 and len(b2_shape) == 2:  # the common case, without np.broadcast_shapes' cost
        out2_shape = (a2_shape[0], b2_shape[1])
    else:
        out2_shape = np.broadcast_shapes(a2_shape[:-2], b2_shape[:-2]) + (a2_shape[-2], b2_shape[-1])

    def lifted(t, shape):
        return t if t._data.shape == shape else t.reshape(shape)

    def backward(g):
        a2, b2, g2 = lifted(a, a2_shape), lifted(b, b2_shape), lifted(g, out2_shape)
        ga = gb = None
        if a._requires_grad:
            ga = g2 @ b2.mT
            ga = lifted(sum_to(ga, a2_shape), a_shape)
        if b._requires_grad:
            gb = a2.mT @ g2
            gb = lifted(sum_to(gb, b2_shape), b_shape)
        return ga, gb
    name = {(1, 1): "DotBackward0", (2, 2): "MmBackward0", (2, 1): "MvBackward0"}.get((len(a_shape), len(b_shape)), "MatmulBackward0")
    return record(out, name,
                  backward, (a, b), saved=(a, b))


def mm(a, b):
    if a._data.ndim != 2 or b._data.ndim != 2:
        raise RuntimeError(f"mm: expected 2D tensors, got {a._data.ndim}D and {b._data.ndim}D "
                           f"(shapes {list(a._data.shape)} and {list(b._data.shape)})")
    if a._data.shape[1] != b._data.shape[0]:
        raise _matmul_error("mm", a._data.shape, b._data.shape)
    return matmul(a, b)


def bmm(a, b):
    if a._data.ndim != 3 or b._data.ndim != 3:
        raise RuntimeError(f"bmm: batch1 must be a 3D tensor and batch2 must be a 3D tensor "
                           f"(got shapes {list(a._data.shape)} and {list(b._data.shape)})")
    if a._data.shape[0] != b._data.shape[0] or a._data.shape[2] != b._data.shape[1]:
        raise RuntimeError(f"bmm: expected shapes [b, n, m] and [b, m, p], got {list(a._data.shape)} and "
                           f"{list(b._data.shape)}")
    out = matmul(a, b)
    if out.grad_fn is not None:
        out.grad_fn._name = "BmmBackward0"  # PyTorch's name for this op's node
    return out


def dot(a, b):
    if a._data.ndim != 1 or b._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a._data.ndim}D and {b._data.ndim}D tensors")
    if a._data.shape[0] != b._data.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a._data.shape[0]}] and src "
                           f"[{b._data.shape[0]}] to have the same number of elements, but got "
                           f"{a._data.shape[0]} and {b._data.shape[0]} elements respectively")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {a.dtype} and {b.dtype}")
    return matmul(a, b)


inner = dot


def mv(a, v):
    if a._data.ndim != 2 or v._data.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {a._data.ndim}D and {v._data.ndim}D")
    return matmul(a, v)


def outer(a, b):
    return a.unsqueeze(1) * b.unsqueeze(0)


ger = outer


def addmm(bias, a, b, beta=1, alpha=1):
    """beta * bias + alpha * (a @ b) in one node, as PyTorch (AddmmBackward0)."""
    if a._data.ndim != 2 or b._data.ndim != 2 or a._data.shape[1] != b._data.shape[0]:
        raise _matmul_error("addmm", a._data.shape, b._data.shape)
    a, b = promote(a, b)
    product = _product(a._data, b._data)
    try:
        out = (product * alpha if alpha != 1 else product) + (bias._data * beta if beta != 1 else bias._data)
    except ValueError:
        raise RuntimeError(f"addmm: the bias of shape {list(bias._data.shape)} does not broadcast to the "
                           f"product's shape {list(product.shape)}") from None

    def backward(g):
        ga = g * alpha if alpha != 1 else g
        return (sum_to(g * beta if beta != 1 else g, bias._data.shape) if bias._requires_grad else None,
                ga @ b.mT if a._requires_grad else None,
                a.mT @ ga if b._requires_grad else None)
    return record(out.astype(product.dtype, copy=False), "AddmmBackward0", backward, (bias, a, b), saved=(a, b))


def einsum(equation, *operands):
    """A differentiable einsum for explicit equations ('ij,jk->ik')."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    if "->" not in equation:
        raise NotImplementedError("gradlab.einsum needs an explicit output ('ij,jk->ik')")
    ins, out_spec = equation.replace(" ", "").split("->")
    in_specs = ins.split(",")
    out = np.einsum(equation, *[o._data for o in operands])

    def backward(g):
        grads = []
        for i, t in enumerate(operands):
            if not t._requires_grad:
                grads.append(None)
                continue
            others = [s for j, s in enumerate(in_specs) if j != i]
            spec = ",".join([out_spec] + others) + "->" + in_specs[i]
            full = einsum(spec, g, *[o for j, o in enumerate(operands) if j != i])
            grads.append(full)
        return tuple(grads)
    return record(np.asarray(out), "EinsumBackward0", backward, tuple(operands), saved=tuple(operands))


def trace(a):
    """The sum of a matrix's diagonal."""
    if a._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got a tensor of shape {list(a._data.shape)}")
    shape = a._data.shape
    out = np.asarray(np.trace(a._data), dtype=np.int64 if a._data.dtype.kind in "biu" else a._data.dtype)
    # the gradient is g on the diagonal, 0 elsewhere
    return record(out, "TraceBackward0", lambda g: (g * Tensor._wrap(np.eye(*shape, dtype=g._data.dtype)),), (a,))
