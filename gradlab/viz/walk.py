"""From a tensor's autograd graph to what a drawing shows: boxes with text lines, edges, module boxes.

The walk is breadth-first from the output and iterative, so a graph of any
depth neither recurses nor hangs: it keeps the ``max_nodes`` nodes nearest the
output and counts the rest (up to ``COUNT_LIMIT``) to say how much is cut.
Edges point from an input to the op that used it, the way values flowed.
"""
from collections import deque

import numpy as np

from ..autograd.graph import Node

__all__ = ["Box", "Picture", "walk", "shape_text"]

COUNT_LIMIT = 1_000_000  # beyond this many nodes, a truncated drawing says "more than"
SAVED_LINES = 4          # saved tensors listed per op; more are counted


class Box:
    """One drawn node: an op (``kind`` "op" or "output") or a leaf tensor ("leaf")."""

    __slots__ = ("kind", "lines", "cluster", "cut")

    def __init__(self, kind, lines, cluster=None):
        self.kind = kind
        self.lines = lines      # the first is the title (grad_fn name, or the leaf's name)
        self.cluster = cluster  # key into Picture.clusters, or None outside any module
        self.cut = False        # some of its inputs are beyond the drawn part


class Picture:
    """What ``draw`` shows: ``boxes``, ``edges`` (input index, consumer index), module ``clusters`` (key -> title)."""

    def __init__(self, boxes, edges, clusters, total):
        self.boxes = boxes
        self.edges = edges
        self.clusters = clusters
        self.total = total  # nodes in the whole graph (COUNT_LIMIT + 1 when there are more)

    @property
    def truncated(self):
        return self.total > len(self.boxes)

    def caption(self):
        ops = sum(b.kind != "leaf" for b in self.boxes)
        text = f"{ops} op{'s' * (ops != 1)}, {len(self.boxes) - ops} leaf tensor{'s' * (len(self.boxes) - ops != 1)}"
        if self.truncated:
            total = f"more than {COUNT_LIMIT:,}" if self.total > COUNT_LIMIT else f"{self.total:,}"
            text += f"; truncated: the {len(self.boxes):,} nodes nearest the output of {total}"
        return text


def shape_text(shape):
    return "scalar" if len(shape) == 0 else str(tuple(shape))


def walk(outputs, params=None, show_saved=True, show_grad=True, max_nodes=500):
    """The ``Picture`` of the graph behind ``outputs`` (a Tensor or a sequence of them)."""
    from .._tensor import Tensor
    if isinstance(outputs, Tensor):
        outputs = [outputs]
    roots = []
    for t in outputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"draw: expected a Tensor (or a sequence of Tensors), got {type(t).__name__}")
        if t.grad_fn is not None:
            roots.append(t.grad_fn)
        elif t.requires_grad:
            roots.append(t)
        else:
            raise ValueError(f"draw: this tensor (shape {shape_text(t.shape)}) has no autograd graph: it was not "
                             "made by ops on tensors with requires_grad=True (or was made under no_grad); "
                             "set requires_grad=True on the inputs and compute it again")
    if max_nodes < 1:
        raise ValueError(f"draw: max_nodes must be at least 1, got {max_nodes}")

    objects, edges, total = _breadth_first(roots, max_nodes)
    names = {id(t): n for n, t in dict(params or {}).items()}
    labeller = _Labeller(names, show_saved, show_grad)
    root_ids = {id(r) for r in roots}
    boxes = [labeller.box(obj, id(obj) in root_ids) for obj in objects]
    for i, obj in enumerate(objects):
        if isinstance(obj, Node) and any(e is not None and id(e[0]) not in edges.index for e in obj.edges):
            boxes[i].cut = True
    _leaves_join_their_module(objects, boxes, edges.pairs, labeller.scopes)
    root_shapes = {id(t.grad_fn): t for t in outputs if t.grad_fn is not None}
    for i, obj in enumerate(objects):  # an output's shape is known even where the op did not record it
        if id(obj) in root_shapes and obj.out_meta is None:
            t = root_shapes[id(obj)]
            boxes[i].lines.insert(1, f"{shape_text(t.shape)} {t.dtype}".replace("gradlab.", ""))
    return Picture(boxes, edges.pairs, labeller.clusters, total)


class _Edges:
    def __init__(self):
        self.index = {}  # id(object) -> its place in the drawing
        self.pairs = []


def _breadth_first(roots, max_nodes):
    """The ``max_nodes`` objects nearest the roots, the edges among them, and how many objects there are in all."""
    edges = _Edges()
    objects = []
    queue = deque()
    seen = set()
    for r in roots:
        if id(r) not in seen:
            seen.add(id(r))
            queue.append(r)
    while queue and len(objects) < max_nodes:
        obj = queue.popleft()
        edges.index[id(obj)] = len(objects)
        objects.append(obj)
        if isinstance(obj, Node):
            for e in obj.edges:
                if e is not None and id(e[0]) not in seen:
                    seen.add(id(e[0]))
                    queue.append(e[0])
    for i, obj in enumerate(objects):
        if isinstance(obj, Node):
            for e in obj.edges:
                if e is not None and id(e[0]) in edges.index:
                    edges.pairs.append((edges.index[id(e[0])], i))
    total = len(seen)
    while queue and total <= COUNT_LIMIT:  # count the rest, to say how much is not drawn
        obj = queue.popleft()
        if isinstance(obj, Node):
            for e in obj.edges:
                if e is not None and id(e[0]) not in seen:
                    seen.add(id(e[0]))
                    queue.append(e[0])
                    total += 1
    return objects, edges, total


def _leaves_join_their_module(objects, boxes, pairs, scopes):
    """A parameter used by ops of one module call only is drawn inside that module's box."""
    consumers = {}
    for src, dst in pairs:
        consumers.setdefault(src, set()).add(boxes[dst].cluster)
    for i, obj in enumerate(objects):
        clusters = consumers.get(i, ())
        if isinstance(obj, Node) or len(clusters) != 1:
            continue
        (key,) = clusters
        if key is not None and any(p is obj for p in scopes[key][1]._parameters.values()):
            boxes[i].cluster = key


class _Labeller:
    def __init__(self, names, show_saved, show_grad):
        self.names = names
        self.show_saved = show_saved
        self.show_grad = show_grad
        # one box per module call (a module called twice gets two): keyed by id of its scope chain
        self.clusters = {}  # key -> "LeNet5.features.0 (Conv2d)"
        self.scopes = {}    # key -> the scope chain (kept alive by the nodes)

    def box(self, obj, is_root):
        if not isinstance(obj, Node):
            return Box("leaf", self.leaf_lines(obj))
        lines = [obj.name()]
        meta = obj.out_meta
        if meta is not None:
            metas = [meta] if obj.n_outputs == 1 else list(meta)
            lines += [f"{shape_text(shape)} {np.dtype(dtype).name}" for shape, dtype in metas[:3]]
            if len(metas) > 3:
                lines.append(f"... {len(metas) - 3} more outputs")
        if self.show_saved:
            lines += self.saved_lines(obj)
        scope = obj.scope
        if scope is None:
            return Box("output" if is_root else "op", lines)
        if id(scope) not in self.clusters:
            from ..nn.modules.module import module_path
            path, kind = module_path(scope), type(scope[1]).__name__
            self.clusters[id(scope)] = path if path.rsplit(".", 1)[-1] == kind else f"{path} ({kind})"
            self.scopes[id(scope)] = scope
        return Box("output" if is_root else "op", lines, id(scope))

    def leaf_lines(self, t):
        name = self.names.get(id(t)) or type(t).__name__.lower()
        lines = [name, f"{shape_text(t.shape)} {t.dtype}".replace("gradlab.", "")]
        if self.show_grad and t.grad is not None:
            g = t.grad._data
            lines.append(f"grad {shape_text(g.shape)} norm {np.linalg.norm(g.astype(np.float64)):.3g}")
        return lines

    def saved_lines(self, node):
        if node._freed:
            return ["saved: freed by backward"]
        lines = []
        for k, (t, _version) in enumerate(node.saved):
            if k == SAVED_LINES:
                lines.append(f"saved: ... {len(node.saved) - SAVED_LINES} more")
                break
            lines.append(f"saved {self.saved_name(node, t)} {shape_text(t.shape)}")
        return lines

    def saved_name(self, node, t):
        """``result`` (the op's output), a parameter's name, ``input<i>`` (the op's i-th input), else ``tensor``."""
        if t.grad_fn is node:
            return "result"
        if id(t) in self.names:
            return self.names[id(t)]
        for i, e in enumerate(node.edges):
            if e is not None and (e[0] is t or (e[0] is t.grad_fn and e[1] == t._out_nr)):
                return f"input{i}"
        return "tensor"
