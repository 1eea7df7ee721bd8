"""Adamax: Adam with the infinity norm in place of the root mean square."""
import numpy as np

from .optimizer import Optimizer, _check_adam_options, _lerp_, _to_scalar

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """At step t, with g the gradient (negated if ``maximize``, plus ``weight_decay * p``):

        m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, |g| + eps)
        p -= lr / (1 - beta1**t) * m / u
    """

    _zero_buffers = ("exp_avg", "exp_inf")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check_adam_options(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _step_group(self, group):
        lr, (beta1, beta2), eps = _to_scalar(group["lr"]), group["betas"], group["eps"]
        for p, grad, state, t in self._params_with_grad(group):
            m, u = state["exp_avg"]._data, state["exp_inf"]._data

            _lerp_(m, grad, 1 - beta1)
            u *= beta2
            np.maximum(u, np.abs(grad) + eps, out=u)
            clr = lr / (1 - beta1 ** t)
            p._data -= clr * (m / u)
