"""The IDX reader and writer: round trips, the exact byte layout, and every
way a file can be wrong (magic, truncation, forged sizes, count mismatch)."""
import gzip
import io
import os
import struct
import tempfile
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradlab.datasets import idx
from gradlab.datasets.idx import IDXError, IDXTruncatedError, read_idx, read_idx_pair, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def same(a, b):
    """Equal dtype, shape and bits (so NaN payloads and -0.0 count too)."""
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.ascontiguousarray(a).view(np.uint8).tobytes() == np.ascontiguousarray(b).view(np.uint8).tobytes()


def idx_bytes(arr):
    """The IDX encoding of arr, built by hand (independent of write_idx)."""
    arr = np.asarray(arr)
    header = bytes([0, 0, CODES[arr.dtype.type], arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


class NonSeekable(io.RawIOBase):
    """A pipe-like stream: read only, no seek, no peek."""

    def __init__(self, data):
        self._b = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, b):
        chunk = self._b.read(min(len(b), 7))  # short reads, like a socket
        b[: len(chunk)] = chunk
        return len(chunk)


# ----------------------------------------------------------------- round trip

arrays = st.sampled_from(DTYPES).flatmap(
    lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
)


@settings(max_examples=80, deadline=None)
@given(arr=arrays, compress=st.booleans())
def test_roundtrip_path(arr, compress):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "a.idx")
        write_idx(path, arr, compress=compress)
        with open(path, "rb") as f:
            assert (f.read(2) == b"\x1f\x8b") == compress
        out = read_idx(path)
        same(out, arr)
        assert out.dtype.isnative and out.flags.writeable
        assert os.listdir(d) == ["a.idx"]  # no temporary file left


@settings(max_examples=60, deadline=None)
@given(arr=arrays, compress=st.booleans(), kind=st.sampled_from(["bytesio", "nonseekable"]))
def test_roundtrip_fileobj(arr, compress, kind):
    buf = io.BytesIO()
    write_idx(buf, arr, compress=compress)
    data = buf.getvalue()
    if not compress:
        assert data == idx_bytes(arr)
    f = io.BytesIO(data) if kind == "bytesio" else NonSeekable(data)
    same(read_idx(f), arr)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reads_hand_built_big_endian_files(dtype, tmp_path):
    arr = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    p = tmp_path / "x"
    p.write_bytes(idx_bytes(arr))
    same(read_idx(p), arr)
    p.write_bytes(gzip.compress(idx_bytes(arr)))
    same(read_idx(str(p)), arr)


def test_header_layout(tmp_path):
    p = tmp_path / "a.idx"
    write_idx(p, np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8))
    assert p.read_bytes() == bytes.fromhex("00000802 00000002 00000003 010203040506")
    write_idx(p, np.array([1, -2], dtype=np.int16))
    assert p.read_bytes() == bytes.fromhex("00000B01 00000002 0001 FFFE")


def test_gzip_detected_by_magic_not_name(tmp_path):
    arr = np.arange(10, dtype=np.int32)
    write_idx(tmp_path / "looks-raw.idx", arr, compress=True)
    write_idx(tmp_path / "looks-gzipped.gz", arr, compress=False)
    assert (tmp_path / "looks-raw.idx").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "looks-gzipped.gz").read_bytes()[:2] == b"\x00\x00"
    same(read_idx(tmp_path / "looks-raw.idx"), arr)
    same(read_idx(tmp_path / "looks-gzipped.gz"), arr)


def test_compress_defaults_to_extension_and_is_deterministic(tmp_path):
    arr = np.arange(100, dtype=np.float32).reshape(10, 10)
    write_idx(tmp_path / "a.idx.gz", arr)
    write_idx(tmp_path / "b.idx.gz", arr)
    first = (tmp_path / "a.idx.gz").read_bytes()
    assert first[:2] == b"\x1f\x8b"
    assert first == (tmp_path / "b.idx.gz").read_bytes().replace(b"b.idx", b"a.idx")
    write_idx(tmp_path / "a.idx.gz", arr)
    assert (tmp_path / "a.idx.gz").read_bytes() == first


def test_writes_non_contiguous_and_big_endian_input(tmp_path):
    arr = np.arange(60, dtype=">i4").reshape(3, 4, 5)[:, ::2, 1:]
    write_idx(tmp_path / "a", arr)
    out = read_idx(tmp_path / "a")
    assert out.dtype == np.int32 and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("dtype", [np.int64, np.uint16, np.float16, np.bool_, np.complex64])
def test_write_rejects_dtypes_idx_cannot_hold(dtype, tmp_path):
    with pytest.raises(TypeError, match="IDX cannot store dtype"):
        write_idx(tmp_path / "a", np.zeros(3, dtype=dtype))
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------- errors

GOOD = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)


@pytest.mark.parametrize(
    "head",
    [b"\x08\x03\x00\x00", b"\x00\x01\x08\x01", b"PK\x03\x04", b"\xff\xff\xff\xff"],
)
def test_wrong_magic(head):
    with pytest.raises(IDXError, match="magic number"):
        read_idx(io.BytesIO(head + b"\x00" * 16))
    with pytest.raises(IDXError, match="magic number"):
        read_idx(io.BytesIO(gzip.compress(head + b"\x00" * 16)))


@pytest.mark.parametrize("code", [0x00, 0x07, 0x0A, 0x0F, 0xFF])
def test_unknown_dtype_code(code):
    with pytest.raises(IDXError, match=f"unknown IDX dtype code 0x{code:02X}"):
        read_idx(io.BytesIO(bytes([0, 0, code, 1, 0, 0, 0, 1, 0])))


def _cuts():
    n = len(idx_bytes(GOOD))  # 4 + 3*4 header + 48 data = 64
    return [0, 1, 3, 4, 6, 8, 15, 16, 17, 40, n - 1]


@pytest.mark.parametrize("cut", _cuts())
@pytest.mark.parametrize("how", ["raw-path", "raw-bytesio", "raw-nonseekable", "gzip-of-truncated", "truncated-gzip"])
def test_truncated(cut, how, tmp_path):
    raw = idx_bytes(GOOD)
    if how == "gzip-of-truncated":  # a valid gzip stream holding too few bytes
        data = gzip.compress(raw[:cut])
    elif how == "truncated-gzip":  # the gzip file itself cut short
        gz = gzip.compress(raw)
        data = gz[: max(2, len(gz) * cut // len(raw))] if cut else gz[:2]
    else:
        data = raw[:cut]
    if how == "raw-path" or how.endswith("gzip") or how == "gzip-of-truncated":
        p = tmp_path / "t.idx"
        p.write_bytes(data)
        src = p
    elif how == "raw-bytesio":
        src = io.BytesIO(data)
    else:
        src = NonSeekable(data)
    with pytest.raises(IDXTruncatedError, match="truncated") as err:
        read_idx(src)
    assert isinstance(err.value, IDXError) and isinstance(err.value, ValueError)


def test_truncated_message_is_specific(tmp_path):
    p = tmp_path / "images.idx"
    p.write_bytes(idx_bytes(GOOD)[:-10])
    with pytest.raises(IDXTruncatedError) as err:
        read_idx(p)
    msg = str(err.value)
    assert "images.idx" in msg and "(2, 3, 4)" in msg and "48 bytes" in msg and "38 bytes" in msg


def test_trailing_bytes_are_an_error(tmp_path):
    raw = idx_bytes(GOOD) + b"\x00\x00"
    for data in (raw, gzip.compress(raw)):
        with pytest.raises(IDXError, match="unexpected bytes after the data"):
            read_idx(io.BytesIO(data))


def test_corrupt_gzip_is_an_error():
    noise = np.random.default_rng(0).integers(0, 255, 5000).astype(np.uint8)
    gz = bytearray(gzip.compress(idx_bytes(noise)))
    gz[len(gz) // 2] ^= 0xFF
    gz[len(gz) // 2 + 1] ^= 0x55
    with pytest.raises(IDXError):
        read_idx(io.BytesIO(bytes(gz)))
    bad_crc = bytearray(gzip.compress(idx_bytes(GOOD)))
    bad_crc[-8] ^= 1  # the CRC32 in the trailer
    with pytest.raises(IDXError, match="corrupt"):
        read_idx(io.BytesIO(bytes(bad_crc)))


@pytest.mark.parametrize("compress", [False, True])
def test_forged_header_does_not_allocate(compress, tmp_path):
    """A header promising ~10**40 bytes must fail fast, without a huge allocation."""
    header = struct.pack(">BBBB4I", 0, 0, 0x0E, 4, *(2**32 - 1,) * 4)
    data = header + b"\x00" * 1000
    p = tmp_path / "forged"
    p.write_bytes(gzip.compress(data) if compress else data)
    tracemalloc.start()
    t = time.perf_counter()
    try:
        with pytest.raises(IDXTruncatedError, match="truncated"):
            read_idx(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
    assert time.perf_counter() - t < 2


def test_forged_header_big_but_plausible_gzip(tmp_path):
    """gzip hides the length: 60000x28x28 promised, a few KB delivered."""
    header = struct.pack(">BBBB3I", 0, 0, 0x08, 3, 60000, 28, 28)
    p = tmp_path / "forged.gz"
    p.write_bytes(gzip.compress(header + b"\x01" * 5000))
    with pytest.raises(IDXTruncatedError, match="47040000 bytes but only 5000"):
        read_idx(p)


def test_pair_count_mismatch(tmp_path):
    write_idx(tmp_path / "images", np.zeros((5, 2, 2), np.uint8))
    write_idx(tmp_path / "labels.gz", np.zeros(4, np.uint8))
    with pytest.raises(IDXError, match="count mismatch") as err:
        read_idx_pair(tmp_path / "images", tmp_path / "labels.gz")
    assert "5 images" in str(err.value) and "4 labels" in str(err.value)
    write_idx(tmp_path / "labels.gz", np.arange(5, dtype=np.uint8))
    x, y = read_idx_pair(tmp_path / "images", tmp_path / "labels.gz")
    assert x.shape == (5, 2, 2) and list(y) == [0, 1, 2, 3, 4]


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


# ----------------------------------------------------------------- atomic write


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    p = tmp_path / "data.idx"
    write_idx(p, np.arange(5, dtype=np.uint8))
    before = p.read_bytes()

    def broken_fsync(fd):
        raise OSError("disk on fire")

    monkeypatch.setattr(idx.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk on fire"):
        write_idx(p, np.arange(1000, dtype=np.float64))
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == ["data.idx"]


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    class Interrupted(BaseException):
        pass

    real_write = gzip.GzipFile.write

    def write_then_die(self, data):
        real_write(self, data)
        raise Interrupted

    monkeypatch.setattr(gzip.GzipFile, "write", write_then_die)
    with pytest.raises(Interrupted):
        write_idx(tmp_path / "new.idx.gz", np.zeros((3, 3), np.uint8))
    assert os.listdir(tmp_path) == []


def test_accepts_array_likes(tmp_path):
    write_idx(tmp_path / "l", [[1.5, 2.5]])
    same(read_idx(tmp_path / "l"), np.array([[1.5, 2.5]]))


class ReadOnly:
    """The least a file object can be: read(n) and nothing else."""

    def __init__(self, data):
        self._b = io.BytesIO(data)

    def read(self, n=-1):
        return self._b.read(n)


@pytest.mark.parametrize("compress", [False, True])
def test_minimal_file_object(compress):
    raw = idx_bytes(GOOD)
    data = gzip.compress(raw) if compress else raw
    same(read_idx(ReadOnly(data)), GOOD)
    with pytest.raises(IDXTruncatedError):
        read_idx(ReadOnly(data[:-3]))


# ---------------------------------------------------------------- headers NumPy cannot hold


@given(ndim=st.integers(65, 255), dtype=st.sampled_from(DTYPES), gz=st.booleans())
def test_more_than_64_dims_is_an_idx_error_naming_the_file(ndim, dtype, gz, tmp_path_factory):
    """Zero-size data (a 0 among the dims) so the file is complete: only NumPy's 64-dim limit is wrong."""
    dims = [1] * ndim
    dims[ndim // 2] = 0
    data = struct.pack(f">BBBB{ndim}I", 0, 0, CODES[dtype], ndim, *dims)
    path = tmp_path_factory.mktemp("idx") / ("deep.idx.gz" if gz else "deep.idx")
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(IDXError, match=rf"{path.name}.*{ndim} dims.*not one NumPy can hold") as info:
        read_idx(path)
    assert not isinstance(info.value, IDXTruncatedError)
    with pytest.raises(IDXError, match="64"):
        read_idx(io.BytesIO(data))


@given(big=st.lists(st.integers(2**16, 2**32 - 1), min_size=2, max_size=6), dtype=st.sampled_from(DTYPES))
def test_zero_size_shape_whose_other_dims_overflow_is_an_idx_error(big, dtype):
    """(0, 2**32-1, 2**32-1, ...) holds no data, but NumPy refuses the shape: IDXError, not ValueError."""
    dims = [0] + big
    data = struct.pack(f">BBBB{len(dims)}I", 0, 0, CODES[dtype], len(dims), *dims)
    count = 1
    for d in big:
        count *= d
    if count * np.dtype(dtype).itemsize <= np.iinfo(np.intp).max:
        assert read_idx(io.BytesIO(data)).shape == tuple(dims)  # NumPy holds it: read as an empty array
    else:
        with pytest.raises(IDXError, match="not one NumPy can hold"):
            read_idx(io.BytesIO(data))


@given(header=st.binary(min_size=4, max_size=300))
def test_any_header_bytes_give_an_array_or_an_idx_error(header):
    """Random bytes after a valid magic: never an error other than IDXError."""
    data = bytes([0, 0, 0x08, header[0] % 80]) + header[1:]
    try:
        read_idx(io.BytesIO(data))
    except IDXError:
        pass
