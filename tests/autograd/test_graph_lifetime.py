"""A training step's graph is freed by reference counting alone: no cycles for the collector to find."""
import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import gradlab
from gradlab import nn
from gradlab.autograd.graph import Node


@pytest.fixture
def no_collector():
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    yield
    if was:
        gc.enable()


def lenet():
    gradlab.manual_seed(0)
    return gradlab.models.LeNet5(), gradlab.from_numpy(
        np.random.default_rng(0).standard_normal((8, 1, 28, 28), dtype=np.float32))


def mlp():
    gradlab.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    return model, gradlab.from_numpy(np.random.default_rng(0).standard_normal((8, 784), dtype=np.float32))


def gradlab_objects():
    return sum(isinstance(o, (Node, gradlab.Tensor)) for o in gc.get_objects())


@pytest.mark.parametrize("build", [lenet, mlp])
def test_fifty_training_steps_do_not_grow_memory_with_the_collector_off(build, no_collector):
    model, x = build()
    y = gradlab.arange(8) % 10
    opt = gradlab.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    for _ in range(3):
        step()
    objects = gradlab_objects()
    tracemalloc.start()
    try:
        for _ in range(10):
            step()
        after_10 = array_bytes()
        for _ in range(40):
            step()
        grown = array_bytes() - after_10
    finally:
        tracemalloc.stop()
    assert gradlab_objects() == objects          # no Tensor or Node outlives its step
    assert grown <= 0, grown                     # nor any array (one step's activations are ~250 KB)


def array_bytes():
    """Bytes of NumPy array data alive now (NumPy reports its buffers to tracemalloc in a domain of its own;
    Python's free lists, which fill up over the first steps, stay out of the count)."""
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)])
    return sum(stat.size for stat in snapshot.statistics("filename"))


def test_the_collector_finds_nothing_after_a_step(no_collector):
    gc.collect()
    model, x = lenet()
    opt = gradlab.optim.SGD(model.parameters(), lr=0.1)
    nn.functional.cross_entropy(model(x), gradlab.arange(8)).backward()
    opt.step()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = [type(o).__name__ for o in gc.garbage if isinstance(o, (Node, gradlab.Tensor))
                 or type(o).__module__.startswith("gradlab")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert found == []


def graph_of(t):
    """Weak references to every node behind t."""
    nodes, stack = [], [t.grad_fn]
    while stack:
        node = stack.pop()
        nodes.append(weakref.ref(node))
        stack += [e[0] for e in node.edges if e is not None and type(e[0]) is Node]
    return nodes


def test_backward_releases_the_graph_unless_retain_graph(no_collector):
    model, x = lenet()
    loss = nn.functional.cross_entropy(model(x), gradlab.arange(8))
    nodes = graph_of(loss)
    assert len(nodes) > 10
    loss.backward(retain_graph=True)
    assert all(n() is not None and n().saved == n().saved for n in nodes)   # kept for a second backward
    assert any(n().saved for n in nodes)
    loss.backward()
    assert all(not n().saved and n().backward_fn is None for n in nodes if n() is not None)
    del loss
    assert all(n() is None for n in nodes)          # freed by reference counting alone


@pytest.mark.xfail(strict=True, reason="ops whose backward reads their output (tanh, sigmoid, exp, softmax...) "
                   "capture the output Tensor in their closure and Node.saved: a graph never backwarded is a cycle")
def test_a_forward_never_backwarded_is_freed_by_reference_counting(no_collector):
    x = gradlab.ones(4, requires_grad=True)
    nodes = graph_of(x.tanh().sum())
    assert all(n() is None for n in nodes)
