"""An error in a module's forward names the module (path and repr) and its input shapes, once."""
import pytest

import gradlab as torch
from gradlab import nn
from gradlab.autograd.graph import module_scope
from gradlab.models import LeNet5
from gradlab.nn.modules.module import _name_the_layer, module_path


def test_a_shape_error_in_lenet_names_the_linear_layer_and_keeps_the_message():
    model = LeNet5()
    x = torch.randn(64, 1, 32, 32)  # 32x32 images: the flattened features are 480, not 120
    with pytest.raises(RuntimeError) as info:
        model(x)
    with pytest.raises(RuntimeError) as plain:  # the same mistake without a module around it
        nn.functional.linear(torch.randn(64, 480), model.classifier[1].weight, model.classifier[1].bias)
    assert str(info.value) == str(plain.value)
    assert info.value.__notes__ == [
        "in LeNet5.classifier.1 (Linear(in_features=120, out_features=84, bias=True)), input (64, 480)"]
    assert module_scope[0] is None


def test_the_note_is_given_once_by_the_innermost_module():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Sequential(nn.Linear(4, 3), nn.Linear(4, 2))

        def forward(self, x):
            return self.inner(x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = Block()

        def forward(self, x):
            return self.block(x)

    with pytest.raises(RuntimeError) as info:
        Net()(torch.randn(5, 4))
    assert info.value.__notes__ == ["in Net.block.inner.1 (Linear(in_features=4, out_features=2, bias=True)), "
                                    "input (5, 3)"]


def test_an_error_in_a_module_own_code_names_it_with_all_tensor_inputs():
    class Pair(nn.Module):
        def forward(self, a, b, scale=1.0):
            return a @ b * scale

    with pytest.raises(RuntimeError) as info:
        Pair()(torch.randn(2, 3), torch.randn(2, 3), scale=2.0)
    assert info.value.__notes__ == ["in Pair (Pair()), inputs (2, 3), (2, 3)"]


def test_a_container_is_named_by_its_class_not_its_multiline_repr():
    class Fails(nn.Module):
        def forward(self, x):
            raise KeyError("missing")

    model = nn.Sequential(nn.ReLU(), nn.Sequential(Fails()))
    with pytest.raises(KeyError) as info:
        model(torch.randn(3))
    assert info.value.args == ("missing",)
    assert info.value.__notes__ == ["in Sequential.1.0 (Fails()), input (3,)"]


def test_errors_in_hooks_are_named_too_and_the_scope_is_restored():
    layer = nn.Linear(2, 2)
    layer.register_forward_hook(lambda module, args, out: 1 / 0)
    with pytest.raises(ZeroDivisionError) as info:
        layer(torch.randn(1, 2))
    assert info.value.__notes__ == ["in Linear (Linear(in_features=2, out_features=2, bias=True)), input (1, 2)"]
    assert module_scope[0] is None


def test_exception_types_with_their_own_constructor_keep_type_and_arguments():
    class ShapeError(Exception):
        def __init__(self, expected, got):
            super().__init__(expected, got)
            self.expected, self.got = expected, got

    class Strict(nn.Module):
        def forward(self, x):
            raise ShapeError(3, tuple(x.shape))

    with pytest.raises(ShapeError) as info:
        Strict()(torch.randn(2))
    assert (info.value.expected, info.value.got, info.value.args) == (3, (2,), (3, (2,)))
    assert info.value.__notes__ == ["in Strict (Strict()), input (2,)"]


def test_without_add_note_the_place_goes_into_the_message():
    class OldStyleError(ValueError):
        @property
        def add_note(self):  # as on Python < 3.11, where exceptions have no notes
            raise AttributeError("add_note")

    error = OldStyleError("bad value")
    layer = nn.Linear(3, 1)
    _name_the_layer(error, (None, layer), (torch.randn(4, 3),))
    assert type(error) is OldStyleError
    assert str(error) == "bad value\nin Linear (Linear(in_features=3, out_features=1, bias=True)), input (4, 3)"


def test_module_path_of_a_module_held_deeper_or_not_at_all():
    model = LeNet5()
    scope = (None, model)
    assert module_path((scope, model.classifier[3])) == "LeNet5.classifier.3"  # called by its grandparent
    assert module_path((scope, nn.ReLU())) == "ReLU"                          # not held by the caller


def test_ops_record_the_module_that_ran_them():
    model = LeNet5()
    out = model(torch.randn(1, 1, 28, 28))
    scope = out.grad_fn.scope
    assert scope[1] is model.classifier[3] and module_path(scope) == "LeNet5.classifier.3"
    assert (out * 2).grad_fn.scope is None
