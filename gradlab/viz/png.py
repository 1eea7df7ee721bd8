"""A laid-out picture drawn to PNG with matplotlib (the ``train`` extra), when Graphviz is not installed."""
import io

from .layout import LINE_H, MARGIN, PAD, layout
from .svg import CAPTION_H, STYLE

__all__ = ["to_png"]

MAX_PIXELS = 32000  # per side; a larger drawing is scaled down to fit


def to_png(picture):
    """PNG bytes of ``picture``; raises ImportError when matplotlib is missing."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    lay = layout(picture, top=CAPTION_H)
    dpi = 100 * min(1.0, MAX_PIXELS / max(lay.width, lay.height))
    pt = 72 / 100  # one SVG px in points, at 100 dpi
    fig = Figure(figsize=(lay.width / 100, lay.height / 100), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, lay.width)
    ax.set_ylim(lay.height, 0)
    ax.axis("off")
    text = dict(family="monospace", fontsize=11 * pt, ha="center", va="center")
    ax.text(MARGIN, MARGIN, picture.caption(), family="sans-serif", fontsize=12 * pt, va="center",
            color=STYLE["truncated"] if picture.truncated else "#333333")

    fill, stroke = STYLE["cluster"]
    for key, (x0, y0, x1, y1) in lay.boxes.items():
        ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0,rounding_size=6",
                                    facecolor=fill, edgecolor=stroke, linestyle="--", linewidth=0.8))
        ax.text(x0 + 6, y0 + LINE_H / 2 + 2, picture.clusters[key], family="monospace", fontsize=10 * pt,
                va="center", color=STYLE["cluster_title"])
    for src, dst in picture.edges:
        x1, y1 = lay.x[src], lay.y[src] + lay.h[src] / 2
        x2, y2 = lay.x[dst], lay.y[dst] - lay.h[dst] / 2
        mid = (y1 + y2) / 2
        curve = Path([(x1, y1), (x1, mid), (x2, mid), (x2, y2)], [Path.MOVETO] + [Path.CURVE4] * 3)
        ax.add_patch(FancyArrowPatch(path=curve, arrowstyle="-|>", mutation_scale=8, color=STYLE["edge"],
                                     linewidth=0.8))
    for i, box in enumerate(picture.boxes):
        fill, stroke = STYLE[box.kind]
        x0, y0 = lay.x[i] - lay.w[i] / 2, lay.y[i] - lay.h[i] / 2
        ax.add_patch(FancyBboxPatch((x0, y0), lay.w[i], lay.h[i], facecolor=fill, edgecolor=stroke, linewidth=0.8,
                                    boxstyle=f"round,pad=0,rounding_size={12 if box.kind == 'leaf' else 3}"))
        for k, line in enumerate(box.lines):
            ax.text(lay.x[i], y0 + PAD + LINE_H * k + 4, line, weight="bold" if k == 0 else "normal", **text)
        if box.cut:
            ax.text(lay.x[i], y0 - 8, "inputs not drawn", color=STYLE["cut"], **text)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
