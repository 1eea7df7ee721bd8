"""gradlab.load never trusts the header's sizes (issue 18, class 2).

What load allocates is measured with tracemalloc against the file's size, for
ordinary checkpoints and for forged files built to make it allocate; forged,
truncated and garbage files must raise SerializationError naming the file.

    python tests/serialization/test_load_bounds.py    # prints the measured table
"""
import hashlib
import io
import math
import os
import struct
import sys
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gradlab  # noqa: E402
from gradlab.serialization import SerializationError  # noqa: E402
from serialization_cases import build_file, load_bytes, saved_bytes  # noqa: E402

DATA_FACTOR, HEADER_FACTOR, SLACK = 2, 24, 1 << 20  # the bound docs/serialization.md states


def _entry(offset=0, nbytes=64, dtype="uint8", shape=None):
    return {"dtype": dtype, "shape": [nbytes] if shape is None else shape, "offset": offset, "nbytes": nbytes,
            "requires_grad": False, "parameter": False}


def _tensor_list(entries):
    n = len(entries)
    return {"root": n, "nodes": [{"type": "tensor", "tensor": i} for i in range(n)] + [
        {"type": "list", "items": list(range(n))}], "tensors": entries}


def _build_raw(header_bytes, data=b""):
    """A file whose header is ``header_bytes`` verbatim (checksum right): anything for the JSON parser."""
    data_start = -(-(64 + len(header_bytes)) // 64) * 64
    first = struct.pack("<8sIIQQ", b"GRADLAB\0", 1, 0, len(header_bytes), len(data))
    body = header_bytes + bytes(data_start - 64 - len(header_bytes)) + data
    return first + hashlib.sha256(first + body).digest() + body


def cases():
    """(name, file bytes): ordinary checkpoints, then files forged to make load allocate."""
    mib = 1 << 20
    items = b"".join
    yield "state_dict, 16 float32 256x256", saved_bytes({f"w{i}": gradlab.randn(256, 256) for i in range(16)})
    yield "checkpoint, 30k Python floats", saved_bytes({"losses": [i + 0.5 for i in range(30_000)]})
    yield "50k None", saved_bytes([None] * 50_000)
    yield "30k short str", saved_bytes([f"s{i}" for i in range(30_000)])
    yield "5k scalar tensors", saved_bytes([gradlab.zeros(()) for _ in range(5_000)])
    yield "5k empty tensors", saved_bytes([gradlab.zeros(0, 5) for _ in range(5_000)])
    yield "forged: 400 entries on one 1 MiB buffer", build_file(_tensor_list([_entry(0, mib)] * 400), bytes(mib))
    yield "forged: [[],[],...]", _build_raw(b"[" + b"[]," * 100_000 + b"[]]")
    yield "forged: list of short str", _build_raw(
        b'{"root":0,"nodes":[{"type":"list","items":[' + items([b'"ab",'] * 100_000) + b'"ab"]}],"tensors":[]}')
    yield "forged: list of floats", _build_raw(
        b'{"root":0,"nodes":[{"type":"list","items":[' + items([b'1e5,'] * 100_000) + b'1]}],"tensors":[]}')
    yield "forged: list of small objects", _build_raw(
        b'{"root":0,"nodes":[{"type":"list","items":[' + items([b'{"a":"abcdefgh"},'] * 30_000)
        + b'1]}],"tensors":[]}')
    yield "forged: 30k distinct keys", _build_raw(
        b'{' + b",".join(b'"k%d":0' % i for i in range(30_000)) + b'}')


def measure(data):
    """(peak bytes traced while loading ``data``, the result or the error message)."""
    tracemalloc.start()
    try:
        outcome = gradlab.load(io.BytesIO(data))
    except SerializationError as error:
        outcome = str(error)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, outcome


def bound(data):
    header_nbytes = int.from_bytes(data[16:24], "little")
    return DATA_FACTOR * len(data) + HEADER_FACTOR * header_nbytes + SLACK


CASES = dict(cases())


@pytest.mark.parametrize("name", list(CASES))
def test_load_allocates_a_small_multiple_of_the_file(name):
    data = CASES[name]
    peak, outcome = measure(data)
    assert peak <= bound(data), f"{name}: peak {peak} bytes for a {len(data)}-byte file"
    if name.startswith("forged"):
        assert isinstance(outcome, str) and outcome.startswith("gradlab.load: a BytesIO stream: corrupted header")
    else:  # an ordinary file of tensors costs about twice its size: the bytes read and the tensors' copies
        if "state_dict" not in name:
            return
        assert peak <= 2.2 * len(data) + SLACK, f"{name}: peak {peak} for {len(data)} bytes"


def test_entries_sharing_bytes_are_refused_by_name():
    for entries in ([_entry(0, 128), _entry(64, 64)], [_entry(0, 64), _entry(128, 64), _entry(0, 192)]):
        with pytest.raises(SerializationError, match="tensors 0 and . share bytes"):
            load_bytes(build_file(_tensor_list(entries), bytes(256)))


def test_adjacent_and_empty_entries_are_accepted():
    entries = [_entry(0, 64), _entry(64, 64), _entry(64, 0, shape=[0]), _entry(0, 0, shape=[0, 7])]
    loaded = load_bytes(build_file(_tensor_list(entries), bytes(128)))
    assert [t.shape for t in loaded] == [(64,), (64,), (0,), (0, 7)]


# ---------------------------------------------------------------- hypothesis: forged tables
_dtypes = st.sampled_from(["uint8", "int16", "float32", "float64", "bool", "int64", "float16"])
_sizes = st.one_of(st.integers(0, 8), st.integers(0, 1 << 70), st.sampled_from([-1, 1 << 31, 1 << 32, 1 << 63]))


@st.composite
def forged_entries(draw):
    entries = []
    for _ in range(draw(st.integers(1, 12))):
        dtype = draw(_dtypes)
        shape = draw(st.lists(_sizes, max_size=4))
        itemsize = {"uint8": 1, "bool": 1, "int16": 2, "float16": 2, "float32": 4}.get(dtype, 8)
        honest = math.prod(shape) * itemsize
        nbytes = draw(st.sampled_from([honest, honest + 1, 0, 1 << 40]))
        offset = draw(st.sampled_from([0, 64, 128, 192, 256, 1 << 40, -64, 1]))
        entries.append(_entry(offset, nbytes, dtype, shape))
    return entries


@given(forged_entries(), st.integers(0, 512))
@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)
def test_hypothesis_forged_tensor_tables_load_within_the_file_or_are_refused(entries, data_nbytes):
    data = bytes(data_nbytes)
    try:
        loaded = load_bytes(build_file(_tensor_list(entries), data))
    except SerializationError as error:
        assert str(error).startswith("gradlab.load: a BytesIO stream: corrupted header: ")
        return
    assert sum(t.numel() * t.element_size() for t in loaded) <= len(data)


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                         st.sampled_from(["root", "nodes", "tensors", "type", "items", "keys", "values", "value",
                                          "tensor", "metadata", "dtype", "shape", "offset", "nbytes"]) | st.text(
                             max_size=4), inner, max_size=5), max_leaves=30)
_node = st.fixed_dictionaries({"type": st.sampled_from(["none", "bool", "int", "bigint", "float", "str", "tensor",
                                                        "size", "dtype", "device", "list", "tuple", "dict",
                                                        "ordered_dict"])},
                              optional={"value": _json, "items": st.lists(st.integers(-2, 6), max_size=4),
                                        "keys": st.lists(st.integers(-2, 6), max_size=3), "tensor": _json,
                                        "values": st.lists(st.integers(-2, 6), max_size=3), "metadata": _json})


@given(st.one_of(_json, st.fixed_dictionaries({"root": st.integers(-1, 8), "nodes": st.lists(_node, max_size=8),
                                               "tensors": st.lists(_json, max_size=2)})))
@settings(max_examples=300)
def test_hypothesis_garbage_headers_are_refused_or_load(header):
    try:
        load_bytes(build_file(header))
    except SerializationError as error:
        assert str(error).startswith("gradlab.load: a BytesIO stream: corrupted header: ")


# ---------------------------------------------------------------- damaged files name the file
@given(st.data())
@settings(max_examples=100)
def test_hypothesis_truncated_or_flipped_files_name_the_file(tmp_path_factory, data):
    good = saved_bytes({"w": gradlab.arange(50, dtype=gradlab.float32), "n": 1 << 100, "s": "x"})
    if data.draw(st.booleans(), label="truncate"):
        bad = good[:data.draw(st.integers(0, len(good) - 1), label="length")]
    else:
        at = data.draw(st.integers(0, len(good) - 1), label="at")
        bad = good[:at] + bytes([good[at] ^ data.draw(st.integers(1, 255), label="xor")]) + good[at + 1:]
    path = tmp_path_factory.mktemp("damaged") / "ckpt.gl"
    path.write_bytes(bad)
    with pytest.raises(SerializationError, match=f"^gradlab.load: '{path}': "):
        gradlab.load(path)


if __name__ == "__main__":
    print(f"{'file':42s} {'bytes':>10s} {'peak':>11s} {'peak/size':>9s}  outcome")
    for name, data in CASES.items():
        peak, outcome = measure(data)
        outcome = "loaded" if not isinstance(outcome, str) else outcome.split(": ", 2)[-1][:50]
        print(f"{name:42s} {len(data):>10d} {peak:>11d} {peak / len(data):>9.2f}  {outcome}")
