"""Grad mode: whether ops record the graph.

One module-level flag, read by every op.  ``no_grad``, ``enable_grad``,
``set_grad_enabled`` and ``inference_mode`` flip it for a block of code or, used
as decorators, for a function call.
"""
import functools

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled"]


class _GradState:
    enabled = True


state = _GradState()


def is_grad_enabled():
    return state.enabled


class _GradModeContext:
    """Base for the grad-mode context managers; subclasses choose ``mode``."""

    mode = True

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self.mode

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = state.enabled
            state.enabled = self.mode
            try:
                return fn(*args, **kwargs)
            finally:
                state.enabled = prev

        return wrapper


class no_grad(_GradModeContext):
    """Ops inside record no graph: outputs have ``requires_grad=False``."""

    mode = False

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        if callable(fn):  # used bare as @no_grad
            return self(fn)
        return self

    def __init__(self, fn=None):
        pass


class enable_grad(no_grad):
    """Turn recording back on inside a ``no_grad`` block."""

    mode = True


class inference_mode(no_grad):
    """Like ``no_grad`` (gradlab has no separate inference tensors)."""

    def __new__(cls, mode=True):
        if callable(mode):
            self = object.__new__(cls)
            self.mode = False
            return self(mode)
        self = object.__new__(cls)
        self.mode = not mode
        return self

    def __init__(self, mode=True):
        pass


class set_grad_enabled(_GradModeContext):
    """Set grad mode to ``mode``; takes effect at once, and as a context it restores on exit."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self._prev = state.enabled
        state.enabled = self.mode

    def __enter__(self):
        pass
