"""Hypothesis strategies and helpers shared by the kernel tests.

Geometries cover what the kernels must handle: batch 1-4, channels 1-8 with
groups dividing them, non-square kernels 1-7, strides 1-3, padding 0-3,
dilation 1-2, float32 and float64.
"""
import numpy as np
import pytest
from hypothesis import assume
from hypothesis import strategies as st

import gradlab.kernels as K

requires_cython = pytest.mark.skipif(
    "cython" not in K.available_backends(), reason="compiled kernels (gradlab_ext) not built")

DTYPES = st.sampled_from([np.float32, np.float64])


def tol(dtype):
    """Tolerances for comparing two summation orders of the same sums."""
    return dict(rtol=2e-4, atol=2e-4) if np.dtype(dtype) == np.float32 else dict(rtol=1e-10, atol=1e-10)


def both_backends(fn, *args, **kwargs):
    """(result with the cython backend, result with the numpy backend)."""
    with K.use_backend("cython"):
        a = fn(*args, **kwargs)
    with K.use_backend("numpy"):
        b = fn(*args, **kwargs)
    return a, b


@st.composite
def conv_cases(draw, max_batch=4, max_channels=8, max_kernel=7):
    """A valid conv2d geometry and float arrays for it (x, w, b, grad_out)."""
    groups = draw(st.sampled_from([1, 1, 2, 3, 4]))
    cin = groups * draw(st.integers(1, max(1, max_channels // groups)))
    cout = groups * draw(st.integers(1, max(1, max_channels // groups)))
    kh, kw = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    eff = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    h = draw(st.integers(max(1, eff[0] - 2 * padding[0]), max(1, eff[0] - 2 * padding[0]) + 9))
    w = draw(st.integers(max(1, eff[1] - 2 * padding[1]), max(1, eff[1] - 2 * padding[1]) + 9))
    n = draw(st.integers(1, max_batch))
    dtype = draw(DTYPES)
    with_bias = draw(st.booleans())
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin, h, w)).astype(dtype)
    wt = rng.standard_normal((cout, cin // groups, kh, kw)).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype) if with_bias else None
    ho = K.conv2d_output_size(h, kh, stride[0], padding[0], dilation[0])
    wo = K.conv2d_output_size(w, kw, stride[1], padding[1], dilation[1])
    assume(ho >= 1 and wo >= 1)
    g = rng.standard_normal((n, cout, ho, wo)).astype(dtype)
    return dict(x=x, w=wt, b=b, g=g, stride=stride, padding=padding, dilation=dilation, groups=groups)


@st.composite
def pool_cases(draw, dilation=True, max_batch=4, max_channels=8, max_kernel=5):
    """A valid pooling geometry and an input with many ties (small integers)."""
    kh, kw = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    ceil_mode = draw(st.booleans())
    n, c = draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    ho = K.pool2d_output_size(h, kh, stride[0], padding[0], dil[0], ceil_mode)
    wo = K.pool2d_output_size(w, kw, stride[1], padding[1], dil[1], ceil_mode)
    assume(ho >= 1 and wo >= 1)
    dtype = draw(DTYPES)
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    x = rng.integers(-3, 4, (n, c, h, w)).astype(dtype)       # ties everywhere
    g = rng.standard_normal((n, c, ho, wo)).astype(dtype)
    return dict(x=x, g=g, kernel=(kh, kw), stride=stride, padding=padding, dilation=dil,
                ceil_mode=ceil_mode)
