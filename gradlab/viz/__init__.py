"""See the autograd graph behind a tensor.

``draw(tensor)`` gives a picture a notebook shows and ``.save`` writes as
.svg, .png or .dot (graph.py); ``to_dot``/``render`` give the plain DOT text
of earlier versions (dot.py).  The pieces: walk.py turns the graph into boxes
and edges, layout.py places them when Graphviz is absent, svg.py and png.py
draw them.
"""
from .dot import render, to_dot
from .graph import Graph, draw

__all__ = ["draw", "Graph", "to_dot", "render"]
