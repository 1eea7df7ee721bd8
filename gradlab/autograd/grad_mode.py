"""Grad mode: whether ops record the graph.

One flag, ``state.enabled``, read by every op: record the graph or not.  As in
PyTorch it is per thread (a thread running evaluation under ``no_grad`` does
not switch recording off for a thread that trains).  ``no_grad``,
``enable_grad`` and ``set_grad_enabled`` change it for a block of code or, used
as decorators, for each call of a function (for a generator function: while
its body runs).  Inference mode (``inference.py``) is a stronger ``no_grad``
and switches the same flag.
"""
import functools
import inspect
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "inference_mode", "is_inference_mode_enabled", "InferenceVersion"]  # (the last three: inference.py)


class _GradState(threading.local):
    def __init__(self):
        self.grad_mode = True    # what is_grad_enabled() says: set by no_grad, enable_grad, set_grad_enabled
        self.inference = False   # inside inference_mode
        self.enabled = True      # ops record the graph: grad_mode and not inference (the flag ops read)


state = _GradState()


def is_grad_enabled():
    # outside inference mode ``enabled`` is the answer (the engine switches it alone during backward)
    return state.grad_mode if state.inference else state.enabled


def _set(grad_mode, inference):
    """Set grad mode and the inference flag; return the previous state to restore."""
    prev = (state.enabled, state.grad_mode, state.inference)
    if inference != prev[2]:
        count_thread(inference)
    state.grad_mode, state.inference = grad_mode, inference
    state.enabled = grad_mode and not inference
    return prev


def _restore(prev):
    if prev[2] != state.inference:
        count_thread(prev[2])
    state.enabled, state.grad_mode, state.inference = prev


class _GradModeContext:
    """Base for the grad-mode context managers and decorators; subclasses set ``mode``."""

    mode = True
    inference = None  # None: keep the current inference flag

    def _target(self):
        return self.mode, (state.inference if self.inference is None else self.inference)

    def __enter__(self):
        self._prev = _set(*self._target())
        return None

    def __exit__(self, *exc):
        _restore(self._prev)
        return False

    def __call__(self, fn):
        """Use as a decorator: the mode holds during each call of ``fn``."""
        if inspect.isgeneratorfunction(fn):
            return self._wrap_generator(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = _set(*self._target())
            try:
                return fn(*args, **kwargs)
            finally:
                _restore(prev)
        return wrapper

    def _wrap_generator(self, fn):
        # the mode must hold while the generator's body runs, not while the caller consumes it
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            gen = fn(*args, **kwargs)
            resume, arg = gen.send, None  # how the body goes on: send (a value) or throw (an exception)
            while True:
                prev = _set(*self._target())
                try:
                    value = resume(arg)
                except StopIteration as stop:
                    return stop.value
                finally:
                    _restore(prev)
                try:
                    resume, arg = gen.send, (yield value)
                except GeneratorExit:
                    gen.close()
                    raise
                except BaseException as exc:
                    resume, arg = gen.throw, exc
        return wrapper


class no_grad(_GradModeContext):
    """Ops inside record no graph: outputs have ``requires_grad=False``.

    Works as ``with no_grad():``, ``@no_grad()`` and bare ``@no_grad``.
    """

    mode = False

    def __new__(cls, orig_func=None):
        self = super().__new__(cls)
        if orig_func is not None and callable(orig_func):  # used bare: @no_grad
            return self(orig_func)
        return self

    def __init__(self, orig_func=None):
        pass


class enable_grad(no_grad):
    """Turn recording back on inside a ``no_grad`` block."""

    mode = True


class set_grad_enabled(_GradModeContext):
    """Set grad mode to ``mode``: at once when called, and restored on leaving a ``with`` block.

    As a decorator (``@set_grad_enabled(False)``) it sets the mode for each call only.
    """

    def __init__(self, mode):
        self.mode = bool(mode)
        self._prev = _set(self.mode, state.inference)

    def __enter__(self):
        return None

    def __call__(self, fn):
        _restore(self._prev)  # a decorator changes nothing until the function runs
        return super().__call__(fn)


# inference mode has a file of its own; its names stay importable from here
from .inference import (INPLACE_INFERENCE_TENSOR, SAVED_INFERENCE_TENSOR, InferenceVersion,  # noqa: E402,F401
                        count_thread, inference_mode, is_inference_mode_enabled)
