"""Lazy modules and uninitialised parameters: every nn.Lazy* layer infers its sizes from the first input and
becomes its ordinary class, with PyTorch's printout, parameters and state_dict before and after; loading a
state_dict before the first call; the errors an op meets on an uninitialised parameter; optimizers built
before the dry run; a lazy MLP and a lazy LeNet (with and without batch norm) dry-run, initialised with
``apply`` and trained step by step beside PyTorch."""
import copy
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F
from gradlab import nn
from gradlab.nn.modules.lazy import LazyModuleMixin
from gradlab.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# Every lazy layer PyTorch has: (name, constructor arguments, keyword arguments, input shape)
LAZY_CASES = [
    ("LazyLinear", (5,), {}, (3, 7)),
    ("LazyLinear", (4,), {"bias": False}, (2, 3, 6)),
    ("LazyConv1d", (4, 3), {"padding": 1}, (2, 3, 9)),
    ("LazyConv1d", (4, 3), {"groups": 2, "bias": False}, (6, 8)),
    ("LazyConv2d", (6, 5), {"padding": 2}, (2, 1, 12, 12)),
    ("LazyConv2d", (4, 3), {"stride": 2, "padding_mode": "reflect", "padding": 1}, (2, 3, 7, 8)),
    ("LazyConv3d", (4, 3), {"padding": 1}, (2, 2, 5, 6, 5)),
    ("LazyConvTranspose1d", (4, 3), {"stride": 2}, (2, 3, 5)),
    ("LazyConvTranspose2d", (6, 3), {"stride": 2, "output_padding": 1}, (2, 4, 5, 5)),
    ("LazyConvTranspose3d", (2, 3), {"stride": 2, "groups": 2}, (2, 4, 3, 4, 3)),
    ("LazyBatchNorm1d", (), {}, (8, 5)),
    ("LazyBatchNorm1d", (), {"affine": False}, (4, 3, 6)),
    ("LazyBatchNorm2d", (), {}, (4, 3, 5, 5)),
    ("LazyBatchNorm3d", (), {"momentum": None}, (2, 3, 3, 4, 4)),
    ("LazyInstanceNorm1d", (), {}, (2, 3, 9)),
    ("LazyInstanceNorm2d", (), {"affine": False, "track_running_stats": False}, (2, 3, 5, 6)),
    ("LazyInstanceNorm3d", (), {}, (2, 3, 3, 4, 4)),
]


def test_every_lazy_layer_of_pytorch_is_here(torch):
    theirs = {name for name in dir(torch.nn) if name.startswith("Lazy")}
    assert len(theirs) == 13
    assert theirs <= set(dir(nn))
    assert theirs == {name for name, *_ in LAZY_CASES}


# ---- an uninitialised parameter ------------------------------------------------------------------------
def test_uninitialized_parameter_has_a_dtype_but_no_shape():
    p = UninitializedParameter(dtype=gradlab.float64)
    assert repr(p) == "<UninitializedParameter>"
    assert isinstance(p, nn.Parameter) and is_lazy(p) and p.is_leaf and p.requires_grad
    assert p.dtype == gradlab.float64 and p.is_floating_point()
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
        p.shape
    # .data is an empty tensor, as PyTorch's: in-place initialisers on it do nothing (course code does this)
    p.data.normal_(0, 0.01)
    assert p.data.shape == (0,)
    p.materialize((2, 3))
    assert type(p) is nn.Parameter and p.shape == (2, 3) and p.dtype == gradlab.float64
    assert not is_lazy(p)


def test_uninitialized_buffer_becomes_a_tensor():
    b = UninitializedBuffer(persistent=False)
    assert repr(b) == "<UninitializedBuffer>" and isinstance(b, nn.Buffer) and not b.requires_grad
    assert not b.persistent
    b.materialize((4,), dtype=gradlab.float64)
    assert type(b) is gradlab.Tensor and b.shape == (4,) and b.dtype == gradlab.float64


@pytest.mark.parametrize("use", [
    lambda w: w + 1,
    lambda w: F.linear(gradlab.ones(2, 3), w),
    lambda w: w.numel(),
    lambda w: nn.init.xavier_uniform_(w),
    lambda w: w.sum().backward(),
])
def test_an_op_on_an_uninitialized_parameter_says_to_run_a_dry_forward(use):
    w = nn.LazyLinear(3).weight
    with pytest.raises(RuntimeError, match="run a dry forward with a dummy batch first"):
        use(w)
    with pytest.raises(ValueError):  # what PyTorch raises, so code written for it catches this too
        use(w)


def test_conversions_deepcopy_and_requires_grad_before_the_dry_run():
    net = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(2))
    twin = copy.deepcopy(net)
    net.double()
    assert all(is_lazy(p) and p.dtype == gradlab.float64 for p in net.parameters())
    net.requires_grad_(False)
    net(gradlab.ones(3, 5, dtype=gradlab.float64))
    assert [p.dtype for p in net.parameters()] == [gradlab.float64] * 4
    assert not any(p.requires_grad for p in net.parameters())
    assert all(is_lazy(p) for p in twin.parameters())  # the copy is lazy on its own
    twin(gradlab.ones(1, 7))
    assert twin[0].weight.shape == (4, 7) and twin[0].weight.dtype == gradlab.float32


# ---- each lazy layer against PyTorch's -----------------------------------------------------------------
def _state_shapes(state):
    return {k: "uninit" if "Uninitialized" in repr(v) else tuple(v.shape) for k, v in state.items()}


@pytest.mark.filterwarnings("ignore:input's size at dim")  # torch's lazy instance norm with nothing to infer
@pytest.mark.parametrize("name, args, kwargs, shape", LAZY_CASES)
def test_lazy_layer_matches_pytorch_before_and_after_its_first_call(torch, name, args, kwargs, shape):
    ours, theirs = getattr(nn, name)(*args, **kwargs).double(), getattr(torch.nn, name)(*args, **kwargs).double()
    assert repr(ours) == repr(theirs)
    assert [repr(p) for p in ours.parameters()] == [repr(p) for p in theirs.parameters()]
    assert [repr(b) for b in ours.buffers()] == [repr(b) for b in theirs.buffers()]
    assert _state_shapes(ours.state_dict()) == _state_shapes(theirs.state_dict())
    assert ours.has_uninitialized_params() == theirs.has_uninitialized_params()
    assert isinstance(ours, LazyModuleMixin)
    before = list(ours.parameters())

    x = rand(*shape)
    out = ours(gradlab.tensor(x))
    ref = theirs(torch.tensor(x))
    assert type(ours).__name__ == type(theirs).__name__ == name[len("Lazy"):]
    assert not isinstance(ours, LazyModuleMixin) and not ours._forward_pre_hooks
    if getattr(theirs, "num_features", None) == 0:  # torch does not read it when there is nothing to materialise
        assert ours.num_features == shape[1]
        theirs.num_features = shape[1]
    assert repr(ours) == repr(theirs)
    assert all(p is q for p, q in zip(before, ours.parameters()))  # the same objects, now with a shape
    assert _state_shapes(ours.state_dict()) == _state_shapes(theirs.state_dict())
    assert out.shape == tuple(ref.shape)

    # the same outputs (and updated running statistics) once the weights are the same
    fresh = getattr(nn, name)(*args, **kwargs).double()
    fresh.load_state_dict({k: gradlab.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    out = fresh(gradlab.tensor(x))
    np.testing.assert_allclose(out.detach().numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(fresh.state_dict()[key].numpy(), value.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, args, kwargs, shape", LAZY_CASES)
def test_lazy_layer_initialises_as_its_ordinary_class(name, args, kwargs, shape):
    gradlab.manual_seed(3)
    lazy = getattr(nn, name)(*args, **kwargs)
    lazy(gradlab.tensor(rand(*shape), dtype=gradlab.float32))
    size = next(getattr(lazy, k) for k in ("in_features", "in_channels", "num_features") if hasattr(lazy, k))
    if "InstanceNorm" in name:  # the lazy ones default to affine=True and track_running_stats=True, as torch's
        kwargs = {"affine": True, "track_running_stats": True, **kwargs}
    gradlab.manual_seed(3)
    plain = type(lazy)(size, *args, **kwargs)
    assert repr(plain) == repr(lazy)
    if "BatchNorm" in name or "InstanceNorm" in name:  # the plain one has not seen the batch
        lazy.reset_running_stats()
    for (k, p), (_, q) in zip(plain.state_dict().items(), lazy.state_dict().items()):
        # the ordinary class's default init: the same bounds and, after the same seed, the same draws
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=k)


@given(channels=st.integers(1, 5), groups=st.sampled_from([1, 2]), dims=st.sampled_from([1, 2, 3]),
       transposed=st.booleans(), batched=st.booleans())
def test_lazy_conv_reads_the_channel_axis(channels, groups, dims, transposed, batched):
    name = f"LazyConv{'Transpose' if transposed else ''}{dims}d"
    conv = getattr(nn, name)(2 * groups, 2, groups=groups)
    x = gradlab.zeros(*((2,) if batched else ()), channels * groups, *(3,) * dims)
    conv(x)
    assert conv.in_channels == channels * groups
    expected = (channels * groups, 2) if transposed else (2 * groups, channels)
    assert conv.weight.shape == expected + (2,) * dims


def test_sizes_are_read_from_the_input_after_a_state_dict_gave_the_shapes():
    # (PyTorch leaves in_channels and num_features at 0 there, and its instance norm then refuses the input)
    for build, x in ((lambda: nn.LazyConv1d(4, 3), gradlab.ones(2, 3, 5)),
                     (lambda: nn.LazyInstanceNorm1d(), gradlab.ones(2, 3, 5)),
                     (lambda: nn.LazyBatchNorm2d(), gradlab.ones(2, 3, 4, 4))):
        source, target = build(), build()
        source(x)
        target.load_state_dict(source.state_dict())
        target(x)
        assert repr(target) == repr(source)


def test_lazy_errors_name_the_layer_and_the_shapes(torch):
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to LazyConv2d"):
        nn.LazyConv2d(4, 3)(gradlab.ones(3, 3))
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to LazyConv2d"):
        torch.nn.LazyConv2d(4, 3)(torch.ones(3, 3))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 1D input\)"):
        nn.LazyBatchNorm1d()(gradlab.ones(3))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.LazyConv1d(4, 3, groups=2)(gradlab.ones(1, 3, 5))
    lazy = nn.LazyLinear(3)
    lazy.load_state_dict(nn.Linear(4, 3).state_dict())
    with pytest.raises(RuntimeError, match="the input has 5 features"):
        lazy(gradlab.ones(2, 5))


# ---- state_dict --------------------------------------------------------------------------------------------
def test_loading_a_state_dict_materialises_a_lazy_module(torch):
    full = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    full(gradlab.tensor(rand(5, 4), dtype=gradlab.float32))
    lazy = nn.Sequential(nn.LazyLinear(3), nn.LazyBatchNorm1d())
    assert repr(lazy.load_state_dict(full.state_dict())) == "<All keys matched successfully>"
    assert type(lazy[0]) is nn.LazyLinear  # still lazy (in_features unknown) until its first call, as torch
    for (k, p), (_, q) in zip(full.state_dict().items(), lazy.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=k)
    x = gradlab.tensor(rand(6, 4), dtype=gradlab.float32)
    full.eval(), lazy.eval()
    np.testing.assert_array_equal(lazy(x).detach().numpy(), full(x).detach().numpy())
    assert type(lazy[0]) is nn.Linear and repr(lazy) == repr(full)

    # as torch: lazy into lazy loads nothing; lazy into a built module cannot say which shape to copy
    again = nn.LazyLinear(3)
    again.load_state_dict(nn.LazyLinear(3).state_dict())
    assert is_lazy(again.weight)
    torch.nn.LazyLinear(3).load_state_dict(torch.nn.LazyLinear(3).state_dict())
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
        nn.Linear(4, 3).load_state_dict(nn.LazyLinear(3).state_dict())
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
        torch.nn.Linear(4, 3).load_state_dict(torch.nn.LazyLinear(3).state_dict())


def test_state_dict_of_a_lazy_module_matches_pytorch(torch):
    ours = nn.Sequential(nn.LazyConv2d(2, 3), nn.LazyBatchNorm2d(), nn.Flatten(), nn.LazyLinear(1))
    theirs = torch.nn.Sequential(torch.nn.LazyConv2d(2, 3), torch.nn.LazyBatchNorm2d(), torch.nn.Flatten(),
                                 torch.nn.LazyLinear(1))
    assert ({k: repr(v) for k, v in ours.state_dict().items()}
            == {k: repr(v).replace("torch", "gradlab") for k, v in theirs.state_dict().items()})
    assert repr(ours) == repr(theirs)
    ours(gradlab.zeros(2, 1, 6, 6))
    theirs(torch.zeros(2, 1, 6, 6))
    assert repr(ours) == repr(theirs)
    assert _state_shapes(ours.state_dict()) == _state_shapes(theirs.state_dict())


# ---- optimizers --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda ps: gradlab.optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: gradlab.optim.Adam(ps, lr=0.01, weight_decay=0.1)])
def test_an_optimizer_built_before_the_dry_run_trains_the_materialised_parameters(make, torch):
    # As in PyTorch: the parameters are the same objects before and after, so an optimizer built over the
    # uninitialised ones works; until they have gradients its steps leave them alone.
    torch.optim.SGD(torch.nn.LazyLinear(2).parameters(), lr=0.1).step()
    x, y = gradlab.tensor(rand(8, 3), dtype=gradlab.float32), gradlab.tensor(rand(8, 2), dtype=gradlab.float32)
    nets = []
    for early in (True, False):
        gradlab.manual_seed(0)
        net = nn.Sequential(nn.LazyLinear(4), nn.Tanh(), nn.LazyLinear(2))
        opt = make(net.parameters()) if early else None
        if early:
            opt.step()
            opt.zero_grad()
        net(x)
        opt = opt or make(net.parameters())
        for _ in range(3):
            opt.zero_grad()
            F.mse_loss(net(x), y).backward()
            opt.step()
        nets.append(net)
    for p, q in zip(*(n.parameters() for n in nets)):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


# ---- course-style networks: build, dry-run, initialise with apply, train --------------------------------
def lazy_mlp(lib):
    return lib.nn.Sequential(lib.nn.Flatten(), lib.nn.LazyLinear(32), lib.nn.ReLU(), lib.nn.LazyLinear(10))


def lazy_lenet(lib, batch_norm=False):
    n = lib.nn

    def norm(two_d):
        return ([n.LazyBatchNorm2d() if two_d else n.LazyBatchNorm1d()] if batch_norm else [])
    return n.Sequential(n.LazyConv2d(6, 5, padding=2), *norm(True), n.Sigmoid(), n.AvgPool2d(2, 2),
                        n.LazyConv2d(16, 5), *norm(True), n.Sigmoid(), n.AvgPool2d(2, 2), n.Flatten(),
                        n.LazyLinear(120), *norm(False), n.Sigmoid(), n.LazyLinear(84), *norm(False), n.Sigmoid(),
                        n.LazyLinear(10))


def init_cnn(module):
    """Xavier-uniform weights and zero biases for the linear and convolution layers."""
    if type(module) in (nn.Linear, nn.Conv2d):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


@pytest.mark.parametrize("build, lr", [(lazy_mlp, 0.1), (lazy_lenet, 0.5),
                                       (lambda lib: lazy_lenet(lib, batch_norm=True), 0.1)],
                         ids=["mlp", "lenet", "lenet-batchnorm"])
def test_lazy_network_dry_run_apply_init_and_training_match_pytorch(torch, build, lr):
    # float64, converted before the dry run, so that the comparison does not hang on float32 rounding
    images = np.random.default_rng(0).random((16, 1, 28, 28))
    labels = np.random.default_rng(1).integers(0, 10, 16)
    ours, theirs = build(gradlab).double(), build(torch).double()
    with pytest.raises(RuntimeError, match="dry forward"):  # before the dry run there is nothing to initialise
        ours.apply(lambda m: isinstance(m, LazyModuleMixin) and nn.init.xavier_uniform_(m.weight))
    ours(gradlab.tensor(images[:2]))
    theirs(torch.tensor(images[:2]))
    assert repr(ours) == repr(theirs)
    gradlab.manual_seed(0)
    ours.apply(init_cnn)
    layers = [m for m in ours.modules() if type(m) in (nn.Linear, nn.Conv2d)]
    for m in layers:
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(m.weight)
        assert np.abs(m.weight.detach().numpy()).max() <= math.sqrt(6 / (fan_in + fan_out))
        assert not m.bias.detach().numpy().any()
    with torch.no_grad():
        for (name, p), (_, q) in zip(ours.state_dict().items(), theirs.state_dict().items()):
            q.copy_(torch.tensor(p.numpy()))

    opt_ours = gradlab.optim.SGD(ours.parameters(), lr=lr)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=lr)
    losses = []
    for step in range(4):
        batch = slice(0, 8)  # the same batch: its loss goes down
        loss_ours = F.cross_entropy(ours(gradlab.tensor(images[batch])), gradlab.tensor(labels[batch]))
        loss_theirs = torch.nn.functional.cross_entropy(theirs(torch.tensor(images[batch])),
                                                        torch.tensor(labels[batch]))
        for opt, loss in ((opt_ours, loss_ours), (opt_theirs, loss_theirs)):
            opt.zero_grad()
            loss.backward()
            opt.step()
        losses.append((loss_ours.item(), loss_theirs.item()))
    ours_l, theirs_l = np.array(losses).T
    np.testing.assert_allclose(ours_l, theirs_l, rtol=1e-10)
    assert ours_l[-1] < ours_l[0]
    for (name, p), (_, q) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-8, atol=1e-10, err_msg=name)
