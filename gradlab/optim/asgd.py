"""ASGD: stochastic gradient descent that also keeps a running average of the iterates."""
import numpy as np

from .._tensor import Tensor
from .optimizer import Optimizer, _check_lr, _check_nonnegative, _to_scalar, _zeros_like

__all__ = ["ASGD"]


def _float32_scalar(value):
    return Tensor._wrap(np.array(value, dtype=np.float32))


class ASGD(Optimizer):
    """At step t, with g the gradient (negated if ``maximize``, plus ``weight_decay * p``):

        p  = p * (1 - lambd * eta) - eta * g
        ax = p                   if mu == 1   else   ax + mu * (p - ax)
        eta = lr / (1 + lambd * lr * t) ** alpha
        mu  = 1 / max(1, t - t0)

    ``ax`` is the averaged parameter (Polyak averaging starts after ``t0`` steps).
    As in PyTorch, ``eta`` and ``mu`` are kept as float32 scalars.
    """

    _scalar_state_keys = frozenset({"step", "eta", "mu"})

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        _check_nonnegative(weight_decay=weight_decay)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, p, group):
        return {"eta": _float32_scalar(_to_scalar(group["lr"])), "mu": _float32_scalar(1.0), "ax": _zeros_like(p)}

    def _step_group(self, group):
        lr, lambd, alpha, t0 = _to_scalar(group["lr"]), group["lambd"], group["alpha"], group["t0"]
        for p, grad, state, t in self._params_with_grad(group):
            eta, mu = float(state["eta"]._data), float(state["mu"]._data)
            ax = state["ax"]._data

            p._data *= 1 - lambd * eta
            p._data -= eta * grad
            if mu != 1:
                ax += mu * (p._data - ax)
            else:
                ax[...] = p._data
            state["eta"]._data[...] = lr / ((1 + lambd * lr * t) ** alpha)
            state["mu"]._data[...] = 1 / max(1, t - t0)
