"""Adadelta: steps scaled by the ratio of running RMS of past updates to running RMS of gradients."""
import numpy as np

from .optimizer import Optimizer, _check_lr, _check_nonnegative, _to_scalar

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """With g the gradient (negated if ``maximize``, plus ``weight_decay * p``):

        square_avg = rho * square_avg + (1 - rho) * g**2
        delta      = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g
        acc_delta  = rho * acc_delta + (1 - rho) * delta**2
        p -= lr * delta
    """

    _zero_buffers = ("square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_nonnegative(epsilon=eps, weight_decay=weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _step_group(self, group):
        lr, rho, eps = _to_scalar(group["lr"]), group["rho"], group["eps"]
        for p, grad, state, _ in self._params_with_grad(group):
            square_avg, acc_delta = state["square_avg"]._data, state["acc_delta"]._data

            square_avg *= rho
            square_avg += (1 - rho) * (grad * grad)
            std = np.sqrt(square_avg + eps)
            delta = np.sqrt(acc_delta + eps)
            delta /= std
            delta *= grad
            acc_delta *= rho
            acc_delta += (1 - rho) * (delta * delta)
            delta *= -lr
            p._data += delta
