"""Stochastic gradient descent, optionally with (Nesterov) momentum."""
import numpy as np

from .._tensor import Tensor
from .optimizer import Optimizer, _descent_grad, _to_scalar, _updated

__all__ = ["SGD"]


class SGD(Optimizer):
    """``p -= lr * g``, where with momentum ``g`` is the running buffer

        b = momentum * b + (1 - dampening) * g       (b = g on the first step)
        g = g + momentum * b  (nesterov)   or   g = b

    ``g`` is the gradient (negated if ``maximize``) plus ``weight_decay * p``.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)

    def _step_group(self, group):
        lr = _to_scalar(group["lr"])
        momentum, dampening = group["momentum"], group["dampening"]
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = _descent_grad(p, group["maximize"], group["weight_decay"])
            if momentum != 0:
                grad = self._momentum(p, grad, momentum, dampening, group["nesterov"])
            p._data -= lr * grad
            _updated(p)

    def _momentum(self, p, grad, momentum, dampening, nesterov):
        state = self.state[p]
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = Tensor._wrap(np.array(grad, copy=True))
        else:
            b = buf._data
            b *= momentum
            b += grad if dampening == 0 else (1 - dampening) * grad
        if nesterov:
            return grad + momentum * buf._data
        return buf._data
