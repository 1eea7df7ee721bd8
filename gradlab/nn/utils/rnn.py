"""Batches of sequences of different lengths (as ``torch.nn.utils.rnn``).

A padded batch (L, N, *) wastes steps on padding; a ``PackedSequence`` keeps
only the real steps, time step after time step, with the sequences sorted by
decreasing length so that the sequences still running at step t are always
the first ``batch_sizes[t]``:

    sequences  a b c     packed data   a x  b y  c        (time-major)
               x y       batch_sizes   2    2    1

Packing and unpacking are gathers (``index_select``) over the rows, so
gradients flow through both.  The recurrent layers (``nn.RNN``, ``nn.LSTM``,
``nn.GRU``) accept a ``PackedSequence`` and run each step on the running
sequences only.
"""
from collections import namedtuple

import numpy as np

from ... import _creation, _dtype
from ..._tensor import Tensor
from ...ops import shape as _shape

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]


def _as_long(values):
    return Tensor._wrap(np.asarray(values, dtype=np.int64))


def invert_permutation(permutation):
    """The permutation that undoes ``permutation`` (None stays None)."""
    if permutation is None:
        return None
    inverse = np.empty_like(permutation._data)
    inverse[permutation._data] = np.arange(permutation._data.size)
    return Tensor._wrap(inverse)


class PackedSequence(namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """The real steps of a batch of sequences: ``data`` (sum of lengths, *), ``batch_sizes`` (steps,) int64.

    ``sorted_indices`` says which original sequence each sorted position holds (None when the input was
    already sorted) and ``unsorted_indices`` is its inverse.  Made by ``pack_padded_sequence`` or
    ``pack_sequence``, not by hand.
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence(*pack_result): data holds (data, batch_sizes)
            if isinstance(data, (list, tuple)) and len(data) == 2:
                data, batch_sizes = data
            else:
                raise TypeError("PackedSequence: expected data and batch_sizes (a 1-D int64 tensor), got only data")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """``data.to(...)``; the index tensors stay as they are (gradlab has one device)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self, *args, **kwargs):
        return self.to("cpu")

    def double(self):
        return self.to(dtype=_dtype.float64)

    def float(self):
        return self.to(dtype=_dtype.float32)

    def half(self):
        return self.to(dtype=_dtype.float16)

    def long(self):
        return self.to(dtype=_dtype.int64)

    def int(self):
        return self.to(dtype=_dtype.int32)

    @property
    def is_cuda(self):
        return False

    def is_pinned(self):
        return False


# ---- packing ------------------------------------------------------------------------------------
def _check_lengths(lengths, batch_size, max_steps):
    """lengths as a 1-D int64 array, with PyTorch's checks (and one for lengths beyond the input)."""
    if isinstance(lengths, Tensor):
        if lengths.ndim != 1:
            raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got {lengths.ndim}D cpu "
                               f"{lengths.dtype} tensor")
        lengths = lengths._data
    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if lengths.size != batch_size:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {lengths.size} "
                           f"(batch_size={batch_size})")
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if lengths.size and lengths.max() > max_steps:
        raise RuntimeError(f"pack_padded_sequence: a length of {lengths.max()} exceeds the {max_steps} steps of "
                           "the input")
    return lengths


def _batch_sizes(sorted_lengths):
    """How many sequences are still running at each step: batch_sizes[t] = #(lengths > t)."""
    steps = np.arange(sorted_lengths[0])
    return (sorted_lengths[None, :] > steps[:, None]).sum(1).astype(np.int64)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (L, N, *) ((N, L, *) with batch_first) whose sequence i has lengths[i] real steps.

    With ``enforce_sorted`` the lengths must already decrease; otherwise the batch is sorted here and
    ``sorted_indices`` remembers the order.
    """
    if input.ndim < 2:
        raise ValueError(f"pack_padded_sequence: expected input of at least 2 dimensions (steps and batch), got "
                         f"shape {list(input.shape)}")
    batch_dim = 0 if batch_first else 1
    lengths = _check_lengths(lengths, input.shape[batch_dim], input.shape[1 - batch_dim])
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
        sorted_indices = None
    else:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        sorted_indices = _as_long(order)
        input = input.index_select(batch_dim, sorted_indices)
    if batch_first:
        input = input.transpose(0, 1)
    batch_sizes = _batch_sizes(lengths)
    # row t * N + b of the flattened (L * N, *) input is step t of sequence b; keep the running ones
    rows = np.concatenate([t * input.shape[1] + np.arange(size) for t, size in enumerate(batch_sizes)])
    data = input.reshape(-1, *input.shape[2:]).index_select(0, _as_long(rows))
    return PackedSequence(data, _as_long(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """(padded batch (L, N, *) or (N, L, *), lengths): the inverse of pack_padded_sequence, in the original order."""
    batch_sizes = sequence.batch_sizes._data
    steps = batch_sizes.size
    if total_length is not None:
        if total_length < steps:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, but "
                             f"got total_length={total_length} and max sequence length being {steps}")
        steps = total_length
    batch = int(batch_sizes[0])
    data = sequence.data
    # each (t, b) slot takes its packed row, or the extra padding row appended at the end of the data
    padding_row = _creation.full((1, *data.shape[1:]), padding_value, dtype=data.dtype)
    source = np.full((steps, batch), data.shape[0], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])
    for t, (offset, size) in enumerate(zip(offsets, batch_sizes)):
        source[t, :size] = offset + np.arange(size)
    rows = _shape.cat([data, padding_row], 0).index_select(0, _as_long(source.reshape(-1)))
    padded = rows.reshape(steps, batch, *data.shape[1:])
    lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(1).astype(np.int64)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = lengths[sequence.unsorted_indices._data]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, _as_long(lengths)


# ---- lists of sequences -------------------------------------------------------------------------
def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors (L_i, *) into (max L, N, *) ((N, max L, *) with batch_first), padding each on one side."""
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    first = tuple(sequences[0].shape)
    for i, seq in enumerate(sequences):
        if seq.dim() == 0 or tuple(seq.shape[1:]) != first[1:]:
            raise RuntimeError(f"pad_sequence: expected sequences (L_i, *) sharing the trailing dims *, but sequence "
                               f"0 has shape {first} and sequence {i} has shape {tuple(seq.shape)}")
    longest = max(seq.shape[0] for seq in sequences)
    padded = []
    for seq in sequences:
        missing = longest - seq.shape[0]
        if missing:
            fill = _creation.full((missing, *seq.shape[1:]), padding_value, dtype=seq.dtype)
            seq = _shape.cat([seq, fill] if padding_side == "right" else [fill, seq], 0)
        padded.append(seq)
    return _shape.stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences (lengths[i], *) inside a padded batch: the inverse of pad_sequence."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lengths = lengths.tolist() if isinstance(lengths, Tensor) else list(lengths)
    return [seq[:int(length)] for seq, length in zip(padded_sequences.unbind(0), lengths)]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of tensors (L_i, *) (by decreasing length unless enforce_sorted=False)."""
    lengths = [seq.shape[0] for seq in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of tensors (L_i, *) in a PackedSequence, in their original order: the inverse of pack_sequence."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
