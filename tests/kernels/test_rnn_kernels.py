"""The recurrent layer kernels (gradlab/kernels/rnn.py <-> gradlab_ext/rnn.pyx) and the one-node layer op.

Compiled against NumPy twin on hypothesis-drawn sizes, every backward by float64
gradcheck (and gradgradcheck through the create_graph path), and the op
against PyTorch's nn.LSTM / nn.GRU / nn.RNN cells with copied weights.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
import gradlab.kernels as K
from gradlab.autograd import gradcheck, gradgradcheck
from gradlab.kernels import rnn as twin
from gradlab.ops.nn.rnn import recurrent_layer
from kernel_cases import requires_cython

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

MODES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _arrays(rng, mode, T, N, H, dtype, scale=1.0):
    G = MODES[mode]
    draw = lambda *shape, s=scale: (rng.standard_normal(shape) * s).astype(dtype)  # noqa: E731
    return dict(x_proj=draw(T, N, G * H), h0=draw(N, H), c0=draw(N, H), w_hh=draw(G * H, H, s=scale / H ** 0.5),
                b_hh=draw(G * H), grad_out=draw(T, N, H), grad_hn=draw(N, H), grad_cn=draw(N, H))


def _run(module, mode, a, reverse):
    """Forward then backward of one kernel module: the list of every array both return."""
    if mode == "LSTM":
        fwd = module.lstm_forward(a["x_proj"], a["h0"], a["c0"], a["w_hh"], a["b_hh"], reverse)
        bwd = module.lstm_backward(a["grad_out"], a["grad_hn"], a["grad_cn"], a["h0"], a["c0"], a["w_hh"], *fwd,
                                   reverse)
    elif mode == "GRU":
        fwd = module.gru_forward(a["x_proj"], a["h0"], a["w_hh"], a["b_hh"], reverse)
        bwd = module.gru_backward(a["grad_out"], a["grad_hn"], a["h0"], a["w_hh"], *fwd, reverse)
    else:
        relu = mode == "RNN_RELU"
        fwd = (module.rnn_forward(a["x_proj"], a["h0"], a["w_hh"], a["b_hh"], relu, reverse),)
        bwd = module.rnn_backward(a["grad_out"], a["grad_hn"], a["h0"], a["w_hh"], fwd[0], relu, reverse)
    return list(fwd) + list(bwd)


@requires_cython
@settings(max_examples=40, deadline=None)
@given(mode=st.sampled_from(sorted(MODES)), T=st.integers(1, 6), N=st.integers(1, 5), H=st.integers(1, 40),
       reverse=st.booleans(), double=st.booleans(), seed=st.integers(0, 2**16))
def test_compiled_matches_twin(mode, T, N, H, reverse, double, seed):
    compiled = K._COMPILED["rnn"]     # the build K.set_num_threads sets: baseline or x86-64-v3
    dtype = np.float64 if double else np.float32
    a = _arrays(np.random.default_rng(seed), mode, T, N, H, dtype, scale=2.0)
    tol = 1e-12 if double else 2e-5
    for got, want in zip(_run(compiled, mode, a, reverse), _run(twin, mode, a, reverse)):
        assert got.dtype == want.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * max(1.0, np.abs(want).max()))


@requires_cython
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("T, N, H, reverse, threads", [
    (3, 33, 130, True, 2), (3, 7, 70, True, 1), (3, 32, 128, True, 2), (3, 7, 130, False, 2),
    (11, 32, 48, False, 1), (11, 32, 48, True, 2), (3, 300, 48, True, 2)])
def test_compiled_matches_twin_at_layer_sizes(mode, T, N, H, reverse, threads):
    """Sizes where float32 runs the packed kernel (gradlab_ext/_sgemm_packed.h): edge tiles of rows, panels cut
    across gates and a last block of units shorter than 64, over one thread or two (sharing the batch rows,
    or at N = 7 the units).  The weight gradients are
    added up every 256 // N steps during the backward walk: a last, shorter chunk (11 = 3 + 8 steps at N = 32)
    and one step per chunk (N = 300), either direction."""
    compiled = K._COMPILED["rnn"]     # the build K.set_num_threads sets
    a = _arrays(np.random.default_rng(T * N * H), mode, T, N, H, np.float32, scale=2.0)
    before = K.get_num_threads()
    try:
        K.set_num_threads(threads)
        got_all = _run(compiled, mode, a, reverse)
    finally:
        K.set_num_threads(before)
    for got, want in zip(got_all, _run(twin, mode, a, reverse)):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * max(1.0, np.abs(want).max()))


@requires_cython
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("N, H, dtype, sharing", [(32, 96, np.float32, "rows"), (6, 160, np.float32, "units"),
                                                  (32, 96, np.float64, "units")])
def test_same_bits_for_one_and_two_threads(mode, N, H, dtype, sharing):
    """Large enough that two threads share the sequence, by batch rows or (a small batch, or off the packed
    float32 kernel) by blocks of hidden units: the same bits as one thread."""
    compiled = K._COMPILED["rnn"]     # the build K.set_num_threads sets: baseline or x86-64-v3
    a = _arrays(np.random.default_rng(0), mode, 9, N, H, dtype)
    packed = dtype == np.float32 and K._COMPILED["matmul"]._packed_kernel()
    before = K.get_num_threads()
    try:
        K.set_num_threads(1)
        one = _run(compiled, mode, a, False)
        K.set_num_threads(2)
        assert compiled._sharing(N, H, MODES[mode], dtype) == (sharing if packed else "units")
        two = _run(compiled, mode, a, False)
    finally:
        K.set_num_threads(before)
    for x, y in zip(one, two):
        assert np.array_equal(x, y)


def test_activations_saturate_without_nan():
    """Huge pre-activations give saturated gates, never inf or NaN (the float32 exp is clamped)."""
    a = _arrays(np.random.default_rng(1), "LSTM", 3, 2, 5, np.float32, scale=1e4)
    for got in _run(K, "LSTM", a, False):
        assert np.all(np.isfinite(got))


@requires_cython
def test_float32_gates_at_the_edges():
    """The compiled float32 gates (explicit vectors in the x86-64-v3 build) on infinite, NaN and saturating
    pre-activations: sigmoid gives 1 and (e^-88, from its clamp) 0, tanh exactly +-1 where float32's tanh rounds to it, NaN stays NaN,
    and elsewhere they agree with NumPy.  With W_hh, b_hh, h0 and c0 zero the pre-activations are x_proj."""
    H = 16
    edges = np.array([-np.inf, -30, -9.5, -9.02, -8.5, -7.9, -1, 0, 1e-8, 0.5, 7.9, 8.5, 9.02, 9.5, 30, np.inf],
                     np.float32)
    x_proj = np.tile(edges, 4)[None, None, :].copy()
    x_proj[0, 0, 3 * H - 1] = np.nan                     # the last unit's tanh gate
    zeros = np.zeros((1, H), np.float32)
    _, _, gates = K._COMPILED["rnn"].lstm_forward(x_proj, zeros, zeros, np.zeros((4 * H, H), np.float32),
                                                  np.zeros(4 * H, np.float32), False)
    sig, tanh = gates[0, 0, :H], gates[0, 0, 2 * H:3 * H]
    assert 0 <= sig[0] < 1e-38 and sig[-1] == 1
    np.testing.assert_allclose(sig, 1 / (1 + np.exp(-edges.astype(np.float64))), rtol=2e-6, atol=1e-30)
    assert np.isnan(tanh[-1])
    saturated = np.abs(edges[:-1]) >= 9.02
    assert np.array_equal(tanh[:-1][saturated], np.sign(edges[:-1][saturated]))
    np.testing.assert_allclose(tanh[:-1], np.tanh(edges[:-1].astype(np.float64)), rtol=5e-7, atol=0)


def test_dispatcher_checks_and_defaults():
    a = _arrays(np.random.default_rng(2), "GRU", 4, 3, 5, np.float64)
    with pytest.raises(ValueError, match="gru_forward"):
        K.gru_forward(a["x_proj"][:, :, :-1], a["h0"], a["w_hh"])
    with pytest.raises(TypeError, match="lstm_forward"):
        K.lstm_forward(a["x_proj"].astype(int), a["h0"], a["c0"], a["w_hh"])
    out, gates = K.gru_forward(a["x_proj"], a["h0"], a["w_hh"])          # no bias: zeros
    want, _ = twin.gru_forward(a["x_proj"], a["h0"], a["w_hh"], np.zeros(15), False)
    np.testing.assert_allclose(out, want, rtol=1e-12)
    grads = K.gru_backward(None, None, a["h0"], a["w_hh"], out, gates)   # no gradient: zeros
    assert all(not g.any() for g in grads)
    half = K.rnn_forward(a["x_proj"][:, :, :5].astype(np.float16), a["h0"].astype(np.float16),
                         a["w_hh"][:5].astype(np.float16))
    assert half.dtype == np.float16


@pytest.mark.parametrize("backend", K.available_backends())
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("reverse", [False, True])
def test_layer_op_gradcheck(backend, mode, reverse):
    rng = np.random.default_rng(3)
    G = MODES[mode]
    T, N, H = 3, 2, 3
    leaf = lambda *shape: gradlab.tensor(rng.standard_normal(shape), requires_grad=True)  # noqa: E731
    x, h0, c0, w, b = leaf(T, N, G * H), leaf(N, H), leaf(N, H), leaf(G * H, H), leaf(G * H)

    def f(x, h0, c0, w, b):
        out, h, c = recurrent_layer(mode, x, h0, c0 if mode == "LSTM" else None, w, b, reverse)
        return (out, h) if c is None else (out, h, c)
    with K.use_backend(backend):
        assert gradcheck(f, (x, h0, c0, w, b))
        assert gradgradcheck(f, (x, h0, c0, w, b))


@pytest.mark.parametrize("mode", ["LSTM", "RNN_TANH", "RNN_RELU"])
@pytest.mark.parametrize("with_b_hh", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
def test_input_bias_given_apart_is_the_bias_inside_x_proj(mode, with_b_hh, reverse):
    """b_ih handed to the op (out of x_proj) gives the outputs, and the gradients of every input, of b_ih
    added to x_proj; both biases get the same gradient."""
    rng = np.random.default_rng(4)
    G, T, N, H = MODES[mode], 4, 3, 5
    leaf = lambda *shape: gradlab.tensor(rng.standard_normal(shape), requires_grad=True)  # noqa: E731
    x, h0, c0, w, b_hh, b_ih = leaf(T, N, G * H), leaf(N, H), leaf(N, H), leaf(G * H, H), leaf(G * H), leaf(G * H)
    weights = gradlab.tensor(rng.standard_normal((T, N, H)))
    results = []
    for apart in (False, True):
        for t in (x, h0, c0, w, b_hh, b_ih):
            t.grad = None
        hidden_bias = b_hh if with_b_hh else None
        c = c0 if mode == "LSTM" else None
        if apart:
            out, h, c = recurrent_layer(mode, x, h0, c, w, hidden_bias, reverse, b_ih)
        else:
            out, h, c = recurrent_layer(mode, x + b_ih, h0, c, w, hidden_bias, reverse)
        loss = (out * weights).sum() + 2 * h.sum() + (0 if c is None else 3 * c.sum())
        loss.backward()
        results.append([out.detach().numpy(), h.detach().numpy()]
                       + [t.grad.numpy().copy() for t in (x, h0, w, b_ih) + ((b_hh,) if with_b_hh else ())])
    for apart, inside in zip(*results):
        np.testing.assert_allclose(apart, inside, rtol=1e-12, atol=1e-12)
    if with_b_hh:
        np.testing.assert_array_equal(b_ih.grad.numpy(), b_hh.grad.numpy())


@pytest.mark.parametrize("mode", ["LSTM", "RNN_TANH"])
def test_input_bias_given_apart_gradcheck(mode):
    rng = np.random.default_rng(5)
    G, T, N, H = MODES[mode], 3, 2, 3
    leaf = lambda *shape: gradlab.tensor(rng.standard_normal(shape), requires_grad=True)  # noqa: E731
    args = (leaf(T, N, G * H), leaf(N, H), leaf(N, H), leaf(G * H, H), leaf(G * H), leaf(G * H))

    def f(x, h0, c0, w, b_hh, b_ih):
        out, h, c = recurrent_layer(mode, x, h0, c0 if mode == "LSTM" else None, w, b_hh, False, b_ih)
        return (out, h) if c is None else (out, h, c)
    assert gradcheck(f, args)
    assert gradgradcheck(f, args)


def test_a_gru_keeps_its_input_bias_in_x_proj():
    a = [gradlab.randn(2, 1, 6), gradlab.randn(1, 2), None, gradlab.randn(6, 2), gradlab.randn(6)]
    with pytest.raises(ValueError, match="GRU's b_ih"):
        recurrent_layer("GRU", *a, False, gradlab.randn(6))


@pytest.mark.skipif(torch is None, reason="needs PyTorch")
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reverse", [False, True])
def test_layer_op_matches_torch(mode, dtype, reverse):
    """The op on x_proj from PyTorch's one-layer module with the same weights: outputs and all gradients."""
    torch.manual_seed(0)
    T, N, I, H = 5, 3, 4, 6
    cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}.get(mode)
    tm = cls(I, H) if cls else torch.nn.RNN(I, H, nonlinearity="relu" if mode == "RNN_RELU" else "tanh")
    tm = tm.to(getattr(torch, dtype))
    x = torch.randn(T, N, I, dtype=tm.weight_ih_l0.dtype)
    h0 = torch.randn(1, N, H, dtype=x.dtype, requires_grad=True)
    c0 = torch.randn(1, N, H, dtype=x.dtype, requires_grad=True)
    xr = x.flip(0) if reverse else x       # a reverse layer is the forward one on the reversed sequence
    out, finals = tm(xr, (h0, c0) if mode == "LSTM" else h0)
    out = out.flip(0) if reverse else out
    finals = finals if mode == "LSTM" else (finals,)
    weights = torch.randn(T, N, H, dtype=x.dtype)
    (out * weights).sum().add(sum(f.sum() * (k + 2) for k, f in enumerate(finals))).backward()

    g = lambda t, grad=True: gradlab.tensor(t.detach().numpy().copy(), requires_grad=grad)  # noqa: E731
    w_ih, b_ih, w_hh, b_hh = g(tm.weight_ih_l0), g(tm.bias_ih_l0), g(tm.weight_hh_l0), g(tm.bias_hh_l0)
    gh0, gc0 = g(h0[0]), g(c0[0])
    x_proj = gradlab.nn.functional.linear(g(x, False), w_ih, b_ih)
    gout, gh, gc = recurrent_layer(mode, x_proj, gh0, gc0 if mode == "LSTM" else None, w_hh, b_hh, reverse)
    gfinals = (gh, gc) if mode == "LSTM" else (gh,)
    (gout * g(weights, False)).sum().add(sum(f.sum() * (k + 2) for k, f in enumerate(gfinals))).backward()

    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gout.detach().numpy(), out.detach().numpy(), **tol)
    for mine, theirs in zip(gfinals, finals):
        np.testing.assert_allclose(mine.detach().numpy(), theirs[0].detach().numpy(), **tol)
    pairs = [(w_ih, tm.weight_ih_l0), (b_ih, tm.bias_ih_l0), (w_hh, tm.weight_hh_l0), (b_hh, tm.bias_hh_l0),
             (gh0, h0)] + ([(gc0, c0)] if mode == "LSTM" else [])
    for mine, theirs in pairs:
        np.testing.assert_allclose(mine.grad.numpy(), np.asarray(theirs.grad.numpy()).reshape(mine.shape), **tol)
