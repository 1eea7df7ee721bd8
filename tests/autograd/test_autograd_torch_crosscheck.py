"""Random programs run on gradlab and on PyTorch: the same graph (node names and edges),
the same values and the same gradients, including second-order ones."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab

from autograd_helpers import assert_close, graph_signature

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")

# name -> (arity, function of the library-agnostic tensors)
UNARY = {
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "sin": lambda a: a.sin(),
    "cos": lambda a: a.cos(),
    "neg": lambda a: -a,
    "relu": lambda a: a.relu(),
    "exp_tanh": lambda a: a.tanh().exp(),
    "scale": lambda a: a * 0.75,
    "shift": lambda a: a + 0.5,
    "square": lambda a: a ** 2,
    "sum_last": lambda a: a.sum(-1, keepdim=True),
    "mean_all": lambda a: a.mean(),
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1),
    "maximum": lambda a, b: a.maximum(b) if hasattr(a, "maximum") else a,
}
SHAPES = [(2, 3), (3,), (2, 1)]  # broadcast together to (2, 3)


@st.composite
def programs(draw):
    n_steps = draw(st.integers(1, 8))
    steps = []
    pool = len(SHAPES)
    for _ in range(n_steps):
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(sorted(UNARY))), draw(st.integers(0, pool - 1)), None))
        else:
            steps.append((draw(st.sampled_from(sorted(BINARY))), draw(st.integers(0, pool - 1)),
                          draw(st.integers(0, pool - 1))))
        pool += 1
    seed = draw(st.integers(0, 2 ** 16))
    return steps, seed


def run(lib, steps, values, create_graph=False):
    leaves = [lib.tensor(v, requires_grad=True) for v in values]
    pool = list(leaves)
    for name, i, j in steps:
        pool.append(UNARY[name](pool[i]) if j is None else BINARY[name](pool[i], pool[j]))
    out = (pool[-1] * pool[-1]).sum() + pool[-1].sum()
    out.backward(create_graph=create_graph)
    return out, pool, leaves


def leaf_values(seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2, 2, shape) for shape in SHAPES]


@given(programs())
def test_same_graph_values_and_gradients(program):
    steps, seed = program
    values = leaf_values(seed)
    g_out, g_pool, g_leaves = run(gradlab, steps, values)
    t_out, t_pool, t_leaves = run(torch, steps, values)
    assert graph_signature(g_out) == graph_signature(t_out)
    for g, t in zip(g_pool, t_pool):
        assert_close(g, t, rtol=1e-10, atol=1e-12)
    for g, t in zip(g_leaves, t_leaves):
        if t.grad is None:
            assert g.grad is None
        else:
            assert_close(g.grad, t.grad, rtol=1e-9, atol=1e-12)


@given(programs())
def test_same_second_order_gradients(program):
    steps, seed = program
    values = leaf_values(seed)
    results = []
    for lib in (gradlab, torch):
        _, _, leaves = run(lib, steps, values, create_graph=True)
        grads = [leaf.grad for leaf in leaves if leaf.grad is not None and leaf.grad.requires_grad]
        if not grads:
            results.append([])
            continue
        total = sum((g * g).sum() for g in grads)
        second = lib.autograd.grad(total, leaves, allow_unused=True)
        results.append([s for s in second])
    assert len(results[0]) == len(results[1])
    for g, t in zip(*results):
        if t is None:
            assert g is None or not g.detach().numpy().any()
        else:
            assert_close(g, t, rtol=1e-8, atol=1e-10)
