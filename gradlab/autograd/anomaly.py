"""``detect_anomaly``: name the first op whose backward produced NaN or inf, and where it was created.

While anomaly mode is on, every recorded node remembers the user's line that
ran its forward (``node.metadata["forward_site"]``), and the engine checks the
gradients each backward returns.  Errors raised inside a backward get that
forward line attached too.  It slows everything down: use it to debug only.
"""
import os
import traceback

import numpy as np

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]

anomaly_mode = [False, False]  # [record forward call sites, check gradients for nan/inf]: read by record and engine

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def is_anomaly_enabled():
    return anomaly_mode[0]


class detect_anomaly:
    """Within this block (or decorated function), backward reports NaN/inf and forward call sites."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = list(anomaly_mode)
        anomaly_mode[:] = [True, self.check_nan]
        return self

    def __exit__(self, *exc):
        anomaly_mode[:] = self._prev
        return False

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with self.__class__(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly:
    """Turn anomaly mode on or off: at once, and restored on leaving a ``with`` block."""

    def __init__(self, mode, check_nan=True):
        self._prev = list(anomaly_mode)
        anomaly_mode[:] = [bool(mode), bool(mode) and check_nan]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        anomaly_mode[:] = self._prev
        return False


def forward_site():
    """The user's code that called the op: the innermost frame outside the gradlab package."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f'File "{frame.filename}", line {frame.lineno}, in {frame.name}\n    {frame.line}'
    return "(unknown)"


def add_forward_site(exc, node):
    """Attach to an error raised in ``node``'s backward the forward call that created the node."""
    site = (node._metadata or {}).get("forward_site")
    if site and hasattr(exc, "add_note"):
        exc.add_note(f"Error detected in {node.name()}. The forward call that created it:\n{site}")


def check_gradients(node, in_grads):
    """Raise when the gradients ``node``'s backward returned hold nan or inf."""
    for i, g in enumerate(in_grads):
        if g is not None and g._data.dtype.kind == "f" and not np.isfinite(g._data).all():
            bad = "nan" if np.isnan(g._data).any() else "inf"
            site = (node._metadata or {}).get("forward_site",
                                              "(run the forward inside detect_anomaly to see it)")
            raise RuntimeError(f"Function '{node.name()}' returned {bad} values in its {i}th output.\n"
                               f"The forward call that created it:\n{site}")
