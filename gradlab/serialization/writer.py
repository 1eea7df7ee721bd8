"""``gradlab.save``: flatten an object into a node table and tensor buffers, then write them.

Two rules keep a save from ever writing a file that ``load`` refuses:

* the checksum is computed over exactly the bytes written, as they are written
  (each piece is copied once, hashed, then written), so a thread that updates
  the tensors in place during the save cannot make them disagree;
* nothing is opened before the object is fully encoded and the header is known
  to fit the format's limit.
"""
import collections
import hashlib
import io
import json
import math
import os
import stat

import numpy as np

from .. import _dtype
from .._tensor import Size, Tensor, device
from ..utils._atomic import atomic_write
from .format import (CHECKSUM_AT, FORMAT_VERSION, INT64_MAX, INT64_MIN, MAGIC, MAX_HEADER_NBYTES, PREAMBLE,
                     align)

_WRITE_CHUNK = 1 << 20  # bytes copied, hashed and written at a time


def save(obj, f):
    """Save ``obj`` to ``f``, a path (written atomically) or a binary file object.

    ``obj`` may nest None, bool, int, float, str, list, tuple, dict,
    OrderedDict, Tensor, nn.Parameter, Size, dtype and device to any depth:
    a module's or an optimizer's ``state_dict()``, a checkpoint dict, a tensor.
    A tensor is saved as its own values (a view saves only what it shows), with
    its dtype, shape and ``requires_grad``; the same tensor object appearing
    twice is stored once and loads as one object again.

    A path that names a FIFO or a device (``/dev/stdout``) is written into, as
    ``open`` would; a regular file is replaced atomically and keeps its
    permission bits (see docs/serialization.md).
    """
    encoded = _encode(obj)
    if isinstance(f, (str, bytes, os.PathLike)):
        with atomic_write(f) as out:
            _write_file(out, encoded)
    elif callable(getattr(f, "write", None)):
        _write_file(f, encoded)
    else:
        raise TypeError(f"gradlab.save: expected a path or a binary file object with write(), "
                        f"got {type(f).__name__}")


class _Encoded:
    """An encoded object: header bytes, tensor buffers and where each one starts."""
    __slots__ = ("header_bytes", "buffers", "offsets", "data_nbytes")

    def __init__(self, header_bytes, buffers, offsets, data_nbytes):
        self.header_bytes, self.buffers, self.offsets, self.data_nbytes = header_bytes, buffers, offsets, data_nbytes


def _write_file(out, encoded):
    """Write preamble, header, padding and buffers; the checksum covers all but itself."""
    header_bytes = encoded.header_bytes
    data_start = align(PREAMBLE.size + len(header_bytes))
    pieces = [header_bytes, bytes(data_start - PREAMBLE.size - len(header_bytes))]
    position = 0
    for offset, buffer in zip(encoded.offsets, encoded.buffers):
        pieces.append(bytes(offset - position))  # alignment padding before this buffer
        pieces.append(buffer)
        position = offset + len(buffer)
    fields = (MAGIC, FORMAT_VERSION, 0, len(header_bytes), position)
    checksum = hashlib.sha256(PREAMBLE.pack(*fields, bytes(32))[:CHECKSUM_AT])
    if _can_patch(out):
        # write a zero checksum, stream the pieces through the hash, then fill it in
        start = out.tell()
        out.write(PREAMBLE.pack(*fields, bytes(32)))
        for chunk in _chunks(pieces):
            checksum.update(chunk)
            out.write(chunk)
        end = out.tell()
        out.seek(start + CHECKSUM_AT)
        out.write(checksum.digest())
        out.seek(end)
    else:
        # a pipe or a device: the checksum goes first, so hash a private copy of everything
        snapshot = list(_chunks(pieces))
        for chunk in snapshot:
            checksum.update(chunk)
        out.write(PREAMBLE.pack(*fields, checksum.digest()))
        for chunk in snapshot:
            out.write(chunk)


def _chunks(pieces):
    """Each piece as private ``bytes`` copies of at most _WRITE_CHUNK bytes, taken once."""
    for piece in pieces:
        view = memoryview(piece)
        for start in range(0, len(view), _WRITE_CHUNK):
            yield bytes(view[start:start + _WRITE_CHUNK])


def _can_patch(out):
    """True when ``out`` lets us seek back to fill in the checksum: an in-memory buffer, or a
    regular file not opened for appending (appends would ignore the seek)."""
    if isinstance(out, io.BytesIO):
        return True
    try:
        return (out.seekable() and "a" not in getattr(out, "mode", "a")
                and stat.S_ISREG(os.fstat(out.fileno()).st_mode))
    except (AttributeError, OSError, ValueError):
        return False


# ---------------------------------------------------------------- encoding
class _Path:
    """Where a value sits inside the saved object, built only when an error needs it."""
    __slots__ = ("parent", "step")

    def __init__(self, parent, step):
        self.parent, self.step = parent, step

    def __str__(self):
        steps, node = [], self
        while node is not None:
            steps.append(node.step)
            node = node.parent
        return "".join(reversed(steps))


_ROOT = _Path(None, "obj")
_BUILD = object()  # marks a stack entry whose children are all encoded


def _encode(obj):
    """Flatten ``obj`` into an _Encoded: a node table with children before parents.

    An explicit stack replaces recursion, so depth is unlimited.  A container is
    visited twice: first its children are pushed, then (``_BUILD``) the node
    ids they produced are collected into the container's own node.
    """
    nodes, done = [], []  # done: node ids of finished subtrees, in order
    tensors, buffers, tensor_index = [], [], {}
    open_containers = set()  # ids of containers being encoded, to catch cycles
    stack = [(obj, _ROOT)]
    while stack:
        value, where = stack.pop()
        if value is _BUILD:
            container, n_children = where
            open_containers.discard(id(container))
            children = done[len(done) - n_children:]
            del done[len(done) - n_children:]
            done.append(_add(nodes, _container_node(container, children)))
            continue
        children = _children(value, where)
        if children is None:  # a leaf
            done.append(_add(nodes, _leaf_node(value, where, tensors, buffers, tensor_index)))
            continue
        if id(value) in open_containers:
            raise ValueError(f"gradlab.save: {where} contains itself; a cyclic structure cannot be saved")
        open_containers.add(id(value))
        stack.append((_BUILD, (value, len(children))))
        stack.extend(reversed(children))
    header = {"root": done[0], "nodes": nodes, "tensors": tensors}
    header_bytes = json.dumps(header, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")
    if len(header_bytes) > MAX_HEADER_NBYTES:
        raise ValueError(f"gradlab.save: the object needs a {len(header_bytes)}-byte header, over the format's "
                         f"limit of {MAX_HEADER_NBYTES} bytes (too many Python values; store long lists of "
                         "numbers as a tensor)")
    data_nbytes = tensors[-1]["offset"] + tensors[-1]["nbytes"] if tensors else 0
    return _Encoded(header_bytes, buffers, [t["offset"] for t in tensors], data_nbytes)


def _add(nodes, node):
    nodes.append(node)
    return len(nodes) - 1


def _children(value, where):
    """The (child, path) pairs of a container in saving order, or None for a leaf."""
    kind = type(value)
    if kind is list or kind is tuple:
        return [(item, _Path(where, f"[{i}]")) for i, item in enumerate(value)]
    if kind is dict or kind is collections.OrderedDict:
        pairs = []
        for key, item in value.items():
            pairs.append((key, _Path(where, f" (the key {key!r})")))
            pairs.append((item, _Path(where, f"[{key!r}]")))
        if _has_metadata(value):
            pairs.append((value._metadata, _Path(where, "._metadata")))
        return pairs
    return None


def _has_metadata(mapping):
    """A module's state_dict carries per-module versions in ``_metadata``, as PyTorch's does."""
    return type(mapping) is collections.OrderedDict and "_metadata" in vars(mapping)


def _container_node(container, children):
    kind = type(container)
    if kind is list or kind is tuple:
        return {"type": kind.__name__, "items": children}
    node = {"type": "dict" if kind is dict else "ordered_dict"}
    if _has_metadata(container):
        node["metadata"] = children.pop()
    node["keys"], node["values"] = children[0::2], children[1::2]
    return node


def _leaf_node(value, where, tensors, buffers, tensor_index):
    # A subclass of int, float or str (an IntEnum, numpy.float64, a str with its own
    # __str__) is saved as its base type's value, taken with the base type's own
    # method so that no override can change what is written; it loads as the base type.
    if value is None:
        return {"type": "none"}
    if isinstance(value, bool):
        return {"type": "bool", "value": value is True}
    if isinstance(value, int):
        value = int.__int__(value)
        if INT64_MIN <= value <= INT64_MAX:
            return {"type": "int", "value": value}
        # hex has no digit limit (decimal str(int) stops at 4,300 digits) and is linear to convert
        return {"type": "bigint", "value": format(value, "x")}
    if isinstance(value, float):
        return {"type": "float", "value": _float_to_json(float.__float__(value))}
    if isinstance(value, str):
        return {"type": "str", "value": str.__str__(value)}
    if isinstance(value, Tensor):
        if id(value) not in tensor_index:
            tensor_index[id(value)] = len(tensors)
            entry, buffer = _tensor_entry(value, tensors)
            tensors.append(entry)
            buffers.append(buffer)
        return {"type": "tensor", "tensor": tensor_index[id(value)]}
    if isinstance(value, Size):
        return {"type": "size", "value": [int.__int__(s) for s in value]}
    if isinstance(value, _dtype.dtype):
        return {"type": "dtype", "value": value.name}
    if isinstance(value, device):
        return {"type": "device", "value": str(value)}
    hint = ""
    if isinstance(value, (np.ndarray, np.generic)):
        hint = " (wrap arrays with gradlab.from_numpy, turn NumPy scalars into Python numbers with .item())"
    raise TypeError(f"gradlab.save: cannot save {type(value).__module__}.{type(value).__qualname__} at {where}{hint}; "
                    "supported: None, bool, int, float, str, list, tuple, dict, OrderedDict, Tensor, "
                    "nn.Parameter, Size, dtype, device")


def _float_to_json(x):
    """JSON has no nan or inf, so those three are spelled as strings."""
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _tensor_entry(t, tensors):
    """The header entry of a tensor and its bytes (C order, little-endian)."""
    dtype = _dtype.from_numpy_dtype(t._data.dtype)
    array = np.asarray(t._data, dtype=dtype.np.newbyteorder("<"))
    if not array.flags.c_contiguous:  # a view: save only the values it shows
        array = array.copy(order="C")
    offset = 0
    if tensors:
        previous = tensors[-1]
        offset = align(previous["offset"] + previous["nbytes"])
    entry = {"dtype": dtype.name, "shape": list(array.shape), "offset": offset, "nbytes": array.nbytes,
             "requires_grad": bool(t._requires_grad), "parameter": _is_parameter(t)}
    return entry, memoryview(array.reshape(-1).view(np.uint8))


def _is_parameter(t):
    """True for nn.Parameter; other Tensor subclasses are saved as plain tensors."""
    if type(t) is Tensor:
        return False
    from .. import nn  # imported only when a subclass shows up, so plain saves stay light
    return isinstance(t, nn.Parameter)
