"""A recurrent layer over a whole sequence as one autograd node (nn.RNN, nn.LSTM and nn.GRU's fast path).

The caller projects every step's input at once, x_proj = x W_ih^T (+ b_ih) (one
``linear`` node); ``recurrent_layer`` runs the recurrence of one layer in one
direction on the kernels (gradlab.kernels.lstm_forward, ...) and records a
single node for all T steps, instead of the dozen nodes per step that the
per-step path in gradlab/nn/modules/rnn.py builds.  Its formulas are
``_reference`` below, written with Tensor ops.

Backward: when no graph of the backward is wanted, the kernels'
backpropagation through time (``fast``).  Under ``create_graph=True`` the
layer is run again step by step with Tensor ops (``_reference``) and
differentiated by autograd itself, so the gradients are recorded and can be
differentiated again, as the per-step path would allow.
"""
from ... import kernels
from ...autograd import grad as _autograd_grad
from ...autograd.record import record_outputs
from ..join_split import stack
from .linear import linear
from ..._tensor import Tensor

_wrap = Tensor._wrap

__all__ = ["recurrent_layer"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}
_NAMES = {"LSTM": "LSTMLayerBackward0", "GRU": "GRULayerBackward0", "RNN_TANH": "RNNTanhLayerBackward0",
          "RNN_RELU": "RNNReluLayerBackward0"}


def _reference(mode, x_proj, h, c, w_hh, b_hh, reverse, b_ih=None):
    """The layer with Tensor ops, one step at a time: (out, h_n, c_n or None).  The same formulas as the kernels."""
    steps = (x_proj if b_ih is None else x_proj + b_ih).unbind(0)
    order = range(len(steps) - 1, -1, -1) if reverse else range(len(steps))
    outputs = [None] * len(steps)
    for t in order:
        hp = linear(h, w_hh, b_hh)
        if mode == "LSTM":
            i, f, g, o = (steps[t] + hp).chunk(4, -1)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            h = o.sigmoid() * c.tanh()
        elif mode == "GRU":
            x_r, x_z, x_n = steps[t].chunk(3, -1)
            h_r, h_z, h_n = hp.chunk(3, -1)
            r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
            h = (1 - z) * (x_n + r * h_n).tanh() + z * h
        else:
            h = (steps[t] + hp).relu() if mode == "RNN_RELU" else (steps[t] + hp).tanh()
        outputs[t] = h
    return stack(outputs), h, c


def _check_unchanged(mode, watched):
    counter, version = watched
    if counter[0] != version:
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an inplace operation: "
            f"the output of {_NAMES[mode]} is at version {counter[0]}; expected version {version} instead. "
            "Hint: use the out-of-place op or .clone() the output before changing it.")


def recurrent_layer(mode, x_proj, h0, c0, w_hh, b_hh, reverse=False, b_ih=None):
    """(out (T, N, H), h_n, c_n) of one layer of ``mode`` ("LSTM", "GRU", "RNN_TANH", "RNN_RELU") in one direction.

    x_proj (T, N, G*H) is every step's x W_ih^T + b_ih; h0 (and c0, LSTM only) (N, H); w_hh (G*H, H);
    b_hh (G*H,) or None.  c_n is None except for an LSTM.  One graph node for the whole sequence.

    b_ih, when given, is the input bias left out of x_proj (not for a GRU, whose b_hn is multiplied by r).
    Both biases then enter every step's pre-activation as one sum: the kernels add b_ih + b_hh once, and
    the two get the same gradient, the kernels' bias gradient, instead of another sum over all T * N rows
    of x_proj's gradient in the projection's backward.
    """
    lstm, gru = mode == "LSTM", mode == "GRU"
    if gru and b_ih is not None:
        raise ValueError("recurrent_layer: a GRU's b_ih must be in x_proj (b_hn is inside r * (...))")
    last = 0 if reverse else x_proj._data.shape[0] - 1
    w, b = w_hh._data, None if b_hh is None else b_hh._data
    if b_ih is not None:    # the two biases as one
        b = b_ih._data if b is None else b_ih._data + b
    if lstm:
        out, cells, gates = kernels.lstm_forward(x_proj._data, h0._data, c0._data, w, b, reverse)
        finals = [out[last].copy(), cells[last].copy()]
    elif gru:
        out, gates = kernels.gru_forward(x_proj._data, h0._data, w, b, reverse)
        finals = [out[last].copy()]
    else:
        out = kernels.rnn_forward(x_proj._data, h0._data, w, b, mode == "RNN_RELU", reverse)
        finals = [out[last].copy()]
    inputs = tuple(t for t in (x_proj, h0, c0 if lstm else None, w_hh, b_hh, b_ih) if t is not None)

    def backward(grads):
        """Under create_graph: the step-by-step layer (_reference) run again and differentiated by autograd."""
        wanted = [t for t in inputs if t._requires_grad]
        outs = _reference(mode, x_proj, h0, c0, w_hh, b_hh, reverse, b_ih)
        pairs = [(o, g) for o, g in zip(outs, grads) if g is not None]
        found = dict(zip(map(id, wanted), _autograd_grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                                                         create_graph=True, allow_unused=True)))
        return tuple(found.get(id(t)) for t in inputs)

    def fast(grads):
        """Backpropagation through time on the kernels: gradients for x_proj, h0, (c0), W_hh, (b_hh), (b_ih)."""
        _check_unchanged(mode, watched)
        g = [None if t is None else t._data for t in grads]
        if lstm:
            found = kernels.lstm_backward(g[0], g[1], g[2], h0._data, c0._data, w, out, cells, gates, reverse)
        elif gru:
            found = kernels.gru_backward(g[0], g[1], h0._data, w, out, gates, reverse)
        else:
            found = kernels.rnn_backward(g[0], g[1], h0._data, w, out, mode == "RNN_RELU", reverse)
        if b is None:       # the kernels' bias gradient, of b_hh and of b_ih alike (gradients are never
            found = found[:-1]      # changed in place, so the two may share it)
        elif b_ih is not None and b_hh is not None:
            found = tuple(found) + (found[-1],)
        return tuple(_wrap(a) if t._requires_grad else None for a, t in zip(found, inputs))

    results = record_outputs([out] + finals, _NAMES[mode], backward, inputs, saved=inputs, fast=fast)
    # fast reads the output's values (every step's h_prev): watched by its version counter, not saved with the
    # node, which would make a reference cycle node -> output -> node
    watched = (results[0]._version_counter, results[0]._version_counter[0])
    return results[0], results[1], (results[2] if lstm else None)
