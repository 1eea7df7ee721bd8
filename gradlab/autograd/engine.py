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
their gradients are captured and returned instead, and nodes that lead to
none of them are skipped.
"""
import numpy as np

from . import grad_mode, profiler
from .graph import Node

__all__ = ["run_backward", "anomaly_mode"]

anomaly_mode = [False, False]  # [record forward call sites, check gradients for nan/inf]: detect_anomaly


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, inputs=None):
    """Backpropagate ``root_grads`` from the tensors ``roots``.

    With ``inputs`` given, nothing is accumulated into ``.grad``; the list of
    the gradients of ``inputs`` (None where unreached) is returned instead.
    """
    grads = {}  # target -> its gradient so far (a list, one per output, for multi-output nodes)
    starts = []
    for t, g in zip(roots, root_grads):
        target, nr = (t.grad_fn, t._out_nr) if t.grad_fn is not None else (t, 0)
        starts.append(target)
        _deliver(grads, target, nr, g)
    deps = _count_dependencies(starts)
    capture = None
    if inputs is not None:
        capture = _Capture(inputs, starts)
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
                    _propagate(target.edges, in_grads, grads, deps, ready)
                elif g is not None:  # a leaf tensor
                    if capture is not None:
                        capture.leaf(target, g)
                    else:
                        _accumulate_leaf(target, g, create_graph)
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
    multi = node.n_outputs > 1
    if node.pre_hooks or node.retained or capture is not None:
        out_grads = _before_node(node, list(g) if multi else [g], capture)
        g = tuple(out_grads) if multi else out_grads[0]
        if capture is not None and node not in capture.needed:
            return (None,) * len(node.edges)  # leads to no requested input: its backward need not run
    if node.saved:
        _check_saved_versions(node)
    try:
        fn = node.backward_fn if create_graph or node.fast_fn is None else node.fast_fn
        in_grads = fn(g) if profiler.active[0] is None else _profiled(node, fn, g)
    except Exception as exc:
        if anomaly_mode[0]:
            _add_forward_site(exc, node)
        raise
    if type(in_grads) is not tuple:
        in_grads = tuple(in_grads) if type(in_grads) is list else (in_grads,)
    if anomaly_mode[1]:
        _check_anomaly(node, in_grads)
    if node.post_hooks:
        out_grads = g if multi else (g,)
        for fn in list(node.post_hooks.values()):
            new = fn(in_grads, out_grads)
            if new is not None:
                in_grads = tuple(new)
    if not retain_graph:
        node.release()
    return in_grads


def _profiled(node, fn, g):
    """fn(g), the node's backward, timed by the running profiler under the node's name."""
    prof = profiler.active[0]
    event = prof.push(node.name(), opaque=True)
    try:
        return fn(g)
    finally:
        prof.pop(event)


def _before_node(node, out_grads, capture):
    """Tensor hooks and retain_grad of the node's outputs see their full gradients; capture requested ones."""
    if node.pre_hooks:
        for kind, out_nr, fn in list(node.pre_hooks.values()):
            if kind == "tensor":
                if out_grads[out_nr] is not None:
                    new = fn(out_grads[out_nr])
                    if new is not None:
                        out_grads[out_nr] = new
            else:
                new = fn(tuple(out_grads))
                if new is not None:
                    out_grads[:] = list(new)
    if node.retained:
        for nr, ref in node.retained.items():
            t = ref()
            # (a tensor changed in place since has moved on to a new node, which retains it now)
            if t is not None and t.grad_fn is node and out_grads[nr] is not None:
                g = out_grads[nr]
                t._grad = g.clone() if t._grad is None else t._grad + g
    if capture is not None:
        capture.node_outputs(node, out_grads)
    return out_grads


def _accumulate_leaf(tensor, grad, create_graph):
    """``tensor.grad += grad``, after the tensor's hooks; the first gradient is stored as a private copy."""
    if tensor._hooks:
        grad = _run_leaf_hooks(tensor, grad)
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
        for fn in list(tensor._post_accumulate_hooks.values()):
            fn(tensor)


def _run_leaf_hooks(tensor, grad):
    for fn in list(tensor._hooks.values()):
        new = fn(grad)
        if new is not None:
            grad = new
    return grad


class _Capture:
    """For ``autograd.grad``: which nodes to run, and the gradients of the requested inputs."""

    def __init__(self, inputs, starts):
        self.inputs = inputs
        self.keys = []
        self.grads = {}
        for t in inputs:
            if not t._requires_grad:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            self.keys.append((t.grad_fn, t._out_nr) if t.grad_fn is not None else (t, 0))
        self.needed = _nodes_leading_to(starts, {k[0] for k in self.keys})  # nodes whose backward must run

    def node_outputs(self, node, out_grads):
        for key in self.keys:
            if key[0] is node and out_grads[key[1]] is not None:
                self.grads[key] = out_grads[key[1]]

    def leaf(self, tensor, g):
        if any(k[0] is tensor for k in self.keys):
            if tensor._hooks:
                g = _run_leaf_hooks(tensor, g)
            self.grads[(tensor, 0)] = g

    def results(self):
        return [self.grads.get(k) for k in self.keys]


def _nodes_leading_to(starts, targets):
    """The nodes with a path to one of ``targets`` (a target itself only if it leads to another)."""
    needed = set()
    visited = set()
    stack = [(s, False) for s in dict.fromkeys(starts) if type(s) is Node]
    while stack:  # depth first, each node decided after all its inputs (post-order)
        node, inputs_done = stack.pop()
        if inputs_done:
            if any(e is not None and (e[0] in targets or e[0] in needed) for e in node.edges):
                needed.add(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        stack.extend((e[0], False) for e in node.edges
                     if e is not None and type(e[0]) is Node and e[0] not in visited)
    return needed


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


def _add_forward_site(exc, node):
    site = (node._metadata or {}).get("forward_site")
    if site and hasattr(exc, "add_note"):
        exc.add_note(f"Error detected in {node.name()}. The forward call that created it:\n{site}")


def _check_anomaly(node, in_grads):
    for i, g in enumerate(in_grads):
        if g is not None and g._data.dtype.kind == "f" and not np.isfinite(g._data).all():
            bad = "nan" if np.isnan(g._data).any() else "inf"
            site = (node._metadata or {}).get("forward_site",
                                              "(run the forward inside detect_anomaly to see it)")
            raise RuntimeError(f"Function '{node.name()}' returned {bad} values in its {i}th output.\n"
                               f"The forward call that created it:\n{site}")
