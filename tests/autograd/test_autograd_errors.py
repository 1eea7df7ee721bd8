"""Errors a PyTorch user meets, with PyTorch's meaning and a message naming the op, shapes and dtypes;
version counters (in-place change of a value backward still needs)."""
import pytest

import gradlab

from autograd_helpers import leaf


# ---- version counters --------------------------------------------------------------------------

def test_in_place_ops_bump_the_version():
    x = gradlab.ones(3)
    assert x._version == 0
    x.add_(1)
    x.mul_(2)
    x[0] = 5.0
    assert x._version == 3


def test_views_share_the_version_counter():
    base = gradlab.ones(4, 2)
    views = [base[1:], base.view(8), base.t(), base.reshape(2, 4), base.detach()]
    views[0].mul_(2)
    assert base._version == 1 and all(v._version == 1 for v in views)
    base.add_(1)
    assert all(v._version == 2 for v in views)


@pytest.mark.parametrize("mutate", [lambda t: t.add_(1), lambda t: t.mul_(2), lambda t: t.zero_(),
                                    lambda t: t.__setitem__(0, 3.0)])
def test_modifying_a_saved_input_is_caught_at_backward(mutate):
    x = leaf([1., 2., 3.])
    h = x * 1
    y = h * h  # MulBackward0 saves h
    mutate(h)
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    message = str(info.value)
    assert "one of the variables needed for gradient computation has been modified by an inplace operation" \
        in message
    assert "gradlab.DoubleTensor [3]" in message and "MulBackward0" in message
    assert "is at version 1; expected version 0 instead" in message


def test_modifying_a_saved_output_is_caught():
    for op, name in [(lambda t: t.exp(), "ExpBackward0"), (lambda t: t.tanh(), "TanhBackward0"),
                     (lambda t: t.sigmoid(), "SigmoidBackward0")]:
        x = leaf([0.5, 1.0])
        y = op(x)
        y.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_modifying_a_view_of_a_saved_tensor_is_caught():
    x = leaf([1., 2., 3.])
    c = x * 1
    y = c * c
    c[1:].mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_in_place_on_a_value_no_backward_reads_is_fine():
    x = leaf([1., 2.])
    h = x * 1
    y = h + 1  # AddBackward0 reads no values
    h.mul_(3)
    y.sum().backward()
    assert x.grad.tolist() == [1., 1.]


def test_in_place_op_is_part_of_the_graph():
    x = leaf([1., 2.])
    h = x * 1
    h.mul_(3)
    h.exp_() if hasattr(h, "exp_") else None
    h.sum().backward()
    import numpy as np
    assert np.allclose(x.grad.numpy(), 3 * np.exp(3 * np.array([1., 2.])))


# ---- errors ----------------------------------------------------------------------------------

def test_backward_through_a_freed_graph():
    x = leaf([1., 2.])
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError) as info:
        y.backward()
    message = str(info.value)
    assert "Trying to backward through the graph a second time" in message
    assert "retain_graph=True" in message and "SumBackward0" in message


def test_non_scalar_backward_needs_a_gradient():
    x = leaf([1., 2., 3.])
    with pytest.raises(RuntimeError, match=r"grad can be implicitly created only for scalar outputs.*"
                                           r"MulBackward0.*shape \[3\]"):
        (x * 2).backward()


def test_backward_of_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and does not have a grad_fn"):
        gradlab.ones(2).sum().backward()


def test_in_place_on_a_leaf_that_requires_grad():
    x = gradlab.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"a leaf Variable that requires grad is being used in an in-place "
                                           r"operation.*add_.*float32.*\[3\]"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x += 1
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 2.0


def test_requires_grad_on_an_integer_tensor_names_the_dtype():
    with pytest.raises(RuntimeError, match=r"only Tensors of floating point dtype can require gradients "
                                           r"\(got gradlab.int64\)"):
        gradlab.tensor([1, 2], requires_grad=True)


def test_cross_check_error_kinds_with_torch():
    torch = pytest.importorskip("torch")
    scenarios = {
        "freed": lambda lib: _twice(lib),
        "non_scalar": lambda lib: (lib.ones(2, requires_grad=True) * 2).backward(),
        "leaf_inplace": lambda lib: lib.ones(2, requires_grad=True).add_(1),
        "int_grad": lambda lib: lib.ones(2, dtype=lib.int64).requires_grad_(),
        "version": lambda lib: _stale(lib),
    }
    for name, scenario in scenarios.items():
        kinds = []
        for lib in (gradlab, torch):
            try:
                scenario(lib)
                kinds.append(None)
            except Exception as exc:  # noqa: BLE001  (comparing which exception each library raises)
                kinds.append(type(exc).__name__)
        assert kinds[0] == kinds[1] == "RuntimeError", (name, kinds)


def _twice(lib):
    y = (lib.ones(2, requires_grad=True).exp()).sum()
    y.backward()
    y.backward()


def _stale(lib):
    h = lib.ones(2, requires_grad=True) * 1
    y = h * h
    h.add_(1)
    y.sum().backward()
