"""Tensor printing: gradlab's repr must be PyTorch's, character for character.

Fixed cases are spelled out (they run without torch); cross-checks compare
with torch's own repr on a catalogue of tensors and on random arrays.
"""
import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradlab

nan, inf = math.nan, math.inf

# each expected string was printed by PyTorch (with "torch." read as "gradlab.")
FIXED = [
    (lambda: gradlab.tensor([1, 2, 3]), "tensor([1, 2, 3])"),
    (lambda: gradlab.tensor([1., 2., 3.]), "tensor([1., 2., 3.])"),
    (lambda: gradlab.tensor([1.5, -2.25]), "tensor([ 1.5000, -2.2500])"),
    (lambda: gradlab.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
    (lambda: gradlab.tensor([1e10, 1.]), "tensor([1.0000e+10, 1.0000e+00])"),
    (lambda: gradlab.tensor([nan, 1., inf, -inf]), "tensor([nan, 1., inf, -inf])"),
    (lambda: gradlab.tensor(3.0), "tensor(3.)"),
    (lambda: gradlab.tensor(-0.5), "tensor(-0.5000)"),
    (lambda: gradlab.tensor(nan), "tensor(nan)"),
    (lambda: gradlab.tensor([-0.0, 1.0]), "tensor([-0., 1.])"),
    (lambda: gradlab.tensor([]), "tensor([])"),
    (lambda: gradlab.tensor([], dtype=gradlab.int64), "tensor([], dtype=gradlab.int64)"),
    (lambda: gradlab.zeros(0, 3), "tensor([], size=(0, 3))"),
    (lambda: gradlab.tensor([[1., 2.], [3., 4.]], dtype=gradlab.float64),
     "tensor([[1., 2.],\n        [3., 4.]], dtype=gradlab.float64)"),
    (lambda: gradlab.arange(12).reshape(2, 2, 3),
     "tensor([[[ 0,  1,  2],\n         [ 3,  4,  5]],\n\n        [[ 6,  7,  8],\n         [ 9, 10, 11]]])"),
    (lambda: gradlab.tensor([True, False]), "tensor([ True, False])"),
    (lambda: gradlab.tensor([1, 255], dtype=gradlab.uint8), "tensor([  1, 255], dtype=gradlab.uint8)"),
    (lambda: gradlab.tensor([1, -7], dtype=gradlab.int32), "tensor([ 1, -7], dtype=gradlab.int32)"),
    (lambda: gradlab.tensor([0.1, 1000.5], dtype=gradlab.float16),
     "tensor([9.9976e-02, 1.0005e+03], dtype=gradlab.float16)"),
    (lambda: gradlab.arange(2000.),
     "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])"),
    (lambda: gradlab.arange(30.) / 7,
     "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n"
     "        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n"
     "        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n"
     "        3.8571, 4.0000, 4.1429])"),
    (lambda: gradlab.arange(1200).reshape(30, 40),
     "tensor([[   0,    1,    2,  ...,   37,   38,   39],\n"
     "        [  40,   41,   42,  ...,   77,   78,   79],\n"
     "        [  80,   81,   82,  ...,  117,  118,  119],\n"
     "        ...,\n"
     "        [1080, 1081, 1082,  ..., 1117, 1118, 1119],\n"
     "        [1120, 1121, 1122,  ..., 1157, 1158, 1159],\n"
     "        [1160, 1161, 1162,  ..., 1197, 1198, 1199]])"),
    (lambda: gradlab.tensor(2.0, requires_grad=True), "tensor(2., requires_grad=True)"),
    (lambda: gradlab.tensor([1., 2.], requires_grad=True) * 2, "tensor([2., 4.], grad_fn=<MulBackward0>)"),
]


@pytest.mark.parametrize("make, expected", FIXED, ids=[e for _, e in FIXED])
def test_repr_matches_pytorch_fixed(make, expected):
    assert repr(make()) == expected
    assert str(make()) == expected


def test_size_prints_like_torch_size():
    assert repr(gradlab.zeros(8, 4).shape) == "gradlab.Size([8, 4])"
    assert str(gradlab.zeros(8, 4).size()) == "gradlab.Size([8, 4])"
    assert repr(gradlab.tensor(1.0).shape) == "gradlab.Size([])"
    assert gradlab.zeros(8, 4).shape == (8, 4)


def test_suffix_wraps_onto_its_own_line_when_the_line_is_full():
    t = gradlab.tensor(np.arange(8.0).reshape(1, 8) + 0.5, dtype=gradlab.float64)
    # 8 entries of width 6 fill the line, so the dtype suffix moves to the next line
    assert repr(t * 1e-3 * 0 + t) == ("tensor([[0.5000, 1.5000, 2.5000, 3.5000, 4.5000, 5.5000, 6.5000, 7.5000]],\n"
                                      "       dtype=gradlab.float64)")


def test_printoptions_change_and_restore():
    t = gradlab.tensor([1.123456, 2.0])
    with gradlab._tensor_str.printoptions(precision=2):
        assert repr(t) == "tensor([1.12, 2.00])"
    assert repr(t) == "tensor([1.1235, 2.0000])"
    gradlab.set_printoptions(sci_mode=True)
    try:
        assert repr(t) == "tensor([1.1235e+00, 2.0000e+00])"
    finally:
        gradlab.set_printoptions(profile="default")
    assert repr(t) == "tensor([1.1235, 2.0000])"


def test_subclass_prints_its_class_name():
    class MyTensor(gradlab.Tensor):
        pass
    t = MyTensor._wrap(np.ones(2, dtype=np.float32))
    assert repr(t) == "MyTensor([1., 1.])"


def test_format_of_one_element_tensors():
    assert f"{gradlab.tensor(0.43841):.3f}" == "0.438"
    assert format(gradlab.tensor([2.5]), ".1f") == "2.5"
    assert f"{gradlab.tensor([1., 2.])}" == "tensor([1., 2.])"
    with pytest.raises(TypeError, match="unsupported format string"):
        format(gradlab.ones(2), ".2f")


# ---- cross-checks against PyTorch --------------------------------------------------------------

def _torch_repr(t):
    return repr(t).replace("torch.", "gradlab.")


def _unwrap_suffixes(text):
    """Join a wrapped ``dtype=``/``grad_fn=`` suffix back onto its line.

    "gradlab." is two characters longer than "torch.", so a suffix that just
    fits PyTorch's 80-column line may wrap in gradlab's; the rest must match.
    """
    return re.sub(r",\n +(dtype=|grad_fn=|requires_grad=|size=)", r", \1", text)


def _catalogue():
    rng = np.random.default_rng(0)
    return [
        [1, 2, 3], [1., 2., 3.], [1.5, 2.25], [1e-5, 1.0], [1e9, 1.], [nan, 1., inf, -inf], [-1.5, 2.0],
        3.0, 3, -0.0, [], [[1., 2.], [3., 4.]], np.arange(24.).reshape(2, 3, 4), np.arange(2000.),
        np.arange(2000).reshape(40, 50), np.linspace(-1, 1, 37), [True, False], 1.23456789, [0.1, 0.2],
        [1e-10, 1e10], [123456789.0], [0., 0.], [nan], [1e-3, 1e3], [1e-3, 1e3 * 1.01],
        np.arange(100.).reshape(10, 10) / 3, [[[]]], np.zeros((0, 3)), rng.standard_normal((3, 40)),
        [1e100], [1.0e-20, 0], [5e-5], [65504.], np.arange(3000.).reshape(3, 1000),
        np.arange(5000.).reshape(10, 10, 50) - 2500, rng.standard_normal((2, 3, 4, 5)) * 1e5, nan, -inf,
        rng.standard_normal((7, 7)) * 1e-3, rng.integers(-10**6, 10**6, (4, 30)),
    ]


@pytest.mark.parametrize("dtype", [None, "float64", "float32", "float16", "int32", "int64", "uint8", "bool"])
def test_repr_matches_torch_on_catalogue(dtype):
    torch = pytest.importorskip("torch")
    checked = 0
    for data in _catalogue():
        for requires_grad in (False, True):
            try:
                tt = torch.tensor(data, dtype=getattr(torch, dtype) if dtype else None, requires_grad=requires_grad)
            except (RuntimeError, TypeError, OverflowError):
                continue  # e.g. integer tensors cannot require grad
            gt = gradlab.tensor(tt.detach().numpy(), requires_grad=requires_grad)
            if requires_grad:
                with np.errstate(over="ignore"):
                    tt, gt = tt * 2, gt * 2
            assert _unwrap_suffixes(repr(gt)) == _unwrap_suffixes(_torch_repr(tt)), (data, dtype)
            checked += 1
    assert checked >= len(_catalogue()) // 2  # nan/inf data has no integer tensor


_FLOAT_DTYPES = [np.float16, np.float32, np.float64]
_ALL_DTYPES = _FLOAT_DTYPES + [np.int32, np.int64, np.uint8, np.bool_]


@st.composite
def printable_arrays(draw):
    """Arrays of every dtype, with nan/inf/zeros and magnitudes from 1e-6 to 1e9 for floats."""
    dtype = draw(st.sampled_from(_ALL_DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=9))
    if dtype not in _FLOAT_DTYPES:
        return draw(hnp.arrays(dtype, shape))
    scale = draw(st.sampled_from([1e-6, 1e-3, 1.0, 1e3, 1e9]))
    elements = (st.floats(-1e4, 1e4).map(lambda v: v * scale)
                | st.integers(-1000, 1000).map(float) | st.sampled_from([nan, inf, -inf, 0.0, -0.0]))
    values = draw(hnp.arrays(np.float64, shape, elements=elements))
    with np.errstate(over="ignore"):
        return values.astype(dtype)  # float16 overflows to inf, as it would in PyTorch


@given(printable_arrays())
def test_repr_matches_torch_on_random_arrays(array):
    torch = pytest.importorskip("torch")
    assert _unwrap_suffixes(repr(gradlab.from_numpy(array))) == _unwrap_suffixes(
        _torch_repr(torch.from_numpy(array.copy())))


@given(st.integers(1, 3000), st.sampled_from(_FLOAT_DTYPES + [np.int64]))
def test_repr_summarises_like_torch(n, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(n)
    array = (rng.standard_normal(n) * 50).astype(dtype)
    for shaped in (array, array[: n - n % 3].reshape(3, -1) if n >= 3 else array):
        assert _unwrap_suffixes(repr(gradlab.from_numpy(shaped))) == _unwrap_suffixes(
            _torch_repr(torch.from_numpy(shaped.copy())))


def test_legacy_type_names_as_torch():
    assert gradlab.ones(2).type() == "gradlab.FloatTensor"
    assert gradlab.ones(2, dtype=gradlab.float64).type() == "gradlab.DoubleTensor"
    assert gradlab.ones(2, dtype=gradlab.uint8).type() == "gradlab.ByteTensor"
    assert gradlab.ones(2).type("torch.LongTensor").dtype == gradlab.int64


def test_legacy_type_names_match_torch():
    torch = pytest.importorskip("torch")
    for name in ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]:
        ours = gradlab.zeros(1, dtype=getattr(gradlab, name)).type()
        assert ours == torch.zeros(1, dtype=getattr(torch, name)).type().replace("torch.", "gradlab.")


@pytest.mark.parametrize("options", [dict(precision=2), dict(threshold=5), dict(edgeitems=2, threshold=10),
                                     dict(linewidth=40), dict(sci_mode=False), dict(sci_mode=True),
                                     dict(profile="short"), dict(profile="full"), dict(edgeitems=0, threshold=3)],
                         ids=str)
def test_printoptions_match_torch(options):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((4, 7)) * 100, np.arange(20.), rng.standard_normal(12) * 1e-5,
              np.arange(30).reshape(5, 6), np.arange(1200.).reshape(30, 40)]
    torch.set_printoptions(**options)
    gradlab.set_printoptions(**options)
    try:
        for a in arrays:
            assert _unwrap_suffixes(repr(gradlab.from_numpy(a))) == _unwrap_suffixes(
                _torch_repr(torch.from_numpy(a))), (options, a.shape)
    finally:
        torch.set_printoptions(profile="default")
        gradlab.set_printoptions(profile="default")
