"""Reverse-mode automatic differentiation (as ``torch.autograd``)."""
from .._tensor import Tensor
from . import grad_mode
from .engine import run_backward
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .graph import Node

__all__ = ["backward", "grad", "Function", "FunctionCtx", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "is_grad_enabled", "gradcheck", "gradgradcheck", "Node", "detect_anomaly",
           "once_differentiable"]


def _root_grads(outputs, grad_outputs, op):
    grads = []
    for out, g in zip(outputs, grad_outputs):
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs (the output of {op} "
                                   f"has shape {list(out._data.shape)}); pass gradient= with that shape")
            if out._data.dtype.kind != "f":
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got {out.dtype}")
            g = Tensor._wrap(np.ones(out._data.shape, dtype=out._data.dtype))
        elif not isinstance(g, Tensor):
            g = Tensor._wrap(np.asarray(g, dtype=out._data.dtype))
        elif g._data.shape != out._data.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {list(g._data.shape)} and "
                               f"output[0] has a shape of {list(out._data.shape)}.")
        grads.append(g)
    return grads


def _as_tuple(x):
    return (x,) if isinstance(x, Tensor) else tuple(x)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad``."""
    tensors = _as_tuple(tensors)
    grad_tensors = (None,) * len(tensors) if grad_tensors is None else _as_tuple(grad_tensors) \
        if not isinstance(grad_tensors, (list, tuple)) else tuple(grad_tensors)
    for t in tensors:
        if not t._requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    if retain_graph is None:
        retain_graph = create_graph
    grads = _root_grads(tensors, grad_tensors, "backward")
    if inputs is not None:
        inputs = _as_tuple(inputs)
        captured = run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs)
        for t, g in zip(inputs, captured):
            if g is not None:
                g = g if create_graph else g.detach()
                t.grad = g if t.grad is None else t.grad + g
        return
    run_backward(tensors, grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned (``.grad`` is untouched)."""
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else _as_tuple(grad_outputs)
    for t in outputs:
        if not t._requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    if retain_graph is None:
        retain_graph = create_graph
    grads = run_backward(outputs, _root_grads(outputs, grad_outputs, "grad"), retain_graph, create_graph,
                         inputs=inputs)
    result = []
    for t, g in zip(inputs, grads):
        if g is None:
            if materialize_grads:
                g = Tensor._wrap(np.zeros(t._data.shape, dtype=t._data.dtype))
            elif not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                                   "Set allow_unused=True if this is the desired behavior.")
        elif not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)


import numpy as np  # noqa: E402

from .anomaly import detect_anomaly, set_detect_anomaly  # noqa: E402
from .gradcheck import gradcheck, gradgradcheck  # noqa: E402
