"""``gradlab.onnx``: write a model as an ONNX file, by tracing one forward pass (needs the ``onnx`` package).

    gradlab.onnx.export(model, torch.randn(1, 1, 28, 28), "lenet.onnx")

``export.py`` does the tracing; ``ops.py`` holds one converter per gradlab
function that can be exported.  See docs/onnx.md.
"""
from .export import OnnxExportError, export

__all__ = ["export", "OnnxExportError"]
