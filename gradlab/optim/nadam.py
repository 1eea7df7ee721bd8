"""NAdam: Adam with Nesterov momentum (the gradient's share of the step looks one step ahead)."""
import numpy as np

from .._tensor import Tensor
from .optimizer import Optimizer, _check_adam_options, _check_nonnegative, _lerp_, _to_scalar, _zeros_like

__all__ = ["NAdam"]


def _momentum_at(beta1, step, momentum_decay):
    """The momentum coefficient mu_t of Dozat's schedule: it warms up from beta1/2 towards beta1."""
    return beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))


class NAdam(Optimizer):
    """At step t, with g the gradient (negated if ``maximize``):

        mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay))
        prod_t = mu_1 * ... * mu_t                         (state "mu_product")
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        denom = sqrt(v / (1 - beta2**t)) + eps
        p -= lr * (1 - mu_t) / (1 - prod_t) * g / denom
        p -= lr * mu_{t+1} / (1 - prod_t * mu_{t+1}) * m / denom

    ``weight_decay`` adds ``weight_decay * p`` to g, or with
    ``decoupled_weight_decay=True`` shrinks p by ``1 - lr * weight_decay``.
    """

    _scalar_state_keys = frozenset({"step", "mu_product"})

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_adam_options(lr, betas, eps, weight_decay)
        _check_nonnegative(momentum_decay=momentum_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p, group):
        # mu_product is a float32 0-d tensor, as PyTorch keeps it (the product is rounded to float32 each step)
        return {"mu_product": Tensor._wrap(np.ones((), dtype=np.float32)),
                "exp_avg": _zeros_like(p), "exp_avg_sq": _zeros_like(p)}

    def _step_group(self, group):
        lr = _to_scalar(group["lr"])
        beta1, beta2 = (_to_scalar(b) for b in group["betas"])
        eps = group["eps"]
        for p, grad, state, t in self._params_with_grad(group):
            mu = _momentum_at(beta1, t, group["momentum_decay"])
            mu_next = _momentum_at(beta1, t + 1, group["momentum_decay"])
            mu_product = state["mu_product"]._data
            mu_product *= mu
            mu_product = float(mu_product)

            m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
            _lerp_(m, grad, 1 - beta1)
            v *= beta2
            v += (1 - beta2) * (grad * grad)
            denom = np.sqrt(v / (1 - beta2 ** t))
            denom += eps

            p._data += (-lr * (1 - mu) / (1 - mu_product)) * (grad / denom)
            p._data += (-lr * mu_next / (1 - mu_product * mu_next)) * (m / denom)
