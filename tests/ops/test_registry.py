"""The op registry: every declared op is reachable as declared, nothing reaches Tensor around it,
and docs/ops.md is the registry's current index."""
import pathlib

import numpy as np
import pytest

import gradlab
import gradlab.nn.functional as F
from gradlab.ops import registry

ROOT = pathlib.Path(__file__).resolve().parents[2]
T = gradlab.Tensor


def test_docs_ops_md_is_current():
    path = ROOT / "docs" / "ops.md"
    assert path.read_text() == registry.op_index(), \
        "docs/ops.md is stale: regenerate it with `python -m gradlab.ops > docs/ops.md`"


@pytest.mark.parametrize("info", registry.OPS, ids=lambda i: f"{i.fn.__module__}.{i.fn.__name__}")
def test_op_is_callable_as_declared(info):
    for name in info.methods:
        method = T.__dict__.get(name)  # the op, or the op taking PyTorch's and NumPy's keyword names
        assert getattr(method, "__wrapped__", method) is info.fn, f"Tensor.{name} is not {info.name}"
    for name in info.inplace + info.operators:
        assert callable(T.__dict__.get(name)), f"Tensor.{name} is missing"
    for name in info.props:
        assert isinstance(T.__dict__.get(name), property), f"Tensor.{name} is not a property"
    for name in info.functions:
        function = getattr(gradlab, name, None)
        assert function is not None and function.__wrapped__ is info.fn, f"gradlab.{name} is not {info.name}"
    for name in info.nn:
        assert callable(getattr(F, name, None)), f"nn.functional.{name} is missing"


def test_every_tensor_op_attribute_comes_from_the_registry():
    """A Tensor attribute defined in gradlab/ops is declared with @op (no string tables beside the ops)."""
    declared = {n for i in registry.OPS for n in i.methods + i.inplace + i.operators + i.props}
    for name, attr in vars(T).items():
        fn = attr.fget if isinstance(attr, property) else attr
        module = getattr(fn, "__module__", "") or ""
        if module.startswith("gradlab.ops.") and module != "gradlab.ops":
            assert name in declared, f"Tensor.{name} ({module}) is attached outside the registry"


def test_declared_names_do_not_collide():
    seen = {}
    for info in registry.OPS:
        for kind in ("methods", "inplace", "operators", "props", "functions"):
            for name in getattr(info, kind):
                key = (kind == "functions", name)
                assert key not in seen, f"{name} is declared by both {seen[key]} and {info.name}"
                seen[key] = info.name


def test_declared_inplace_methods_run():
    """Every in-place method the registry attaches works on a float tensor (or refuses it by name)."""
    x = gradlab.tensor([[0.5, 0.25], [0.75, 0.125]])
    assert gradlab.equal(x.clone().mul_(2), x * 2)
    y = x.clone()
    y += 1
    assert gradlab.equal(y, x + 1)


@pytest.mark.parametrize("shape,wrap", [((3, 3), False), ((7, 3), False), ((7, 3), True), ((3, 7), True),
                                        ((2, 2, 2), False), ((4, 4, 4), True)])
def test_fill_diagonal_matches_numpy(shape, wrap):
    expected = np.zeros(shape, np.float32)
    np.fill_diagonal(expected, 5.0, wrap=wrap)
    out = gradlab.zeros(*shape).fill_diagonal_(5.0, wrap=wrap)
    np.testing.assert_array_equal(out.numpy(), expected)


def test_fill_diagonal_gradient_and_errors():
    x = gradlab.randn(3, 3, dtype=gradlab.float64, requires_grad=True)
    y = x * 1
    y.fill_diagonal_(2.0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 1 - np.eye(3))
    with pytest.raises(RuntimeError, match="fill_diagonal_.*equal length"):
        gradlab.zeros(2, 3, 4).fill_diagonal_(1)
    with pytest.raises(RuntimeError, match="fill_diagonal_.*larger than 1"):
        gradlab.zeros(3).fill_diagonal_(1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.fill_diagonal_(1)
