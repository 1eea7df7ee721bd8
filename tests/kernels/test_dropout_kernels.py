"""Dropout kernels: the compiled ones against their NumPy twins (the same bits, hypothesis), the same mask at
1 and 2 threads and in float32 and float64, SplitMix64's published outputs, the keep fraction and the scale,
p = 0 and p = 1, NaN, and clear errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab.kernels as K
from gradlab.kernels import dropout as twin
from kernel_cases import DTYPES, both_backends, requires_cython

SEEDS = st.integers(0, 2 ** 64 - 1)
PROBS = st.one_of(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]), st.floats(0, 1))


def _same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


@requires_cython
@settings(max_examples=80, deadline=None)
@given(shape=st.lists(st.integers(0, 9), min_size=0, max_size=4), dtype=DTYPES, p=PROBS, seed=SEEDS,
       data_seed=st.integers(0, 2 ** 32 - 1))
def test_twins_give_the_same_bits(shape, dtype, p, seed, data_seed):
    x = np.random.default_rng(data_seed).standard_normal(shape).astype(dtype)
    for fn in (K.dropout_forward, K.dropout_backward):
        y, y_np = both_backends(fn, x, p, seed)
        _same_bits(y, y_np)
    # the backward applies the forward's mask: the same function of (p, seed)
    _same_bits(K.dropout_forward(x, p, seed), K.dropout_backward(x, p, seed))


def test_the_generator_is_splitmix64():
    # SplitMix64 from seed 0: its published first outputs (as java.util.SplittableRandom and Vigna's C code)
    assert [int(v) for v in twin._bits(0, 3)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


@requires_cython
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_mask_is_the_same_for_any_thread_count(dtype):
    x = np.random.default_rng(0).standard_normal((301, 517)).astype(dtype)   # above the one-thread size
    before = K.get_num_threads()
    try:
        K.set_num_threads(1)
        one = K.dropout_forward(x, 0.3, 12345)
        K.set_num_threads(2)
        two = K.dropout_forward(x, 0.3, 12345)
    finally:
        K.set_num_threads(before)
    _same_bits(one, two)


@pytest.mark.parametrize("backend", K.available_backends())
def test_the_mask_is_the_same_in_float32_and_float64(backend):
    x = np.random.default_rng(1).standard_normal(5000)
    with K.use_backend(backend):
        kept64 = K.dropout_forward(x, 0.4, 99) != 0
        kept32 = K.dropout_forward(x.astype(np.float32), 0.4, 99) != 0
        kept16 = K.dropout_forward(x.astype(np.float16), 0.4, 99) != 0
    assert np.array_equal(kept64, kept32) and np.array_equal(kept64, kept16)


@pytest.mark.parametrize("backend", K.available_backends())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_keep_fraction_and_scale(backend, dtype, p):
    n = 200_000
    x = np.random.default_rng(2).uniform(0.5, 2.0, n).astype(dtype)     # no zeros: a zero output means dropped
    with K.use_backend(backend):
        y = K.dropout_forward(x, p, 7)
    kept = y != 0
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs(kept.mean() - (1 - p)) < 5 * sigma
    scale = dtype(1 / (1 - p))
    _same_bits(y[kept], x[kept] * scale)
    # different keys give different masks, about independent ones
    other = K.dropout_forward(x, p, 8) != 0
    assert abs((kept & other).mean() - (1 - p) ** 2) < 5 * np.sqrt(n * (1 - p) ** 2) / n


@pytest.mark.parametrize("backend", K.available_backends())
def test_p_zero_and_one_and_nan(backend):
    x = np.array([1.5, -2.0, np.nan, np.inf, 0.0], dtype=np.float32)
    with K.use_backend(backend):
        _same_bits(K.dropout_forward(x, 0.0, 3), x)
        dropped = K.dropout_forward(x, 1.0, 3)
        grad = K.dropout_backward(np.ones(5, np.float32), 1.0, 3)
    assert not grad.any()
    # a dropped element is multiplied by 0, as in PyTorch: NaN and inf become NaN
    np.testing.assert_array_equal(dropped, np.array([0, 0, np.nan, np.nan, 0], dtype=np.float32))


def test_other_layouts_and_dtypes_are_brought_to_the_kernel():
    x = np.random.default_rng(3).standard_normal((6, 8))
    _same_bits(K.dropout_forward(x.T, 0.5, 11), K.dropout_forward(np.ascontiguousarray(x.T), 0.5, 11))
    half = K.dropout_forward(x.astype(np.float16), 0.5, 11)
    assert half.dtype == np.float16
    assert np.array_equal(half != 0, K.dropout_forward(x, 0.5, 11) != 0)


def test_errors_name_the_function():
    x = np.ones(4, np.float32)
    with pytest.raises(TypeError, match="dropout_forward: x has dtype int64"):
        K.dropout_forward(np.ones(4, np.int64), 0.5, 1)
    with pytest.raises(ValueError, match=r"dropout_backward: p must be in \[0, 1\], got 1.5"):
        K.dropout_backward(x, 1.5, 1)
    for seed in (-1, 2 ** 64, 0.5, True):
        with pytest.raises(ValueError, match="dropout_forward: seed must be an int"):
            K.dropout_forward(x, 0.5, seed)


@requires_cython
def test_the_compiled_kernel_refuses_what_it_cannot_read():
    from gradlab_ext import dropout as compiled
    with pytest.raises(ValueError, match="dropout_forward: x must be C-contiguous"):
        compiled.dropout_forward(np.ones((4, 4))[:, ::2], 0.5, 1)
    with pytest.raises(TypeError, match="dropout_backward: grad_out has dtype int32"):
        compiled.dropout_backward(np.ones(3, np.int32), 0.5, 1)
    with pytest.raises(ValueError, match="seed must be in"):
        compiled.dropout_forward(np.ones(3), 0.5, -1)
    with pytest.raises(ValueError, match="p must be in"):
        compiled.dropout_forward(np.ones(3), float("nan"), 1)
