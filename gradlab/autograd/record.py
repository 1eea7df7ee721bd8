"""The op protocol: how an op's result enters the graph.

Every built-in op computes its result on NumPy arrays and hands it to
``record`` together with a ``backward`` closure (written beside the forward, in
the op's own file).  ``record`` wraps the array in a Tensor and, only when grad
mode is on and some input requires grad, attaches a graph ``Node``.  That test
is the whole cost of an op under ``no_grad``.

``backward(g)`` returns one gradient per input (None where there is none).  It
is written with Tensor ops, so that with ``create_graph=True`` the backward is
recorded too and can be differentiated again.  An op may also give ``fast``:
the same gradients computed on arrays only, which the engine runs instead when
``create_graph`` is off.  The op never chooses between the two itself.

``record_outputs`` is the same for an op with several outputs (split, unbind,
var_mean, ...).  ``new_node`` is the node-making step of both, which
``Function.apply`` and the module backward hooks use too.
"""
from . import grad_mode
from .anomaly import anomaly_mode, check_forward, forward_site
from .graph import Node, edge_of
from .inference import SAVED_INFERENCE_TENSOR, InferenceVersion

__all__ = ["record", "record_outputs", "new_node"]

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
    # new_node, written out inline: this runs for every recorded op
    for t in saved:
        if t._version_counter.__class__ is InferenceVersion:
            raise RuntimeError(SAVED_INFERENCE_TENSOR)
    edges = tuple([(t.grad_fn, t._out_nr) if t.grad_fn is not None else (t, 0) if t._requires_grad else None
                   for t in inputs])  # edge_of(t) for each input
    data = out._data
    node = Node(name, backward, edges, saved, 1, fast, (data.shape, data.dtype))
    if anomaly_mode[0]:
        node.metadata["forward_site"] = forward_site()
        if anomaly_mode[2]:
            check_forward(node, (data,), inputs)
    if saves_output:
        node.saved += ((out, 0),)
    out.grad_fn = node
    out._requires_grad = True
    return out


def record_outputs(arrays, name, backward, inputs, saved=(), saves_outputs=False, fast=None):
    """Wrap several ndarrays as the outputs of one op: one node with an output per array.

    As ``record``, except that ``backward`` (and ``fast``) receive a tuple with
    one gradient per output (None for an output that got none), as for split,
    unbind and var_mean in PyTorch.  Returns the list of output Tensors.
    """
    outs = [_wrap(x) for x in arrays]
    if not _state.enabled:
        if _state.inference:
            for out in outs:
                out._version_counter = InferenceVersion([0])
        return outs
    if not outs or not any(t._requires_grad for t in inputs):
        return outs
    single = len(outs) == 1
    metas = tuple([(out._data.shape, out._data.dtype) for out in outs])
    node = new_node(name, _taking_tuple(backward, single), inputs, saved, len(outs), _taking_tuple(fast, single),
                    metas[0] if single else metas)
    if anomaly_mode[2]:
        check_forward(node, arrays, inputs)
    if saves_outputs:
        node.saved += tuple([(out, 0) for out in outs])
    for nr, out in enumerate(outs):
        out.grad_fn, out._out_nr, out._requires_grad = node, nr, True
    return outs


def _taking_tuple(fn, single):
    """``fn`` as a node's backward: it gets a tuple of gradients, even from a one-output node (given one alone)."""
    if fn is None:
        return None
    if single:
        return lambda g: fn((g,))
    return lambda grads: fn(tuple(grads))


def new_node(name, backward, inputs, saved=(), n_outputs=1, fast=None, out_meta=None):
    """The graph node of an op on ``inputs`` (Tensors): an edge per input, ``saved`` with their versions.

    ``out_meta``, optional, is the output's ``(shape, dtype)`` (a tuple of those
    for several outputs), for drawings.

    Its outputs are the caller's to attach (``out.grad_fn``, ``out._out_nr``).
    """
    for t in saved:
        if t._version_counter.__class__ is InferenceVersion:
            raise RuntimeError(SAVED_INFERENCE_TENSOR)
    node = Node(name, backward, tuple([edge_of(t) for t in inputs]), saved, n_outputs, fast, out_meta)
    if anomaly_mode[0]:
        node.metadata["forward_site"] = forward_site()
    return node


from .._tensor import Tensor  # noqa: E402  (Tensor imports this module's users)

_wrap = Tensor._wrap
