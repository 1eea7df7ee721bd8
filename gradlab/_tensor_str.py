"""Printing tensors the way PyTorch does: ``tensor([1., 2.])``, ``tensor(0.4384, grad_fn=<MulBackward0>)``.

One formatter per tensor decides, from all its finite values, between integer
style (``3.``), fixed point with 4 decimals and scientific notation, then pads
every element to the same width.  Tensors over 1000 elements are summarised
with ``...``, keeping 3 items at each edge.
"""
import numpy as np

from . import _dtype

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80


class _Formatter:
    def __init__(self, values):
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        flat = values.reshape(-1)
        if not self.floating:
            self.width = max((len(str(v)) for v in flat.tolist()), default=1)
            return
        finite = flat[np.isfinite(flat)].astype(np.float64)
        nonzero = np.abs(finite[finite != 0])
        self.int_mode = bool(np.all(np.ceil(finite) == finite)) if finite.size else True
        if nonzero.size == 0:
            self.width = max((len(self._fmt_float(v)) for v in flat.tolist()), default=1) if flat.size else 1
            return
        lo, hi = nonzero.min(), nonzero.max()
        if self.int_mode:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
        else:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        self.width = max(len(self._fmt_float(v)) for v in flat.tolist())

    def _fmt_float(self, v):
        if not np.isfinite(v):
            return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")
        if self.sci_mode:
            return f"{v:.{PRECISION}e}"
        if self.int_mode:
            return f"{v:.0f}."
        return f"{v:.{PRECISION}f}"

    def format(self, v):
        if self.floating:
            s = self._fmt_float(v)
        elif isinstance(v, bool):
            s = str(v)
        else:
            s = str(v)
        return " " * (self.width - len(s)) + s


def _summarized(values, summarize):
    """The values that will be printed (edges only when summarising)."""
    if not summarize or values.ndim == 0:
        return values
    if values.shape[0] > 2 * EDGEITEMS:
        values = np.concatenate([values[:EDGEITEMS], values[-EDGEITEMS:]])
    return np.stack([_summarized(v, summarize) for v in values]) if values.ndim > 1 else values


def _vector_str(values, indent, fmt, summarize):
    element_length = fmt.width + 2
    per_line = max(int((LINEWIDTH - indent) // element_length), 1)
    items = values.tolist()
    if summarize and len(items) > 2 * EDGEITEMS:
        parts = [fmt.format(v) for v in items[:EDGEITEMS]] + [" ..."] + [fmt.format(v) for v in items[-EDGEITEMS:]]
    else:
        parts = [fmt.format(v) for v in items]
    lines = [parts[i:i + per_line] for i in range(0, len(parts), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(", ".join(line) for line in lines) + "]"


def _array_str(values, indent, fmt, summarize):
    if values.ndim == 0:
        return fmt.format(values.item())
    if values.ndim == 1:
        return _vector_str(values, indent, fmt, summarize)
    n = values.shape[0]
    if summarize and n > 2 * EDGEITEMS:
        rows = ([_array_str(values[i], indent + 1, fmt, summarize) for i in range(EDGEITEMS)] + ["..."]
                + [_array_str(values[i], indent + 1, fmt, summarize) for i in range(n - EDGEITEMS, n)])
    else:
        rows = [_array_str(values[i], indent + 1, fmt, summarize) for i in range(n)]
    sep = "," + "\n" * (values.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(rows) + "]"


def tensor_repr(t, prefix="tensor("):
    values = t._data
    indent = len(prefix)
    suffixes = []
    summarize = values.size > THRESHOLD
    if values.size == 0:
        body = "[]"
        if values.shape != (0,):
            suffixes.append(f"size={tuple(values.shape)}")
    else:
        shown = values.astype(np.float32) if values.dtype == np.float16 else values
        fmt = _Formatter(_summarized(shown, summarize))
        body = _array_str(shown, indent, fmt, summarize)
    dt = _dtype.from_numpy_dtype(values.dtype)
    if dt not in (_dtype.get_default_dtype(), _dtype.int64, _dtype.bool):
        suffixes.append(f"dtype={dt}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return prefix + body + "".join(", " + s for s in suffixes) + ")"
