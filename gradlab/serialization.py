"""``gradlab.save`` and ``gradlab.load``: a small, documented, safe file format.

PyTorch's ``torch.save`` pickles Python objects, and unpickling a file can run
any code the file asks for.  gradlab's format cannot: the file holds a JSON
description of the saved structure plus raw array bytes, and ``load`` only ever
builds the few types listed below.  The layout (see docs/serialization.md)::

    offset  size  field
    0        8    magic            b"GRADLAB\\0"
    8        4    format version   uint32 little-endian (currently 1)
    12       4    flags            uint32, must be 0
    16       8    header_nbytes    uint64, length H of the JSON header
    24       8    data_nbytes      uint64, length D of the data section
    32      32    checksum         SHA-256 of every byte of the file except
                                   these 32 (bytes 0-31, then 64 to the end)
    64       H    header           JSON (ASCII): {"root", "nodes", "tensors"}
    ...           zero padding up to data_start = 64 + H rounded up to 64
    data_start D  data             each tensor's bytes, C order, little-endian,
                                   starting at a multiple of 64

The header's ``nodes`` is a flat table: a container lists the indices of its
children, which always come before it, and the root is the last node.  So
neither writing nor reading recurses, any nesting depth works, and a forged
file cannot overflow the stack.  What can be saved:

    None, bool, int, float (nan and inf too), str, list, tuple, dict,
    collections.OrderedDict, Tensor (requires_grad kept), nn.Parameter,
    gradlab.Size, gradlab dtypes and devices, nested in any way.

``load`` trusts nothing: it checks the magic bytes, the version, that the file
really has the announced length (before allocating anything of that size), the
checksum, and then every field of the header (types, dtypes, shapes, offsets
and lengths against the data section) before it builds a single tensor.  Any
problem raises ``SerializationError`` saying what is wrong.

Saving to a path is atomic: the bytes go to a temporary file in the same
directory, which is flushed and fsynced before ``os.replace`` puts it in place
(and the directory is fsynced so the rename survives a power cut).  A process
killed at any moment leaves either the old file or the complete new one.
"""
import collections
import hashlib
import json
import math
import os
import re
import struct

import numpy as np

from . import _dtype
from ._tensor import Size, Tensor, check_device, device
from .utils._atomic import atomic_write, remaining_size

__all__ = ["save", "load", "SerializationError", "MAGIC", "FORMAT_VERSION"]

MAGIC = b"GRADLAB\0"
FORMAT_VERSION = 1
# magic, version, flags, header_nbytes, data_nbytes, checksum: 64 bytes in all
_PREAMBLE = struct.Struct("<8sIIQQ32s")
_CHECKSUM_AT = 32  # the checksum field's offset (it covers bytes 0-31 and 64-end)
ALIGNMENT = 64  # the data section and every tensor buffer start at a multiple of this
MAX_HEADER_NBYTES = 256 << 20  # a JSON header longer than this is refused unread
MAX_NDIM = 64
_MAX_ARRAY_NBYTES = 1 << 62  # NumPy cannot describe larger arrays, even empty ones
_READ_CHUNK = 1 << 20  # read streams in pieces, so a lying header costs no memory


class SerializationError(ValueError, RuntimeError):
    """The bytes are not a valid gradlab file: foreign, truncated, modified or forged."""


# ============================================================================ save
def save(obj, f):
    """Save ``obj`` to ``f``, a path (written atomically) or a binary file object.

    ``obj`` may nest None, bool, int, float, str, list, tuple, dict,
    OrderedDict, Tensor, nn.Parameter, Size, dtype and device to any depth:
    a module's or an optimizer's ``state_dict()``, a checkpoint dict, a tensor.
    A tensor is saved as its own values (a view saves only what it shows), with
    its dtype, shape and ``requires_grad``; the same tensor object appearing
    twice is stored once and loads as one object again.
    """
    header, buffers = _encode(obj)
    if isinstance(f, (str, bytes, os.PathLike)):
        _atomic_write(f, lambda out: _write_file(out, header, buffers))
    elif callable(getattr(f, "write", None)):
        _write_file(f, header, buffers)
    else:
        raise TypeError(f"gradlab.save: expected a path or a binary file object with write(), "
                        f"got {type(f).__name__}")


def _write_file(out, header, buffers):
    """Write preamble, header, padding and buffers; the checksum covers all but itself."""
    header_bytes = json.dumps(header, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")
    data_start = _align(_PREAMBLE.size + len(header_bytes))
    pieces = [header_bytes, bytes(data_start - _PREAMBLE.size - len(header_bytes))]
    position = 0
    for offset, buffer in zip((t["offset"] for t in header["tensors"]), buffers):
        pieces.append(bytes(offset - position))  # alignment padding before this buffer
        pieces.append(buffer)
        position = offset + len(buffer)
    fields = (MAGIC, FORMAT_VERSION, 0, len(header_bytes), position)
    checksum = hashlib.sha256(struct.pack("<8sIIQQ", *fields))
    for piece in pieces:
        checksum.update(piece)
    out.write(_PREAMBLE.pack(*fields, checksum.digest()))
    for piece in pieces:
        out.write(piece)


def _atomic_write(path, write):
    """Run ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``."""
    with atomic_write(path) as out:
        write(out)


def _align(n):
    return -(-n // ALIGNMENT) * ALIGNMENT


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
    """Flatten ``obj`` into (header, buffers): a node table with children before parents.

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
    return header, buffers


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
    if value is None:
        return {"type": "none"}
    if isinstance(value, bool):
        return {"type": "bool", "value": value}
    if isinstance(value, int):
        return {"type": "int", "value": int(value)}
    if isinstance(value, float):
        return {"type": "float", "value": _float_to_json(float(value))}
    if isinstance(value, str):
        return {"type": "str", "value": str(value)}
    if isinstance(value, Tensor):
        if id(value) not in tensor_index:
            tensor_index[id(value)] = len(tensors)
            entry, buffer = _tensor_entry(value, where, tensors)
            tensors.append(entry)
            buffers.append(buffer)
        return {"type": "tensor", "tensor": tensor_index[id(value)]}
    if isinstance(value, Size):
        return {"type": "size", "value": [int(s) for s in value]}
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


def _tensor_entry(t, where, tensors):
    """The header entry of a tensor and its bytes (C order, little-endian)."""
    dtype = _dtype.from_numpy_dtype(t._data.dtype)
    array = np.asarray(t._data, dtype=dtype.np.newbyteorder("<"))
    if not array.flags.c_contiguous:  # a view: save only the values it shows
        array = array.copy(order="C")
    offset = 0
    if tensors:
        previous = tensors[-1]
        offset = _align(previous["offset"] + previous["nbytes"])
    entry = {"dtype": dtype.name, "shape": list(array.shape), "offset": offset, "nbytes": array.nbytes,
             "requires_grad": bool(t._requires_grad), "parameter": _is_parameter(t)}
    return entry, memoryview(array.reshape(-1).view(np.uint8))


def _is_parameter(t):
    """True for nn.Parameter; other Tensor subclasses are saved as plain tensors."""
    if type(t) is Tensor:
        return False
    from . import nn  # imported only when a subclass shows up, so plain saves stay light
    return isinstance(t, nn.Parameter)


# ============================================================================ load
def load(f, map_location=None, weights_only=True, mmap=None):
    """Load an object saved by ``gradlab.save`` from a path or a binary file object.

    ``map_location`` is accepted as in PyTorch: None, ``"cpu"``,
    ``device("cpu")``, a dict of location tags such as ``{"cpu": "cpu"}``, or
    a callable ``fn(tensor, "cpu")`` returning a tensor (or None to keep it).
    gradlab is CPU-only, so any other device is an error.  ``weights_only`` and
    ``mmap`` are accepted for compatibility: loading is always as safe as
    PyTorch's ``weights_only=True``, and files are read into memory.

    Raises ``SerializationError`` (a ValueError and a RuntimeError) if the file
    is not a complete, unmodified gradlab file.
    """
    place = _placement(map_location)
    if isinstance(f, (str, bytes, os.PathLike)):
        with open(f, "rb") as stream:
            header_bytes, data = _read_file(stream, os.fstat(stream.fileno()).st_size)
    elif callable(getattr(f, "read", None)):
        header_bytes, data = _read_file(f, remaining_size(f))
    else:
        raise TypeError(f"gradlab.load: expected a path or a binary file object with read(), "
                        f"got {type(f).__name__}")
    header = _parse_header(header_bytes)
    tensors = _build_tensors(header["tensors"], data, place)
    return _build_nodes(header, tensors)


# ---------------------------------------------------------------- reading the bytes
def _read_file(f, size):
    """Check and read one file; returns (header bytes, data section).

    ``size`` is the number of bytes available, or None for a stream; a stream
    is read in chunks, so a forged length cannot make this allocate memory
    that the file does not back.
    """
    preamble = _read_up_to(f, _PREAMBLE.size, _PREAMBLE.size)
    _check_magic(preamble)
    if len(preamble) < _PREAMBLE.size:
        raise SerializationError(f"truncated: expected at least {_PREAMBLE.size} bytes (the fixed-size preamble), "
                                 f"found {len(preamble)}")
    magic, version, flags, header_nbytes, data_nbytes, stored = _PREAMBLE.unpack(preamble)
    if version != FORMAT_VERSION:
        raise SerializationError(f"unsupported format version {version}: this gradlab reads version "
                                 f"{FORMAT_VERSION} (a newer gradlab wrote it, or the file is corrupted)")
    if flags != 0:
        raise SerializationError(f"corrupted preamble: the flags field is {flags:#x}, expected 0")
    if header_nbytes > MAX_HEADER_NBYTES:
        raise SerializationError(f"corrupted preamble: header length {header_nbytes} bytes exceeds the limit of "
                                 f"{MAX_HEADER_NBYTES} bytes")
    data_start = _align(_PREAMBLE.size + header_nbytes)
    expected = data_start + data_nbytes
    if size is not None and size != expected:
        _raise_wrong_size(expected, size)
    # a file of known size was just checked, so one read is safe; a stream goes in chunks
    rest = _read_up_to(f, expected - _PREAMBLE.size, _READ_CHUNK if size is None else expected)
    if len(rest) < expected - _PREAMBLE.size:
        _raise_wrong_size(expected, _PREAMBLE.size + len(rest))
    if size is None and f.read(1):
        raise SerializationError(f"unexpected data after the end: expected {expected} bytes, found more")
    computed = hashlib.sha256(preamble[:_CHECKSUM_AT])
    computed.update(rest)
    if computed.digest() != stored:
        raise SerializationError(f"checksum mismatch: the file was modified or corrupted (stored SHA-256 "
                                 f"{stored.hex()[:16]}..., computed {computed.hexdigest()[:16]}...)")
    data = memoryview(rest)[data_start - _PREAMBLE.size:]
    return rest[:header_nbytes], data


def _raise_wrong_size(expected, found):
    if found < expected:
        raise SerializationError(f"truncated: expected {expected} bytes, found {found}")
    raise SerializationError(f"unexpected data after the end: expected {expected} bytes, found {found}")


def _read_up_to(f, n, chunk):
    """Read n bytes, or fewer at the end of the file, at most ``chunk`` bytes per call."""
    pieces, total = [], 0
    while total < n:
        piece = f.read(min(chunk, n - total))
        if not piece:
            break
        pieces.append(piece)
        total += len(piece)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


_FOREIGN = [  # (leading bytes, what they are) for files that are not gradlab's
    (b"PK\x03\x04", "a zip archive (PyTorch's format?); gradlab cannot read torch.save files"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\x93NUMPY", "a NumPy .npy file; read it with numpy.load and wrap it with gradlab.from_numpy"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"\x89HDF", "an HDF5 file"),
]


def _check_magic(preamble):
    if not preamble:
        raise SerializationError("not a gradlab file: the file is empty (0 bytes)")
    if preamble[:len(MAGIC)] == MAGIC[:len(preamble)]:
        return
    for start, what in _FOREIGN:
        if preamble.startswith(start):
            raise SerializationError(f"not a gradlab file: looks like {what}")
    if _looks_like_pickle(preamble):
        raise SerializationError("not a gradlab file: looks like a Python pickle (an old torch.save file?); "
                                 "gradlab never unpickles, because unpickling can run code from the file")
    raise SerializationError(f"not a gradlab file: it starts with {bytes(preamble[:8])!r}, "
                             f"expected the magic bytes {MAGIC!r}")


def _looks_like_pickle(start):
    """Protocol 2-5 pickles open with 0x80 and the protocol; protocol 0/1 ones often
    with an empty container or a global import such as ``cbuiltins\\nopen\\n``."""
    if start[:1] == b"\x80" and start[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return True
    return start[:1] in (b"(", b"]", b"}") or re.match(rb"c[\w.]+\n", bytes(start)) is not None


# ---------------------------------------------------------------- checking the header
def _corrupt(message):
    return SerializationError(f"corrupted header: {message}")


def _reject_constant(name):
    raise _corrupt(f"{name} is not valid JSON")


def _parse_header(header_bytes):
    try:
        header = json.loads(header_bytes.decode("ascii"), parse_constant=_reject_constant)
    except SerializationError:  # raised by _reject_constant
        raise
    except RecursionError:
        raise _corrupt("JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise _corrupt(f"not valid JSON ({error})") from None
    _check_keys(header, {"root", "nodes", "tensors"}, "the header")
    if not isinstance(header["nodes"], list) or not isinstance(header["tensors"], list):
        raise _corrupt("'nodes' and 'tensors' must be lists")
    return header


def _check_keys(entry, keys, what):
    if not isinstance(entry, dict) or set(entry) != keys:
        found = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
        raise _corrupt(f"{what} must be an object with the fields {sorted(keys)}, found {found}")


def _is_int(x):
    return type(x) is int


# ---------------------------------------------------------------- building tensors
_TENSOR_FIELDS = {"dtype", "shape", "offset", "nbytes", "requires_grad", "parameter"}
_DTYPES = {d.name: d for d in _dtype._by_numpy.values()}


def _build_tensors(entries, data, place):
    """One Tensor per header entry, each checked against the data section first."""
    needs_parameter = any(isinstance(e, dict) and e.get("parameter") is True for e in entries)
    Parameter = _parameter_class() if needs_parameter else None
    return [_build_tensor(i, entry, data, place, Parameter) for i, entry in enumerate(entries)]


def _parameter_class():
    from .nn import Parameter  # imported lazily: nn imports much more than load needs
    return Parameter


def _build_tensor(i, entry, data, place, Parameter):
    what = f"tensor {i}"
    _check_keys(entry, _TENSOR_FIELDS, what)
    dtype = _DTYPES.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
    shape, nbytes, offset = entry["shape"], entry["nbytes"], entry["offset"]
    if dtype is None:
        raise _corrupt(f"{what} has unknown dtype {entry['dtype']!r}; known: {sorted(_DTYPES)}")
    if not isinstance(shape, list) or len(shape) > MAX_NDIM or not all(_is_int(s) and s >= 0 for s in shape):
        raise _corrupt(f"{what} has an invalid shape {shape!r} (expected at most {MAX_NDIM} sizes >= 0)")
    if math.prod(max(s, 1) for s in shape) * dtype.itemsize > _MAX_ARRAY_NBYTES:
        raise _corrupt(f"{what} has an impossibly large shape {shape}")
    if not _is_int(nbytes) or nbytes != math.prod(shape) * dtype.itemsize:
        raise _corrupt(f"{what}: shape {shape} of {dtype.name} needs "
                       f"{math.prod(shape) * dtype.itemsize} bytes, the header says {nbytes!r}")
    if not _is_int(offset) or offset < 0 or offset % ALIGNMENT or offset + nbytes > len(data):
        raise _corrupt(f"{what}: bytes {offset!r}..{offset!r}+{nbytes} are not an aligned range inside the "
                       f"{len(data)}-byte data section")
    for flag in ("requires_grad", "parameter"):
        if type(entry[flag]) is not bool:
            raise _corrupt(f"{what}: {flag} must be true or false, found {entry[flag]!r}")
    if entry["requires_grad"] and not dtype.is_floating_point:
        raise _corrupt(f"{what}: a {dtype.name} tensor cannot require grad")
    tensor = place(Tensor._wrap(_read_array(data, offset, dtype, shape, what)))
    if entry["parameter"]:
        return Parameter(tensor, requires_grad=entry["requires_grad"])
    if entry["requires_grad"]:
        tensor.requires_grad_(True)
    return tensor


def _read_array(data, offset, dtype, shape, what):
    """A new array in native byte order, copied out of the data section."""
    count = math.prod(shape)
    if count == 0:
        return np.empty(shape, dtype=dtype.np)
    if dtype.np.kind == "b":  # a bool byte must be 0 or 1, else NumPy's bool misbehaves
        raw = np.frombuffer(data, dtype=np.uint8, count=count, offset=offset)
        if raw.max() > 1:
            raise _corrupt(f"{what}: a bool tensor holds a byte other than 0 or 1")
        return raw.astype(np.bool_).reshape(shape)
    stored = np.frombuffer(data, dtype=dtype.np.newbyteorder("<"), count=count, offset=offset)
    return stored.astype(dtype.np, copy=True).reshape(shape)


def _placement(map_location):
    """The function that ``map_location`` asks to apply to each loaded tensor."""
    if map_location is None:
        return _keep
    if isinstance(map_location, (str, device)):
        check_device(map_location)
        return _keep
    if isinstance(map_location, dict):
        check_device(map_location.get("cpu", "cpu"))
        return _keep
    if callable(map_location):
        return lambda t: _call_placement(map_location, t)
    raise TypeError(f"gradlab.load: map_location must be None, a device, a string, a dict or a callable, "
                    f"got {type(map_location).__name__}")


def _keep(t):
    return t


def _call_placement(fn, t):
    moved = fn(t, "cpu")
    if moved is None:  # PyTorch: None means load it as if there were no map_location
        return t
    if not isinstance(moved, Tensor):
        raise TypeError(f"gradlab.load: map_location returned {type(moved).__name__}, expected a Tensor or None")
    return moved


# ---------------------------------------------------------------- building the structure
def _build_nodes(header, tensors):
    """Build the saved object bottom-up from the flat node table.

    Children precede their parent and each node but the root has exactly one
    parent, so the table describes a tree that one forward pass can build,
    with no recursion and nothing shared that the file could multiply.
    """
    nodes, root = header["nodes"], header["root"]
    if not nodes or not _is_int(root) or root != len(nodes) - 1:
        raise _corrupt(f"the root must be the last of the {len(nodes)} nodes, found root {root!r}")
    built, used = [], [False] * len(nodes)
    for i, node in enumerate(nodes):
        if not isinstance(node, dict) or not isinstance(node.get("type"), str) or node["type"] not in _DECODERS:
            raise _corrupt(f"node {i} is not a known node ({str(node)[:80]})")
        kind = node["type"]
        fields, decode = _DECODERS[kind]
        if kind == "ordered_dict" and "metadata" in node:
            fields = fields | {"metadata"}
        _check_keys(node, fields, f"node {i} ({kind})")
        take = lambda ids: _take_children(ids, i, built, used)  # noqa: E731
        built.append(decode(node, take, tensors, f"node {i} ({kind})"))
    if not all(used[:-1]):
        raise _corrupt(f"node {used.index(False)} is not part of the saved object")
    return built[-1]


def _take_children(ids, parent, built, used):
    """The built children ``ids`` of node ``parent``, each claimed exactly once."""
    if not isinstance(ids, list):
        raise _corrupt(f"node {parent}: children must be a list of node indices")
    children = []
    for child in ids:
        if not _is_int(child) or not 0 <= child < parent or used[child]:
            raise _corrupt(f"node {parent}: child {child!r} must be an earlier node not used elsewhere")
        used[child] = True
        children.append(built[child])
    return children


def _decode_scalar(python_type, json_types):
    def decode(node, take, tensors, what):
        value = node["value"]
        if type(value) not in json_types:
            raise _corrupt(f"{what}: value {value!r} is not of type {python_type.__name__}")
        return python_type(value)
    return decode


def _decode_float(node, take, tensors, what):
    value = node["value"]
    if type(value) in (int, float):
        return float(value)
    if value in ("nan", "inf", "-inf"):
        return float(value)
    raise _corrupt(f"{what}: value {value!r} is not of type float")


def _decode_tensor(node, take, tensors, what):
    index = node["tensor"]
    if not _is_int(index) or not 0 <= index < len(tensors):
        raise _corrupt(f"{what}: tensor index {index!r} is not one of the {len(tensors)} tensors")
    return tensors[index]


def _decode_size(node, take, tensors, what):
    value = node["value"]
    if not isinstance(value, list) or not all(_is_int(s) for s in value):
        raise _corrupt(f"{what}: {value!r} is not a list of ints")
    return Size(value)


def _decode_dtype(node, take, tensors, what):
    if not isinstance(node["value"], str) or node["value"] not in _DTYPES:
        raise _corrupt(f"{what}: unknown dtype {node['value']!r}")
    return _DTYPES[node["value"]]


def _decode_device(node, take, tensors, what):
    if node["value"] != "cpu":
        raise _corrupt(f"{what}: unknown device {node['value']!r}")
    return device("cpu")


def _decode_sequence(python_type):
    def decode(node, take, tensors, what):
        return python_type(take(node["items"]))
    return decode


def _decode_mapping(python_type):
    def decode(node, take, tensors, what):
        keys, values = take(node["keys"]), take(node["values"])
        if len(keys) != len(values):
            raise _corrupt(f"{what}: {len(keys)} keys but {len(values)} values")
        try:
            mapping = python_type(zip(keys, values))
        except TypeError:
            raise _corrupt(f"{what}: a key is not hashable") from None
        if len(mapping) != len(keys):
            raise _corrupt(f"{what}: duplicate keys")
        if "metadata" in node:
            mapping._metadata = take([node["metadata"]])[0]
        return mapping
    return decode


_DECODERS = {  # node type -> (its fields, its decoder)
    "none": ({"type"}, lambda node, take, tensors, what: None),
    "bool": ({"type", "value"}, _decode_scalar(bool, (bool,))),
    "int": ({"type", "value"}, _decode_scalar(int, (int,))),
    "float": ({"type", "value"}, _decode_float),
    "str": ({"type", "value"}, _decode_scalar(str, (str,))),
    "tensor": ({"type", "tensor"}, _decode_tensor),
    "size": ({"type", "value"}, _decode_size),
    "dtype": ({"type", "value"}, _decode_dtype),
    "device": ({"type", "value"}, _decode_device),
    "list": ({"type", "items"}, _decode_sequence(list)),
    "tuple": ({"type", "items"}, _decode_sequence(tuple)),
    "dict": ({"type", "keys", "values"}, _decode_mapping(dict)),
    "ordered_dict": ({"type", "keys", "values"}, _decode_mapping(collections.OrderedDict)),
}
