"""The op protocol, and ``autograd.Function`` for user-defined ops.

Every built-in op computes its result on NumPy arrays and hands it to
``record`` together with a ``backward`` closure (written beside the forward, in
the op's own file).  ``record`` wraps the array in a Tensor and, only when grad
mode is on and some input requires grad, attaches a graph ``Node``.  That test
is the whole cost of an op under ``no_grad``.
"""
import functools

from . import grad_mode
from .anomaly import forward_site
from .engine import anomaly_mode
from .grad_mode import InferenceVersion
from .graph import Node

__all__ = ["record", "Function", "FunctionCtx", "once_differentiable"]

_state = grad_mode.state


def record(data, name, backward, inputs, saved=(), saves_output=False, fast=None):
    """Wrap ``data`` (an ndarray) as the output of op ``name``.

    ``inputs`` are the Tensor inputs, in the order ``backward`` returns their
    gradients; ``saved`` are those whose values ``backward`` reads, and
    ``saves_output=True`` says that backward reads the output's values too
    (all of them are version-checked at backward).  ``fast``, optional, is
    ``backward`` on arrays only: the engine runs it when no graph of the
    backward is wanted (``create_graph=False``).  Under inference mode the
    result is an inference tensor; saving one for backward is an error.
    """
    out = _wrap(data)
    if not _state.enabled:
        if _state.inference:  # made in inference mode: an inference tensor
            out._version_counter = InferenceVersion([0])
        return out
    for t in inputs:
        if t._requires_grad:
            break
    else:
        return out  # no input requires grad: nothing to record
    for t in saved:
        if t._version_counter.__class__ is InferenceVersion:
            raise RuntimeError(grad_mode.SAVED_INFERENCE_TENSOR)
    # graph.edge_of for each input, written out inline: this line runs for every recorded op
    edges = tuple([(t.grad_fn, t._out_nr) if t.grad_fn is not None else (t, 0) if t._requires_grad else None
                   for t in inputs])
    node = Node(name, backward, edges, saved, 1, fast)
    if saves_output:
        node.saved += ((out, 0),)
    out.grad_fn = node
    out._requires_grad = True
    if anomaly_mode[0]:
        node.metadata["forward_site"] = forward_site()
    return out


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
        node = Node(cls.__name__ + "Backward", _backward_of(cls, ctx, args, outs),
                    tuple([_edge(t) for t in tensor_args]), n_outputs=sum(isinstance(o, Tensor) for o in outs))
        # versions are taken now, after forward and its in-place changes
        if any(isinstance(t, Tensor) and t.is_inference() for t in ctx.to_save):
            raise RuntimeError(grad_mode.SAVED_INFERENCE_TENSOR)
        node.saved = tuple((t, t._version_counter[0]) for t in ctx.to_save if isinstance(t, Tensor))
        ctx._node = node
        if anomaly_mode[0]:
            node.metadata["forward_site"] = forward_site()
        result = _attach_outputs(node, outs, tensor_args, ctx)
        return result[0] if single else tuple(result)


def _edge(t):
    if t.grad_fn is not None:
        return (t.grad_fn, t._out_nr)
    return (t, 0) if t._requires_grad else None


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
        node = Node("DelayedError", refuse, tuple([_edge(g) for g in tracked]))
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

_wrap = Tensor._wrap
