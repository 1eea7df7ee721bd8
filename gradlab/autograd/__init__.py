"""Reverse-mode automatic differentiation (as ``torch.autograd``).

``backward`` accumulates gradients into the ``.grad`` of leaves;
``grad`` returns them instead.  Both check their arguments here and hand the
work to the engine (``engine.run_backward``).
"""
import numpy as np

from .._tensor import Size, Tensor
from . import grad_mode
from .engine import run_backward
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                        set_grad_enabled)
from .graph import Node

__all__ = ["backward", "grad", "Function", "FunctionCtx", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "is_grad_enabled", "is_inference_mode_enabled", "gradcheck", "gradgradcheck",
           "Node", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "once_differentiable",
           "Variable", "explain", "record_forwards"]


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """The wrapper of PyTorch before 0.4, kept as PyTorch keeps it for old tutorials: every tensor is a
    Variable, and ``Variable(t, requires_grad=True)`` is a new leaf over t's values."""

    def __new__(cls, data, requires_grad=False, volatile=False):
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        return data.detach().requires_grad_(requires_grad)


def _as_tuple(x):
    if x is None:
        return None
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _check_outputs(outputs):
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"element {i} of tensors is a {type(t).__name__}, not a Tensor")
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")


def _root_grads(outputs, grad_outputs):
    """The starting gradient of each output: given, or 1 for a scalar output."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"got {len(grad_outputs)} gradients for {len(outputs)} outputs; "
                           "pass one gradient (or None) per output")
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            if out._data.size != 1:
                made_by = f" (made by {out.grad_fn.name()})" if out.grad_fn is not None else ""
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs: output {i}{made_by} "
                                   f"has shape {list(out._data.shape)}; pass gradient= (a tensor of that shape) "
                                   "or reduce it to a scalar first, e.g. with .sum()")
            if out._data.dtype.kind != "f":
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got "
                                   f"{out.dtype}")
            g = Tensor._wrap(np.ones(out._data.shape, dtype=out._data.dtype))
        elif not isinstance(g, Tensor):
            g = Tensor._wrap(np.asarray(g, dtype=out._data.dtype))
        if g._data.shape != out._data.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {Size(g._data.shape)} and "
                               f"output[{i}] has a shape of {Size(out._data.shape)}.")
        if g._data.dtype != out._data.dtype:
            g = Tensor._wrap(g._data.astype(out._data.dtype))  # as PyTorch, cast to the output's dtype
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (or only into ``inputs``' .grad)."""
    tensors = _as_tuple(tensors)
    _check_outputs(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    grads = _root_grads(tensors, _as_tuple(grad_tensors))
    if inputs is None:
        run_backward(tensors, grads, retain_graph, create_graph)
        return
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("backward: 'inputs' argument to backward() cannot be empty.")
    captured = run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs)
    for t, g in zip(inputs, captured):
        if g is not None:
            g = g if create_graph else g.detach()
            t._grad = g.clone() if t._grad is None else t._grad + g


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False, is_grads_batched=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned (``.grad`` is untouched)."""
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    _check_outputs(outputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    if retain_graph is None:
        retain_graph = create_graph
    grads = run_backward(outputs, _root_grads(outputs, _as_tuple(grad_outputs)), retain_graph, create_graph,
                         inputs=inputs)
    result = []
    for i, (t, g) in enumerate(zip(inputs, grads)):
        if g is None:
            if materialize_grads:
                g = Tensor._wrap(np.zeros(t._data.shape, dtype=t._data.dtype))
            elif not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been used in the "
                                   "graph. Set allow_unused=True if this is the desired behavior.")
        elif not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)


from .anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly  # noqa: E402
from .gradcheck import gradcheck, gradgradcheck  # noqa: E402
from . import functional  # noqa: E402  (torch.autograd.functional)
from .explain import explain, record_forwards  # noqa: E402  (the name explain is the function, not the module)
