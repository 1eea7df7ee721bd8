"""The recorded graph: grad_fn, next_functions, is_leaf, requires_grad propagation,
and no graph at all where PyTorch records none."""
import numpy as np
import pytest

import gradlab
from gradlab.autograd.graph import AccumulateGrad, Node

from autograd_helpers import graph_signature, leaf


def test_leaf_and_computed_tensor_attributes():
    x = leaf([1., 2., 3.])
    c = gradlab.tensor([1., 1., 1.])
    y = x * 2
    z = y.sum()
    assert x.is_leaf and x.grad_fn is None and x.requires_grad
    assert c.is_leaf and not c.requires_grad
    assert not y.is_leaf and y.requires_grad and y.grad_fn.name() == "MulBackward0"
    assert z.grad_fn.name() == "SumBackward0"
    assert repr(z.grad_fn).startswith("<SumBackward0 object at 0x")


def test_next_functions_point_at_inputs():
    x = leaf([1., 2.])
    w = leaf([3., 4.])
    c = gradlab.tensor([5., 6.], dtype=gradlab.float64)
    y = x * w + c
    (add_fn, add_nr), (none_fn, none_nr) = y.grad_fn.next_functions
    assert y.grad_fn.name() == "AddBackward0"
    assert add_fn.name() == "MulBackward0" and add_nr == 0
    assert none_fn is None and none_nr == 0  # the constant gets no edge
    acc_x, acc_w = add_fn.next_functions
    assert isinstance(acc_x[0], AccumulateGrad) and acc_x[0].variable is x
    assert acc_w[0].variable is w
    assert acc_x[0].name() == "AccumulateGrad"
    assert acc_x[0].next_functions == () if hasattr(acc_x[0], "next_functions") else True


def test_requires_grad_propagates_when_any_input_requires_it():
    x = leaf([1., 2.])
    c = gradlab.ones(2, dtype=gradlab.float64)
    assert (c * c).requires_grad is False
    assert (c * c).grad_fn is None and (c * c).is_leaf
    assert (x * c).requires_grad and (c * x).requires_grad
    assert (x + 1).requires_grad and (1 - x).requires_grad
    assert (x.sum() * c).requires_grad


@pytest.mark.parametrize("mode", [gradlab.no_grad, gradlab.inference_mode,
                                  lambda: gradlab.set_grad_enabled(False)])
def test_no_graph_is_recorded_when_grad_mode_is_off(mode):
    x = leaf([1., 2.])
    with mode():
        y = (x * 2).exp().sum()
        assert not gradlab.is_grad_enabled()
    assert gradlab.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_ops_under_no_grad_allocate_no_nodes(monkeypatch):
    from gradlab.autograd import record
    made = []

    class CountingNode(Node):
        __slots__ = ()

        def __init__(self, *args, **kwargs):
            made.append(args[0])
            super().__init__(*args, **kwargs)
    monkeypatch.setattr(record, "Node", CountingNode)
    x = leaf(np.ones(4))
    ((x * x + x).tanh()).sum()
    assert made == ["MulBackward0", "AddBackward0", "TanhBackward0", "SumBackward0"]
    made.clear()
    with gradlab.no_grad():
        y = ((x * x + x).tanh()).sum()
    assert made == [] and y.grad_fn is None


def test_detach_leaves_the_graph_and_shares_storage():
    x = leaf([1., 2.])
    y = x * 3
    d = y.detach()
    assert d.grad_fn is None and not d.requires_grad and d.is_leaf
    d[0] = 10.0  # shares memory with y, as in PyTorch
    assert y[0].item() == 10.0
    assert d._version == y._version == 1  # and the version counter


def test_requires_grad_flags():
    x = gradlab.tensor([1., 2.])
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    y = leaf([1.]) * 2
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        y.requires_grad_(False)
    y.requires_grad_(True)  # no-op on a non-leaf that already requires grad


@pytest.mark.parametrize("dtype", [gradlab.int64, gradlab.int32, gradlab.uint8, gradlab.bool])
def test_integer_tensors_cannot_require_grad(dtype):
    with pytest.raises(RuntimeError, match=r"only Tensors of floating point dtype can require gradients.*"
                                           + str(dtype).replace(".", r"\.")):
        gradlab.zeros(2, dtype=dtype).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        gradlab.tensor([1, 2], dtype=dtype, requires_grad=True)


def test_integer_results_of_float_inputs_do_not_require_grad():
    x = leaf([1.5, 2.5])
    assert not (x > 2).requires_grad
    assert not x.argmax().requires_grad
    assert not x.long().requires_grad


def test_cross_check_graph_structure_with_torch():
    torch = pytest.importorskip("torch")

    def program(lib, a, b):
        c = a * b
        d = (c + a).tanh()
        e = d.exp() - b
        return (e * c).sum() / 3

    ga, gb = leaf([0.1, 0.2, 0.3]), leaf([1.0, -1.0, 0.5])
    ta, tb = (torch.tensor(t.detach().numpy(), requires_grad=True) for t in (ga, gb))
    assert graph_signature(program(gradlab, ga, gb)) == graph_signature(program(torch, ta, tb))


def test_in_place_op_with_a_grad_input_puts_the_tensor_in_the_graph():
    x = leaf([1., 1., 1.])
    a = gradlab.zeros(3, dtype=gradlab.float64)
    a.add_(x * 2)
    assert a.requires_grad and not a.is_leaf and a.grad_fn.name() == "AddBackward0"
    b = gradlab.zeros(3, dtype=gradlab.float64)
    b[1:] = x[:2] * 3
    assert b.grad_fn.name() == "CopySlices"
    (a.sum() + b.sum()).backward()
    assert x.grad.tolist() == [5., 5., 2.]


def test_variable_is_a_tensor_as_in_pytorch():
    # the first revision of the blitz autograd tutorial: x = Variable(torch.ones(2, 2), requires_grad=True)
    from gradlab.autograd import Variable
    data = gradlab.ones(2, 2)
    x = Variable(data, requires_grad=True)
    assert isinstance(x, gradlab.Tensor) and isinstance(data, Variable)
    assert x.requires_grad and x.is_leaf and not data.requires_grad
    data.add_(1)  # a new leaf over the same values
    assert x.tolist() == [[2.0, 2.0], [2.0, 2.0]]
    ((x + 2) * (x + 2) * 3).mean().backward()
    assert x.grad.tolist() == [[6.0, 6.0], [6.0, 6.0]]
    assert Variable(x * 2).grad_fn is None  # cut from the graph, as detach()
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got int"):
        Variable(3)
