"""Adamax: Adam with the infinity norm in place of the root mean square."""
import numpy as np

from .optimizer import (Optimizer, _check_betas, _check_lr, _check_nonnegative, _advance, _lerp_,
                        _descent_grad, _step_counter, _to_scalar, _updated, _zeros_like)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """At step t, with g the gradient (negated if ``maximize``, plus ``weight_decay * p``):

        m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, |g| + eps)
        p -= lr / (1 - beta1**t) * m / u
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        _check_nonnegative(epsilon=eps)
        _check_betas(betas)
        _check_nonnegative(weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _state_of(self, p):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = _step_counter()
            state["exp_avg"] = _zeros_like(p)
            state["exp_inf"] = _zeros_like(p)
        return state

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = _to_scalar(group["lr"]), group["betas"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._state_of(p)
                t = _advance(state["step"])
                grad = _descent_grad(p, group["maximize"], group["weight_decay"])
                m, u = state["exp_avg"]._data, state["exp_inf"]._data

                _lerp_(m, grad, 1 - beta1)
                u *= beta2
                np.maximum(u, np.abs(grad) + eps, out=u)
                clr = lr / (1 - beta1 ** t)
                p._data -= clr * (m / u)
                _updated(p)
        return loss
