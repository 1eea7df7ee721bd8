"""Optimizer updates in plain NumPy: the readable twin of gradlab_ext/optim.pyx.

Each function updates one parameter and its state buffers in place, with the
formulas (and the order of their roundings) of PyTorch's single-tensor Adam,
AdamW and SGD.  Written here as a few whole-array NumPy expressions: each
line is one pass over the parameter and some need a temporary.  The compiled
twin does the same arithmetic, element by element, in one pass.

Scalars (lr, betas, ...) are Python floats; NumPy rounds them to the arrays'
dtype at each operation, and the compiled twin rounds them the same way, so
the two give the same bits.
"""
import numpy as np

__all__ = ["adam_step", "sgd_step"]


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
              weight_decay, decoupled, maximize):
    """One Adam (AdamW when ``decoupled``) step of ``param``, in place; ``step`` counts from 1.

        g = -grad if maximize else grad;  g += weight_decay * param  (unless decoupled)
        param *= 1 - lr * weight_decay                                (decoupled)
        m = lerp(m, g, 1 - beta1);   v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                                         (amsgrad: v_max given, used for v)
        param -= lr / (1 - beta1**step) * m / (sqrt(v) / sqrt(1 - beta2**step) + eps)
    """
    g = -grad if maximize else grad
    if weight_decay != 0:
        if decoupled:
            param *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * param
    work = np.empty_like(param)

    _lerp_(exp_avg, g, 1 - beta1, work)          # m += (1 - beta1) * (g - m)
    exp_avg_sq *= beta2                         # v = beta2 * v + (1 - beta2) * g * g
    np.multiply(g, g, out=work)
    work *= 1 - beta2
    exp_avg_sq += work
    v = exp_avg_sq
    if max_exp_avg_sq is not None:              # amsgrad: the largest v seen so far
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        v = max_exp_avg_sq

    step_size = lr / (1 - beta1 ** step)
    denom = np.sqrt(v, out=work)
    denom /= (1 - beta2 ** step) ** 0.5         # eps after the bias correction, as PyTorch
    denom += eps
    np.divide(exp_avg, denom, out=work)
    work *= -step_size
    param += work


def sgd_step(param, grad, momentum_buffer, lr, momentum, dampening, nesterov, weight_decay, maximize,
             first):
    """One SGD step of ``param``, in place; ``momentum_buffer`` None for plain SGD.

        g = -grad if maximize else grad;  g += weight_decay * param
        b = g (first step)  or  b = momentum * b + (1 - dampening) * g
        g = g + momentum * b (nesterov)  or  g = b
        param -= lr * g
    """
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    if momentum_buffer is not None:
        b = momentum_buffer
        if first:
            b[...] = g
        else:
            b *= momentum
            b += g if dampening == 0 else (1 - dampening) * g
        g = g + momentum * b if nesterov else b
    param -= lr * g


def _lerp_(average, target, weight, work=None):
    """``average += weight * (target - average)`` in place, rounded as PyTorch's ``lerp_``.

    For weights of 0.5 and more the update is written from the target's side,
    so that a weight of 1 gives exactly ``target``.  ``work`` is an optional
    scratch array of the same shape.
    """
    diff = np.subtract(target, average, out=work)
    if weight < 0.5:
        diff *= weight
        average += diff
    else:
        diff *= 1 - weight
        np.subtract(target, diff, out=average)
