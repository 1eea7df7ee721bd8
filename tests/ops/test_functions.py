"""The gradlab.* op functions (gradlab/_functional.py, made from the op registry): PyTorch's input= / other=
keywords and out=."""
import pytest

import gradlab


def test_out_argument_writes_the_result_into_the_given_tensor():
    # tensor_tutorial.py / tensorqs_tutorial.py: torch.add(x, y, out=result), torch.matmul(t, t.T, out=y3)
    x, y = gradlab.tensor([[1.0, 2.0], [3.0, 4.0]]), gradlab.tensor([[10.0, 20.0], [30.0, 40.0]])
    for fn, expected in [(gradlab.add, x + y), (gradlab.mul, x * y), (gradlab.matmul, x @ y)]:
        result = gradlab.empty(2, 2)
        version = result._version
        assert fn(x, y, out=result) is result
        assert gradlab.equal(result, expected) and result._version == version + 1
    wider = gradlab.zeros(2, 2, dtype=gradlab.float64)
    gradlab.add(x, y, out=wider)  # cast to out's dtype, as PyTorch
    assert wider.dtype == gradlab.float64 and wider.tolist() == (x + y).tolist()
    values, indices = gradlab.empty(0), gradlab.empty(0, dtype=gradlab.int64)
    gradlab.max(x, 1, out=(values, indices))
    assert values.tolist() == [2.0, 4.0] and indices.tolist() == [1, 1]


def test_out_argument_resizes_refuses_narrowing_and_autograd():
    small = gradlab.empty(0)
    gradlab.add(gradlab.ones(3), 1, out=small)  # an empty out is resized silently
    assert small.tolist() == [2.0, 2.0, 2.0]
    with pytest.warns(UserWarning, match=r"resized since it had shape \[5\].*output shape \[3\]"):
        gradlab.add(gradlab.ones(3), 1, out=gradlab.empty(5))
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        gradlab.add(gradlab.ones(2), 0.5, out=gradlab.empty(2, dtype=gradlab.int64))
    leaf = gradlab.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"mul\(\): functions with out=... arguments don't support automatic"):
        gradlab.mul(leaf, 2, out=gradlab.empty(2))
    with gradlab.no_grad():
        out = gradlab.empty(2)
        gradlab.mul(leaf, 2, out=out)
    assert out.tolist() == [2.0, 2.0] and not out.requires_grad


def test_module_functions_take_pytorchs_input_and_other_keywords():
    # polynomial_tensor.py: torch.matmul(input=grad_y_pred, other=x)
    a, b = gradlab.tensor([1.0, 2.0]), gradlab.tensor([3.0, 4.0])
    assert gradlab.matmul(input=a, other=b).item() == 11.0
    assert gradlab.add(a, other=b, alpha=2).tolist() == [7.0, 10.0]
    assert gradlab.sum(input=a).item() == 3.0
    assert gradlab.where(gradlab.tensor([True, False]), input=a, other=b).tolist() == [1.0, 4.0]
