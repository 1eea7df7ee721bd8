"""Embedding's backward in plain NumPy: the readable twin of gradlab_ext/embedding.pyx.

The forward reads rows ``weight[indices]``; its adjoint adds each gradient row
back into the row it was read from.  Rows read several times get the sum of
their gradients, added in the order of the indices (``np.add.at`` adds one
index after the other, unlike ``out[indices] += g``, which keeps only the last).
"""
import numpy as np

__all__ = ["embedding_backward"]


def embedding_backward(grad_out, indices, num_rows):
    """(num_rows, D) zeros with grad_out[t] (of (T, D)) added into row indices[t] (of (T,)), t = 0, 1, ..."""
    out = np.zeros((num_rows, grad_out.shape[1]), dtype=grad_out.dtype)
    np.add.at(out, indices, grad_out)
    return out
