"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` over whole sequences and their one-step ``*Cell`` forms.

Each step is a few ``F.linear`` calls and activations on tensors, so autograd
builds backpropagation through time by itself.  The formulas and the gate
order are PyTorch's (``W_ih`` stacks the gates' input weights, ``W_hh`` their
hidden-state weights):

    RNN:   h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)           (or relu)
    LSTM:  i, f, g, o = chunks of x W_ih^T + b_ih + h W_hh^T + b_hh
           c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
           h' = sigmoid(o) * tanh(c')                              (then h' W_hr^T with proj_size)
    GRU:   r, z, n gates from x W_ih^T + b_ih and h W_hh^T + b_hh
           r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), n = tanh(x_n + r * h_n)
           h' = (1 - z) * n + z * h

The input projection x W_ih^T + b_ih of a whole sequence is one matrix
product; only the hidden-state product runs step by step.

The whole recurrence of a layer runs as one node on the compiled kernels
(gradlab/ops/nn/rnn.py: the input projection as one product, one kernel call
per layer and direction, backpropagation through time without Python per
step) whenever it can: a padded (not packed) float32/float64 input without
``proj_size``.  The step-by-step path below is the readable reference and
runs otherwise (and for every layer when ``fused`` is set to False).

A ``PackedSequence`` input (``nn.utils.rnn``) runs each step on the sequences
still running at that step only, so each sequence's h_n (and c_n) is its
state at its own last step, and the output is a ``PackedSequence`` too.
"""
import math
import numbers
import warnings

import numpy as np

from ... import _creation
from ...ops import shape as _shape
from ...ops.nn import rnn as _fused_ops
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
fused = True  # False: every sequence runs the step-by-step path (the reference the fused kernels are tested against)


# ---- one time step ----------------------------------------------------------------------------
def _rnn_step(x_proj, h, w_hh, b_hh, relu=False):
    """x_proj is x W_ih^T + b_ih for this step."""
    pre = x_proj + F.linear(h, w_hh, b_hh)
    return pre.relu() if relu else pre.tanh()


def _lstm_step(x_proj, state, w_hh, b_hh, w_hr=None):
    """(h', c') from (h, c); gates in the order input, forget, cell candidate, output."""
    h, c = state
    i, f, g, o = (x_proj + F.linear(h, w_hh, b_hh)).chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    if w_hr is not None:
        h = F.linear(h, w_hr)
    return h, c


def _gru_step(x_proj, h, w_hh, b_hh):
    """h' from h; gates in the order reset, update, new."""
    x_r, x_z, x_n = x_proj.chunk(3, -1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, -1)
    r = (x_r + h_r).sigmoid()
    z = (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return (1 - z) * n + z * h


def _step(mode, x_proj, state, w_hh, b_hh, w_hr=None):
    if mode == "LSTM":
        return _lstm_step(x_proj, state, w_hh, b_hh, w_hr)
    if mode == "GRU":
        return _gru_step(x_proj, state, w_hh, b_hh)
    return _rnn_step(x_proj, state, w_hh, b_hh, relu=mode == "RNN_RELU")


def _state_rows(state):
    return (state[0] if isinstance(state, tuple) else state).shape[0]


def _slice_state(state, start, stop):
    """Rows start:stop of a state (h, or (h, c) for LSTM); None when empty."""
    if stop <= start:
        return None
    if isinstance(state, tuple):
        return tuple(s[start:stop] for s in state)
    return state[start:stop]


def _join_state(states):
    """Concatenate states row-wise (the inverse of _slice_state)."""
    if len(states) == 1:
        return states[0]
    if isinstance(states[0], tuple):
        return tuple(_shape.cat(parts, 0) for parts in zip(*states))
    return _shape.cat(states, 0)


# ---- whole sequences --------------------------------------------------------------------------
def _check_sizes(mode, hidden_size, num_layers, dropout, proj_size):
    """PyTorch's checks of an RNN's constructor arguments, with its messages."""
    if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
        raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                         "element being zeroed")
    if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
        raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
    if hidden_size <= 0:
        raise ValueError("hidden_size must be greater than zero")
    if num_layers <= 0:
        raise ValueError("num_layers must be greater than zero")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError("proj_size has to be smaller than hidden_size")
    if proj_size and mode != "LSTM":
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters weight_ih_l{k}[_reverse] etc., init, checks, the loop."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        _check_sizes(mode, hidden_size, num_layers, dropout, proj_size)
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                          stacklevel=3)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        out_size = proj_size or hidden_size  # the size of h
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else out_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [("weight_ih", (gate_size, layer_input_size)), ("weight_hh", (gate_size, out_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for name, shape in shapes:
                    setattr(self, name + suffix, Parameter(_creation.empty(*shape, dtype=dtype, device=device)))
                    self._flat_weights_names.append(name + suffix)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    @property
    def all_weights(self):
        """The parameters grouped per layer and direction, as PyTorch's ``all_weights``."""
        per_group = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional else 1))
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[i:i + per_group]] for i in range(0, len(names), per_group)]

    def flatten_parameters(self):
        """A no-op, kept so that code written for PyTorch's cuDNN path runs (gradlab keeps no flat buffer)."""

    def _weights(self, layer, direction):
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        get = lambda name: getattr(self, name + suffix, None)  # noqa: E731
        return get("weight_ih"), get("bias_ih"), get("weight_hh"), get("bias_hh"), get("weight_hr")

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # -- forward --
    def _check_input(self, input):
        if input.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got {input.ndim}D tensor "
                             f"instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                               f"{input.shape[-1]}")

    def _initial_state(self, hx, batch, like, batched):
        """hx as one (layers * directions, batch, size) tensor per state (h, and c for LSTM)."""
        directions = 2 if self.bidirectional else 1
        sizes = [self.proj_size or self.hidden_size] + ([self.hidden_size] if self.mode == "LSTM" else [])
        if hx is None:
            return [_creation.zeros(self.num_layers * directions, batch, size, dtype=like.dtype) for size in sizes]
        states = list(hx) if self.mode == "LSTM" else [hx]
        result = []
        for index, (state, size) in enumerate(zip(states, sizes)):
            if batched and state.ndim != 3:
                raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {state.ndim}-D tensor")
            if not batched and state.ndim != 2:
                raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {state.ndim}-D tensor")
            state = state if batched else state.unsqueeze(1)
            expected = (self.num_layers * directions, batch, size)
            if tuple(state.shape) != expected:
                which = f"hidden[{index}]" if self.mode == "LSTM" else "hidden"
                raise RuntimeError(f"Expected {which} size {expected}, got {list(state.shape)}")
            result.append(state)
        return result

    def _run_layers(self, data, initial, run_direction, feature_dim):
        """Every layer over ``data``, each direction from its own initial state; (last layer's output, finals).

        ``run_direction(data, state, weights, reverse)`` runs one layer one way; the two directions'
        outputs are concatenated along ``feature_dim``.  ``finals`` holds each state kind (h, and c
        for an LSTM) stacked over layers and directions, as h_n / c_n.
        """
        directions = 2 if self.bidirectional else 1
        finals = [[] for _ in initial]
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                k = layer * directions + direction
                state = (initial[0][k], initial[1][k]) if self.mode == "LSTM" else initial[0][k]
                out, state = run_direction(data, state, self._weights(layer, direction), direction == 1)
                outputs.append(out)
                for kept, final in zip(finals, state if self.mode == "LSTM" else (state,)):
                    kept.append(final)
            data = outputs[0] if directions == 1 else _shape.cat(outputs, feature_dim)
            if self.dropout and self.training and layer < self.num_layers - 1:
                data = F.dropout(data, self.dropout, True)
        return data, [_shape.stack(kept) for kept in finals]

    def _run_direction(self, sequence, state, weights, reverse):
        """Run one layer in one direction over (L, N, features); (outputs (L, N, H), final state)."""
        w_ih, b_ih, w_hh, b_hh, w_hr = weights
        # every step's input projection in one product; unbind (not x_proj[t]) so that backward stacks the
        # steps' gradients once, instead of adding a full-size gradient per step
        x_proj = F.linear(sequence, w_ih, b_ih).unbind(0)
        steps = range(sequence.shape[0] - 1, -1, -1) if reverse else range(sequence.shape[0])
        outputs = [None] * sequence.shape[0]
        for t in steps:
            state = _step(self.mode, x_proj[t], state, w_hh, b_hh, w_hr)
            outputs[t] = state[0] if self.mode == "LSTM" else state
        return _shape.stack(outputs), state

    def _run_fused_direction(self, sequence, state, weights, reverse):
        """_run_direction as one node: the input projection, then the whole recurrence on the kernels."""
        w_ih, b_ih, w_hh, b_hh, _ = weights
        h, c = state if self.mode == "LSTM" else (state, None)
        if self.mode == "GRU" or b_ih is None:
            x_proj, b_in = F.linear(sequence, w_ih, b_ih), None
        else:   # b_ih joins b_hh in the kernels (see recurrent_layer)
            x_proj, b_in = F.linear(sequence, w_ih), b_ih
        out, h, c = _fused_ops.recurrent_layer(self.mode, x_proj, h, c, w_hh, b_hh, reverse, b_in)
        return out, ((h, c) if self.mode == "LSTM" else h)

    def _fusable(self, sequence):
        """Whether the fused path runs this (L, N, features) sequence: not with proj_size, not for empty ones."""
        return (fused and not self.proj_size and sequence.shape[0] > 0 and sequence.shape[1] > 0
                and sequence._data.dtype in (np.float32, np.float64))

    def _run_packed_direction(self, data, batch_sizes, state, weights, reverse):
        """Run one layer in one direction over packed rows (sum of lengths, features).

        At step t only the first batch_sizes[t] (sorted) sequences run.  Forward, the rows that stop
        running keep their state as their final state; in reverse, a sequence joins at its own last
        step with its initial state.  Returns (packed outputs, final state of every sequence).
        """
        w_ih, b_ih, w_hh, b_hh, w_hr = weights
        x_proj = F.linear(data, w_ih, b_ih).split(batch_sizes, 0)
        outputs = [None] * len(batch_sizes)
        if reverse:
            running = _slice_state(state, 0, batch_sizes[-1])
            for t in range(len(batch_sizes) - 1, -1, -1):
                joining = _slice_state(state, _state_rows(running), batch_sizes[t])
                running = _join_state([running, joining]) if joining is not None else running
                running = _step(self.mode, x_proj[t], running, w_hh, b_hh, w_hr)
                outputs[t] = running[0] if self.mode == "LSTM" else running
            return _shape.cat(outputs, 0), running
        finished = []  # the states of the sequences that stopped, last rows first
        running = state
        for t, size in enumerate(batch_sizes):
            if size < _state_rows(running):
                finished.append(_slice_state(running, size, _state_rows(running)))
                running = _slice_state(running, 0, size)
            running = _step(self.mode, x_proj[t], running, w_hh, b_hh, w_hr)
            outputs[t] = running[0] if self.mode == "LSTM" else running
        return _shape.cat(outputs, 0), _join_state([running] + finished[::-1])

    def _forward_packed(self, packed, hx):
        """The packed path of forward: a PackedSequence in, a PackedSequence and the final states out."""
        data, batch_sizes = packed.data, packed.batch_sizes.tolist()
        if data.ndim != 2:
            raise RuntimeError(f"input must have 2 dimensions, got {data.ndim}")
        self._check_input(data)
        if hx is not None and packed.sorted_indices is not None:  # hx is in the caller's order
            hx = tuple(h.index_select(1, packed.sorted_indices) for h in hx) if self.mode == "LSTM" \
                else hx.index_select(1, packed.sorted_indices)
        initial = self._initial_state(hx, batch_sizes[0], data, True)

        def run_direction(data, state, weights, reverse):
            return self._run_packed_direction(data, batch_sizes, state, weights, reverse)
        data, finals = self._run_layers(data, initial, run_direction, feature_dim=1)
        if packed.unsorted_indices is not None:  # back to the caller's order
            finals = [f.index_select(1, packed.unsorted_indices) for f in finals]
        output = PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        return output, (tuple(finals) if self.mode == "LSTM" else finals[0])

    def forward(self, input, hx=None):
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        self._check_input(input)
        batched = input.ndim == 3
        if not batched:
            sequence = input.unsqueeze(1)
        else:
            sequence = input.transpose(0, 1) if self.batch_first else input
        initial = self._initial_state(hx, sequence.shape[1], input, batched)
        run = self._run_fused_direction if self._fusable(sequence) else self._run_direction
        sequence, finals = self._run_layers(sequence, initial, run, feature_dim=2)
        if not batched:
            sequence, finals = sequence.squeeze(1), [f.squeeze(1) for f in finals]
        elif self.batch_first:
            sequence = sequence.transpose(0, 1)
        return sequence, (tuple(finals) if self.mode == "LSTM" else finals[0])


class RNN(RNNBase):
    """An Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh) (or relu), layer on layer.

    Input (L, N, input_size) ((N, L, input_size) with batch_first, or unbatched
    (L, input_size)); returns (output, h_n): every step's last-layer h, and
    each layer's final h.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, 0, device, dtype)


class LSTM(RNNBase):
    """Long short-term memory: gated cell state c and hidden state h (gate order i, f, g, o).

    Returns (output, (h_n, c_n)); with ``proj_size`` the hidden state is
    projected to that size by weight_hr.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit (gate order r, z, n); returns (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype)


# ---- one step at a time -----------------------------------------------------------------------
class RNNCellBase(Module):
    """What the cells share: weight_ih, weight_hh, bias_ih, bias_hh, init, input checks."""

    mode = "RNN_TANH"

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gate_size = num_chunks * hidden_size
        self.weight_ih = Parameter(_creation.empty(gate_size, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(_creation.empty(gate_size, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(_creation.empty(gate_size, dtype=dtype, device=device))
            self.bias_hh = Parameter(_creation.empty(gate_size, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s

    def _batched(self, input):
        """(input as (N, input_size), whether it had a batch axis), with PyTorch's checks."""
        if input.ndim not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} expected "
                               f"{self.input_size}")
        return (input, True) if input.ndim == 2 else (input.unsqueeze(0), False)

    def _state(self, hx, input, batched, index=0):
        """A hidden state as (N, hidden_size): zeros when not given, checked against the input otherwise."""
        if hx is None:
            return _creation.zeros(input.shape[0], self.hidden_size, dtype=input.dtype)
        if hx.ndim != (2 if batched else 1):
            raise RuntimeError(f"{type(self).__name__}: Expected hidden to be {2 if batched else 1}D for "
                               f"{2 if batched else 1}D input, got {hx.ndim}D instead")
        hx = hx if batched else hx.unsqueeze(0)
        if hx.shape[0] != input.shape[0]:
            raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{index} batch size "
                               f"{hx.shape[0]}")
        if hx.shape[1] != self.hidden_size:
            raise RuntimeError(f"hidden{index} has inconsistent hidden_size: got {hx.shape[1]}, expected "
                               f"{self.hidden_size}")
        return hx

    def _project(self, input):
        return F.linear(input, self.weight_ih, self.bias_ih)


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        x, batched = self._batched(input)
        h = _rnn_step(self._project(x), self._state(hx, x, batched), self.weight_hh, self.bias_hh,
                      relu=self.nonlinearity == "relu")
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: (h', c') from input and (h, c) (zeros when hx is None)."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        x, batched = self._batched(input)
        if hx is None:
            h = c = self._state(None, x, batched)
        else:
            h, c = self._state(hx[0], x, batched, 0), self._state(hx[1], x, batched, 1)
        h, c = _lstm_step(self._project(x), (h, c), self.weight_hh, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: h' from input and h (zeros when hx is None)."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, batched = self._batched(input)
        h = _gru_step(self._project(x), self._state(hx, x, batched), self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)
