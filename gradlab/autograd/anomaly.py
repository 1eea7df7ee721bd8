"""``detect_anomaly``: name the first op that produced NaN or inf, and where it was created.

While anomaly mode is on, every recorded node remembers the user's line that
ran its forward (``node.metadata["forward_site"]``), and the engine checks the
gradients each backward returns.  Errors raised inside a backward get that
forward line attached too.  With ``check_forward=True``, ``record`` also checks
each op's output as it is made, and stops at the first op that turns finite
inputs into NaN or inf: the source of a NaN, not where it surfaced.

What it costs (``bench/anomaly.py``): the call site is one walk up the stack
per op, and the forward check one sum over the output (a NaN or inf makes the
sum non-finite; only then are the values looked at one by one).  Use it to
debug, not to train.
"""
import os
import linecache
import sys

import numpy as np

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]

# [record forward call sites, check gradients for nan/inf, check forward outputs]: read by record and engine
anomaly_mode = [False, False, False]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def is_anomaly_enabled():
    return anomaly_mode[0]


class detect_anomaly:
    """Within this block (or decorated function), backward reports NaN/inf and forward call sites.

    ``check_forward=True`` also stops at the first op whose forward output holds NaN or inf while its
    inputs were finite, naming the op, the user's line and each input's shape, min, max and mean.
    """

    def __init__(self, check_nan=True, check_forward=False):
        self.check_nan = check_nan
        self.check_forward = check_forward

    def __enter__(self):
        self._prev = list(anomaly_mode)
        anomaly_mode[:] = [True, self.check_nan, self.check_forward]
        return self

    def __exit__(self, *exc):
        anomaly_mode[:] = self._prev
        return False

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with self.__class__(self.check_nan, self.check_forward):
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly:
    """Turn anomaly mode on or off: at once, and restored on leaving a ``with`` block."""

    def __init__(self, mode, check_nan=True, check_forward=False):
        self._prev = list(anomaly_mode)
        anomaly_mode[:] = [bool(mode), bool(mode) and check_nan, bool(mode) and check_forward]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        anomaly_mode[:] = self._prev
        return False


_inside = {}  # code object -> whether it is gradlab's own: each file's path is examined once


def forward_site():
    """The user's code that called the op: the innermost frame outside the gradlab package.

    A walk up the frames, reading one source line (not ``traceback.extract_stack``, which reads a line for
    every frame): this runs for every op in anomaly mode.
    """
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        inside = _inside.get(code)
        if inside is None:
            inside = _inside[code] = os.path.abspath(code.co_filename).startswith(_PACKAGE_DIR)
        if not inside:
            line = linecache.getline(code.co_filename, frame.f_lineno).strip()
            return f'File "{code.co_filename}", line {frame.f_lineno}, in {code.co_name}\n    {line}'
        frame = frame.f_back
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


def check_forward(node, outputs, inputs):
    """Raise when an op made NaN or inf (in one of its ``outputs``, arrays) from finite ``inputs``.

    Called by ``record`` for each recorded op under ``detect_anomaly(check_forward=True)``.
    """
    for k, out in enumerate(outputs):
        if out.dtype.kind not in "fc" or out.size == 0:
            continue
        with np.errstate(all="ignore"):
            if np.isfinite(np.add.reduce(out, axis=None)):
                continue  # the usual case, at the cost of one sum
            finite = np.isfinite(out)
        if finite.all():
            continue  # finite values whose sum overflowed
        if not all(_finite(t._data) for t in inputs):
            continue  # the NaN or inf came in: an earlier op (or the data) is its source
        bad = "nan" if np.isnan(out).any() else "inf"
        where = np.unravel_index(int(np.argmin(finite)), out.shape) if out.ndim else ()
        output = f" output {k}" if len(outputs) > 1 else ""
        lines = [f"detect_anomaly(check_forward=True): {_op_name(node)} made {bad} in its forward{output} "
                 f"(shape {tuple(out.shape)}, first at index {tuple(int(i) for i in where)}) from finite inputs.",
                 "The forward call:", node.metadata.get("forward_site", "(unknown)")]
        for i, t in enumerate(inputs):
            lines.append(f"  input {i}: {_stats(t._data)}")
        raise RuntimeError("\n".join(lines))


def _finite(a):
    if a.dtype.kind not in "fc" or a.size == 0:
        return True
    with np.errstate(all="ignore"):
        return bool(np.isfinite(np.add.reduce(a, axis=None))) or bool(np.isfinite(a).all())


def _op_name(node):
    """``'log' (LogBackward0)``: the gradlab function that recorded the node, and the node's name."""
    frame = sys._getframe(2)
    # up from record, past gradlab's private helpers, to the op the user's code reached
    while frame is not None and (frame.f_code.co_filename.endswith(os.sep + "record.py")
                                 or frame.f_code.co_name.startswith(("_", "<"))):
        frame = frame.f_back
    op = frame.f_code.co_name if frame is not None else "?"
    return f"'{op}' ({node.name()})"


def _stats(a):
    """shape, dtype, min, max and mean of an input array (what tells a learner why the op overflowed)."""
    text = f"shape {tuple(a.shape)}, {a.dtype}"
    if a.size and a.dtype.kind in "biuf":
        with np.errstate(all="ignore"):
            text += f", min {a.min():.6g}, max {a.max():.6g}, mean {a.mean(dtype=np.float64):.6g}"
    return text
