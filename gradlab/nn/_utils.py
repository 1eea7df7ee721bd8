"""Argument helpers shared by the functional layers: an int or a sequence, as PyTorch's _single and _pair."""
from ..kernels.geometry import pair


def _single(value, name="argument"):
    """An int from an int or a one-element sequence."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{name} must be an int or a sequence of one int, got {value!r}")
        value = value[0]
    return int(value)


def _pair(value, name="argument"):
    """(a, b) from an int or a pair (a one-element sequence counts for both): gradlab's one pair parser."""
    try:
        return pair(None, name, value)
    except TypeError as exc:       # modules and functionals have always raised ValueError here
        raise ValueError(str(exc)) from None
