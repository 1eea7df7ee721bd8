"""Matrix products: matmul and its special cases (mm, bmm, dot, mv, outer, addmm); det, inverse, pinverse,
matrix_power, cross, cdist and block_diag.  (The decompositions are in decompositions.py.)

For C = A @ B the gradients are dA = dC @ B^T and dB = A^T @ dC; batch
dimensions broadcast, so each gradient is summed back to its input's shape.
One-dimensional operands are treated as a row (left) or column (right)
vector, as NumPy and PyTorch do, and the added axis is removed again.
"""
import warnings
from collections import namedtuple

import numpy as np

from .. import _dtype, kernels
from .._tensor import Tensor
from ..autograd.record import record
from ._common import as_tensor_operand, broadcast_error, normalize_dim, promote, sum_to
from .arithmetic import _by_number
from .unary import clone
from .registry import op

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _product(x, y, bias=None):
    """x @ y (+ bias on every row: an array of y's columns) on ndarrays.  Float matrices of one dtype go to the
    matmul kernel, which runs on gradlab's kernel threads (see gradlab_ext/matmul.pyx); the rest to NumPy."""
    if x.ndim == 2 and y.ndim == 2 and x.dtype == y.dtype and x.dtype in _FLOATS \
            and (bias is None or bias.dtype == x.dtype):
        return kernels.matmul(x, y, bias)
    out = np.matmul(x, y)
    if bias is not None:
        out += bias
    return out


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


@op(method=False, function=False, operator="__matmul__ __rmatmul__")
def _matmul_operator(a, b):
    """``a @ b`` (and ``[[1, 2]] @ b``): a list or array operand becomes a tensor."""
    return matmul(as_tensor_operand(a), as_tensor_operand(b))


@op()
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
        """grad_a = g @ b.T; grad_b = a.T @ g (summed over broadcast batch dims)"""
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


@op()
def mm(a, b):
    if a._data.ndim != 2 or b._data.ndim != 2:
        raise RuntimeError(f"mm: expected 2D tensors, got {a._data.ndim}D and {b._data.ndim}D "
                           f"(shapes {list(a._data.shape)} and {list(b._data.shape)})")
    if a._data.shape[1] != b._data.shape[0]:
        raise _matmul_error("mm", a._data.shape, b._data.shape)
    return matmul(a, b)


@op()
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


@op(alias="inner")
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


@op()
def mv(a, v):
    if a._data.ndim != 2 or v._data.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {a._data.ndim}D and {v._data.ndim}D")
    return matmul(a, v)


@op(method="outer", alias="ger")
def outer(a, b):
    return a.unsqueeze(1) * b.unsqueeze(0)


ger = outer


@op(inplace=True)
def addmm(bias, a, b, beta=1, alpha=1):
    """beta * bias + alpha * (a @ b) in one node, as PyTorch (AddmmBackward0)."""
    if a._data.ndim != 2 or b._data.ndim != 2 or a._data.shape[1] != b._data.shape[0]:
        raise _matmul_error("addmm", a._data.shape, b._data.shape)
    a, b = promote(a, b)
    product = _product(a._data, b._data)
    try:
        if beta == 0:  # the bias is ignored, so its NaNs and infs do not spread (as PyTorch)
            scaled_bias = np.zeros_like(bias._data)
        else:
            scaled_bias = bias._data * beta if beta != 1 else bias._data
        out = (product * alpha if alpha != 1 else product) + scaled_bias
    except ValueError:
        raise RuntimeError(f"addmm: the bias of shape {list(bias._data.shape)} does not broadcast to the "
                           f"product's shape {list(product.shape)}") from None

    def backward(g):
        """grad_bias = beta * g (summed to bias's shape); grad_a = alpha * g @ b.T; grad_b = alpha * a.T @ g"""
        ga = g * alpha if alpha != 1 else g
        return (sum_to(g * beta if beta != 1 else g, bias._data.shape) if bias._requires_grad else None,
                ga @ b.mT if a._requires_grad else None,
                a.mT @ ga if b._requires_grad else None)
    return record(out.astype(product.dtype, copy=False), "AddmmBackward0", backward, (bias, a, b), saved=(a, b))


@op(method=False)
def einsum(equation, *operands):
    """A differentiable einsum ('ij,jk->ik'; without '->' the output is implicit, as PyTorch's)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    equation = equation.replace(" ", "")
    if "->" not in equation:
        equation += "->" + _implicit_output(equation)
    ins, out_spec = equation.split("->")
    if "..." in ins and "..." not in out_spec:  # ellipsis dims left out of the output are summed, as PyTorch
        kept = einsum(ins + "->..." + out_spec, *operands)
        return kept.sum(tuple(range(kept.dim() - len(out_spec)))) if kept.dim() > len(out_spec) else kept
    in_specs = ins.split(",")
    try:
        out = np.einsum(equation, *[o._data for o in operands])
    except ValueError as e:  # NumPy's message names neither the op nor the shapes
        shapes = ", ".join(str(list(o._data.shape)) for o in operands)
        raise RuntimeError(f"einsum(): the equation '{equation}' does not fit operands of shapes {shapes} "
                           f"({e})") from None

    def backward(g):
        return tuple(_einsum_grad(g, i, in_specs, out_spec, operands) if t._requires_grad else None
                     for i, t in enumerate(operands))
    return record(np.asarray(out), "EinsumBackward0", backward, tuple(operands), saved=tuple(operands))


def _implicit_output(ins):
    """The output of an equation without '->': the ellipsis dims, then the letters that appear exactly
    once, in alphabetical order ('ij,jk' is 'ij,jk->ik')."""
    letters = ins.replace("...", "").replace(",", "")
    once = sorted(c for c in set(letters) if letters.count(c) == 1)
    return ("..." if "..." in ins else "") + "".join(once)


def _einsum_grad(g, i, in_specs, out_spec, operands):
    """Operand i's gradient: g contracted with the other operands, back to operand i's subscripts.

    Three things keep that from being one einsum: a letter only operand i has
    (summed away, as j in 'ij->i') comes back as a broadcast; the ellipsis
    dims are summed down to operand i's own (it may have broadcast); and a
    repeated letter ('ii->i') puts the gradient on a diagonal.
    """
    spec, t = in_specs[i], operands[i]
    before, _, after = spec.partition("...")  # operand i's letters either side of its ellipsis
    n_ellipsis = t._data.ndim - len(before) - len(after)
    shape = t._data.shape
    size = dict(zip(before + after, shape[:len(before)] + shape[len(shape) - len(after):]))
    ellipsis_shape = shape[len(before):len(before) + n_ellipsis]

    sources = [out_spec] + [s for j, s in enumerate(in_specs) if j != i]
    letters = list(dict.fromkeys(before + after))  # each letter once
    kept = [c for c in letters if any(c in s for s in sources)]
    has_ellipsis = any("..." in s for s in sources)
    grad = einsum(",".join(sources) + "->" + ("..." if has_ellipsis else "") + "".join(kept),
                  g, *[o for j, o in enumerate(operands) if j != i])
    grad = sum_to(grad, ellipsis_shape + tuple(size[c] for c in kept))
    for c in letters:  # letters summed away come back, each as a broadcast dim
        if c not in kept:
            axis = n_ellipsis + letters.index(c)
            grad = grad.unsqueeze(axis).expand(*grad.shape[:axis], size[c], *grad.shape[axis:])
    # grad is laid out as (ellipsis dims, letters once each); lay it out as operand i is
    if len(letters) == len(before + after):  # no repeated letter: a permutation
        dims = [n_ellipsis + letters.index(c) for c in before + after]
        return grad.permute(*(dims[:len(before)] + list(range(n_ellipsis)) + dims[len(before):]))
    full = np.zeros(shape, dtype=grad._data.dtype)  # a repeated letter: onto the diagonal
    np.einsum(spec + "->..." + "".join(letters), full)[...] = grad._data
    return Tensor._wrap(full)


@op()
def trace(a):
    """The sum of a matrix's diagonal."""
    if a._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got a tensor of shape {list(a._data.shape)}")
    shape = a._data.shape
    out = np.asarray(np.trace(a._data), dtype=np.int64 if a._data.dtype.kind in "biu" else a._data.dtype)
    # the gradient is g on the diagonal, 0 elsewhere
    return record(out, "TraceBackward0", lambda g: (g * Tensor._wrap(np.eye(*shape, dtype=g._data.dtype)),), (a,))


# ---- products added to a tensor: addmv, addr, baddbmm, addbmm (addmm above) -----------------------------------
def _scaled(x, factor):
    """x * factor, skipping the multiplication by 1 (it would turn a bool product into an int one)."""
    return x * factor if factor != 1 else x


def _plus_scaled_input(op, bias, product, beta, alpha):
    """beta * bias + alpha * product on arrays, bias broadcast to the product's shape.

    With beta = 0 the bias is ignored, so its NaNs and infs do not spread (as PyTorch).
    """
    for name, factor in (("beta", beta), ("alpha", alpha)):
        if product.dtype.kind in "iu" and isinstance(factor, float):
            raise RuntimeError(f"{op}: For integral input tensors, argument {name} must not be a floating point "
                               f"number (got {name}={factor})")
    try:
        bias = np.broadcast_to(bias, product.shape)
    except ValueError:
        raise RuntimeError(f"{op}: size mismatch, the input of shape {list(np.shape(bias))} does not broadcast to "
                           f"the product's shape {list(product.shape)}") from None
    scaled = _scaled(product, alpha)
    out = np.array(scaled, dtype=product.dtype) if beta == 0 else scaled + _scaled(bias, beta)
    return np.asarray(out).astype(product.dtype, copy=False)


def _add_product(op, name, bias, a, b, beta, alpha, product_grads):
    """beta * bias + alpha * (a (x) b) as one node ``name``; ``product_grads(g)`` gives the product's
    gradients for a and b from the output gradient."""
    a, b = promote(a, b)
    out = _plus_scaled_input(op, bias._data, np.matmul(a._data, b._data) if name != "AddrBackward0"
                             else np.multiply.outer(a._data, b._data), beta, alpha)

    def backward(g):
        ga, gb = product_grads(_scaled(g, alpha))
        return (sum_to(_scaled(g, beta), bias._data.shape) if bias._requires_grad else None,
                ga if a._requires_grad else None, gb if b._requires_grad else None)
    return record(out, name, backward, (bias, a, b), saved=(a, b))


@op(inplace=True)
def addmv(input, mat, vec, *, beta=1, alpha=1):
    """beta * input + alpha * (mat @ vec)."""
    fits = mat._data.ndim == 2 and vec._data.ndim == 1 and mat._data.shape[1] == vec._data.shape[0] and \
        input._data.ndim <= 1 and input._data.size in (1, mat._data.shape[0])
    if not fits:
        raise RuntimeError(f"addmv: size mismatch, got input ({', '.join(map(str, input._data.shape))}), mat "
                           f"({'x'.join(map(str, mat._data.shape))}), vec ({'x'.join(map(str, vec._data.shape))})")
    return _add_product("addmv", "AddmvBackward0", input, mat, vec, beta, alpha,
                        lambda g: (outer(g, vec), mat.t().mv(g)))


@op(inplace=True)
def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """beta * input + alpha * outer(vec1, vec2)."""
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        if v._data.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v._data.ndim}-D")
    return _add_product("addr", "AddrBackward0", input, vec1, vec2, beta, alpha,
                        lambda g: (g.mv(vec2), g.t().mv(vec1)))


def _check_batches(op, batch1, batch2):
    for name, t in (("batch1", batch1), ("batch2", batch2)):
        if t._data.ndim != 3:
            raise RuntimeError(f"{op}: {name} must be a 3D tensor (got shape {list(t._data.shape)})")
    (n1, _, inner), (n2, inner2, _) = batch1._data.shape, batch2._data.shape
    if n1 != n2:
        raise RuntimeError(f"{op}: batch1 and batch2 must have same number of batches, got {n1} and {n2}")
    if inner != inner2:
        raise RuntimeError(f"{op}: Expected size for first two dimensions of batch2 tensor to be: [{n1}, {inner}] "
                           f"but got: [{n2}, {inner2}].")


@op(inplace=True)
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * (batch1 @ batch2), matrix by matrix over the batch."""
    _check_batches("baddbmm", batch1, batch2)
    return _add_product("baddbmm", "BaddbmmBackward0", input, batch1, batch2, beta, alpha,
                        lambda g: (g @ batch2.mT, batch1.mT @ g))


@op(inplace=True)
def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * (the sum over the batch of batch1[i] @ batch2[i])."""
    _check_batches("addbmm", batch1, batch2)
    a, b = promote(batch1, batch2)
    out = _plus_scaled_input("addbmm", input._data, np.matmul(a._data, b._data).sum(axis=0), beta, alpha)

    def backward(g):
        gp = _scaled(g, alpha).unsqueeze(0)  # every batch's product got the whole gradient
        return (sum_to(_scaled(g, beta), input._data.shape) if input._requires_grad else None,
                gp @ b.mT if a._requires_grad else None, a.mT @ gp if b._requires_grad else None)
    return record(out, "AddbmmBackward0", backward, (input, a, b), saved=(a, b))


@op()
def vdot(a, b):
    """The dot product of two vectors (for real tensors, ``dot``)."""
    out = dot(a, b)
    if out.grad_fn is not None:
        out.grad_fn._name = "VdotBackward0"  # PyTorch's name for this op's node
    return out


@op(method=False)
def tensordot(a, b, dims=2):
    """Sum of products over the dims ``dims`` names: the last ``dims`` of a with the first of b (an int),
    or the listed dims (a pair of lists).

    Built as PyTorch builds it: both operands permuted and reshaped into
    matrices, one ``mm``, the result reshaped.
    """
    if isinstance(dims, Tensor):
        dims = dims.item() if dims._data.ndim == 0 else dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        dims_a, dims_b = list(range(a._data.ndim - dims, a._data.ndim)), list(range(dims))
    else:
        dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(dims_a) != len(dims_b):
        raise RuntimeError(f"tensordot: both dimension lists should have same length (got {dims_a} and {dims_b})")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"tensordot: both inputs should have same dtype (got {a.dtype} and {b.dtype})")
    dims_a = [normalize_dim(d, a._data.ndim, "tensordot") for d in dims_a]
    dims_b = [normalize_dim(d, b._data.ndim, "tensordot") for d in dims_b]
    for da, db in zip(dims_a, dims_b):
        if a._data.shape[da] != b._data.shape[db]:
            raise RuntimeError(f"tensordot: contracted dimensions need to match, but first has size "
                               f"{a._data.shape[da]} in dim {da} and second has size {b._data.shape[db]} in dim {db}")
    free_a = [d for d in range(a._data.ndim) if d not in dims_a]
    free_b = [d for d in range(b._data.ndim) if d not in dims_b]
    size = int(np.prod([a._data.shape[d] for d in dims_a]))
    # the free sizes are spelled out: -1 cannot be inferred when a contracted dim is empty
    rows, cols = (int(np.prod([t._data.shape[d] for d in free])) for t, free in ((a, free_a), (b, free_b)))
    left = a.permute(free_a + dims_a).reshape(rows, size) if a._data.ndim else a.reshape(1, 1)
    right = b.permute(dims_b + free_b).reshape(size, cols) if b._data.ndim else b.reshape(1, 1)
    shape = tuple(a._data.shape[d] for d in free_a) + tuple(b._data.shape[d] for d in free_b)
    return mm(left, right).reshape(shape)


# ---- determinants and inverses -------------------------------------------------------------------------------
class LinAlgError(RuntimeError):
    """A singular or not positive-definite matrix where an invertible (definite) one was needed
    (``gradlab.linalg.LinAlgError``, as torch.linalg.LinAlgError: a RuntimeError)."""


def _check_square(a, op, what="A"):
    if a._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor {what} must have at least 2 dimensions.")
    rows, cols = a._data.shape[-2:]
    if rows != cols:
        raise RuntimeError(f"{op}: {what} must be batches of square matrices, but they are {rows} by {cols} matrices")


def _check_float(a, op):
    if a._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {a.dtype}")


@op()
def det(a):
    """The determinant of each square matrix (the last two dims).

    d det(A) / dA = det(A) * inverse(A)^T for invertible A; for a singular A,
    the matrix of cofactors (from the SVD).
    """
    _check_square(a, "linalg.det")
    _check_float(a, "linalg.det")
    out = np.asarray(np.linalg.det(a._data), dtype=a._data.dtype)

    def backward(g):  # Tensor ops, differentiable again
        if np.all(out != 0):
            return ((g * result).unsqueeze(-1).unsqueeze(-1) * inverse(a).mT,)
        raise NotImplementedError("det: second derivatives at a singular matrix are not supported by gradlab")

    def fast(g):  # at a singular matrix too: the cofactors, on arrays
        if np.all(out != 0):
            return backward(g)
        return (g.unsqueeze(-1).unsqueeze(-1) * Tensor._wrap(_cofactors(a._data)),)
    result = record(out, "LinalgDetBackward0", backward, (a,), saved=(a,), saves_output=True, fast=fast)
    return result


def _cofactors(x):
    """The cofactor matrix of each matrix in x (the derivative of det), from the SVD: no division, so
    singular matrices too.  With A = U S V^T: cof(A) = det(U) det(V) U diag(prod_{j!=i} s_j) V^T."""
    u, s, vt = np.linalg.svd(x)
    n = s.shape[-1]
    ones = np.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    before = np.cumprod(np.concatenate([ones, s[..., :-1]], -1), -1)  # s_0 ... s_{i-1}
    after = np.flip(np.cumprod(np.concatenate([ones, np.flip(s, -1)[..., :-1]], -1), -1), -1)  # s_{i+1} ...
    others = before * after if n else s
    signs = np.linalg.det(u) * np.linalg.det(vt)
    return (signs[..., None, None] * (u * others[..., None, :]) @ vt).astype(x.dtype)


slogdet_result = namedtuple("slogdet", ["sign", "logabsdet"])


@op()
def slogdet(a):
    """(sign, log|det|) of each square matrix; the gradient of log|det A| is inverse(A)^T."""
    _check_square(a, "linalg.slogdet")
    _check_float(a, "linalg.slogdet")
    sign, logabsdet = np.linalg.slogdet(a._data)

    def backward(g):
        return (g.unsqueeze(-1).unsqueeze(-1) * inverse(a).mT,)
    out = record(np.asarray(logabsdet, dtype=a._data.dtype), "LinalgSlogdetBackward0", backward, (a,), saved=(a,))
    return slogdet_result(Tensor._wrap(np.asarray(sign, dtype=a._data.dtype)), out)


@op()
def logdet(a):
    """log(det(A)): NaN for a negative determinant, -inf for a zero one (a ``where`` over slogdet, as PyTorch)."""
    _check_float(a, "logdet")  # (slogdet's own check would name slogdet)
    sign, logabsdet = slogdet(a)
    from .compare import where
    return where(sign < 0, float("nan"), logabsdet)


@op()
def inverse(a):
    """The inverse of each square matrix.  d(A^-1) = -A^-1 dA A^-1, so the gradient is -A^-T g A^-T."""
    _check_square(a, "linalg.inv")
    _check_float(a, "linalg.inv")
    try:
        out = np.linalg.inv(a._data)
    except np.linalg.LinAlgError:
        raise LinAlgError(f"linalg.inv: the input matrix is singular (a {'batch of ' if a._data.ndim > 2 else ''}"
                           f"{'x'.join(map(str, a._data.shape[-2:]))} matrix of shape {list(a._data.shape)}), "
                           "the inversion could not be completed.") from None

    def backward(g):
        return (-(result.mT @ g @ result.mT),)
    result = record(out, "LinalgInvExBackward0", backward, (a,), saves_output=True)
    return result


@op()
def matrix_power(a, n):
    """A^n by repeated squaring (the inverse's power for negative n; the identity for n = 0)."""
    if not isinstance(n, (int, np.integer)):  # the squaring loop below would treat a float n as its integer part
        raise TypeError(f"matrix_power(): argument 'n' (position 2) must be int, not {type(n).__name__}")
    _check_square(a, "linalg.matrix_power")
    if n == 0:
        identity = np.broadcast_to(np.eye(a._data.shape[-1], dtype=a._data.dtype), a._data.shape)
        return clone(a).copy_(Tensor._wrap(identity))  # PyTorch's graph: a copy of the identity over a's clone
    inverted = n < 0
    if inverted:
        a, n = inverse(a), -n
    if n == 1:
        return a if inverted else clone(a)
    if n in (2, 3):
        return matmul(a, a) if n == 2 else matmul(matmul(a, a), a)
    square, result = None, None
    while n > 0:  # the binary digits of n, lowest first: multiply in a^(2^k) where digit k is 1
        digit, n = n % 2, n // 2
        square = a if square is None else matmul(square, square)
        if digit:
            result = square if result is None else matmul(result, square)
    return result


@op()
def pinverse(a, rcond=1e-15):
    """The Moore-Penrose pseudo-inverse (from the SVD; singular values at most rcond * the largest are dropped)."""
    return pinv_with_tolerance(a, atol=0.0, rtol=rcond)


def pinv_with_tolerance(a, atol, rtol):
    """pinv(A) = V diag(1/s) U^T over the singular values s > max(atol, rtol * the largest).

    Its gradient is PyTorch's (pinv_backward, ``_pinv_grad``), written with matmuls.
    """
    if a._data.ndim < 2 or a._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.pinv({a.dtype}{list(a._data.shape)}): expected a tensor with 2 or more "
                           "dimensions of float, double, cfloat or cdouble types")
    u, s, vh = np.linalg.svd(a._data, full_matrices=False)
    largest = s[..., :1] if s.shape[-1] else s
    kept = s > np.maximum(atol, rtol * largest)
    with np.errstate(divide="ignore"):
        s_inv = np.where(kept, 1 / np.where(kept, s, 1), 0)
    out = np.matmul(vh.swapaxes(-1, -2) * s_inv[..., None, :], u.swapaxes(-1, -2)).astype(a._data.dtype)
    result = record(out, "LinalgPinvBackward0", lambda g: (_pinv_grad(a, result, g),), (a,), saved=(a,),
                    saves_output=True)
    return result


def _pinv_grad(a, p, gp):
    """The gradient of P = pinv(A) for the upstream gradient gp of P (PyTorch's pinv_backward)."""
    m, n = a._data.shape[-2:]
    pt, gt = p.mT, gp.mT
    if m <= n:
        k = gt @ p
        kpt = k @ pt
        return -(p @ k).mT + kpt - (a @ p) @ kpt + (pt @ p) @ (gt - k @ a)
    k = p @ gt
    ptk = pt @ k
    return -(k @ p).mT + (gt - a @ k) @ p @ pt + ptk - ptk @ p @ a


# ---- statistics and geometry: cov, cross, trapezoid --------------------------------------------------------------
@op()
def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of ``input`` (observations in the columns).

    ``fweights`` (integer repeat counts) and ``aweights`` (float importance
    weights) weight the observations; ``correction`` = 1 is Bessel's.  Written
    with Tensor ops, as PyTorch computes it.
    """
    if input._data.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input._data.ndim} dimensions")
    if input._data.dtype == np.bool_:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    x = input if input._data.ndim == 2 else input.view(1, -1)
    observations = x._data.shape[1]
    w = None
    for name, weights, kinds in (("fweights", fweights, "iu"), ("aweights", aweights, "f")):
        if weights is None:
            continue
        if weights._data.ndim > 1:
            raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got {name} with "
                               f"{weights._data.ndim} dimensions")
        if weights._data.dtype.kind not in kinds:
            raise RuntimeError(f"cov(): expected {name} to have {'integral' if kinds == 'iu' else 'floating point'} "
                               f"dtype but got {name} with {weights.dtype} dtype")
        if weights._data.size != observations:
            raise RuntimeError(f"cov(): expected {name} to have the same numel as there are observations in the "
                               f"input but got {weights._data.size} != {observations}")
        if observations and weights._data.min() < 0:
            raise RuntimeError(f"cov(): {name} cannot be negative")
        w = weights if w is None else w * weights
    w_sum = w.sum() if w is not None else observations
    if w is not None and not w_sum._data.any():
        raise RuntimeError("cov(): weights sum to zero, can't be normalized")
    with np.errstate(divide="ignore", invalid="ignore"):
        average = (x * w if w is not None else x).sum(1) / w_sum
        if w is not None and correction != 0:
            norm = w_sum - correction * ((w * aweights).sum() / w_sum if aweights is not None else 1)
        else:
            norm = w_sum - correction
        if float(norm) <= 0:
            warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number "
                          "of observations.", UserWarning, stacklevel=2)
            norm = norm * 0
        centered = x - average.unsqueeze(1)
        return (mm(centered, (centered * w if w is not None else centered).t()) / norm).squeeze()


@op()
def cross(a, b, dim=None):
    """The cross product of 3-vectors along ``dim`` (a and b broadcast); without dim, the first dim of size 3.

    d(a x b) = da x b + a x db, so the gradients are b x g for a and g x a for b.
    """
    a, b = promote(a, b)
    if a._data.ndim != b._data.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions (got shapes "
                           f"{list(a._data.shape)} and {list(b._data.shape)})")
    try:
        shape = np.broadcast_shapes(a._data.shape, b._data.shape)
    except ValueError:
        raise broadcast_error("cross", a._data.shape, b._data.shape) from None
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the dim "
                      "explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to agree "
                      "with that of linalg.cross in a future release.", UserWarning, stacklevel=2)
        if 3 not in shape:
            raise RuntimeError(f"cross: no dimension of size 3 in input (shape {list(shape)})")
        dim = shape.index(3)
    d = normalize_dim(dim, len(shape), "linalg.cross")
    sizes = [a._data.shape[d], b._data.shape[d]]
    if sizes != [3, 3]:
        raise RuntimeError(f"linalg.cross: inputs dimension {d} must have length 3. Got {sizes[0]} and {sizes[1]}")
    out = np.cross(np.broadcast_to(a._data, shape), np.broadcast_to(b._data, shape), axis=d)

    def backward(g):
        return (sum_to(cross(b.expand(shape), g, d), a._data.shape) if a._requires_grad else None,
                sum_to(cross(g, a.expand(shape), d), b._data.shape) if b._requires_grad else None)
    return record(out.astype(a._data.dtype, copy=False), "LinalgCrossBackward0", backward, (a, b), saved=(a, b))


@op(method=False, alias="trapz")
def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The integral of y along ``dim`` by the trapezoid rule, at sample points ``x`` or spacing ``dx`` (1).

    Written as PyTorch computes it: with a spacing, (sum(y) - (y_first +
    y_last) / 2) * dx; with points, sum((y_left + y_right) * diff(x)) / 2.
    """
    if x is not None and dx is not None:
        raise TypeError("trapezoid() received both x and dx: give the sample points or the spacing, not both")
    if y._data.ndim == 0:
        raise IndexError(f"trapezoid: Dimension specified as {dim} but tensor has no dimensions")
    d = normalize_dim(dim, y._data.ndim, "trapezoid")
    n = y._data.shape[d]
    if n == 0:
        return Tensor._wrap(np.zeros(y._data.shape[:d] + y._data.shape[d + 1:], dtype=y._data.dtype))
    if y._data.dtype == np.bool_ or (x is not None and x._data.dtype == np.bool_):
        raise RuntimeError("trapezoid: received a bool input for `x` or `y`, but bool is not supported")
    if x is None:
        return _by_number(y.sum(d) - (y.select(d, 0) + y.select(d, -1)) * 0.5, 1 if dx is None else dx, "Mul")
    if x._data.ndim == 1:
        if x._data.shape[0] != n:
            raise RuntimeError("trapezoid: There must be one `x` value for each sample point")
        x = x.view((1,) * d + (n,) + (1,) * (y._data.ndim - d - 1))
    elif x._data.ndim < y._data.ndim:
        x = x.view((1,) * (y._data.ndim - x._data.ndim) + x._data.shape)
    spacing = x.narrow(d, 1, x._data.shape[d] - 1) - x.narrow(d, 0, x._data.shape[d] - 1)
    return _by_number(((y.narrow(d, 0, n - 1) + y.narrow(d, 1, n - 1)) * spacing).sum(d), 2.0, "Div")


trapz = trapezoid


# ---- distances and block matrices ------------------------------------------------------------------------------
@op(method=False)
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The p-norm distance between each row of x1 (..., P, M) and each row of x2 (..., R, M): (..., P, R).

    d dist_ij / d x1_i = sign(x1_i - x2_j) |x1_i - x2_j|^(p-1) / dist_ij^(p-1) (p = inf: the sign at the
    largest |difference|); x2 gets the negative.  ``compute_mode`` is accepted and ignored.
    """
    if x1._data.ndim < 2 or x2._data.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1._data.ndim}D, "
                           f"X2 got: {x2._data.ndim}D")
    if x1._data.shape[-1] != x2._data.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1._data.shape[-1]} "
                           f"X2: {x2._data.shape[-1]}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values (got p={p})")
    x1, x2 = promote(x1, x2)
    if x1._data.dtype.kind != "f":
        raise RuntimeError(f"cdist only supports floating-point dtypes, X1 got: {x1.dtype}")
    from .reduce import _norm_array
    try:
        np.broadcast_shapes(x1._data.shape[:-2], x2._data.shape[:-2])
    except ValueError:
        raise RuntimeError(f"cdist: the batch dims of X1 {list(x1._data.shape)} and X2 {list(x2._data.shape)} "
                           "do not broadcast") from None
    diff = x1._data[..., :, None, :] - x2._data[..., None, :, :]
    out = np.asarray(_norm_array(diff, p, (-1,), False), dtype=x1._data.dtype)

    def backward(g):
        d = x1.unsqueeze(-2) - x2.unsqueeze(-3)
        dist = result.unsqueeze(-1)
        if p == 0:
            w = d * 0
        elif p == 1:
            w = d.sign()
        elif p == float("inf"):
            w = d.sign() * (d.abs() == dist).to(d.dtype)
        else:
            safe = dist + (dist == 0).to(d.dtype)  # a zero distance gets a zero gradient
            # for p < 1, |0|^(p-1) is inf and inf * sign(0) is NaN: a zero difference gets a zero gradient too
            safe_d = d.abs() + (d == 0).to(d.dtype)
            w = d.sign() * safe_d ** (p - 1) / safe ** (p - 1) * (dist != 0).to(d.dtype)
        gw = g.unsqueeze(-1) * w
        return (sum_to(gw.sum(-2), x1._data.shape) if x1._requires_grad else None,
                sum_to(-gw.sum(-3), x2._data.shape) if x2._requires_grad else None)
    result = record(out, "CdistBackward0", backward, (x1, x2), saved=(x1, x2), saves_output=True)
    return result


@op(method=False)
def block_diag(*tensors):
    """The block-diagonal matrix of the given tensors (0-d and 1-d ones are taken as 1 x n rows)."""
    matrices = []
    for i, t in enumerate(tensors):
        if t._data.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t._data.ndim} dimensions")
        matrices.append(t._data.reshape((1, -1)) if t._data.ndim < 2 else t._data)
    dtype = np.dtype(np.float32)  # PyTorch's promote_types over all the blocks (a float beats any integer)
    for i, t in enumerate(tensors):
        dtype = t._data.dtype if i == 0 else _dtype.promote_types(dtype, t._data.dtype)
    rows = sum(x.shape[0] for x in matrices) if matrices else 1  # no blocks: a 1 x 0 matrix, as PyTorch
    cols = sum(x.shape[1] for x in matrices)
    out = np.zeros((rows, cols), dtype=dtype)
    corners, r, c = [], 0, 0
    for x in matrices:
        out[r:r + x.shape[0], c:c + x.shape[1]] = x
        corners.append((r, c))
        r, c = r + x.shape[0], c + x.shape[1]

    def backward(g):  # each block's gradient is its own block of g
        return tuple(g[r0:r0 + x.shape[0], c0:c0 + x.shape[1]].reshape(t._data.shape).to(t.dtype)
                     if t._requires_grad else None for t, x, (r0, c0) in zip(tensors, matrices, corners))
    return record(out, "BlockDiagBackward0", backward, tuple(tensors))
