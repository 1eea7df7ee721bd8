"""Gradient capture for ``autograd.grad`` (and ``backward(inputs=...)``).

The engine then accumulates nothing into ``.grad``: the gradients reaching the
requested inputs are captured and returned, and the nodes that lead to none of
them are skipped.  An input made by an op is captured where its node receives
its gradient; a leaf, where the engine would have accumulated into it.
"""
from .graph import Node, edge_of
from .hooks import run_leaf_hooks

__all__ = ["Capture"]


class Capture:
    """Which nodes to run, and the gradients of the requested inputs."""

    def __init__(self, inputs, starts):
        self.inputs = inputs
        self.keys = []
        self.grads = {}
        for t in inputs:
            if not t._requires_grad:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            self.keys.append(edge_of(t))
        self.needed = _nodes_leading_to(starts, {k[0] for k in self.keys})  # nodes whose backward must run

    def node_outputs(self, node, g):
        """Keep the gradients of ``node``'s outputs that were asked for (``g``: all of them, after hooks)."""
        out_grads = g if node.n_outputs > 1 else (g,)
        for key in self.keys:
            if key[0] is node and out_grads[key[1]] is not None:
                self.grads[key] = out_grads[key[1]]

    def leaf(self, tensor, g):
        if any(k[0] is tensor for k in self.keys):
            if tensor._hooks:
                g = run_leaf_hooks(tensor, g)
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
