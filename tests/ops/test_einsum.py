"""einsum's gradients for every kind of subscript: letters summed away by one operand alone, repeated
letters (diagonals), ellipses that broadcast or that only some operands carry."""
import numpy as np
import pytest

import gradlab
from gradlab.autograd import gradcheck

CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij->i", [(2, 3)]), ("ij->", [(2, 3)]), ("ij,kj->", [(2, 3), (4, 3)]),
    ("ii->i", [(3, 3)]), ("ii->", [(3, 3)]), ("iij->j", [(2, 2, 3)]), ("jii->ij", [(2, 3, 3)]),
    ("...ij,...jk->...ik", [(5, 2, 3), (5, 3, 4)]), ("...ij,...jk->...ik", [(2, 3), (5, 3, 4)]),
    ("...ij,...jk->...ik", [(1, 2, 3), (5, 3, 4)]), ("...i,kij,...j->...k", [(5, 2), (4, 2, 3), (5, 3)]),
    ("i...j,j->i...", [(2, 4, 5, 3), (3,)]), ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("i,j->ij", [(3,), (4,)]), ("ijk->kji", [(2, 3, 4)]),
    # implicit output (no '->'): the ellipsis, then the letters seen once, sorted
    ("ij,jk", [(2, 3), (3, 4)]), ("ii", [(3, 3)]), ("i,i", [(3,), (3,)]), ("ba", [(2, 3)]),
    ("...ij,...jk", [(5, 2, 3), (3, 4)]),
    # ellipsis dims the output leaves out are summed
    ("b...,b...->b", [(2, 3, 4), (2, 3, 4)]), ("i...->i", [(3, 4)]), ("...->", [(2, 3)]),
]
IDS = [f"{eq} {shapes}" for eq, shapes in CASES]


def _inputs(lib, shapes):
    rng = np.random.default_rng(0)
    return [lib.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


@pytest.mark.parametrize("equation, shapes", CASES, ids=IDS)
def test_einsum_gradients_pass_gradcheck(equation, shapes):
    assert gradcheck(lambda *ts: gradlab.einsum(equation, *ts), tuple(_inputs(gradlab, shapes)))


@pytest.mark.parametrize("equation, shapes", CASES, ids=IDS)
def test_einsum_values_and_gradients_match_torch(equation, shapes):
    torch = pytest.importorskip("torch")
    results = []
    for lib in (gradlab, torch):
        inputs = _inputs(lib, shapes)
        out = lib.einsum(equation, *inputs)
        weights = lib.tensor(np.random.default_rng(1).standard_normal(tuple(out.shape)))
        (out * weights).sum().backward()
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in inputs])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("equation, shapes", [
    ("ij,jk->ik", [(2, 3)]), ("ij->i", [(2, 3, 4)]), ("ij,jk->ik", [(2, 3), (4, 5)]), ("ij->k", [(2, 3)]),
])
def test_einsum_errors_name_the_op_the_equation_and_the_shapes(equation, shapes):
    with pytest.raises(RuntimeError, match=r"einsum\(\).*" + equation.replace(">", ".") + r".*\[2, 3"):
        gradlab.einsum(equation, *_inputs(gradlab, shapes))
