"""gradlab.finfo and gradlab.iinfo (gradlab/_info.py): the limits of each dtype, as PyTorch's."""
import pytest

import gradlab

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def test_finfo_iinfo_values():
    f = gradlab.finfo(gradlab.float32)
    assert (f.bits, f.eps, f.tiny, f.resolution, f.dtype) == (32, 2.0 ** -23, 2.0 ** -126, 1e-06, "float32")
    assert gradlab.finfo().dtype == "float32"
    assert gradlab.finfo(gradlab.float16).max == 65504.0
    i = gradlab.iinfo(gradlab.int8)
    assert (i.bits, i.min, i.max, i.dtype) == (8, -128, 127, "int8")
    assert gradlab.iinfo(gradlab.int64).max == 2 ** 63 - 1
    with pytest.raises(TypeError, match="floating point"):
        gradlab.finfo(gradlab.int32)
    with pytest.raises(TypeError, match="integer"):
        gradlab.iinfo(gradlab.float32)


@needs_torch
@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_finfo_matches_torch(name):
    ours, theirs = gradlab.finfo(getattr(gradlab, name)), torch.finfo(getattr(torch, name))
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert repr(ours) == repr(theirs)


@needs_torch
@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo_matches_torch(name):
    ours, theirs = gradlab.iinfo(getattr(gradlab, name)), torch.iinfo(getattr(torch, name))
    for field in ("bits", "max", "min", "dtype"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert repr(ours) == repr(theirs)


@needs_torch
def test_info_errors_match_torch():
    for ours, theirs in ((lambda: gradlab.finfo(gradlab.int32), lambda: torch.finfo(torch.int32)),
                         (lambda: gradlab.iinfo(gradlab.float32), lambda: torch.iinfo(torch.float32)),
                         (lambda: gradlab.iinfo(gradlab.bool), lambda: torch.iinfo(torch.bool))):
        with pytest.raises(TypeError) as ours_error:
            ours()
        with pytest.raises(TypeError) as theirs_error:
            theirs()
        assert str(ours_error.value) == str(theirs_error.value)
