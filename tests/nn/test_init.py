"""nn.init: exact bounds, moments within statistical tolerance, structure (orthogonal, eye, dirac),
and gains and fans cross-checked with torch."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
from gradlab import nn
from gradlab.nn import init

NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]


def values(t):
    return np.asarray(t._data, dtype=np.float64)


def assert_moments(t, mean, std):
    """Sample mean and std within 6 standard errors of the expected values."""
    v = values(t).reshape(-1)
    n = v.size
    assert abs(v.mean() - mean) < 6 * std / math.sqrt(n)
    assert abs(v.std() - std) < 6 * std / math.sqrt(2 * n)


# ---- gains and fans --------------------------------------------------------------------------------------
@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_calculate_gain_matches_torch(nonlinearity):
    torch = pytest.importorskip("torch")
    for param in (None, 0.2, 1, 0.0):
        assert init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)


def test_calculate_gain_values_and_errors():
    assert init.calculate_gain("relu") == math.sqrt(2.0)
    assert init.calculate_gain("tanh") == 5.0 / 3
    assert init.calculate_gain("leaky_relu") == math.sqrt(2.0 / (1 + 0.01 ** 2))
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2.0 / 1.04)
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    for bad in (True, "0.1"):
        with pytest.raises(ValueError, match=f"negative_slope {bad} not a valid number"):
            init.calculate_gain("leaky_relu", bad)


@given(st.lists(st.integers(1, 5), min_size=2, max_size=5))
def test_fans_match_torch(shape):
    torch = pytest.importorskip("torch")
    ours = init._calculate_fan_in_and_fan_out(gradlab.empty(*shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    receptive = int(np.prod(shape[2:]))
    assert ours == (shape[1] * receptive, shape[0] * receptive)


def test_fans_need_two_dimensions():
    for shape in ((), (5,)):
        with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor with fewer than 2 "
                                             "dimensions"):
            init._calculate_fan_in_and_fan_out(gradlab.empty(*shape))
    with pytest.raises(ValueError, match=r"Mode fan_avg not supported, please use one of \['fan_in', 'fan_out'\]"):
        init.kaiming_uniform_(gradlab.empty(3, 3), mode="fan_avg")


# ---- in place, outside autograd ----------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda t: init.uniform_(t, -1, 1), lambda t: init.normal_(t), lambda t: init.trunc_normal_(t),
    lambda t: init.constant_(t, 0.3), init.zeros_, init.ones_, init.eye_, init.xavier_uniform_,
    init.xavier_normal_, init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_,
    lambda t: init.sparse_(t, 0.5)])
def test_fills_in_place_without_recording_a_graph(fn):
    p = nn.Parameter(gradlab.empty(4, 6))
    array, version = p._data, p._version
    assert fn(p) is p
    assert p._data is array and p._version > version  # same memory, and in-place ops bump the version
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    assert p.dtype == gradlab.float32


def test_constants():
    t = gradlab.empty(2, 3)
    assert init.constant_(t, 2.5).tolist() == [[2.5] * 3] * 2
    assert init.zeros_(t).tolist() == [[0.0] * 3] * 2
    assert init.ones_(t).tolist() == [[1.0] * 3] * 2


def test_eye_and_dirac_match_torch():
    torch = pytest.importorskip("torch")
    for shape in ((3, 5), (5, 3), (4, 4)):
        assert init.eye_(gradlab.empty(*shape)).tolist() == torch.nn.init.eye_(torch.empty(*shape)).tolist()
    for shape, groups in (((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((2, 4, 3, 3, 3), 1), ((4, 1, 5, 5), 4)):
        ours = init.dirac_(gradlab.empty(*shape), groups)
        assert ours.tolist() == torch.nn.init.dirac_(torch.empty(*shape), groups).tolist()
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(gradlab.empty(2, 2, 2))
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions are supported"):
        init.dirac_(gradlab.empty(2, 2))
    with pytest.raises(ValueError, match="dim 0 must be divisible by groups"):
        init.dirac_(gradlab.empty(3, 2, 3), groups=2)


def test_dirac_convolution_is_identity():
    w = init.dirac_(gradlab.empty(3, 3, 3, 3))
    x = gradlab.randn(2, 3, 5, 5)
    np.testing.assert_allclose(nn.functional.conv2d(x, w, padding=1).tolist(), x.tolist(), atol=1e-6)


# ---- distributions -----------------------------------------------------------------------------------------
def test_uniform_bounds_and_moments():
    t = init.uniform_(gradlab.empty(400, 500), -0.5, 1.5)
    v = values(t)
    assert v.min() >= -0.5 and v.max() <= 1.5
    assert v.min() < -0.49 and v.max() > 1.49  # the whole interval is used
    assert_moments(t, 0.5, 2.0 / math.sqrt(12))


def test_normal_moments():
    assert_moments(init.normal_(gradlab.empty(500, 400), 1.5, 0.25), 1.5, 0.25)


@pytest.mark.parametrize("shape", [(300, 200), (64, 32, 5, 5), (100, 3000)])
def test_xavier(shape):
    t = gradlab.empty(*shape)
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(t)
    gain = 1.7
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    init.xavier_uniform_(t, gain=gain)
    assert np.abs(values(t)).max() <= bound
    assert np.abs(values(t)).max() > 0.99 * bound
    assert_moments(t, 0.0, std)
    assert_moments(init.xavier_normal_(t, gain=gain), 0.0, std)


@pytest.mark.parametrize("a,mode,nonlinearity", [(0, "fan_in", "leaky_relu"), (0.2, "fan_out", "leaky_relu"),
                                                 (0, "fan_in", "relu"), (math.sqrt(5), "fan_in", "leaky_relu"),
                                                 (0, "FAN_OUT", "tanh")])
def test_kaiming(a, mode, nonlinearity):
    t = gradlab.empty(128, 64, 3, 3)
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(t)
    fan = fan_in if mode.lower() == "fan_in" else fan_out
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nonlinearity)
    assert np.abs(values(t)).max() <= bound and np.abs(values(t)).max() > 0.99 * bound
    assert_moments(t, 0.0, std)
    assert_moments(init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nonlinearity), 0.0, std)


def test_kaiming_bound_matches_torch_formula():
    """The bound torch's Linear default init produces: 1/sqrt(fan_in) for a = sqrt(5)."""
    t = init.kaiming_uniform_(gradlab.empty(50, 400), a=math.sqrt(5))
    bound = 1 / math.sqrt(400)
    assert np.abs(values(t)).max() <= bound + 1e-7 and np.abs(values(t)).max() > 0.99 * bound


def test_zero_element_tensors_warn():
    for fn in (init.kaiming_uniform_, init.kaiming_normal_):
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            fn(gradlab.empty(0, 3))


def _truncated_moments(mean, std, a, b):
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: (1 + math.erf(x / math.sqrt(2))) / 2  # noqa: E731
    z = cdf(beta) - cdf(alpha)
    m = mean + std * (pdf(alpha) - pdf(beta)) / z
    var = std ** 2 * (1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - ((pdf(alpha) - pdf(beta)) / z) ** 2)
    return m, math.sqrt(var)


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.5, 0.2, 0.0, 1.0), (0.0, 1.0, 2.0, 3.0),
                                          (0.0, 0.02, -0.04, 0.04)])
def test_trunc_normal(mean, std, a, b):
    """Both sampling branches: redrawing normals (most mass inside) and uniform proposals (little inside)."""
    t = init.trunc_normal_(gradlab.empty(300, 300, dtype=gradlab.float64), mean, std, a, b)
    v = values(t)
    assert v.min() >= a and v.max() <= b
    expected_mean, expected_std = _truncated_moments(mean, std, a, b)
    assert_moments(t, expected_mean, expected_std)


def test_trunc_normal_warns_when_mean_is_far_outside():
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(gradlab.empty(10), mean=10.0, std=1.0, a=-1.0, b=1.0)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5), (8, 2, 3, 3), (3, 20)])
def test_orthogonal(shape):
    t = init.orthogonal_(gradlab.empty(*shape, dtype=gradlab.float64), gain=2.0)
    q = values(t).reshape(shape[0], -1) / 2.0
    rows, cols = q.shape
    small = q.T @ q if rows >= cols else q @ q.T
    np.testing.assert_allclose(small, np.eye(min(rows, cols)), atol=1e-10)
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions are supported"):
        init.orthogonal_(gradlab.empty(4))


def test_sparse_zeros_each_column():
    t = init.sparse_(gradlab.empty(10, 200), sparsity=0.25, std=0.1)
    zeros_per_column = (values(t) == 0).sum(axis=0)
    assert (zeros_per_column == math.ceil(0.25 * 10)).all()
    nonzero = values(t)[values(t) != 0]
    assert abs(nonzero.std() - 0.1) < 0.01
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.sparse_(gradlab.empty(2, 2, 2), 0.5)


# ---- generators and seeding ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [init.uniform_, init.normal_, init.trunc_normal_, init.xavier_uniform_,
                                init.xavier_normal_, init.kaiming_uniform_, init.kaiming_normal_,
                                init.orthogonal_, lambda t, generator: init.sparse_(t, 0.3, generator=generator)])
def test_generator_gives_reproducible_independent_streams(fn):
    a = fn(gradlab.empty(5, 7), generator=gradlab.Generator().manual_seed(3))
    gradlab.manual_seed(0)
    b = fn(gradlab.empty(5, 7), generator=gradlab.Generator().manual_seed(3))
    c = fn(gradlab.empty(5, 7), generator=gradlab.Generator().manual_seed(4))
    assert a.tolist() == b.tolist() and a.tolist() != c.tolist()
    gradlab.manual_seed(11)
    d = fn(gradlab.empty(5, 7), generator=None)
    gradlab.manual_seed(11)
    assert fn(gradlab.empty(5, 7), generator=None).tolist() == d.tolist()  # the global seed governs the default


def test_deprecated_names_warn():
    with pytest.warns(FutureWarning, match="`nn.init.xavier_uniform` is now deprecated in favor of "
                                           "`nn.init.xavier_uniform_`"):
        init.xavier_uniform(gradlab.empty(3, 3))
