"""``draw``: the autograd graph behind a tensor as a picture, for a notebook or a file.

    import gradlab as torch
    from gradlab.models import LeNet5
    model = LeNet5()
    loss = model(torch.randn(2, 1, 28, 28)).logsumexp(1).mean()
    loss.backward(retain_graph=True)
    torch.viz.draw(loss, params=dict(model.named_parameters()))   # a notebook shows it
    torch.viz.draw(loss).save("lenet.svg")                         # or .png, .dot

With Graphviz's ``dot`` on PATH it lays the graph out; without it, gradlab's
own layered layout (layout.py) writes the SVG itself and matplotlib draws
the PNG.  So SVG needs nothing installed, PNG needs matplotlib or Graphviz.
"""
import shutil
import subprocess
import warnings
from pathlib import Path

from .dot import picture_to_dot
from .svg import to_svg
from .walk import walk

__all__ = ["Graph", "draw"]

DOT_TIMEOUT = 60  # seconds Graphviz may take before gradlab draws the graph itself


def draw(tensor, params=None, show_saved=True, show_grad=True, max_nodes=500):
    """The graph that produced ``tensor`` (or a sequence of tensors), as a ``Graph`` picture.

    Op nodes show their ``grad_fn`` name, output shape and dtype and, with
    ``show_saved``, the tensors they saved for backward.  Leaves show their name
    (from ``params``, a dict of name to tensor such as
    ``dict(model.named_parameters())``) and, with ``show_grad``, their
    gradient's shape and norm once backward ran.  Ops run inside a module are
    boxed and the box named by the module's path (``LeNet5.features.0 (Conv2d)``).
    Only the ``max_nodes`` nodes nearest the output are drawn; the picture
    says when it is cut.
    """
    return Graph(walk(tensor, params, show_saved, show_grad, max_nodes))


class Graph:
    """A drawn autograd graph: shown by notebooks, written by ``save`` as .svg, .png or .dot."""

    def __init__(self, picture):
        self.picture = picture
        self._svg = None

    @property
    def source(self):
        """The graph as Graphviz DOT text."""
        return picture_to_dot(self.picture)

    @property
    def truncated(self):
        return self.picture.truncated

    def svg(self):
        """The picture as SVG text (Graphviz's layout when ``dot`` is installed, else gradlab's)."""
        if self._svg is None:
            out = _graphviz(self.source, "svg")
            self._svg = out.decode() if out is not None else to_svg(self.picture)
        return self._svg

    def png(self):
        """The picture as PNG bytes: through Graphviz's ``dot`` or else matplotlib."""
        out = _graphviz(self.source, "png")
        if out is not None:
            return out
        try:
            from .png import to_png
            return to_png(self.picture)
        except ImportError:
            raise RuntimeError("Graph.save: writing .png needs matplotlib (pip install matplotlib, or gradlab's "
                               "[train] extra) or Graphviz's `dot` program on PATH; .svg and .dot need "
                               "neither") from None

    def save(self, path):
        """Write the picture to ``path``: ``.svg``, ``.png`` or ``.dot`` (``.gv``), chosen by its extension."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".svg":
            path.write_text(self.svg(), encoding="utf-8")
        elif suffix == ".png":
            path.write_bytes(self.png())
        elif suffix in (".dot", ".gv"):
            path.write_text(self.source, encoding="utf-8")
        else:
            raise ValueError(f"Graph.save: cannot write {path.name!r}: the extension must be .svg, .png or .dot "
                             f"(got {suffix or 'none'!r})")
        return path

    def _repr_svg_(self):
        return self.svg()

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"image/svg+xml": self.svg(), "text/plain": repr(self)}
        return {k: v for k, v in bundle.items()
                if (include is None or k in include) and (exclude is None or k not in exclude)}

    def __repr__(self):
        return f"<gradlab.viz.Graph: {self.picture.caption()}>"


def _graphviz(dot_text, fmt):
    """``dot -T<fmt>`` of ``dot_text`` as bytes; None when Graphviz is not installed or fails (with a warning)."""
    exe = shutil.which("dot")
    if exe is None:
        return None
    try:
        return subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode(), capture_output=True,
                              timeout=DOT_TIMEOUT, check=True).stdout
    except (OSError, subprocess.SubprocessError) as error:
        warnings.warn(f"draw: Graphviz's dot failed ({error}); gradlab draws the graph itself", RuntimeWarning)
        return None
