"""The comparisons, logical and bitwise ops, where and masked_fill (gradlab/ops/compare.py) beyond their specs:
edge values and errors."""
import pytest

import gradlab
from ops_helpers import check_unary_edges, raises_named_error, raises_with

UNARY_EDGE_CASES = {name: (lambda name: lambda lib, x: getattr(lib, name)(x))(name)
                    for name in ("signbit", "isposinf", "isneginf")}


@pytest.mark.parametrize("name", sorted(UNARY_EDGE_CASES))
def test_unary_edge_values_match_torch(name):
    check_unary_edges(name, UNARY_EDGE_CASES[name], grad=False)


ERRORS = {
    "bitwise_and on floats": (lambda lib: lib.ones(2).bitwise_and(lib.ones(2)), ["bitwise_and", "Float"]),
    "bitwise_xor with a float number": (lambda lib: lib.ones(2, dtype=lib.int64) ^ 1.5, ["bitwise_xor", "Float"]),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_error(case):
    raises_named_error(case, *ERRORS[case])


def test_mask_errors():
    x = gradlab.ones(2, 3)
    raises_with(lambda: x.masked_fill(gradlab.ones(2, 3), 0.0), RuntimeError, "masked_fill", "bool")
    raises_with(lambda: x.masked_fill(gradlab.ones(4, dtype=gradlab.bool), 0.0), RuntimeError, "masked_fill")
    raises_with(lambda: gradlab.where(gradlab.ones(3), x, x), RuntimeError, "where", "bool")
