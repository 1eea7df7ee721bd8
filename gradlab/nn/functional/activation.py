"""Activations (``F.relu``, ``F.gelu``, ``F.softmax``, ...): argument handling, then the op in ``ops/nn/activation.py``.

``inplace=True`` writes the result into the input (``inplace_update``), as PyTorch's in-place forms.
"""
import warnings

from ...ops import _shadow
from ...ops import inplace_update as _inplace_update
from ...ops.unary import relu as _relu
from ...ops.unary import sigmoid as _sigmoid
from ...ops.unary import tanh as _tanh
from ...ops.nn import activation as _op

__all__ = ["relu", "relu_", "relu6", "leaky_relu", "elu", "silu", "gelu", "sigmoid", "tanh", "hardtanh", "softplus",
           "softmax", "log_softmax", "prelu", "selu", "selu_", "celu", "celu_", "mish", "hardswish", "hardsigmoid",
           "hardshrink", "softshrink", "tanhshrink", "softsign", "softmin", "logsigmoid", "glu", "threshold",
           "threshold_", "rrelu", "rrelu_", "elu_", "leaky_relu_", "hardtanh_"]


def _maybe_inplace(input, result, inplace):
    return _inplace_update(input, result) if inplace else result


def relu(input, inplace=False):
    return input.relu_() if inplace else _relu(input)


def relu_(input):
    return input.relu_()


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """input clipped to [min_val, max_val]; unlike clamp, the gradient is 0 at the bounds (as PyTorch)."""
    return _maybe_inplace(input, _op.hardtanh(input, min_val, max_val), inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _maybe_inplace(input, _op.leaky_relu(input, negative_slope, inplace), inplace)


def elu(input, alpha=1.0, inplace=False):
    return _maybe_inplace(input, _op.elu(input, alpha, inplace), inplace)


def silu(input, inplace=False):
    # in place, backward still reads the old values: silu runs on a copy of them
    return _maybe_inplace(input, _op.silu(_shadow(input) if inplace else input), inplace)


def gelu(input, approximate="none"):
    return _op.gelu(input, approximate)


def sigmoid(input):
    return _sigmoid(input)


def tanh(input):
    return _tanh(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (as PyTorch)."""
    return _op.softplus(input, beta, threshold)


def _softmax_dim(ndim):
    warnings.warn("Implicit dimension choice for softmax has been deprecated. Change the call to include dim=X "
                  "as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return _op.softmax(input, _softmax_dim(input.ndim) if dim is None else dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return _op.log_softmax(input, _softmax_dim(input.ndim) if dim is None else dim)

def _on_old_values(input, inplace):
    """The input an op should read: in place, a copy of the old values when backward needs them."""
    return _shadow(input) if inplace else input


def prelu(input, weight):
    """input where input > 0, else weight * input; ``weight`` holds one slope or one per channel (axis 1)."""
    return _op.prelu(input, weight)


def selu(input, inplace=False):
    """scale * elu(input, alpha) with alpha ~ 1.6733 and scale ~ 1.0507 (self-normalizing networks)."""
    return _maybe_inplace(input, _op.selu(input, inplace), inplace)


def selu_(input):
    return selu(input, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    return _maybe_inplace(input, _op.celu(input, alpha, inplace), inplace)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def mish(input, inplace=False):
    """input * tanh(softplus(input))."""
    return _maybe_inplace(input, _op.mish(_on_old_values(input, inplace)), inplace)  # backward reads the input


def hardswish(input, inplace=False):
    """input * relu6(input + 3) / 6 (MobileNetV3)."""
    return _maybe_inplace(input, _op.hardswish(_on_old_values(input, inplace)), inplace)  # backward reads the input


def hardsigmoid(input, inplace=False):
    """relu6(input + 3) / 6."""
    return _maybe_inplace(input, _op.hardsigmoid(input), inplace)


def hardshrink(input, lambd=0.5):
    """input where |input| > lambd, else 0."""
    return _op.hardshrink(input, lambd)


def softshrink(input, lambd=0.5):
    """input - lambd above lambd, input + lambd below -lambd, else 0."""
    return _op.softshrink(input, lambd)


def tanhshrink(input):
    """input - tanh(input) (two nodes, as PyTorch)."""
    return input - input.tanh()


def softsign(input):
    """input / (1 + |input|) (composed, as PyTorch)."""
    return input / (input.abs() + 1)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-input) along ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    return softmax(-input, dim, _stacklevel + 1)


def logsigmoid(input):
    """log(sigmoid(input)), stable for large |input|."""
    return _op.logsigmoid(input)


def glu(input, dim=-1):
    """a * sigmoid(b) for the halves a, b of input along ``dim`` (the gated linear unit)."""
    return _op.glu(input, dim)


def threshold(input, threshold, value, inplace=False):
    """input where input > threshold, else value."""
    return _maybe_inplace(input, _op.threshold(input, threshold, value, inplace), inplace)


def threshold_(input, threshold, value):
    return _maybe_inplace(input, _op.threshold(input, threshold, value, True), True)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU whose negative slope is drawn from U(lower, upper) per element when training,
    and is (lower + upper) / 2 otherwise."""
    return _maybe_inplace(input, _op.rrelu(input, lower, upper, training, inplace), inplace)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)
