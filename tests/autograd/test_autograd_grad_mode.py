"""no_grad / enable_grad / set_grad_enabled / inference_mode as context managers and decorators."""
import threading

import pytest

import gradlab

from autograd_helpers import leaf


def records(x):
    return (x * 2).requires_grad


def test_no_grad_context_restores_the_previous_mode():
    x = leaf([1.])
    with gradlab.no_grad():
        assert not records(x)
        with gradlab.enable_grad():
            assert records(x)
        assert not records(x)
    assert records(x)


def test_no_grad_restores_mode_after_an_exception():
    with pytest.raises(ValueError):
        with gradlab.no_grad():
            raise ValueError
    assert gradlab.is_grad_enabled()


def test_no_grad_as_decorator_with_and_without_parentheses():
    x = leaf([1.])

    @gradlab.no_grad
    def bare():
        return records(x)

    @gradlab.no_grad()
    def called():
        return records(x)

    assert bare() is False and called() is False
    assert gradlab.is_grad_enabled()
    assert bare.__name__ == "bare"  # functools.wraps


def test_enable_grad_decorator_inside_no_grad():
    x = leaf([1.])

    @gradlab.enable_grad()
    def f():
        return records(x)

    with gradlab.no_grad():
        assert f() is True
        assert not gradlab.is_grad_enabled()


def test_set_grad_enabled_as_function_context_and_decorator():
    x = leaf([1.])
    gradlab.set_grad_enabled(False)
    try:
        assert not records(x)
    finally:
        gradlab.set_grad_enabled(True)
    with gradlab.set_grad_enabled(False):
        assert not records(x)
    assert records(x)

    @gradlab.set_grad_enabled(False)
    def f():
        return records(x)
    assert gradlab.is_grad_enabled()  # decorating changes nothing yet
    assert f() is False and gradlab.is_grad_enabled()


def test_inference_mode():
    x = leaf([1.])
    with gradlab.inference_mode():
        assert not records(x) and gradlab.is_inference_mode_enabled()
    assert not gradlab.is_inference_mode_enabled()
    with gradlab.inference_mode(False):
        assert records(x)

    @gradlab.inference_mode()
    def f():
        return records(x)

    @gradlab.inference_mode
    def g():
        return records(x)
    assert f() is False and g() is False and gradlab.is_grad_enabled()


def test_decorated_generator_sees_the_mode_only_while_it_runs():
    @gradlab.no_grad()
    def gen():
        for _ in range(3):
            yield gradlab.is_grad_enabled()

    it = gen()
    assert next(it) is False
    assert gradlab.is_grad_enabled()  # the caller's mode is untouched between items
    assert list(it) == [False, False]


def test_grad_mode_is_per_thread():
    x = leaf([1.])
    seen = []

    def worker():
        seen.append(records(x))

    with gradlab.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen == [True]


def test_in_place_on_a_leaf_is_allowed_under_no_grad():
    x = leaf([1., 2.])
    with gradlab.no_grad():
        x.mul_(2)
    assert x.is_leaf and x.requires_grad and x.tolist() == [2., 4.]


def test_cross_check_modes_with_torch():
    torch = pytest.importorskip("torch")
    for lib in (gradlab, torch):
        x = lib.ones(1, requires_grad=True)
        with lib.no_grad():
            with lib.enable_grad():
                a = (x * 2).requires_grad
            b = (x * 2).requires_grad
        with lib.inference_mode(False):
            c = (x * 2).requires_grad
        assert (a, b, c) == (True, False, True), lib.__name__
