"""The backward engine: reverse-mode differentiation over the recorded graph.

1. Walk the graph from the roots (iteratively: a chain of 100,000 ops must not
   hit Python's recursion limit) and count, for every node, how many edges
   lead into it.
2. Start from the roots with their gradients.  A node runs only when every
   edge into it has delivered its gradient (its count drops to zero), so its
   gradient is complete: the sum over all the paths that use it.
3. A leaf that requires grad receives its summed gradient into ``.grad``.

Graph targets are of two kinds: a ``Node`` (an op's backward) or a leaf
Tensor (where gradients accumulate).  ``autograd.grad`` passes ``inputs``:
their gradients are captured and returned instead (``capture.py``).  Hooks
(``hooks.py``), anomaly mode (``anomaly.py``), the profiler
(``profiler.py``) and ``explain``'s trace (``explain.py``) cost one test each
per node when unused.
"""
import numpy as np

from . import grad_mode, hooks, profiler
from .anomaly import add_forward_site, anomaly_mode, check_gradients
from .capture import Capture
from .graph import Node, edge_of

__all__ = ["run_backward", "anomaly_mode", "tracing"]

tracing = [None]  # explain's recorder while it runs: told of every node run and every leaf reached


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, inputs=None):
    """Backpropagate ``root_grads`` from the tensors ``roots``.

    With ``inputs`` given, nothing is accumulated into ``.grad``; the list of
    the gradients of ``inputs`` (None where unreached) is returned instead.
    """
    grads = {}  # target -> its gradient so far (a list, one per output, for multi-output nodes)
    starts = []
    for t, g in zip(roots, root_grads):
        target, nr = edge_of(t)
        starts.append(target)
        _deliver(grads, target, nr, g)
    deps = _count_dependencies(starts)
    capture = None
    if inputs is not None:
        capture = Capture(inputs, starts)
    ready = [s for s in dict.fromkeys(starts) if s not in deps]

    state = grad_mode.state
    prev_mode = state.enabled
    state.enabled = create_graph  # backward formulas are recorded only for higher-order gradients
    try:
        # NaN and inf flow through gradients silently, as in PyTorch (NumPy would warn at each op)
        with np.errstate(all="ignore"):
            while ready:
                target = ready.pop()
                g = grads.pop(target, None)
                if type(target) is Node:
                    in_grads = _run_node(target, g, retain_graph, capture, create_graph)
                    if tracing[0] is not None:
                        tracing[0].node(target, g, in_grads)
                    _propagate(target.edges, in_grads, grads, deps, ready)
                elif g is not None:  # a leaf tensor
                    if capture is not None:
                        capture.leaf(target, g)
                    else:
                        _accumulate_leaf(target, g, create_graph)
                    if tracing[0] is not None:
                        tracing[0].leaf(target, g)
    finally:
        state.enabled = prev_mode
    return capture.results() if capture is not None else None


def _deliver(grads, target, nr, g):
    """Add gradient ``g`` for output ``nr`` of ``target`` to what it has received so far."""
    if type(target) is Node and target.n_outputs > 1:
        slot = grads.get(target)
        if slot is None:
            slot = grads[target] = [None] * target.n_outputs
        slot[nr] = g if slot[nr] is None else slot[nr] + g
    else:
        old = grads.get(target)
        grads[target] = g if old is None else old + g


def _count_dependencies(starts):
    """For each target reachable from ``starts``: the number of edges that lead into it."""
    deps = {}
    stack = [s for s in dict.fromkeys(starts) if type(s) is Node]  # (two roots may share a node)
    seen = set(stack)
    while stack:
        node = stack.pop()
        for edge in node.edges:
            if edge is None:
                continue
            target = edge[0]
            if target in deps:
                deps[target] += 1
            else:
                deps[target] = 1
            if target not in seen:
                seen.add(target)
                if type(target) is Node:
                    stack.append(target)
    return deps


def _propagate(edges, in_grads, grads, deps, ready):
    """Send each input gradient along its edge; a target whose last gradient arrived becomes ready."""
    for edge, ig in zip(edges, in_grads):
        if edge is None:
            continue
        target = edge[0]
        if ig is not None:
            if type(target) is Node and target.n_outputs > 1:
                _deliver(grads, target, edge[1], ig)
            else:  # the common case, inlined: one gradient slot per target
                old = grads.get(target)
                grads[target] = ig if old is None else old + ig
        left = deps[target] - 1
        deps[target] = left
        if left == 0:
            ready.append(target)


def _run_node(node, g, retain_graph, capture, create_graph):
    """Run one node's backward on its complete output gradient ``g``; return the input gradients.

    The node's array-only ``fast_fn`` runs when there is one and no graph of the backward is wanted.
    """
    if g is None:
        return (None,) * len(node.edges)
    if node._freed:
        raise RuntimeError(
            f"Trying to backward through the graph a second time (or directly access saved tensors after "
            f"they have already been freed) in {node.name()}. Saved intermediate values of the graph are "
            "freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
            "backward through the graph a second time or if you need to access saved tensors after calling "
            "backward.")
    if node.pre_hooks or node.retained:
        g = hooks.before_node(node, g)
    if capture is not None:
        capture.node_outputs(node, g)
        if node not in capture.needed:
            return (None,) * len(node.edges)  # leads to no requested input: its backward need not run
    if node.saved:
        _check_saved_versions(node)
    try:
        fn = node.backward_fn if create_graph or node.fast_fn is None else node.fast_fn
        in_grads = fn(g) if profiler.active[0] is None else profiler.timed_backward(node, fn, g)
    except Exception as exc:
        if anomaly_mode[0]:
            add_forward_site(exc, node)
        raise
    if type(in_grads) is not tuple:
        in_grads = tuple(in_grads) if type(in_grads) is list else (in_grads,)
    if anomaly_mode[1]:
        check_gradients(node, in_grads)
    if node.post_hooks:
        in_grads = hooks.after_node(node, in_grads, g)
    if not retain_graph:
        node.release()
    return in_grads


def _accumulate_leaf(tensor, grad, create_graph):
    """``tensor.grad += grad``, after the tensor's hooks; the first gradient is stored as a private copy."""
    if tensor._hooks:
        grad = hooks.run_leaf_hooks(tensor, grad)
    if grad._data.shape != tensor._data.shape:
        grad = grad.expand(tensor._data.shape)
    if grad._data.dtype != tensor._data.dtype:
        grad = grad.to(tensor.dtype)
    old = tensor._grad
    if create_graph:
        tensor._grad = grad if old is None else old + grad
    elif old is None:
        # a copy: the incoming array may be shared with other gradients, or read-only
        tensor._grad = type(grad)._wrap(np.array(grad._data, copy=True, order="C"))
    elif old._requires_grad:
        tensor._grad = old + grad.detach()
    else:
        old._data += grad._data
    if tensor._post_accumulate_hooks:
        hooks.after_accumulate(tensor)


# ---- errors ---------------------------------------------------------------------------------------

def describe(tensor):
    """``gradlab.FloatTensor [2, 3]``: the type and shape, as PyTorch names a tensor in errors."""
    return f"{tensor.dtype.tensor_type} {list(tensor._data.shape)}"


def _check_saved_versions(node):
    for tensor, version in node.saved:
        now = tensor._version_counter[0]
        if now != version:
            made_by = f", which is output {tensor._out_nr} of {tensor.grad_fn.name()}," if tensor.grad_fn else ""
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: [{describe(tensor)}]{made_by} is at version {now}; expected version {version} "
                f"instead. It was saved for backward by {node.name()}, and an in-place op changed it "
                "afterwards. Hint: use the out-of-place op (x = x * 2, not x *= 2) or .clone() the tensor "
                "before changing it; run the forward inside autograd.detect_anomaly() to see where "
                f"{node.name()} was created.")
