"""Embedding backward kernel: the compiled one against its NumPy twin (the same bits: each row's sum in the
order of the indices), the same bits at 1 and 2 threads, float64 gradient checks of the op, PyTorch's
gradients, and clear errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
import gradlab.kernels as K
import gradlab.nn.functional as F
from gradlab.autograd import gradcheck, gradgradcheck
from kernel_cases import DTYPES, both_backends, requires_cython

try:
    import torch
except ImportError:
    torch = None


@requires_cython
@settings(max_examples=60, deadline=None)
@given(rows=st.integers(0, 300), d=st.integers(1, 70), num_rows=st.integers(1, 20), dtype=DTYPES,
       seed=st.integers(0, 2 ** 32 - 1))
def test_twins_give_the_same_bits(rows, d, num_rows, dtype, seed):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((rows, d)).astype(dtype)
    idx = rng.integers(0, num_rows, rows)                  # repeated rows: sums in the order of t
    out, out_np = both_backends(K.embedding_backward, g, idx, num_rows)
    assert out.shape == (num_rows, d) and out.dtype == dtype
    assert out.tobytes() == out_np.tobytes()


@requires_cython
def test_the_same_bits_for_any_thread_count():
    rng = np.random.default_rng(0)
    g = rng.standard_normal((9000, 160)).astype(np.float32)     # above the one-thread size
    idx = rng.integers(0, 50, 9000)
    before = K.get_num_threads()
    try:
        K.set_num_threads(1)
        one = K.embedding_backward(g, idx, 50)
        K.set_num_threads(2)
        two = K.embedding_backward(g, idx, 50)
    finally:
        K.set_num_threads(before)
    assert one.tobytes() == two.tobytes()
    np.testing.assert_allclose(one, np.stack([g[idx == r].sum(0) for r in range(50)]), rtol=1e-4, atol=1e-4)


def test_other_index_dtypes_and_layouts():
    g = np.arange(12.0).reshape(4, 3)
    out = K.embedding_backward(np.asfortranarray(g), np.array([2, 0, 2, 1], np.int32), 3)
    np.testing.assert_array_equal(out, [[3, 4, 5], [9, 10, 11], [6, 8, 10]])
    assert K.embedding_backward(g.astype(np.float16), [2, 0, 2, 1], 3).dtype == np.float16


def test_errors_name_the_function():
    g = np.ones((3, 2))
    with pytest.raises(IndexError, match=r"embedding_backward: indices in \[0, 5\] are outside \[0, 4\)"):
        K.embedding_backward(g, [0, 5, 1], 4)
    with pytest.raises(IndexError, match="outside"):
        K.embedding_backward(g, [0, -1, 1], 4)
    with pytest.raises(ValueError, match="one per row of grad_out"):
        K.embedding_backward(g, [0, 1], 4)
    with pytest.raises(ValueError, match="expected grad_out to be 2-D"):
        K.embedding_backward(np.ones(3), [0, 1, 2], 4)
    with pytest.raises(TypeError, match="embedding_backward: grad_out has dtype int64"):
        K.embedding_backward(np.ones((3, 2), np.int64), [0, 1, 2], 4)


@requires_cython
def test_the_compiled_kernel_refuses_what_it_cannot_read():
    from gradlab_ext import embedding as compiled
    g = np.ones((3, 2))
    with pytest.raises(IndexError, match=r"embedding_backward: indices\[1\] = 7 is outside \[0, 4\)"):
        compiled.embedding_backward(g, np.array([0, 7, 1]), 4)
    with pytest.raises(TypeError, match="indices has dtype int32"):
        compiled.embedding_backward(g, np.array([0, 1, 1], np.int32), 4)
    with pytest.raises(ValueError, match="indices has shape"):
        compiled.embedding_backward(g, np.array([0, 1]), 4)
    with pytest.raises(ValueError, match="must be 2-D"):
        compiled.embedding_backward(np.ones((3, 2, 1)), np.array([0, 1, 2]), 4)


def test_gradcheck_of_the_op_in_float64():
    w = gradlab.randn(6, 4, dtype=gradlab.float64, requires_grad=True)
    idx = gradlab.tensor([[0, 5, 0], [2, 2, 2]])
    assert gradcheck(lambda w: F.embedding(idx, w), (w,))
    assert gradgradcheck(lambda w: F.embedding(idx, w) ** 2, (w,))
    F.embedding(idx, w, padding_idx=2).sum().backward()       # the padding row gets no gradient, by design
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [2, 0, 0, 0, 0, 1])


@pytest.mark.skipif(torch is None, reason="PyTorch not installed")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradients_match_torch(dtype):
    rng = np.random.default_rng(1)
    ws, gs = rng.standard_normal((65, 16)).astype(dtype), rng.standard_normal((8, 64, 16)).astype(dtype)
    idx = rng.integers(0, 65, (8, 64))
    w = gradlab.tensor(ws, requires_grad=True)
    F.embedding(gradlab.tensor(idx), w).backward(gradlab.tensor(gs))
    tw = torch.tensor(ws, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(idx), tw).backward(torch.tensor(gs))
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=tol, atol=tol)
