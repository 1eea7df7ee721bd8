"""cosine_similarity, pairwise_distance, pdist and their modules: values, gradients and grad_fn names against
torch, gradcheck, errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F
from gradlab import nn
from gradlab.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

from against_torch import assert_close, check_call  # noqa: E402


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


seeds = st.integers(0, 2 ** 16)


@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), data=st.data(), seed=seeds)
def test_cosine_similarity_matches_torch(shape, data, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x1, x2 = rand(*shape, seed=seed), rand(*shape, seed=seed + 1)
    if data.draw(st.booleans()):
        x1[...] = 0  # a zero vector: its norm is clamped to eps
    check_call(lambda F, a, b: F.cosine_similarity(a, b, dim), [x1, x2])


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 4), d=st.integers(1, 4), p=st.sampled_from([1.0, 2.0, 3.0]), keepdim=st.booleans(),
       seed=seeds)
def test_pairwise_distance_matches_torch(n, d, p, keepdim, seed):
    # torch names the norm NormBackward1, gradlab's norm LinalgVectorNormBackward0: compare values and gradients
    check_call(lambda F, a, b: F.pairwise_distance(a, b, p, keepdim=keepdim),
               [rand(n, d, seed=seed), rand(n, d, seed=seed + 1)], names=False)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 5), m=st.integers(1, 4), p=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, float("inf")]),
       repeat=st.booleans(), seed=seeds)
def test_pdist_matches_torch(n, m, p, repeat, seed):
    x = rand(n, m, seed=seed)
    if repeat and n > 1:
        x[1] = x[0]  # a zero distance: gradient 0, as PyTorch
    check_call(lambda F, a: F.pdist(a, p), [x])


def test_distance_gradchecks_and_errors():
    x, y = (gradlab.tensor(rand(4, 3, seed=i), requires_grad=True) for i in range(2))
    for p in (1.5, 2.0, 3.0):
        assert gradcheck(lambda x: F.pdist(x, p), (x,))
        assert gradgradcheck(lambda x: F.pdist(x, p), (x,))
    assert gradcheck(lambda x, y: F.cosine_similarity(x, y), (x, y))
    assert gradgradcheck(lambda x, y: F.pairwise_distance(x, y), (x, y))
    with pytest.raises(RuntimeError, match="pdist only supports 2D tensors, got: 3D"):
        F.pdist(x[None])
    with pytest.raises(RuntimeError, match="pdist only supports non-negative p values"):
        F.pdist(x, -1)


@pytest.mark.parametrize("name,kwargs", [("CosineSimilarity", {"dim": 0}),
                                         ("PairwiseDistance", {"p": 3.0, "keepdim": True})])
def test_module_repr_and_options_match_torch(name, kwargs):
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    for attr in ("p", "eps", "dim", "keepdim"):
        if hasattr(theirs, attr):
            assert getattr(ours, attr) == getattr(theirs, attr), attr


def test_modules_compute_what_the_functionals_compute():
    x, t = rand(3, 4), rand(3, 4, seed=1)
    for ours, theirs in [(nn.CosineSimilarity(), torch.nn.CosineSimilarity()),
                         (nn.PairwiseDistance(), torch.nn.PairwiseDistance())]:
        assert_close(ours(gradlab.tensor(x), gradlab.tensor(t)), theirs(torch.tensor(x), torch.tensor(t)))
