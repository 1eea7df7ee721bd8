"""gradlab.save / gradlab.load: round trips, the documented format, and hostile files.

The format is described in docs/serialization.md; ``build_file`` below is an
independent writer that follows that description, used both to check the
description and to forge files whose checksum is right but whose header lies.
"""
import collections
import hashlib
import io
import json
import math
import random
import struct
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradlab
from gradlab.serialization import SerializationError
from serialization_cases import build_file, load_bytes, roundtrip, saved_bytes, tensor_header

DTYPES = [gradlab.float16, gradlab.float32, gradlab.float64, gradlab.int8, gradlab.int16, gradlab.int32,
          gradlab.int64, gradlab.uint8, gradlab.bool]


# ============================================================================ helpers
class Stream(io.RawIOBase):
    """A read-only, non-seekable stream (like a pipe), which cannot report its size."""

    def __init__(self, data):
        self._inner = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, b):
        return self._inner.readinto(b)


def assert_same(expected, actual):
    """Equal values of exactly the same types, key order, dtypes, shapes and flags (iterative)."""
    pending = [(expected, actual, "obj")]
    while pending:
        a, b, where = pending.pop()
        assert type(a) is type(b), f"{where}: {type(a).__name__} became {type(b).__name__}"
        if isinstance(a, gradlab.Tensor):
            assert (a.dtype, a.shape, a.requires_grad) == (b.dtype, b.shape, b.requires_grad), where
            assert a.detach().numpy().tobytes() == b.detach().numpy().tobytes(), where  # bitwise, nan included
        elif isinstance(a, float):
            assert (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b)), where
        elif isinstance(a, (list, tuple)):
            assert len(a) == len(b), where
            pending.extend((x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b)))
        elif isinstance(a, dict):
            assert list(a.keys()) == list(b.keys()), where
            for (ka, va), (kb, vb) in zip(a.items(), b.items()):
                pending.append((ka, kb, f"{where} key {ka!r}"))
                pending.append((va, vb, f"{where}[{ka!r}]"))
        else:
            assert a == b, where


def parse_file(data):
    """Read a file the way docs/serialization.md says; returns (header, data section)."""
    magic, version, flags, header_nbytes, data_nbytes, checksum = struct.unpack("<8sIIQQ32s", data[:64])
    assert (magic, version, flags) == (b"GRADLAB\0", 1, 0)
    assert hashlib.sha256(data[:32] + data[64:]).digest() == checksum
    data_start = -(-(64 + header_nbytes) // 64) * 64
    assert len(data) == data_start + data_nbytes
    assert data[64 + header_nbytes:data_start] == bytes(data_start - 64 - header_nbytes)
    return json.loads(data[64:64 + header_nbytes].decode("ascii")), data[data_start:]


# ============================================================================ round trips
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 3), (2, 3, 4)], ids=str)
def test_tensor_roundtrip_every_dtype_and_shape(dtype, shape):
    rng = np.random.default_rng(0)
    array = np.asarray(rng.standard_normal(shape) * 50).astype(dtype.np)
    t = gradlab.from_numpy(array)
    back = roundtrip(t)
    assert_same(t, back)
    assert back._data.flags.c_contiguous and back._data.flags.writeable and back._data.dtype.isnative


def test_float_tensors_keep_nan_inf_and_negative_zero_bitwise():
    for dtype in (np.float16, np.float32, np.float64):
        array = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-8, np.finfo(dtype).max], dtype=dtype)
        assert roundtrip(gradlab.from_numpy(array)).numpy().tobytes() == array.tobytes()


def test_views_are_saved_as_their_own_values():
    base = gradlab.arange(200_000, dtype=gradlab.float32).reshape(400, 500)
    views = {"transposed": base.T, "strided": base[::7, 3::11], "row": base[5], "narrow": base[:2, :3]}
    back = roundtrip(views)
    assert not views["transposed"].is_contiguous() and not views["strided"].is_contiguous()
    for name, view in views.items():
        np.testing.assert_array_equal(back[name].numpy(), view.numpy())
        assert back[name].is_contiguous()
    assert len(saved_bytes(base[:2, :3])) < 1024  # six values, not the 800 KB base


def test_requires_grad_is_kept_and_a_non_leaf_loads_as_a_leaf():
    leaf = gradlab.tensor([1.0, 2.0], requires_grad=True)
    computed = leaf * 3
    back = roundtrip([leaf, computed, gradlab.tensor([1.0])])
    assert [t.requires_grad for t in back] == [True, True, False]
    assert back[1].is_leaf and back[1].grad_fn is None
    np.testing.assert_array_equal(back[1].numpy(force=True), [3.0, 6.0])


def test_the_same_tensor_twice_is_stored_once_and_loads_as_one_object():
    t = gradlab.randn(100)
    back = roundtrip({"a": t, "b": [t], "c": t.clone()})
    assert back["a"] is back["b"][0]
    assert back["c"] is not back["a"]
    header, _ = parse_file(saved_bytes([t, t]))
    assert len(header["tensors"]) == 1


def test_python_values_and_container_types_are_kept():
    obj = {
        "none": None, "bools": [True, False], "ints": [0, -1, 2**70, -(2**63)],
        "floats": [0.1, -0.0, float("nan"), float("inf"), float("-inf"), 5e-324, 1.7976931348623157e308],
        "text": ["", "héllo ∑ \U0001F600", "quote\" and \\ backslash", "\x00"],
        "tuple": (1, (2, (3,))), "empty": [[], (), {}, collections.OrderedDict()],
        7: "int key", -1: "negative", (1, "a"): "tuple key", None: "none key", 2.5: "float key",
        "ordered": collections.OrderedDict([("z", 1), ("a", 2), ("m", 3)]),
        "size": gradlab.Size([2, 3]), "dtype": gradlab.float16, "device": gradlab.device("cpu"),
    }
    back = roundtrip(obj)
    assert_same(obj, back)
    assert list(back["ordered"]) == ["z", "a", "m"]


def test_deep_nesting_needs_no_recursion():
    deep = leaf = []
    for _ in range(20_000):
        inner = []
        leaf.append(inner)
        leaf = inner
    leaf.append(gradlab.ones(2))
    back = roundtrip(deep)
    for _ in range(20_000):
        assert type(back) is list and len(back) == 1
        back = back[0]
    np.testing.assert_array_equal(back[0].numpy(), [1.0, 1.0])


# ---------------------------------------------------------------- hypothesis
@st.composite
def tensors(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    array = draw(hnp.arrays(dtype.np, shape))
    t = gradlab.from_numpy(array)
    if draw(st.booleans()) and t.dim() >= 2:
        t = t.transpose(0, 1)  # a non-contiguous view
    if dtype.is_floating_point and draw(st.booleans()):
        t = t.detach().requires_grad_(True)
    return t


keys = st.one_of(st.text(max_size=5), st.integers(), st.none(), st.tuples(st.integers(), st.text(max_size=3)))
leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10), tensors())
nested = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(keys, children, max_size=4),
        st.dictionaries(keys, children, max_size=4).map(lambda d: collections.OrderedDict(reversed(d.items()))),
    ),
    max_leaves=20,
)


@given(nested)
def test_hypothesis_nested_structures_roundtrip(obj):
    assert_same(obj, roundtrip(obj))


@given(nested)
@settings(max_examples=10)
def test_hypothesis_roundtrip_through_a_path_and_a_stream(tmp_path_factory, obj):
    path = tmp_path_factory.mktemp("rt") / "obj.gl"
    gradlab.save(obj, path)
    assert_same(obj, gradlab.load(path))
    assert_same(obj, gradlab.load(str(path)))
    assert_same(obj, gradlab.load(Stream(path.read_bytes())))


# ---------------------------------------------------------------- state dicts
def test_module_like_state_dict_roundtrip_keeps_order_type_and_metadata():
    sd = collections.OrderedDict()
    sd["0.weight"] = gradlab.randn(6, 1, 5, 5)
    sd["0.bias"] = gradlab.zeros(6)
    sd["bn.running_mean"] = gradlab.zeros(6)
    sd["bn.num_batches_tracked"] = gradlab.tensor(12)
    sd["fc.weight"] = gradlab.randn(10, 84)
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("bn", {"version": 2})])
    back = roundtrip(sd)
    assert_same(sd, back)
    assert_same(sd._metadata, back._metadata)


def test_optimizer_like_state_dict_roundtrip():
    sd = {
        "state": {0: {"step": gradlab.tensor(3.0), "exp_avg": gradlab.randn(4, 3), "exp_avg_sq": gradlab.rand(4, 3)},
                  1: {"step": gradlab.tensor(3.0), "exp_avg": gradlab.randn(3), "exp_avg_sq": gradlab.rand(3)}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "amsgrad": False,
                          "maximize": False, "foreach": None, "capturable": False, "differentiable": False,
                          "fused": None, "params": [0, 1]}],
    }
    back = roundtrip(sd)
    assert_same(sd, back)
    assert list(back["state"]) == [0, 1] and back["param_groups"][0]["betas"] == (0.9, 0.999)


def test_parameter_roundtrip():
    nn = pytest.importorskip("gradlab.nn")
    p = nn.Parameter(gradlab.randn(3, 2))
    frozen = nn.Parameter(gradlab.ones(2), requires_grad=False)
    back = roundtrip({"p": p, "frozen": frozen, "plain": p.detach()})
    assert type(back["p"]) is nn.Parameter and back["p"].requires_grad and back["p"].is_leaf
    assert type(back["frozen"]) is nn.Parameter and not back["frozen"].requires_grad
    assert type(back["plain"]) is gradlab.Tensor
    assert_same({"p": p, "frozen": frozen}, {"p": back["p"], "frozen": back["frozen"]})


def _small_model(nn):
    """Real layers (conv, batch norm with its int64 counter, linear) plus a bare Parameter and buffers."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
            self.head = nn.Linear(2 * 4 * 4, 3)
            self.scale = nn.Parameter(gradlab.rand(3))
            self.register_buffer("scratch", gradlab.zeros(3), persistent=False)

        def forward(self, x):
            return self.head(self.features(x).flatten(1)) * self.scale

    return Net()


def test_a_real_module_state_dict_loads_into_a_fresh_module(tmp_path):
    nn = pytest.importorskip("gradlab.nn")
    model, fresh = _small_model(nn), _small_model(nn)
    model(gradlab.randn(4, 1, 6, 6))  # train-mode batch norm moves its running stats
    gradlab.save(model.state_dict(), tmp_path / "model.gl")
    loaded = gradlab.load(tmp_path / "model.gl")
    assert list(loaded) == list(model.state_dict()) == [
        "scale", "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
        "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked", "head.weight",
        "head.bias"]
    assert loaded["features.1.num_batches_tracked"].dtype == gradlab.int64
    assert loaded._metadata == model.state_dict()._metadata
    fresh.load_state_dict(loaded)
    assert_same(model.state_dict(), fresh.state_dict())
    x = gradlab.randn(2, 1, 6, 6)
    model.eval(), fresh.eval()
    np.testing.assert_array_equal(model(x).detach().numpy(), fresh(x).detach().numpy())


def test_keep_vars_state_dict_loads_as_parameters(tmp_path):
    nn = pytest.importorskip("gradlab.nn")
    model = _small_model(nn)
    gradlab.save(model.state_dict(keep_vars=True), tmp_path / "model.gl")
    loaded = gradlab.load(tmp_path / "model.gl")
    for name, value in model.state_dict(keep_vars=True).items():
        assert type(loaded[name]) is type(value) and loaded[name].requires_grad == value.requires_grad, name


def _train_steps(model, opt, steps, seed):
    gen = np.random.default_rng(seed)
    for _ in range(steps):
        opt.zero_grad()
        x = gradlab.from_numpy(gen.standard_normal((4, 1, 6, 6)).astype(np.float32))
        model(x).pow(2).mean().backward()
        opt.step()


@pytest.mark.parametrize("make_optimizer", [
    lambda optim, params: optim.Adam(params, lr=0.01, betas=(0.8, 0.9), amsgrad=True),
    lambda optim, params: optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
], ids=["Adam", "SGD"])
def test_a_real_optimizer_state_dict_loads_into_a_fresh_optimizer(tmp_path, make_optimizer):
    nn = pytest.importorskip("gradlab.nn")
    optim = pytest.importorskip("gradlab.optim")
    model = _small_model(nn)
    opt = make_optimizer(optim, model.parameters())
    _train_steps(model, opt, 3, seed=0)
    gradlab.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, tmp_path / "ckpt.gl")
    ckpt = gradlab.load(tmp_path / "ckpt.gl")
    assert_same(opt.state_dict(), ckpt["optim"])
    fresh_model = _small_model(nn)
    fresh_model.load_state_dict(ckpt["model"])
    fresh_opt = make_optimizer(optim, fresh_model.parameters())
    fresh_opt.load_state_dict(ckpt["optim"])
    assert_same(opt.state_dict(), fresh_opt.state_dict())
    _train_steps(model, opt, 2, seed=1)  # resuming gives exactly what continuing gives
    _train_steps(fresh_model, fresh_opt, 2, seed=1)
    assert_same(model.state_dict(), fresh_model.state_dict())


# ---------------------------------------------------------------- what cannot be saved
@pytest.mark.parametrize("bad, where", [
    ({"a": [1, np.zeros(2)]}, "obj['a'][1]"),
    ([{1, 2}], "obj[0]"),
    ({"x": np.float32(1.0)}, "obj['x']"),
    ({(1, object()): 2}, "obj (the key (1,"),
    ([b"bytes"], "obj[0]"),
], ids=["ndarray", "set", "numpy-scalar", "object-in-key", "bytes"])
def test_unsupported_values_name_their_place(bad, where):
    with pytest.raises(TypeError, match="cannot save") as info:
        saved_bytes(bad)
    assert where in str(info.value)


def test_cycles_are_refused():
    loop = [1]
    loop.append({"again": loop})
    with pytest.raises(ValueError, match="contains itself"):
        saved_bytes(loop)
    shared = [1, 2]
    assert_same([shared, shared], roundtrip([shared, shared]))  # sharing without a cycle is fine


# ============================================================================ the documented format
def test_file_layout_matches_the_documentation():
    t = gradlab.arange(5, dtype=gradlab.int16)
    p = gradlab.full((3, 2), 0.5, dtype=gradlab.float64, requires_grad=True)
    data = saved_bytes({"t": t, "p": p, "n": 2.5})
    assert data[:8] == b"GRADLAB\0" and data[8:12] == (1).to_bytes(4, "little")
    header, section = parse_file(data)
    assert header["nodes"][header["root"]]["type"] == "dict" and header["root"] == len(header["nodes"]) - 1
    first, second = header["tensors"]
    assert first == {"dtype": "int16", "shape": [5], "offset": 0, "nbytes": 10, "requires_grad": False,
                     "parameter": False}
    assert second == {"dtype": "float64", "shape": [3, 2], "offset": 64, "nbytes": 48, "requires_grad": True,
                      "parameter": False}
    assert section[:10] == np.arange(5, dtype="<i2").tobytes()
    assert section[64:112] == np.full(6, 0.5, dtype="<f8").tobytes()
    assert (64 + len(json.dumps(header, separators=(",", ":")))) <= len(data) - len(section)


def test_a_file_written_from_the_documentation_loads():
    values = np.array([[1.5, -2.0], [3.0, 4.25]], dtype="<f4")
    header = {"root": 3, "tensors": [{"dtype": "float32", "shape": [2, 2], "offset": 0, "nbytes": 16,
                                      "requires_grad": True, "parameter": False}],
              "nodes": [{"type": "str", "value": "w"}, {"type": "tensor", "tensor": 0},
                        {"type": "float", "value": "-inf"},
                        {"type": "ordered_dict", "keys": [0], "values": [1], "metadata": 2}]}
    back = load_bytes(build_file(header, values.tobytes()))
    assert type(back) is collections.OrderedDict and back._metadata == float("-inf")
    assert back["w"].requires_grad
    np.testing.assert_array_equal(back["w"].detach().numpy(), values)


def test_error_class_is_both_value_and_runtime_error():
    assert issubclass(SerializationError, ValueError) and issubclass(SerializationError, RuntimeError)
    with pytest.raises(RuntimeError):
        load_bytes(b"")
    with pytest.raises(ValueError):
        load_bytes(b"")


# ============================================================================ damaged files
SMALL = {"w": gradlab.arange(6, dtype=gradlab.float32).reshape(2, 3), "step": 3, "b": gradlab.tensor([True, False]),
         "name": "small"}


def test_truncation_at_every_offset_is_detected(tmp_path):
    data = saved_bytes(SMALL)
    path = tmp_path / "cut.gl"
    for n in range(len(data)):
        expected = "empty" if n == 0 else "truncated"
        for source in (lambda: io.BytesIO(data[:n]), lambda: Stream(data[:n])):
            with pytest.raises(SerializationError, match=expected):
                gradlab.load(source())
        path.write_bytes(data[:n])
        with pytest.raises(SerializationError, match=expected):
            gradlab.load(path)
    assert_same(SMALL, load_bytes(data))


def test_truncation_message_gives_both_lengths():
    data = saved_bytes(SMALL)
    with pytest.raises(SerializationError, match=f"truncated: expected {len(data)} bytes, found {len(data) - 5}"):
        load_bytes(data[:-5])


def test_appended_bytes_are_detected():
    data = saved_bytes(SMALL)
    for source in (io.BytesIO, Stream):
        with pytest.raises(SerializationError, match="unexpected data after the end"):
            gradlab.load(source(data + b"\0"))


def test_every_single_byte_flip_is_detected():
    data = saved_bytes(SMALL)
    for i in range(len(data)):
        damaged = bytearray(data)
        damaged[i] ^= 0xFF
        with pytest.raises(SerializationError):
            load_bytes(bytes(damaged))


@given(st.data())
@settings(max_examples=200)
def test_hypothesis_random_byte_changes_are_detected(data):
    original = saved_bytes(SMALL)
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(original) - 1))
        damaged[position] ^= data.draw(st.integers(1, 255))
    if bytes(damaged) != original:  # two flips of one byte can cancel out
        with pytest.raises(SerializationError):
            load_bytes(bytes(damaged))


def test_checksum_mismatch_message():
    data = bytearray(saved_bytes(SMALL))
    data[-1] ^= 1  # inside the last tensor's bytes
    with pytest.raises(SerializationError, match="checksum mismatch: the file was modified or corrupted"):
        load_bytes(bytes(data))


def test_empty_and_random_files_are_refused(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(SerializationError, match="not a gradlab file: the file is empty"):
        gradlab.load(tmp_path / "empty")
    rng = random.Random(0)
    for n in (1, 7, 8, 63, 64, 65, 1000, 100_000):
        junk = bytes(rng.randrange(256) for _ in range(n))
        with pytest.raises(SerializationError, match="not a gradlab file"):
            load_bytes(junk)


@given(st.binary(min_size=1, max_size=300))
def test_hypothesis_random_bytes_are_refused(junk):
    with pytest.raises(SerializationError):
        load_bytes(junk)
    with pytest.raises(SerializationError):
        load_bytes(b"GRADLAB\0" + junk)  # right magic, garbage after it


def test_a_newer_version_and_unknown_flags_are_refused():
    header = tensor_header()
    with pytest.raises(SerializationError, match="unsupported format version 2"):
        load_bytes(build_file(header, bytes(8), version=2))
    with pytest.raises(SerializationError, match="flags"):
        load_bytes(build_file(header, bytes(8), flags=1))


def test_foreign_formats_are_named():
    npy = io.BytesIO()
    np.save(npy, np.zeros(3))
    cases = {b"PK\x03\x04" + bytes(100): "zip archive (PyTorch's format?)", npy.getvalue(): "NumPy .npy",
             b"\x1f\x8b\x08" + bytes(30): "gzip", b"\x80\x04\x95" + bytes(20): "pickle"}
    for data, what in cases.items():
        with pytest.raises(SerializationError, match=r"not a gradlab file: looks like .*" + what.split()[0]):
            load_bytes(data)


def _code_running_pickles(marker):
    """Two hand-assembled pickles whose loading calls builtins.open(marker, "w")."""
    name = str(marker).encode()
    protocol_2 = (b"\x80\x02cbuiltins\nopen\nX" + struct.pack("<I", len(name)) + name
                  + b"X\x01\x00\x00\x00w\x86R.")
    protocol_0 = b"cbuiltins\nopen\n(V" + name + b"\nVw\ntR."
    return {"protocol 2": protocol_2, "protocol 0": protocol_0}


@pytest.mark.parametrize("protocol", ["protocol 2", "protocol 0"])
def test_a_code_running_pickle_runs_nothing(tmp_path, protocol):
    marker = tmp_path / "marker"
    payload = tmp_path / "evil.pt"
    payload.write_bytes(_code_running_pickles(marker)[protocol])
    with pytest.raises(SerializationError, match="not a gradlab file: looks like a Python pickle"):
        gradlab.load(payload)
    with pytest.raises(SerializationError, match="pickle"):
        gradlab.load(payload, weights_only=False)
    assert not marker.exists()
    # the payload is live: Python's own unpickler (run as `python -m pickle FILE`) creates the marker
    subprocess.run([sys.executable, "-m", "pickle", str(payload)], capture_output=True, timeout=30)
    assert marker.exists()


def test_a_legacy_torch_file_is_refused_clearly():
    # torch.save's zip format loads (tests/serialization/test_torch_files.py); its pre-1.6 pickle format does not
    torch = pytest.importorskip("torch")
    legacy = io.BytesIO()
    torch.save(torch.ones(3), legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(SerializationError, match="looks like a Python pickle"):
        load_bytes(legacy.getvalue())


# ---------------------------------------------------------------- forged headers (valid checksum)
def _forged(header, data=b"", **kwargs):
    with pytest.raises(SerializationError, **kwargs):
        load_bytes(build_file(header, data))


@pytest.mark.parametrize("change, message", [
    ({"dtype": "complex64"}, "unknown dtype"),
    ({"dtype": ["float32"]}, "unknown dtype"),
    ({"shape": [-1]}, "invalid shape"),
    ({"shape": [2.0]}, "invalid shape"),
    ({"shape": [1] * 65}, "invalid shape"),
    ({"shape": [2**40, 2**40], "nbytes": 2**82}, "impossibly large"),
    ({"shape": [0, 2**62, 2**62], "nbytes": 0}, "impossibly large"),
    ({"nbytes": 12}, "needs 8 bytes"),
    ({"nbytes": True, "shape": [1], "dtype": "uint8"}, "needs 1 bytes"),
    ({"offset": 64}, "not an aligned range"),
    ({"offset": 3}, "not an aligned range"),
    ({"offset": -64}, "not an aligned range"),
    ({"shape": [10**9], "nbytes": 4 * 10**9}, "not an aligned range"),
    ({"requires_grad": 1}, "requires_grad must be true or false"),
    ({"dtype": "int64", "shape": [1], "requires_grad": True}, "cannot require grad"),
])
def test_forged_tensor_entries_are_refused_before_allocating(change, message):
    header = tensor_header()
    header["tensors"][0].update(change)
    tracemalloc.start()
    try:
        _forged(header, bytes(8), match=message)
        assert tracemalloc.get_traced_memory()[1] < 10 << 20
    finally:
        tracemalloc.stop()


def test_forged_bool_bytes_are_refused():
    _forged(tensor_header("bool", (3,)), b"\x00\x01\x02", match="other than 0 or 1")


@pytest.mark.parametrize("source", [io.BytesIO, Stream])
def test_lying_lengths_in_the_preamble_cost_no_memory(source):
    honest = saved_bytes(SMALL)
    for field_offset, value in ((16, 2**40), (24, 2**62), (24, 2**64 - 1), (16, 2**64 - 1)):
        forged = bytearray(honest)
        forged[field_offset:field_offset + 8] = struct.pack("<Q", value)
        tracemalloc.start()
        try:
            with pytest.raises(SerializationError, match="truncated|exceeds the limit"):
                gradlab.load(source(bytes(forged)))
            assert tracemalloc.get_traced_memory()[1] < 10 << 20
        finally:
            tracemalloc.stop()


@pytest.mark.parametrize("header, message", [
    ([1, 2], "fields"),
    ({"root": 0, "nodes": [], "tensors": []}, "root must be the last"),
    ({"root": True, "nodes": [{"type": "none"}, {"type": "none"}], "tensors": []}, "root must be the last"),
    ({"root": 0, "nodes": [{"type": "eval", "value": "1"}], "tensors": []}, "not a known node"),
    ({"root": 0, "nodes": [{"type": "int", "value": "1"}], "tensors": []}, "is not of type int"),
    ({"root": 0, "nodes": [{"type": "int", "value": 1.5}], "tensors": []}, "is not of type int"),
    ({"root": 0, "nodes": [{"type": "bool", "value": 1}], "tensors": []}, "is not of type bool"),
    ({"root": 0, "nodes": [{"type": "float", "value": "1e5"}], "tensors": []}, "is not of type float"),
    ({"root": 0, "nodes": [{"type": "list", "items": [0]}], "tensors": []}, "earlier node"),
    ({"root": 1, "nodes": [{"type": "none"}, {"type": "list", "items": [0, 0]}], "tensors": []}, "earlier node"),
    ({"root": 1, "nodes": [{"type": "none"}, {"type": "none"}], "tensors": []}, "not part of the saved object"),
    ({"root": 0, "nodes": [{"type": "tensor", "tensor": 0}], "tensors": []}, "tensor index 0"),
    ({"root": 0, "nodes": [{"type": "list", "items": [], "extra": 1}], "tensors": []}, "fields"),
    ({"root": 0, "nodes": [{"type": "dict", "keys": [], "values": [], "metadata": 0}], "tensors": []}, "fields"),
    ({"root": 2, "nodes": [{"type": "list", "items": []}, {"type": "none"}, {"type": "dict", "keys": [0],
                                                                            "values": [1]}], "tensors": []},
     "not hashable"),
    ({"root": 4, "nodes": [{"type": "int", "value": 1}, {"type": "none"}, {"type": "int", "value": 1},
                           {"type": "none"}, {"type": "dict", "keys": [0, 2], "values": [1, 3]}], "tensors": []},
     "duplicate keys"),
    ({"root": 2, "nodes": [{"type": "int", "value": 1}, {"type": "none"}, {"type": "dict", "keys": [0, 1],
                                                                           "values": []}], "tensors": []},
     "2 keys but 0 values"),
    ({"root": 0, "nodes": [{"type": "dtype", "value": ["x"]}], "tensors": []}, "unknown dtype"),
    ({"root": 0, "nodes": [{"type": "device", "value": "cuda"}], "tensors": []}, "unknown device"),
])
def test_forged_node_tables_are_refused(header, message):
    _forged(header, match=message)


def test_forged_json_is_refused():
    cases = {b"{": "not valid JSON \\(", b'{"root": NaN}': "NaN is not valid JSON",
             b'{"padding-key":' * 100_000 + b"0" + b"}" * 100_000: "JSON nested too deeply",
             b"[" * 100_000 + b"]" * 100_000: "100000 JSON arrays and objects in 200000 bytes",
             b"\xff\xfe": "not valid JSON \\("}
    for text, message in cases.items():
        first = struct.pack("<8sIIQQ", b"GRADLAB\0", 1, 0, len(text), 0)
        body = text + bytes(-(-(64 + len(text)) // 64) * 64 - 64 - len(text))
        with pytest.raises(SerializationError, match="^gradlab.load: a BytesIO stream: corrupted header: " + message):
            load_bytes(first + hashlib.sha256(first + body).digest() + body)


# ============================================================================ map_location, weights_only
@pytest.mark.parametrize("map_location", [None, "cpu", gradlab.device("cpu"), {"cpu": "cpu"}, {"cuda:0": "cpu"},
                                          lambda storage, location: storage, lambda storage, location: None],
                         ids=["none", "str", "device", "dict", "dict-other", "callable", "callable-none"])
def test_map_location_variants_keep_cpu_tensors(map_location):
    obj = {"w": gradlab.randn(3), "n": 1}
    assert_same(obj, roundtrip(obj, map_location=map_location))


def test_map_location_callable_sees_every_tensor_and_may_replace_it():
    seen = []

    def to_double(t, location):
        seen.append(location)
        return t.double()

    back = roundtrip([gradlab.ones(2), gradlab.zeros(3, dtype=gradlab.int32)], map_location=to_double)
    assert seen == ["cpu", "cpu"] and [t.dtype for t in back] == [gradlab.float64, gradlab.float64]
    with pytest.raises(TypeError, match="map_location returned int"):
        roundtrip([gradlab.ones(2)], map_location=lambda t, loc: 3)


def test_map_location_to_a_gpu_is_an_error():
    with pytest.raises(RuntimeError, match="CPU only"):
        roundtrip(gradlab.ones(1), map_location="cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        roundtrip(gradlab.ones(1), map_location={"cpu": "cuda:0"})
    with pytest.raises(TypeError, match="map_location must be"):
        roundtrip(gradlab.ones(1), map_location=3)


def test_weights_only_and_mmap_are_accepted():
    obj = {"w": gradlab.ones(2)}
    for kwargs in ({"weights_only": True}, {"weights_only": False}, {"weights_only": None}, {"mmap": False}):
        assert_same(obj, roundtrip(obj, **kwargs))


def test_save_to_a_write_only_stream_needs_no_seeking():
    class Sink:
        def __init__(self):
            self.pieces = []

        def write(self, piece):
            self.pieces.append(bytes(piece))
            return len(piece)

    sink = Sink()
    gradlab.save(SMALL, sink)
    assert_same(SMALL, load_bytes(b"".join(sink.pieces)))


def test_load_reads_from_the_current_position():
    buffer = io.BytesIO(b"prefix")
    buffer.seek(0, io.SEEK_END)
    gradlab.save(SMALL, buffer)
    buffer.seek(len(b"prefix"))
    assert_same(SMALL, gradlab.load(buffer))


def test_bad_file_arguments():
    with pytest.raises(TypeError, match="path or a binary file object"):
        gradlab.save(1, 3)
    with pytest.raises(TypeError, match="path or a binary file object"):
        gradlab.load(3)
    with pytest.raises(FileNotFoundError):
        gradlab.load("/nonexistent/dir/file.gl")
