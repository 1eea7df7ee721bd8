"""nn layers against torch: printing, default initialisation, forward and backward with copied parameters,
and BatchNorm's running statistics."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
from gradlab import nn

torch = pytest.importorskip("torch")


def copy_parameters(ours, theirs):
    """Load torch's parameters and buffers into our module (float64 on both sides)."""
    theirs.double()
    ours.double()
    state = {k: gradlab.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state)


def assert_close(ours, theirs, rtol=1e-7, atol=1e-9):
    theirs = theirs.detach().numpy()
    assert ours._data.shape == theirs.shape, (ours._data.shape, theirs.shape)
    np.testing.assert_allclose(ours._data, theirs, rtol=rtol, atol=atol)


def check_layer(ours, theirs, *input_shapes, integer_input=None, seed=0, rtol=1e-7, atol=1e-9, copy=True):
    """Same output, input gradient and parameter gradients as torch's layer for the same parameters."""
    if copy:
        copy_parameters(ours, theirs)
    rng = np.random.default_rng(seed)
    if integer_input is not None:
        arrays = [integer_input]
        ins = [gradlab.tensor(integer_input)]
        tins = [torch.tensor(integer_input)]
    else:
        arrays = [rng.standard_normal(s) for s in input_shapes]
        ins = [gradlab.tensor(a, requires_grad=True) for a in arrays]
        tins = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = ours(*ins), theirs(*tins)
    assert_close(out, ref, rtol, atol)
    upstream = rng.standard_normal(tuple(ref.shape))
    out.backward(gradlab.tensor(upstream))
    ref.backward(torch.tensor(upstream))
    if integer_input is None:
        for a, b in zip(ins, tins):
            assert_close(a.grad, b.grad, rtol, atol)
    ours_params, theirs_params = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert list(ours_params) == list(theirs_params)
    for name, p in theirs_params.items():
        if p.grad is None:
            assert ours_params[name].grad is None
        else:
            assert_close(ours_params[name].grad, p.grad, rtol, atol)
    return out


# ---- printing ---------------------------------------------------------------------------------
LAYERS = [
    ("Linear", (20, 256), {}), ("Linear", (3, 4), {"bias": False}),
    ("Conv2d", (1, 6, 5), {"padding": 2}), ("Conv2d", (6, 16, 5), {}),
    ("Conv2d", (4, 8, (3, 2)), {"stride": 2, "padding": (1, 0), "dilation": 2, "groups": 2, "bias": False}),
    ("Conv2d", (2, 2, 3), {"padding": "same", "padding_mode": "reflect"}),
    ("Conv2d", (2, 2, 3), {"padding": "valid"}),
    ("MaxPool2d", (2,), {}), ("MaxPool2d", (3,), {"stride": 2, "padding": 1, "dilation": 2, "ceil_mode": True}),
    ("AvgPool2d", (2,), {}), ("AvgPool2d", ((3, 2),), {"stride": 1, "padding": 1}),
    ("AdaptiveAvgPool2d", ((1, 1),), {}), ("AdaptiveAvgPool2d", (5,), {}), ("AdaptiveMaxPool2d", ((2, None),), {}),
    ("BatchNorm1d", (10,), {}), ("BatchNorm2d", (6,), {}),
    ("BatchNorm2d", (3,), {"eps": 1e-3, "momentum": None, "affine": False, "track_running_stats": False}),
    ("BatchNorm2d", (3,), {"bias": False}),
    ("Dropout", (), {}), ("Dropout", (0.2,), {"inplace": True}), ("Dropout2d", (0.3,), {}),
    ("Flatten", (), {}), ("Flatten", (0, 2), {}), ("Unflatten", (1, (2, 5)), {}), ("Identity", (), {}),
    ("Embedding", (10, 3), {}), ("Embedding", (10, 3), {"padding_idx": -2, "max_norm": 1.0, "norm_type": 1.0,
                                                        "scale_grad_by_freq": True}),
    ("ReLU", (), {}), ("ReLU", (True,), {}), ("LeakyReLU", (), {}), ("LeakyReLU", (0.2, True), {}),
    ("Sigmoid", (), {}), ("Tanh", (), {}), ("GELU", (), {}), ("GELU", ("tanh",), {}),
    ("Softmax", (), {"dim": 1}), ("Softmax", (), {}), ("LogSoftmax", (-1,), {}),
    ("ELU", (), {}), ("ELU", (0.5, True), {}), ("SiLU", (), {}), ("ReLU6", (), {}), ("Hardtanh", (-2.0, 2.0), {}),
    ("Softplus", (), {"beta": 2.0}),
    ("MSELoss", (), {}), ("L1Loss", (), {"reduction": "sum"}), ("CrossEntropyLoss", (), {"label_smoothing": 0.1}),
    ("NLLLoss", (), {}), ("BCELoss", (), {}), ("BCEWithLogitsLoss", (), {}),
]


@pytest.mark.parametrize("name,args,kwargs", LAYERS, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(LAYERS)])
def test_repr_matches_torch(name, args, kwargs):
    assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))


@pytest.mark.parametrize("name,args,kwargs", LAYERS, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(LAYERS)])
def test_parameters_and_buffers_are_named_as_torch(name, args, kwargs):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()]


def test_sequential_model_prints_as_torch():
    def build(lib):
        return lib.nn.Sequential(lib.nn.Conv2d(1, 6, 5, padding=2), lib.nn.BatchNorm2d(6), lib.nn.ReLU(),
                                 lib.nn.MaxPool2d(2, 2), lib.nn.Flatten(), lib.nn.Dropout(0.25),
                                 lib.nn.Linear(6 * 14 * 14, 10), lib.nn.LogSoftmax(dim=1))
    assert repr(build(gradlab)) == repr(build(torch))


# ---- default initialisation -------------------------------------------------------------------
@pytest.mark.parametrize("layer", [lambda: nn.Linear(50, 40), lambda: nn.Conv2d(6, 16, 5),
                                   lambda: nn.Conv2d(4, 8, 3, groups=2)])
def test_default_init_is_uniform_within_one_over_sqrt_fan_in(layer):
    gradlab.manual_seed(0)
    m = layer()
    fan_in = m.weight[0].numel()
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_ with a=sqrt(5) gives exactly this bound
    for p in (m.weight, m.bias):
        values = p._data
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.8 * bound
    assert abs(m.weight._data.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert m.weight.dtype == gradlab.float32 and m.weight.requires_grad


def test_init_is_reproducible_and_reset_parameters_redraws():
    gradlab.manual_seed(1)
    a = nn.Conv2d(2, 3, 3)
    gradlab.manual_seed(1)
    b = nn.Conv2d(2, 3, 3)
    np.testing.assert_array_equal(a.weight._data, b.weight._data)
    b.reset_parameters()
    assert not np.array_equal(a.weight._data, b.weight._data)


def test_layers_accept_dtype_and_batchnorm_embedding_defaults():
    assert nn.Linear(2, 3, dtype=gradlab.float64).weight.dtype == gradlab.float64
    bn = nn.BatchNorm2d(4)
    np.testing.assert_array_equal(bn.weight._data, np.ones(4))
    np.testing.assert_array_equal(bn.bias._data, np.zeros(4))
    np.testing.assert_array_equal(bn.running_var._data, np.ones(4))
    assert bn.num_batches_tracked.dtype == gradlab.int64
    emb = nn.Embedding(5, 3, padding_idx=2)
    np.testing.assert_array_equal(emb.weight._data[2], np.zeros(3))


# ---- forward and backward against torch -------------------------------------------------------
@given(n_in=st.integers(1, 6), n_out=st.integers(1, 6), batch=st.lists(st.integers(1, 3), max_size=2),
       bias=st.booleans(), seed=st.integers(0, 999))
def test_linear_layer_matches_torch(n_in, n_out, batch, bias, seed):
    check_layer(nn.Linear(n_in, n_out, bias), torch.nn.Linear(n_in, n_out, bias), (*batch, n_in), seed=seed)


def test_linear_node_lists_its_inputs_in_pytorchs_order():
    # neural_networks_tutorial.py follows loss.grad_fn.next_functions[0][0].next_functions[0][0]
    def input_kinds(library):
        layer = library.nn.Linear(3, 2)
        x = library.relu(library.ones(4, 3, requires_grad=True))
        node = layer(x).grad_fn
        return node.name(), [fn.name().split("::")[-1] for fn, _ in node.next_functions]  # torch::autograd::
    name, kinds = input_kinds(gradlab)
    assert name == "AddmmBackward0" and kinds[:2] == ["AccumulateGrad", "ReluBackward0"]
    assert input_kinds(torch)[1][:2] == kinds[:2]  # the third is the weight: TBackward0 in PyTorch, the leaf here
    layer = nn.Linear(3, 2)
    x = gradlab.ones(4, 3, requires_grad=True)
    layer(x).sum().backward()  # each gradient still reaches its own tensor
    assert layer.bias.grad.tolist() == [4.0, 4.0] and layer.weight.grad.shape == (2, 3) and x.grad.shape == (4, 3)


@given(groups=st.integers(1, 2), kernel=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 2),
       dilation=st.integers(1, 2), bias=st.booleans(), seed=st.integers(0, 999))
def test_conv2d_layer_matches_torch(groups, kernel, stride, padding, dilation, bias, seed):
    args = (2 * groups, 3 * groups, kernel)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias)
    check_layer(nn.Conv2d(*args, **kwargs), torch.nn.Conv2d(*args, **kwargs), (2, 2 * groups, 6, 5), seed=seed)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1), "same"])
def test_conv2d_padding_modes_match_torch(mode, padding):
    kwargs = dict(padding=padding, padding_mode=mode)
    check_layer(nn.Conv2d(2, 3, (3, 4), **kwargs), torch.nn.Conv2d(2, 3, (3, 4), **kwargs), (2, 2, 5, 6))


@pytest.mark.parametrize("name,args,kwargs,shape", [
    ("MaxPool2d", (2,), {}, (2, 3, 6, 6)), ("MaxPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True},
                                            (2, 3, 7, 6)),
    ("AvgPool2d", (2,), {}, (2, 3, 6, 6)), ("AvgPool2d", (3,), {"stride": 2, "padding": 1,
                                                                "count_include_pad": False}, (1, 2, 5, 7)),
    ("AdaptiveAvgPool2d", ((1, 1),), {}, (2, 3, 5, 5)), ("AdaptiveAvgPool2d", ((3, 2),), {}, (2, 3, 7, 5)),
    ("AdaptiveMaxPool2d", (2,), {}, (2, 3, 5, 5)),
    ("Flatten", (), {}, (2, 3, 4)), ("Unflatten", (1, (2, 3)), {}, (2, 6, 2)), ("Identity", (5,), {}, (3, 2)),
    ("ReLU", (), {}, (4, 5)), ("LeakyReLU", (0.1,), {}, (4, 5)), ("Sigmoid", (), {}, (4, 5)),
    ("Tanh", (), {}, (4, 5)), ("GELU", (), {}, (4, 5)), ("GELU", ("tanh",), {}, (4, 5)), ("ELU", (), {}, (4, 5)),
    ("SiLU", (), {}, (4, 5)), ("Softplus", (), {}, (4, 5)), ("ReLU6", (), {}, (4, 5)),
    ("Softmax", (1,), {}, (3, 4, 2)), ("LogSoftmax", (-1,), {}, (3, 4)),
])
def test_parameter_free_layers_match_torch(name, args, kwargs, shape):
    check_layer(getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs), shape)


def test_max_pool_layer_returns_indices_like_torch():
    ours, theirs = nn.MaxPool2d(2, return_indices=True), torch.nn.MaxPool2d(2, return_indices=True)
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    (_, i_ours), (_, i_theirs) = ours(gradlab.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_array_equal(i_ours._data, i_theirs.numpy())


def test_embedding_layer_matches_torch():
    idx = np.array([[1, 2, 2], [0, 4, 1]])
    for kwargs in ({}, {"padding_idx": 2}, {"scale_grad_by_freq": True}):
        check_layer(nn.Embedding(5, 3, **kwargs), torch.nn.Embedding(5, 3, **kwargs), integer_input=idx)


def test_embedding_from_pretrained():
    w = gradlab.tensor([[1.0, 2.0], [3.0, 4.0]])
    emb = nn.Embedding.from_pretrained(w)
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(gradlab.tensor([1, 0]))._data, [[3.0, 4.0], [1.0, 2.0]])
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad


def test_dropout_layer_train_and_eval():
    gradlab.manual_seed(0)
    layer = nn.Dropout(0.5)
    x = gradlab.ones(100, 100)
    assert 0.4 < (layer(x)._data == 0).mean() < 0.6
    layer.eval()
    assert layer(x) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(-0.1)


def test_inplace_relu_layer():
    x = gradlab.tensor([-1.0, 2.0])
    assert nn.ReLU(inplace=True)(x) is x
    np.testing.assert_array_equal(x._data, [0.0, 2.0])


# ---- batch norm -------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (4, 3, 5)),
                                       ("BatchNorm2d", (4, 3, 5, 2))])
@pytest.mark.parametrize("momentum", [0.1, None, 0.5])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_running_statistics_follow_torch(cls, shape, momentum, affine):
    ours = getattr(nn, cls)(3, momentum=momentum, affine=affine)
    theirs = getattr(torch.nn, cls)(3, momentum=momentum, affine=affine)
    copy_parameters(ours, theirs)
    if affine:  # non-trivial affine parameters
        rng = np.random.default_rng(7)
        for p in ours.parameters():
            p._data[...] = rng.standard_normal(3)
        theirs.load_state_dict({k: torch.tensor(v._data) for k, v in ours.state_dict().items()})
    for step in range(4):
        check_layer(ours, theirs, shape, seed=step, copy=False)
        for name, buf in theirs.named_buffers():
            ours_buf = dict(ours.named_buffers())[name]
            if name == "num_batches_tracked":
                assert int(ours_buf.item()) == int(buf.item()) == step + 1
            else:
                assert_close(ours_buf, buf, rtol=1e-12)
        for p in list(ours.parameters()):
            p.grad = None
        theirs.zero_grad()
    ours.eval()
    theirs.eval()
    check_layer(ours, theirs, shape, seed=9, copy=False)


def test_batch_norm_without_running_statistics_uses_batch_stats_in_eval():
    ours = nn.BatchNorm2d(2, track_running_stats=False)
    theirs = torch.nn.BatchNorm2d(2, track_running_stats=False)
    ours.eval()
    theirs.eval()
    check_layer(ours, theirs, (3, 2, 2, 2))
    assert ours.running_mean is None


def test_batch_norm_checks_the_input_rank():
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(gradlab.randn(2, 3))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.BatchNorm1d(3)(gradlab.randn(2, 3, 1, 1))


def test_batch_norm_float32_training_step_matches_torch():
    ours, theirs = nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4)
    x = np.random.default_rng(0).standard_normal((8, 4, 3, 3)).astype(np.float32) * 2 + 1
    out, ref = ours(gradlab.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(out._data, ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.running_var._data, theirs.running_var.numpy(), rtol=1e-5)
    assert out.dtype == gradlab.float32 and ours.running_mean.dtype == gradlab.float32
