import gradlab as torch
from gradlab.viz import to_dot


def test_dot_names_every_op_and_leaf():
    w = torch.randn(2, 3, requires_grad=True)
    x = torch.randn(4, 3)
    loss = (x @ w.t()).relu().sum()
    dot = to_dot(loss, {"w": w})
    for name in ("SumBackward0", "ReluBackward0", "MmBackward0", "w (2x3)"):
        assert name in dot
    assert dot.count("->") == 4  # w -> t -> mm -> relu -> sum


def test_deep_graph_does_not_recurse():
    x = torch.ones(1, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    assert to_dot(y).count("MulBackward0") == 5000
