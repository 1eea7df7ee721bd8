"""``F.pad``: constant, reflect, replicate and circular padding (the ops in ``ops/nn/padding.py``)."""
from ...ops.nn import padding as _op

__all__ = ["pad"]


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 axes; ``pad`` = (left, right, top, bottom, ...) from the last axis back."""
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: padding length must be even and at most twice the number of dimensions "
                         f"({input.ndim}), got {len(pad)}")
    if mode == "constant":
        return _op.constant_pad(input, pad, 0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: unsupported padding mode {mode!r} (expected 'constant', 'reflect', "
                                  "'replicate' or 'circular')")
    if value:
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in value argument")
    if input.ndim - len(pad) // 2 not in (1, 2):
        raise NotImplementedError(f"pad: padding size {len(pad)} is not supported for {input.ndim}D input in mode "
                                  f"{mode!r}: pad the last k dimensions of a (k+1)-D or (k+2)-D input (k = 1, 2, 3)")
    if any(p < 0 for p in pad):
        raise NotImplementedError(f"pad: negative padding is only supported in 'constant' mode, got {pad}")
    return _op.index_pad(input, pad, mode)
