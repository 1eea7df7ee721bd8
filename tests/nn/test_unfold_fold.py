"""F.unfold / F.fold (im2col / col2im), nn.Unfold / nn.Fold and Tensor.unfold (sliding windows).

Forward values and gradients against torch on random geometries, float64
gradcheck and gradgradcheck, the coverage identity fold(unfold(x)) == x * count,
the adjoint identity, PyTorch's error messages, and the modules' reprs.
Tests that compare with torch skip on their own when torch is absent.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F
from gradlab import kernels, nn
from gradlab.autograd import gradcheck, gradgradcheck


def rand(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def assert_matches(ours, theirs, rtol, atol):
    theirs = theirs.detach().numpy()
    assert tuple(ours.shape) == theirs.shape
    assert ours._data.dtype == theirs.dtype
    if theirs.dtype == np.bool_:
        np.testing.assert_array_equal(ours._data, theirs)
    else:
        np.testing.assert_allclose(ours._data, theirs, rtol=rtol, atol=atol)


def tolerances(dtype):
    return (1e-5, 1e-5) if dtype == np.float32 else (1e-12, 1e-12)


# ---- geometries ---------------------------------------------------------------------------------
def as_arg(draw, pair):
    """The same geometry written as PyTorch accepts it: an int when both values agree, a tuple or a list."""
    if pair[0] == pair[1] and draw(st.booleans()):
        return pair[0]
    return draw(st.sampled_from([tuple, list]))(pair)


@st.composite
def geometries(draw):
    """A kernel, dilation, padding and stride, an image size the kernel fits in, channels and batch."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    image = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 7))
                  for k, d, p in zip(kernel, dilation, padding))
    batch = draw(st.sampled_from([None, 1, 2]))  # None: an unbatched input
    return dict(channels=draw(st.integers(1, 3)), batch=batch, image=image,
                dtype=draw(st.sampled_from([np.float32, np.float64])), seed=draw(st.integers(0, 999)),
                args=dict(kernel_size=as_arg(draw, kernel), dilation=as_arg(draw, dilation),
                          padding=as_arg(draw, padding), stride=as_arg(draw, stride)),
                pairs=dict(kernel=kernel, dilation=dilation, padding=padding, stride=stride))


def image_shape(g):
    return ((g["batch"],) if g["batch"] else ()) + (g["channels"],) + g["image"]


def n_blocks(g):
    p = g["pairs"]
    sizes = [(n + 2 * pd - d * (k - 1) - 1) // s + 1
             for n, k, d, pd, s in zip(g["image"], p["kernel"], p["dilation"], p["padding"], p["stride"])]
    return sizes[0] * sizes[1]


def cols_shape(g):
    k = g["pairs"]["kernel"]
    return ((g["batch"],) if g["batch"] else ()) + (g["channels"] * k[0] * k[1], n_blocks(g))


def check_against_torch(ours_fn, torch_fn, array, seed):
    """Forward values and the gradient for a random upstream gradient, against torch."""
    torch = pytest.importorskip("torch")
    rtol, atol = tolerances(array.dtype)
    ours = gradlab.tensor(array, requires_grad=True)
    theirs = torch.tensor(array, requires_grad=True)
    out, ref = ours_fn(ours), torch_fn(theirs)
    assert_matches(out, ref, rtol, atol)
    upstream = rand(tuple(ref.shape), seed + 1, array.dtype)
    out.backward(gradlab.tensor(upstream))
    ref.backward(torch.tensor(upstream))
    assert_matches(ours.grad, theirs.grad, rtol, atol)
    return out, ref


# ---- F.unfold and F.fold against torch ----------------------------------------------------------
@given(g=geometries())
def test_unfold_matches_torch(g):
    torch = pytest.importorskip("torch")
    out, ref = check_against_torch(lambda x: F.unfold(x, **g["args"]),
                                   lambda x: torch.nn.functional.unfold(x, **g["args"]),
                                   rand(image_shape(g), g["seed"], g["dtype"]), g["seed"])
    assert out.shape == cols_shape(g)
    assert out.grad_fn.name() == type(ref.grad_fn).__name__ == "Im2ColBackward0"


@given(g=geometries())
def test_fold_matches_torch(g):
    torch = pytest.importorskip("torch")
    out, ref = check_against_torch(lambda c: F.fold(c, g["image"], **g["args"]),
                                   lambda c: torch.nn.functional.fold(c, g["image"], **g["args"]),
                                   rand(cols_shape(g), g["seed"], g["dtype"]), g["seed"])
    assert out.shape == image_shape(g)
    assert out.grad_fn.name() == type(ref.grad_fn).__name__ == "Col2ImBackward0"


@pytest.mark.parametrize("backend", kernels.available_backends())
def test_both_kernel_backends_match_torch(backend):
    torch = pytest.importorskip("torch")
    args = dict(kernel_size=(2, 3), dilation=(2, 1), padding=(1, 2), stride=(2, 1))
    with kernels.use_backend(backend):
        check_against_torch(lambda x: F.unfold(x, **args), lambda x: torch.nn.functional.unfold(x, **args),
                            rand((2, 3, 6, 5), 1), 1)
        check_against_torch(lambda c: F.fold(c, (6, 5), **args),
                            lambda c: torch.nn.functional.fold(c, (6, 5), **args), rand((2, 18, 3 * 7), 2), 2)


@pytest.mark.parametrize("fn", ["unfold", "fold"])
def test_float16_bool_and_empty_batch_match_torch(fn):
    torch = pytest.importorskip("torch")
    ours_fn, torch_fn = getattr(F, fn), getattr(torch.nn.functional, fn)
    extra = () if fn == "unfold" else ((4, 3),)
    shape = (1, 2, 4, 3) if fn == "unfold" else (1, 8, 6)
    for array in (rand(shape, 3, np.float16), rand(shape, 4) > 0, np.zeros((0,) + shape[1:], np.float32)):
        out = ours_fn(gradlab.tensor(array), *extra, 2)
        ref = torch_fn(torch.tensor(array), *extra, 2)
        assert_matches(out, ref, 1e-3, 1e-3)


# ---- gradient checks ----------------------------------------------------------------------------
GEOMETRIES = [dict(kernel_size=2), dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
              dict(kernel_size=3, padding=(0, 2), stride=2)]


@pytest.mark.parametrize("args", GEOMETRIES)
def test_unfold_gradcheck_and_gradgradcheck(args):
    for shape in [(2, 2, 5, 5), (2, 5, 5)]:
        x = gradlab.tensor(rand(shape, 5), requires_grad=True)
        assert gradcheck(lambda t: F.unfold(t, **args), (x,))
        assert gradgradcheck(lambda t: F.unfold(t, **args), (x,))


@pytest.mark.parametrize("args", GEOMETRIES)
def test_fold_gradcheck_and_gradgradcheck(args):
    blocks = F.unfold(gradlab.zeros(1, 2, 5, 5), **args).shape
    for shape in [tuple(blocks), tuple(blocks[1:])]:
        c = gradlab.tensor(rand(shape, 6), requires_grad=True)
        assert gradcheck(lambda t: F.fold(t, (5, 5), **args), (c,))
        assert gradgradcheck(lambda t: F.fold(t, (5, 5), **args), (c,))


def test_double_backward_nodes_are_the_other_op():
    """With create_graph, unfold's gradient is a fold and fold's an unfold (the names torch uses)."""
    x = gradlab.tensor(rand((1, 2, 4, 4), 7), requires_grad=True)
    cols = F.unfold(x, 2)
    upstream = gradlab.tensor(rand(tuple(cols.shape), 8), requires_grad=True)
    gx, = gradlab.autograd.grad(cols, x, upstream, create_graph=True)
    assert gx.grad_fn.name() == "Col2ImBackward0"
    image = F.fold(cols, (4, 4), 2)
    upstream = gradlab.tensor(rand((1, 2, 4, 4), 9), requires_grad=True)
    gc, = gradlab.autograd.grad(image, cols, upstream, create_graph=True)
    assert gc.grad_fn.name() == "Im2ColBackward0"
    # the second derivative with respect to the upstream gradient is the op itself
    gg, = gradlab.autograd.grad(gc, upstream, gradlab.ones_like(gc))
    np.testing.assert_allclose(gg._data, F.fold(gradlab.ones_like(gc), (4, 4), 2)._data)


# ---- identities (no torch needed) ---------------------------------------------------------------
def coverage(size, kernel, dilation, padding, stride):
    """How many (block, tap) pairs read each position along one axis."""
    count = np.zeros(size)
    blocks = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    for b in range(blocks):
        for i in range(kernel):
            position = b * stride - padding + i * dilation
            if 0 <= position < size:
                count[position] += 1
    return count


@given(g=geometries())
def test_fold_of_unfold_is_input_times_coverage(g):
    x = rand(image_shape(g), g["seed"], g["dtype"])
    p = g["pairs"]
    rows = coverage(g["image"][0], p["kernel"][0], p["dilation"][0], p["padding"][0], p["stride"][0])
    cols = coverage(g["image"][1], p["kernel"][1], p["dilation"][1], p["padding"][1], p["stride"][1])
    back = F.fold(F.unfold(gradlab.tensor(x), **g["args"]), g["image"], **g["args"])
    assert back._data.dtype == x.dtype
    rtol, atol = tolerances(g["dtype"])
    np.testing.assert_allclose(back._data, x * np.outer(rows, cols), rtol=rtol, atol=atol)


@given(g=geometries())
def test_fold_is_the_adjoint_of_unfold(g):
    """<unfold(x), c> == <x, fold(c)>."""
    x, c = rand(image_shape(g), g["seed"]), rand(cols_shape(g), g["seed"] + 1)
    lhs = np.vdot(F.unfold(gradlab.tensor(x), **g["args"])._data, c)
    rhs = np.vdot(x, F.fold(gradlab.tensor(c), g["image"], **g["args"])._data)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)


def test_unfold_layout():
    """Row c*kh*kw + i*kw + j, column l: channel c at tap (i, j) of block l (blocks row-major)."""
    x = gradlab.arange(2 * 3 * 4, dtype=gradlab.float64).reshape(1, 2, 3, 4)
    cols = F.unfold(x, (2, 3))._data[0]
    assert cols.shape == (2 * 2 * 3, 2 * 2)
    for c in range(2):
        for i in range(2):
            for j in range(3):
                for bh in range(2):
                    for bw in range(2):
                        assert cols[c * 6 + i * 3 + j, bh * 2 + bw] == x._data[0, c, bh + i, bw + j]


# ---- errors -------------------------------------------------------------------------------------
X = rand((2, 3, 5, 5))
C = rand((2, 12, 16))
ERRORS = [  # (what, call on (F-like module, tensor constructor), exception, PyTorch's message)
    ("unfold 5-D", lambda f, t: f.unfold(t(rand((1, 2, 3, 5, 5))), 2), RuntimeError,
     "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero dimensions for "
     "input, but got: [1, 2, 3, 5, 5]"),
    ("unfold zero channels", lambda f, t: f.unfold(t(np.zeros((2, 0, 5, 5))), 2), RuntimeError,
     "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero dimensions for "
     "input, but got: [2, 0, 5, 5]"),
    ("unfold kernel too big", lambda f, t: f.unfold(t(X), 6), RuntimeError,
     "Given input with spatial size (5, 5), kernel_size=(6, 6), dilation=(1, 1), padding=(0, 0), calculated "
     "shape of the array of sliding blocks as (0, 0), but its components must be at least one."),
    ("unfold kernel 0", lambda f, t: f.unfold(t(X), (0, 2)), RuntimeError,
     "kernel size should be greater than zero, but got kernel_height: 0 kernel_width: 2"),
    ("unfold dilation first", lambda f, t: f.unfold(t(X), 2, dilation=0, padding=-1, stride=0), RuntimeError,
     "dilation should be greater than zero, but got dilation_height: 0 dilation_width: 0"),
    ("unfold padding", lambda f, t: f.unfold(t(X), 2, padding=-1, stride=0), RuntimeError,
     "padding should be non-negative, but got pad_height: -1 pad_width: -1"),
    ("unfold stride", lambda f, t: f.unfold(t(X), 2, stride=0), RuntimeError,
     "stride should be greater than zero, but got stride_height: 0 stride_width: 0"),
    ("unfold 3 kernel sizes", lambda f, t: f.unfold(t(X), (2, 2, 2)), RuntimeError,
     "It is expected kernel_size equals to 2, but got size 3"),
    ("unfold float kernel", lambda f, t: f.unfold(t(X), 2.0), TypeError,
     "must be tuple of ints, but found element of type float at pos 0"),
    ("fold wrong number of blocks", lambda f, t: f.fold(t(C), (6, 5), 2), RuntimeError,
     "Given output_size=(6, 5), kernel_size=(2, 2), dilation=(1, 1), padding=(0, 0), stride=(1, 1), expected "
     "size of input's dimension 2 to match the calculated number of sliding blocks 5 * 4 = 20, but got "
     "input.size(2)=16."),
    ("fold unbatched wrong blocks", lambda f, t: f.fold(t(rand((12, 15))), 5, 2), RuntimeError,
     "expected size of input's dimension 2 to match the calculated number of sliding blocks 4 * 4 = 16, but "
     "got input.size(2)=15."),
    ("fold channels", lambda f, t: f.fold(t(C), (5, 5), 3), RuntimeError,
     "Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got "
     "input.size(1)=12 and kernel_size=(3, 3)."),
    ("fold 4-D", lambda f, t: f.fold(t(X), (5, 5), 2), RuntimeError,
     "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero dimensions for "
     "input, but got: [2, 3, 5, 5]"),
    ("fold no blocks", lambda f, t: f.fold(t(rand((2, 49, 1))), (5, 5), 7), RuntimeError,
     "Given output_size=(5, 5), kernel_size=(7, 7), dilation=(1, 1), padding=(0, 0), stride=(1, 1), calculated "
     "shape of the array of sliding blocks as (-1, -1), which is too small (non-positive)"),
    ("fold empty output", lambda f, t: f.fold(t(rand((2, 4, 4))), (0, 0), 1, padding=1), RuntimeError,
     "Expected output spatial size to be positive, but got: output_size=(0, 0)."),
    ("fold stride first", lambda f, t: f.fold(t(C), 5, 2, dilation=0, padding=-1, stride=0), RuntimeError,
     "stride should be greater than zero, but got stride_height: 0 stride_width: 0"),
    ("fold 1 output size", lambda f, t: f.fold(t(C), (5,), 2), RuntimeError,
     "It is expected output_size equals to 2, but got size 1"),
]


@pytest.mark.parametrize("what, call, exc, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(what, call, exc, message):
    with pytest.raises(exc) as info:
        call(F, gradlab.tensor)
    assert message in str(info.value)
    assert str(info.value).startswith(("unfold", "fold")), "the message names the op"


@pytest.mark.parametrize("what, call, exc, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_are_torchs(what, call, exc, message):
    """The messages above are the ones torch gives for the same calls."""
    torch = pytest.importorskip("torch")
    with pytest.raises(exc) as info:
        call(torch.nn.functional, torch.tensor)
    assert message in str(info.value)


def test_integer_input_is_rejected():
    with pytest.raises(NotImplementedError, match="unfold: not implemented for dtype int64"):
        F.unfold(gradlab.ones(1, 1, 3, 3, dtype=gradlab.int64), 2)
    with pytest.raises(NotImplementedError, match="fold: not implemented for dtype int32"):
        F.fold(gradlab.ones(1, 4, 4, dtype=gradlab.int32), 3, 2)


# ---- modules ------------------------------------------------------------------------------------
MODULES = [("Unfold", (2,), {}), ("Unfold", ((2, 3),), dict(dilation=2, padding=(1, 0), stride=[1, 2])),
           ("Fold", ((4, 5), 2), {}), ("Fold", (4, 3, 1, 0, 1), {}), ("Fold", ([5, 5], (2, 2)), dict(stride=2))]


@pytest.mark.parametrize("name, args, kwargs", MODULES)
def test_module_repr_matches_torch(name, args, kwargs):
    torch = pytest.importorskip("torch")
    assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))


def test_module_reprs_and_forward():
    unfold, fold = nn.Unfold((2, 3), dilation=2, padding=(1, 0), stride=[1, 2]), nn.Fold(4, 3, 1, 0, 1)
    assert repr(unfold) == "Unfold(kernel_size=(2, 3), dilation=2, padding=(1, 0), stride=[1, 2])"
    assert repr(fold) == "Fold(output_size=4, kernel_size=3, dilation=1, padding=0, stride=1)"
    assert list(unfold.parameters()) == [] and list(fold.parameters()) == []
    x = gradlab.tensor(rand((2, 3, 5, 6), 10))
    np.testing.assert_array_equal(unfold(x)._data,
                                  F.unfold(x, (2, 3), dilation=2, padding=(1, 0), stride=[1, 2])._data)
    c = gradlab.tensor(rand((2, 18, 4), 11))
    np.testing.assert_array_equal(fold(c)._data, F.fold(c, 4, 3)._data)
    model = nn.Sequential(nn.Unfold(2, stride=2), nn.Fold((4, 4), 2, stride=2))  # blocks that tile the image
    y = gradlab.tensor(rand((1, 2, 4, 4), 12))
    np.testing.assert_array_equal(model(y)._data, y._data)


# ---- Tensor.unfold ------------------------------------------------------------------------------
@st.composite
def window_cases(draw):
    shape = tuple(draw(st.lists(st.integers(0, 5), max_size=4)))
    dim = draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1))
    length = shape[dim] if shape else 1
    return dict(shape=shape, dim=dim, size=draw(st.integers(0, length)), step=draw(st.integers(1, 4)),
                dtype=draw(st.sampled_from([np.float32, np.float64])), seed=draw(st.integers(0, 999)))


@given(c=window_cases())
def test_tensor_unfold_matches_torch(c):
    pytest.importorskip("torch")
    out, ref = check_against_torch(lambda t: t.unfold(c["dim"], c["size"], c["step"]),
                                   lambda t: t.unfold(c["dim"], c["size"], c["step"]),
                                   rand(c["shape"], c["seed"], c["dtype"]), c["seed"])
    assert out.grad_fn.name() == type(ref.grad_fn).__name__ == "UnfoldBackward0"


def test_tensor_unfold_double_backward():
    x = gradlab.tensor(rand((3, 7), 13), requires_grad=True)
    assert gradcheck(lambda t: t.unfold(1, 3, 2), (x,))
    assert gradgradcheck(lambda t: t.unfold(1, 3, 2), (x,))
    assert gradgradcheck(lambda t: t.unfold(0, 2, 1), (x,))   # overlapping windows: gradients add
    assert gradgradcheck(lambda t: t.unfold(-1, 2, 4), (x,))  # gaps between windows: zero gradient there
    s = gradlab.tensor(2.0, dtype=gradlab.float64, requires_grad=True)
    assert gradgradcheck(lambda t: t.unfold(0, 1, 1), (s,))
    w = x.unfold(1, 3, 2)
    upstream = gradlab.tensor(rand(tuple(w.shape), 14), requires_grad=True)
    gx, = gradlab.autograd.grad(w, x, upstream, create_graph=True)
    assert gx.grad_fn.name() == "UnfoldBackwardBackward0"


def test_tensor_unfold_is_a_view():
    base = gradlab.arange(10.0)
    windows = base.unfold(0, 2, 3)  # no overlap: writable, and writes reach the base
    assert np.shares_memory(windows._data, base._data)
    assert windows.tolist() == [[0.0, 1.0], [3.0, 4.0], [6.0, 7.0]]
    windows[1, 0] = 100.0
    assert base[3].item() == 100.0
    base[7] = -1.0
    assert windows[2, 1].item() == -1.0
    overlapping = base.unfold(0, 3, 1)
    with pytest.raises(RuntimeError, match="single memory location"):
        overlapping.add_(1)


def test_tensor_unfold_inplace_on_view_reaches_base_gradient():
    x = gradlab.tensor(rand(6, 15), requires_grad=True)
    y = x * 1
    y.unfold(0, 2, 2).mul_(3)  # non-overlapping windows covering every element
    y.sum().backward()
    np.testing.assert_allclose(x.grad._data, np.full(6, 3.0))


UNFOLD_ERRORS = [  # (dimension, size, step), exception, PyTorch's message
    ((1, 5, 1), RuntimeError, "maximum size for tensor at dimension 1 is 4 but size is 5"),
    ((1, 5, 0), RuntimeError, "maximum size for tensor at dimension 1 is 4 but size is 5"),
    ((1, -1, 0), RuntimeError, "size is -1 but must be >= 0"),
    ((1, 2, 0), RuntimeError, "step is 0 but must be > 0"),
    ((0, 2, -1), RuntimeError, "step is -1 but must be > 0"),
    ((2, 1, 1), IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    ((1, 2.0, 1), TypeError, "argument 'size' must be int, not float"),
]


@pytest.mark.parametrize("args, exc, message", UNFOLD_ERRORS)
def test_tensor_unfold_errors(args, exc, message):
    with pytest.raises(exc) as info:
        gradlab.zeros(3, 4).unfold(*args)
    assert message in str(info.value)


@pytest.mark.parametrize("args, exc, message", UNFOLD_ERRORS)
def test_tensor_unfold_errors_are_torchs(args, exc, message):
    torch = pytest.importorskip("torch")
    with pytest.raises(exc) as info:
        torch.zeros(3, 4).unfold(*args)
    assert message in str(info.value).replace(" (position 2)", "")
