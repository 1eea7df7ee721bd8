"""Adam: per-coordinate steps from running averages of the gradient and its square."""
from .. import kernels
from .optimizer import Optimizer, _advance, _check_adam_options, _to_scalar, _updated, _zeros_like

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
        # the whole update of a parameter is one kernel call (gradlab/kernels/optim.py has
        # its formulas in NumPy; the compiled twin makes one pass over the arrays)
        lr = _to_scalar(group["lr"])
        beta1, beta2 = (_to_scalar(b) for b in group["betas"])
        eps, weight_decay, amsgrad = group["eps"], group["weight_decay"], group["amsgrad"]
        decoupled, maximize = group.get("decoupled_weight_decay", False), group["maximize"]
        adam_step = kernels.adam_step
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            state = self._state_of(p, group)
            t = _advance(state["step"])
            v_max = state["max_exp_avg_sq"]._data if amsgrad else None
            adam_step(p._data, grad._data, state["exp_avg"]._data, state["exp_avg_sq"]._data, v_max, t, lr,
                      beta1, beta2, eps, weight_decay, decoupled, maximize)
            _updated(p)
