"""ReLU in plain NumPy: the readable twin of gradlab_ext/activation.pyx.

relu(x) = max(x, 0); its gradient passes where the output is positive.  NaN
follows PyTorch: relu(NaN) is NaN, and a NaN output lets its gradient through
(the test is ``out <= 0``, which is False for NaN).
"""
import numpy as np

__all__ = ["relu_forward", "relu_backward"]


def relu_forward(x):
    """max(x, 0) elementwise (np.maximum keeps NaN)."""
    return np.maximum(x, x.dtype.type(0))


def relu_backward(grad_out, out):
    """grad_out where the forward output is not <= 0, else 0."""
    return np.where(out <= 0, grad_out.dtype.type(0), grad_out)
