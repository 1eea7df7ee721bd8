"""Small helpers shared by the autograd tests."""
import numpy as np

import gradlab


def leaf(values, dtype=np.float64):
    """A leaf tensor that requires grad, float64 by default (exact enough to compare gradients)."""
    return gradlab.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def assert_close(actual, expected, rtol=1e-6, atol=1e-9):
    """Compare a gradlab tensor (or array) with a gradlab tensor, torch tensor, array or list."""
    a = actual.detach().numpy() if hasattr(actual, "detach") else np.asarray(actual)
    e = expected.detach().numpy() if hasattr(expected, "detach") else np.asarray(expected)
    assert a.shape == e.shape, f"shape {a.shape} != {e.shape}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


def graph_signature(tensor):
    """The graph under ``tensor`` as nested (name, children) tuples: identical for identical graphs.

    Walked with an explicit stack (deep graphs must not recurse); shared nodes appear once per use,
    as ``next_functions`` lists them.
    """
    fn = tensor.grad_fn
    if fn is None:
        return None
    result = {}
    alive = []  # keep every visited node alive, so that ids stay unique during the walk
    stack = [(fn, False)]
    while stack:
        node, done = stack.pop()
        if node is None:
            continue
        key = id(node)
        alive.append(node)
        if done:
            children = tuple(result.get(id(child)) if child is not None else None
                             for child, _ in node.next_functions)
            result[key] = (_node_name(node), children)
            continue
        stack.append((node, True))
        for child, _ in getattr(node, "next_functions", ()):
            if child is not None:
                stack.append((child, False))
    return result[id(fn)]


def _node_name(node):
    name = node.name() if callable(getattr(node, "name", None)) else type(node).__name__
    return name.rsplit("::", 1)[-1]
