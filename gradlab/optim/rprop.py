"""Rprop: per-coordinate step sizes that grow while the gradient keeps its sign and shrink when it flips."""
import numpy as np

from .._tensor import Tensor
from .optimizer import Optimizer, _check_lr, _to_scalar, _zeros_like

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Only the sign of the gradient g (negated if ``maximize``) is used. Per coordinate:

        g * prev > 0:  step_size *= etaplus                  (same sign: speed up)
        g * prev < 0:  step_size *= etaminus, and g = 0      (sign flip: slow down, skip this move)
        g * prev = 0:  step_size unchanged
        step_size = clamp(step_size, *step_sizes);   p -= sign(g) * step_size;   prev = g
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False,
                 foreach=None, maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, p, group):
        return {"prev": _zeros_like(p), "step_size": Tensor._wrap(np.full_like(p.grad._data, _to_scalar(group["lr"])))}

    def _step_group(self, group):
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        for p, grad, state, _ in self._params_with_grad(group):
            grad = np.array(grad)  # a private copy, changed below (np.array: an array even when 0-d)
            prev, step_size = state["prev"]._data, state["step_size"]._data

            agreement = grad * prev
            flipped = agreement < 0
            factor = np.where(agreement > 0, etaplus, np.where(flipped, etaminus, 1.0))
            step_size *= factor
            np.clip(step_size, step_size_min, step_size_max, out=step_size)
            grad[flipped] = 0
            p._data -= np.sign(grad) * step_size
            prev[...] = grad
