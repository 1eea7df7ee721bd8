"""Joining and splitting (gradlab/ops/join_split.py) beyond their specs: atleast_nd, cartesian_prod and
combinations against itertools and PyTorch, and errors."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradlab
from ops_helpers import check_grads, leaf, needs_torch, raises_as_torch, raises_with, random_rows_test

SETTINGS = settings(max_examples=10, deadline=None)
seeds = st.integers(0, 2 ** 31 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)


@SETTINGS
@given(shape=shapes)
def test_atleast_nd(shape):
    x = np.zeros(shape)
    for ours, theirs in ((gradlab.atleast_1d, np.atleast_1d), (gradlab.atleast_2d, np.atleast_2d),
                         (gradlab.atleast_3d, np.atleast_3d)):
        assert tuple(ours(leaf(x)).shape) == theirs(x).shape
        pair = ours(leaf(x), leaf(x))
        assert isinstance(pair, tuple) and [tuple(p.shape) for p in pair] == [theirs(x).shape] * 2
        assert isinstance(ours([leaf(x)]), tuple)


@SETTINGS
@given(sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3), seed=seeds)
def test_cartesian_prod(sizes, seed):
    rng = np.random.default_rng(seed)
    vectors = [rng.normal(size=n) for n in sizes]
    expected = np.array(list(itertools.product(*vectors)))
    out = gradlab.cartesian_prod(*[leaf(v) for v in vectors]).detach().numpy()
    np.testing.assert_array_equal(out, expected[:, 0] if len(sizes) == 1 else expected)
    check_grads(lambda *vs: gradlab.cartesian_prod(*vs), *[leaf(v) for v in vectors])


@SETTINGS
@given(n=st.integers(1, 5), r=st.integers(1, 4), with_replacement=st.booleans(), seed=seeds)
def test_combinations(n, r, with_replacement, seed):
    v = np.random.default_rng(seed).normal(size=n)
    choose = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    expected = np.array(list(choose(v, r))).reshape(-1, r)
    out = gradlab.combinations(leaf(v), r, with_replacement).detach().numpy()
    np.testing.assert_array_equal(out, expected)
    if expected.size:
        check_grads(lambda x: gradlab.combinations(x, r, with_replacement), leaf(v))


def test_vector_only_errors():
    with pytest.raises(RuntimeError, match=r"Expect a 1D vector, but got shape \[2, 2\]"):
        gradlab.combinations(gradlab.ones(2, 2))
    with pytest.raises(RuntimeError, match="Expect a 1D vector"):
        gradlab.cartesian_prod(gradlab.ones(2), gradlab.ones(2, 2))


CASES = {
    "cartesian_prod": lambda lib, a, b: lib.cartesian_prod(a[0], b[1]) ** 2,
    "combinations": lambda lib, a, b: lib.combinations(a[0], 2) ** 2,
    "combinations(with_replacement)": lambda lib, a, b: lib.combinations(b[0], 3, with_replacement=True) ** 2,
    "atleast_3d": lambda lib, a, b: lib.atleast_3d(a[0]) ** 2,
}


test_matches_torch = random_rows_test(CASES)


@needs_torch
def test_bad_arguments_raise_as_torch():
    raises_as_torch(lambda lib: lib.ones(5).chunk(0))  # ZeroDivisionError


def test_join_and_split_errors():
    x = gradlab.ones(2, 3)
    raises_with(lambda: gradlab.cat([x, gradlab.ones(3, 3)], 1), RuntimeError, "cat", "[2, 3]", "[3, 3]")
    raises_with(lambda: gradlab.stack([x, gradlab.ones(3, 2)]), RuntimeError, "stack", "[2, 3]", "[3, 2]")
    raises_with(lambda: x.split([1, 1], 1), RuntimeError, "split", "3")
