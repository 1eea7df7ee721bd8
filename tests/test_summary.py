"""gradlab.summary: LeNet-5's figures exactly, the depth and sharing rules, the count of multiply-adds
per layer type (checked against the kernels' own flop count), and torchinfo's totals when it is installed."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import gradlab
import gradlab.nn as nn
from gradlab import debug
from gradlab.models import LeNet5

# path, class, output shape at batch 1, parameters, multiply-adds per image
LENET_ROWS = [
    ("", "LeNet5", (1, 10), 61706, 0),
    ("features", "Sequential", (1, 120, 1, 1), 50692, 0),
    ("features.0", "Conv2d", (1, 6, 28, 28), 156, 6 * 28 * 28 * 1 * 5 * 5),       # 117,600
    ("features.1", "ReLU", (1, 6, 28, 28), 0, 0),
    ("features.2", "MaxPool2d", (1, 6, 14, 14), 0, 0),
    ("features.3", "Conv2d", (1, 16, 10, 10), 2416, 16 * 10 * 10 * 6 * 5 * 5),    # 240,000
    ("features.4", "ReLU", (1, 16, 10, 10), 0, 0),
    ("features.5", "MaxPool2d", (1, 16, 5, 5), 0, 0),
    ("features.6", "Conv2d", (1, 120, 1, 1), 48120, 120 * 16 * 5 * 5),            # 48,000
    ("features.7", "ReLU", (1, 120, 1, 1), 0, 0),
    ("classifier", "Sequential", (1, 10), 11014, 0),
    ("classifier.0", "Flatten", (1, 120), 0, 0),
    ("classifier.1", "Linear", (1, 84), 10164, 84 * 120),                          # 10,080
    ("classifier.2", "ReLU", (1, 84), 0, 0),
    ("classifier.3", "Linear", (1, 10), 850, 10 * 84),                             # 840
]
LENET_MULT_ADDS = 416_520
LENET_LEAF_OUTPUTS = 6 * 28 * 28 * 2 + 6 * 14 * 14 + 16 * 10 * 10 * 2 + 16 * 5 * 5 + 120 * 3 + 84 * 2 + 10


def test_lenet5_rows_and_totals():
    s = gradlab.summary(LeNet5(), input_size=(1, 1, 28, 28))
    got = [(r.path, r.class_name, r.output_shape, r.params, r.mult_adds) for r in s.layers]
    assert got == [(p, c, shape, n, m) for p, c, shape, n, m in LENET_ROWS]
    assert sum(m for *_, m in LENET_ROWS) == LENET_MULT_ADDS
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (61706, 61706, 0)
    assert s.total_mult_adds == LENET_MULT_ADDS
    assert s.params_bytes == 61706 * 4 and s.input_bytes == 28 * 28 * 4
    assert s.forward_backward_bytes == 2 * 4 * LENET_LEAF_OUTPUTS
    assert s.total_bytes == s.params_bytes + s.input_bytes + s.forward_backward_bytes


def test_lenet5_table_text():
    text = str(gradlab.summary(LeNet5(), input_size=(1, 1, 28, 28)))
    lines = text.splitlines()
    assert lines[1].split() == ["Layer", "(path)", "Output", "Shape", "Param", "#", "Trainable", "Mult-Adds"]
    conv = next(ln for ln in lines if "(features.0)" in ln)
    assert conv.startswith("│   ├─Conv2d (features.0)")
    assert conv.split()[-7:] == ["[1,", "6,", "28,", "28]", "156", "True", "117,600"]
    relu = next(ln for ln in lines if "(features.1)" in ln)
    assert relu.split()[-3:] == ["--", "--", "--"]
    assert next(ln for ln in lines if "(classifier.3)" in ln).startswith("    └─Linear (classifier.3)")
    for expected in ("Total params: 61,706", "Trainable params: 61,706", "Non-trainable params: 0",
                     "Total mult-adds: 416,520 (0.42 M)", "Input size (MB): 0.00",
                     "Forward/backward pass size (MB): 0.12", "Params size (MB): 0.25",
                     "Estimated Total Size (MB): 0.37"):
        assert expected in lines, expected
    assert repr(gradlab.summary(LeNet5(), input_size=(1, 1, 28, 28))) == text


def test_batch_scales_mult_adds_and_activations_not_parameters():
    s = gradlab.summary(LeNet5(), input_data=gradlab.randn(64, 1, 28, 28))
    assert s.total_mult_adds == 64 * LENET_MULT_ADDS
    assert s.forward_backward_bytes == 64 * 2 * 4 * LENET_LEAF_OUTPUTS
    assert s.total_params == 61706 and s.layers[2].output_shape == (64, 6, 28, 28)


def test_depth_folds_lower_levels_into_their_ancestor():
    text = str(gradlab.summary(LeNet5(), input_size=(1, 1, 28, 28), depth=1))
    features = next(ln for ln in text.splitlines() if "(features)" in ln)
    classifier = next(ln for ln in text.splitlines() if "(classifier)" in ln)
    assert features.split()[-3:] == ["50,692", "True", "405,600"]
    assert classifier.split()[-3:] == ["11,014", "True", "10,920"]
    assert "features.0" not in text
    only_model = str(gradlab.summary(LeNet5(), input_size=(1, 1, 28, 28), depth=0)).splitlines()[3]
    assert only_model.split()[-3:] == ["61,706", "True", "416,520"]


def test_without_input_only_parameters():
    s = gradlab.summary(LeNet5())
    assert s.total_params == 61706 and s.total_mult_adds is None and s.total_bytes is None
    assert "Total mult-adds" not in str(s) and "Total params: 61,706" in str(s)


def test_the_model_is_left_as_it_was():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))
    model.train()
    model[1].eval()
    mean = model[1].running_mean.numpy().copy()
    gradlab.summary(model, input_data=gradlab.randn(8, 3) + 5)
    assert [m.training for m in model.modules()] == [True, True, False, True]
    np.testing.assert_array_equal(model[1].running_mean.numpy(), mean)
    assert all(p.grad is None for p in model.parameters())
    assert not any(m._forward_hooks for m in model.modules())


def test_frozen_parameters_and_shared_modules():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(4, 2))
    model[3].weight.requires_grad_(False)
    s = gradlab.summary(model, input_size=(5, 4))
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (30, 22, 8)
    rows = {r.path: r for r in s.layers}
    assert rows["0"].calls == 2 and rows["0"].mult_adds == 2 * 5 * 4 * 4   # both calls counted, once
    assert rows["2"].shared_with == "0" and rows["2"].output_shape == (5, 4)
    assert rows["3"].trainable == "Partial" and rows["1"].trainable == "--"
    assert s.total_mult_adds == 2 * 80 + 5 * 2 * 4
    assert "(shared: 0)" in str(s)


def test_several_inputs_dtypes_and_keyword_inputs():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 2), nn.Linear(5, 2)

        def forward(self, x, y):
            return self.a(x) + self.b(y)
    s = gradlab.summary(Pair().double(), input_size=[(4, 3), (4, 5)], dtypes=[gradlab.float64, gradlab.float64])
    assert s.total_mult_adds == 4 * 2 * 3 + 4 * 2 * 5 and s.input_bytes == (12 + 20) * 8
    s = gradlab.summary(Pair(), input_data={"x": gradlab.zeros(1, 3), "y": gradlab.zeros(1, 5)})
    assert s.total_mult_adds == 6 + 10 and s.layers[0].output_shape == (1, 2)
    s = gradlab.summary(Pair(), input_data=[gradlab.zeros(2, 3), gradlab.zeros(2, 5)])
    assert s.total_mult_adds == 2 * 16


def test_mult_adds_of_linear_on_leading_dims_recurrent_and_transposed_layers():
    assert gradlab.summary(nn.Linear(6, 3), input_size=(2, 7, 6)).total_mult_adds == 2 * 7 * 3 * 6
    # 5 steps x 3 samples, every weight (both directions, both layers) once per step and sample
    lstm = gradlab.summary(nn.LSTM(10, 20, 2, bidirectional=True), input_size=(5, 3, 10))
    weights = 2 * (80 * 10 + 80 * 20) + 2 * (80 * 40 + 80 * 20)
    assert lstm.total_mult_adds == 15 * weights and lstm.layers[0].output_shape == (5, 3, 40)
    assert gradlab.summary(nn.GRUCell(4, 6), input_size=(3, 4)).total_mult_adds == 3 * (18 * 4 + 18 * 6)
    # a transposed convolution: each input element meets Cout/groups * kh * kw weights
    up = gradlab.summary(nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2), input_size=(2, 4, 5, 5))
    assert up.total_mult_adds == 2 * 4 * 5 * 5 * 3 * 9 and up.layers[0].output_shape == (2, 6, 11, 11)
    assert gradlab.summary(nn.Conv1d(4, 6, 3, groups=2), input_size=(2, 4, 9)).total_mult_adds == 2 * 6 * 7 * 2 * 3


@given(n=st.integers(1, 3), cin_g=st.integers(1, 3), cout_g=st.integers(1, 3), groups=st.integers(1, 2),
       k=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 2), size=st.integers(3, 9))
def test_conv_mult_adds_are_half_the_kernels_flops(n, cin_g, cout_g, groups, k, stride, padding, size):
    """Two independent counts: the summary's from the module, the kernel's from the arrays it was given."""
    conv = nn.Conv2d(cin_g * groups, cout_g * groups, k, stride=stride, padding=padding, groups=groups)
    seen = []
    debug.listen(lambda name, backend, flops, seconds: seen.append((name, flops)))
    try:
        s = gradlab.summary(conv, input_size=(n, cin_g * groups, size, size))
    finally:
        debug.listen(None)
    assert seen == [("conv2d_forward", 2 * s.total_mult_adds)]
    ho = (size + 2 * padding - k) // stride + 1
    assert s.total_mult_adds == n * cout_g * groups * ho * ho * cin_g * k * k


def test_bad_input():
    with pytest.raises(TypeError, match="summary: expected an nn.Module, got list"):
        gradlab.summary([nn.Linear(2, 2)])
    with pytest.raises(ValueError, match="input_size or input_data, not both"):
        gradlab.summary(nn.Linear(2, 2), input_size=(1, 2), input_data=gradlab.zeros(1, 2))
    with pytest.raises(ValueError, match=r"input_size must be a shape .* got \(1, -2\)"):
        gradlab.summary(nn.Linear(2, 2), input_size=(1, -2))
    with pytest.raises(ValueError, match="2 input sizes but 1 dtypes"):
        gradlab.summary(nn.Linear(2, 2), input_size=[(1, 2), (1, 2)], dtypes=[gradlab.float32])
    with pytest.raises(ValueError, match="depth must be a non-negative int"):
        gradlab.summary(nn.Linear(2, 2), depth=-1)


def test_importing_the_module_keeps_gradlab_summary_callable():
    import importlib
    module = importlib.import_module("gradlab.summary")
    from gradlab.summary import ModelSummary, summary
    assert isinstance(gradlab.summary(nn.Linear(2, 3)), ModelSummary)
    assert isinstance(module(nn.Linear(2, 3), input_size=(1, 2)), ModelSummary) and callable(summary)


def test_torchinfo_agrees_on_lenet5_up_to_its_bias_convention():
    """torchinfo also counts each bias once per output position; the parameters agree exactly."""
    torchinfo = pytest.importorskip("torchinfo")
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    model = tnn.Sequential(
        tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Conv2d(6, 16, 5),
                       tnn.ReLU(), tnn.MaxPool2d(2), tnn.Conv2d(16, 120, 5), tnn.ReLU()),
        tnn.Sequential(tnn.Flatten(), tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10)))
    theirs = torchinfo.summary(model, input_size=(1, 1, 28, 28), verbose=0)
    ours = gradlab.summary(LeNet5(), input_size=(1, 1, 28, 28))
    bias_positions = 6 * 28 * 28 + 16 * 10 * 10 + 120 + 84 + 10
    assert (theirs.total_params, theirs.trainable_params) == (ours.total_params, ours.trainable_params)
    assert theirs.total_mult_adds == ours.total_mult_adds + bias_positions == 423_038
    assert theirs.total_param_bytes == ours.params_bytes


def test_a_failing_forward_leaves_no_hooks_behind():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 2))
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        gradlab.summary(model, input_size=(1, 3))
    assert not any(m._forward_hooks for m in model.modules()) and model.training
