"""The engine, not the op, picks a node's backward: ``fast`` (arrays) unless create_graph asks for ``backward``."""
import numpy as np
import pytest

import gradlab
import gradlab.nn.functional as F
from gradlab import kernels
from gradlab.autograd.record import record, record_outputs

from autograd_helpers import assert_close, leaf


def _doubling_op(x, calls):
    """y = 2x, with a differentiable backward and an array-only fast path that log their calls."""
    def backward(g):
        calls.append("backward")
        return (g * 2,)

    def fast(g):
        calls.append("fast")
        return (gradlab.Tensor._wrap(g._data * 2),)
    return record(x._data * 2, "DoubleBackward0", backward, (x,), fast=fast)


def test_ordinary_backward_runs_the_fast_path():
    calls = []
    x = leaf([1.0, 2.0])
    _doubling_op(x, calls).sum().backward()
    assert calls == ["fast"]
    assert_close(x.grad, [2.0, 2.0])


@pytest.mark.parametrize("create_graph", [True, False])
def test_create_graph_runs_the_differentiable_backward(create_graph):
    calls = []
    x = leaf([1.0, 2.0])
    (gx,) = gradlab.autograd.grad((_doubling_op(x, calls) ** 2).sum(), x, create_graph=create_graph)
    assert calls == (["backward"] if create_graph else ["fast"])
    assert gx.requires_grad == create_graph
    assert_close(gx, [8.0, 16.0])  # d/dx (2x)^2 = 8x


def test_a_node_without_fast_path_runs_its_backward():
    x = leaf([1.0, 2.0])
    y = record(x._data * 3, "TripleBackward0", lambda g: (g * 3,), (x,))
    assert y.grad_fn.fast_fn is None
    y.sum().backward()
    assert_close(x.grad, [3.0, 3.0])


def test_the_multi_output_form_passes_fast_a_tuple():
    calls = []
    x = leaf([1.0, 2.0, 3.0])

    def backward(grads):
        calls.append("backward")
        return (gradlab.cat([g if g is not None else gradlab.zeros(1, dtype=x.dtype) for g in grads]),)

    def fast(grads):
        calls.append("fast")
        return (gradlab.Tensor._wrap(np.concatenate([g._data if g is not None else np.zeros(1) for g in grads])),)
    low, high = record_outputs((x._data[:1], x._data[1:]), "SplitTwoBackward0", backward, (x,), fast=fast)
    assert low.grad_fn is high.grad_fn and high._out_nr == 1
    (high * 5).sum().backward()
    assert calls == ["fast"]
    assert_close(x.grad, [0.0, 5.0, 5.0])


def test_relu_uses_its_kernel_only_without_create_graph(monkeypatch):
    used = []
    plain = kernels.relu_backward

    def counting(*args, **kwargs):
        used.append(1)
        return plain(*args, **kwargs)
    monkeypatch.setattr(kernels, "relu_backward", counting)
    x = leaf([-1.0, 2.0, 3.0])
    (x.relu() ** 2).sum().backward()
    assert len(used) == 1
    (gx,) = gradlab.autograd.grad((x.relu() ** 2).sum(), x, create_graph=True)
    assert len(used) == 1 and gx.requires_grad
    (ggx,) = gradlab.autograd.grad(gx.sum(), x)
    assert_close(ggx, [0.0, 2.0, 2.0])


def _ops():
    rng = np.random.default_rng(0)

    def t(*shape):
        return leaf(rng.standard_normal(shape))
    w_conv, w_convt = t(4, 2, 3, 3), t(2, 3, 3, 3)
    ln_w, ln_b, gn_w, gn_b = t(5), t(5), t(4), t(4)
    with_zeros = leaf([[1.5, 0.0, 2.0, 0.0, -1.0]])
    singular = leaf([[1.0, 2.0], [2.0, 4.0]])
    return [
        ("relu", t(3, 4), lambda x: x.relu()),
        ("conv2d", t(2, 2, 6, 6), lambda x: F.conv2d(x, w_conv, padding=1, stride=2)),
        ("conv1d", t(2, 2, 7), lambda x: F.conv1d(x, w_conv[:, :, 0], padding=1)),
        ("conv_transpose2d", t(1, 2, 4, 4), lambda x: F.conv_transpose2d(x, w_convt, stride=2)),
        ("max_pool2d", t(2, 3, 6, 6), lambda x: F.max_pool2d(x, 2)),
        ("max_pool2d unbatched", t(3, 6, 6), lambda x: F.max_pool2d(x, 3, stride=2)),
        ("layer_norm", t(3, 5), lambda x: F.layer_norm(x, (5,), ln_w, ln_b)),
        ("group_norm", t(2, 4, 3), lambda x: F.group_norm(x, 2, gn_w, gn_b)),
        ("cumprod with zeros", with_zeros, lambda x: x.cumprod(1)),
        ("cumprod", t(2, 4), lambda x: x.cumprod(1)),
        ("det", t(3, 3), lambda x: gradlab.linalg.det(x)),
        ("det singular", singular, lambda x: gradlab.linalg.det(x)),
    ]


@pytest.mark.parametrize("name,x,fn", _ops(), ids=[op[0] for op in _ops()])
def test_fast_and_differentiable_backwards_agree(name, x, fn):
    """Each op's two backwards give the same first derivative."""
    y = fn(x)
    assert y.grad_fn.fast_fn is not None
    g = gradlab.tensor(np.random.default_rng(1).standard_normal(y.shape))
    (fast,) = gradlab.autograd.grad(y, x, g, retain_graph=True)
    if name == "det singular":  # only the array path handles a singular matrix
        with pytest.raises(NotImplementedError, match="singular"):
            gradlab.autograd.grad(y, x, g, create_graph=True)
        return
    (graphed,) = gradlab.autograd.grad(y, x, g, create_graph=True)
    assert not fast.requires_grad
    assert_close(fast, graphed, rtol=1e-9, atol=1e-12)
