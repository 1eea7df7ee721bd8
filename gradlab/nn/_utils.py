"""Argument helpers shared by the functional layers: an int or a sequence, as PyTorch's _single and _pair."""


def _single(value, name="argument"):
    """An int from an int or a one-element sequence."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{name} must be an int or a sequence of one int, got {value!r}")
        value = value[0]
    return int(value)


def _pair(value, name="argument"):
    """(a, b) from an int or a pair (a one-element sequence counts for both)."""
    if isinstance(value, (tuple, list)):
        if len(value) == 1:
            return (int(value[0]),) * 2
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return (int(value[0]), int(value[1]))
    return (int(value), int(value))
