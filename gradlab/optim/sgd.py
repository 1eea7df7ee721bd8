"""Stochastic gradient descent, optionally with (Nesterov) momentum."""
import numpy as np

from .. import kernels
from .._tensor import Tensor
from .optimizer import Optimizer, _to_scalar, _updated

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
        # the whole update of a parameter is one kernel call (see gradlab/kernels/optim.py)
        lr = _to_scalar(group["lr"])
        momentum, dampening, nesterov = group["momentum"], group["dampening"], group["nesterov"]
        weight_decay, maximize = group["weight_decay"], group["maximize"]
        sgd_step = kernels.sgd_step
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            buf, first = None, False
            if momentum != 0:
                state = self.state[p]
                buffer = state.get("momentum_buffer")
                if buffer is None:      # the first step sets it to the gradient
                    buffer = state["momentum_buffer"] = Tensor._wrap(np.empty_like(p._data))
                    first = True
                buf = buffer._data
            sgd_step(p._data, grad._data, buf, lr, momentum, dampening, nesterov, weight_decay, maximize, first)
            _updated(p)
