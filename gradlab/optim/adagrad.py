"""Adagrad: each coordinate's step shrinks with the sum of its squared gradients."""
import numpy as np

from .._tensor import Tensor
from .optimizer import (Optimizer, _check_lr, _check_nonnegative, _advance, _descent_grad, _step_counter,
                        _to_scalar, _updated)

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

    def _state_of(self, p, group):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = _step_counter()
            state["sum"] = Tensor._wrap(np.full_like(p._data, group["initial_accumulator_value"]))
        return state

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, lr_decay, eps = _to_scalar(group["lr"]), group["lr_decay"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._state_of(p, group)
                t = _advance(state["step"])
                grad = _descent_grad(p, group["maximize"], group["weight_decay"])
                clr = lr / (1 + (t - 1) * lr_decay)
                total = state["sum"]._data
                work = np.multiply(grad, grad, out=np.empty_like(total))
                total += work
                std = np.sqrt(total, out=work)
                std += eps
                np.divide(grad, std, out=work)
                work *= -clr
                p._data += work
                _updated(p)
        return loss
