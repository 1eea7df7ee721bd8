"""Draw the autograd graph behind a tensor as Graphviz DOT (and SVG/PNG where ``dot`` is installed).

    import gradlab as torch
    from gradlab.viz import to_dot
    x = torch.randn(3, requires_grad=True)
    print(to_dot((x * 2).sum()))

Ops are boxes named like ``grad_fn`` (``MulBackward0``); leaves that receive
a gradient are ellipses with their shape; edges point from an input to the op
that used it, the direction the values flowed in the forward pass.
"""
import shutil
import subprocess

from ..autograd.graph import Node

__all__ = ["to_dot", "render"]


def _label_of_leaf(tensor, names):
    name = names.get(id(tensor), "")
    shape = "x".join(str(s) for s in tensor.shape) or "scalar"
    return f"{name} ({shape})" if name else f"({shape})"


def to_dot(output, params=None):
    """The graph that produced ``output`` as DOT text; ``params`` maps names to leaf tensors."""
    names = {id(t): n for n, t in dict(params or {}).items()}
    lines = ["digraph autograd {", '  node [fontname="Helvetica", fontsize=10];']
    ids = {}

    def node_id(obj):
        if id(obj) not in ids:
            ids[id(obj)] = f"n{len(ids)}"
            if isinstance(obj, Node):
                lines.append(f'  {ids[id(obj)]} [label="{obj.name()}", shape=box];')
            else:
                lines.append(f'  {ids[id(obj)]} [label="{_label_of_leaf(obj, names)}", shape=ellipse, '
                             'style=filled, fillcolor=lightblue];')
        return ids[id(obj)]

    root = output.grad_fn if output.grad_fn is not None else output
    seen = {id(root)}
    stack = [root]
    node_id(root)
    while stack:  # iterative, like the engine: deep graphs must not recurse
        current = stack.pop()
        if not isinstance(current, Node):
            continue
        for edge in current.edges:
            if edge is None:
                continue
            target = edge[0]
            lines.append(f"  {node_id(target)} -> {node_id(current)};")
            if id(target) not in seen:
                seen.add(id(target))
                stack.append(target)
    lines.append("}")
    return "\n".join(lines)


def render(output, path, fmt=None, params=None):
    """Write the graph to ``path`` (``.dot``, or ``.svg``/``.png`` through Graphviz's ``dot``)."""
    dot_text = to_dot(output, params)
    fmt = fmt or str(path).rsplit(".", 1)[-1]
    if fmt == "dot":
        with open(path, "w") as f:
            f.write(dot_text)
        return path
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError(f"rendering {fmt} needs Graphviz's `dot` program; install graphviz or save as .dot")
    subprocess.run([exe, f"-T{fmt}", "-o", str(path)], input=dot_text.encode(), check=True)
    return path


def _quoted(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


_DOT_STYLE = {
    "op": 'shape=box, style="filled,rounded", fillcolor="#f1f1f1"',
    "output": 'shape=box, style="filled,rounded,bold", fillcolor="#ffe3a3"',
    "leaf": 'shape=box, style="filled,rounded", fillcolor="#d3e8ff"',
}


def picture_to_dot(picture):
    """DOT text of a ``walk.Picture``: the same nodes, edges and module boxes as its SVG."""
    lines = ["digraph autograd {",
             f'  graph [fontname="Helvetica", fontsize=11, labelloc=t, label={_quoted(picture.caption())}];',
             '  node [fontname="DejaVu Sans Mono", fontsize=10];',
             '  edge [color="#777777"];']
    members = {}
    for i, box in enumerate(picture.boxes):
        label = "\\n".join(s.replace("\\", "\\\\").replace('"', '\\"') for s in box.lines)
        if box.cut:
            label += "\\n(inputs not drawn)"
        members.setdefault(box.cluster, []).append(f'  n{i} [label="{label}", {_DOT_STYLE[box.kind]}];')
    for k, key in enumerate(members):
        if key is None:
            lines += members[key]
            continue
        lines.append(f"  subgraph cluster_{k} {{")
        lines.append(f'    label={_quoted(picture.clusters[key])}; style="dashed,rounded"; color="#8c8cc4";')
        lines += ["  " + s for s in members[key]]
        lines.append("  }")
    lines += [f"  n{src} -> n{dst};" for src, dst in picture.edges]
    lines.append("}")
    return "\n".join(lines)
