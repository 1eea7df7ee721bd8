"""detect_anomaly: the op whose backward produced nan/inf, the user's line that created it, and (check_forward)
the op whose forward first made one."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

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


# ---- check_forward: the op that made the first NaN or inf ------------------------------------------

def test_check_forward_names_the_op_the_line_and_the_inputs():
    x = gradlab.tensor([0.0, 1.0, 2.0], requires_grad=True)
    with autograd.detect_anomaly(check_forward=True):
        y = x * 2
        with pytest.raises(RuntimeError) as info:
            y.log()  # log(0) = -inf: the source
    message = str(info.value)
    assert "'log' (LogBackward0) made inf in its forward (shape (3,), first at index (0,)) from finite inputs" \
        in message
    assert __file__ in message and "y.log()  # log(0) = -inf: the source" in message
    assert "input 0: shape (3,), float32, min 0, max 4, mean 2" in message


def test_check_forward_inside_a_module_points_at_the_users_line_and_names_nan():
    model = gradlab.nn.Linear(2, 2)
    x = gradlab.tensor([[1e30, 1e30]])
    with autograd.detect_anomaly(check_forward=True), np.errstate(over="ignore"):
        with pytest.raises(RuntimeError) as info:
            (model(x) * 1e30).exp() - (model(x) * 1e30).exp()
    message = str(info.value)
    assert "made inf" in message or "made nan" in message
    assert "(model(x) * 1e30).exp()" in message


def test_check_forward_passes_nan_that_came_in_and_stops_where_it_is_made():
    x = gradlab.tensor([float("nan"), 1.0], requires_grad=True)
    ok = gradlab.tensor([-1.0, 4.0], requires_grad=True)
    with autograd.detect_anomaly(check_forward=True):
        (x * 2).sum()  # the NaN was in the data: no op made it
        with pytest.raises(RuntimeError, match="'sqrt' .* made nan"):
            ok.sqrt()


def test_check_forward_ignores_a_sum_that_overflows_on_finite_values():
    x = gradlab.full((4,), 3e38, requires_grad=True)  # finite float32 values whose sum is inf
    with autograd.detect_anomaly(check_forward=True):
        y = x * 1
    assert y.isfinite().all()


def test_check_forward_is_off_by_default_and_restored():
    x = gradlab.tensor([0.0], requires_grad=True)
    with autograd.detect_anomaly():
        x.log()  # no forward check: backward-only anomaly mode, as PyTorch
    with autograd.set_detect_anomaly(True, check_forward=True):
        with pytest.raises(RuntimeError, match="made inf"):
            x.log()
    x.log()

    @autograd.detect_anomaly(check_forward=True)
    def f():
        return x.log()
    with pytest.raises(RuntimeError, match="made inf"):
        f()
    assert autograd.anomaly.anomaly_mode == [False, False, False]


def test_check_forward_checks_ops_with_several_outputs():
    x = gradlab.tensor([[1.0, 3e38], [3e38, 1.0]], requires_grad=True)
    with autograd.detect_anomaly(check_forward=True), np.errstate(over="ignore"):
        with pytest.raises(RuntimeError, match="made inf in its forward output 0"):
            gradlab.var_mean(x * 1, dim=0)


@settings(max_examples=40)
@given(hnp.arrays(np.float32, st.integers(1, 5), elements=st.floats(-100, 100, width=32)))
def test_check_forward_raises_exactly_when_exp_overflows(values):
    x = gradlab.tensor(values, requires_grad=True)
    with np.errstate(over="ignore"):
        overflows = not np.isfinite(np.exp(values)).all()
    with autograd.detect_anomaly(check_forward=True), np.errstate(over="ignore"):
        if overflows:
            with pytest.raises(RuntimeError, match="'exp' .*made inf"):
                x.exp()
        else:
            assert x.exp().isfinite().all()
