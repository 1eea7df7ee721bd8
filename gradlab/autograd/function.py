"""``autograd.Function``: user-defined differentiable ops, as ``torch.autograd.Function``.

A Function's forward runs with grad mode off; ``apply`` then makes one graph
node for it with ``record.new_node``, as the built-in ops do, whose backward
calls the Function's own ``backward``.  (``record``, the built-in ops'
protocol, is importable from here as it always was.)
"""
import functools

from . import grad_mode
from .record import new_node, record  # noqa: F401  (record: its old import path)

__all__ = ["record", "Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx:
    """The ``ctx`` of a user-defined Function: a place to keep what backward needs."""

    def __init__(self):
        self._node = None
        self.to_save = ()
        self.dirty_tensors = ()
        self.non_differentiable = ()
        self.materialize_grads = True
        self.needs_input_grad = ()

    def save_for_backward(self, *tensors):
        """Keep tensors for backward; an in-place change to one of them before backward is an error."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save tensors (or None), but got "
                                f"{type(t).__name__}; keep other values as attributes of ctx instead")
        self.to_save = tensors

    @property
    def saved_tensors(self):
        node = self._node
        if node is not None and node._freed:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (or directly access saved tensors "
                f"after they have already been freed) in {node.name()}. Specify retain_graph=True if you "
                "need to backward through the graph a second time.")
        return tuple(self.to_save)

    def mark_dirty(self, *tensors):
        """Declare the inputs that forward modified in place."""
        self.dirty_tensors = tensors

    def mark_non_differentiable(self, *tensors):
        """Declare outputs that get no gradient (e.g. indices)."""
        self.non_differentiable = tensors

    def set_materialize_grads(self, value):
        """With False, backward receives None (not zeros) for outputs that got no gradient."""
        self.materialize_grads = bool(value)


def _contains(tensors, t):
    return any(t is x for x in tensors)


class Function:
    """Base class of user-defined differentiable ops (as ``torch.autograd.Function``).

    Subclasses define static methods ``forward(ctx, *args)`` (it runs with grad
    mode off) and ``backward(ctx, *grad_outputs)`` (one gradient per forward
    argument, None for non-tensors), and are called as ``Sub.apply(*args)``.
    The newer style also works: ``forward(*args)`` without ctx plus
    ``setup_context(ctx, inputs, output)``.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement the backward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @classmethod
    def _uses_setup_context(cls):
        return cls.setup_context is not Function.setup_context

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        tensor_args = [a for a in args if isinstance(a, Tensor)]
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        needs_graph = grad_mode.state.enabled and any(ctx.needs_input_grad)
        with grad_mode.no_grad():
            if cls._uses_setup_context():
                outputs = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, outputs)
            else:
                outputs = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        _mark_dirty_inputs(ctx, tensor_args, needs_graph)
        if not needs_graph:
            return outputs
        # versions are taken now, after forward and its in-place changes
        node = new_node(cls.__name__ + "Backward", _backward_of(cls, ctx, args, outs), tensor_args,
                        [t for t in ctx.to_save if isinstance(t, Tensor)],
                        n_outputs=sum(isinstance(o, Tensor) for o in outs))
        ctx._node = node
        result = _attach_outputs(node, outs, tensor_args, ctx)
        return result[0] if single else tuple(result)


def _mark_dirty_inputs(ctx, tensor_args, needs_graph):
    for t in tensor_args:
        if _contains(ctx.dirty_tensors, t):
            if needs_graph and t.grad_fn is None and t._requires_grad:
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
            t._version_counter[0] += 1


def _attach_outputs(node, outs, tensor_args, ctx):
    """Make the Tensor outputs point at ``node`` (output_nr counts Tensor outputs only)."""
    result = []
    nr = 0
    for o in outs:
        if isinstance(o, Tensor):
            if _contains(tensor_args, o) and not _contains(ctx.dirty_tensors, o):
                o = o.view_as(o)  # an input returned as-is gets a new identity in the graph
            if not _contains(ctx.non_differentiable, o):
                o.grad_fn = node
                o._out_nr = nr
                o._requires_grad = True
                if o._retains_grad:  # a dirty input that retained its grad keeps doing so
                    node.retain(o)
            nr += 1
        result.append(o)
    return result


def _backward_of(cls, ctx, args, outs):
    """The node's backward: call ``cls.backward`` and check what it returns."""
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    tensor_outs = [o for o in outs if isinstance(o, Tensor)]
    input_meta = [(args[i]._data.shape, args[i].dtype) for i in positions]
    name = cls.__name__ + "Backward"

    def backward(grads):
        grads = (grads,) if len(tensor_outs) == 1 else tuple(grads)
        if ctx.materialize_grads:
            grads = tuple(g if g is not None else zeros_like(o) for g, o in zip(grads, tensor_outs))
        result = cls.backward(ctx, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        if len(result) != len(args):
            if len(result) > len(args) and all(r is None for r in result[len(args):]):
                result = result[:len(args)]  # extra Nones are allowed, as in PyTorch
            else:
                raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                                   f"(expected {len(args)}, got {len(result)})")
        grads_in = []
        for k, i in enumerate(positions):
            g = result[i]
            if g is not None:
                g = _check_grad(name, i, g, *input_meta[k])
            grads_in.append(g)
        return tuple(grads_in)
    return backward


def _check_grad(name, index, g, shape, dtype):
    """PyTorch's validate_outputs: a gradient must be a Tensor of its input's shape (dtype is cast)."""
    if not isinstance(g, Tensor):
        raise TypeError(f"function {name} returned a gradient of type {type(g).__name__} at index {index}; "
                        "expected a Tensor or None")
    if g._data.shape != shape:
        if _expandable_to(shape, g._data.shape):
            from ..ops._common import sum_to
            g = sum_to(g, shape)
        else:
            raise RuntimeError(f"Function {name} returned an invalid gradient at index {index} - got "
                               f"{list(g._data.shape)} but expected shape compatible with {list(shape)}")
    if g.dtype is not dtype:
        g = g.to(dtype)
    return g


def _expandable_to(shape, desired):
    """True when a tensor of ``shape`` broadcasts to ``desired`` (so its gradient can be summed back)."""
    if len(shape) > len(desired):
        return False
    return all(s == d or s == 1 for s, d in zip(shape[::-1], desired[::-1]))


def once_differentiable(fn):
    """Decorate a Function's backward that is not itself differentiable (e.g. written on arrays).

    It runs under no_grad; when the gradients it returns would be differentiated
    again (``create_graph=True``), they get a node that raises instead of
    silently giving a wrong second derivative.
    """
    @functools.wraps(fn)
    def wrapper(ctx, *grad_outputs):
        with grad_mode.no_grad():
            result = fn(ctx, *grad_outputs)
        if not grad_mode.state.enabled:
            return result
        tracked = [g for g in grad_outputs if isinstance(g, Tensor) and g._requires_grad]
        if not tracked:
            return result

        def refuse(grads):
            raise RuntimeError(f"trying to differentiate twice a function that was marked with "
                               f"@once_differentiable ({fn.__qualname__})")
        node = new_node("DelayedError", refuse, tracked)
        single = not isinstance(result, tuple)
        outs = []
        for r in ((result,) if single else result):
            if isinstance(r, Tensor):
                r = r.detach()
                r.grad_fn, r._requires_grad = node, True
            outs.append(r)
        return outs[0] if single else tuple(outs)
    return wrapper


from .._tensor import Tensor, zeros_like  # noqa: E402  (Tensor imports this module's users)
