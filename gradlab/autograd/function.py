"""The op protocol, and ``autograd.Function`` for user-defined ops.

Every built-in op computes its result on NumPy arrays and hands it to
``record`` together with a ``backward`` closure (written beside the forward, in
the op's own file).  ``record`` wraps the array in a Tensor and, only when grad
mode is on and some input requires grad, attaches a graph ``Node``.  That test
is the whole cost of an op under ``no_grad``.
"""
from . import grad_mode
from .anomaly import forward_site
from .engine import anomaly_mode
from .graph import Node, edge_of

__all__ = ["record", "Function", "FunctionCtx", "once_differentiable"]


def record(data, name, backward, inputs, saved=()):
    """Wrap ``data`` (an ndarray) as the output of op ``name``.

    ``inputs`` are the Tensor inputs, in the order ``backward`` returns their
    gradients; ``saved`` are those whose values ``backward`` reads.
    """
    out = Tensor._wrap(data)
    if grad_mode.state.enabled:
        for t in inputs:
            if t._requires_grad:
                out.grad_fn = Node(name, backward, tuple([edge_of(t) for t in inputs]), saved)
                out._requires_grad = True
                if anomaly_mode[0]:
                    out.grad_fn.metadata["forward_site"] = forward_site()
                break
    return out


class FunctionCtx:
    """The ``ctx`` of a user-defined Function: a place to keep what backward needs."""

    def save_for_backward(self, *tensors):
        self.to_save = tensors

    @property
    def saved_tensors(self):
        node = self._node
        if node is not None and node._freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors "
                "after they have already been freed). Specify retain_graph=True if you need to backward "
                "through the graph a second time.")
        return tuple(self.to_save) if hasattr(self, "to_save") else ()

    def mark_dirty(self, *tensors):
        self.dirty_tensors = tensors

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable = tensors

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)


class Function:
    """Base class of user-defined differentiable ops (as ``torch.autograd.Function``).

    Subclasses define static methods ``forward(ctx, *args)`` (runs with grad
    mode off) and ``backward(ctx, *grad_outputs)`` (one gradient per forward
    argument, None for non-tensors), and are called with ``Sub.apply(*args)``.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement the backward function for custom autograd.Function.")

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx._node = None
        tensor_args = [a for a in args if isinstance(a, Tensor)]
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        needs_graph = grad_mode.state.enabled and any(ctx.needs_input_grad)
        versions = [t._version_counter[0] for t in tensor_args]
        with grad_mode.no_grad():
            outputs = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        dirty = getattr(ctx, "dirty_tensors", ())
        for t in tensor_args:
            if any(t is d for d in dirty):
                if t.is_leaf and t.requires_grad and needs_graph:
                    raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
                t._version_counter[0] += 1
        if not needs_graph:
            return outputs
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        materialize = getattr(ctx, "materialize_grads", True)
        tensor_outs = [o for o in outs if isinstance(o, Tensor)]

        def backward(grads):
            grads = (grads,) if len(tensor_outs) == 1 else grads
            if materialize:
                grads = tuple(g if g is not None else zeros_like(o) for g, o in zip(grads, tensor_outs))
            result = cls.backward(ctx, *grads)
            if not isinstance(result, tuple):
                result = (result,)
            if len(result) < len(args):
                raise RuntimeError(f"function {cls.__name__}Backward returned an incorrect number of gradients "
                                   f"(expected {len(args)}, got {len(result)})")
            return tuple(result[i] for i in positions)

        saved = [t for t in getattr(ctx, "to_save", ()) if isinstance(t, Tensor)
                 and not any(t is o for o in tensor_outs)]
        node = Node(cls.__name__ + "Backward", backward,
                    tuple([edge_of(t) for t in tensor_args]), (), n_outputs=len(tensor_outs))
        node.saved = tuple((t, v) for t, v in zip(tensor_args, versions) if any(t is s for s in saved))
        ctx._node = node
        non_diff = getattr(ctx, "non_differentiable", ())
        result = []
        nr = 0
        for o in outs:
            if isinstance(o, Tensor):
                if any(o is a for a in tensor_args) and not any(o is d for d in dirty):
                    o = o.view_as(o)  # an input returned as-is gets a new identity in the graph
                if not any(o is n for n in non_diff):
                    o.grad_fn = node
                    o._out_nr = nr
                    o._requires_grad = True
                nr += 1
            result.append(o)
        return result[0] if single else tuple(result)


def once_differentiable(fn):
    return fn


from .._tensor import Tensor, zeros_like  # noqa: E402  (Tensor imports this module's users)
