"""gradlab.set_num_threads & co., as PyTorch has them: one number for the kernels and BLAS."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import gradlab
from gradlab import kernels

try:
    import threadpoolctl
except ImportError:
    threadpoolctl = None

try:
    import torch
except ImportError:
    torch = None


@pytest.fixture(autouse=True)
def restore_threads():
    before, interop = gradlab.get_num_threads(), gradlab.get_num_interop_threads()
    yield
    gradlab.set_num_threads(before)
    gradlab.set_num_interop_threads(interop)


def blas_threads():
    return {info["filepath"]: info["num_threads"]
            for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"}


@given(st.integers(1, 16))
def test_set_then_get_gives_the_number_to_the_kernels(n):
    gradlab.set_num_threads(n)
    assert gradlab.get_num_threads() == n
    if kernels.available_backends()[0] == "cython":
        assert kernels.get_num_threads() == n


@pytest.mark.skipif(threadpoolctl is None, reason="threadpoolctl is not installed")
def test_set_num_threads_limits_numpys_blas_and_holds_the_kernels_blas_at_one():
    from gradlab import _threads
    kernel_blas = set(_threads.kernel_blas_paths())
    for n in (1, 3):
        gradlab.set_num_threads(n)
        threads = blas_threads()
        assert threads and kernel_blas, threads
        for path, count in threads.items():
            # the kernels' BLAS runs on the OpenMP team's threads, one call each: its own pool stays at 1
            assert count == (1 if path in kernel_blas else n), (path, threads)


def test_large_products_split_over_the_team_match_one_blas_call():
    # above 2^24 multiply-adds matmul cuts C's rows into one BLAS call per thread
    rng = np.random.default_rng(0)
    a = rng.standard_normal((256, 784)).astype(np.float32)
    b = rng.standard_normal((784, 256)).astype(np.float32)
    results = []
    for n in (1, 2, 3):
        gradlab.set_num_threads(n)
        results.append(kernels.matmul(a, b.T.copy().T))      # b Fortran-ordered: the transposed operand
        results.append(kernels.matmul(a.T.copy().T, b))
    for r in results:
        np.testing.assert_allclose(r, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)
    if kernels.available_backends()[0] == "cython":
        np.testing.assert_array_equal(results[0], results[2])     # rows are independent: the same bits
    few_rows = rng.standard_normal((8, 4096)).astype(np.float32)  # too few rows to cut: tiles instead
    wide = rng.standard_normal((4096, 640)).astype(np.float32)
    gradlab.set_num_threads(2)
    np.testing.assert_allclose(kernels.matmul(few_rows, wide), few_rows.astype(np.float64) @ wide,
                               rtol=1e-4, atol=2e-3)


@given(st.integers(1, 64))
def test_interop_threads_are_kept(n):
    gradlab.set_num_interop_threads(n)
    assert gradlab.get_num_interop_threads() == n


@pytest.mark.parametrize("function", ["set_num_threads", "set_num_interop_threads"])
@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), (2.0, TypeError), ("2", TypeError),
                                        (None, TypeError)])
def test_bad_thread_counts_name_the_function_and_value(function, bad, error):
    before = gradlab.get_num_threads(), gradlab.get_num_interop_threads()
    with pytest.raises(error, match=function) as info:
        getattr(gradlab, function)(bad)
    assert repr(bad) in str(info.value) or str(bad) in str(info.value)
    assert (gradlab.get_num_threads(), gradlab.get_num_interop_threads()) == before


def test_numpy_integers_are_accepted():
    gradlab.set_num_threads(np.int64(2))
    assert gradlab.get_num_threads() == 2


def lenet_gradients(threads):
    gradlab.set_num_threads(threads)
    gradlab.manual_seed(0)
    model = gradlab.models.LeNet5()
    x = gradlab.from_numpy(np.random.default_rng(0).standard_normal((64, 1, 28, 28), dtype=np.float32))
    gradlab.nn.functional.cross_entropy(model(x), gradlab.arange(64) % 10).backward()
    return [p.grad.numpy().copy() for p in model.parameters()]


def test_a_training_step_gives_the_same_bits_on_one_and_two_threads():
    for one, two in zip(lenet_gradients(1), lenet_gradients(2)):
        np.testing.assert_array_equal(one, two)


PYTORCH_CODE = """
n = torch.get_num_threads()
torch.set_num_threads(1)
one = torch.get_num_threads()
torch.set_num_threads(n)
interop = torch.get_num_interop_threads()
result = (one, torch.get_num_threads() == n, isinstance(interop, int) and interop >= 1)
"""


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
def test_pytorch_thread_code_runs_unchanged_with_the_same_answers():
    answers = []
    for lib in (torch, gradlab):
        scope = {"torch": lib}
        exec(PYTORCH_CODE, scope)
        answers.append(scope["result"])
    assert answers[0] == answers[1] == (1, True, True)
