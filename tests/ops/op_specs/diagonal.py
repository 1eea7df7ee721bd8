"""The diagonals and triangles of gradlab/ops/diagonal.py: diag, diagonal, diag_embed, diagflat,
tril / triu.
"""
import numpy as np
from hypothesis import strategies as st

from gradlab.testing import OpSpec
from ._common import _kw


@st.composite
def _diag_embed_case(draw, shapes):
    nd = len(shapes[0]) + 1
    dims = draw(st.permutations(range(-nd, 0)).map(lambda p: p[:2]))
    return {"offset": draw(st.integers(-2, 2)), "dim1": dims[0], "dim2": dims[1]}


def _np_diag_embed(x, offset, dim1, dim2):
    n = x.shape[-1]
    size = n + abs(offset)
    out = np.zeros(x.shape[:-1] + (size, size), x.dtype)
    for i in range(n):
        out[..., i + max(-offset, 0), i + max(offset, 0)] = x[..., i]
    return np.moveaxis(out, (-2, -1), (dim1, dim2))


SPECS = [
    OpSpec("diag_embed_vector", lambda lib, x, k: lib.diag(x, k), lambda x, k: np.diag(x, k), min_dims=1, max_dims=1,
           kwargs={"k": st.integers(-2, 2)}),
    OpSpec("diagonal", lambda lib, x, k, dims: x.diagonal(k, *dims), lambda x, k, dims: np.diagonal(x, k, *dims),
           min_dims=2, max_dims=4, kwargs=_kw(k=lambda nd: st.integers(-2, 2), dims=lambda nd: st.permutations(
               range(-nd, 0)).map(lambda p: tuple(p[:2])))),
    OpSpec("diag_of_matrix", lambda lib, x, k: lib.diag(x, k), lambda x, k: np.diag(x, k), min_dims=2, max_dims=2,
           kwargs={"k": st.integers(-2, 2)}),
    OpSpec("tril_triu", lambda lib, x, k: (x.tril(k), lib.triu(x, k)), lambda x, k: (np.tril(x, k), np.triu(x, k)),
           min_dims=2, max_dims=2, kwargs={"k": st.integers(-2, 2)}),
    OpSpec("diag_embed", lambda lib, x, offset, dim1, dim2: x.diag_embed(offset, dim1, dim2), _np_diag_embed,
           min_dims=1, kwargs=_diag_embed_case),
    OpSpec("diagflat", lambda lib, x, k: lib.diagflat(x, k), lambda x, k: np.diagflat(x, k), max_dims=2,
           kwargs={"k": st.integers(-2, 2)}),
]

GRADGRAD_SPECS = []
