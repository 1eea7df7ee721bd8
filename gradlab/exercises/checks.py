"""How an answer is graded: hypothesis draws inputs, gradlab computes the expected value, and the first
difference is reported with the smallest input hypothesis could find."""
import numpy as np
from hypothesis import HealthCheck, given, settings

import gradlab


class Wrong(Exception):
    """The answer differs from gradlab's: the message says where and how."""


class NotStarted(Exception):
    """The answer still raises NotImplementedError."""


def as_array(value, what):
    if isinstance(value, gradlab.Tensor):
        value = value.detach().numpy()
    if not isinstance(value, (np.ndarray, np.generic, float, int)):
        raise Wrong(f"{what}: returned {type(value).__name__}, expected a NumPy array")
    return np.asarray(value)


def compare(what, expected, actual, rtol=1e-6, atol=1e-8):
    """Raise Wrong naming ``what``, the first wrong index and both values when ``actual`` differs."""
    expected = np.asarray(expected)
    actual = as_array(actual, what)
    if actual.shape != expected.shape:
        raise Wrong(f"{what}: shape {actual.shape}, expected {expected.shape}")
    close = np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    if not close.all():
        index = tuple(int(i) for i in np.argwhere(~close)[0])
        raise Wrong(f"{what}: first wrong index {index}: expected {expected[index].item()!r}, "
                    f"got {actual[index].item()!r}")


def compare_all(names, expected, actual):
    if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
        raise Wrong(f"returned {type(actual).__name__}, expected a tuple ({', '.join(names)})")
    for name, e, a in zip(names, expected, actual):
        compare(name, e, a)


def describe(case):
    """A drawn input, printed small: arrays with their shapes and values."""
    def one(v):
        if isinstance(v, np.ndarray):
            return f"array(shape={v.shape}, {np.array2string(v, precision=4, threshold=40)})"
        return repr(v)
    if isinstance(case, dict):
        return ", ".join(f"{k}={one(v)}" for k, v in case.items())
    return one(case)


def for_all(strategy, body, max_examples):
    """Run ``body(case)`` on drawn cases; a Wrong answer comes back with the smallest failing case."""
    last = {}

    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False)
    @given(strategy)
    def run(case):
        last["case"] = case
        try:
            body(case)
        except (Wrong, NotStarted):
            raise
        except NotImplementedError:
            raise NotStarted() from None
        except Exception as exc:  # the learner's code raised: report it as a wrong answer
            raise Wrong(f"raised {type(exc).__name__}: {exc}") from None

    try:
        run()
    except Wrong as exc:  # hypothesis re-runs the smallest failing case last, so ``last`` holds it
        raise Wrong(f"{exc}\n    smallest failing input: {describe(last['case'])}") from None
