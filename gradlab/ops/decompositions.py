"""The torch.linalg decompositions and solvers: solve, lstsq, qr, eigh / eigvalsh, svd / svdvals, cholesky.

Each backward is PyTorch's documented formula for real matrices, written
beside its forward with tensor ops (matmul, solve, tril, ...), so that
create_graph=True differentiates it again.  Forward values come from NumPy's
LAPACK routines.
"""
from collections import namedtuple

import numpy as np

from .._tensor import Tensor
from ..autograd.record import record, record_outputs
from ._common import promote, sum_to
from .linalg import LinAlgError, _check_float, _check_square, _pinv_grad, pinv_with_tolerance


def _check_float_matrix(a, op):
    if a._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    _check_float(a, op)


def _diag(v):
    """The batch of diagonal matrices with the vectors v (..., k) on their diagonals."""
    return v.diag_embed()


def _solve_batched(a, b):
    """np.linalg.solve for A (..., n, n) and B (..., n, k) whose batch dims broadcast."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return np.linalg.solve(np.broadcast_to(a, batch + a.shape[-2:]), np.broadcast_to(b, batch + b.shape[-2:]))


def _solve_node(a, b, left, vector):
    """X with A X = B (left) or X A = B (right), B a batch of matrices or (vector) of vectors: one
    LinalgSolveExBackward0 node.

    Left: X = A^-1 B, so gB = A^-T g (another solve) and gA = -gB X^T.
    Right: X = B A^-1, so gB = g A^-T and gA = -X^T gB.
    """
    a_arr = a._data if left else a._data.swapaxes(-1, -2)
    b_arr = b._data[..., None] if vector else b._data if left else b._data.swapaxes(-1, -2)
    try:
        x = _solve_batched(a_arr, b_arr)
    except np.linalg.LinAlgError:
        raise LinAlgError("linalg.solve: The solver failed because the input matrix is singular.") from None
    out = x[..., 0] if vector else x if left else x.swapaxes(-1, -2)

    def backward(g):
        gb = _solve_node(a.mT, g, left, vector)
        if not a._requires_grad:
            ga = None
        elif vector:
            ga = -(gb.unsqueeze(-1) * result.unsqueeze(-2) if left else result.unsqueeze(-1) * gb.unsqueeze(-2))
        else:
            ga = -(gb @ result.mT if left else result.mT @ gb)
        return (sum_to(ga, a._data.shape) if ga is not None else None,
                sum_to(gb, b._data.shape) if b._requires_grad else None)
    result = record(out.astype(a._data.dtype, copy=False), "LinalgSolveExBackward0", backward, (a, b),
                    saved=(a,), saves_output=True)
    return result


def _solve_matrix(a, b):
    """A^-1 B for batches of square A and matrices B."""
    return _solve_node(a, b, True, False)


def solve(A, B, *, left=True):
    """X with A X = B (left=True) or X A = B (left=False), as torch.linalg.solve.

    B is a batch of vectors when it is 1-D or has one dim fewer than A (and
    its shape is A's without the last dim), as in PyTorch.
    """
    _check_square(A, "linalg.solve")
    _check_float(A, "linalg.solve")
    A, B = promote(A, B)
    vector = B._data.ndim == 1 or (B._data.ndim == A._data.ndim - 1 and B._data.shape == A._data.shape[:-1])
    n = A._data.shape[-1]
    if B._data.ndim == 0 or (B._data.shape[-1] if vector or not left else B._data.shape[-2]) != n:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({'x'.join(map(str, A._data.shape[-2:]))} and "
                           f"{'x'.join(map(str, B._data.shape[-2:]))})")
    return _solve_node(A, B, left, vector)


lstsq_result = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution X = pinv(A) B of A X ~ B (the 'gelsy' driver's fields: residuals and
    singular_values empty, rank filled in).  Its gradients go through pinv(A): gB = pinv(A)^T g and
    gA is pinv's gradient for g B^T."""
    _check_float_matrix(A, "linalg.lstsq")
    A, B = promote(A, B)
    vector = B._data.ndim == A._data.ndim - 1
    b = B.unsqueeze(-1) if vector else B
    if b._data.shape[-2] != A._data.shape[-2]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2) (got shapes "
                           f"{list(A._data.shape)} and {list(B._data.shape)})")
    m, n = A._data.shape[-2:]
    cutoff = rcond if rcond is not None else np.finfo(A._data.dtype).eps * max(m, n)
    p_array = np.linalg.pinv(A._data, rcond=cutoff).astype(A._data.dtype)
    out = np.matmul(p_array, b._data)

    def backward(g):
        p = pinv_with_tolerance(A, 0.0, cutoff)  # a differentiable pinv(A), for double backward
        return (sum_to(_pinv_grad(A, p, g @ b.mT), A._data.shape) if A._requires_grad else None,
                sum_to(p.mT @ g, b._data.shape) if b._requires_grad else None)
    solution = record(out.astype(A._data.dtype, copy=False), "LinalgLstsqBackward0", backward, (A, b),
                      saved=(A, b))
    singular = np.linalg.svd(A._data, compute_uv=False)
    rank = (singular > cutoff * singular[..., :1]).sum(-1) if singular.shape[-1] else np.zeros(A._data.shape[:-2])
    empty = Tensor._wrap(np.zeros((0,), dtype=A._data.dtype))
    return lstsq_result(solution.squeeze(-1) if vector else solution, empty,
                        Tensor._wrap(np.asarray(rank, dtype=np.int64)), Tensor._wrap(np.zeros((0,), A._data.dtype)))


# QR: A = Q R with Q orthonormal columns and R upper triangular.
qr_result = namedtuple("linalg_qr", ["Q", "R"])


def qr(A, mode="reduced"):
    """The QR decomposition (mode 'reduced', 'complete' or 'r').

    Backward (reduced mode, m >= n), as PyTorch: with M = R gR^T - gQ^T Q,
    gA = (gQ + Q copyltu(M)) R^-T, where copyltu(M) mirrors M's lower triangle
    onto the upper one.
    """
    _check_float_matrix(A, "linalg.qr")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', "
                           "or 'complete'")
    m, n = A._data.shape[-2:]
    q, r = np.linalg.qr(A._data, mode="complete" if mode == "complete" else "reduced")

    def backward(grads):
        if mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                               "Please use linalg.qr(A, mode='reduced') if you are going to differentiate through "
                               "linalg.qr.")
        if m < n or (mode == "complete" and m > n):
            raise NotImplementedError("linalg.qr: gradlab differentiates QR only in reduced mode with m >= n "
                                      f"(got a {m}x{n} matrix, mode='{mode}')")
        gq, gr = grads
        q_t, r_t = outs
        m_inner = 0
        if gr is not None:
            m_inner = r_t @ gr.mT
        if gq is not None:
            m_inner = m_inner - gq.mT @ q_t
        copyltu = m_inner.tril() + m_inner.tril(-1).mT
        ga = q_t @ copyltu
        if gq is not None:
            ga = ga + gq
        return (_solve_matrix(r_t, ga.mT).mT,)  # ga R^-T
    q_out = q if mode != "r" else np.zeros((0,), dtype=A._data.dtype)
    outs = record_outputs((q_out.astype(A._data.dtype, copy=False), r.astype(A._data.dtype, copy=False)),
                           "LinalgQrBackward0", backward, (A,), saved=(A,), saves_outputs=True)
    return qr_result(*outs)


# Symmetric eigendecomposition: A = V diag(L) V^T.
eigh_result = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])


def _eigh(A, UPLO, op, vectors):
    _check_square(A, op)
    _check_float(A, op)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"{op}: Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    values, vecs = np.linalg.eigh(A._data, UPLO=UPLO)

    def backward(grads):
        """gA = V (diag(gL) + skew(V^T gV) / E) V^T with E_ij = L_j - L_i (the diagonal set by gL alone),
        skew(X) = (X - X^T) / 2; PyTorch's formula for eigh."""
        if not vectors:  # V diag(gL) V^T, with V from a differentiable eigh (for double backward)
            v = _eigh(A, UPLO, op, vectors=True)[1]
            return (v @ _diag(grads[0]) @ v.mT,)
        g_values, g_vectors = grads
        lam, v = outs
        inner = 0
        if g_vectors is not None:
            vtgv = v.mT @ g_vectors
            gaps = lam.unsqueeze(-2) - lam.unsqueeze(-1)
            off_diagonal = 1 - Tensor._wrap(np.eye(lam._data.shape[-1], dtype=lam._data.dtype))
            safe_gaps = gaps + (1 - off_diagonal)  # 1 on the diagonal, where the ratio is not used
            inner = 0.5 * (vtgv - vtgv.mT) / safe_gaps * off_diagonal
        if g_values is not None:
            inner = inner + _diag(g_values)
        return (v @ inner @ v.mT,)
    arrays = (values.astype(A._data.dtype), vecs.astype(A._data.dtype)) if vectors else (values.astype(A._data.dtype),)
    outs = record_outputs(arrays, "LinalgEighBackward0", backward, (A,), saved=(A,), saves_outputs=True)
    return outs


def eigh(A, UPLO="L"):
    """Eigenvalues (ascending) and eigenvectors of each symmetric matrix, reading its UPLO triangle."""
    return eigh_result(*_eigh(A, UPLO, "linalg.eigh", vectors=True))


def eigvalsh(A, UPLO="L"):
    """The eigenvalues (ascending) of each symmetric matrix; the gradient is V diag(gL) V^T."""
    return _eigh(A, UPLO, "linalg.eigvalsh", vectors=False)[0]


# Singular value decomposition: A = U diag(S) Vh.
svd_result = namedtuple("linalg_svd", ["U", "S", "Vh"])


def _svd_grad(u, s, vh, gu, gs, gvh, m, n):
    """PyTorch's svd_backward for real matrices (U: m x k, Vh: k x n, k = min(m, n)).

    The loss must be invariant under the sign flips of the singular vectors
    (as PyTorch, only such losses have a well-defined gradient).
    """
    k = s._data.shape[-1]
    if gu is None and gvh is None:
        return u @ _diag(gs) @ vh
    v = vh.mT
    gv = gvh.mT if gvh is not None else None
    s2 = s * s
    eye = Tensor._wrap(np.eye(k, dtype=s._data.dtype))
    e = s2.unsqueeze(-2) - s2.unsqueeze(-1) + eye  # 1 on the diagonal, where the numerator is 0
    ga = 0
    if gu is not None:
        uhgu = u.mT @ gu
        ga = (uhgu - uhgu.mT) * s.unsqueeze(-2) / e
    if gv is not None:
        vhgv = v.mT @ gv
        ga = ga + s.unsqueeze(-1) * (vhgv - vhgv.mT) / e
    if gs is not None:
        ga = ga + _diag(gs)
    if m > k and gu is not None:
        gus = gu / s.unsqueeze(-2)
        return (u @ ga + gus - u @ (u.mT @ gus)) @ vh
    if n > k and gv is not None:
        sgvh = gv.mT / s.unsqueeze(-1)
        return u @ (ga @ vh + sgvh - (sgvh @ v) @ vh)
    return u @ ga @ vh


def _svd(A, full_matrices, op, vectors):
    _check_float_matrix(A, op)
    m, n = A._data.shape[-2:]
    k = min(m, n)
    u, s, vh = np.linalg.svd(A._data, full_matrices=full_matrices)
    dtype = A._data.dtype

    def backward(grads):
        if not vectors:  # U diag(gS) Vh, with U and Vh from a differentiable SVD (for double backward)
            u_t, _, vh_t = _svd(A, False, op, vectors=True)
            return (u_t @ _diag(grads[0]) @ vh_t,)
        gu, gs, gvh = grads
        u_t, s_t, vh_t = outs
        if full_matrices:  # only the first k singular vectors take part in A = U S Vh
            u_t, vh_t = u_t[..., :k], vh_t[..., :k, :]
            gu = gu[..., :k] if gu is not None else None
            gvh = gvh[..., :k, :] if gvh is not None else None
        return (_svd_grad(u_t, s_t, vh_t, gu, gs, gvh, m, n),)
    arrays = (u.astype(dtype), s.astype(dtype), vh.astype(dtype)) if vectors else (s.astype(dtype),)
    outs = record_outputs(arrays, "LinalgSvdBackward0", backward, (A,), saved=(A,), saves_outputs=True)
    return outs


def svd(A, full_matrices=True, *, driver=None):
    """U, S, Vh with A = U diag(S) Vh, singular values descending."""
    return svd_result(*_svd(A, full_matrices, "linalg.svd", vectors=True))


def svdvals(A, *, driver=None):
    """The singular values (descending); their gradient is U diag(gS) Vh."""
    return _svd(A, False, "linalg.svdvals", vectors=False)[0]


def cholesky(A, *, upper=False):
    """L lower triangular with A = L L^T (or U = L^T with upper=True) for symmetric positive-definite A.

    Backward (Murray, 2016, PyTorch's cholesky_backward): with P = tril(L^T gL),
    gA = L^-T S L^-1 where S = (P + P^T - diag(P)) / 2 is symmetric.
    """
    _check_square(A, "linalg.cholesky")
    _check_float(A, "linalg.cholesky")
    try:  # upper=True reads A's upper triangle, as PyTorch: the lower one of A^T
        low = np.linalg.cholesky(np.swapaxes(A._data, -1, -2) if upper else A._data)
    except np.linalg.LinAlgError:
        raise LinAlgError("linalg.cholesky: The factorization could not be completed because the input is not "
                           "positive-definite.") from None

    def backward(g):
        lo = result.mT if upper else result
        gl = g.mT if upper else g
        lower = (lo.mT @ gl).tril()
        phi = 0.5 * (lower + lower.tril(-1).mT)  # sym(phi(L^T gL)): (P + P^T - diag(P)) / 2
        right = _solve_matrix(lo.mT, phi)  # L^-T phi
        return (_solve_matrix(lo.mT, right.mT).mT,)  # (L^-T phi) L^-1, as Z L = X is L^T Z^T = X^T
    out = low.mT.copy() if upper else low
    result = record(out.astype(A._data.dtype, copy=False), "LinalgCholeskyExBackward0", backward, (A,),
                    saves_output=True)
    return result


