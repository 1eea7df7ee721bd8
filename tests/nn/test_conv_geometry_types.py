"""Geometry must be integers, as in PyTorch: a float, a string or a bool is a TypeError, never truncated.

NumPy integers are ints (PyTorch takes them too) and give the same result as
a plain int.  Each refusal is cross-checked against PyTorch when installed.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import gradlab
import gradlab.nn as nn
import gradlab.nn.functional as F

try:
    import torch
except ImportError:
    torch = None

BAD = [1.5, 2.0, 1.9, 2.5, "2", True, False, np.float64(2.0), np.bool_(True), (2, 1.5), None.__class__]
BAD_IDS = ["1.5", "2.0", "1.9", "2.5", "str", "True", "False", "np.float64", "np.bool_", "pair-with-float", "type"]


def calls(lib):
    """(name, f(value)) for every place geometry enters, with lib = gradlab or torch."""
    fn, mod = lib.nn.functional, lib.nn
    x, w = lib.ones(1, 2, 6, 6), lib.ones(3, 2, 3, 3)
    x1, w1 = lib.ones(1, 2, 6), lib.ones(3, 2, 3)
    cols = lib.ones(1, 8, 25)
    return [
        ("conv2d stride", lambda v: fn.conv2d(x, w, stride=v)),
        ("conv2d padding", lambda v: fn.conv2d(x, w, padding=v)),
        ("conv2d dilation", lambda v: fn.conv2d(x, w, dilation=v)),
        ("conv2d groups", lambda v: fn.conv2d(x, w, groups=v)),
        ("conv1d stride", lambda v: fn.conv1d(x1, w1, stride=v)),
        ("conv1d padding", lambda v: fn.conv1d(x1, w1, padding=v)),
        ("conv_transpose2d stride", lambda v: fn.conv_transpose2d(x, w.transpose(0, 1), stride=v)),
        ("conv_transpose2d output_padding",
         lambda v: fn.conv_transpose2d(x, w.transpose(0, 1), stride=3, output_padding=v)),
        ("conv_transpose1d stride", lambda v: fn.conv_transpose1d(x1, w1.transpose(0, 1), stride=v)),
        ("max_pool2d kernel_size", lambda v: fn.max_pool2d(x, v)),
        ("max_pool2d stride", lambda v: fn.max_pool2d(x, 2, stride=v)),
        ("max_pool2d padding", lambda v: fn.max_pool2d(x, 3, padding=v)),
        ("max_pool2d dilation", lambda v: fn.max_pool2d(x, 2, dilation=v)),
        ("avg_pool2d kernel_size", lambda v: fn.avg_pool2d(x, v)),
        ("avg_pool2d stride", lambda v: fn.avg_pool2d(x, 2, stride=v)),
        ("avg_pool2d padding", lambda v: fn.avg_pool2d(x, 3, padding=v)),
        ("max_pool1d kernel_size", lambda v: fn.max_pool1d(x1, v)),
        ("max_pool1d stride", lambda v: fn.max_pool1d(x1, 2, stride=v)),
        ("avg_pool1d kernel_size", lambda v: fn.avg_pool1d(x1, v)),
        ("avg_pool1d stride", lambda v: fn.avg_pool1d(x1, 2, stride=v)),
        ("unfold kernel_size", lambda v: fn.unfold(x, v)),
        ("unfold stride", lambda v: fn.unfold(x, 2, stride=v)),
        ("fold kernel_size", lambda v: fn.fold(cols, (6, 6), v)),
        # modules: gradlab refuses at construction, PyTorch at the first forward
        ("Conv2d stride", lambda v: mod.Conv2d(2, 3, 3, stride=v)(x)),
        ("Conv2d padding", lambda v: mod.Conv2d(2, 3, 3, padding=v)(x)),
        ("Conv1d stride", lambda v: mod.Conv1d(2, 3, 3, stride=v)(x1)),
        ("ConvTranspose2d stride", lambda v: mod.ConvTranspose2d(2, 3, 3, stride=v)(x)),
        ("MaxPool2d kernel_size", lambda v: mod.MaxPool2d(v)(x)),
        ("MaxPool2d stride", lambda v: mod.MaxPool2d(2, stride=v)(x)),
        ("AvgPool2d kernel_size", lambda v: mod.AvgPool2d(v)(x)),
        ("AvgPool2d stride", lambda v: mod.AvgPool2d(2, stride=v)(x)),
        ("MaxPool1d kernel_size", lambda v: mod.MaxPool1d(v)(x1)),
        ("AvgPool1d stride", lambda v: mod.AvgPool1d(2, stride=v)(x1)),
    ]


NAMES = [name for name, _ in calls(gradlab)]


def call(lib, name):
    return dict(calls(lib))[name]


@pytest.mark.parametrize("value", BAD, ids=BAD_IDS)
@pytest.mark.parametrize("name", NAMES)
def test_non_integer_geometry_is_a_type_error(name, value):
    if value is None.__class__:
        value = 2 + 0j           # a complex number is no int either
    if isinstance(value, str) and "conv" in name.lower() and "padding" in name:
        return                   # a string padding names a mode ('same', 'valid'): tested elsewhere
    with pytest.raises(TypeError):
        call(gradlab, name)(value)
    if torch is not None and not name.startswith("Conv1d") and not (name.startswith("Conv") and value in (1, 0)):
        # PyTorch refuses the same (its modules accept a bool kernel_size; gradlab does not)
        with pytest.raises(TypeError):
            call(torch, name)(value)


@pytest.mark.parametrize("make", [int, np.int64, np.int32, np.uint8, np.int16], ids=lambda t: t.__name__)
@pytest.mark.parametrize("name", NAMES)
def test_numpy_integers_are_ints(name, make):
    value = make(1 if "padding" in name or "dilation" in name or "groups" in name else 2)
    expected = call(gradlab, name)(int(value))
    got = call(gradlab, name)(value)
    assert np.array_equal(got.detach().numpy(), expected.detach().numpy()) or "Conv" in name
    assert got.shape == expected.shape
    if torch is not None:
        assert tuple(call(torch, name)(value).shape) == tuple(expected.shape)


@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_stride_or_padding_is_refused(value):
    x, w = gradlab.ones(1, 1, 5, 5), gradlab.ones(1, 1, 2, 2)
    with pytest.raises(TypeError, match="stride"):
        F.conv2d(x, w, stride=value)
    with pytest.raises(TypeError, match="padding"):
        F.max_pool2d(x, 2, padding=(0, value))
    with pytest.raises(TypeError, match="kernel_size"):
        nn.AvgPool1d(value)


def test_wrong_length_is_still_a_value_error():
    x, w = gradlab.ones(1, 1, 5, 5), gradlab.ones(1, 1, 2, 2)
    with pytest.raises(ValueError):
        F.conv2d(x, w, stride=(1, 2, 3))
    with pytest.raises(ValueError):
        F.max_pool1d(gradlab.ones(1, 1, 5), (2, 2))
