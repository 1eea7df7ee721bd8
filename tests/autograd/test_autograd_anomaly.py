"""detect_anomaly: the op whose backward produced nan/inf, and the user's line that created it."""
import pytest

import gradlab
from gradlab import autograd


def test_reports_the_op_and_the_forward_call_site():
    x = gradlab.tensor([-1.0, 1.0], requires_grad=True)
    with autograd.detect_anomaly():
        y = x.sqrt()  # sqrt(-1) = nan; its backward returns nan too
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
    message = str(info.value)
    assert "Function 'SqrtBackward0' returned nan values in its 0th output." in message
    assert __file__ in message and "y = x.sqrt()" in message


def test_reports_inf():
    x = gradlab.tensor([0.0, 1.0], requires_grad=True)
    with autograd.detect_anomaly():
        y = x.log()
        with pytest.raises(RuntimeError, match="LogBackward0' returned inf values"):
            y.sum().backward()


def test_without_anomaly_mode_nan_passes_silently():
    x = gradlab.tensor([-1.0], requires_grad=True)
    x.sqrt().sum().backward()
    assert x.grad.isnan().all()
    assert not autograd.is_anomaly_enabled()


def test_errors_raised_in_backward_carry_the_forward_site():
    class Broken(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            raise ValueError("broken backward")

    x = gradlab.ones(1, requires_grad=True)
    with autograd.detect_anomaly():
        y = Broken.apply(x)  # the line the note must point at
        with pytest.raises(ValueError) as info:
            y.sum().backward()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "BrokenBackward" in notes and "y = Broken.apply(x)" in notes


def test_decorator_and_set_detect_anomaly():
    @autograd.detect_anomaly()
    def f():
        return autograd.is_anomaly_enabled()
    assert f() is True and not autograd.is_anomaly_enabled()
    with autograd.set_detect_anomaly(True):
        assert autograd.is_anomaly_enabled()
    assert not autograd.is_anomaly_enabled()


def test_finite_gradients_pass():
    x = gradlab.tensor([1.0, 4.0], requires_grad=True)
    with autograd.detect_anomaly():
        x.sqrt().sum().backward()
    assert x.grad.tolist() == [0.5, 0.25]
