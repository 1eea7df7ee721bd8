"""inference_mode as PyTorch's: inference tensors, what they refuse outside inference mode, nesting, threads.

Every test takes ``lib``: it runs on gradlab and, when torch is installed, on
torch with the same assertions, so the expected values are PyTorch's own.
"""
import threading

import numpy as np
import pytest
from hypothesis import given, strategies as st

import gradlab

SAVED = ("Inference tensors cannot be saved for backward. Please do not use Tensors created in inference mode in "
         "computation tracked by autograd. To work around this, you can make a clone to get a normal tensor and use "
         "it in autograd, or use `torch.no_grad()` instead of `torch.inference_mode()`.")
INPLACE = ("Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone to get a "
           "normal tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 for more details.")
REQUIRES_GRAD = "Setting requires_grad=True on inference tensor outside InferenceMode is not allowed."


@pytest.fixture(params=["gradlab", "torch"])
def lib(request):
    if request.param == "torch":
        return pytest.importorskip("torch")
    return gradlab


def made_inside(lib, fn):
    with lib.inference_mode():
        return fn()


# ---- what inference mode makes ----------------------------------------------------------------------
FACTORIES = {
    "ones": lambda lib: lib.ones(2, 3),
    "zeros": lambda lib: lib.zeros(2),
    "empty": lambda lib: lib.empty(2),
    "full": lambda lib: lib.full((2,), 1.5),
    "randn": lambda lib: lib.randn(2, 3),
    "rand": lambda lib: lib.rand(2),
    "randint": lambda lib: lib.randint(0, 5, (3,)),
    "arange": lambda lib: lib.arange(4),
    "linspace": lambda lib: lib.linspace(0, 1, 3),
    "eye": lambda lib: lib.eye(2),
    "tensor": lambda lib: lib.tensor([1.0, 2.0]),
    "from_numpy": lambda lib: lib.from_numpy(np.ones(2)),
    "Tensor(2, 3)": lambda lib: lib.Tensor(2, 3),
    "FloatTensor": lambda lib: lib.FloatTensor([1.0]),
    "zeros_like": lambda lib: lib.zeros_like(lib.tensor([1.0])),
    "ones_like": lambda lib: lib.ones_like(lib.tensor([1.0])),
    "bernoulli": lambda lib: lib.bernoulli(lib.full((2,), 0.5)),
}


@pytest.mark.parametrize("name", FACTORIES)
def test_factories_make_inference_tensors_inside_only(lib, name):
    inside = made_inside(lib, lambda: FACTORIES[name](lib))
    assert inside.is_inference() and not inside.requires_grad
    assert not FACTORIES[name](lib).is_inference()


def test_op_results_inside_are_inference_tensors_without_a_graph(lib):
    w = lib.ones(3, requires_grad=True)
    x = lib.randn(3)
    with lib.inference_mode():
        assert lib.is_inference_mode_enabled() and not lib.is_grad_enabled()
        for out in (w * 2, x + 1, lib.relu(w), w.sum(), w.clone(), lib.matmul(w, x)):
            assert out.is_inference()
            assert not out.requires_grad and out.grad_fn is None
    assert not lib.is_inference_mode_enabled() and lib.is_grad_enabled()
    assert not (w * 2).is_inference() and (w * 2).requires_grad
    assert not w.is_inference() and not x.is_inference()


def test_requires_grad_inside_inference_mode(lib):
    with lib.inference_mode():
        t = lib.ones(2, requires_grad=True)
        u = lib.ones(2).requires_grad_()
        assert (t * 2).grad_fn is None  # still nothing recorded
    assert t.is_inference() and t.requires_grad and u.requires_grad


def test_views_follow_their_base_not_the_mode(lib):
    x = lib.randn(3, 4)
    with lib.inference_mode():
        normal_views = [x.view(12), x[0], x.detach(), x.t(), x.reshape(12), x.split(1)[0], x.unsqueeze(0), x.data]
        a = lib.ones(3, 4)
    assert not any(v.is_inference() for v in normal_views)
    inference_views = [a.view(12), a[0], a[:, 1:], a.detach(), a.data, a.T, a.unsqueeze(0), a[:1].expand(3, 4),
                       a.split(1)[0], a.unbind()[0], a.reshape(12), a.float(), a.contiguous()]
    assert all(v.is_inference() for v in inference_views)
    # copies made outside are normal tensors
    assert not any(t.is_inference() for t in (a.clone(), a.double(), a * 1, a.sum(), a[[0, 1]], a[a > 0]))


@given(shape=st.lists(st.integers(1, 4), min_size=0, max_size=3), scale=st.floats(-3, 3))
def test_values_inside_equal_values_outside(shape, scale):
    x = gradlab.randn(*shape, requires_grad=True)
    expected = (x * scale + 1).relu()
    with gradlab.inference_mode():
        got = (x * scale + 1).relu()
    assert got.is_inference() and not got.requires_grad
    np.testing.assert_array_equal(got.numpy(), expected.detach().numpy())


# every result made inside is an inference tensor, also those that ops build without a graph node
# (comparisons, indices, masks, counts): op(lib, F, x, labels) -> a tensor or a tuple of tensors
RESULT_OPS = {
    "x * 2 + 1": lambda lib, F, x, i: x * 2 + 1,
    "sum": lambda lib, F, x, i: x.sum(),
    "==, !=, <=, >": lambda lib, F, x, i: (x == 0.5, x != 0.5, x <= 0, x > 0),
    "eq lt ge (functions)": lambda lib, F, x, i: (lib.eq(x, x), lib.lt(x, 0.0), lib.ge(x, x)),
    "isnan isinf isfinite isclose": lambda lib, F, x, i: (x.isnan(), x.isinf(), lib.isfinite(x), lib.isclose(x, x)),
    "logical ops": lambda lib, F, x, i: (lib.logical_and(x > 0, x < 1), lib.logical_or(x > 0, x < 1),
                                         lib.logical_xor(x > 0, x < 1), lib.logical_not(x > 0)),
    "& | ~": lambda lib, F, x, i: ((x > 0) & (x < 1), (x > 0) | (x < 1), ~(x > 0)),
    "argmax argmin": lambda lib, F, x, i: (x.argmax(), x.argmin(), x.argmax(1), lib.argmin(x, 0, keepdim=True)),
    "max min over dim": lambda lib, F, x, i: (*x.max(1), *x.min(0, keepdim=True)),
    "sort argsort": lambda lib, F, x, i: (*x.sort(1), x.argsort(0), lib.argsort(x, 1, descending=True)),
    "topk": lambda lib, F, x, i: x.topk(1, 1),
    "nonzero": lambda lib, F, x, i: ((x > 0).nonzero(), *(x > 0).nonzero(as_tuple=True), lib.nonzero(i)),
    "unique": lambda lib, F, x, i: (lib.unique(i), *lib.unique(i, return_inverse=True, return_counts=True)),
    "all any count_nonzero": lambda lib, F, x, i: ((x > -9).all(), (x > 0).any(1), lib.count_nonzero(x)),
    "integer arithmetic": lambda lib, F, x, i: (lib.floor_divide(i, 2), i % 3, i + 1, -i, i.abs()),
    "new_* factories": lambda lib, F, x, i: (x.new_zeros(2), x.new_ones(2, 1), x.new_full((2,), 3.0),
                                             x.new_empty(2).fill_(1.0), x.new_tensor([1.0])),
    "one_hot": lambda lib, F, x, i: F.one_hot(i, 4),
    "max_pool2d indices": lambda lib, F, x, i: F.max_pool2d(x[None, None], 1, return_indices=True),
    "var_mean std_mean": lambda lib, F, x, i: (*lib.var_mean(x, 1, correction=0), *lib.std_mean(x, correction=0)),
    "dtype conversions": lambda lib, F, x, i: (x.long(), x.double(), i.float(), (x > 0).int()),
}


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("name", RESULT_OPS)
@given(rows=st.integers(1, 4), cols=st.integers(1, 4), data=st.data())
def test_every_result_made_inside_is_an_inference_tensor(name, rows, cols, data):
    values = np.array(data.draw(st.lists(st.sampled_from([-1.5, -0.5, 0.0, 0.5, 2.0]), min_size=rows * cols,
                                         max_size=rows * cols)), dtype=np.float32).reshape(rows, cols)
    labels = np.array(data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=5)), dtype=np.int64)
    libs = [gradlab]
    try:
        import torch
        libs.append(torch)
    except ImportError:
        pass
    for lib in libs:
        F = lib.nn.functional
        x, i = lib.tensor(values, requires_grad=True), lib.tensor(labels)
        with lib.inference_mode():
            inside = _as_tuple(RESULT_OPS[name](lib, F, x, i))
        outside = _as_tuple(RESULT_OPS[name](lib, F, x, i))
        assert [t.is_inference() for t in inside] == [True] * len(inside), lib.__name__
        assert not any(t.is_inference() for t in outside), lib.__name__
        assert not any(t.requires_grad for t in inside)
        for a, b in zip(inside, outside):
            np.testing.assert_array_equal(a.numpy(), b.detach().numpy())


def test_results_of_other_threads_stay_normal_while_one_thread_is_in_inference_mode():
    entered, made = threading.Event(), threading.Event()
    results = {}

    def other_thread():
        entered.wait(5)
        x = gradlab.tensor([1.0, -2.0, 3.0])
        results["other"] = [x > 0, x.argmax(), x.sort()[1], (x > 0).nonzero(), x.new_zeros(2), x * 2]
        made.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with gradlab.inference_mode():
        entered.set()
        made.wait(5)
        x = gradlab.tensor([1.0, -2.0, 3.0])
        results["main"] = [x > 0, x.argmax(), x.sort()[1], (x > 0).nonzero(), x.new_zeros(2), x * 2]
    thread.join()
    assert all(t.is_inference() for t in results["main"])
    assert not any(t.is_inference() for t in results["other"])
    x = gradlab.tensor([1.0, -2.0, 3.0])
    assert not any(t.is_inference() for t in (x > 0, x.argmax(), (x > 0).nonzero()))


def test_fast_constructor_is_restored_after_inference_mode():
    """Tensor._wrap checks the inference flag only while some thread is in inference mode (a cost every op pays)."""
    plain = gradlab.Tensor.__dict__["_wrap"]
    with gradlab.inference_mode():
        assert gradlab.Tensor.__dict__["_wrap"] is not plain
        with gradlab.inference_mode(False):
            assert not (gradlab.ones(2) > 0).is_inference()
        with gradlab.inference_mode():
            pass
        assert (gradlab.ones(2) > 0).is_inference()
    assert gradlab.Tensor.__dict__["_wrap"] is plain

    @gradlab.inference_mode()
    def gen():
        yield gradlab.ones(2) > 0
    with pytest.raises(ValueError):
        with gradlab.inference_mode():
            raise ValueError
    assert next(gen()).is_inference()
    assert gradlab.Tensor.__dict__["_wrap"] is plain


# ---- saving an inference tensor for backward ------------------------------------------------------------------
# (op, raises): torch saves the inference tensor ``a`` for the gradient of ``w`` / ``W`` / ``cw`` in the raising cases
SAVE_CASES = {
    "inf * w": (lambda lib, F, a, w, W, b, img, cw: a * w, True),
    "w * inf": (lambda lib, F, a, w, W, b, img, cw: w * a, True),
    "inf / w": (lambda lib, F, a, w, W, b, img, cw: a / w, True),
    "w / inf": (lambda lib, F, a, w, W, b, img, cw: w / a, True),
    "inf @ W.T": (lambda lib, F, a, w, W, b, img, cw: a @ W.t(), True),
    "matmul(W, inf.T)": (lambda lib, F, a, w, W, b, img, cw: lib.matmul(W, a.t()), True),
    "mm": (lambda lib, F, a, w, W, b, img, cw: lib.mm(a, W.t()), True),
    "linear": (lambda lib, F, a, w, W, b, img, cw: F.linear(a, W), True),
    "linear with bias": (lambda lib, F, a, w, W, b, img, cw: F.linear(a, W, b), True),
    "conv2d": (lambda lib, F, a, w, W, b, img, cw: F.conv2d(img, cw), True),
    "relu(w) * inf": (lambda lib, F, a, w, W, b, img, cw: F.relu(w) * a, True),
    "inf view * w": (lambda lib, F, a, w, W, b, img, cw: a.view(3, 4) * w, True),
    "mse_loss": (lambda lib, F, a, w, W, b, img, cw: F.mse_loss(w, a), True),
    "inf + w": (lambda lib, F, a, w, W, b, img, cw: a + w, False),
    "w + inf": (lambda lib, F, a, w, W, b, img, cw: w + a, False),
    "inf - w": (lambda lib, F, a, w, W, b, img, cw: a - w, False),
    "relu(inf + w)": (lambda lib, F, a, w, W, b, img, cw: F.relu(a + w), False),
    "relu(inf)": (lambda lib, F, a, w, W, b, img, cw: F.relu(a), False),
    "inf.exp() * w": (lambda lib, F, a, w, W, b, img, cw: a.exp() * w, False),  # exp's result is a normal tensor
    "cat": (lambda lib, F, a, w, W, b, img, cw: lib.cat([a, w]), False),
    "w * inf.sum()": (lambda lib, F, a, w, W, b, img, cw: w * a.sum(), False),  # the sum is made outside
    "w * inf.clone()": (lambda lib, F, a, w, W, b, img, cw: w * a.clone(), False),
}


@pytest.mark.parametrize("case", SAVE_CASES)
def test_saving_an_inference_tensor_for_backward(lib, case):
    op, raises = SAVE_CASES[case]
    rng = np.random.default_rng(0)
    a, img = made_inside(lib, lambda: (lib.tensor(rng.standard_normal((3, 4)), dtype=lib.float32),
                                       lib.tensor(rng.standard_normal((1, 2, 5, 5)), dtype=lib.float32)))
    w = lib.tensor(rng.standard_normal((3, 4)), dtype=lib.float32, requires_grad=True)
    W = lib.tensor(rng.standard_normal((5, 4)), dtype=lib.float32, requires_grad=True)
    b = lib.zeros(5, requires_grad=True)
    cw = lib.tensor(rng.standard_normal((3, 2, 3, 3)), dtype=lib.float32, requires_grad=True)
    args = (lib, lib.nn.functional, a, w, W, b, img, cw)
    if raises:
        with pytest.raises(RuntimeError) as info:
            op(*args)
        assert str(info.value) == SAVED
    else:
        out = op(*args)
        assert not out.is_inference()
        assert out.requires_grad == (case != "relu(inf)")  # relu(inf) has no input that requires grad
        if out.requires_grad:
            out.sum().backward()
    with lib.no_grad():
        assert not op(*args).requires_grad  # nothing is saved when nothing is recorded


def test_a_clone_is_a_normal_tensor_for_autograd(lib):
    a = made_inside(lib, lambda: lib.tensor([1.0, 2.0, 3.0]))
    c = a.clone()
    assert not c.is_inference()
    w = lib.ones(3, requires_grad=True)
    (c * w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 2.0, 3.0])


def test_custom_function_cannot_save_an_inference_tensor(lib):
    class Mul(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y, g * x

    class Add(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return g, g

    a = made_inside(lib, lambda: lib.ones(3))
    w = lib.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        Mul.apply(a, w)
    assert str(info.value) == SAVED
    assert Add.apply(a, w).requires_grad
    out = made_inside(lib, lambda: Mul.apply(lib.ones(3), w))
    assert out.is_inference() and not out.requires_grad


# ---- in-place updates ---------------------------------------------------------------------------------------
def _setitem(t):
    t[0] = 5.0


INPLACE_CASES = {
    "add_": lambda t: t.add_(1), "mul_": lambda t: t.mul_(2), "zero_": lambda t: t.zero_(),
    "fill_": lambda t: t.fill_(3), "copy_": lambda t: t.copy_(t.clone() + 1), "normal_": lambda t: t.normal_(),
    "uniform_": lambda t: t.uniform_(), "+=": lambda t: t.__iadd__(1), "relu_": lambda t: t.relu_(),
    "setitem": _setitem, "view add_": lambda t: t[0].add_(1),
}


@pytest.mark.parametrize("case", INPLACE_CASES)
def test_inplace_update_outside_inference_mode_raises(lib, case):
    t = made_inside(lib, lambda: lib.tensor([-1.0, 2.0, 3.0]))
    for guard in (lambda: lib.enable_grad(), lambda: lib.no_grad()):
        with guard(), pytest.raises(RuntimeError) as info:
            INPLACE_CASES[case](t)
        assert str(info.value) == INPLACE
    if lib is gradlab:  # gradlab refuses before writing (PyTorch writes, then refuses when bumping the version)
        np.testing.assert_array_equal(t.numpy(), [-1.0, 2.0, 3.0])
    with lib.inference_mode():
        INPLACE_CASES[case](t)  # allowed inside
    c = t.clone()
    INPLACE_CASES[case](c)  # and on a clone, outside


def test_inplace_init_of_an_inference_tensor_raises(lib):
    t = made_inside(lib, lambda: lib.ones(2, 2))
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside InferenceMode"):
        lib.nn.init.zeros_(t)


def test_inplace_with_an_inference_operand_is_allowed(lib):
    a = made_inside(lib, lambda: lib.ones(3))
    x = lib.zeros(3)
    x.add_(a)
    x.copy_(a)
    assert not x.is_inference() and x._version == 2


def test_normal_tensor_changed_in_place_inside_inference_mode(lib):
    x = lib.zeros(3)
    with lib.inference_mode():
        x.add_(1)
    assert not x.is_inference()
    np.testing.assert_array_equal(x.numpy(), [1.0, 1.0, 1.0])


def test_requires_grad_and_version_of_an_inference_tensor(lib):
    a = made_inside(lib, lambda: lib.ones(2))
    for set_it in (lambda: a.requires_grad_(), lambda: setattr(a, "requires_grad", True),
                   lambda: lib.nn.Parameter(a)):
        with pytest.raises(RuntimeError) as info:
            set_it()
        assert str(info.value) == REQUIRES_GRAD
    assert not a.requires_grad_(False).requires_grad
    with pytest.raises(RuntimeError, match="Inference tensors do not track version counter."):
        a._version
    assert lib.ones(2)._version == 0


# ---- modes: nesting, decorators, threads -----------------------------------------------------------------------
def _state(lib):
    w = lib.ones(1, requires_grad=True)
    return lib.is_grad_enabled(), lib.is_inference_mode_enabled(), lib.ones(1).is_inference(), (w * 2).requires_grad


def test_nesting_with_no_grad_and_enable_grad(lib):
    assert _state(lib) == (True, False, False, True)
    with lib.inference_mode():
        assert _state(lib) == (False, True, True, False)
        with lib.enable_grad():
            assert _state(lib) == (True, True, True, False)  # grad mode on, yet nothing recorded
        with lib.no_grad():
            assert _state(lib) == (False, True, True, False)
        with lib.set_grad_enabled(True):
            assert _state(lib) == (True, True, True, False)
        with lib.inference_mode(False):
            assert _state(lib) == (True, False, False, True)
            with lib.inference_mode():
                assert _state(lib) == (False, True, True, False)
        assert _state(lib) == (False, True, True, False)
    with lib.no_grad():
        with lib.inference_mode():
            assert _state(lib) == (False, True, True, False)
        assert _state(lib) == (False, False, False, False)
        with lib.inference_mode(False):  # turns grad mode on, as PyTorch's InferenceMode(false)
            assert _state(lib) == (True, False, False, True)
        assert _state(lib) == (False, False, False, False)
    assert _state(lib) == (True, False, False, True)


def test_state_restored_after_an_exception(lib):
    with pytest.raises(ValueError):
        with lib.inference_mode():
            raise ValueError
    assert _state(lib) == (True, False, False, True)


def test_decorator_forms(lib):
    @lib.inference_mode
    def bare():
        return _state(lib)

    @lib.inference_mode()
    def called():
        return _state(lib)

    @lib.inference_mode(False)
    def off():
        return _state(lib)

    @lib.inference_mode()
    def gen():
        yield _state(lib)
        yield _state(lib)

    assert bare() == called() == (False, True, True, False)
    assert bare.__name__ == "bare"
    assert off() == (True, False, False, True)
    with lib.no_grad():
        assert off() == (True, False, False, True)
        assert _state(lib) == (False, False, False, False)
    it = gen()
    assert next(it) == (False, True, True, False)
    assert _state(lib) == (True, False, False, True)  # only while the generator's body runs
    assert next(it) == (False, True, True, False)


def test_inference_mode_is_per_thread(lib):
    entered, checked = threading.Event(), threading.Event()
    seen = {}

    def other_thread():
        entered.wait(5)
        seen["other"] = _state(lib)
        checked.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with lib.inference_mode():
        entered.set()
        checked.wait(5)
        seen["main"] = _state(lib)
    thread.join()
    assert seen == {"other": (True, False, False, True), "main": (False, True, True, False)}


# ---- a typical evaluation loop -----------------------------------------------------------------------------------
def test_module_evaluation_under_inference_mode(lib):
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2, 3))
    images, labels = lib.randn(4, 1, 4, 4), lib.tensor([0, 1, 2, 0])
    model.eval()
    correct = 0
    with lib.inference_mode():
        out = model(images)
        assert out.is_inference() and not out.requires_grad and out.grad_fn is None
        correct += (out.argmax(1) == labels).sum().item()
    assert isinstance(out[0, 0].item(), float) and out.numpy().shape == (4, 3)
    assert out.argmax(1).shape == (4,) and 0 <= correct <= 4
    assert not any(p.is_inference() for p in model.parameters())
    # training afterwards is unaffected
    model.train()
    loss = lib.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    # an inference output fed back into a trainable layer is refused, as in PyTorch
    with pytest.raises(RuntimeError) as info:
        model[4](out[:, :2])
    assert str(info.value) == SAVED
