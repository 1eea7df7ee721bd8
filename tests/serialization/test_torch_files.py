"""PyTorch's .pt zip format: gradlab reads and writes it without torch, and refuses hostile files.

Tests marked with the ``torch`` fixture cross-check with PyTorch and skip without it;
the others use files gradlab writes itself, or hand-built pickles and zips.
"""
import collections
import io
import os
import pickle
import struct
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import given, strategies as st

import gradlab
from gradlab.serialization import SerializationError

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


def to_torch_bytes(obj, torch):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def gradlab_torch_bytes(obj):
    buffer = io.BytesIO()
    gradlab.save(obj, buffer, format="torch")
    return buffer.getvalue()


def load_bytes(data):
    return gradlab.load(io.BytesIO(data))


def as_plain(obj):
    """Nested values, comparable between gradlab and torch: a tensor as (dtype, shape, bytes, requires_grad)."""
    if hasattr(obj, "detach") and hasattr(obj, "dtype"):
        array = obj.detach().numpy()
        return ("tensor", str(obj.dtype).rpartition(".")[2], tuple(array.shape), array.tobytes(),
                bool(obj.requires_grad))
    if isinstance(obj, dict):
        return (type(obj).__name__, [(as_plain(k), as_plain(v)) for k, v in obj.items()])
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__ if type(obj) in (list, tuple) else "size", [as_plain(x) for x in obj])
    if type(obj).__name__ in ("dtype", "device"):
        return (type(obj).__name__, str(obj).rpartition(".")[2])
    return obj


def random_array(draw, dtype):
    shape = draw(st.lists(st.integers(0, 4), max_size=3))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    return np.asarray(rng.standard_normal(shape) * 100).astype(dtype)


@st.composite
def nested(draw, depth=0):
    leaves = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.text(max_size=5),
                       st.floats(allow_nan=False), st.sampled_from(DTYPES).map(
                           lambda name: gradlab.from_numpy(np.zeros(2, dtype=name))))
    kind = draw(st.sampled_from(["leaf", "tensor", "list", "tuple", "dict", "odict"] if depth < 3 else ["tensor"]))
    if kind == "leaf":
        return draw(leaves)
    if kind == "tensor":
        return gradlab.from_numpy(random_array(draw, draw(st.sampled_from(DTYPES))))
    children = [draw(nested(depth + 1)) for _ in range(draw(st.integers(0, 3)))]
    if kind in ("list", "tuple"):
        return list(children) if kind == "list" else tuple(children)
    mapping = dict if kind == "dict" else collections.OrderedDict
    return mapping((f"k{i}", child) for i, child in enumerate(children))


# ============================================================================ PyTorch -> gradlab
@pytest.mark.parametrize("name", DTYPES + ["bfloat16"])
def test_every_dtype_saved_by_torch_loads(torch, name):
    values = torch.tensor([[0, 1, -2.5], [3, 100, 7]]).to(getattr(torch, name))
    loaded = load_bytes(to_torch_bytes({"t": values}, torch))["t"]
    expected = values.float() if name == "bfloat16" else values  # bfloat16 is read as float32, exactly
    assert str(loaded.dtype) == str(expected.dtype).replace("torch", "gradlab")
    assert loaded.numpy().tobytes() == expected.numpy().tobytes()


def test_containers_numbers_and_strings_saved_by_torch_load(torch):
    sd = collections.OrderedDict(w=torch.ones(2, 3), b=torch.zeros(3, dtype=torch.int64))
    obj = {"sd": sd, "epoch": 3, "lr": 0.125, "big": -2 ** 80, "name": "lenet ✓", "flags": [True, None, (1, 2.5)],
           "shape": torch.Size([2, 3]), "dtype": torch.float16, "device": torch.device("cpu"), "raw": b"\x00\xff"}
    loaded = load_bytes(to_torch_bytes(obj, torch))
    assert as_plain(loaded) == as_plain(obj)
    assert type(loaded["sd"]) is collections.OrderedDict and type(loaded["shape"]) is gradlab.Size
    assert loaded["dtype"] is gradlab.float16 and loaded["device"] == gradlab.device("cpu")


def test_views_of_one_storage_load_as_views_of_one_buffer(torch):
    base = torch.arange(24.0).reshape(4, 6)
    obj = {"base": base, "rows": base[1:3], "strided": base[:, ::2], "t": base.t(), "row": base[2],
           "expanded": torch.arange(3.0).expand(4, 3)}
    loaded = load_bytes(to_torch_bytes(obj, torch))
    for key, value in obj.items():
        assert loaded[key].numpy().tolist() == value.tolist(), key
        assert loaded[key].numpy().strides == tuple(4 * s for s in value.stride()), key
    loaded["base"].numpy()[2, 2] = -1.0  # one buffer: a write through one tensor shows in the others
    assert loaded["rows"].numpy()[1, 2] == loaded["strided"].numpy()[2, 1] == loaded["t"].numpy()[2, 2] == -1.0
    assert loaded["row"].numpy()[2] == -1.0


def test_parameters_and_module_metadata_load(torch):
    model = torch.nn.Linear(3, 2)
    model.weight.requires_grad_(False)
    loaded = load_bytes(to_torch_bytes({"p": model.bias, "w": model.weight, "sd": model.state_dict()}, torch))
    assert isinstance(loaded["p"], gradlab.nn.Parameter) and loaded["p"].requires_grad
    assert isinstance(loaded["w"], gradlab.nn.Parameter) and not loaded["w"].requires_grad
    assert loaded["sd"]._metadata == model.state_dict()._metadata


def torch_lenet(torch):
    nn = torch.nn
    features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
                             nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 120, 5), nn.ReLU())
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    return nn.Sequential(collections.OrderedDict(features=features, classifier=classifier))


def test_a_pytorch_lenet_state_dict_runs_in_gradlab_with_the_same_outputs(torch, tmp_path):
    torch.manual_seed(0)
    theirs = torch_lenet(torch).eval()
    torch.save(theirs.state_dict(), tmp_path / "lenet.pt")
    ours = gradlab.models.LeNet5()
    ours.load_state_dict(gradlab.load(tmp_path / "lenet.pt"))
    x = np.random.default_rng(0).standard_normal((8, 1, 28, 28)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(gradlab.from_numpy(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-5)


# ============================================================================ gradlab -> PyTorch
def test_a_gradlab_lenet_continues_in_pytorch(torch, tmp_path):
    gradlab.manual_seed(0)
    ours = gradlab.models.LeNet5()
    gradlab.save(ours.state_dict(), tmp_path / "lenet.pt", format="torch")
    theirs = torch_lenet(torch)
    theirs.load_state_dict(torch.load(tmp_path / "lenet.pt", weights_only=True))
    x = np.random.default_rng(1).standard_normal((8, 1, 28, 28)).astype(np.float32)
    with torch.no_grad():
        got = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, ours(gradlab.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_torch_load_reads_every_value_gradlab_writes(torch):
    obj = collections.OrderedDict(
        {name: gradlab.from_numpy((np.arange(6).reshape(2, 3) * 37 - 50).astype(name)) for name in DTYPES})
    obj.update(p=gradlab.nn.Parameter(gradlab.ones(2)), frozen=gradlab.nn.Parameter(gradlab.ones(1), False),
               grad=gradlab.ones(2, requires_grad=True), scalar=gradlab.tensor(2.5), empty=gradlab.zeros(0, 3),
               n=[1, -2 ** 80, 2.5, "s", None, True, (1, 2, 3, 4)], shape=gradlab.Size([2, 3]),
               dtype=gradlab.int16, device=gradlab.device("cpu"), inner={"a": {}})
    obj._metadata = collections.OrderedDict({"": {"version": 1}})
    theirs = torch.load(io.BytesIO(gradlab_torch_bytes(obj)), weights_only=True)
    assert as_plain(theirs) == as_plain(obj)
    assert theirs._metadata == obj._metadata
    assert isinstance(theirs["p"], torch.nn.Parameter) and not theirs["frozen"].requires_grad
    assert theirs["shape"] == torch.Size([2, 3]) and theirs["dtype"] is torch.int16


def test_shared_storages_stay_shared_in_pytorch(torch):
    base = gradlab.arange(24.0).reshape(4, 6)
    obj = {"base": base, "again": base, "rows": base[1:3], "strided": base[:, ::2], "t": base.t(),
           "other": gradlab.ones(3)}
    theirs = torch.load(io.BytesIO(gradlab_torch_bytes(obj)), weights_only=True)
    assert theirs["again"] is theirs["base"]
    pointers = {key: value.untyped_storage().data_ptr() for key, value in theirs.items()}
    assert len({pointers[k] for k in ("base", "rows", "strided", "t")}) == 1 and pointers["other"] != pointers["base"]
    for key in ("rows", "strided", "t"):
        assert theirs[key].tolist() == obj[key].tolist()
    theirs["base"][2, 2] = -1.0
    assert theirs["rows"][1, 2] == theirs["strided"][2, 1] == theirs["t"][2, 2] == -1.0


@given(nested())
def test_random_nested_values_round_trip_through_the_torch_format(obj):
    data = gradlab_torch_bytes(obj)
    assert as_plain(load_bytes(data)) == as_plain(obj)
    try:
        import torch
    except ImportError:
        return
    assert as_plain(torch.load(io.BytesIO(data), weights_only=True)) == as_plain(obj)
    assert as_plain(load_bytes(to_torch_bytes(torch.load(io.BytesIO(data), weights_only=True), torch))) == \
        as_plain(obj)


# ============================================================================ the file itself, without torch
def test_a_written_file_has_torch_saves_layout(tmp_path):
    base = gradlab.arange(12.0).reshape(3, 4)
    gradlab.save({"w": base, "v": base[1:], "b": gradlab.zeros(5, dtype=gradlab.int64)}, tmp_path / "m.pt",
                 format="torch")
    raw = (tmp_path / "m.pt").read_bytes()
    with zipfile.ZipFile(tmp_path / "m.pt") as archive:
        assert archive.testzip() is None
        infos = {info.filename: info for info in archive.infolist()}
        assert set(infos) == {"archive/data.pkl", "archive/byteorder", "archive/version", "archive/.format_version",
                              "archive/.storage_alignment", "archive/data/0", "archive/data/1"}
        assert archive.read("archive/byteorder") == b"little" and archive.read("archive/version") == b"3\n"
        assert archive.read("archive/data/0") == np.arange(12.0, dtype=np.float32).tobytes()  # w and v share it
        assert archive.read("archive/data/1") == bytes(40)
        for info in infos.values():
            assert info.compress_type == zipfile.ZIP_STORED
            name_length, extra_length = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
            assert (info.header_offset + 30 + name_length + extra_length) % 64 == 0  # aligned, as torch.save's
        assert archive.read("archive/data.pkl")[:2] == b"\x80\x02"
    loaded = gradlab.load(tmp_path / "m.pt")
    assert np.shares_memory(loaded["w"].numpy(), loaded["v"].numpy())


def test_the_format_is_chosen_by_content_not_name(tmp_path):
    gradlab.save({"w": gradlab.ones(2)}, tmp_path / "torch.gl", format="torch")
    gradlab.save({"w": gradlab.ones(2)}, tmp_path / "own.pt")  # gradlab's own format, whatever the name
    assert (tmp_path / "torch.gl").read_bytes()[:4] == b"PK\x03\x04"
    assert (tmp_path / "own.pt").read_bytes()[:8] == b"GRADLAB\0"
    for name in ("torch.gl", "own.pt"):
        assert gradlab.load(tmp_path / name)["w"].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="unknown format 'onnx'"):
        gradlab.save({}, tmp_path / "x", format="onnx")


def test_a_pipe_is_read_like_a_file():
    data = gradlab_torch_bytes({"w": gradlab.arange(5)})
    assert len(data) < 16384  # fits in the pipe's buffer, so one thread can write it all first
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    with open(read_end, "rb") as pipe:
        assert not pipe.seekable()
        assert gradlab.load(pipe)["w"].tolist() == list(range(5))


def test_unsupported_values_are_named_before_anything_is_written(tmp_path):
    target = tmp_path / "m.pt"
    target.write_bytes(b"old")
    with pytest.raises(TypeError, match=r"cannot save numpy.ndarray at obj\['a'\]\[1\]"):
        gradlab.save({"a": [1, np.zeros(2)]}, target, format="torch")
    cycle = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="contains itself"):
        gradlab.save(cycle, target, format="torch")
    assert target.read_bytes() == b"old"


# ============================================================================ hostile files
def pt_file(pickle_bytes, storages=(), prefix="archive", extra=(), compress=zipfile.ZIP_STORED):
    """A torch.save-shaped zip around hand-made pickle bytes; ``storages`` are (key, bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{prefix}/data.pkl", pickle_bytes, compress_type=compress)
        archive.writestr(f"{prefix}/byteorder", b"little")
        for key, data in storages:
            archive.writestr(f"{prefix}/data/{key}", data, compress_type=compress)
        for name, data in extra:
            archive.writestr(name, data)
    return buffer.getvalue()


class Payload:
    """Pickles as a call of ``fn(*args)``: what a malicious .pt file holds."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def assert_refused(data, match, sentinel=None):
    with pytest.raises(SerializationError, match=match):
        load_bytes(data)
    if sentinel is not None:
        assert not sentinel.exists(), "the file ran code"


def test_a_pickle_calling_os_system_is_refused_and_runs_nothing(tmp_path):
    sentinel = tmp_path / "sentinel"
    payload = pickle.dumps({"w": Payload(os.system, f"touch {sentinel}")}, protocol=2)
    assert_refused(pt_file(payload), r"global '(posix|nt|os)\.system'", sentinel)
    # the payload is live: Python's own unpickler runs the command
    (tmp_path / "data.pkl").write_bytes(payload)
    subprocess.run([sys.executable, "-m", "pickle", str(tmp_path / "data.pkl")], capture_output=True, timeout=60)
    assert sentinel.exists()


def test_a_pickle_calling_eval_is_refused_and_runs_nothing(tmp_path):
    sentinel = tmp_path / "sentinel"
    payload = pickle.dumps(Payload(eval, f"open({str(sentinel)!r}, 'w')"), protocol=4)  # STACK_GLOBAL
    assert_refused(pt_file(payload), r"global 'builtins\.eval'", sentinel)


@pytest.mark.parametrize("module, name", [
    ("os", "system"), ("builtins", "exec"), ("builtins", "getattr"), ("__builtin__", "eval"),
    ("subprocess", "Popen"), ("torch", "load"), ("torch.serialization", "load"), ("copyreg", "_reconstructor"),
    ("numpy.core.multiarray", "_reconstruct"), ("torch._utils", "_rebuild_device_tensor_from_numpy"),
    ("gradlab.serialization", "save"), ("collections", "defaultdict"),
])
def test_global_opcodes_for_forbidden_names_are_refused(module, name):
    data = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b")R."
    assert_refused(pt_file(data), "refused PyTorch file: the pickle asks for the global")


@pytest.mark.parametrize("case, data, match", [
    # REDUCE on an allowed name that is not a function (a storage type)
    ("call a storage type", b"\x80\x02ctorch\nFloatStorage\n)R.", "not an allowed function"),
    # REDUCE on a plain value, as a __reduce__ returning a string would produce
    ("call a string", b"\x80\x02X\x04\x00\x00\x00evil)R.", "not an allowed function"),
    # BUILD that would set attributes (e.g. __class__) on an allowed object
    ("BUILD __class__", b"\x80\x02ccollections\nOrderedDict\n)R}X\x09\x00\x00\x00__class__ctorch\nSize\nsb.",
     "BUILD sets the state"),
    # protocol 0 INST and protocol 2 NEWOBJ: object construction opcodes are not interpreted
    ("INST", b"(ios\nsystem\nX\x04\x00\x00\x00true.", "opcode INST"),
    ("NEWOBJ", b"\x80\x02ccollections\nOrderedDict\n)\x81.", "opcode NEWOBJ"),
    # APPENDS and SETITEMS on something that is not a list or dict (they would call its methods)
    ("APPENDS on a tensor builder", b"\x80\x02ctorch\nSize\n(K\x01e.", "only a list"),
    ("a persistent id that is not a storage", b"\x80\x02X\x04\x00\x00\x00evilQ.", "persistent id"),
    ("rebuild with a non-storage", b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(K\x00K\x00)\x29\x89}tR.",
     "where a storage belongs"),
    ("truncated pickle", b"\x80\x02X\xff\x00\x00\x00ab", "truncated pickle"),
    ("no STOP", b"\x80\x02N", "truncated pickle"),
])
def test_reduce_tricks_and_forbidden_opcodes_are_refused(case, data, match):
    assert_refused(pt_file(data), match)


def storage_pickle(numel, size, stride, offset=0, key="0"):
    """A pickle of ``_rebuild_tensor_v2(FloatStorage key numel, offset, size, stride, False, OrderedDict())``."""
    def ints(values):
        return b"(" + b"".join(b"K" + bytes([v]) for v in values) + b"t"
    return (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
            + b"X" + struct.pack("<I", len(key)) + key.encode() + b"X\x03\x00\x00\x00cpuK" + bytes([numel])
            + b"tQK" + bytes([offset]) + ints(size) + ints(stride) + b"\x89ccollections\nOrderedDict\n)RtR.")


def test_a_well_formed_hand_made_storage_loads():
    data = pt_file(storage_pickle(4, (2, 2), (1, 2)), [("0", np.arange(4, dtype=np.float32).tobytes())])
    assert load_bytes(data).tolist() == [[0.0, 2.0], [1.0, 3.0]]


@pytest.mark.parametrize("pickle_bytes, storage, match", [
    (storage_pickle(10, (4,), (1,)), bytes(16), "the pickle says 10 FloatStorage elements"),
    (storage_pickle(4, (5,), (1,)), bytes(16), "reaches element 4, but its storage holds 4"),
    (storage_pickle(4, (2, 2), (2, 1), offset=1), bytes(16), "reaches element 4"),
    (storage_pickle(4, (4,), (1,), key="../0"), bytes(16), "is not a plain name"),
    (storage_pickle(4, (4,), (1,), key="1"), bytes(16), "has no member archive/data/1"),
])
def test_storages_whose_size_does_not_match_their_tensors_are_refused(pickle_bytes, storage, match):
    assert_refused(pt_file(pickle_bytes, [("0", storage)]), match)


@pytest.mark.parametrize("name", ["/tmp/gradlab_sentinel", "../gradlab_sentinel", "archive/../../gradlab_sentinel",
                                  "C:\\gradlab_sentinel", "archive\\..\\gradlab_sentinel"])
def test_zip_member_names_that_escape_are_refused_and_nothing_is_written(tmp_path, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = pt_file(b"\x80\x02N.", extra=[(name, b"evil")])
    before = set(os.listdir(tmp_path)) | set(os.listdir(tmp_path.parent))
    assert_refused(data, "absolute path or contains '..'")
    assert set(os.listdir(tmp_path)) | set(os.listdir(tmp_path.parent)) == before
    assert not os.path.exists("/tmp/gradlab_sentinel")


def test_duplicate_members_and_several_pickles_are_refused():
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate name it is asked to write
        data = pt_file(b"\x80\x02N.", extra=[("archive/data.pkl", b"\x80\x02K\x01.")])
    assert_refused(data, "appears twice")
    assert_refused(pt_file(b"\x80\x02N.", extra=[("other/data.pkl", b"\x80\x02N.")]), "expected one")


def assert_refused_in_little_memory(data, match):
    tracemalloc.start()
    try:
        assert_refused(data, match)
        assert tracemalloc.get_traced_memory()[1] < 4 << 20  # the peak: nothing of the declared size was read
    finally:
        tracemalloc.stop()


def test_a_compressed_storage_zip_bomb_is_refused_unread():
    bomb = pt_file(storage_pickle(0, (0,), (1,)), [("0", bytes(64 << 20))], compress=zipfile.ZIP_DEFLATED)
    assert len(bomb) < 200_000  # 64 MiB of zeros deflate to almost nothing
    assert_refused_in_little_memory(bomb, "storage 0 is compressed")


def test_a_member_declaring_a_huge_size_is_refused_unread():
    data = bytearray(pt_file(b"\x80\x02N." + bytes(1000), compress=zipfile.ZIP_DEFLATED))
    central = data.index(b"PK\x01\x02")  # the first central directory entry: archive/data.pkl
    data[central + 24:central + 28] = struct.pack("<I", 0xFFFFFFF0)  # its uncompressed size: 4 GiB
    assert_refused_in_little_memory(bytes(data), "declares 4294967280 bytes, more than the 268435456 allowed")


def test_truncated_and_bit_flipped_torch_files_are_refused():
    data = gradlab_torch_bytes({"w": gradlab.arange(100.0)})
    for cut in (10, len(data) // 2, len(data) - 10):
        with pytest.raises(SerializationError):
            load_bytes(data[:cut])
    start = data.index(np.arange(100.0, dtype=np.float32).tobytes())
    flipped = bytearray(data)
    flipped[start + 17] ^= 0x10
    with pytest.raises(SerializationError, match="CRC"):  # zip's CRC-32 covers every member
        load_bytes(bytes(flipped))


def test_scalars_and_views_that_cannot_share_their_buffer_are_saved_as_copies(torch):
    base = gradlab.arange(12.0).reshape(3, 4)
    obj = {"scalar_of_transpose": base.t()[1, 2], "reversed": gradlab.from_numpy(np.arange(4.0)[::-1]),
           "scalar": gradlab.tensor(3),
           "reinterpreted": gradlab.from_numpy(np.arange(4, dtype=np.int32).view(np.uint8))}
    for loaded in (load_bytes(gradlab_torch_bytes(obj)), torch.load(io.BytesIO(gradlab_torch_bytes(obj)))):
        assert as_plain(loaded) == as_plain(obj)
