"""Read and write IDX files, the format MNIST is published in.

An IDX file is a tiny big-endian header followed by the raw array::

    bytes 0-1   0x00 0x00                    (magic: always zero)
    byte  2     dtype code                    (see DTYPES below)
    byte  3     number of dimensions, ndim
    then        ndim x uint32 big-endian     (the size of each dimension)
    then        prod(sizes) items of dtype, big-endian, C order

MNIST ships these files gzip-compressed.  ``read_idx`` recognises gzip by its
magic bytes (1f 8b), not by the file name, so a renamed file still reads.

The reader trusts nothing in the header: before it allocates the array it
checks that the file really holds that many bytes (for gzip, where the length
is unknown until decompressed, it reads in chunks and stops as soon as the data
runs out), so a forged header cannot make it allocate gigabytes.

The writer is atomic: it writes a temporary file next to the target, flushes
and fsyncs it, then renames it over the target with ``os.replace``.  A reader
sees either the old file or the complete new one, never a half-written one.
"""
import gzip
import io
import os
import struct
import zlib

import numpy as np

from ..utils._atomic import atomic_write, remaining_size

__all__ = [
    "IDXError",
    "IDXTruncatedError",
    "DTYPES",
    "read_idx",
    "write_idx",
    "read_idx_pair",
    "atomic_write",
]

# IDX dtype code -> big-endian NumPy dtype.
DTYPES = {
    0x08: np.dtype(">u1"),  # unsigned byte
    0x09: np.dtype(">i1"),  # signed byte
    0x0B: np.dtype(">i2"),  # short
    0x0C: np.dtype(">i4"),  # int
    0x0D: np.dtype(">f4"),  # float
    0x0E: np.dtype(">f8"),  # double
}
# NumPy dtype (any byte order) -> IDX dtype code.
_CODES = {dt.newbyteorder("="): code for code, dt in DTYPES.items()}

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # read compressed streams 1 MiB at a time


class IDXError(ValueError):
    """The bytes are not a valid IDX file (wrong magic, bad dtype, ...)."""


class IDXTruncatedError(IDXError):
    """The file ends before the data its header announces."""


def _name(source):
    """A readable name for error messages."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return getattr(source, "name", None) or "<file object>"


# ---------------------------------------------------------------- reading


def _read_exact(f, n, what, name):
    """Read exactly n bytes from f, in bounded chunks, or raise truncated.

    Reading in chunks means memory grows only as real bytes arrive: a header
    that promises 10**12 bytes costs nothing if the stream holds 100.
    """
    buf = bytearray()
    while len(buf) < n:
        try:
            chunk = f.read(min(_CHUNK, n - len(buf)))
        except (EOFError, zlib.error, gzip.BadGzipFile) as e:
            raise IDXTruncatedError(
                f"{name}: compressed data is truncated or corrupt while reading the {what} "
                f"(got {len(buf)} of {n} bytes): {e}"
            ) from None
        if not chunk:
            raise IDXTruncatedError(
                f"{name}: file is truncated: the {what} needs {n} bytes "
                f"but only {len(buf)} are present"
            )
        buf += chunk
    return buf


def _parse_header(f, name, size=None):
    """Read and check the header; return (dtype, shape, header_length)."""
    magic = _read_exact(f, 4, "header", name)
    if magic[0] != 0 or magic[1] != 0:
        raise IDXError(
            f"{name}: not an IDX file: magic number is 0x{bytes(magic).hex()}, "
            "expected 0x0000TTNN (two zero bytes, a dtype code, a dimension count)"
        )
    code, ndim = magic[2], magic[3]
    if code not in DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in DTYPES)
        raise IDXError(f"{name}: unknown IDX dtype code 0x{code:02X} (known: {known})")
    header_len = 4 + 4 * ndim
    if size is not None and size < header_len:
        raise IDXTruncatedError(
            f"{name}: file is truncated: the header of a {ndim}-d array needs "
            f"{header_len} bytes but the file has {size}"
        )
    shape = struct.unpack(f">{ndim}I", _read_exact(f, 4 * ndim, "header", name))
    return DTYPES[code], shape, header_len


def _shape_text(shape):
    text = str(tuple(shape))
    return text if len(text) <= 80 else text[:76] + " ...)"


def _finish(buf, dtype, shape, name):
    """Big-endian bytes -> native-endian writable array of the given shape."""
    try:  # a view of one item: NumPy checks the dims and the byte size without allocating
        np.broadcast_to(np.empty((), dtype), shape)
    except ValueError as e:  # more than 64 dims, or a zero-size shape whose other dims overflow
        raise IDXError(f"{name}: the header's shape ({len(shape)} dims: {_shape_text(shape)}) is not "
                       f"one NumPy can hold: {e}") from None
    arr = np.frombuffer(buf, dtype=dtype)
    if dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("="))  # byte swap (copies)
    elif dtype != dtype.newbyteorder("="):
        arr = arr.view(dtype.newbyteorder("="))
    return arr.reshape(shape)


def _read_stream(f, name, size=None):
    """Parse an IDX stream. ``size`` is its total length when known."""
    dtype, shape, header_len = _parse_header(f, name, size)
    count = 1
    for d in shape:
        count *= d  # Python ints: no overflow on forged sizes
    nbytes = count * dtype.itemsize
    if size is not None:
        if size - header_len < nbytes:
            raise IDXTruncatedError(
                f"{name}: file is truncated: header says shape {_shape_text(shape)} of "
                f"{dtype.newbyteorder('=').name} ({nbytes} bytes of data) but the file "
                f"holds only {size - header_len} bytes after the {header_len}-byte header"
            )
        if size - header_len > nbytes:
            raise IDXError(
                f"{name}: {size - header_len - nbytes} unexpected bytes after the data "
                f"(header says shape {_shape_text(shape)})"
            )
    if size is not None and hasattr(f, "readinto"):
        # Size already checked: one allocation, one read.
        buf = bytearray(nbytes)
        got = f.readinto(buf) if nbytes else 0
        while got < nbytes:  # short reads are legal for raw streams
            more = f.readinto(memoryview(buf)[got:])
            if not more:
                raise IDXTruncatedError(f"{name}: file shrank while being read")
            got += more
    else:
        buf = _read_exact(f, nbytes, f"data of shape {_shape_text(shape)}", name)
        try:
            extra = f.read(1)
        except (EOFError, zlib.error, gzip.BadGzipFile) as e:
            raise IDXTruncatedError(
                f"{name}: compressed data is truncated or corrupt after the array: {e}"
            ) from None
        if extra:
            raise IDXError(f"{name}: unexpected bytes after the data (header says shape {_shape_text(shape)})")
    return _finish(buf, dtype, shape, name)


def _read_fileobj(f, name):
    head = f.peek(2)[:2] if hasattr(f, "peek") else None
    if head is None:
        size = remaining_size(f)
        if size is not None:
            pos = f.tell()
            head = f.read(2)
            f.seek(pos)
        else:  # non-seekable, no peek: buffer it ourselves
            f = io.BufferedReader(f) if isinstance(f, io.RawIOBase) else _Peekable(f)
            head = f.peek(2)[:2]
    if head == _GZIP_MAGIC:
        with gzip.GzipFile(fileobj=f, mode="rb") as g:
            return _read_stream(g, name)
    return _read_stream(f, name, remaining_size(f))


class _Peekable:
    """Minimal peek() for a non-seekable file object without one."""

    def __init__(self, f):
        self._f, self._head = f, b""

    def peek(self, n):
        while len(self._head) < n:
            more = self._f.read(n - len(self._head))
            if not more:
                break
            self._head += more
        return self._head

    def read(self, n=-1):
        if n is None or n < 0:
            out, self._head = self._head + self._f.read(), b""
            return out
        out, self._head = self._head[:n], self._head[n:]
        if len(out) < n:
            out += self._f.read(n - len(out))
        return out

    def readinto(self, b):
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def seekable(self):
        return False


def read_idx(path_or_fileobj):
    """Read an IDX file (raw or gzip-compressed) into a NumPy array.

    ``path_or_fileobj`` is a path or a binary file object.  Gzip is detected
    by its magic bytes, whatever the file is called.  The result is a
    native-endian, writable array whose dtype and shape come from the header.

    Raises ``IDXError`` (a ``ValueError``) for a wrong magic number, an
    unknown dtype code or trailing garbage, and ``IDXTruncatedError`` when
    the file holds less data than its header announces.
    """
    if hasattr(path_or_fileobj, "read"):
        return _read_fileobj(path_or_fileobj, _name(path_or_fileobj))
    name = _name(path_or_fileobj)
    with open(path_or_fileobj, "rb") as f:
        return _read_fileobj(f, name)


def read_idx_pair(images, labels):
    """Read an images file and a labels file and check they match.

    Returns ``(images_array, labels_array)``.  Raises ``IDXError`` when the
    two files do not hold the same number of items (their first dimension).
    """
    x = read_idx(images)
    y = read_idx(labels)
    nx = x.shape[0] if x.ndim else None
    ny = y.shape[0] if y.ndim else None
    if nx is None or ny is None or nx != ny:
        raise IDXError(
            f"image/label count mismatch: {_name(images)} holds {nx} images "
            f"(shape {x.shape}) but {_name(labels)} holds {ny} labels (shape {y.shape})"
        )
    return x, y


# ---------------------------------------------------------------- writing


def _as_array(array):
    if not isinstance(array, np.ndarray):
        numpy = getattr(array, "numpy", None)  # a gradlab / torch tensor
        if callable(numpy) and not isinstance(array, (list, tuple)):
            try:
                array = numpy()
            except Exception:
                pass
    return np.asarray(array)


def _encode(array):
    arr = _as_array(array)
    code = _CODES.get(arr.dtype.newbyteorder("="))
    if code is None:
        names = ", ".join(dt.newbyteorder("=").name for dt in DTYPES.values())
        raise TypeError(
            f"IDX cannot store dtype {arr.dtype}; supported: {names} "
            "(cast first, e.g. labels.astype(np.uint8))"
        )
    if arr.ndim > 255:
        raise ValueError(f"IDX stores at most 255 dimensions, got {arr.ndim}")
    if any(d >= 2**32 for d in arr.shape):
        raise ValueError(f"IDX dimensions must be < 2**32, got shape {arr.shape}")
    header = struct.pack(f">BBBB{arr.ndim}I", 0, 0, code, arr.ndim, *arr.shape)
    data = np.ascontiguousarray(arr, dtype=DTYPES[code])
    return header, data


def write_idx(path, array, compress=None):
    """Write ``array`` as an IDX file, atomically.

    ``path`` is a path (written via a temporary file, fsync and
    ``os.replace``) or a binary file object (written as is).  ``compress``
    chooses gzip; by default it is on when the path ends with ``.gz``.
    The array's dtype must be one IDX knows: uint8, int8, int16, int32,
    float32 or float64.
    """
    header, data = _encode(array)

    def dump(f, name):
        if compress:
            # mtime=0: the same array always gives the same bytes.
            with gzip.GzipFile(filename=name, fileobj=f, mode="wb", mtime=0) as g:
                g.write(header)
                g.write(data.data if data.size else b"")
        else:
            f.write(header)
            f.write(data.data if data.size else b"")

    if hasattr(path, "write"):
        compress = bool(compress)
        dump(path, "")
        return
    path = os.fspath(path)
    if compress is None:
        compress = path.endswith(".gz")
    base = os.path.basename(path)
    with atomic_write(path) as f:
        dump(f, base[:-3] if base.endswith(".gz") else base)
