"""The diagonals and triangles (gradlab/ops/diagonal.py) beyond their specs: tril / triu_indices and bad
arguments, against PyTorch."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
from ops_helpers import needs_torch, raises_as_torch, same, torch


@needs_torch
@settings(max_examples=20, deadline=None)
@given(st.integers(0, 5), st.integers(0, 5), st.integers(-6, 6))
def test_triangle_indices_match_torch(row, col, offset):
    for name in ("tril_indices", "triu_indices"):
        same(getattr(gradlab, name)(row, col, offset), getattr(torch, name)(row, col, offset))
    same(gradlab.tril_indices(row, col, offset, dtype=gradlab.int32),
          torch.tril_indices(row, col, offset, dtype=torch.int32))


@needs_torch
@pytest.mark.parametrize("call", [
    lambda lib: lib.arange(3.0).tril(),                    # a vector (gradlab returned a matrix)
    lambda lib: lib.arange(3.0).triu(1),
])
def test_bad_arguments_raise_as_torch(call):
    raises_as_torch(call)
