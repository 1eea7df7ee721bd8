"""Layer norm and batch norm in plain NumPy: the readable twin of gradlab_ext/norm.pyx.

Standardizing a set of values x_1..x_n (a row for layer norm, a channel over
the batch and the positions for batch norm):

    mean = sum(x) / n,   var = sum((x - mean)^2) / n,   rstd = 1 / sqrt(var + eps)
    xhat = (x - mean) * rstd,   y = xhat * weight + bias

and, for an upstream gradient g and gh = g * weight, the gradient reaching x

    gx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat))

(the two means remove what moves the mean and what moves the variance).  The
weight's gradient is sum(g * xhat), the bias's sum(g), over what the
parameter is shared by.  Forward returns mean and rstd so that backward can
rebuild xhat from x.  Statistics are added in float64, as the compiled twin does.
"""
import numpy as np

__all__ = ["layer_norm_forward", "layer_norm_backward", "batch_norm_forward", "batch_norm_backward"]


def layer_norm_forward(x, weight, bias, eps):
    """Each row of x (M, N) standardized, * weight (N,) + bias (N,) (either may be None).

    Returns (y (M, N), mean (M,), rstd (M,)), rstd = 1 / sqrt(biased var + eps).
    """
    if x.shape[0] == 0 or x.shape[1] == 0:
        nan = np.full(x.shape[0], np.nan, dtype=x.dtype)
        return np.empty_like(x), nan, nan.copy()
    mean = x.mean(axis=1, dtype=np.float64)
    centered = x - mean[:, None]
    var = np.einsum("ij,ij->i", centered, centered, dtype=np.float64) / x.shape[1]
    rstd = 1 / np.sqrt(var + eps)
    y = (x - mean.astype(x.dtype)[:, None]) * rstd.astype(x.dtype)[:, None]
    if weight is not None:
        y *= weight
    if bias is not None:
        y += bias
    return y, mean.astype(x.dtype), rstd.astype(x.dtype)


def layer_norm_backward(grad_out, x, mean, rstd, weight, need_input, need_weight, need_bias):
    """(grad_x, grad_weight, grad_bias) of layer_norm_forward; None for what is not needed."""
    xhat = (x - mean[:, None]) * rstd[:, None]
    grad_w = (grad_out * xhat).sum(axis=0, dtype=np.float64).astype(x.dtype) if need_weight else None
    grad_b = grad_out.sum(axis=0, dtype=np.float64).astype(x.dtype) if need_bias else None
    grad_x = None
    if need_input:
        gh = grad_out * weight if weight is not None else grad_out
        grad_x = _standardize_grad(gh, xhat, rstd[:, None], axes=1)
    return grad_x, grad_w, grad_b


def batch_norm_forward(x, weight, bias, eps):
    """Each channel of x (N, C, S) standardized over N and S, * weight (C,) + bias (C,) (either may be None).

    Returns (y (N, C, S), mean (C,), var (C,) biased, rstd (C,)).
    """
    if x.shape[0] * x.shape[2] < 1:
        raise ValueError(f"batch_norm_forward: x of shape {tuple(x.shape)} has no values per channel")
    mean = x.mean(axis=(0, 2), dtype=np.float64)
    centered = x - mean[:, None]
    var = (centered * centered).mean(axis=(0, 2), dtype=np.float64)
    rstd = 1 / np.sqrt(var + eps)
    scale = rstd if weight is None else rstd * weight
    y = (x - mean.astype(x.dtype)[:, None]) * scale.astype(x.dtype)[:, None]
    if bias is not None:
        y += bias[:, None]
    return y, mean.astype(x.dtype), var.astype(x.dtype), rstd.astype(x.dtype)


def batch_norm_backward(grad_out, x, mean, rstd, weight, need_input, need_weight, need_bias):
    """(grad_x, grad_weight, grad_bias) of batch_norm_forward (training mode); None for what is not needed."""
    xhat = (x - mean[:, None]) * rstd[:, None]
    grad_w = (grad_out * xhat).sum(axis=(0, 2), dtype=np.float64).astype(x.dtype) if need_weight else None
    grad_b = grad_out.sum(axis=(0, 2), dtype=np.float64).astype(x.dtype) if need_bias else None
    grad_x = None
    if need_input:
        scale = rstd if weight is None else rstd * weight      # gh = g * weight, folded into rstd
        grad_x = _standardize_grad(grad_out, xhat, scale[:, None], axes=(0, 2))
    return grad_x, grad_w, grad_b


def _standardize_grad(gh, xhat, scale, axes):
    """scale * (gh - mean(gh) - xhat * mean(gh * xhat)), the means over ``axes`` (added in float64)."""
    mean_gh = gh.mean(axis=axes, keepdims=True, dtype=np.float64).astype(gh.dtype)
    mean_ghx = (gh * xhat).mean(axis=axes, keepdims=True, dtype=np.float64).astype(gh.dtype)
    return scale * (gh - mean_gh - xhat * mean_ghx)
