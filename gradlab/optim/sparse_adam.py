"""SparseAdam needs sparse gradients, which gradlab does not have."""
from .optimizer import Optimizer

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Not available: PyTorch's SparseAdam updates only the rows a sparse gradient
    touches (``nn.Embedding(sparse=True)``). Every gradlab gradient is a dense
    NumPy array, so use ``Adam`` (or ``AdamW``) instead."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        raise NotImplementedError(
            "SparseAdam is not available in gradlab: it works on sparse gradients, and gradlab's gradients are "
            "always dense NumPy arrays. Use gradlab.optim.Adam (the same update for dense gradients) instead.")

    def step(self, closure=None):
        raise NotImplementedError("SparseAdam is not available in gradlab; use gradlab.optim.Adam")
