"""The op factory over every op of the Tensor surface (specs in op_specs/, one module per op family).

Each spec is checked on hypothesis-drawn inputs: forward against NumPy,
the inputs left unchanged, backward by gradcheck in float64, and, where
PyTorch is installed, values, dtypes and gradients against torch.  The
second-derivative specs run gradgradcheck (create_graph=True): every
backward is made of differentiable Tensor ops.
"""
from pathlib import Path

import pytest

from gradlab.testing import make_op_tests
from op_specs import ALL_SPECS, FAMILIES, GRADGRAD_SPECS

try:
    import torch
except ImportError:  # the NumPy and gradcheck parts still run
    torch = None


@pytest.mark.parametrize("specs", [ALL_SPECS, GRADGRAD_SPECS], ids=["specs", "second-order specs"])
def test_spec_names_are_unique(specs):
    names = [s.name for s in specs]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_spec_families_mirror_gradlab_ops():
    """op_specs/<family>.py describes the ops of gradlab/ops/<family>.py (inplace: the in-place forms)."""
    ops = Path(__file__).resolve().parents[2] / "gradlab" / "ops"
    assert {f"{name}.py" for name in FAMILIES} <= {p.name for p in ops.glob("*.py")}


test_op = make_op_tests(ALL_SPECS, torch=torch)
test_gradgrad = make_op_tests(GRADGRAD_SPECS, gradgrad=True)
