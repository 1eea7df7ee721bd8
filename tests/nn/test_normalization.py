"""LayerNorm, GroupNorm, InstanceNorm1d/2d, RMSNorm, LocalResponseNorm: gradcheck, and values, gradients,
parameters and reprs against torch."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F
from gradlab import nn
from gradlab.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from against_torch import assert_close, check_against_torch, pair  # noqa: E402


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


shapes = st.lists(st.integers(1, 4), min_size=2, max_size=4).map(tuple)


# ---- layer norm -------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(shape=shapes, k=st.integers(1, 2), affine=st.sampled_from(["none", "weight", "both"]),
       eps=st.sampled_from([1e-5, 0.1]), seed=st.integers(0, 2 ** 16))
def test_layer_norm_matches_torch(shape, k, affine, eps, seed):
    k = min(k, len(shape))
    normalized = shape[len(shape) - k:]
    arrays = [rand(*shape, seed=seed)]
    if affine != "none":
        arrays.append(rand(*normalized, seed=seed + 1))
    if affine == "both":
        arrays.append(rand(*normalized, seed=seed + 2))
    check_against_torch(lambda x, *wb: F.layer_norm(x, normalized, *wb, eps=eps),
                        lambda x, *wb: TF.layer_norm(x, normalized, *wb, eps=eps), arrays)


def test_layer_norm_gradcheck_and_gradgradcheck():
    x, w, b = (gradlab.tensor(rand(*s, seed=i), requires_grad=True) for i, s in enumerate([(3, 2, 4), (2, 4), (2, 4)]))
    fn = lambda x, w, b: F.layer_norm(x, (2, 4), w, b)  # noqa: E731
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


def test_layer_norm_float32_and_errors():
    x = rand(2, 3, 5).astype(np.float32)
    out = F.layer_norm(gradlab.tensor(x), [5])
    assert_close(out, TF.layer_norm(torch.tensor(x), [5]), rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\], "
                                           r"but got input of size\[2, 3, 5\]"):
        F.layer_norm(gradlab.tensor(x), (4,))
    with pytest.raises(RuntimeError, match="weight"):
        F.layer_norm(gradlab.tensor(x), (5,), gradlab.ones(4))
    with pytest.raises(RuntimeError, match="mixed dtype"):
        F.layer_norm(gradlab.tensor(x), (5,), gradlab.ones(5, dtype=gradlab.float64))
    with pytest.raises(NotImplementedError, match="expected a floating-point input, got gradlab.int64"):
        F.group_norm(gradlab.ones(2, 4, dtype=gradlab.int64), 2)


# ---- group norm -------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), groups=st.integers(1, 3), per_group=st.integers(1, 3),
       spatial=st.lists(st.integers(1, 3), max_size=2).map(tuple), affine=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_group_norm_matches_torch(n, groups, per_group, spatial, affine, seed):
    c = groups * per_group
    if per_group * int(np.prod(spatial)) == 1:
        spatial = spatial + (2,)  # a group of one value has no variance to standardize by
    arrays = [rand(n, c, *spatial, seed=seed)] + ([rand(c, seed=seed + 1), rand(c, seed=seed + 2)] if affine else [])
    check_against_torch(lambda x, *wb: F.group_norm(x, groups, *wb), lambda x, *wb: TF.group_norm(x, groups, *wb),
                        arrays)


def test_group_norm_gradgradcheck_and_errors():
    x, w, b = (gradlab.tensor(rand(*s, seed=i), requires_grad=True) for i, s in enumerate([(2, 4, 3), (4,), (4,)]))
    assert gradgradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (x, w, b))
    with pytest.raises(RuntimeError, match=r"divisible by num_groups, but got input of shape \[2, 4, 3\] and "
                                           r"num_groups=3"):
        F.group_norm(x, 3)
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)


# ---- instance norm ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 2), (3, 4), (2, 2, 3, 2, 2)])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("track", [False, True])
def test_instance_norm_module_matches_torch(shape, affine, track):
    cls = {3: "InstanceNorm1d", 4: "InstanceNorm2d", 2: "InstanceNorm1d", 5: "InstanceNorm3d"}[len(shape)]
    channels = shape[-2] if len(shape) == 2 else shape[1]
    ours = getattr(nn, cls)(channels, affine=affine, track_running_stats=track, momentum=0.3).double()
    theirs = getattr(torch.nn, cls)(channels, affine=affine, track_running_stats=track, momentum=0.3).double()
    if affine:  # non-trivial parameters, the same in both
        for p, q, seed in zip(ours.parameters(), theirs.parameters(), (5, 6)):
            p.data.copy_(gradlab.tensor(rand(channels, seed=seed)))
            q.data.copy_(torch.tensor(rand(channels, seed=seed)))
    assert repr(ours) == repr(theirs)
    for step in range(2):
        check_against_torch(ours, theirs, [rand(*shape, seed=step)])
        if track:
            assert_close(ours.running_mean, theirs.running_mean)
            assert_close(ours.running_var, theirs.running_var)
    ours.eval(), theirs.eval()
    check_against_torch(ours, theirs, [rand(*shape, seed=9)])


def test_instance_norm_gradcheck_and_errors():
    x, w, b = (gradlab.tensor(rand(*s, seed=i), requires_grad=True) for i, s in enumerate([(2, 3, 4), (3,), (3,)]))
    assert gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), (x, w, b))
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        F.instance_norm(gradlab.randn(2, 3, 1))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.InstanceNorm1d(3)(gradlab.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"expected input's size at dim=1 to match num_features \(3\), but got: 2"):
        nn.InstanceNorm1d(3, affine=True)(gradlab.randn(2, 2, 4))


# ---- rms norm and local response norm ---------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(shape=shapes, weighted=st.booleans(), eps=st.sampled_from([None, 1e-3]), seed=st.integers(0, 2 ** 16))
def test_rms_norm_matches_torch(shape, weighted, eps, seed):
    normalized = shape[-1:]
    arrays = [rand(*shape, seed=seed)] + ([rand(*normalized, seed=seed + 1)] if weighted else [])
    check_against_torch(lambda x, *w: F.rms_norm(x, normalized, *w, eps=eps),
                        lambda x, *w: TF.rms_norm(x, normalized, *w, eps=eps), arrays)


@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=3, max_size=4).map(tuple), size=st.integers(1, 5),
       alpha=st.sampled_from([1e-4, 0.5]), beta=st.sampled_from([0.75, 1.5]), k=st.sampled_from([1.0, 2.0]),
       seed=st.integers(0, 2 ** 16))
def test_local_response_norm_matches_torch(shape, size, alpha, beta, k, seed):
    check_against_torch(lambda x: F.local_response_norm(x, size, alpha, beta, k),
                        lambda x: TF.local_response_norm(x, size, alpha, beta, k), [rand(*shape, seed=seed)])


def test_rms_and_lrn_gradcheck():
    x, w = gradlab.tensor(rand(2, 3, 4), requires_grad=True), gradlab.tensor(rand(4, seed=1), requires_grad=True)
    assert gradcheck(lambda x, w: F.rms_norm(x, [4], w), (x, w))
    assert gradcheck(lambda x: F.local_response_norm(x, 3, alpha=0.5), (x,))
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*3\]"):
        F.rms_norm(x, (3,))


# ---- modules: parameters, reset, repr ---------------------------------------------------------
MODULES = [
    ("LayerNorm", (5,), {}), ("LayerNorm", ([3, 4],), {"eps": 1e-3, "elementwise_affine": False}),
    ("LayerNorm", (4,), {"bias": False}), ("GroupNorm", (2, 6), {}), ("GroupNorm", (3, 3), {"affine": False}),
    ("GroupNorm", (1, 2), {"bias": False, "eps": 0.1}), ("InstanceNorm1d", (3,), {}),
    ("InstanceNorm2d", (3,), {"affine": True, "track_running_stats": True}), ("InstanceNorm3d", (2,), {}),
    ("BatchNorm3d", (3,), {"momentum": None}), ("RMSNorm", (5,), {}),
    ("RMSNorm", ([2, 3],), {"eps": 1e-3, "elementwise_affine": False}), ("LocalResponseNorm", (2,), {}),
    ("LocalResponseNorm", (3, 0.1, 0.5, 2.0), {}),
]


@pytest.mark.parametrize("name,args,kwargs", MODULES)
def test_module_parameters_buffers_and_repr_match_torch(name, args, kwargs):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for key in ours_state:
        assert_close(ours_state[key], theirs_state[key])
    for p in ours.parameters():  # perturb, then reset back to PyTorch's init
        p.data.add_(1.5)
    if hasattr(ours, "reset_parameters"):
        ours.reset_parameters()
        for key in ours_state:
            assert_close(ours.state_dict()[key], theirs_state[key])


def test_layer_norm_module_trains_like_torch():
    ours, theirs = nn.LayerNorm([3, 4]).double(), torch.nn.LayerNorm([3, 4]).double()
    for p, q, seed in zip(ours.parameters(), theirs.parameters(), (3, 4)):
        p.data.copy_(gradlab.tensor(rand(3, 4, seed=seed)))
        q.data.copy_(torch.tensor(rand(3, 4, seed=seed)))
    x, xt = pair(rand(2, 3, 4))
    (ours(x) ** 2).sum().backward()
    (theirs(xt) ** 2).sum().backward()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad)
    assert_close(x.grad, xt.grad)


def test_batch_norm_3d_matches_torch():
    ours, theirs = nn.BatchNorm3d(2, momentum=0.2).double(), torch.nn.BatchNorm3d(2, momentum=0.2).double()
    for step in range(2):
        check_against_torch(ours, theirs, [rand(2, 2, 3, 2, 2, seed=step)])
    for key, value in ours.state_dict().items():
        assert_close(value, theirs.state_dict()[key])
    ours.eval(), theirs.eval()
    check_against_torch(ours, theirs, [rand(2, 2, 3, 2, 2, seed=5)])
    with pytest.raises(ValueError, match=r"expected 5D input \(got 4D input\)"):
        ours(gradlab.randn(2, 2, 3, 3))


@pytest.mark.parametrize("shape", [(0, 6), (0, 6, 4), (0, 6, 2, 3)])
def test_group_norm_of_an_empty_batch_matches_torch(shape):
    """An empty batch gives an empty result (the grouped reshape could not infer its -1 from 0 elements)."""
    x = np.zeros(shape)
    ours, theirs = F.group_norm(gradlab.tensor(x), 3), TF.group_norm(torch.tensor(x), 3)
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype == gradlab.float64
    assert tuple(nn.GroupNorm(3, 6)(gradlab.zeros(*shape)).shape) == shape
