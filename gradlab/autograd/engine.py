"""The backward engine: reverse-mode differentiation over the recorded graph.

1. Walk the graph from the roots (iteratively: a chain of 100,000 ops must not
   hit Python's recursion limit) and count, for every node, how many edges
   lead into it.
2. Start from the roots with their gradients.  A node runs only when every
   edge into it has delivered its gradient (its count drops to zero), so its
   gradient is complete: the sum over all the paths that use it.
3. A leaf that requires grad receives its summed gradient into ``.grad``.
"""
from . import grad_mode
from .graph import Node

__all__ = ["run_backward", "anomaly_mode"]

anomaly_mode = [False]  # set by autograd.detect_anomaly


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _count_dependencies(roots):
    deps = {}
    stack = [r for r in roots if isinstance(r, Node)]
    seen = set(stack)
    while stack:
        node = stack.pop()
        for edge in node.edges:
            if edge is None:
                continue
            target = edge[0]
            deps[target] = deps.get(target, 0) + 1
            if target not in seen:
                seen.add(target)
                if type(target) is Node:
                    stack.append(target)
    return deps


def _check_saved_versions(node):
    for tensor, version in node.saved:
        if tensor._version_counter[0] != version:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{tensor.dtype}{list(tensor.shape)}] is at version "
                f"{tensor._version_counter[0]}; expected version {version} instead (saved by "
                f"{node.name()}). Hint: the op that modified it came after {node.name()} was recorded."
            )


def _run_tensor_hooks(node, grads):
    """Hooks registered on a non-leaf tensor (and retain_grad) see its full gradient."""
    for kind, out_nr, fn in list(node.pre_hooks.values()):
        if kind == "tensor":
            g = grads[out_nr]
            if g is None:
                continue
            new = fn(g)
            if new is not None:
                grads[out_nr] = new
        else:
            new = fn(tuple(grads))
            if new is not None:
                grads[:] = list(new)
    return grads


def _accumulate_leaf(tensor, grad, create_graph):
    if tensor._hooks:
        for fn in list(tensor._hooks.values()):
            new = fn(grad)
            if new is not None:
                grad = new
    if grad.shape != tensor.shape:
        grad = grad.expand(tensor.shape)
    if grad.dtype != tensor.dtype:
        grad = grad.to(tensor.dtype)
    if create_graph:
        tensor.grad = grad if tensor.grad is None else tensor.grad + grad
    elif tensor.grad is None:
        # a private copy: the incoming array may be shared with other gradients
        tensor.grad = grad.detach().clone()
    else:
        tensor.grad._data += grad._data
    for fn in list(tensor._post_accumulate_hooks.values()) if tensor._post_accumulate_hooks else ():
        fn(tensor)


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, inputs=None):
    """Backpropagate ``root_grads`` from the tensors ``roots``.

    With ``inputs`` given (``autograd.grad``), nothing is accumulated into
    ``.grad``; the gradients of ``inputs`` are returned instead.
    """
    root_edges = []
    grads = {}
    for t, g in zip(roots, root_grads):
        if t.grad_fn is None:
            if not t.requires_grad:
                raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
            target, nr = t, 0
        else:
            target, nr = t.grad_fn, t._out_nr
        root_edges.append(target)
        _deliver(grads, target, nr, g)

    wanted = None
    if inputs is not None:
        wanted = {}
        for t in inputs:
            if not t.requires_grad:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            wanted[t.grad_fn if t.grad_fn is not None else t] = t
        captured = {}

    deps = _count_dependencies(root_edges)
    ready = [r for r in dict.fromkeys(root_edges) if deps.get(r, 0) == 0]
    prev_mode = grad_mode.state.enabled
    grad_mode.state.enabled = create_graph
    try:
        while ready:
            node = ready.pop()
            g = grads.pop(node, None)
            if type(node) is not Node:  # a leaf tensor
                if g is None:
                    continue
                if wanted is not None:
                    if node in wanted:
                        if node._hooks:
                            for fn in list(node._hooks.values()):
                                new = fn(g)
                                if new is not None:
                                    g = new
                        captured[node] = g
                    continue
                _accumulate_leaf(node, g, create_graph)
                continue
            _run_node(node, g, grads, deps, ready, retain_graph, wanted, captured if wanted is not None else None)
    finally:
        grad_mode.state.enabled = prev_mode
    if wanted is not None:
        return [captured.get(t.grad_fn if t.grad_fn is not None else t) for t in inputs]
    return None


def _deliver(grads, target, nr, g):
    if type(target) is Node and target.n_outputs > 1:
        slot = grads.get(target)
        if slot is None:
            slot = grads[target] = [None] * target.n_outputs
        slot[nr] = _add(slot[nr], g)
    else:
        grads[target] = _add(grads.get(target), g)


def _run_node(node, g, grads, deps, ready, retain_graph, wanted, captured):
    edges = node.edges
    if g is not None:
        if node._freed:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (or directly access saved tensors "
                f"after they have already been freed) in {node.name()}. Saved intermediate values of the "
                "graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True "
                "if you need to backward through the graph a second time or if you need to access saved "
                "tensors after calling backward."
            )
        out_grads = g if node.n_outputs > 1 else [g]
        if node.pre_hooks:
            out_grads = _run_tensor_hooks(node, list(out_grads))
        if node.retained:
            for nr, ref in node.retained.items():
                t = ref()
                if t is not None and out_grads[nr] is not None:
                    t.grad = out_grads[nr] if t.grad is None else t.grad + out_grads[nr]
        if wanted is not None and node in wanted:
            captured[node] = out_grads[0]
        if node.saved:
            _check_saved_versions(node)
        if node.n_outputs > 1:
            in_grads = node.backward_fn(tuple(out_grads))
        else:
            in_grads = node.backward_fn(out_grads[0])
        if type(in_grads) is not tuple and type(in_grads) is not list:
            in_grads = (in_grads,)
        if anomaly_mode[0]:
            _check_anomaly(node, in_grads)
        if node.post_hooks:
            for fn in list(node.post_hooks.values()):
                new = fn(tuple(in_grads), tuple(out_grads))
                if new is not None:
                    in_grads = tuple(new)
        if not retain_graph:
            node.release()
    else:
        in_grads = (None,) * len(edges)
    for edge, ig in zip(edges, in_grads):
        if edge is None:
            continue
        target = edge[0]
        if ig is not None:
            _deliver(grads, target, edge[1], ig)
        left = deps[target] - 1
        deps[target] = left
        if left == 0:
            ready.append(target)


def _check_anomaly(node, in_grads):
    import numpy as np
    for i, g in enumerate(in_grads):
        if g is not None and not np.isfinite(g._data).all():
            bad = "nan" if np.isnan(g._data).any() else "inf"
            site = node.metadata.get("forward_site", "(run the forward inside detect_anomaly to see it)")
            raise RuntimeError(f"Function '{node.name()}' returned {bad} values in its {i}th output.\n"
                               f"The forward call that created it:\n{site}")
