"""Sizes that overflow: both backends refuse them alike, before any allocation, and never crash.

Each call that once crashed or returned garbage runs in a child process, so
that a SIGSEGV fails the test instead of killing pytest.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gradlab.kernels as K
from kernel_cases import requires_cython

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def in_child(code):
    """Run code in a fresh interpreter; its stdout (fails on a crash or a traceback)."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": REPO}, timeout=300)
    assert out.returncode == 0, f"exit code {out.returncode}: {out.stderr[-2000:]}"
    return out.stdout


@pytest.fixture(params=K.available_backends())
def backend(request):
    with K.use_backend(request.param):
        yield request.param


OVERFLOWING = [  # (op, call) whose size products pass 2**31 - 1 or 64 bits
    ("im2col", lambda: K.im2col(np.zeros((0, 2**31, 1, 1), np.float32), (1, 1))),
    ("im2col", lambda: K.im2col(np.zeros((0, 2**20, 4, 4), np.float32), (2**21, 2**21), padding=2**21)),
    ("im2col", lambda: K.im2col(np.zeros((1, 1, 2, 2), np.float32), 2, padding=2**31)),
    ("col2im", lambda: K.col2im(np.zeros((0, 4, 1), np.float32), (0, 1, 2**62, 2**62), 2)),
    ("conv2d_forward", lambda: K.conv2d_forward(np.zeros((0, 2**30, 4, 4), np.float32),
                                                np.zeros((0, 2**30, 4, 4), np.float32))),
    ("conv2d_forward", lambda: K.conv2d_forward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 2)), stride=2**32)),
    ("conv2d_input_grad", lambda: K.conv2d_input_grad(np.zeros((0, 1, 1, 1)), np.zeros((1, 1, 1, 1)),
                                                      (0, 1, 2**63, 1))),
    ("avg_pool2d_forward", lambda: K.avg_pool2d_forward(np.ones((1, 1, 3, 3), np.float32), 2**32, 1,
                                                        padding=2**31 - 1)),
    ("avg_pool2d_forward", lambda: K.avg_pool2d_forward(np.ones((1, 1, 3, 3)), 2**16, 1, padding=2**15)),
    ("avg_pool2d_backward", lambda: K.avg_pool2d_backward(np.ones((1, 1, 2, 2)), (1, 1, 2**40, 2**40), 2**32)),
    ("max_pool2d_forward", lambda: K.max_pool2d_forward(np.ones((1, 1, 3, 3)), (2**62, 1), padding=(2**61, 0))),
    ("max_pool2d_backward", lambda: K.max_pool2d_backward(np.ones((1, 1, 1, 1)), np.zeros((1, 1, 1, 1), np.int64),
                                                          (1, 1, 2**40, 2**40))),
]


@pytest.mark.parametrize("op, call", OVERFLOWING, ids=[f"{op}-{i}" for i, (op, _) in enumerate(OVERFLOWING)])
def test_overflowing_sizes_raise_the_same_error_on_both_backends(backend, op, call):
    with pytest.raises(ValueError, match=rf"^{op}: .*(too large|64-bit|64 bits)"):
        call()


def test_avg_pool2d_with_a_2_to_32_kernel_gives_one_error_on_both_backends():
    errors = set()
    for name in K.available_backends():
        with K.use_backend(name), pytest.raises(ValueError) as info:
            K.avg_pool2d_forward(np.ones((1, 1, 3, 3), np.float32), 2**32, 1, padding=2**31 - 1)
        errors.add(str(info.value))
    assert len(errors) == 1 and "kernel_size 4294967296" in errors.pop()


def test_divisor_override_beyond_64_bits_is_refused(backend):
    x = np.ones((1, 1, 2, 2))
    assert K.avg_pool2d_forward(x, 2, divisor_override=2**62)[0, 0, 0, 0] == 4 / 2**62
    with pytest.raises(ValueError, match="avg_pool2d_forward: divisor_override .* 64 bits"):
        K.avg_pool2d_forward(x, 2, divisor_override=2**63)


def test_zero_size_inputs_with_huge_but_valid_geometry_give_empty_results(backend):
    y = K.conv2d_forward(np.zeros((0, 3, 4, 4)), np.zeros((5, 3, 3, 3)), padding=1)
    assert y.shape == (0, 5, 4, 4)
    # no input channel: the output is the bias, whatever the kernel size
    y = K.conv2d_forward(np.zeros((2, 0, 4, 4)), np.zeros((3, 0, 3, 3)), np.arange(3.0))
    assert np.array_equal(y, np.broadcast_to(np.arange(3.0)[None, :, None, None], (2, 3, 2, 2)))
    gx = K.conv2d_input_grad(np.zeros((1, 0, 1, 1)), np.zeros((0, 1, 1000, 1000)), (1, 1, 4, 4), padding=498)
    assert gx.shape == (1, 1, 4, 4) and not gx.any()
    y, i = K.max_pool2d_forward(np.zeros((0, 2**20, 4, 4)), 2, return_indices=True)
    assert y.shape == i.shape == (0, 2**20, 2, 2)


@requires_cython
@pytest.mark.parametrize("code, error", [
    # the SIGSEGV of issue 18: a zero-size input whose channel * kernel product overflowed the check
    ("conv.im2col(np.zeros((0, 2**40, 1, 1), np.float32), (2**12, 2**12), (1, 1), (2**11, 2**11), (1, 1))",
     "ValueError: im2col: too large"),
    ("conv.im2col(np.zeros((0, 2**31, 1, 1), np.float32), (2**31, 2**31), (1, 1), (2**30, 2**30), (1, 1))",
     "ValueError: im2col: too large"),
    ("conv.col2im(np.zeros((0, 0, 1), np.float32), (0, 2**62, 2**62, 2**62), (1, 1))",
     "ValueError: col2im: "),
    ("pool.avg_pool2d_forward(np.ones((1, 1, 3, 3), np.float32), (2**32, 2**32), (1, 1), (2**31, 2**31))",
     "ValueError: avg_pool2d_forward: too large"),
    ("pool.avg_pool2d_forward(np.ones((1, 1, 3, 3)), (2, 2), (1, 1), (0, 0), False, True, 0)",
     "ValueError: avg_pool2d_forward: divisor_override"),
    ("conv.conv2d_forward(np.ones((1, 1, 3, 3)), [[[[1.0]]]])", "TypeError: conv2d_forward: w must be a numpy array"),
    ("conv.conv2d_backward(np.ones((1, 1, 3, 3)), [[[[1.0]]]], np.ones((1, 1, 1, 1)))",
     "TypeError: conv2d_backward: x must be a numpy array"),
    ("conv.im2col([[[[1.0]]]], (1, 1))", "TypeError: im2col: x must be a numpy array"),
    ("conv.im2col(np.ones((1, 1, 3, 3)), None)", "TypeError: im2col: kernel_size must be a tuple of 2 ints"),
    ("conv.im2col(np.ones((1, 1, 3, 3)), (1, 1), (1,))", "ValueError: im2col: stride must have 2 entries"),
    ("conv.im2col(np.ones((1, 1, 3, 3)), (2**62, 1))", "ValueError: im2col: too large"),
    ("conv.conv2d_forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1)), None, (1, 1), (0, 0), (1, 1), 2**62)",
     "ValueError: conv2d_forward: inconsistent geometry"),
    ("conv.conv2d_forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1)), None, (1.5, 1))",
     "TypeError: conv2d_forward: stride must be a tuple of 2 ints"),
    ("conv.conv2d_input_grad(np.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1)), None)",
     "TypeError: conv2d_input_grad: input shape must be a tuple of 4 ints"),
    ("pool.max_pool2d_forward(np.ones((1, 1, 3, 3)), (2**62, 1), (1, 1))", "ValueError: max_pool2d_forward: too large"),
    ("pool.max_pool2d_forward(np.ones((1, 1, 3, 3)), 2, (1, 1))",
     "TypeError: max_pool2d_forward: kernel_size must be a tuple of 2 ints"),
    ("pool.max_pool2d_backward(np.ones((1, 1, 1, 1)), np.zeros((1, 1, 1, 1), np.int64), None)",
     "TypeError: max_pool2d_backward: input_shape must be a tuple of 4 ints"),
    ("pool.avg_pool2d_backward(np.ones((1, 1, 1, 1)), (1, 1, 2**64, 2), (2, 2), (2, 2))",
     "ValueError: avg_pool2d_backward: "),
    ("pool.avg_pool2d_forward(None, (2, 2), (2, 2))", "TypeError: avg_pool2d_forward: x must be a numpy array"),
])
def test_direct_calls_of_the_compiled_kernels_name_the_function(code, error):
    out = in_child(f"""
        import numpy as np
        from gradlab_ext import conv, pool
        try:
            {code}
        except Exception as exc:
            print(type(exc).__name__ + ": " + str(exc))
        else:
            print("no error")
    """)
    assert out.startswith(error), out
