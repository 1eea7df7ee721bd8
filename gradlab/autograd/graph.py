"""The autograd graph: one ``Node`` per recorded op.

A node is what ``tensor.grad_fn`` points to.  It holds

* ``backward_fn``: a function from the output gradient to one gradient per
  input (written with Tensor ops, so that with ``create_graph=True`` it is
  itself recorded and can be differentiated again);
* ``fast_fn``: optional, the same on arrays only; the engine runs it instead
  of ``backward_fn`` when the backward itself need not be recorded;
* ``edges``: for each input, where its gradient goes: ``(node, output_nr)``
  for an input made by another op, ``(tensor, 0)`` for a leaf that requires
  grad (its gradient accumulates into ``tensor.grad``), ``None`` otherwise.
  Edges are fixed when the op runs, so later in-place ops on an input cannot
  rewire the graph;
* ``saved``: ``(tensor, version)`` for each tensor whose *values* backward
  reads, with the version it had when saved, so that an in-place change made
  since is caught;
* ``scope``: the modules being called when the op ran, innermost last, as a
  chain ``(outer_scope, module)`` (None outside any module), and
  ``out_meta``: ``(shape, numpy dtype)`` of the output (a tuple of those for
  a node with several outputs; None if the op did not say).  Only drawings
  (``gradlab.viz.draw``) and error messages read them.

Hooks, retained gradients and anomaly metadata are rare, so they stay None
until first used: a node costs a few attribute writes.  How hooks are
registered and run is in ``hooks.py``.
"""
import weakref

from .hooks import NodeHooks

__all__ = ["Node", "AccumulateGrad", "edge_of", "module_scope"]

# The modules being called right now: ``Module.__call__`` pushes ``(outer, self)``
# and pops it; every new node keeps the chain it finds here (one read per op).
module_scope = [None]


def edge_of(t):
    """Where a gradient for tensor ``t`` must go (see the module docstring)."""
    if t.grad_fn is not None:
        return (t.grad_fn, t._out_nr)
    if t._requires_grad:
        return (t, 0)
    return None


class AccumulateGrad:
    """What ``next_functions`` shows for a leaf: it accumulates into ``variable.grad``.

    The engine accumulates into the leaf directly; this object only names that
    step for anyone walking the graph.  A leaf keeps (weakly) the one it was
    given, so every walk sees the same object while it is in use, as in PyTorch.
    """

    __slots__ = ("variable", "__weakref__")
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    @staticmethod
    def of(tensor):
        ref = tensor.__dict__.get("_grad_accumulator")
        acc = ref() if ref is not None else None
        if acc is None:
            acc = AccumulateGrad(tensor)
            tensor.__dict__["_grad_accumulator"] = weakref.ref(acc)
        return acc

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"


class Node(NodeHooks):
    __slots__ = ("_name", "backward_fn", "fast_fn", "edges", "saved", "n_outputs",
                 "pre_hooks", "post_hooks", "retained", "_freed", "_metadata", "scope", "out_meta",
                 "__weakref__")

    def __init__(self, name, backward_fn, edges, saved=(), n_outputs=1, fast_fn=None, out_meta=None):
        self._name = name
        self.backward_fn = backward_fn
        self.fast_fn = fast_fn
        self.edges = edges
        if saved:
            self.saved = tuple([(t, t._version_counter[0]) for t in saved])
        else:
            self.saved = ()
        self.n_outputs = n_outputs
        self.pre_hooks = None   # hooks on the output tensor(s): fn(grad) -> grad | None
        self.post_hooks = None  # hooks on the node: fn(grad_inputs, grad_outputs) -> grad_inputs | None
        self.retained = None    # weak refs to outputs that called retain_grad()
        self._freed = False
        self._metadata = None   # see ``metadata``
        self.scope = module_scope[0]
        self.out_meta = out_meta

    def name(self):
        return self._name

    @property
    def metadata(self):
        """A dict for notes about this node (anomaly mode keeps the forward call site here)."""
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    @property
    def next_functions(self):
        """``((node, output_nr), ...)`` per input, as PyTorch: AccumulateGrad for leaves, None for constants."""
        out = []
        for e in self.edges:
            if e is None:
                out.append((None, 0))
            elif isinstance(e[0], Node):
                out.append(e)
            else:
                out.append((AccumulateGrad.of(e[0]), 0))
        return tuple(out)

    def release(self):
        """Free what backward needed; a second backward then raises."""
        self.backward_fn = self.fast_fn = None
        self.saved = ()
        self._freed = True

    def __call__(self, *grads):
        return self.backward_fn(grads[0] if self.n_outputs == 1 else grads)

    def __repr__(self):
        return f"<{self._name} object at {hex(id(self))}>"
