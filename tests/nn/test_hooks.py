"""Module hooks: forward pre-hooks, forward hooks, full backward (pre-)hooks; values checked against torch."""
import warnings

import numpy as np
import pytest

import gradlab
from gradlab import nn
from gradlab.nn.modules import module as module_mod
from gradlab.utils.hooks import RemovableHandle


def affine(lib):
    """``XWB``: forward(x, y, k) -> (x * w + b * k, (y * x).sum()) with a non-tensor argument k."""
    class XWB(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = lib.nn.Parameter(lib.tensor([1.5, -2.0, 0.5]))
            self.b = lib.nn.Parameter(lib.tensor([0.1, 0.2, 0.3]))

        def forward(self, x, y, k=1.0):
            return x * self.w + self.b * k, (y * x).sum()

    class Scale(lib.nn.Module):
        def __init__(self, s):
            super().__init__()
            self.s = lib.nn.Parameter(lib.tensor([s]))

        def forward(self, x):
            return x * self.s

    return XWB, Scale


def as_lists(grads):
    return [None if g is None else np.round(np.array(g.tolist(), dtype=float), 6).tolist() for g in grads]


class Echo(nn.Module):
    def forward(self, *args, **kwargs):
        return args[0] if len(args) == 1 else args


# ---- forward pre-hooks and forward hooks ----------------------------------------------------------------
def test_forward_hooks_run_in_order_around_forward():
    log = []

    class Logged(nn.Module):
        def forward(self, x):
            log.append("forward")
            return x + 1

    m = Logged()
    m.register_forward_pre_hook(lambda mod, args: log.append(("pre1", mod is m, args)))
    m.register_forward_pre_hook(lambda mod, args: log.append("pre2"))
    m.register_forward_hook(lambda mod, args, out: log.append(("post1", out.item())))
    m.register_forward_hook(lambda mod, args, out: log.append("post0"), prepend=True)
    m.register_forward_pre_hook(lambda mod, args: log.append("pre0"), prepend=True)
    x = gradlab.tensor(1.0)
    assert m(x).item() == 2.0
    assert log == ["pre0", ("pre1", True, (x,)), "pre2", "forward", "post0", ("post1", 2.0)]


def test_hook_return_values_replace_args_and_output():
    m = Echo()
    m.register_forward_pre_hook(lambda mod, args: args[0] * 10)  # a single value becomes (value,)
    m.register_forward_pre_hook(lambda mod, args: (args[0] + 1,))
    m.register_forward_hook(lambda mod, args, out: out * 2)
    seen = []
    m.register_forward_hook(lambda mod, args, out: seen.append((args[0].item(), out.item())))
    assert m(gradlab.tensor(1.0)).item() == 22.0
    assert seen == [(11.0, 22.0)]  # later hooks see the replaced args and output


def test_hooks_with_kwargs():
    m = Echo()
    seen = {}

    def pre(mod, args, kwargs):
        return (args[0] + 1,), {**kwargs, "extra": 5}

    def post(mod, args, kwargs, out):
        seen.update(kwargs)
        return out * 3

    m.register_forward_pre_hook(pre, with_kwargs=True)
    m.register_forward_hook(post, with_kwargs=True)
    assert m(gradlab.tensor(1.0), flag=True).item() == 6.0
    assert seen == {"flag": True, "extra": 5}
    bad = Echo()
    bad.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple of"):
        bad(gradlab.tensor(1.0), gradlab.tensor(2.0), gradlab.tensor(3.0))


def test_handles_remove_hooks_and_their_flags():
    m = Echo()
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args, kwargs: calls.append("pre"), with_kwargs=True)
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append("post"), always_call=True)
    assert isinstance(h1, RemovableHandle) and isinstance(h2, RemovableHandle)
    m(gradlab.ones(1))
    h1.remove()
    h2.remove()
    h2.remove()  # removing twice is harmless
    m(gradlab.ones(1))
    assert calls == ["pre", "post"]
    assert not m._forward_pre_hooks_with_kwargs and not m._forward_hooks_always_called
    with m.register_forward_hook(lambda mod, args, out: calls.append("ctx")):
        m(gradlab.ones(1))
    m(gradlab.ones(1))
    assert calls == ["pre", "post", "ctx"]


def test_always_call_hooks_run_when_forward_raises():
    class Fails(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    m = Fails()
    calls = []
    m.register_forward_hook(lambda mod, args, out: calls.append(("always", out)), always_call=True)
    m.register_forward_hook(lambda mod, args, out: calls.append("normal"))

    def broken(mod, args, out):
        raise KeyError("inner")

    m.register_forward_hook(broken, always_call=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="boom"):
            m(gradlab.ones(1))
    assert calls == [("always", None)]
    assert any("always_call=True" in str(w.message) for w in caught)


def test_global_hooks_run_before_module_hooks():
    calls = []
    m = Echo()
    m.register_forward_pre_hook(lambda mod, args: calls.append("local pre"))
    m.register_forward_hook(lambda mod, args, out: calls.append("local post"))
    handles = [module_mod.register_module_forward_pre_hook(lambda mod, args: calls.append("global pre")),
               module_mod.register_module_forward_hook(lambda mod, args, out: calls.append("global post"))]
    try:
        m(gradlab.ones(1))
        nn.Sequential()(gradlab.ones(1))  # global hooks see every module
    finally:
        for h in handles:
            h.remove()
    m(gradlab.ones(1))
    assert calls == ["global pre", "local pre", "global post", "local post", "global pre", "global post",
                     "local pre", "local post"]


def test_forward_hooks_match_torch_on_a_sequential():
    torch = pytest.importorskip("torch")

    def run(lib):
        _, Scale = affine(lib)
        net = lib.nn.Sequential(Scale(2.0), lib.nn.Sequential(Scale(3.0), Scale(-1.0)))
        log = []
        for name, mod in net.named_modules():
            mod.register_forward_pre_hook(lambda m, a, name=name: log.append(("pre", name, as_lists(a))))
            mod.register_forward_hook(lambda m, a, o, name=name: log.append(("post", name, as_lists([o]))))
        net(lib.tensor([1.0, 2.0]))
        return log

    assert run(gradlab) == run(torch)


# ---- full backward hooks -------------------------------------------------------------------------------
def run_backward_hooks(lib, use_second_output=True, inputs_require_grad=True, replace=None, pre_replace=None):
    XWB, _ = affine(lib)
    m = XWB()
    log = []

    def hook(mod, grad_input, grad_output):
        log.append(("hook", mod is m, as_lists(grad_input), as_lists(grad_output)))
        if replace is not None:
            return tuple(None if g is None else g * replace for g in grad_input)

    def pre_hook(mod, grad_output):
        log.append(("pre", as_lists(grad_output)))
        if pre_replace is not None:
            return tuple(None if g is None else g * pre_replace for g in grad_output)

    m.register_full_backward_hook(hook)
    m.register_full_backward_pre_hook(pre_hook)
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=inputs_require_grad)
    y = lib.tensor([0.5, 0.5, 2.0], requires_grad=inputs_require_grad)
    a, s = m(x, y, 2.0)
    loss = (a * lib.tensor([1.0, 2.0, 3.0])).sum()
    if use_second_output:
        loss = loss + s * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss.backward()
    grads = [as_lists([t.grad]) for t in (x, y, m.w, m.b)]
    return log, grads


@pytest.mark.parametrize("kwargs", [
    {},
    {"use_second_output": False},
    {"inputs_require_grad": False},
    {"replace": 10.0},
    {"pre_replace": -2.0},
    {"replace": 0.5, "pre_replace": 3.0, "use_second_output": False},
])
def test_full_backward_hooks_match_torch(kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = run_backward_hooks(gradlab, **kwargs), run_backward_hooks(torch, **kwargs)
    assert ours[0] == theirs[0]  # what the hooks saw
    assert ours[1] == theirs[1]  # the gradients that reached the inputs and parameters
    assert len(ours[0]) == 2


def test_full_backward_hook_values_by_hand():
    """grad_input are the gradients with respect to the module's tensor inputs, None for non-tensors."""
    log, grads = run_backward_hooks(gradlab)
    # a = x * w + 2b, s = sum(y * x); loss = sum(a * [1, 2, 3]) + 3 s
    w, c, y, x = np.array([1.5, -2.0, 0.5]), np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.5, 2.0]), \
        np.array([1.0, 2.0, 3.0])
    assert log[0] == ("pre", [c.tolist(), 3.0])
    _, _, grad_input, grad_output = log[1]
    np.testing.assert_allclose(grad_input[0], c * w + 3 * y)
    np.testing.assert_allclose(grad_input[1], 3 * x)
    assert grad_input[2] is None and grad_output == [c.tolist(), 3.0]
    np.testing.assert_allclose(grads[0][0], c * w + 3 * y)


def test_backward_hooks_on_a_sequential_match_torch():
    torch = pytest.importorskip("torch")

    def run(lib):
        _, Scale = affine(lib)
        net = lib.nn.Sequential(Scale(2.0), lib.nn.Sequential(Scale(3.0), Scale(-1.0)))
        log = []
        for name, mod in net.named_modules():
            mod.register_full_backward_hook(
                lambda m, gi, go, name=name: log.append((name, as_lists(gi), as_lists(go))))
            mod.register_full_backward_pre_hook(lambda m, go, name=name: log.append(("pre " + name, as_lists(go))))
        x = lib.tensor([1.0, -2.0], requires_grad=True)
        net(x).pow(2).sum().backward()
        return log, as_lists([x.grad])

    assert run(gradlab) == run(torch)


def test_removed_backward_hook_no_longer_fires():
    _, Scale = affine(gradlab)
    m = Scale(2.0)
    calls = []
    handle = m.register_full_backward_hook(lambda mod, gi, go: calls.append(1))
    pre = m.register_full_backward_pre_hook(lambda mod, go: calls.append(2))
    x = gradlab.ones(2, requires_grad=True)
    m(x).sum().backward()
    handle.remove()
    pre.remove()
    m(x).sum().backward()
    assert calls == [2, 1]
    assert m.__call__.__func__ is nn.Module.__call__ and not m._backward_hooks  # back on the fast path


def test_backward_hook_wrong_number_of_gradients():
    _, Scale = affine(gradlab)
    m = Scale(2.0)
    m.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    x = gradlab.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Backward hook returned an invalid number of grad_input, got 2, but "
                                           "expected 1"):
        m(x).sum().backward()
    m2 = Scale(2.0)
    m2.register_full_backward_pre_hook(lambda mod, go: (go[0], go[0]))
    with pytest.raises(RuntimeError, match="Backward pre hook returned an invalid number of grad_output"):
        m2(x).sum().backward()


def test_backward_hooks_are_skipped_under_no_grad():
    _, Scale = affine(gradlab)
    m = Scale(2.0)
    m.register_full_backward_hook(lambda mod, gi, go: pytest.fail("must not run"))
    with gradlab.no_grad():
        out = m(gradlab.ones(2, requires_grad=True))
    assert out.grad_fn is None and out.tolist() == [2.0, 2.0]


def test_forward_hook_output_is_what_backward_hooks_see():
    torch = pytest.importorskip("torch")

    def run(lib):
        _, Scale = affine(lib)
        m = Scale(2.0)
        log = []
        m.register_forward_hook(lambda mod, args, out: out * 5)
        m.register_full_backward_hook(lambda mod, gi, go: log.append((as_lists(gi), as_lists(go))))
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (m(x) * lib.tensor([1.0, -1.0])).sum().backward()
        return log, as_lists([x.grad])

    assert run(gradlab) == run(torch)


def test_global_full_backward_hook_matches_torch():
    torch = pytest.importorskip("torch")

    def run(lib, register):
        _, Scale = affine(lib)
        net = lib.nn.Sequential(Scale(2.0), Scale(3.0))
        seen = []
        handle = register(lambda mod, gi, go: seen.append((type(mod).__name__, as_lists(gi))))
        try:
            net(lib.ones(1, requires_grad=True)).sum().backward()
        finally:
            handle.remove()
        return seen

    ours = run(gradlab, module_mod.register_module_full_backward_hook)
    assert ours == run(torch, torch.nn.modules.module.register_module_full_backward_hook)
    assert ours == [("Scale", [[3.0]]), ("Scale", [[6.0]]), ("Sequential", [[6.0]])]  # as inputs' grads complete


def test_register_backward_hook_is_deprecated_alias():
    _, Scale = affine(gradlab)
    m = Scale(2.0)
    seen = []
    with pytest.warns(FutureWarning, match="register_backward_hook is deprecated"):
        m.register_backward_hook(lambda mod, gi, go: seen.append(as_lists(gi)))
    m(gradlab.ones(1, requires_grad=True)).sum().backward()
    assert seen == [[[2.0]]]


def test_hooked_module_still_passes_gradcheck_and_double_backward():
    torch = pytest.importorskip("torch")

    def build(lib):
        class Cube(lib.nn.Module):
            def forward(self, x, y):
                return x.pow(3) * y, (x * y).sum()

        m = Cube()
        m.register_full_backward_hook(lambda mod, gi, go: None)
        m.register_full_backward_pre_hook(lambda mod, go: None)
        m.register_forward_hook(lambda mod, args, out: out)
        return m

    m = build(gradlab)
    x = gradlab.tensor([0.5, -1.2, 2.0], dtype=gradlab.float64, requires_grad=True)
    y = gradlab.tensor([1.5, 0.3, -0.7], dtype=gradlab.float64, requires_grad=True)
    assert gradlab.autograd.gradcheck(lambda a, b: m(a, b)[0], (x, y))

    def second_derivative(lib, x_values):
        xs = lib.tensor(x_values, dtype=lib.float64, requires_grad=True)
        ys = lib.tensor([1.5, 0.3, -0.7], dtype=lib.float64, requires_grad=True)
        a, s = build(lib)(xs, ys)
        (g,) = lib.autograd.grad((a.sum() + s), xs, create_graph=True)
        g.pow(2).sum().backward()
        return xs.grad.tolist(), ys.grad.tolist()

    values = [0.5, -1.2, 2.0]
    np.testing.assert_allclose(second_derivative(gradlab, values), second_derivative(torch, values), rtol=1e-12)
