"""transforms.Resize: bilinear, antialiased when shrinking, on (..., H, W) images; the same values as
PyTorch's interpolate (which torchvision's Resize uses on tensors); uint8 stays uint8, rounded."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
from gradlab.datasets.transforms import Compose, Resize, ToTensor

sides = st.integers(1, 40)


@given(h=sides, w=sides, out_h=sides, out_w=sides, antialias=st.booleans(), seed=st.integers(0, 2**16))
def test_matches_pytorch_interpolate(h, w, out_h, out_w, antialias, seed):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(seed).random((2, h, w)).astype(np.float32)
    ours = Resize((out_h, out_w), antialias=antialias)(gradlab.tensor(x))
    theirs = torch.nn.functional.interpolate(torch.tensor(x)[None], size=(out_h, out_w), mode="bilinear",
                                             align_corners=False, antialias=antialias)[0]
    assert tuple(ours.shape) == (2, out_h, out_w) and ours.dtype == gradlab.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)


@given(h=sides, w=sides, out=sides)
def test_constant_images_stay_constant(h, w, out):
    """Every row of the weights sums to one, at the edges too."""
    img = np.full((h, w), 77, np.uint8)
    resized = Resize(out)(img).numpy()
    assert resized.dtype == np.uint8 and (resized == 77).all()
    assert min(resized.shape) == out


def test_an_int_sets_the_smaller_side():
    assert tuple(Resize(14)(np.zeros((28, 56), np.uint8)).shape) == (14, 28)
    assert tuple(Resize(14)(np.zeros((56, 28), np.uint8)).shape) == (28, 14)
    assert tuple(Resize([7])(np.zeros((28, 28), np.uint8)).shape) == (7, 7)


def test_uint8_is_rounded_then_converted_as_a_course_loads_images():
    img = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    out = Compose([Resize((56, 56)), ToTensor()])(gradlab.tensor(img))
    assert tuple(out.shape) == (1, 56, 56) and out.dtype == gradlab.float32
    exact = Resize((56, 56))(img.astype(np.float32)).numpy()
    np.testing.assert_array_equal(np.round(out.numpy()[0] * 255), np.clip(np.round(exact), 0, 255))
    assert gradlab.equal(Resize((28, 28))(gradlab.tensor(img)), gradlab.tensor(img))


def test_what_gradlab_does_not_have_is_named():
    with pytest.raises(NotImplementedError, match="Resize: gradlab has bilinear"):
        Resize(10, interpolation="nearest")
    with pytest.raises(ValueError, match=r"Resize: expected an image of shape \(..., H, W\), got shape \(5,\)"):
        Resize(3)(np.zeros(5))
    assert repr(Resize(224)) == "Resize(size=224, interpolation=bilinear, max_size=None, antialias=True)"
