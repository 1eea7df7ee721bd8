"""safetensors files: gradlab <-> safetensors.torch / safetensors.numpy, chosen by content; damaged files refused."""
import io
import struct

import numpy as np
import pytest
from hypothesis import given, strategies as st

import gradlab
from gradlab.serialization import SerializationError
from gradlab.utils.safetensors import load_file, save_file

safetensors_numpy = pytest.importorskip("safetensors.numpy")

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


def to_bytes(tensors):
    buffer = io.BytesIO()
    gradlab.save(tensors, buffer, format="safetensors")
    return buffer.getvalue()


def load_bytes(data):
    return gradlab.load(io.BytesIO(data))


def as_arrays(tensors):
    """{name: (dtype name, shape, bytes)} for gradlab or torch tensors or NumPy arrays."""
    result = {}
    for name, t in tensors.items():
        array = t if isinstance(t, np.ndarray) else t.detach().numpy()
        result[name] = (array.dtype.name, array.shape, array.tobytes())
    return result


@st.composite
def state_dicts(draw):
    names = draw(st.lists(st.text(min_size=1, max_size=8).filter(lambda s: s != "__metadata__"), max_size=5,
                          unique=True))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    result = {}
    for name in names:
        shape = draw(st.lists(st.integers(0, 4), max_size=3))
        array = np.asarray(rng.standard_normal(shape) * 100).astype(draw(st.sampled_from(DTYPES)))
        result[name] = gradlab.from_numpy(array)
    return result


@given(state_dicts())
def test_random_state_dicts_round_trip(tensors):
    data = to_bytes(tensors)
    assert as_arrays(load_bytes(data)) == as_arrays(tensors)
    assert as_arrays(safetensors_numpy.load(data)) == as_arrays(tensors)


def test_gradlab_files_load_in_safetensors_torch(torch, tmp_path):
    tensors = {name: gradlab.from_numpy((np.arange(6).reshape(2, 3) * 37 - 50).astype(name)) for name in DTYPES}
    tensors["view"] = gradlab.arange(12.0).reshape(3, 4).t()  # saved as the values it shows
    gradlab.save(tensors, tmp_path / "m.safetensors")
    from safetensors.torch import load_file as torch_load_file
    assert as_arrays(torch_load_file(tmp_path / "m.safetensors")) == as_arrays(tensors)


def test_safetensors_torch_files_load_in_gradlab(torch, tmp_path):
    from safetensors.torch import save_file as torch_save_file
    tensors = {name: (torch.arange(6).reshape(2, 3) * 37 - 50).to(getattr(torch, name)) for name in DTYPES}
    torch_save_file(tensors, tmp_path / "t.safetensors")
    assert as_arrays(gradlab.load(tmp_path / "t.safetensors")) == as_arrays(tensors)


def test_bfloat16_loads_as_float32_exactly(torch, tmp_path):
    from safetensors.torch import save_file as torch_save_file
    values = torch.tensor([1.5, -2.25, 3e38, 1e-40, float("inf")], dtype=torch.bfloat16)
    torch_save_file({"h": values}, tmp_path / "h.safetensors")
    loaded = gradlab.load(tmp_path / "h.safetensors")["h"]
    assert loaded.dtype == gradlab.float32 and loaded.numpy().tobytes() == values.float().numpy().tobytes()


def test_a_lenet_state_dict_moves_through_safetensors(torch, tmp_path):
    gradlab.manual_seed(0)
    model = gradlab.models.LeNet5()
    save_file(model.state_dict(), tmp_path / "lenet.safetensors", metadata={"epoch": "3"})
    from safetensors import safe_open
    with safe_open(tmp_path / "lenet.safetensors", framework="pt") as f:
        assert f.metadata() == {"epoch": "3"} and set(f.keys()) == set(model.state_dict())
    again = gradlab.models.LeNet5()
    again.load_state_dict(load_file(tmp_path / "lenet.safetensors"))
    x = gradlab.randn(2, 1, 28, 28)
    assert again(x).tolist() == model(x).tolist()


def test_numpy_written_files_load_without_torch(tmp_path):
    arrays = {"a": np.arange(5, dtype=np.int32), "b": np.ones((2, 0)), "c": np.array(True)}
    safetensors_numpy.save_file(arrays, tmp_path / "n.safetensors")
    assert as_arrays(gradlab.load(tmp_path / "n.safetensors")) == as_arrays(arrays)


def test_the_format_is_chosen_by_content_not_name(tmp_path):
    gradlab.save({"w": gradlab.ones(2)}, tmp_path / "weights.bin", format="safetensors")
    gradlab.save({"w": gradlab.ones(2)}, tmp_path / "own.safetensors", format="gradlab")
    assert (tmp_path / "own.safetensors").read_bytes()[:8] == b"GRADLAB\0"
    for name in ("weights.bin", "own.safetensors"):
        assert gradlab.load(tmp_path / name)["w"].tolist() == [1.0, 1.0]
    with pytest.raises(SerializationError, match="corrupted safetensors file"):
        load_file(tmp_path / "own.safetensors")  # the explicit name reads safetensors only


@pytest.mark.parametrize("value, match", [
    ([gradlab.ones(2)], "expected a dict of names to tensors"),
    ({"w": {"nested": gradlab.ones(2)}}, "safetensors holds tensors only"),
    ({"w": 3}, "safetensors holds tensors only"),
    ({1: gradlab.ones(2)}, "is not a str tensor name"),
    ({"__metadata__": gradlab.ones(2)}, "is not a str tensor name"),
])
def test_what_safetensors_cannot_hold_is_refused_before_writing(tmp_path, value, match):
    target = tmp_path / "m.safetensors"
    target.write_bytes(b"old")
    with pytest.raises(TypeError, match=match):
        gradlab.save(value, target)
    assert target.read_bytes() == b"old"


# ============================================================================ damaged files
SAMPLE = {"weight": gradlab.arange(6.0).reshape(2, 3), "bias": gradlab.tensor([1, 2], dtype=gradlab.int64)}


def header_length(data):
    return 8 + struct.unpack("<Q", data[:8])[0]


def test_every_truncation_is_refused():
    data = to_bytes(SAMPLE)
    for cut in range(len(data)):
        with pytest.raises(SerializationError):
            load_bytes(data[:cut])


@pytest.mark.parametrize("bit", range(64))
def test_a_flipped_bit_in_the_length_is_refused(bit):
    data = bytearray(to_bytes(SAMPLE))
    data[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(SerializationError):
        load_bytes(bytes(data))


def test_flipped_bits_in_the_headers_structure_and_numbers_are_refused():
    data = to_bytes(SAMPLE)
    end = header_length(data)
    positions = [i for i in range(8, end) if chr(data[i]) in '{}[]:,"0123456789']
    assert len(positions) > 50
    for position in positions:
        for bit in range(8):
            flipped = bytearray(data)
            flipped[position] ^= 1 << bit
            try:
                loaded = load_bytes(bytes(flipped))
            except SerializationError:
                continue
            # the JSON still parses to a consistent header: it can only have shuffled equal-sized byte ranges
            assert sorted(t.numel() * t.element_size() for t in loaded.values()) == [16, 24], (position, bit)


@given(st.data())
def test_any_flipped_bit_is_refused_or_loads_as_same_sized_tensors(data):
    raw = to_bytes(SAMPLE)
    position = data.draw(st.integers(0, len(raw) - 1))
    flipped = bytearray(raw)
    flipped[position] ^= 1 << data.draw(st.integers(0, 7))
    try:
        loaded = load_bytes(bytes(flipped))
    except SerializationError:
        return
    # safetensors has no checksum: a flip in the tensor bytes (or in a name) loads as other values
    assert isinstance(loaded, dict) and sum(t.numel() * t.element_size() for t in loaded.values()) == 40


def test_a_bool_byte_other_than_0_or_1_is_refused():
    data = bytearray(to_bytes({"m": gradlab.tensor([True, False])}))
    data[header_length(data) + 1] = 2
    with pytest.raises(SerializationError, match="byte other than 0 or 1"):
        load_bytes(bytes(data))
