"""RMSprop: steps divided by a running root mean square of the gradient."""
import numpy as np

from .optimizer import Optimizer, _check_lr, _check_nonnegative, _lerp_, _to_scalar, _zeros_like

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """With g the gradient (negated if ``maximize``, plus ``weight_decay * p``):

        v = alpha * v + (1 - alpha) * g**2
        centered:  a = alpha * a + (1 - alpha) * g;   avg = sqrt(v - a**2) + eps
        otherwise: avg = sqrt(v) + eps
        momentum > 0:  b = momentum * b + g / avg;  p -= lr * b
        otherwise:     p -= lr * g / avg
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_lr(lr)
        _check_nonnegative(epsilon=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p, group):
        state = {"square_avg": _zeros_like(p)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = _zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = _zeros_like(p)
        return state

    def _step_group(self, group):
        lr, alpha, eps, momentum = _to_scalar(group["lr"]), group["alpha"], group["eps"], group["momentum"]
        for p, grad, state, _ in self._params_with_grad(group):
            square_avg = state["square_avg"]._data

            work = np.multiply(grad, grad, out=np.empty_like(square_avg))
            work *= 1 - alpha
            square_avg *= alpha                     # v = alpha * v + (1 - alpha) * g * g
            square_avg += work
            if group["centered"]:                   # subtract the squared mean gradient
                grad_avg = state["grad_avg"]._data
                _lerp_(grad_avg, grad, 1 - alpha, work)
                np.multiply(grad_avg, grad_avg, out=work)
                avg = np.subtract(square_avg, work, out=work)
                np.sqrt(avg, out=avg)
            else:
                avg = np.sqrt(square_avg, out=work)
            avg += eps
            if momentum > 0:
                buf = state["momentum_buffer"]._data
                buf *= momentum
                buf += np.divide(grad, avg, out=avg)
                p._data -= lr * buf
            else:
                np.divide(grad, avg, out=avg)
                avg *= -lr
                p._data += avg
