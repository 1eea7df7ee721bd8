"""gradlab.viz.draw: the picture's content, its three file formats, big graphs, and the layout's invariants."""
import os
import re
import stat
import sys
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab as torch
from gradlab import nn
from gradlab.models import LeNet5
from gradlab.viz import draw, to_dot
from gradlab.viz.layout import layout
from gradlab.viz.svg import to_svg
from gradlab.viz.walk import walk


@pytest.fixture
def no_graphviz(monkeypatch):
    """Draw with gradlab's own layout even where Graphviz is installed."""
    monkeypatch.setattr("gradlab.viz.graph.shutil.which", lambda name: None)


def lenet_loss():
    torch.manual_seed(0)
    model = LeNet5()
    loss = nn.functional.cross_entropy(model(torch.randn(2, 1, 28, 28)), torch.tensor([3, 7]))
    return model, loss


def svg_text(root):
    return "\n".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))


def test_lenet_svg_names_ops_modules_parameters_and_saved_shapes(no_graphviz):
    model, loss = lenet_loss()
    svg = draw(loss, params=dict(model.named_parameters())).svg()
    text = svg_text(ET.fromstring(svg))
    for expected in ("ConvolutionBackward0", "MaxPool2DWithIndicesBackward0", "AddmmBackward0", "NllLossBackward0",
                     "(2, 6, 28, 28) float32", "scalar float32",
                     "LeNet5.features.0 (Conv2d)", "LeNet5.features.7 (ReLU)", "LeNet5.classifier.3 (Linear)",
                     "features.0.weight", "(6, 1, 5, 5) float32", "classifier.3.bias",
                     "saved features.0.weight (6, 1, 5, 5)", "saved result (2, 6, 28, 28)", "saved input1 (2, 84)"):
        assert expected in text, expected
    assert text.count("ConvolutionBackward0") == 3
    assert len(re.findall(r'<g class="module">', svg)) == 12  # one box per module call that ran an op: 8 + 4 layers


def test_after_backward_leaves_show_gradient_norm_and_saved_are_freed(no_graphviz):
    model, loss = lenet_loss()
    loss.backward()
    graph = draw(loss, params=dict(model.named_parameters()))
    text = svg_text(ET.fromstring(graph.svg()))
    w = model.features[0].weight
    assert f"grad (6, 1, 5, 5) norm {np.linalg.norm(w.grad.numpy().astype(np.float64)):.3g}" in text
    assert "saved: freed by backward" in text
    quiet = svg_text(ET.fromstring(draw(loss, show_saved=False, show_grad=False).svg()))
    assert "saved" not in quiet and "grad (" not in quiet and "features.0.weight" not in quiet


def test_png_starts_with_the_png_signature(no_graphviz, tmp_path):
    pytest.importorskip("matplotlib")
    _, loss = lenet_loss()
    path = draw(loss).save(tmp_path / "lenet.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_without_matplotlib_or_graphviz_says_what_to_install(no_graphviz, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    _, loss = lenet_loss()
    with pytest.raises(RuntimeError, match="matplotlib.*Graphviz"):
        draw(loss).save(tmp_path / "lenet.png")


def test_dot_file_has_the_same_nodes_edges_and_boxes_as_the_svg(no_graphviz, tmp_path):
    model, loss = lenet_loss()
    graph = draw(loss, params=dict(model.named_parameters()))
    dot = graph.save(tmp_path / "lenet.dot").read_text()
    assert dot.startswith("digraph autograd {") and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    svg = graph.svg()
    assert len(re.findall(r"^\s*n\d+ \[label=", dot, re.M)) == len(re.findall(r'<g class="(op|leaf|output)">', svg))
    assert len(re.findall(r"^\s*n\d+ -> n\d+;", dot, re.M)) == svg.count("marker-end")
    assert dot.count("subgraph cluster_") == svg.count('<g class="module">')
    for box in graph.picture.boxes:
        assert box.lines[0] in dot
    assert 'label="LeNet5.features.0 (Conv2d)"' in dot


def test_save_rejects_other_extensions(tmp_path):
    _, loss = lenet_loss()
    with pytest.raises(ValueError, match=r"\.jpg.*\.svg, \.png or \.dot"):
        draw(loss).save(tmp_path / "lenet.jpg")


def test_notebook_display(no_graphviz):
    x = torch.randn(3, requires_grad=True)
    graph = draw((x * 2).sum())
    bundle = graph._repr_mimebundle_()
    assert bundle["image/svg+xml"] == graph._repr_svg_()
    assert bundle["text/plain"] == repr(graph) == "<gradlab.viz.Graph: 2 ops, 1 leaf tensor>"
    assert list(graph._repr_mimebundle_(include=["text/plain"])) == ["text/plain"]


def test_a_tensor_without_a_graph_is_a_clear_error():
    with pytest.raises(ValueError, match=r"draw: .*shape \(2, 3\).* no autograd graph.*requires_grad=True"):
        draw(torch.randn(2, 3))
    with torch.no_grad():
        y = torch.randn(2, requires_grad=True) * 2
    with pytest.raises(ValueError, match="no autograd graph"):
        draw(y)
    with pytest.raises(TypeError, match="draw: expected a Tensor"):
        draw(np.ones(3))


def test_a_leaf_alone_is_one_box(no_graphviz):
    w = torch.randn(2, 3, requires_grad=True)
    graph = draw(w, params={"w": w})
    assert [b.lines for b in graph.picture.boxes] == [["w", "(2, 3) float32"]]
    ET.fromstring(graph.svg())


def test_a_100000_op_chain_draws_quickly_and_says_truncated(no_graphviz, tmp_path):
    x = torch.ones(1, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    start = time.perf_counter()
    graph = draw(y)
    svg = graph.svg()
    graph.save(tmp_path / "chain.dot")
    elapsed = time.perf_counter() - start
    assert elapsed < 30, elapsed  # about 1 s here; a hang or a quadratic walk would not pass
    assert graph.truncated
    assert "truncated: the 500 nodes nearest the output of 100,001" in svg_text(ET.fromstring(svg))
    assert svg.count('<g class="op">') + svg.count('<g class="output">') == 500 and "inputs not drawn" in svg
    assert "truncated" in (tmp_path / "chain.dot").read_text()
    assert to_dot(y).count("MulBackward0") == 100_000  # the plain DOT text is not cut, and does not recurse


def test_ops_with_several_outputs_show_each_output_shape():
    x = torch.randn(4, 6, requires_grad=True)
    a, b = torch.split(x, [2, 4], dim=1)
    boxes = walk((a.sum() + b.sum()))
    split = [box for box in boxes.boxes if box.lines[0].startswith("Split")]
    assert split and split[0].lines[1:3] == ["(4, 2) float32", "(4, 4) float32"]


def test_a_module_called_twice_gets_a_box_per_call_and_a_module_passed_in_is_named_by_its_class():
    relu = nn.ReLU()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return relu(self.fc(x)) + self.fc(relu(x))

    x = torch.randn(2, 3, requires_grad=True)
    titles = sorted(walk(Net()(x).sum()).clusters.values())
    assert titles == ["Net", "Net.fc (Linear)", "Net.fc (Linear)", "ReLU", "ReLU"]


def test_graphviz_is_used_when_installed_and_its_failure_falls_back(tmp_path, monkeypatch):
    fake = tmp_path / "dot"
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.stdin.read()\n"
                    "fmt = sys.argv[1]\n"
                    "sys.exit(3) if fmt == '-Tpng' else sys.stdout.write('<svg xmlns=\"http://www.w3.org/2000/svg\">"
                    "<text>from graphviz</text></svg>')\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    x = torch.randn(3, requires_grad=True)
    graph = draw((x * 2).sum())
    assert "from graphviz" in graph.svg()
    pytest.importorskip("matplotlib")
    with pytest.warns(RuntimeWarning, match="Graphviz's dot failed"):
        png = graph.png()
    assert png[:4] == b"\x89PNG"


# ---- the layout's invariants over random graphs --------------------------------------------------

UNARY = [lambda t: t.relu(), lambda t: t.exp(), lambda t: t.sum(0, keepdim=True).expand(3, 4), lambda t: t * 2]
BINARY = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b.tanh()]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6)),
                min_size=1, max_size=25),
       st.integers(1, 3))
def test_layout_puts_inputs_above_their_ops_and_never_overlaps_a_layer(steps, leaves):
    tensors = [torch.randn(3, 4, requires_grad=True) for _ in range(leaves)]
    for binary, k, i, j in steps:
        if binary:
            tensors.append(BINARY[k % len(BINARY)](tensors[i % len(tensors)], tensors[j % len(tensors)]))
        else:
            tensors.append(UNARY[k % len(UNARY)](tensors[i % len(tensors)]))
    picture = walk(tensors[-1], max_nodes=30)
    lay = layout(picture)
    for src, dst in picture.edges:
        assert lay.y[src] < lay.y[dst]
    by_layer = {}  # nodes of one layer share their centre line
    for i in range(len(picture.boxes)):
        by_layer.setdefault(lay.y[i], []).append((lay.x[i] - lay.w[i] / 2, lay.x[i] + lay.w[i] / 2))
    for spans in by_layer.values():
        spans.sort()
        for (_, right), (left, _) in zip(spans, spans[1:]):
            assert right <= left + 1e-6
    ET.fromstring(to_svg(picture))
