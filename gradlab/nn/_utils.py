"""Argument helpers shared by the functional layers and modules: an int or a sequence, as PyTorch's _single and _pair.

Geometry must be integers, as in PyTorch: a float, a string or a bool is a
TypeError (never truncated); NumPy integers are ints.
"""
import numpy as np

from ..kernels.geometry import pair


def _int(value, name="argument"):
    """value as an int: an int or a NumPy integer, not a bool, a float or a string."""
    if type(value) is int:
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    return int(value)


def _single(value, name="argument"):
    """An int from an int or a one-element sequence."""
    if isinstance(value, (tuple, list)):
        for item in value:
            _int(item, name)       # a non-int is a TypeError before a wrong length
        if len(value) != 1:
            raise ValueError(f"{name} must be an int or a sequence of one int, got {value!r}")
        value = value[0]
    return _int(value, name)


def _pair(value, name="argument"):
    """(a, b) from an int or a pair (a one-element sequence counts for both): gradlab's one pair parser."""
    try:
        return pair(None, name, value)
    except TypeError as exc:
        # a sequence of ints of the wrong length has always been a ValueError here; anything
        # that is not an int (a float, a string, a bool) is a TypeError, as in PyTorch
        if isinstance(value, (tuple, list)) and all(
                isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in value):
            raise ValueError(str(exc)) from None
        raise
