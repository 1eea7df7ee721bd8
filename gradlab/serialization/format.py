"""The gradlab file format's constants, shared by the writer and the reader.

The layout is documented in docs/serialization.md (and in the package docstring).
"""
import struct

from .. import _dtype

MAGIC = b"GRADLAB\0"
FORMAT_VERSION = 1
# magic, version, flags, header_nbytes, data_nbytes, checksum: 64 bytes in all
PREAMBLE = struct.Struct("<8sIIQQ32s")
CHECKSUM_AT = 32  # the checksum field's offset (it covers bytes 0-31 and 64-end)
ALIGNMENT = 64  # the data section and every tensor buffer start at a multiple of this
MAX_HEADER_NBYTES = 256 << 20  # a JSON header longer than this is refused, by save and by load
MAX_NDIM = 64
MAX_ARRAY_NBYTES = 1 << 62  # NumPy cannot describe larger arrays, even empty ones
# Every JSON array or object a valid header holds takes at least 12 bytes of it (the densest,
# {"type":"dict","keys":[],"values":[]}, has 3 in 37 bytes); a denser header is forged, and
# refusing it before parsing keeps json.loads within a small multiple of the header's size.
MIN_BYTES_PER_CONTAINER = 12
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1  # ints outside are stored as "bigint" hex strings
DTYPES = {d.name: d for d in _dtype._by_numpy.values()}


class SerializationError(ValueError, RuntimeError):
    """The bytes are not a valid gradlab file: foreign, truncated, modified or forged."""


def align(n):
    return -(-n // ALIGNMENT) * ALIGNMENT
