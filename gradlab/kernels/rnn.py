"""Recurrent layers over a whole sequence in plain NumPy: the readable twin of gradlab_ext/rnn.pyx.

One call runs one layer in one direction over all T steps.  The input
projection of every step, x_proj[t] = x[t] W_ih^T + b_ih, is one matrix
product done beforehand by the caller; here only the recurrence remains.
Formulas and gate order are PyTorch's (W_hh stacks the gates' rows):

    LSTM  i, f, g, o = chunks of x_proj[t] + h W_hh^T + b_hh
          c' = sigmoid(f) * c + sigmoid(i) * tanh(g);   h' = sigmoid(o) * tanh(c')
    GRU   x_r, x_z, x_n = chunks of x_proj[t];  h_r, h_z, h_n = chunks of h W_hh^T + b_hh
          r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), n = tanh(x_n + r * h_n)
          h' = (1 - z) * n + z * h
    RNN   h' = tanh(x_proj[t] + h W_hh^T + b_hh)    (or relu)

``reverse`` runs the steps from T-1 down to 0 (the backward direction of a
bidirectional layer); out[t] is always the state after step t.  The forward
returns what the backward needs (gate activations, cell states), so that
backpropagation through time does not recompute a nonlinearity.

    lstm_forward(x_proj, h0, c0, w_hh, b_hh, reverse) -> (out, cells, gates)
    lstm_backward(grad_out, grad_hn, grad_cn, h0, c0, w_hh, out, cells, gates, reverse)
        -> (grad_x_proj, grad_h0, grad_c0, grad_w_hh, grad_b_hh)
    gru_forward(x_proj, h0, w_hh, b_hh, reverse) -> (out, gates)      gates: r, z, n, h_n
    gru_backward(grad_out, grad_hn, h0, w_hh, out, gates, reverse) -> (grad_x_proj, grad_h0, grad_w_hh, grad_b_hh)
    rnn_forward(x_proj, h0, w_hh, b_hh, relu, reverse) -> out
    rnn_backward(grad_out, grad_hn, h0, w_hh, out, relu, reverse) -> (grad_x_proj, grad_h0, grad_w_hh, grad_b_hh)

Shapes: x_proj (T, N, G*H), h0 and c0 (N, H), w_hh (G*H, H), b_hh (G*H,),
out and cells (T, N, H); G is 4, 3, 1.  The final states are out[last] and
cells[last], last = 0 when reverse else T-1.  All arrays C-contiguous, one dtype.
"""
import numpy as np

__all__ = ["lstm_forward", "lstm_backward", "gru_forward", "gru_backward", "rnn_forward", "rnn_backward"]


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _steps(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


def _previous(out, h0, t, reverse):
    """The state step t started from: h0 at the first step, else the state of the step before."""
    first = out.shape[0] - 1 if reverse else 0
    return h0 if t == first else out[t + 1 if reverse else t - 1]


def _weight_grads(grad_pre, out, h0, reverse):
    """grad W_hh = sum over steps of grad_pre[t]^T @ h_prev[t]; grad b_hh = grad_pre summed over steps and rows."""
    T, N, GH = grad_pre.shape
    H = h0.shape[1]
    # h_prev of every step: out shifted by one step, h0 at the first one
    h_prev = np.concatenate([out[1:], h0[None]]) if reverse else np.concatenate([h0[None], out[:-1]])
    rows = grad_pre.reshape(T * N, GH)
    return rows.T @ h_prev.reshape(T * N, H), rows.sum(0)


def lstm_forward(x_proj, h0, c0, w_hh, b_hh, reverse):
    """(out, cells, gates): every step's h and c, and its gates i, f, g, o after their activations."""
    T, N, _ = x_proj.shape
    H = h0.shape[1]
    out, cells = np.empty((T, N, H), h0.dtype), np.empty((T, N, H), h0.dtype)
    gates = np.empty(x_proj.shape, h0.dtype)
    h, c = h0, c0
    for t in _steps(T, reverse):
        pre = x_proj[t] + h @ w_hh.T + b_hh
        i, f, o = _sigmoid(pre[:, :H]), _sigmoid(pre[:, H:2 * H]), _sigmoid(pre[:, 3 * H:])
        g = np.tanh(pre[:, 2 * H:3 * H])
        c = f * c + i * g
        h = o * np.tanh(c)
        out[t], cells[t] = h, c
        gates[t] = np.concatenate([i, f, g, o], 1)
    return out, cells, gates


def lstm_backward(grad_out, grad_hn, grad_cn, h0, c0, w_hh, out, cells, gates, reverse):
    """Backpropagation through time: the step gradients from the last step back to the first."""
    T, N, H = out.shape
    grad_pre = np.empty(gates.shape, gates.dtype)  # the gradient of each step's gate pre-activations
    dh, dc = grad_hn, grad_cn                      # flowing back from the later steps
    for t in reversed(_steps(T, reverse)):
        i, f, g, o = (gates[t, :, k * H:(k + 1) * H] for k in range(4))
        c_prev = _previous(cells, c0, t, reverse)
        dh = dh + grad_out[t]
        tanh_c = np.tanh(cells[t])
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        grad_pre[t] = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                                      dc * i * (1 - g * g), dh * tanh_c * o * (1 - o)], 1)
        dh = grad_pre[t] @ w_hh       # to h_prev through h W_hh^T
        dc = dc * f                   # to c_prev through f * c
    grad_w, grad_b = _weight_grads(grad_pre, out, h0, reverse)
    return grad_pre, dh, dc, grad_w, grad_b


def gru_forward(x_proj, h0, w_hh, b_hh, reverse):
    """(out, gates): every step's h, and its r, z, n and h_n (the hidden part of n, bias included)."""
    T, N, _ = x_proj.shape
    H = h0.shape[1]
    out = np.empty((T, N, H), h0.dtype)
    gates = np.empty((T, N, 4 * H), h0.dtype)
    h = h0
    for t in _steps(T, reverse):
        hp = h @ w_hh.T + b_hh
        r = _sigmoid(x_proj[t, :, :H] + hp[:, :H])
        z = _sigmoid(x_proj[t, :, H:2 * H] + hp[:, H:2 * H])
        hn = hp[:, 2 * H:]
        n = np.tanh(x_proj[t, :, 2 * H:] + r * hn)
        h = (1 - z) * n + z * h
        out[t] = h
        gates[t] = np.concatenate([r, z, n, hn], 1)
    return out, gates


def gru_backward(grad_out, grad_hn, h0, w_hh, out, gates, reverse):
    """Backpropagation through time for gru_forward.  The input and hidden parts of n differ (r multiplies
    only h_n), so the gradients of x_proj and of h W_hh^T + b_hh are kept apart."""
    T, N, H = out.shape
    grad_x = np.empty((T, N, 3 * H), out.dtype)
    grad_hp = np.empty((T, N, 3 * H), out.dtype)  # of each step's h W_hh^T + b_hh
    dh = grad_hn
    for t in reversed(_steps(T, reverse)):
        r, z, n, hn = (gates[t, :, k * H:(k + 1) * H] for k in range(4))
        h_prev = _previous(out, h0, t, reverse)
        dh = dh + grad_out[t]
        dn = dh * (1 - z) * (1 - n * n)
        dr = dn * hn * r * (1 - r)
        dz = dh * (h_prev - n) * z * (1 - z)
        grad_x[t] = np.concatenate([dr, dz, dn], 1)
        grad_hp[t] = np.concatenate([dr, dz, dn * r], 1)
        dh = dh * z + grad_hp[t] @ w_hh
    grad_w, grad_b = _weight_grads(grad_hp, out, h0, reverse)
    return grad_x, dh, grad_w, grad_b


def rnn_forward(x_proj, h0, w_hh, b_hh, relu, reverse):
    """out: every step's h."""
    T, N, H = x_proj.shape
    out = np.empty((T, N, H), h0.dtype)
    h = h0
    for t in _steps(T, reverse):
        pre = x_proj[t] + h @ w_hh.T + b_hh
        h = np.maximum(pre, 0) if relu else np.tanh(pre)
        out[t] = h
    return out


def rnn_backward(grad_out, grad_hn, h0, w_hh, out, relu, reverse):
    """Backpropagation through time for rnn_forward (the activation's derivative read from its output)."""
    T, N, H = out.shape
    grad_pre = np.empty(out.shape, out.dtype)
    dh = grad_hn
    for t in reversed(_steps(T, reverse)):
        dh = dh + grad_out[t]
        h = out[t]
        grad_pre[t] = np.where(h > 0, dh, 0) if relu else dh * (1 - h * h)
        dh = grad_pre[t] @ w_hh
    grad_w, grad_b = _weight_grads(grad_pre, out, h0, reverse)
    return grad_pre, dh, grad_w, grad_b
