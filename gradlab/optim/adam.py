"""Adam: per-coordinate steps from running averages of the gradient and its square."""
import numpy as np

from .optimizer import Optimizer, _check_adam_options, _lerp_, _to_scalar, _zeros_like

__all__ = ["Adam"]


class Adam(Optimizer):
    """At step t, with g the gradient (negated if ``maximize``):

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        v_max = max(v_max, v)                                  (amsgrad: use v_max for v)
        p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    ``weight_decay`` adds ``weight_decay * p`` to g, or with
    ``decoupled_weight_decay=True`` (AdamW) shrinks p by ``1 - lr * weight_decay``.
    Note eps is added after the bias correction of sqrt(v), as in PyTorch.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check_adam_options(lr, betas, eps, weight_decay)
        betas = tuple(_to_scalar(b) for b in betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _init_state(self, p, group):
        state = {"exp_avg": _zeros_like(p), "exp_avg_sq": _zeros_like(p)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = _zeros_like(p)
        return state

    def _step_group(self, group):
        lr = _to_scalar(group["lr"])
        beta1, beta2 = (_to_scalar(b) for b in group["betas"])
        eps, amsgrad = group["eps"], group["amsgrad"]
        for p, grad, state, t in self._params_with_grad(group):
            m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
            work = np.empty_like(m)

            _lerp_(m, grad, 1 - beta1, work)        # m += (1 - beta1) * (g - m)
            v *= beta2                              # v = beta2 * v + (1 - beta2) * g * g
            np.multiply(grad, grad, out=work)
            work *= 1 - beta2
            v += work
            if amsgrad:                             # use the largest v seen so far
                v_max = state["max_exp_avg_sq"]._data
                np.maximum(v_max, v, out=v_max)
                v = v_max

            step_size = lr / (1 - beta1 ** t)
            denom = np.sqrt(v, out=work)
            denom /= (1 - beta2 ** t) ** 0.5
            denom += eps
            np.divide(m, denom, out=work)
            work *= -step_size
            p._data += work
