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

The code: format.py (constants), writer.py (``save``), reader.py (``load``);
utils/_atomic.py does the atomic replacement.
"""
from ..utils._atomic import atomic_write, remaining_size  # noqa: F401  (importable from here before the split)
from .format import ALIGNMENT, FORMAT_VERSION, MAGIC, MAX_HEADER_NBYTES, MAX_NDIM, SerializationError  # noqa: F401
from .format import CHECKSUM_AT as _CHECKSUM_AT, PREAMBLE as _PREAMBLE  # noqa: F401
from .reader import load
from .writer import save

__all__ = ["save", "load", "SerializationError", "MAGIC", "FORMAT_VERSION"]
