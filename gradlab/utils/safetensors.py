"""``save_file`` and ``load_file`` with the names and arguments of ``safetensors.torch``.

They need the optional ``safetensors`` package (``pip install "gradlab[interop]"``);
``gradlab.save(state_dict, "m.safetensors")`` and ``gradlab.load`` do the same.
"""
from ..serialization import _placement
from ..serialization import safetensors as _format
from ._atomic import atomic_write

__all__ = ["save_file", "load_file"]


def save_file(tensors, filename, metadata=None):
    """Write ``tensors`` (a dict of names to tensors) to ``filename``, atomically."""
    write = _format.writer(tensors, metadata)
    with atomic_write(filename) as out:
        write(out)


def load_file(filename, device="cpu"):
    """``{name: tensor}`` from a safetensors file; anything else is a SerializationError."""
    place = _placement(device)
    with open(filename, "rb") as f:
        return _format.read(f, None, place)
