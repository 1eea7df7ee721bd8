"""gradlab's own format for ``gradlab.load``: read, check and rebuild what ``gradlab.save`` wrote.

What load allocates is bounded by the file, never by what the header claims:

* the file's real size is compared with the preamble's lengths before the
  rest is read (a stream is read in chunks);
* a header with more JSON arrays and objects than a valid one could hold in
  its length is refused before it is parsed;
* tensors must occupy disjoint byte ranges of the data section, so their
  copies add up to at most the data section's size.

So peak memory is about the file's size (the bytes read) plus the data section
(the tensors' own copies) plus a bounded multiple of the header (its parse);
tests/serialization/test_load_bounds.py measures it.  Every problem raises
``SerializationError`` naming the file and what is wrong.
"""
import collections
import hashlib
import json
import math
import re

import numpy as np

from .._tensor import Size, Tensor, check_device, device
from .format import (ALIGNMENT, CHECKSUM_AT, DTYPES, FORMAT_VERSION, MAGIC, MAX_ARRAY_NBYTES, MAX_HEADER_NBYTES,
                     MAX_NDIM, MIN_BYTES_PER_CONTAINER, PREAMBLE, SerializationError, align)

_READ_CHUNK = 1 << 20  # read streams in pieces, so a lying header costs no memory


def _load(f, size, place, where):
    """gradlab's own format from ``f`` (``size`` bytes, or None for a stream); ``where`` names it in errors."""
    try:
        header_bytes, data = _read_file(f, size)
        header = _parse_header(header_bytes)
        tensors = _build_tensors(header["tensors"], data, place)
        return _build_nodes(header, tensors)
    except SerializationError as error:
        raise SerializationError(f"gradlab.load: {where}: {error}") from None


# ---------------------------------------------------------------- reading the bytes
def _read_file(f, size):
    """Check and read one file; returns (header bytes, data section).

    ``size`` is the number of bytes available, or None for a stream; a stream
    is read in chunks, so a forged length cannot make this allocate memory
    that the file does not back.
    """
    preamble = _read_up_to(f, PREAMBLE.size, PREAMBLE.size)
    _check_magic(preamble)
    if len(preamble) < PREAMBLE.size:
        raise SerializationError(f"truncated: expected at least {PREAMBLE.size} bytes (the fixed-size preamble), "
                                 f"found {len(preamble)}")
    magic, version, flags, header_nbytes, data_nbytes, stored = PREAMBLE.unpack(preamble)
    if version != FORMAT_VERSION:
        raise SerializationError(f"unsupported format version {version}: this gradlab reads version "
                                 f"{FORMAT_VERSION} (a newer gradlab wrote it, or the file is corrupted)")
    if flags != 0:
        raise SerializationError(f"corrupted preamble: the flags field is {flags:#x}, expected 0")
    if header_nbytes > MAX_HEADER_NBYTES:
        raise SerializationError(f"corrupted preamble: header length {header_nbytes} bytes exceeds the limit of "
                                 f"{MAX_HEADER_NBYTES} bytes")
    data_start = align(PREAMBLE.size + header_nbytes)
    expected = data_start + data_nbytes
    if size is not None and size != expected:
        _raise_wrong_size(expected, size)
    # a file of known size was just checked, so one read is safe; a stream goes in chunks
    rest = _read_up_to(f, expected - PREAMBLE.size, _READ_CHUNK if size is None else expected)
    if len(rest) < expected - PREAMBLE.size:
        _raise_wrong_size(expected, PREAMBLE.size + len(rest))
    if size is None and f.read(1):
        raise SerializationError(f"unexpected data after the end: expected {expected} bytes, found more")
    computed = hashlib.sha256(preamble[:CHECKSUM_AT])
    computed.update(rest)
    if computed.digest() != stored:
        raise SerializationError(f"checksum mismatch: the file was modified or corrupted (stored SHA-256 "
                                 f"{stored.hex()[:16]}..., computed {computed.hexdigest()[:16]}...)")
    data = memoryview(rest)[data_start - PREAMBLE.size:]
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


_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


def _check_density(header_bytes):
    """Refuse a header with more arrays and objects than a valid one of its length could hold.

    json.loads spends about 64 bytes on each, so ``[[],[],...]`` would cost
    twenty times its size; a valid header costs at most ~12 times.  Brackets
    inside strings do not count, so those are blanked first.
    """
    limit = len(header_bytes) // MIN_BYTES_PER_CONTAINER + 4
    if header_bytes.count(b"[") + header_bytes.count(b"{") <= limit:
        return  # the usual case: no need to look inside strings
    bare = _STRING.sub(b'""', bytes(header_bytes))
    containers = bare.count(b"[") + bare.count(b"{")
    if containers > limit:
        raise _corrupt(f"{containers} JSON arrays and objects in {len(header_bytes)} bytes; a gradlab header "
                       f"has at most one per {MIN_BYTES_PER_CONTAINER} bytes")


def _parse_header(header_bytes):
    _check_density(header_bytes)
    try:
        header = json.loads(header_bytes.decode("ascii"), parse_constant=_reject_constant)
    except SerializationError:  # raised by _reject_constant
        raise
    except RecursionError:
        raise _corrupt("JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as error:  # ValueError: also ints over 4,300 digits
        raise _corrupt(f"not valid JSON ({str(error)[:200]})") from None
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
_DTYPES = DTYPES


def _build_tensors(entries, data, place):
    """One Tensor per header entry; every entry is checked against the data section,
    and against the others, before the first array is allocated."""
    checked = [_check_tensor_entry(i, entry, len(data)) for i, entry in enumerate(entries)]
    _check_disjoint(entries)
    Parameter = _parameter_class() if any(e["parameter"] for e in entries) else None
    return [_build_tensor(what, entry, dtype, data, place, Parameter) for what, entry, dtype in checked]


def _check_disjoint(entries):
    """Each tensor copies its own bytes, so two entries sharing bytes would make the file
    cost more memory than it holds (400 entries on one buffer: 400 copies).  The writer
    never shares, so sharing is refused."""
    ranges = sorted((e["offset"], e["offset"] + e["nbytes"], i) for i, e in enumerate(entries) if e["nbytes"])
    for (_, end, i), (start, _, j) in zip(ranges, ranges[1:]):
        if start < end:
            raise _corrupt(f"tensors {min(i, j)} and {max(i, j)} share bytes of the data section "
                           f"(one ends at {end}, the other starts at {start}); each tensor must have its own")


def _parameter_class():
    from ..nn import Parameter  # imported lazily: nn imports much more than load needs
    return Parameter


def _check_tensor_entry(i, entry, data_nbytes):
    """(what, entry, dtype) once every field of the entry is valid for a data section of that size."""
    what = f"tensor {i}"
    _check_keys(entry, _TENSOR_FIELDS, what)
    dtype = _DTYPES.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
    shape, nbytes, offset = entry["shape"], entry["nbytes"], entry["offset"]
    if dtype is None:
        raise _corrupt(f"{what} has unknown dtype {entry['dtype']!r}; known: {sorted(_DTYPES)}")
    if not isinstance(shape, list) or len(shape) > MAX_NDIM or not all(_is_int(s) and s >= 0 for s in shape):
        raise _corrupt(f"{what} has an invalid shape {shape!r} (expected at most {MAX_NDIM} sizes >= 0)")
    if math.prod(max(s, 1) for s in shape) * dtype.itemsize > MAX_ARRAY_NBYTES:
        raise _corrupt(f"{what} has an impossibly large shape {shape}")
    if not _is_int(nbytes) or nbytes != math.prod(shape) * dtype.itemsize:
        raise _corrupt(f"{what}: shape {shape} of {dtype.name} needs "
                       f"{math.prod(shape) * dtype.itemsize} bytes, the header says {nbytes!r}")
    if not _is_int(offset) or offset < 0 or offset % ALIGNMENT or offset + nbytes > data_nbytes:
        raise _corrupt(f"{what}: bytes {offset!r}..{offset!r}+{nbytes} are not an aligned range inside the "
                       f"{data_nbytes}-byte data section")
    for flag in ("requires_grad", "parameter"):
        if type(entry[flag]) is not bool:
            raise _corrupt(f"{what}: {flag} must be true or false, found {entry[flag]!r}")
    if entry["requires_grad"] and not dtype.is_floating_point:
        raise _corrupt(f"{what}: a {dtype.name} tensor cannot require grad")
    return what, entry, dtype


def _build_tensor(what, entry, dtype, data, place, Parameter):
    offset, shape = entry["offset"], entry["shape"]
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


_HEX_INT = re.compile(r"-?[0-9a-f]+")


def _decode_bigint(node, take, tensors, what):
    value = node["value"]
    if not isinstance(value, str) or not _HEX_INT.fullmatch(value):
        raise _corrupt(f"{what}: value {str(value)[:80]!r} is not a hexadecimal integer")
    return int(value, 16)  # base 16 has no digit limit and converts in linear time


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
    "bigint": ({"type", "value"}, _decode_bigint),
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
