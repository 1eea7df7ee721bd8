"""RAdam: Adam whose adaptive step is switched on gradually, once the variance estimate is reliable."""
import math

import numpy as np

from .optimizer import Optimizer, _check_adam_options, _lerp_, _to_scalar

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """At step t, with g the gradient (negated if ``maximize``):

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)     (length of the approximated moving average)
        if rho_t > 5:   r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                        p -= lr * m_hat * r * sqrt(1 - beta2**t) / (sqrt(v) + eps)
        else:           p -= lr * m_hat                      (plain momentum while v is too noisy)

    ``weight_decay`` adds ``weight_decay * p`` to g, or with
    ``decoupled_weight_decay=True`` shrinks p by ``1 - lr * weight_decay``.
    """

    _zero_buffers = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _check_adam_options(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _step_group(self, group):
        lr = _to_scalar(group["lr"])
        beta1, beta2 = (_to_scalar(b) for b in group["betas"])
        eps = group["eps"]
        for p, grad, state, t in self._params_with_grad(group):
            m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
            _lerp_(m, grad, 1 - beta1)
            v *= beta2
            v += (1 - beta2) * (grad * grad)

            bias_correction1 = 1 - beta1 ** t
            bias_correction2 = 1 - beta2 ** t
            m_hat = m / bias_correction1
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * t * beta2 ** t / bias_correction2
            if rho_t > 5.0:
                rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                adaptive_lr = bias_correction2 ** 0.5 / (np.sqrt(v) + eps)
                p._data -= m_hat * lr * adaptive_lr * rect
            else:
                p._data -= m_hat * lr
