"""Compare a gradlab function with PyTorch's on the same inputs: values, dtype, grad_fn name, input gradients."""
import numpy as np
import pytest

import gradlab

torch = pytest.importorskip("torch")


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
