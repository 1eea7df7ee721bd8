"""``gradlab.summary(model, input_size=...)``: a model's layers, shapes, parameters and cost.

    >>> print(gradlab.summary(LeNet5(), input_size=(1, 1, 28, 28)))

prints, in the manner of torchinfo, one row per module (its path in the
model, its class, the shape of its output, its parameters, whether they
train, its multiply-adds), then the totals and the memory the model needs.
The model runs once, in eval mode and under ``no_grad``, on zeros of
``input_size`` (batch dimension included) or on ``input_data``; forward
hooks note what each module returns, and are removed afterwards.

Multiply-adds count the products of a layer's weights with its input, batch
included: a convolution's output elements times ``Cin/groups * kh * kw``, a
linear layer's output elements times ``in_features``, a recurrent layer's
time steps times its weights.  Other layers (activations, pooling,
normalisation) count 0.  torchinfo also counts each bias as a multiply-add
per output position; gradlab does not (a bias add is no product).

The memory estimate: parameters; the input; and the forward/backward pass,
every leaf module's output (what backward keeps) and a gradient of the same
size.  (torchinfo counts the outputs of layers with parameters only.)
"""
import sys
import types

import numpy as np

from . import _dtype, nn
from ._creation import zeros
from ._tensor import Tensor
from .autograd import no_grad

__all__ = ["summary", "ModelSummary", "LayerSummary"]

_CONVS = (nn.Conv1d, nn.Conv2d)
_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d)
_WEIGHTED = (nn.Linear, nn.Bilinear)          # output elements x weight entries per output feature
_RECURRENT = (nn.RNNBase, nn.RNNCellBase)      # steps x every weight entry


def summary(model, input_size=None, input_data=None, depth=3, dtypes=None):
    """Summarise ``model``: returns a ModelSummary, whose ``str()`` is the table.

    ``input_size``: the shape of the input, batch included, or a list of shapes for a model of
    several inputs (zeros of ``dtypes``, default the default dtype, are fed); ``input_data``: a
    tensor, a list of tensors (positional inputs) or a dict (keyword inputs).  Without either, the
    table shows parameters only.  ``depth``: the deepest level of modules shown as rows (the
    levels below are added into their ancestor's row).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"summary: expected an nn.Module, got {type(model).__name__}")
    if input_size is not None and input_data is not None:
        raise ValueError("summary: give input_size or input_data, not both")
    if not isinstance(depth, int) or depth < 0:
        raise ValueError(f"summary: depth must be a non-negative int, got {depth!r}")
    args, kwargs = _inputs(input_size, input_data, dtypes)
    layers = _layers(model)
    ran = args is not None
    if ran:
        _run(model, layers, args, kwargs)
    return ModelSummary(model, layers, depth, ran, sum(_nbytes(t) for t in list(args or []) + list(kwargs.values())))


class LayerSummary:
    """One module's row: where it is, what it returned, what it holds and what it computed."""

    def __init__(self, path, module, depth, parent, shared_with=None):
        self.path, self.module, self.depth, self.parent = path, module, depth, parent
        self.class_name = type(module).__name__
        self.shared_with = shared_with    # the path it was listed under first, for a module used twice
        self.children = []
        own = list(module.parameters(recurse=False))
        every = list(module.parameters())
        self.own_params = sum(p.numel() for p in own)
        self.params = sum(p.numel() for p in every)
        self.trainable_params = sum(p.numel() for p in every if p.requires_grad)
        self.calls = 0
        self.output_shape = None          # of its (last) call's first tensor
        self.output_bytes = 0             # every call's outputs
        self.mult_adds = 0                # its own, every call
        self.total_mult_adds = 0          # its own and its descendants'

    @property
    def trainable(self):
        """"True", "False", "Partial" (some parameters are frozen) or "--" (none)."""
        if self.params == 0:
            return "--"
        if self.trainable_params == self.params:
            return "True"
        return "False" if self.trainable_params == 0 else "Partial"

    def __repr__(self):
        return (f"LayerSummary({self.path or '(model)'}: {self.class_name}, output {self.output_shape}, "
                f"params {self.params:,}, mult-adds {self.mult_adds:,})")


class ModelSummary:
    """The result of ``gradlab.summary``: ``str()`` is the table; the figures are attributes."""

    def __init__(self, model, layers, depth, ran, input_bytes):
        self.layers, self.depth = layers, depth
        params = list(model.parameters())
        self.total_params = sum(p.numel() for p in params)
        self.trainable_params = sum(p.numel() for p in params if p.requires_grad)
        self.non_trainable_params = self.total_params - self.trainable_params
        self.params_bytes = sum(_nbytes(p) for p in params)
        unique = [layer for layer in layers if layer.shared_with is None]
        self.total_mult_adds = sum(layer.mult_adds for layer in unique) if ran else None
        self.input_bytes = input_bytes if ran else None
        self.forward_backward_bytes = 2 * sum(layer.output_bytes for layer in unique
                                              if not layer.children) if ran else None

    @property
    def total_bytes(self):
        """Parameters, input and forward/backward pass (None when the model did not run)."""
        if self.input_bytes is None:
            return None
        return self.params_bytes + self.input_bytes + self.forward_backward_bytes

    def __str__(self):
        shown = [layer for layer in self.layers if layer.depth <= self.depth]
        names = [_tree_prefix(layer, self.depth) + layer.class_name + (f" ({layer.path})" if layer.path else "")
                 for layer in shown]
        heads = ("Layer (path)", "Output Shape", "Param #", "Trainable", "Mult-Adds")
        cells = [(name,) + _cells(layer, layer.depth == self.depth or not layer.children)
                 for name, layer in zip(names, shown)]
        widths = [max(len(row[i]) for row in cells + [heads]) + 2 for i in range(len(heads))]

        def line(row):
            return (row[0].ljust(widths[0]) + row[1].ljust(widths[1])
                    + "".join(c.rjust(w) for c, w in zip(row[2:], widths[2:]))).rstrip()
        rule = "=" * sum(widths)
        out = [rule, line(heads), rule] + [line(row) for row in cells] + [rule]
        out += [f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.non_trainable_params:,}"]
        if self.total_mult_adds is not None:
            out += [f"Total mult-adds: {self.total_mult_adds:,} ({_millions(self.total_mult_adds)})", rule,
                    f"Input size (MB): {self.input_bytes / 1e6:.2f}",
                    f"Forward/backward pass size (MB): {self.forward_backward_bytes / 1e6:.2f}",
                    f"Params size (MB): {self.params_bytes / 1e6:.2f}",
                    f"Estimated Total Size (MB): {self.total_bytes / 1e6:.2f}"]
        return "\n".join(out + [rule])

    __repr__ = __str__


def _cells(layer, collapsed):
    """Output shape, Param #, Trainable and Mult-Adds of a row; a collapsed row adds what is below it."""
    shape = "--" if layer.output_shape is None else str(list(layer.output_shape))
    if layer.shared_with is not None:
        return shape, f"(shared: {layer.shared_with or 'model'})", "--", "--"
    params = layer.params if collapsed else layer.own_params
    mult_adds = layer.total_mult_adds if collapsed else layer.mult_adds
    return (shape, f"{params:,}" if params else "--", layer.trainable,
            f"{mult_adds:,}" if mult_adds else "--")


def _tree_prefix(layer, depth):
    """The branches drawn before a row's name: a bar for each ancestor with siblings still to come."""
    if layer.parent is None:
        return ""
    parts = []
    node = layer.parent
    while node.parent is not None:
        parts.append("    " if _is_last(node, depth) else "│   ")
        node = node.parent
    return "".join(reversed(parts)) + ("└─" if _is_last(layer, depth) else "├─")


def _is_last(layer, depth):
    shown = [c for c in layer.parent.children if c.depth <= depth]
    return shown[-1] is layer


def _millions(n):
    return f"{n / 1e9:.2f} G" if n >= 1e9 else f"{n / 1e6:.2f} M"


# ---------------------------------------------------------------------------
# Running the model
# ---------------------------------------------------------------------------

def _layers(model):
    """Every module of the tree, parents before children (a module met again is listed, not walked)."""
    layers, first = [], {}

    def walk(module, path, depth, parent):
        layer = LayerSummary(path, module, depth, parent, first.get(id(module)))
        layers.append(layer)
        if parent is not None:
            parent.children.append(layer)
        if layer.shared_with is None:
            first[id(module)] = path
            for name, child in module._modules.items():
                if child is not None:
                    walk(child, f"{path}.{name}" if path else name, depth + 1, layer)
    walk(model, "", 0, None)
    return layers


def _inputs(input_size, input_data, dtypes):
    """(args, kwargs) for the model's forward, or (None, {}) when there is no input."""
    if input_data is not None:
        if isinstance(input_data, dict):
            return [], dict(input_data)
        return (list(input_data) if isinstance(input_data, (list, tuple)) else [input_data]), {}
    if input_size is None:
        return None, {}
    sizes = [input_size] if all(isinstance(s, (int, np.integer)) for s in input_size) else list(input_size)
    if dtypes is None:
        dtypes = [_dtype.get_default_dtype()] * len(sizes)
    if len(dtypes) != len(sizes):
        raise ValueError(f"summary: {len(sizes)} input sizes but {len(dtypes)} dtypes")
    for s in sizes:
        if isinstance(s, (int, np.integer)) or not all(isinstance(n, (int, np.integer)) and n >= 0 for n in s):
            raise ValueError(f"summary: input_size must be a shape (batch included) or a list of shapes, "
                             f"got {input_size!r}")
    return [zeros(*s, dtype=dt) for s, dt in zip(sizes, dtypes)], {}


def _run(model, layers, args, kwargs):
    """One forward in eval mode under no_grad, each module's output noted by a forward hook."""
    by_module = {}
    for layer in layers:
        if layer.shared_with is None:
            by_module[id(layer.module)] = layer
    modes = [(m, m.training) for m in model.modules()]
    handles = [layer.module.register_forward_hook(_recorder(layer)) for layer in by_module.values()]
    try:
        model.eval()
        with no_grad():
            model(*args, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            module.training = training
    for layer in layers:
        if layer.shared_with is not None:
            seen = by_module[id(layer.module)]
            layer.output_shape, layer.calls = seen.output_shape, seen.calls
    for layer in reversed(layers):            # children before parents
        if layer.shared_with is None:
            layer.total_mult_adds = layer.mult_adds + sum(c.total_mult_adds for c in layer.children)


def _recorder(layer):
    def hook(module, inputs, output):
        tensors = _tensors(output)
        layer.calls += 1
        if tensors:
            layer.output_shape = tuple(tensors[0].shape)
        layer.output_bytes += sum(_nbytes(t) for t in tensors)
        layer.mult_adds += _mult_adds(module, inputs, tensors)
    return hook


def _mult_adds(module, inputs, outputs):
    """The products of the module's weights with its input in one call (0 for a module without)."""
    if not outputs:
        return 0
    out = outputs[0]
    weight = getattr(module, "weight", None)
    if isinstance(module, _CONVS) or isinstance(module, _WEIGHTED):
        return out.numel() * int(np.prod(weight.shape[1:]))
    if isinstance(module, _TRANSPOSED):       # every input element meets Cout/groups * kernel weights
        x = _tensors(inputs)
        return x[0].numel() * int(np.prod(weight.shape[1:])) if x else 0
    if isinstance(module, _RECURRENT):        # each step (and sample) meets every weight once
        steps = out.numel() // out.shape[-1] if out.ndim else 0
        return steps * sum(p.numel() for name, p in module.named_parameters(recurse=False)
                           if name.startswith("weight"))
    return 0


def _tensors(value):
    """The tensors in an output: a tensor, or nested tuples, lists and dicts of them, in order."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    return []


def _nbytes(t):
    return t.numel() * t.element_size() if isinstance(t, Tensor) else 0


class _CallableModule(types.ModuleType):
    """``import gradlab.summary`` puts this module where ``gradlab.summary`` the function is
    expected: calling the module calls the function."""

    def __call__(self, *args, **kwargs):
        return summary(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
