"""Helpers shared by the serialization tests: in-memory round trips and files built from the docs."""
import hashlib
import io
import json
import math
import struct

import numpy as np

import gradlab


def roundtrip(obj, **load_kwargs):
    buffer = io.BytesIO()
    gradlab.save(obj, buffer)
    buffer.seek(0)
    return gradlab.load(buffer, **load_kwargs)


def saved_bytes(obj):
    buffer = io.BytesIO()
    gradlab.save(obj, buffer)
    return buffer.getvalue()


def load_bytes(data):
    return gradlab.load(io.BytesIO(data))


def build_file(header, data=b"", version=1, flags=0):
    """A gradlab file built straight from docs/serialization.md, checksum included."""
    header_bytes = json.dumps(header).encode("ascii")
    data_start = -(-(64 + len(header_bytes)) // 64) * 64
    first = struct.pack("<8sIIQQ", b"GRADLAB\0", version, flags, len(header_bytes), len(data))
    body = header_bytes + bytes(data_start - 64 - len(header_bytes)) + data
    return first + hashlib.sha256(first + body).digest() + body


def tensor_header(dtype="float32", shape=(2,), offset=0, nbytes=None, requires_grad=False, parameter=False):
    if nbytes is None:
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    entry = {"dtype": dtype, "shape": list(shape), "offset": offset, "nbytes": nbytes,
             "requires_grad": requires_grad, "parameter": parameter}
    return {"root": 0, "nodes": [{"type": "tensor", "tensor": 0}], "tensors": [entry]}
