"""Dropout: ``F.dropout``, ``F.dropout2d`` (the op in ``ops/nn/dropout.py``) and alpha dropout (Tensor ops)."""
import math
import warnings

from ... import _creation, random
from ..._tensor import Tensor
from ...ops import inplace_update as _inplace_update
from ...ops.nn import dropout as _op

__all__ = ["dropout", "dropout2d", "alpha_dropout", "feature_alpha_dropout"]


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero elements with probability ``p`` and scale the rest by 1 / (1 - p); the identity when not training."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    out = _op.dropout(input, p)
    return _inplace_update(input, out) if inplace else out


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels (feature maps) of an (N, C, H, W) input with probability ``p``."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated and will "
                      "result in an error in a future release. Use dropout instead.", stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim.",
                      stacklevel=2)
    if not training or p == 0.0:
        return input
    out = _op.dropout(input, p, channelwise=True)
    return _inplace_update(input, out) if inplace else out

_SELU_ALPHA = 1.7580993408473766  # -scale * alpha of SELU: the value a dropped unit takes


def _alpha_dropout(input, p, training, inplace, feature):
    """x * a * keep + b, where a dropped unit becomes SELU's saturation value and a and b restore the
    mean and variance of a zero-mean unit-variance input (PyTorch's formula)."""
    if p < 0 or p > 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if feature and input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if p == 0 or not training or input.numel() == 0:
        return input
    if p == 1:
        out = input * _creation.zeros((), dtype=input.dtype)
    else:
        shape = input.shape[:2] + (1,) * (input.ndim - 2) if feature else input.shape
        keep = (random.generator_of(None).random(tuple(shape)) >= p).astype(input._data.dtype)
        a = 1.0 / math.sqrt((_SELU_ALPHA ** 2 * p + 1) * (1 - p))
        b = (keep - 1) * (_SELU_ALPHA * a) + _SELU_ALPHA * a * p
        out = input * Tensor._wrap(keep * a) + Tensor._wrap(b)
    return _inplace_update(input, out) if inplace else out


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: dropped units are set to SELU's negative saturation, keeping mean and variance."""
    return _alpha_dropout(input, p, training, inplace, feature=False)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels of an (N, C, *) input."""
    return _alpha_dropout(input, p, training, inplace, feature=True)
