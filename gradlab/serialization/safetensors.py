"""safetensors files, through the optional ``safetensors`` package (``pip install "gradlab[interop]"``).

A safetensors file is an 8-byte little-endian header length N, N bytes of
JSON (each tensor's dtype, shape and byte range; optional string metadata),
then the raw little-endian bytes.  It holds a flat ``{name: tensor}`` dict and
nothing that could run code.  The package parses and checks the header (a
truncated file, overlapping or uncovered byte ranges, bad JSON are errors);
gradlab turns its dtype codes into gradlab dtypes.  The format has no checksum:
a flipped bit in the tensor bytes loads as a different number.

``BF16`` tensors load as float32, which holds every bfloat16 value exactly
(gradlab has no bfloat16); the other dtypes map one to one.
"""
import numpy as np

from .. import _dtype
from .._tensor import Tensor
from .format import SerializationError

__all__ = ["read", "writer"]

_DTYPES = {"F16": _dtype.float16, "F32": _dtype.float32, "F64": _dtype.float64, "I8": _dtype.int8,
           "I16": _dtype.int16, "I32": _dtype.int32, "I64": _dtype.int64, "U8": _dtype.uint8, "BOOL": _dtype.bool}


def _package():
    try:
        import safetensors
        import safetensors.numpy
    except ImportError:
        raise ModuleNotFoundError("gradlab: safetensors files need the optional package 'safetensors': "
                                  "pip install \"gradlab[interop]\" (or pip install safetensors)") from None
    return safetensors


def writer(tensors, metadata=None):
    """Check ``tensors`` (a flat dict of names to tensors) now; return the function that writes the file."""
    if not isinstance(tensors, dict):
        raise TypeError(f"gradlab.save(format='safetensors'): expected a dict of names to tensors (a state_dict), "
                        f"got {type(tensors).__name__}")
    arrays = {}
    for name, t in tensors.items():
        if type(name) is not str or name == "__metadata__":
            raise TypeError(f"gradlab.save(format='safetensors'): key {name!r} is not a str tensor name")
        if not isinstance(t, Tensor):
            raise TypeError(f"gradlab.save(format='safetensors'): {name!r} is {type(t).__name__}; safetensors "
                            f"holds tensors only (use format='torch' or gradlab's own format for the rest)")
        arrays[name] = np.require(t._data, t._data.dtype.newbyteorder("<"), "C")  # keeps 0-d arrays 0-d
    if metadata is not None and not (isinstance(metadata, dict)
                                     and all(type(k) is str and type(v) is str for k, v in metadata.items())):
        raise TypeError("gradlab.save(format='safetensors'): metadata must be a dict of str to str")
    data = _package().numpy.save(arrays, metadata=metadata)
    return lambda out: out.write(data)


def read(stream, size, place):
    """``{name: tensor}`` from a safetensors file, in name order (as safetensors.torch.load_file)."""
    package = _package()
    data = stream.read() if size is None else stream.read(size)
    try:
        entries = package.deserialize(data)
    except package.SafetensorError as error:
        raise SerializationError(f"corrupted safetensors file: {error}") from None
    result = {}
    for name, entry in sorted(entries):
        result[name] = place(Tensor._wrap(_array(name, entry)))
    return result


def _array(name, entry):
    code, shape, raw = entry["dtype"], entry["shape"], entry["data"]
    if code == "BF16":  # the high half of a float32
        return (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    if code not in _DTYPES:
        raise SerializationError(f"safetensors tensor {name!r} has dtype {code}, which gradlab does not have "
                                 f"(it has {', '.join(_DTYPES)} and reads BF16 as float32)")
    dtype = _DTYPES[code]
    array = np.frombuffer(bytearray(raw), dtype=dtype.np.newbyteorder("<"))
    if code == "BOOL" and array.size and array.view(np.uint8).max() > 1:
        raise SerializationError(f"corrupted safetensors file: bool tensor {name!r} holds a byte other than 0 or 1")
    return array.astype(dtype.np, copy=False).reshape(shape)
