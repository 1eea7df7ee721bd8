"""gradlab.onnx.export: the written file passes onnx.checker and computes what gradlab computes.

Each model is exported, checked with ``onnx.checker.check_model(full_check=True)``,
then run under onnx's reference evaluator and (where it installs) onnxruntime,
at the example's batch size and at another one; outputs must equal gradlab's
to 1e-5.
"""
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
from onnx.reference import ReferenceEvaluator  # noqa: E402

import gradlab as torch  # noqa: E402
from gradlab import nn  # noqa: E402
from gradlab.nn import functional as F  # noqa: E402
from gradlab.onnx import OnnxExportError  # noqa: E402

try:
    import onnxruntime
except ImportError:  # the reference evaluator still checks every model
    onnxruntime = None

TOL = 1e-5


def _runners(model_proto):
    yield "reference", ReferenceEvaluator(model_proto).run
    if onnxruntime is not None:
        session = onnxruntime.InferenceSession(model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
        yield "onnxruntime", session.run


def export_and_check(model, example, tmp_path, batches=(3,), **kwargs):
    """Export, check, and compare with gradlab at the example's batch size and at ``batches``; returns the proto."""
    examples = example if isinstance(example, tuple) else (example,)
    modes = [m.training for m in model.modules()]
    proto = torch.onnx.export(model, example, tmp_path / "model.onnx", **kwargs)
    assert [m.training for m in model.modules()] == modes  # traced in eval mode, then put back
    onnx.checker.check_model(proto, full_check=True)
    assert onnx.load(str(tmp_path / "model.onnx")) == proto
    names = [i.name for i in proto.graph.input]
    rng = np.random.default_rng(0)
    sizes = [examples[0].shape[0]] + (list(batches) if kwargs.get("dynamic_batch", True) else [])
    model.eval()
    for n in sizes:
        arrays = [rng.standard_normal((n,) + tuple(x.shape[1:])).astype(np.float32) for x in examples]
        with torch.no_grad():
            want = model(*[torch.tensor(a) for a in arrays])
        want = [w.numpy() for w in (want if isinstance(want, tuple) else (want,))]
        for label, run in _runners(proto):
            got = run(None, dict(zip(names, arrays)))
            assert len(got) == len(want)
            for g, w in zip(got, want):
                assert g.shape == w.shape, (label, n)
                np.testing.assert_allclose(g, w, rtol=TOL, atol=TOL, err_msg=f"{label} at batch {n}")
    return proto


def op_types(proto):
    return [node.op_type for node in proto.graph.node]


# ---- the three models of the issue ----

def test_lenet5(tmp_path):
    torch.manual_seed(0)
    proto = export_and_check(torch.models.LeNet5(), torch.randn(2, 1, 28, 28), tmp_path, batches=(1, 5))
    assert op_types(proto) == ["Conv", "Relu", "MaxPool"] * 2 + ["Conv", "Relu", "Flatten", "Gemm", "Relu",
                                                                   "Gemm"]
    assert [i.name for i in proto.graph.initializer] == [name for name, _ in
                                                         torch.models.LeNet5().named_parameters()]
    assert proto.opset_import[0].version >= 17
    dims = proto.graph.output[0].type.tensor_type.shape.dim  # inferred: the batch flows through
    assert (dims[0].dim_param, dims[1].dim_value) == ("batch", 10)


@pytest.mark.parametrize("final", [nn.Softmax(dim=1), nn.LogSoftmax(dim=1)])
def test_mlp(tmp_path, final):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10), final)
    model.train()  # exported in eval mode all the same (Dropout is the identity)
    proto = export_and_check(model, torch.randn(4, 8, 8), tmp_path, input_names=["pixels"],
                             output_names=["probabilities"])
    assert [i.name for i in proto.graph.input] == ["pixels"]
    assert [o.name for o in proto.graph.output] == ["probabilities"]
    assert op_types(proto) == ["Flatten", "Gemm", "Relu", "Identity", "Gemm", type(final).__name__]


class CifarNet(nn.Module):
    """[conv3x3, BatchNorm2d, ReLU] x 2 + max-pool at 32, 64 and 128 channels, global average pool, Linear."""

    def __init__(self, pool="adaptive"):
        super().__init__()
        layers, channels = [], 3
        for width in (32, 64, 128):
            for _ in range(2):
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
                channels = width
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.pool = pool
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        x = self.features(x)
        if self.pool == "adaptive":
            x = torch.flatten(self.gap(x), 1)
        else:
            x = x.mean(dim=(2, 3))
        return self.fc(x)


def _trained_statistics(model):
    # running statistics and affine parameters away from their initial 0 / 1, so BatchNorm's export is tested
    torch.manual_seed(2)
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(8, 3, 32, 32))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model


@pytest.mark.parametrize("pool,opset", [("adaptive", 17), ("mean", 17), ("mean", 18)])
def test_cifar_cnn(tmp_path, pool, opset):
    torch.manual_seed(3)
    model = _trained_statistics(CifarNet(pool))
    proto = export_and_check(model, torch.randn(2, 3, 32, 32), tmp_path, batches=(1,), opset=opset)
    types = op_types(proto)
    assert types.count("Conv") == 6 and types.count("BatchNormalization") == 6 and types.count("MaxPool") == 3
    assert ("GlobalAveragePool" in types) == (pool == "adaptive")
    assert ("ReduceMean" in types) == (pool == "mean")
    assert proto.opset_import[0].version == opset
    names = {i.name for i in proto.graph.initializer}
    assert {"features.1.running_mean", "features.1.running_var", "features.1.weight", "fc.weight"} <= names


# ---- functional forwards: tensor methods, operators, gradlab.* and F.* ----

class Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding="same")
        self.b = nn.Conv2d(3, 4, 1, stride=1)
        self.fc = nn.Linear(8 * 4 * 4, 6)

    def forward(self, x):
        y = torch.cat([F.relu(self.a(x)), torch.sigmoid(self.b(x))], dim=1)
        y = F.avg_pool2d(y, 2) + 0.5 * F.max_pool2d(y, 3, stride=2, padding=1)
        y = y.view(y.size(0), -1)
        y = self.fc(y).tanh() - 1
        return F.log_softmax(y / 2, dim=-1), y.relu() @ self.fc.weight[:, :6].t().detach()


def test_functional_forward(tmp_path):
    torch.manual_seed(4)
    model = Branches()
    proto = export_and_check(model, torch.randn(2, 3, 8, 8), tmp_path, batches=(5,))
    types = set(op_types(proto))
    assert {"Concat", "Relu", "Sigmoid", "AveragePool", "MaxPool", "Mul", "Add", "Reshape", "Gemm", "Tanh",
            "Sub", "Div", "LogSoftmax", "MatMul"} <= types
    assert [o.name for o in proto.graph.output] == ["output_0", "output_1"]
    # the reshape keeps the batch dimension free: x.view(x.size(0), -1) is written with 0, "as the input"
    shapes = [i for i in proto.graph.initializer if i.name.startswith("shape")]
    assert [list(onnx.numpy_helper.to_array(s)) for s in shapes] == [[0, -1]]


def test_in_place_ops_and_linear_on_3d(tmp_path):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(5, 3)
            self.act = nn.ReLU(inplace=True)

        def forward(self, x):
            y = self.lin(x)          # a 3-D input: MatMul with the transposed weight, then Add
            y += 1.0
            return self.act(y).flatten(0, 1).squeeze(1)

    torch.manual_seed(5)
    proto = export_and_check(Model(), torch.randn(2, 4, 5), tmp_path, batches=(1,))
    assert op_types(proto) == ["Transpose", "MatMul", "Add", "Add", "Relu", "Reshape", "Squeeze"]


def test_two_inputs_and_fixed_batch(tmp_path):
    class Model(nn.Module):
        def forward(self, a, b):
            a.relu_()  # in place, on an input
            return torch.add(input=a, other=b, alpha=2).sigmoid()

    proto = export_and_check(Model(), (torch.randn(3, 4), torch.randn(3, 4)), tmp_path, dynamic_batch=False)
    assert [i.name for i in proto.graph.input] == ["input_0", "input_1"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [3, 4]
    proto = torch.onnx.export(Model(), (torch.randn(3, 4), torch.randn(3, 4)), tmp_path / "dyn.onnx")
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


@settings(max_examples=10)
@given(kernel=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1), dilation=st.integers(1, 2),
       groups=st.sampled_from([1, 2]), pool=st.sampled_from(["max", "avg"]), ceil=st.booleans(),
       size=st.integers(6, 9))
def test_conv_pool_geometries(tmp_path_factory, kernel, stride, padding, dilation, groups, pool, ceil, size):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups)

        def forward(self, x):
            y = self.conv(x)
            if pool == "max":
                return F.max_pool2d(y, 2, stride=1, padding=1, dilation=dilation, ceil_mode=ceil)
            return F.avg_pool2d(y, 2, padding=1, ceil_mode=ceil, count_include_pad=not ceil)

    torch.manual_seed(6)
    export_and_check(Model(), torch.randn(2, 2, size, size), tmp_path_factory.mktemp("geometry"), batches=())


# ---- what cannot be exported ----

def test_unsupported_op_is_named_with_its_module(tmp_path):
    class Swish(nn.Module):
        def forward(self, x):
            return x * torch.exp(x)

    model = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.ReLU(), Swish()))
    with pytest.raises(OnnxExportError, match=r"op 'exp' in module '1\.1' \(Swish\): it has no ONNX converter"):
        torch.onnx.export(model, torch.randn(2, 4), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_op_hidden_from_the_tracer_is_named(tmp_path):
    from gradlab.ops.unary import exp  # bound before export: the tracer does not see this name

    class Model(nn.Module):
        def forward(self, x):
            return exp(x) + 1

    with pytest.raises(OnnxExportError, match=r"op 'add' in module '<root>' \(Model\).*made by ExpBackward0"):
        torch.onnx.export(Model(), torch.randn(2, 4), tmp_path / "m.onnx")


@pytest.mark.parametrize("call,message", [
    (lambda x: F.max_pool2d(x, 2, return_indices=True)[0], "F.max_pool2d.*return_indices=True"),
    (lambda x: F.avg_pool2d(x, 2, ceil_mode=True), "F.avg_pool2d.*ceil_mode=True with count_include_pad=True"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=3), "divisor_override=3"),
    (lambda x: F.softmax(x, 1, dtype=torch.float64), "F.softmax.*dtype="),
    (lambda x: F.dropout(x, 0.5, training=True), "F.dropout.*random"),
    (lambda x: F.adaptive_avg_pool2d(x, 2), r"output size \(2, 2\) does not divide the input's \(5, 5\)"),
    (lambda x: F.batch_norm(x, None, None, training=True), "batch statistics"),
])
def test_unsupported_arguments_are_explained(tmp_path, call, message):
    class Model(nn.Module):
        def forward(self, x):
            return call(x)

    with pytest.raises(OnnxExportError, match=message):
        torch.onnx.export(Model(), torch.randn(2, 3, 5, 5), tmp_path / "m.onnx")


def test_patches_are_restored_after_success_and_failure(tmp_path):
    before = (torch.Tensor.__add__, torch.Tensor.view, torch.cat, F.conv2d, nn.Module.__call__,
              torch.ops.shape.flatten)
    torch.onnx.export(torch.models.LeNet5(), torch.randn(1, 1, 28, 28), tmp_path / "a.onnx")
    with pytest.raises(OnnxExportError):
        torch.onnx.export(nn.Sequential(nn.GELU()), torch.randn(1, 3), tmp_path / "b.onnx")
    after = (torch.Tensor.__add__, torch.Tensor.view, torch.cat, F.conv2d, nn.Module.__call__,
             torch.ops.shape.flatten)
    assert all(a is b for a, b in zip(before, after))


def test_constants_computed_from_parameters_are_folded(tmp_path):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.tensor([2.0, 3.0]))

        def forward(self, x):
            return x * torch.exp(self.scale)  # exp of a parameter only: a constant, not an op to export

    proto = export_and_check(Model(), torch.randn(4, 2), tmp_path)
    assert op_types(proto) == ["Mul"]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="opset must be 17 or later, got 13"):
        torch.onnx.export(torch.models.LeNet5(), torch.randn(1, 1, 28, 28), tmp_path / "m.onnx", opset=13)
    with pytest.raises(ValueError, match="1 inputs but 2 input_names"):
        torch.onnx.export(torch.models.LeNet5(), torch.randn(1, 1, 28, 28), tmp_path / "m.onnx",
                          input_names=["a", "b"])
    with pytest.raises(TypeError, match="example input 0 must be a Tensor, got ndarray"):
        torch.onnx.export(torch.models.LeNet5(), np.zeros((1, 1, 28, 28)), tmp_path / "m.onnx")


# ---- against PyTorch's own exporter, where torch is installed ----

def _torch_lenet5(real_torch, ours):
    tnn = real_torch.nn
    model = tnn.Module()
    model.features = tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
                                    tnn.Conv2d(6, 16, 5), tnn.ReLU(),
                                    tnn.MaxPool2d(2), tnn.Conv2d(16, 120, 5), tnn.ReLU())
    model.classifier = tnn.Sequential(tnn.Flatten(), tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10))
    model.forward = lambda x: model.classifier(model.features(x))
    model.load_state_dict({k: real_torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    return model.eval()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_same_graph_and_outputs_as_torch_onnx_export(tmp_path):
    real_torch = pytest.importorskip("torch")
    torch.manual_seed(7)
    ours = torch.models.LeNet5()
    mine = torch.onnx.export(ours, torch.randn(2, 1, 28, 28), tmp_path / "gradlab.onnx")
    theirs_model = _torch_lenet5(real_torch, ours)
    # PyTorch's TorchScript exporter: cheap, no extra package (the newer one needs onnxscript)
    real_torch.onnx.export(theirs_model, (real_torch.randn(2, 1, 28, 28),), str(tmp_path / "torch.onnx"),
                           dynamo=False, input_names=["input"], output_names=["output"],
                           dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=17)
    theirs = onnx.load(str(tmp_path / "torch.onnx"))
    assert op_types(mine) == op_types(theirs)
    x = np.random.default_rng(8).standard_normal((3, 1, 28, 28)).astype(np.float32)
    got = ReferenceEvaluator(mine).run(None, {"input": x})[0]
    want = ReferenceEvaluator(theirs).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)


def test_every_converter_takes_the_arguments_of_its_function():
    import inspect
    from gradlab.ops.registry import OPS
    from gradlab.onnx.ops import CONVERTERS
    ops = {info.name: info.fn for info in OPS}
    for key, convert in CONVERTERS.items():
        target = getattr(F, key[2:]) if key.startswith("F.") else ops[key]
        params = [p for p in inspect.signature(target).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        inspect.signature(convert).bind("g", "out", *params)  # as many positional arguments, in order
        keywords = [p.name for p in inspect.signature(target).parameters.values() if p.kind == p.KEYWORD_ONLY]
        inspect.signature(convert).bind("g", "out", *params, **dict.fromkeys(keywords))


def test_without_the_onnx_package_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"needs the 'onnx' package: pip install onnx"):
        torch.onnx.export(torch.models.LeNet5(), torch.randn(1, 1, 28, 28), tmp_path / "m.onnx")
