"""Printing tensors exactly as PyTorch does: ``tensor([1., 2.])``, ``tensor(0.4384, grad_fn=<MulBackward0>)``.

The steps, as in PyTorch:

1. Tensors with more than ``threshold`` (1000) elements are *summarised*: only
   ``edgeitems`` (3) entries at each edge of every dimension are printed, with
   ``...`` between.
2. One ``_Formatter`` looks at the printed values and picks a style for all of
   them: integers (``3``), integer-valued floats (``3.``), fixed point with
   ``precision`` (4) decimals, or scientific notation when the nonzero finite
   magnitudes span more than 1000x, exceed 1e8, or go below 1e-4.  Every entry
   is right-aligned to the widest one (nan and inf do not count toward it).
3. Rows wrap at ``linewidth`` (80) characters; the ``dtype=``/``grad_fn=``
   suffixes wrap onto a new line too when they would not fit.
"""
import math
from contextlib import contextmanager

import numpy as np

from . import _dtype

__all__ = ["set_printoptions", "get_printoptions", "printoptions", "tensor_repr"]


class _PrintOptions:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None  # None: chosen from the values; True/False forces it


PRINT_OPTS = _PrintOptions()
_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, math.inf, 3, 80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    """Set how tensors print (as ``torch.set_printoptions``)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: unknown profile {profile!r}; expected one of {list(_PROFILES)}")
        (PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems,
         PRINT_OPTS.linewidth) = _PROFILES[profile]
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions():
    return {name: getattr(PRINT_OPTS, name)
            for name in ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")}


@contextmanager
def printoptions(**kwargs):
    """Change the print options inside a ``with`` block only."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """One style and width for every entry of a tensor."""

    def __init__(self, values):
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if not self.floating:
            self.max_width = max((len(str(v)) for v in flat.tolist()), default=1)
            return
        shown = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if shown.size == 0:
            return  # only zeros, nan and inf: no style to choose
        magnitudes = np.abs(shown)
        lo, hi = magnitudes.min(), magnitudes.max()
        self.int_mode = bool(np.all(np.ceil(shown) == shown))
        if PRINT_OPTS.sci_mode is None:
            with np.errstate(over="ignore"):  # hi / lo may overflow to inf: still "> 1000"
                self.sci_mode = bool(hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4)
        else:
            self.sci_mode = PRINT_OPTS.sci_mode
        p = PRINT_OPTS.precision
        if self.sci_mode:
            widths = (len(f"{v:.{p}e}") for v in shown.tolist())
        elif self.int_mode:
            widths = (len(f"{v:.0f}") + 1 for v in shown.tolist())  # + 1 for the trailing "."
        else:
            widths = (len(f"{v:.{p}f}") for v in shown.tolist())
        self.max_width = max(self.max_width, max(widths))

    def width(self):
        return self.max_width

    def format(self, value):
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:.{PRINT_OPTS.precision}e}"
        elif self.int_mode:
            text = f"{value:.0f}"
            if math.isfinite(value):
                text += "."
        else:
            text = f"{value:.{PRINT_OPTS.precision}f}"
        return " " * (self.max_width - len(text)) + text


def _summarized(values):
    """The entries a summarised print shows: ``edgeitems`` at each edge of every dimension."""
    edge = PRINT_OPTS.edgeitems
    if values.ndim == 0:
        return values
    if values.ndim == 1:
        return np.concatenate([values[:edge], values[-edge:]]) if values.shape[0] > 2 * edge else values
    if not edge:
        return values[(slice(0, 0),) * values.ndim]
    rows = list(values[:edge]) + list(values[-edge:]) if values.shape[0] > 2 * edge else list(values)
    return np.stack([_summarized(r) for r in rows])


def _vector_str(values, indent, summarize, formatter):
    element_length = formatter.width() + 2  # the entry, a comma and a space
    per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / element_length))
    edge = PRINT_OPTS.edgeitems
    if summarize and not edge:
        parts = ["..."]
    elif summarize and values.shape[0] > 2 * edge:
        parts = ([formatter.format(v) for v in values[:edge].tolist()] + [" ..."]
                 + [formatter.format(v) for v in values[-edge:].tolist()])
    else:
        parts = [formatter.format(v) for v in values.tolist()]
    lines = [", ".join(parts[i:i + per_line]) for i in range(0, len(parts), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested_str(values, indent, summarize, formatter):
    if values.ndim == 0:
        return formatter.format(values.item())
    if values.ndim == 1:
        return _vector_str(values, indent, summarize, formatter)
    n, edge = values.shape[0], PRINT_OPTS.edgeitems
    if summarize and n > 2 * edge:
        rows = ([_nested_str(values[i], indent + 1, summarize, formatter) for i in range(edge)] + ["..."]
                + [_nested_str(values[i], indent + 1, summarize, formatter) for i in range(n - edge, n)])
    else:
        rows = [_nested_str(values[i], indent + 1, summarize, formatter) for i in range(n)]
    # blank lines between the blocks of a 3-d (or higher) tensor, as PyTorch
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _values_str(values, indent):
    summarize = values.size > PRINT_OPTS.threshold
    formatter = _Formatter(_summarized(values) if summarize else values)
    return _nested_str(values, indent, summarize, formatter)


def _add_suffixes(text, suffixes, indent):
    """Append ``, suffix`` items, starting a new line when one would pass the line width."""
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(t):
    # plain tensors and Parameters print as tensor(...); other subclasses by their class name
    name = type(t).__name__
    prefix = "tensor(" if name in ("Tensor", "Parameter") else name + "("
    indent = len(prefix)
    values = t._data
    dt = _dtype.from_numpy_dtype(values.dtype)
    suffixes = []
    if values.size == 0:
        if values.ndim != 1:
            suffixes.append(f"size={tuple(values.shape)}")
        if dt is not _dtype.get_default_dtype():  # no values to tell an int tensor by
            suffixes.append(f"dtype={dt!r}")
        body = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(f"size={tuple(values.shape)}")
        if dt not in (_dtype.get_default_dtype(), _dtype.int64, _dtype.bool):
            suffixes.append(f"dtype={dt!r}")
        body = _values_str(values, indent)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
