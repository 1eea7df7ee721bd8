"""The op factory over every op of the Tensors surface (specs in op_specs.py).

Each spec is checked on hypothesis-drawn inputs: forward against NumPy,
the inputs left unchanged, backward by gradcheck in float64, and, where
PyTorch is installed, values, dtypes and gradients against torch.
"""
import pytest

from gradlab.testing import make_op_tests
from op_specs import ALL_SPECS

try:
    import torch
except ImportError:  # the NumPy and gradcheck parts still run
    torch = None


def test_spec_names_are_unique():
    names = [s.name for s in ALL_SPECS]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


test_op = make_op_tests(ALL_SPECS, torch=torch)
