"""2-D matrix multiply in plain NumPy: the readable twin of gradlab_ext/matmul.pyx.

NumPy's ``@`` already calls an optimised BLAS GEMM; the compiled twin calls
scipy's BLAS directly, without the GIL, passes transposed operands to BLAS as
flags instead of copying them, and spreads a product's tiles over the same
threads the convolution kernels use (BLAS's own thread pool would keep
spinning on those cores after each call).
"""
import numpy as np

__all__ = ["matmul"]


def matmul(a, b, bias=None):
    """a @ b (+ bias on every row) for 2-D arrays a (M, K), b (K, N) and bias (N,) of one float dtype."""
    out = np.matmul(a, b)
    if bias is not None:
        out += bias
    return out
