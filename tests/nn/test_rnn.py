"""RNN, LSTM, GRU and their cells against PyTorch: every weight copied by name, then output, h_n, c_n and
all gradients (input, initial state, every parameter) compared on random configurations; float64
gradcheck; parameter names, shapes, default init, printout, dropout between layers and the errors."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
from gradlab import nn
from gradlab.autograd import gradcheck

torch = pytest.importorskip("torch")


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def make_pair(name, **kwargs):
    """The gradlab layer and a float64 torch layer holding the same values, parameter by parameter (by name)."""
    ours, theirs = getattr(nn, name)(**kwargs).double(), getattr(torch.nn, name)(**kwargs).double()
    named = dict(ours.named_parameters())
    assert list(named) == [n for n, _ in theirs.named_parameters()]
    with torch.no_grad():
        for n, p in theirs.named_parameters():
            assert tuple(p.shape) == tuple(named[n].shape), n
            p.copy_(torch.tensor(named[n]._data))
    return ours, theirs


def leaves(lib, arrays):
    return [lib.tensor(a.copy(), requires_grad=True) for a in arrays]


def flat(out):
    """(output, h) / (output, (h, c)) / h / (h, c) as a flat list of tensors."""
    if not isinstance(out, tuple):
        return [out]
    return [t for item in out for t in (item if isinstance(item, tuple) else (item,))]


def compare(ours, theirs, call, arrays, rtol=1e-9, atol=1e-11):
    """Run ``call(layer, *leaves)`` in both libraries; compare every output and every gradient."""
    xo, xt = leaves(gradlab, arrays), leaves(torch, arrays)
    out_o, out_t = flat(call(ours, *xo)), flat(call(theirs, *xt))
    assert len(out_o) == len(out_t)
    loss_o = loss_t = 0
    for k, (a, b) in enumerate(zip(out_o, out_t)):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a._data, b.detach().numpy(), rtol=rtol, atol=atol)
        weights = rand(*b.shape, seed=10 + k)  # a different linear functional of each output
        loss_o = loss_o + (a * gradlab.tensor(weights)).sum()
        loss_t = loss_t + (b * torch.tensor(weights)).sum()
    loss_o.backward()
    loss_t.backward()
    for a, b in zip(xo, xt):
        np.testing.assert_allclose(a.grad._data, b.grad.numpy(), rtol=rtol, atol=atol)
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad._data, q.grad.numpy(), rtol=rtol, atol=atol, err_msg=n)


# ---- whole sequences --------------------------------------------------------------------------
@st.composite
def rnn_cases(draw):
    name = draw(st.sampled_from(["RNN", "LSTM", "GRU"]))
    hidden = draw(st.integers(1, 4))
    kwargs = dict(input_size=draw(st.integers(1, 3)), hidden_size=hidden, num_layers=draw(st.integers(1, 2)),
                  bias=draw(st.booleans()), batch_first=draw(st.booleans()), bidirectional=draw(st.booleans()))
    if name == "RNN":
        kwargs["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    if name == "LSTM" and hidden > 1 and draw(st.booleans()):
        kwargs["proj_size"] = draw(st.integers(1, hidden - 1))
    return dict(name=name, kwargs=kwargs, length=draw(st.integers(1, 4)), batch=draw(st.integers(1, 3)),
                batched=draw(st.booleans()), initial_state=draw(st.booleans()), seed=draw(st.integers(0, 999)))


@given(case=rnn_cases())
def test_recurrent_layers_match_torch(case):
    kw, name = case["kwargs"], case["name"]
    gradlab.manual_seed(case["seed"])
    ours, theirs = make_pair(name, **kw)
    steps, batch = case["length"], case["batch"]
    if not case["batched"]:
        x_shape = (steps, kw["input_size"])
    else:
        x_shape = (batch, steps, kw["input_size"]) if kw["batch_first"] else (steps, batch, kw["input_size"])
    arrays = [rand(*x_shape, seed=case["seed"])]
    if case["initial_state"]:
        layers = kw["num_layers"] * (2 if kw["bidirectional"] else 1)
        sizes = [kw.get("proj_size") or kw["hidden_size"]] + ([kw["hidden_size"]] if name == "LSTM" else [])
        for k, size in enumerate(sizes):
            shape = (layers, batch, size) if case["batched"] else (layers, size)
            arrays.append(rand(*shape, seed=case["seed"] + k + 1))

    def call(layer, x, *state):
        if not state:
            return layer(x)
        return layer(x, tuple(state) if name == "LSTM" else state[0])
    compare(ours, theirs, call, arrays)


def test_lstm_runs_a_longer_sequence_like_torch():
    ours, theirs = make_pair("LSTM", input_size=5, hidden_size=8, num_layers=2, batch_first=True)
    compare(ours, theirs, lambda layer, x: layer(x), [rand(3, 12, 5)], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_float32_layers_match_torch(name):
    ours, theirs = getattr(nn, name)(3, 4), getattr(torch.nn, name)(3, 4)
    with torch.no_grad():
        for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            q.copy_(torch.tensor(p._data))
    x = rand(5, 2, 3).astype(np.float32)
    out, ref = ours(gradlab.tensor(x)), theirs(torch.tensor(x))
    assert out[0].dtype == gradlab.float32
    np.testing.assert_allclose(out[0]._data, ref[0].detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_recurrent_layers_gradcheck(name):
    layer = getattr(nn, name)(2, 3, num_layers=2, bidirectional=True).double()
    params = list(layer.parameters())
    x = gradlab.tensor(rand(3, 2, 2), requires_grad=True)

    def outputs(x, *weights):
        out = layer(x)
        return out[0], (out[1][1] if name == "LSTM" else out[1])
    assert gradcheck(outputs, (x, *params))


# ---- cells ------------------------------------------------------------------------------------
@given(name=st.sampled_from(["RNNCell", "LSTMCell", "GRUCell"]), bias=st.booleans(), batched=st.booleans(),
       initial_state=st.booleans(), relu=st.booleans(), seed=st.integers(0, 999))
def test_cells_match_torch(name, bias, batched, initial_state, relu, seed):
    kwargs = dict(input_size=3, hidden_size=4, bias=bias)
    if name == "RNNCell" and relu:
        kwargs["nonlinearity"] = "relu"
    gradlab.manual_seed(seed)
    ours, theirs = make_pair(name, **kwargs)
    lead = (2,) if batched else ()
    arrays = [rand(*lead, 3, seed=seed)]
    if initial_state:
        arrays += [rand(*lead, 4, seed=seed + k + 1) for k in range(2 if name == "LSTMCell" else 1)]

    def call(cell, x, *state):
        if not state:
            return cell(x)
        return cell(x, tuple(state) if name == "LSTMCell" else state[0])
    compare(ours, theirs, call, arrays)


def test_cells_unrolled_over_time_match_the_layer():
    """An LSTMCell stepped by hand over a sequence gives nn.LSTM's output with the same weights."""
    cell, layer = nn.LSTMCell(3, 4).double(), nn.LSTM(3, 4).double()
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(layer, name + "_l0")._data[...] = getattr(cell, name)._data
    x = gradlab.tensor(rand(5, 2, 3))
    h = c = gradlab.zeros(2, 4, dtype=gradlab.float64)
    outputs = []
    for t in range(5):
        h, c = cell(x[t], (h, c))
        outputs.append(h)
    output, (h_n, c_n) = layer(x)
    np.testing.assert_allclose(gradlab.stack(outputs)._data, output._data, rtol=1e-12)
    np.testing.assert_allclose(c_n[0]._data, c._data, rtol=1e-12)


# ---- parameters, init, printout, dropout, errors ----------------------------------------------
LAYER_CONFIGS = [("RNN", dict(input_size=3, hidden_size=4)),
                 ("RNN", dict(input_size=3, hidden_size=4, num_layers=2, nonlinearity="relu", bias=False)),
                 ("LSTM", dict(input_size=3, hidden_size=4, num_layers=2, batch_first=True, bidirectional=True,
                               dropout=0.1)),
                 ("LSTM", dict(input_size=3, hidden_size=4, proj_size=2, bidirectional=True)),
                 ("GRU", dict(input_size=3, hidden_size=4, bias=False)),
                 ("RNNCell", dict(input_size=3, hidden_size=4, nonlinearity="relu")),
                 ("LSTMCell", dict(input_size=3, hidden_size=4)),
                 ("GRUCell", dict(input_size=3, hidden_size=4, bias=False))]


@pytest.mark.parametrize("name,kwargs", LAYER_CONFIGS)
def test_parameters_init_and_repr_are_torchs(name, kwargs):
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    bound = 1 / math.sqrt(kwargs["hidden_size"])
    values = np.concatenate([p._data.ravel() for p in ours.parameters()])
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.5 * bound


def test_a_torch_state_dict_loads_and_gives_torchs_output():
    theirs = torch.nn.GRU(3, 4, num_layers=2, batch_first=True).double()
    ours = nn.GRU(3, 4, num_layers=2, batch_first=True).double()
    ours.load_state_dict({k: gradlab.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = rand(2, 5, 3)
    np.testing.assert_allclose(ours(gradlab.tensor(x))[0]._data, theirs(torch.tensor(x))[0].detach().numpy(),
                               rtol=1e-12)


def test_dropout_between_layers_only_in_training():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # two layers: no warning
        layer = nn.LSTM(3, 8, num_layers=2, dropout=0.5).double()
    x = gradlab.tensor(rand(4, 2, 3))
    layer.eval()
    first, second = layer(x)[0], layer(x)[0]
    np.testing.assert_array_equal(first._data, second._data)
    layer.train()
    gradlab.manual_seed(1)
    trained = layer(x)[0]
    assert not np.allclose(trained._data, first._data)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.2)


def _error(lib, call):
    try:
        call(lib)
    except Exception as error:  # noqa: BLE001 - the type is compared below
        return type(error), str(error)
    return None


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.RNN(3, 4)(lib.zeros(2, 3, 4, 3)),
    lambda lib: lib.nn.RNN(3, 4)(lib.zeros(5, 2, 5)),
    lambda lib: lib.nn.RNN(3, 4)(lib.zeros(5, 2, 3), lib.zeros(1, 3, 4)),
    lambda lib: lib.nn.RNN(3, 4)(lib.zeros(5, 2, 3), lib.zeros(3, 4)),
    lambda lib: lib.nn.RNN(3, 4)(lib.zeros(5, 3), lib.zeros(1, 2, 4)),
    lambda lib: lib.nn.LSTM(3, 4)(lib.zeros(5, 2, 3), (lib.zeros(1, 2, 4), lib.zeros(1, 3, 4))),
    lambda lib: lib.nn.RNN(3, 4, dropout=2),
    lambda lib: lib.nn.RNN(3, 0),
    lambda lib: lib.nn.RNN(3, 4, num_layers=0),
    lambda lib: lib.nn.RNN(3, 4, nonlinearity="sig"),
    lambda lib: lib.nn.LSTM(3, 4, proj_size=4),
    lambda lib: lib.nn.RNNCell(3, 4)(lib.zeros(2, 3, 3)),
    lambda lib: lib.nn.RNNCell(3, 4)(lib.zeros(2, 5)),
    lambda lib: lib.nn.RNNCell(3, 4)(lib.zeros(2, 3), lib.zeros(2, 5)),
    lambda lib: lib.nn.GRUCell(3, 4)(lib.zeros(2, 3), lib.zeros(3, 4)),
])
def test_errors_match_torch(call):
    ours, theirs = _error(gradlab, call), _error(torch, call)
    assert theirs is not None and ours is not None
    assert ours[0] is theirs[0] and theirs[1] in ours[1], (ours, theirs)
