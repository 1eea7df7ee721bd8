"""Compare a gradlab function with PyTorch's on the same inputs: values, dtype, grad_fn name, input gradients."""
import warnings

import numpy as np
import pytest
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def pair(array, requires_grad=True):
    """The same values as a gradlab tensor and a torch tensor."""
    array = np.asarray(array)
    return (gradlab.tensor(array.copy(), requires_grad=requires_grad),
            torch.tensor(array.copy(), requires_grad=requires_grad))


def assert_close(ours, theirs, rtol=1e-6, atol=1e-8):
    theirs = theirs.detach().numpy()
    assert tuple(ours.shape) == theirs.shape
    assert ours._data.dtype == theirs.dtype
    np.testing.assert_allclose(ours._data, theirs, rtol=rtol, atol=atol)


def check_against_torch(ours_fn, torch_fn, arrays, rtol=1e-6, atol=1e-8):
    """Same output, grad_fn name and gradients (for a random upstream gradient) as torch."""
    ours_in, torch_in = zip(*(pair(a) for a in arrays))
    out, ref = ours_fn(*ours_in), torch_fn(*torch_in)
    assert_close(out, ref, rtol, atol)
    assert out.grad_fn.name() == type(ref.grad_fn).__name__
    upstream = np.random.default_rng(1).standard_normal(tuple(ref.shape))
    out.backward(gradlab.tensor(upstream))
    ref.backward(torch.tensor(upstream))
    for a, b in zip(ours_in, torch_in):
        assert_close(a.grad, b.grad, rtol, atol)


def check_call(call, arrays, constants=(), names=True, rtol=1e-6, atol=1e-8):
    """``call(F, *tensors, *constants)`` in gradlab and torch: same value, grad_fn name and input gradients.

    ``arrays`` become float64 tensors that require grad; ``constants`` (targets, labels) do not.
    """
    ours = [gradlab.tensor(np.array(a), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(np.array(a), requires_grad=True) for a in arrays]
    ours_c = [gradlab.tensor(np.array(c)) for c in constants]
    theirs_c = [torch.tensor(np.array(c)) for c in constants]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out, ref = call(F, *ours, *ours_c), call(TF, *theirs, *theirs_c)
    assert_close(out, ref, rtol, atol)
    if names:
        assert out.grad_fn.name() == type(ref.grad_fn).__name__
    upstream = np.random.default_rng(1).standard_normal(tuple(ref.shape))
    out.backward(gradlab.tensor(upstream))
    ref.backward(torch.tensor(upstream))
    for a, b in zip(ours, theirs):
        assert_close(a.grad, b.grad, rtol, atol)


def assert_same(g, t, **tol):
    """Equal values to float64 rounding."""
    np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12, **tol)


def backward_both(gout, tout, seed=0):
    """Backpropagate the same random output gradient through both libraries."""
    w = np.random.default_rng(seed).standard_normal(tuple(tout.shape))
    gout.backward(gradlab.tensor(w))
    tout.backward(torch.tensor(w))


def seeds():
    return st.integers(0, 2 ** 16)
