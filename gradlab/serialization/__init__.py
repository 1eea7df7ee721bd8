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

    None, bool, int (any size), float (nan and inf too), str, list, tuple, dict,
    collections.OrderedDict, Tensor (requires_grad kept), nn.Parameter,
    gradlab.Size, gradlab dtypes and devices, nested in any way.

``load`` trusts nothing: it checks the magic bytes, the version, that the file
really has the announced length (before allocating anything of that size), the
checksum, and then every field of the header (types, dtypes, shapes, offsets
and lengths against the data section, tensors sharing no bytes) before it
builds a single tensor, so what it allocates stays within a small multiple of
the file's size.  Any problem raises ``SerializationError`` naming the file
and saying what is wrong.

Saving to a path is atomic: the bytes go to a temporary file in the same
directory, which is flushed and fsynced before ``os.replace`` puts it in place
(and the directory is fsynced so the rename survives a power cut).  A process
killed at any moment leaves either the old file or the complete new one.  A
FIFO or a device is written into instead of being replaced.

Two other formats are read and written too (docs/serialization.md): the zip
that ``torch.save`` writes (torch_zip.py, with torch_pickle.py, gradlab's own
pickle interpreter that resolves only an allow-list of names and never runs
code from the file) and safetensors (safetensors.py).  ``load`` chooses the
reader from the file's first bytes, never from its name::

    GRADLAB\\0                    gradlab's own format           reader.py
    PK\\x03\\x04                  a zip: what torch.save writes  torch_zip.py
    8-byte length, then "{"      safetensors                    safetensors.py

The code: format.py (constants), writer.py and reader.py (gradlab's format),
utils/_atomic.py (the atomic replacement); this file picks the format.
"""
import io
import os
import struct

from ..utils._atomic import atomic_write, remaining_size  # noqa: F401  (importable from here before the split)
from . import reader, torch_zip, writer
from .format import ALIGNMENT, FORMAT_VERSION, MAGIC, MAX_HEADER_NBYTES, MAX_NDIM, SerializationError  # noqa: F401
from .format import CHECKSUM_AT as _CHECKSUM_AT, PREAMBLE as _PREAMBLE  # noqa: F401
from .reader import _placement  # noqa: F401  (utils.safetensors uses it)

__all__ = ["save", "load", "SerializationError", "MAGIC", "FORMAT_VERSION", "FORMATS"]

FORMATS = ("gradlab", "torch", "safetensors")
_SAFETENSORS_MAX_HEADER = 100 << 20  # the safetensors package's own limit on its JSON header


def save(obj, f, format=None):
    """Save ``obj`` to ``f``, a path (written atomically) or a binary file object.

    ``format``: ``"gradlab"`` (the default; docs/serialization.md), ``"torch"``
    (a zip that ``torch.load(f, weights_only=True)`` reads) or
    ``"safetensors"`` (a flat dict of tensors; the default for a path ending
    in ``.safetensors``).  See ``writer.save`` for what gradlab's format holds
    and how paths, FIFOs and devices are written.
    """
    is_path = isinstance(f, (str, bytes, os.PathLike))
    if format is None:
        format = "safetensors" if is_path and os.fsdecode(os.fspath(f)).endswith(".safetensors") else "gradlab"
    if format == "gradlab":
        return writer.save(obj, f)
    if format == "torch":
        write = torch_zip.writer(obj)
    elif format == "safetensors":
        from . import safetensors  # needs the optional `safetensors` package
        write = safetensors.writer(obj)
    else:
        raise ValueError(f"gradlab.save: unknown format {format!r}; expected one of {FORMATS}")
    if is_path:
        with atomic_write(f) as out:
            write(out)
    elif callable(getattr(f, "write", None)):
        write(f)
    else:
        raise TypeError(f"gradlab.save: expected a path or a binary file object with write(), "
                        f"got {type(f).__name__}")


def load(f, map_location=None, weights_only=True, mmap=None):
    """Load what ``save`` (or ``torch.save``, or safetensors) wrote, from a path or a binary file object.

    ``map_location`` is accepted as in PyTorch: None, ``"cpu"``,
    ``device("cpu")``, a dict of location tags such as ``{"cuda:0": "cpu"}``,
    or a callable ``fn(tensor, "cpu")`` returning a tensor (or None to keep
    it).  gradlab is CPU-only, so any other device is an error.
    ``weights_only`` and ``mmap`` are accepted for compatibility: loading is
    always as safe as PyTorch's ``weights_only=True``; files are read into memory.

    Raises ``SerializationError`` (a ValueError and a RuntimeError) for bytes
    that are not a complete, valid file of one of the three formats; the
    message names the file and what is wrong.
    """
    place = _placement(map_location)
    if isinstance(f, (str, bytes, os.PathLike)):
        with open(f, "rb") as stream:
            return _read(stream, os.fstat(stream.fileno()).st_size, place, repr(os.fsdecode(os.fspath(f))))
    if callable(getattr(f, "read", None)):
        name = getattr(f, "name", None)
        where = repr(name) if isinstance(name, (str, bytes)) else f"a {type(f).__name__} stream"
        return _read(f, remaining_size(f), place, where)
    raise TypeError(f"gradlab.load: expected a path or a binary file object with read(), got {type(f).__name__}")


def _read(stream, size, place, where):
    head = stream.read(16)
    if size is None:  # a pipe or socket: put the first bytes back in front of the rest
        stream = _Prepended(head, stream)
    else:
        stream.seek(-len(head), os.SEEK_CUR)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return torch_zip.read(_seekable(stream), size, place)
    if _looks_like_safetensors(head):
        from . import safetensors
        return safetensors.read(stream, size, place)
    return reader._load(stream, size, place, where)


def _looks_like_safetensors(head):
    """safetensors: a little-endian uint64 header length, then the JSON header's '{'."""
    if len(head) < 9 or head[8:9] != b"{":
        return False
    return 2 <= struct.unpack("<Q", head[:8])[0] <= _SAFETENSORS_MAX_HEADER


def _seekable(stream):
    """zipfile reads the directory at the end first, so a pipe is read into memory."""
    return stream if isinstance(stream, io.IOBase) and stream.seekable() else io.BytesIO(stream.read())


class _Prepended(io.RawIOBase):
    """A read-only stream: ``head`` followed by the rest of ``stream``."""

    def __init__(self, head, stream):
        self._head, self._stream = head, stream

    def readable(self):
        return True

    def read(self, n=-1):
        if not self._head:
            return self._stream.read() if n is None or n < 0 else self._stream.read(n)
        if n is None or n < 0:
            piece, self._head = self._head + self._stream.read(), b""
            return piece
        piece, self._head = self._head[:n], self._head[n:]
        return piece if len(piece) == n else piece + self._stream.read(n - len(piece))

    def readinto(self, b):
        piece = self.read(len(b))
        b[:len(piece)] = piece
        return len(piece)
