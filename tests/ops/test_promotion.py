"""PyTorch's dtype promotion for binary ops, cross-checked against torch over a table of operand kinds.

Operands: tensors of every dtype, zero-dim and one-dim, and Python bool/int/float
scalars on either side.  For each pair, gradlab must give torch's result dtype,
or raise where torch raises.
"""
import itertools
import operator

import numpy as np
import pytest

import gradlab

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]
OPS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow, "lt": operator.lt,
    "eq": operator.eq, "maximum": lambda a, b: _lib(a).maximum(a, b) if _both_tensors(a, b) else None,
    "where": lambda a, b: _lib(a).where(_lib(a).tensor(True), a, b) if _both_tensors(a, b) else None,
}


def _both_tensors(a, b):
    return hasattr(a, "dtype") and hasattr(b, "dtype")


def _lib(x):
    return torch if isinstance(x, torch.Tensor) else gradlab


def _operands():
    """(label, make(lib)) for every operand kind."""
    kinds = []
    for name, ndim in itertools.product(DTYPES, (0, 1)):
        value = [True, True][:max(ndim, 1)] if name == "bool" else [2] * max(ndim, 1)
        kinds.append((f"{name}[{ndim}d]", lambda lib, name=name, ndim=ndim, value=value:
                      lib.tensor(value if ndim else value[0], dtype=getattr(lib, name))))
    kinds += [("py_bool", lambda lib: True), ("py_int", lambda lib: 3), ("py_float", lambda lib: 2.5)]
    return kinds


def _outcome(op, a, b):
    try:
        out = op(a, b)
    except (RuntimeError, TypeError, ValueError, ZeroDivisionError) as e:
        return "error", e
    if out is None:
        return "skip", None
    return str(out.dtype).split(".")[-1], out


@pytest.mark.parametrize("op_name", list(OPS))
def test_result_dtype_matches_torch(op_name):
    op = OPS[op_name]
    mismatches = []
    for (la, ma), (lb, mb) in itertools.product(_operands(), repeat=2):
        if la.startswith("py_") and lb.startswith("py_"):
            continue
        expected, t_out = _outcome(op, ma(torch), mb(torch))
        actual, g_out = _outcome(op, ma(gradlab), mb(gradlab))
        if expected != actual:
            mismatches.append(f"{la} {op_name} {lb}: gradlab {actual}, torch {expected}")
        elif expected not in ("error", "skip"):
            np.testing.assert_allclose(np.asarray(g_out._data, dtype=np.float64),
                                       t_out.double().numpy(), rtol=1e-3, err_msg=f"{la} {op_name} {lb}")
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches[:40])


@pytest.mark.parametrize("cast", ["float", "double", "half", "long", "int", "bool"])
def test_inplace_keeps_dtype_or_raises_like_torch(cast):
    """``t += other`` keeps t's dtype; a float result into an integer tensor is an error, as torch."""
    mismatches = []
    for (lb, mb) in _operands():
        for op_name, op in [("iadd", operator.iadd), ("imul", operator.imul), ("itruediv", operator.itruediv)]:
            outcomes = []
            for lib in (torch, gradlab):
                t = getattr(lib.ones(3), cast)()
                outcomes.append(_outcome(op, t, mb(lib))[0])
            if outcomes[0] != outcomes[1]:
                mismatches.append(f"{cast} {op_name} {lb}: torch {outcomes[0]}, gradlab {outcomes[1]}")
    assert not mismatches, "\n".join(mismatches)


def test_documented_rules():
    """The rules tutorials rely on, stated without torch."""
    f32 = gradlab.ones(2)
    i64 = gradlab.tensor([1, 2])
    assert (f32 * 2.5).dtype == gradlab.float32          # a Python float never widens float32
    assert (i64 / i64).dtype == gradlab.float32           # int / int is true division in the default float
    assert (i64 * 2.5).dtype == gradlab.float32           # int tensor * float scalar: the default float
    assert (f32 + f32.double()).dtype == gradlab.float64  # two float tensors: the wider
    assert (i64 + gradlab.tensor(1.5, dtype=gradlab.float64)).dtype == gradlab.float64  # a float 0-dim counts
    assert (f32 + gradlab.tensor(1.5, dtype=gradlab.float64)).dtype == gradlab.float32  # same kind: dims win
    assert (i64 + 3).dtype == gradlab.int64
    assert (gradlab.tensor([1, 2], dtype=gradlab.uint8) + 300).dtype == gradlab.uint8
