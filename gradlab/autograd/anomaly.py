"""``detect_anomaly``: name the first op whose backward produced NaN or inf, and where it was created."""
import traceback

from . import engine


class detect_anomaly:
    """Within this block, ops remember their forward call site and backward checks every gradient."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = engine.anomaly_mode[0]
        engine.anomaly_mode[0] = self.check_nan
        return self

    def __exit__(self, *exc):
        engine.anomaly_mode[0] = self._prev
        return False

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with self.__class__(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


def set_detect_anomaly(mode):
    engine.anomaly_mode[0] = bool(mode)


def forward_site():
    """The user's frame that called the op (the first frame outside gradlab)."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if "/gradlab/" not in frame.filename.replace("\\", "/"):
            return f'File "{frame.filename}", line {frame.lineno}, in {frame.name}\n    {frame.line}'
    return "(unknown)"
