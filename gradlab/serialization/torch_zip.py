"""PyTorch's file format (``torch.save`` since 1.6), read and written without PyTorch.

A ``.pt`` file is an uncompressed zip archive whose members sit under one
folder (``archive/`` or the file's stem)::

    archive/data.pkl             the saved object, pickled (protocol 2)
    archive/byteorder            b"little" (or b"big")
    archive/data/0, data/1, ...  each storage's raw bytes, 64-byte aligned
    archive/version              b"3\\n"; .format_version, .storage_alignment too

In the pickle a tensor is a call ``torch._utils._rebuild_tensor_v2(storage,
offset, size, stride, requires_grad, hooks)`` whose storage is a *persistent
id* ``("storage", torch.FloatStorage, "0", "cpu", numel)`` naming a member of
``data/``.  Several tensors may name one storage (a tensor and its views, tied
weights): gradlab builds each storage once as a flat NumPy array and every
tensor on it as a NumPy view with the same offset and strides, so they share
memory as in PyTorch.

Reading is safe: the pickle goes through torch_pickle.unpickle, whose
``find_global`` below knows only the names a weights file needs, each mapped
to a gradlab constructor that checks its arguments.  The archive is checked
before anything is read: no absolute or ``..`` member names, no duplicates, no
encryption, uncompressed storages whose sizes match what the pickle asks for
(so a zip bomb is refused from its declared sizes), a bounded pickle.
bfloat16 storages are converted to float32, which holds each bfloat16 value
exactly (gradlab has no bfloat16).
"""
import collections
import re
import struct
import zipfile
import zlib

import numpy as np

from .. import _dtype
from .._tensor import Size, Tensor, device
from .format import SerializationError
from .torch_pickle import Allowed, Pickler, unpickle

__all__ = ["read", "writer"]

MAX_PICKLE_NBYTES = 256 << 20  # data.pkl larger than this is refused unread
MAX_NDIM = 64
_SMALL_RECORD = 64  # byteorder, version: a few bytes each
ALIGNMENT = 64  # storages start at a multiple of this in the file, as torch.save writes them

# torch storage class -> (gradlab dtype name, NumPy dtype of the bytes in the file)
_STORAGES = {
    "HalfStorage": ("float16", "f2"), "FloatStorage": ("float32", "f4"), "DoubleStorage": ("float64", "f8"),
    "CharStorage": ("int8", "i1"), "ShortStorage": ("int16", "i2"), "IntStorage": ("int32", "i4"),
    "LongStorage": ("int64", "i8"), "ByteStorage": ("uint8", "u1"), "BoolStorage": ("bool", "u1"),
    "BFloat16Storage": ("float32", "u2"),  # converted on reading
    "UntypedStorage": ("uint8", "u1"),
}
_STORAGE_OF = {name: storage for storage, (name, _) in _STORAGES.items()
               if storage not in ("BFloat16Storage", "UntypedStorage")}
_DTYPES = {d.name: d for d in _dtype._by_numpy.values()}
_KEY = re.compile(r"[A-Za-z0-9_.]{1,64}")


def _refuse(message):
    return SerializationError(f"refused PyTorch file: {message}")


# ============================================================================ reading
def read(stream, size, place):
    """The object in a torch.save zip archive; ``place`` is applied to each tensor."""
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as error:
        raise SerializationError(f"not a gradlab file: looks like a zip archive (PyTorch's format) that "
                                 f"cannot be read: {error}") from None
    with archive:
        try:
            return _Loader(archive, size, place).load()
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
            raise SerializationError(f"corrupted PyTorch file: {error}") from None


class _Storage:
    """One storage: a flat array that every tensor on it views."""
    __slots__ = ("array", "storage_type")

    def __init__(self, array, storage_type):
        self.array, self.storage_type = array, storage_type


class _Loader:
    def __init__(self, archive, size, place):
        self.archive, self.place = archive, place
        self.members = _checked_members(archive, size)
        self.prefix = _record_prefix(self.members)
        self.storages = {}
        order = self._small_record("byteorder", b"little")
        if order not in (b"little", b"big"):
            raise _refuse(f"byteorder record is {order[:16]!r}, expected b'little' or b'big'")
        self.byteorder = "<" if order == b"little" else ">"
        self.allowed = self._allow_list()

    def load(self):
        pickle = _read_member(self.archive, self.members[self.prefix + "data.pkl"], MAX_PICKLE_NBYTES)
        return unpickle(pickle, self.find_global, self.persistent_load)

    def _small_record(self, name, default):
        info = self.members.get(self.prefix + name)
        return default if info is None else _read_member(self.archive, info, _SMALL_RECORD)

    # ---------------------------------------------------------------- the allow-list
    def _allow_list(self):
        table = {
            "collections.OrderedDict": _ordered_dict,
            "torch._utils._rebuild_tensor_v2": self.rebuild_tensor,
            "torch._utils._rebuild_tensor": self.rebuild_tensor,
            "torch._utils._rebuild_parameter": _rebuild_parameter,
            "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
            "torch._tensor._rebuild_from_type_v2": _rebuild_from_type,
            "torch.Size": _size,
            "torch.device": _device,
            "_codecs.encode": _latin1_bytes,  # how protocol 2 spells a bytes object
            "torch.Tensor": None, "torch.nn.parameter.Parameter": None,  # types named by _rebuild_from_type_v2
        }
        allowed = {name: Allowed(name, fn) for name, fn in table.items()}
        for storage in _STORAGES:
            allowed[f"torch.{storage}"] = Allowed(f"torch.{storage}")
        allowed["torch.storage.UntypedStorage"] = allowed["torch.UntypedStorage"]
        for name, dtype in _DTYPES.items():
            allowed[f"torch.{name}"] = dtype
        allowed["torch.bfloat16"] = _DTYPES["float32"]  # as bfloat16 tensors load as float32
        return allowed

    def find_global(self, module, name):
        found = self.allowed.get(f"{module}.{name}")
        if found is None:
            raise _refuse(f"the pickle asks for the global '{module}.{name}', which is not on gradlab's "
                          f"allow-list (tensors, storages, OrderedDict, Size, dtypes, device); gradlab never runs "
                          f"code from a file")
        return found

    # ---------------------------------------------------------------- storages and tensors
    def persistent_load(self, pid):
        if type(pid) is not tuple or len(pid) != 5 or pid[0] != "storage":
            raise _refuse(f"persistent id {str(pid)[:80]} is not ('storage', type, key, location, numel)")
        _, storage_type, key, location, numel = pid
        if type(storage_type) is not Allowed or storage_type.name.rpartition(".")[2] not in _STORAGES:
            raise _refuse(f"persistent id names {storage_type!r}, not a storage type")
        if type(key) is not str or not _KEY.fullmatch(key) or type(location) is not str:
            raise _refuse(f"storage key {key!r} or location {location!r} is not a plain name")
        if type(numel) is not int or numel < 0:
            raise _refuse(f"storage {key}: element count {numel!r} is not an int >= 0")
        if key in self.storages:
            storage = self.storages[key]
            if storage.storage_type is not storage_type:
                raise _refuse(f"storage {key} is named as {storage.storage_type.name} and as {storage_type.name}")
            return storage
        storage = _Storage(self._storage_array(storage_type.name.rpartition(".")[2], key, numel), storage_type)
        self.storages[key] = storage
        return storage

    def _storage_array(self, storage_name, key, numel):
        dtype_name, stored = _STORAGES[storage_name]
        stored = np.dtype(stored).newbyteorder(self.byteorder)
        info = self.members.get(f"{self.prefix}data/{key}")
        if info is None:
            raise _refuse(f"storage {key}: the archive has no member {self.prefix}data/{key}")
        if info.compress_type != zipfile.ZIP_STORED:
            raise _refuse(f"storage {key} is compressed; torch.save stores storages uncompressed, and gradlab "
                          f"does not inflate them (a compressed storage can be a zip bomb)")
        if info.file_size != numel * stored.itemsize:
            raise _refuse(f"storage {key}: the pickle says {numel} {storage_name} elements "
                          f"({numel * stored.itemsize} bytes), the archive member holds {info.file_size} bytes")
        raw = np.frombuffer(_read_member(self.archive, info, info.file_size), dtype=stored)
        if storage_name == "BFloat16Storage":  # the high half of a float32
            return (raw.astype(np.uint32) << 16).view(np.float32)
        if storage_name == "BoolStorage":
            if raw.size and raw.max() > 1:
                raise _refuse(f"storage {key}: a bool storage holds a byte other than 0 or 1")
            return raw.view(np.bool_)
        return raw if stored.isnative else raw.astype(stored.newbyteorder("="))

    def rebuild_tensor(self, storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
        """torch._utils._rebuild_tensor_v2: a view of ``storage`` (offset, size, stride in elements)."""
        if type(storage) is not _Storage:
            raise _refuse(f"_rebuild_tensor_v2 got {type(storage).__name__} where a storage belongs")
        if type(offset) is not int or offset < 0:
            raise _refuse(f"tensor storage offset {offset!r} is not an int >= 0")
        if not _int_tuple(size) or not _int_tuple(stride) or len(size) != len(stride) or len(size) > MAX_NDIM:
            raise _refuse(f"tensor size {size!r} and stride {stride!r} are not two equally long tuples of "
                          f"ints >= 0 (at most {MAX_NDIM})")
        if type(requires_grad) is not bool or hooks or metadata:
            raise _refuse(f"tensor requires_grad={requires_grad!r}, backward hooks {hooks!r} or metadata "
                          f"{metadata!r}: only a bool and no hooks or metadata are loaded")
        array = storage.array
        if 0 in size:
            view = np.empty(size, dtype=array.dtype)
        else:
            last = offset + sum((n - 1) * s for n, s in zip(size, stride))
            if last >= array.size:
                raise _refuse(f"tensor of size {tuple(size)}, stride {tuple(stride)} at offset {offset} reaches "
                              f"element {last}, but its storage holds {array.size} elements")
            view = np.ndarray(size, dtype=array.dtype, buffer=array, offset=offset * array.itemsize,
                              strides=[s * array.itemsize for s in stride])
        if requires_grad and view.dtype.kind != "f":
            raise _refuse(f"a {view.dtype} tensor cannot require grad")
        return self.place(Tensor._wrap(view, requires_grad))


def _int_tuple(x):
    return isinstance(x, tuple) and all(type(n) is int and n >= 0 for n in x)


def _ordered_dict(*args):
    if args:
        raise _refuse(f"collections.OrderedDict called with {len(args)} arguments, expected none")
    return collections.OrderedDict()


def _rebuild_parameter(data, requires_grad, hooks, state=None):
    if not isinstance(data, Tensor) or type(requires_grad) is not bool or hooks or state:
        raise _refuse("_rebuild_parameter expects (tensor, bool, no hooks, no state)")
    from ..nn import Parameter  # imported on demand: nn imports much more than a plain load needs
    return Parameter(data, requires_grad=requires_grad)


def _rebuild_from_type(func, new_type, args, state):
    """torch._tensor._rebuild_from_type_v2: a tensor subclass; only Tensor and Parameter are known."""
    if type(func) is not Allowed or func.fn is None or type(args) is not tuple:
        raise _refuse(f"_rebuild_from_type_v2 calls {func!r}, which is not an allowed function")
    if type(new_type) is not Allowed or new_type.fn is not None or new_type.name not in (
            "torch.Tensor", "torch.nn.parameter.Parameter") or state:
        raise _refuse(f"_rebuild_from_type_v2 builds {new_type!r} with state {str(state)[:60]}; only plain "
                      f"tensors and parameters without extra attributes are loaded")
    result = func.fn(*args)
    if new_type.name == "torch.nn.parameter.Parameter" and isinstance(result, Tensor):
        return _rebuild_parameter(result, result.requires_grad, None)
    return result


def _size(dims=()):
    if not _int_tuple(dims):
        raise _refuse(f"torch.Size({dims!r}) is not a tuple of ints >= 0")
    return Size(dims)


def _device(kind, index=None):
    if kind != "cpu" and not str(kind).startswith("cuda"):
        raise _refuse(f"torch.device({kind!r}) is not a device gradlab knows")
    return device("cpu")  # gradlab runs on the CPU: a saved "cuda" device is read as the CPU, like map_location


def _latin1_bytes(text, encoding="latin1"):
    if type(text) is not str or encoding not in ("latin1", "latin-1"):
        raise _refuse("_codecs.encode is only allowed as pickle's spelling of bytes")
    return text.encode("latin1")


# ---------------------------------------------------------------- the archive
def _checked_members(archive, size):
    """name -> ZipInfo, after refusing what no torch.save file contains."""
    members = {}
    for info in archive.infolist():
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0] or "\\" in name:
            raise _refuse(f"zip member name {name!r} is an absolute path or contains '..'; gradlab extracts "
                          f"nothing, and torch.save never writes such a name")
        if name in members:
            raise _refuse(f"zip member {name!r} appears twice")
        if info.flag_bits & 0x1:
            raise _refuse(f"zip member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _refuse(f"zip member {name!r} uses compression method {info.compress_type}")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise _refuse(f"zip member {name!r} is stored but declares {info.file_size} bytes unpacked, "
                          f"{info.compress_size} packed")
        if size is not None and info.compress_size > size:
            raise _refuse(f"zip member {name!r} declares {info.compress_size} bytes in a {size}-byte file")
        members[name] = info
    return members


def _record_prefix(members):
    """The folder that holds data.pkl: torch.save names it after the file."""
    pickles = [name for name in members if name.endswith("/data.pkl") and name.count("/") == 1]
    if len(pickles) != 1:
        raise _refuse(f"expected one '<folder>/data.pkl' in the zip archive, found {len(pickles)} "
                      f"(members: {sorted(members)[:5]}...)")
    return pickles[0][:-len("data.pkl")]


def _read_member(archive, info, limit):
    """A member's bytes (a bytearray NumPy can view in place), refusing more than ``limit``
    whatever its header claims."""
    if info.file_size > limit:
        raise _refuse(f"zip member {info.filename!r} declares {info.file_size} bytes, more than the "
                      f"{limit} allowed")
    with archive.open(info) as member:
        if info.compress_type == zipfile.ZIP_STORED:  # its bytes are in the file: allocate them at once
            data = bytearray(info.file_size)
            found = member.readinto(data) + len(member.read(1))
        else:
            data = bytearray(member.read(limit + 1))
            found = len(data)
    if found != info.file_size:
        raise _refuse(f"zip member {info.filename!r} holds {found} bytes, its header says {info.file_size}")
    return data


# ============================================================================ writing
_TORCH_RECORDS = [(".format_version", b"1"), (".storage_alignment", b"64"), ("byteorder", b"little")]


def writer(obj):
    """Encode ``obj`` as torch.save would (pickle and storages); return the function that writes the zip.

    Tensors viewing one NumPy buffer are saved on one storage with their
    offsets and strides, so ``torch.load`` gives them shared memory again.
    """
    storages = _StorageTable()
    pickle = Pickler(lambda pickler, value, where: _special(pickler, value, where, storages)).dump(obj)
    records = [("data.pkl", pickle)] + _TORCH_RECORDS + storages.records() + [("version", b"3\n")]
    return lambda out: _write_zip(out, "archive", records)


def _special(pickler, value, where, storages):
    """Write a tensor, Size, dtype or device; False for anything else."""
    if isinstance(value, Tensor):
        if pickler.recall(value):
            return True
        if type(value) is not Tensor and _is_parameter(value):
            pickler.global_("torch._utils", "_rebuild_parameter")
            pickler.out += b"("
            _write_tensor(pickler, value, storages, False)
            pickler.value(value.requires_grad, where)
            _write_empty_ordered_dict(pickler)
            pickler.out += b"tR"
        else:
            _write_tensor(pickler, value, storages, value.requires_grad)
        pickler.remember(value)
    elif isinstance(value, Size):
        pickler.call("torch", "Size", tuple(int(n) for n in value), where=where)
    elif isinstance(value, _dtype.dtype):
        pickler.global_("torch", value.name)
    elif isinstance(value, device):
        pickler.call("torch", "device", str(value), where=where)
    else:
        return False
    return True


def _is_parameter(t):
    from .. import nn  # imported only when a Tensor subclass shows up
    return isinstance(t, nn.Parameter)


def _write_empty_ordered_dict(pickler):
    pickler.global_("collections", "OrderedDict")
    pickler.out += b")R"


def _write_tensor(pickler, t, storages, requires_grad):
    """``_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())``."""
    key, storage, offset, stride = storages.place(t._data)
    pickler.global_("torch._utils", "_rebuild_tensor_v2")
    pickler.out += b"((X\x07\x00\x00\x00storage"
    pickler.global_("torch", _STORAGE_OF[_dtype.from_numpy_dtype(storage.dtype).name])
    pickler.value(key, "key")
    pickler.value("cpu", "location")
    pickler.value(storage.size, "numel")
    pickler.out += b"tQ"  # the persistent id tuple, then BINPERSID
    for item in (offset, tuple(t._data.shape), stride, bool(requires_grad)):
        pickler.value(item, "tensor")
    _write_empty_ordered_dict(pickler)
    pickler.out += b"tR"


class _StorageTable:
    """One storage per NumPy buffer: tensors on the same buffer share it."""

    def __init__(self):
        self._by_buffer = {}  # id(buffer) -> (key, flat array, buffer kept alive)

    def place(self, array):
        """(key, flat storage array, offset, strides) in elements for ``array``."""
        base = array
        while isinstance(base.base, np.ndarray):
            base = base.base
        layout = _layout_in(array, base)
        if layout is None:  # not expressible as a view of its buffer: save a copy of its own
            base = np.require(array, None, "C")  # (np.ascontiguousarray would make a 0-d array 1-d)
            layout = _layout_in(base, base)
        if id(base) not in self._by_buffer:
            flat = base.reshape(-1)
            self._by_buffer[id(base)] = (str(len(self._by_buffer)), flat, base)
        key, flat, _ = self._by_buffer[id(base)]
        return (key, flat) + layout

    def records(self):
        return [(f"data/{key}", memoryview(np.ascontiguousarray(flat, dtype=flat.dtype.newbyteorder("<"))
                                           .view(np.uint8)))
                for key, flat, _ in self._by_buffer.values()]


def _layout_in(array, base):
    """(offset, strides) of ``array`` in elements of the C-contiguous ``base``, or None."""
    item = array.itemsize
    if base.dtype != array.dtype or not base.flags.c_contiguous or array.size == 0:
        return None if array is not base else (0, _contiguous_strides(array.shape))
    start = array.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    strides = []
    for n, s in zip(array.shape, array.strides):
        if n == 1:
            s = 0
        if s < 0 or s % item:
            return None
        strides.append(s // item)
    if start < 0 or start % item or start + sum((n - 1) * s for n, s in zip(array.shape, strides)) * item >= \
            base.nbytes:
        return None
    return start // item, tuple(strides)


def _contiguous_strides(shape):
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _write_zip(out, prefix, records):
    """An uncompressed zip whose members start at multiples of 64 bytes (mmap-friendly, as torch.save's)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, payload in records:
            info = zipfile.ZipInfo(f"{prefix}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.file_size = len(payload)
            header = 30 + len(info.filename.encode("utf-8")) + 4  # local header, name, our extra field
            pad = -(archive.start_dir + header) % ALIGNMENT
            info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
            with archive.open(info, "w") as member:
                member.write(payload)
