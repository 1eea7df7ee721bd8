"""gradlab's own layered layout, for when Graphviz is not installed.

The classic recipe (Sugiyama's), kept small:

1. layers by longest path from the output: the output at the bottom, each
   input one layer above the highest op that uses it (so a parameter sits just
   above its op);
2. a few barycenter sweeps order each layer (each node moves to the mean
   place of its neighbours), keeping the nodes of one module call together;
3. x positions: each node wants the mean x of its neighbours (of those in
   its own module box, if it has any there); the nearest
   positions that keep the order and the gaps are an isotonic regression,
   solved exactly by pooling adjacent violators.

Every step is a loop over nodes and edges: linear in the drawing's size.
"""
from collections import deque

__all__ = ["Layout", "layout", "CHAR_W", "LINE_H", "PAD"]

CHAR_W = 6.8     # width of one character of the 11px monospace text, in px
TITLE_CHAR_W = 6.2  # the same for a module box's 10px title
LINE_H = 14      # height of a text line
PAD = 8          # inside a node, around its text
H_GAP = 24       # between neighbours in a layer
CLUSTER_GAP = 24  # extra gap between nodes of different module calls
V_GAP = 48       # between layers: room for a module box's title
MARGIN = 20
SWEEPS = 4


class Layout:
    """Centres ``x``, ``y`` and sizes ``w``, ``h`` per node, module ``boxes`` (key -> x0, y0, x1, y1), total size."""

    def __init__(self, x, y, w, h, boxes, width, height):
        self.x, self.y, self.w, self.h = x, y, w, h
        self.boxes = boxes
        self.width, self.height = width, height


def node_size(lines):
    return max(len(s) for s in lines) * CHAR_W + 2 * PAD, len(lines) * LINE_H + 2 * PAD - 4


def layout(picture, top=0):
    """Place ``picture``'s boxes; ``top`` leaves room above for a caption."""
    boxes = picture.boxes
    n = len(boxes)
    sizes = [node_size(b.lines) for b in boxes]
    drawn_w = [s[0] for s in sizes]
    w = list(drawn_w)  # the width a node takes in its layer
    h = [s[1] for s in sizes]
    # a module box around one node must fit its title: that node takes the title's width in its layer
    alone = {}
    for i, b in enumerate(boxes):
        alone[b.cluster] = i if b.cluster not in alone else None
    for key, i in alone.items():
        if key is not None and i is not None:
            w[i] = max(w[i], len(picture.clusters[key]) * TITLE_CHAR_W + 2 * PAD)
    inputs = [[] for _ in range(n)]
    consumers = [[] for _ in range(n)]
    for src, dst in picture.edges:
        inputs[dst].append(src)
        consumers[src].append(dst)

    layers = _layers(n, inputs, consumers)
    order = _order(layers, inputs, consumers, [b.cluster for b in boxes])
    x = _x_positions(order, inputs, consumers, w, [b.cluster for b in boxes])

    y = [0.0] * n
    cursor = MARGIN + top + V_GAP / 2
    for layer in order:
        tallest = max((h[i] for i in layer), default=0)
        for i in layer:
            y[i] = cursor + tallest / 2
        cursor += tallest + V_GAP
    left = min((x[i] - w[i] / 2 for i in range(n)), default=0)
    x = [v - left + MARGIN + PAD for v in x]

    clusters = {}
    for i, b in enumerate(boxes):
        if b.cluster is None:
            continue
        x0, y0, x1, y1 = x[i] - w[i] / 2, y[i] - h[i] / 2, x[i] + w[i] / 2, y[i] + h[i] / 2
        if b.cluster in clusters:
            c = clusters[b.cluster]
            x0, y0, x1, y1 = min(c[0], x0), min(c[1], y0), max(c[2], x1), max(c[3], y1)
        clusters[b.cluster] = (x0, y0, x1, y1)
    clusters = {k: (x0 - PAD, y0 - LINE_H - PAD, x1 + PAD, y1 + PAD) for k, (x0, y0, x1, y1) in clusters.items()}
    width = max((x[i] + w[i] / 2 for i in range(n)), default=0) + MARGIN + PAD
    for x0, _, x1, _ in clusters.values():
        width = max(width, x1 + MARGIN)
    return Layout(x, y, drawn_w, h, clusters, width, cursor - V_GAP / 2 + MARGIN)


def _layers(n, inputs, consumers):
    """Lists of node indices, top (inputs) to bottom (outputs), by longest path from the outputs."""
    depth = [0] * n
    waiting = [len(c) for c in consumers]  # consumers not yet placed
    queue = deque(i for i in range(n) if waiting[i] == 0)
    while queue:
        i = queue.popleft()
        for j in inputs[i]:
            depth[j] = max(depth[j], depth[i] + 1)
            waiting[j] -= 1
            if waiting[j] == 0:
                queue.append(j)
    deepest = max(depth, default=0)
    layers = [[] for _ in range(deepest + 1)]
    for i in range(n):  # index order is breadth-first order: a fair first ordering
        layers[deepest - depth[i]].append(i)
    return layers


def _order(layers, inputs, consumers, cluster):
    """Barycenter sweeps, down then up; nodes of one module call stay side by side."""
    rank = {}
    for layer in layers:
        for r, i in enumerate(layer):
            rank[i] = r
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        neighbours = inputs if downward else consumers
        for layer in (layers[1:] if downward else layers[-2::-1]):
            centre = {}
            for i in layer:
                near = neighbours[i]
                centre[i] = sum(rank[j] for j in near) / len(near) if near else rank[i]
            group = {}
            for i in layer:
                group.setdefault(cluster[i], []).append(centre[i])
            group = {k: sum(v) / len(v) for k, v in group.items()}
            layer.sort(key=lambda i: (group[cluster[i]], centre[i]))
            for r, i in enumerate(layer):
                rank[i] = r
    return layers


def _x_positions(order, inputs, consumers, w, cluster):
    x = [0.0] * len(w)
    gaps = []
    for layer in order:
        gap = [0.0] + [(w[a] + w[b]) / 2 + H_GAP + (CLUSTER_GAP if cluster[a] != cluster[b] else 0)
                       for a, b in zip(layer, layer[1:])]
        gaps.append(gap)
        pos = 0.0
        for i, g in zip(layer, gap):
            pos += g
            x[i] = pos
    for sweep in range(SWEEPS):
        layers = list(zip(order, gaps))
        for layer, gap in (layers if sweep % 2 == 0 else layers[::-1]):
            wanted = []
            for i in layer:
                near = inputs[i] + consumers[i]
                # a node lines up with its own module's nodes first: module boxes stay compact
                kin = [j for j in near if cluster[j] == cluster[i]] if cluster[i] is not None else near
                near = kin or near
                wanted.append(sum(x[j] for j in near) / len(near) if near else x[i])
            for i, v in zip(layer, _nearest_in_order(wanted, gap)):
                x[i] = v
    return x


def _nearest_in_order(wanted, gap):
    """Positions closest (least squares) to ``wanted`` with ``pos[k+1] - pos[k] >= gap[k+1]``.

    Subtracting the running sum of gaps turns this into fitting a
    non-decreasing sequence: pool adjacent violators.
    """
    offset, acc = [], 0.0
    for g in gap:
        acc += g
        offset.append(acc)
    blocks = []  # [sum, count] of pooled targets
    for v, o in zip(wanted, offset):
        blocks.append([v - o, 1])
        while len(blocks) > 1 and blocks[-2][0] * blocks[-1][1] > blocks[-1][0] * blocks[-2][1]:
            s, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    fitted = []
    for s, c in blocks:
        fitted += [s / c] * c
    return [f + o for f, o in zip(fitted, offset)]
