"""``detect_anomaly``: name the first op whose backward produced NaN or inf, and where it was created.

While anomaly mode is on, every recorded node remembers the user's line that
ran its forward (``node.metadata["forward_site"]``), and the engine checks the
gradients each backward returns.  Errors raised inside a backward get that
forward line attached too.  It slows everything down: use it to debug only.
"""
import os
import traceback

from . import engine

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def is_anomaly_enabled():
    return engine.anomaly_mode[0]


class detect_anomaly:
    """Within this block (or decorated function), backward reports NaN/inf and forward call sites."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = list(engine.anomaly_mode)
        engine.anomaly_mode[:] = [True, self.check_nan]
        return self

    def __exit__(self, *exc):
        engine.anomaly_mode[:] = self._prev
        return False

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with self.__class__(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly:
    """Turn anomaly mode on or off: at once, and restored on leaving a ``with`` block."""

    def __init__(self, mode, check_nan=True):
        self._prev = list(engine.anomaly_mode)
        engine.anomaly_mode[:] = [bool(mode), bool(mode) and check_nan]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        engine.anomaly_mode[:] = self._prev
        return False


def forward_site():
    """The user's code that called the op: the innermost frame outside the gradlab package."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f'File "{frame.filename}", line {frame.lineno}, in {frame.name}\n    {frame.line}'
    return "(unknown)"
