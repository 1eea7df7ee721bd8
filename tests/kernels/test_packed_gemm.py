"""The packed float32 GEMM (gradlab_ext/_sgemm_packed.h) behind matmul's layer-sized products and the recurrent
layers: right at every tile, panel and block edge, for every operand layout, and the same bits whatever the
thread count.  On a CPU without AVX2/FMA the same products go to BLAS and these tests check that path."""
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import gradlab.kernels as K
from kernel_cases import requires_cython

pytestmark = requires_cython


def _layout(a, f):
    return np.asfortranarray(a) if f else a


def _with_threads(n, fn, *args):
    before = K.get_num_threads()
    K.set_num_threads(n)
    try:
        return fn(*args)
    finally:
        K.set_num_threads(before)


# m from 256 (matmul's smallest packed product) across 4-row tiles and 64-row blocks, n across the 24- and
# 16-wide panels (32 = 16 + 16, 40 = 24 + 16, 41 = 24 + 24 with padding), k across the 256-deep reduction blocks
# (the first block overwrites C, the later ones add); a transposed A (fa) is copied block by block
@given(st.integers(256, 400), st.integers(32, 80), st.integers(1, 600), st.booleans(), st.booleans())
@example(256, 32, 1, False, False).via("one step of the reduction")
@example(259, 49, 257, False, True).via("edge tile, edge panel, a second reduction block of one")
@example(320, 72, 512, False, True).via("whole tiles and panels, two reduction blocks")
@example(261, 64, 300, True, False).via("a transposed A's blocks copied, panels of 24, 24 and 16")
@example(256, 32, 40, True, True).via("two panels of 16")
def test_packed_products_match_float64(m, n, k, fa, fb):
    rng = np.random.default_rng(m * 7919 + n * 104729 + k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    out = K.matmul(_layout(a, fa), _layout(b, fb))
    exact = a.astype(np.float64) @ b.astype(np.float64)
    assert out.shape == (m, n) and out.dtype == np.float32
    # float32 sums of k products: error grows like sqrt(k) ulps of the terms' size
    np.testing.assert_allclose(out, exact, rtol=1e-5, atol=2e-6 * np.sqrt(k) * 4)


@pytest.mark.parametrize("layout", ["cc", "cf", "fc", "ff"])
def test_packed_products_same_bits_on_one_and_two_threads(layout):
    rng = np.random.default_rng(3)
    a = _layout(rng.standard_normal((700, 300)).astype(np.float32), layout[0] == "f")
    b = _layout(rng.standard_normal((300, 130)).astype(np.float32), layout[1] == "f")
    one = _with_threads(1, K.matmul, a, b)
    two = _with_threads(2, K.matmul, a, b)
    assert np.array_equal(one, two)


def test_packed_kernel_runs_where_the_cpu_has_avx2_and_fma():
    import os
    from gradlab_ext import matmul
    flags = open("/proc/cpuinfo").read().split() if os.path.exists("/proc/cpuinfo") else []
    if "avx2" not in flags or "fma" not in flags:
        pytest.skip("no AVX2/FMA listed in /proc/cpuinfo: the products go to BLAS")
    assert matmul._packed_kernel() is True


@given(st.integers(1, 300), st.integers(0, 300), st.integers(1, 80), st.sampled_from([np.float32, np.float64]),
       st.booleans())
@example(258, 300, 49, np.float32, True).via("packed: the bias seeds an edge panel, two reduction blocks")
@example(10, 3, 5, np.float32, False).via("BLAS: the bias added after the product")
@example(70, 0, 40, np.float32, False).via("an empty reduction: the bias alone")
def test_the_bias_starts_every_row(m, k, n, dtype, fb):
    from kernel_cases import both_backends
    rng = np.random.default_rng(m * 31 + k * 7 + n)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = _layout(rng.standard_normal((k, n)).astype(dtype), fb)
    bias = rng.standard_normal(n).astype(dtype)
    out, out_np = both_backends(K.matmul, a, b, bias)
    exact = a.astype(np.float64) @ b.astype(np.float64) + bias
    tight = dtype == np.float64
    for got in (out, out_np):
        assert got.shape == (m, n) and got.dtype == dtype
        np.testing.assert_allclose(got, exact, rtol=1e-12 if tight else 1e-5,
                                   atol=1e-12 if tight else 1e-5 * (np.sqrt(k) + 1))


def test_the_bias_is_checked_and_promoted():
    a = np.ones((3, 2), np.float32)
    b = np.ones((2, 4), np.float32)
    with pytest.raises(ValueError, match=r"matmul: bias must have shape \(4,\)"):
        K.matmul(a, b, np.ones(3, np.float32))
    with pytest.raises(TypeError, match="matmul: bias has dtype int64"):
        K.matmul(a, b, np.ones(4, np.int64))
    out = K.matmul(a, b, np.full(4, 0.5))          # float64 bias: NumPy's promotion
    assert out.dtype == np.float64 and np.array_equal(out, np.full((3, 4), 2.5))


def test_packed_gemm_0_keeps_every_product_on_blas():
    import os
    import subprocess
    import sys
    code = "import gradlab.kernels as K; print(K._COMPILED['matmul']._packed_kernel())"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, GRADLAB_PACKED_GEMM="0", PYTHONPATH=root)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
