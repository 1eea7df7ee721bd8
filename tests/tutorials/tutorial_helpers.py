"""Run a tutorial's code on gradlab, and the very same code on PyTorch to compare.

Each test file writes a tutorial as a function whose body is the tutorial's
code, with the file's imports binding ``torch``, ``nn``, ``F``... to gradlab.
``on_pytorch(fn)`` returns that function with those global names bound to
PyTorch instead: same code object, other library. Classes and helper functions
the tutorial defines inside the body follow the binding, since they are made
when the body runs.
"""
import re
import types

import numpy as np
import pytest


def pytorch_names():
    """PyTorch under the names tutorials import it as; skips the calling test without torch."""
    torch = pytest.importorskip("torch")
    import torch.utils.data as data
    return {"torch": torch, "nn": torch.nn, "F": torch.nn.functional, "optim": torch.optim,
            "Dataset": data.Dataset, "TensorDataset": data.TensorDataset, "DataLoader": data.DataLoader,
            "Variable": torch.autograd.Variable}


def on_pytorch(fn):
    """``fn`` with its globals ``torch``, ``nn``, ``F``... bound to PyTorch (the same code runs)."""
    globals_ = dict(fn.__globals__)
    globals_.update(pytorch_names())
    return types.FunctionType(fn.__code__, globals_, fn.__name__, fn.__defaults__, fn.__closure__)


class PyTorchWithOurDraws(types.ModuleType):
    """PyTorch, except that ``randn`` returns what gradlab's ``randn`` draws for the same call.

    Bound as ``torch``, it lets a randomly initialised tutorial run on PyTorch from gradlab's
    starting point (re-seed gradlab first), so the two runs can be compared step for step.
    """

    def __init__(self, torch):
        super().__init__("torch")
        self._torch = torch

    def __getattr__(self, name):
        return getattr(self._torch, name)

    def randn(self, *size, dtype=None, requires_grad=False, device=None):
        import gradlab
        values = gradlab.randn(*size, dtype=gradlab.float64).numpy()
        return self._torch.tensor(values, dtype=dtype or self._torch.float32, requires_grad=requires_grad)


def on_pytorch_with_our_draws(fn):
    """``fn`` on PyTorch as ``on_pytorch``, its ``torch.randn`` calls answered by gradlab's generator."""
    pytorch = on_pytorch(fn)
    globals_ = dict(pytorch.__globals__, torch=PyTorchWithOurDraws(pytorch.__globals__["torch"]))
    return types.FunctionType(fn.__code__, globals_, fn.__name__, fn.__defaults__, fn.__closure__)


def as_printed_by_pytorch(text):
    """gradlab's printout spelled as PyTorch's: the library name, without object addresses."""
    text = text.replace("gradlab.", "torch.")
    return re.sub(r" at 0x[0-9a-f]+", "", text)


def without_numbers(text):
    """The printout with each decimal number as # and no whitespace: random values change the column
    widths and where lines wrap, not the words, brackets and counts."""
    text = re.sub(r"-?\d+\.\d*(e[-+]\d+)?", "#", text)
    return re.sub(r"\s+", "", text)


def numpy_of(value):
    """A tensor of either library (or a number) as a float64 ndarray."""
    if hasattr(value, "detach"):
        value = value.detach().numpy()
    return np.asarray(value, dtype=np.float64)


def assert_same_values(ours, theirs, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(numpy_of(ours), numpy_of(theirs), rtol=rtol, atol=atol)
