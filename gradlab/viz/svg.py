"""A laid-out picture written as SVG text: no library, no system program."""
from xml.sax.saxutils import escape

from .layout import LINE_H, MARGIN, PAD, layout

__all__ = ["to_svg", "STYLE", "CAPTION_H"]

CAPTION_H = 18  # room above the graph for the caption line

# fill and stroke per kind of node, shared with the PNG drawing
STYLE = {
    "op": ("#f1f1f1", "#555555"),
    "output": ("#ffe3a3", "#a06800"),
    "leaf": ("#d3e8ff", "#3f6f9f"),
    "cluster": ("#f6f6fd", "#8c8cc4"),
    "edge": "#777777",
    "cluster_title": "#4b4b8f",
    "cut": "#a0a0a0",
    "truncated": "#b00020",
}
FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"


def to_svg(picture):
    """The SVG document of ``picture`` (a ``walk.Picture``)."""
    lay = layout(picture, top=CAPTION_H)
    width, height = int(lay.width + 0.5), int(lay.height + 0.5)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="11">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           f'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{STYLE["edge"]}"/></marker></defs>',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{MARGIN}" y="{MARGIN + 4}" font-family="Helvetica, Arial, sans-serif" font-size="12" '
           f'fill="{STYLE["truncated"] if picture.truncated else "#333333"}">{escape(picture.caption())}</text>']

    fill, stroke = STYLE["cluster"]
    for key, (x0, y0, x1, y1) in lay.boxes.items():
        title = picture.clusters[key]
        out.append(f'<g class="module"><title>{escape(title)}</title>'
                   f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" rx="6" '
                   f'fill="{fill}" stroke="{stroke}" stroke-dasharray="5,3"/>'
                   f'<text x="{x0 + 6:.1f}" y="{y0 + LINE_H - 2:.1f}" font-size="10" '
                   f'fill="{STYLE["cluster_title"]}">{escape(title)}</text></g>')

    for src, dst in picture.edges:
        x1, y1 = lay.x[src], lay.y[src] + lay.h[src] / 2
        x2, y2 = lay.x[dst], lay.y[dst] - lay.h[dst] / 2
        mid = (y1 + y2) / 2
        out.append(f'<path d="M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} {x2:.1f},{y2:.1f}" '
                   f'fill="none" stroke="{STYLE["edge"]}" marker-end="url(#arrow)"/>')

    for i, box in enumerate(picture.boxes):
        fill, stroke = STYLE[box.kind]
        x0, y0 = lay.x[i] - lay.w[i] / 2, lay.y[i] - lay.h[i] / 2
        rx = 12 if box.kind == "leaf" else 3
        out.append(f'<g class="{box.kind}"><title>{escape(chr(10).join(box.lines))}</title>'
                   f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{lay.w[i]:.1f}" height="{lay.h[i]:.1f}" rx="{rx}" '
                   f'fill="{fill}" stroke="{stroke}"/>')
        for k, line in enumerate(box.lines):
            weight = ' font-weight="bold"' if k == 0 else ""
            out.append(f'<text x="{lay.x[i]:.1f}" y="{y0 + PAD + LINE_H * k + 8:.1f}" text-anchor="middle"'
                       f'{weight}>{escape(line)}</text>')
        if box.cut:
            out.append(f'<text x="{lay.x[i]:.1f}" y="{y0 - 6:.1f}" text-anchor="middle" '
                       f'fill="{STYLE["cut"]}">inputs not drawn</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
