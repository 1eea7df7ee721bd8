"""Adagrad: each coordinate's step shrinks with the sum of its squared gradients."""
import numpy as np

from .._tensor import Tensor
from .optimizer import Optimizer, _check_lr, _check_nonnegative, _to_scalar

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """At step t, with g the gradient (negated if ``maximize``, plus ``weight_decay * p``):

        clr = lr / (1 + (t - 1) * lr_decay)
        sum += g**2                       (sum starts at initial_accumulator_value)
        p -= clr * g / (sqrt(sum) + eps)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_lr(lr)
        _check_nonnegative(lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, epsilon=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        # as in PyTorch, the state exists from the start (the sum has its initial value)
        for group in self.param_groups:
            for p in group["params"]:
                self._state_of(p, group)

    def _init_state(self, p, group):
        return {"sum": Tensor._wrap(np.full_like(p._data, group["initial_accumulator_value"]))}

    def _step_group(self, group):
        lr, lr_decay, eps = _to_scalar(group["lr"]), group["lr_decay"], group["eps"]
        for p, grad, state, t in self._params_with_grad(group):
            clr = lr / (1 + (t - 1) * lr_decay)
            total = state["sum"]._data
            work = np.multiply(grad, grad, out=np.empty_like(total))
            total += work
            std = np.sqrt(total, out=work)
            std += eps
            np.divide(grad, std, out=work)
            work *= -clr
            p._data += work
