"""nn.utils.rnn (PackedSequence, pack/pad helpers) and RNN/LSTM/GRU on packed input, against PyTorch: packed data,
batch_sizes and indices, padded results, gradients through packing and unpacking, and the recurrent layers'
output, h_n, c_n and every gradient for random lengths, batch_first both ways, enforce_sorted both ways,
bidirectional and two layers; float64 gradcheck; the errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
from gradlab import nn
from gradlab.autograd import gradcheck
from gradlab.nn.utils import rnn as R

torch = pytest.importorskip("torch")
TR = torch.nn.utils.rnn


def random_lengths(rng, batch, steps, sorted_):
    lengths = rng.integers(1, steps + 1, batch)
    lengths[rng.integers(batch)] = steps  # the longest fills the padded input, as in practice
    return np.sort(lengths)[::-1].copy() if sorted_ else lengths


def same(ours, theirs, atol=1e-12):
    theirs = theirs.detach().numpy()
    assert tuple(ours.shape) == theirs.shape
    assert ours._data.dtype == theirs.dtype
    np.testing.assert_allclose(ours.detach().numpy(), theirs, rtol=1e-10, atol=atol)


def same_packed(ours, theirs):
    assert isinstance(ours, R.PackedSequence)
    same(ours.data, theirs.data)
    same(ours.batch_sizes, theirs.batch_sizes)
    for mine, ref in ((ours.sorted_indices, theirs.sorted_indices), (ours.unsorted_indices, theirs.unsorted_indices)):
        assert (mine is None) == (ref is None)
        if ref is not None:
            same(mine, ref)


configs = st.tuples(st.integers(1, 5), st.integers(1, 6), st.booleans(), st.booleans(), st.integers(0, 10_000))


# ---- packing and padding ------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(configs)
def test_pack_and_pad_against_torch_with_gradients(config):
    batch, steps, batch_first, enforce_sorted, seed = config
    rng = np.random.default_rng(seed)
    lengths = random_lengths(rng, batch, steps, enforce_sorted)
    x = rng.standard_normal((batch, steps, 2) if batch_first else (steps, batch, 2))
    ours_x, torch_x = gradlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    packed = R.pack_padded_sequence(ours_x, lengths.tolist(), batch_first, enforce_sorted)
    ref = TR.pack_padded_sequence(torch_x, torch.tensor(lengths), batch_first, enforce_sorted)
    same_packed(packed, ref)
    total = steps + 1
    padded, out_lengths = R.pad_packed_sequence(packed, batch_first, padding_value=-2.5, total_length=total)
    ref_padded, ref_lengths = TR.pad_packed_sequence(ref, batch_first, padding_value=-2.5, total_length=total)
    same(padded, ref_padded)
    same(out_lengths, ref_lengths)
    upstream = rng.standard_normal(tuple(ref_padded.shape))
    (padded * gradlab.tensor(upstream)).sum().backward()
    (ref_padded * torch.tensor(upstream)).sum().backward()
    same(ours_x.grad, torch_x.grad)  # zero at the padding, upstream elsewhere


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=5), st.booleans(), st.sampled_from(["left", "right"]),
       st.integers(0, 10_000))
def test_sequence_lists_against_torch(lengths, batch_first, side, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, 3)) for n in lengths]
    ours = [gradlab.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    padded = R.pad_sequence(ours, batch_first, 1.5, side)
    ref = TR.pad_sequence(theirs, batch_first, 1.5, side)
    same(padded, ref)
    if side == "right":
        for mine, other in zip(R.unpad_sequence(padded, gradlab.tensor(lengths), batch_first),
                               TR.unpad_sequence(ref, torch.tensor(lengths), batch_first)):
            same(mine, other)
    packed, ref_packed = R.pack_sequence(ours, enforce_sorted=False), TR.pack_sequence(theirs, enforce_sorted=False)
    same_packed(packed, ref_packed)
    unpacked, ref_unpacked = R.unpack_sequence(packed), TR.unpack_sequence(ref_packed)
    assert len(unpacked) == len(ref_unpacked)
    weights = [rng.standard_normal(a.shape) for a in arrays]
    sum((u * gradlab.tensor(w)).sum() for u, w in zip(unpacked, weights)).backward()
    sum((u * torch.tensor(w)).sum() for u, w in zip(ref_unpacked, weights)).backward()
    for mine, other, unp, ref_unp in zip(ours, theirs, unpacked, ref_unpacked):
        same(unp, ref_unp)
        same(mine.grad, other.grad)


def test_packing_gradcheck():
    x = gradlab.tensor(np.random.default_rng(3).standard_normal((4, 3, 2)), requires_grad=True)

    def round_trip(x):
        packed = R.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
        return R.pad_packed_sequence(packed, padding_value=0.5)[0] * 2 + packed.data.sum()

    assert gradcheck(round_trip, (x,))
    assert gradcheck(lambda a: R.pad_sequence([a[:3, 0], a[:1, 1]], padding_side="left"), (x,))


def test_packed_sequence_fields_and_conversions():
    packed = R.pack_sequence([gradlab.ones(3, 2), gradlab.ones(1, 2)])
    assert R.PackedSequence._fields == TR.PackedSequence._fields
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert batch_sizes.tolist() == [2, 1, 1] and sorted_indices is None and unsorted_indices is None
    assert packed.double().data.dtype == gradlab.float64 and packed.double().batch_sizes is batch_sizes
    rebuilt = R.PackedSequence(data, batch_sizes, gradlab.tensor([1, 0]))
    assert rebuilt.unsorted_indices.tolist() == [1, 0]
    assert R.invert_permutation(gradlab.tensor([2, 0, 1])).tolist() == [1, 2, 0]
    assert gradlab.nn.utils.rnn is R


@pytest.mark.parametrize("call, exc, message", [
    (lambda M, x: M.pack_padded_sequence(x, [2, 3]), RuntimeError, "must be sorted in decreasing order"),
    (lambda M, x: M.pack_padded_sequence(x, [3]), RuntimeError, r"Expected `len\(lengths\)` to be equal to "
                                                                r"batch_size, but got 1 \(batch_size=2\)"),
    (lambda M, x: M.pack_padded_sequence(x, [3, 0]), RuntimeError, "Length of all samples has to be greater than 0"),
    (lambda M, x: M.pad_packed_sequence(M.pack_padded_sequence(x, [3, 2]), total_length=2), ValueError,
     "Expected total_length to be at least the length of the longest sequence in input, but got total_length=2 "
     "and max sequence length being 3"),
    (lambda M, x: M.pad_sequence([x[0]], padding_side="middle"), RuntimeError,
     "Expected padding_side to be one of left or right, but got middle."),
])
def test_errors_as_torch(call, exc, message):
    for module, lib in ((R, gradlab), (TR, torch)):
        with pytest.raises(exc, match=message):
            call(module, lib.zeros(3, 2, 4))


def test_lengths_beyond_the_input_are_refused():
    with pytest.raises(RuntimeError, match="exceeds the 3 steps"):
        R.pack_padded_sequence(gradlab.zeros(3, 2, 4), [5, 2])


@pytest.mark.parametrize("shapes", [[(2, 3), (3, 4)], [(), ()]])
def test_pad_sequence_names_the_sequences_whose_trailing_dims_differ(shapes):
    # the error came from stack, naming the already padded shapes (or an IndexError for 0-d tensors)
    with pytest.raises(RuntimeError, match=r"pad_sequence: expected sequences \(L_i, \*\) sharing the trailing "
                                           r"dims \*, but sequence 0 has shape"):
        R.pad_sequence([gradlab.zeros(shape) for shape in shapes])
    with pytest.raises((RuntimeError, IndexError)):  # PyTorch refuses them too
        TR.pad_sequence([torch.zeros(shape) for shape in shapes])


# ---- recurrent layers on packed input -----------------------------------------------------------
def make_pair(name, **kwargs):
    """The gradlab layer and a float64 torch layer holding the same values (copied by parameter name)."""
    ours, theirs = getattr(nn, name)(**kwargs).double(), getattr(torch.nn, name)(**kwargs).double()
    named = dict(ours.named_parameters())
    with torch.no_grad():
        for n, p in theirs.named_parameters():
            p.copy_(torch.tensor(named[n]._data))
    return ours, theirs


def as_list(state):
    return list(state) if isinstance(state, tuple) else [state]


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(["RNN", "LSTM", "GRU"]), configs, st.booleans(), st.integers(1, 2), st.booleans())
def test_layers_on_packed_input_against_torch(name, config, bidirectional, num_layers, give_hx):
    batch, steps, batch_first, enforce_sorted, seed = config
    rng = np.random.default_rng(seed)
    ours, theirs = make_pair(name, input_size=3, hidden_size=4, num_layers=num_layers, batch_first=batch_first,
                             bidirectional=bidirectional)
    lengths = random_lengths(rng, batch, steps, enforce_sorted)
    x = rng.standard_normal((batch, steps, 3) if batch_first else (steps, batch, 3))
    states = [rng.standard_normal((num_layers * (1 + bidirectional), batch, 4))
              for _ in range(2 if name == "LSTM" else 1)]
    ours_in = [gradlab.tensor(a, requires_grad=True) for a in [x] + states]
    torch_in = [torch.tensor(a, requires_grad=True) for a in [x] + states]
    results = []
    for lib, R_, layer, (xin, *hx) in ((gradlab, R, ours, ours_in), (torch, TR, theirs, torch_in)):
        packed = R_.pack_padded_sequence(xin, lengths.tolist(), batch_first, enforce_sorted)
        hx = (tuple(hx) if name == "LSTM" else hx[0]) if give_hx else None
        out, final = layer(packed, hx)
        padded, _ = R_.pad_packed_sequence(out, batch_first)
        results.append((out, padded, as_list(final)))
    (out, padded, finals), (ref_out, ref_padded, ref_finals) = results
    same_packed(out, ref_out)
    same(padded, ref_padded)
    for mine, ref in zip(finals, ref_finals):
        same(mine, ref)
    upstream = [rng.standard_normal(tuple(t.shape)) for t in [ref_padded] + ref_finals]
    for tensors, lib in (([padded] + finals, gradlab), ([ref_padded] + ref_finals, torch)):
        sum((t * lib.tensor(u)).sum() for t, u in zip(tensors, upstream)).backward()
    for mine, ref in zip(ours_in[:1 + len(states) * give_hx], torch_in):
        same(mine.grad, ref.grad, atol=1e-10)
    named = dict(ours.named_parameters())
    for n, p in theirs.named_parameters():
        same(named[n].grad, p.grad, atol=1e-10)


def test_packed_h_n_is_each_sequences_last_step():
    """Against the unpacked layer run on each sequence alone: what packing is for."""
    gru = nn.GRU(2, 3, bidirectional=True).double()
    sequences = [gradlab.randn(n, 2, dtype=gradlab.float64) for n in (2, 5, 3)]
    out, h_n = gru(R.pack_sequence(sequences, enforce_sorted=False))
    for i, (seq, unpacked) in enumerate(zip(sequences, R.unpack_sequence(out))):
        alone_out, alone_h = gru(seq.unsqueeze(1))
        np.testing.assert_allclose(unpacked.detach().numpy(), alone_out[:, 0].detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(h_n[:, i].detach().numpy(), alone_h[:, 0].detach().numpy(), atol=1e-12)


def test_packed_lstm_gradcheck():
    lstm = nn.LSTM(2, 2, bidirectional=True).double()
    x = gradlab.tensor(np.random.default_rng(4).standard_normal((3, 2, 2)), requires_grad=True)

    def run(x):
        out, (h, c) = lstm(R.pack_padded_sequence(x, [1, 3], enforce_sorted=False))
        return R.pad_packed_sequence(out)[0].sum() + h.sum() + c.sum()

    assert gradcheck(run, (x,))


def test_packed_input_size_error():
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. Expected 3, got 2"):
        nn.LSTM(3, 4)(R.pack_sequence([gradlab.zeros(2, 2)]))


def test_packed_lstm_with_projection_against_torch():
    ours, theirs = make_pair("LSTM", input_size=3, hidden_size=5, proj_size=2, num_layers=2, bidirectional=True)
    x = np.random.default_rng(5).standard_normal((4, 3, 3))
    out, (h, c) = ours(R.pack_padded_sequence(gradlab.tensor(x), [2, 4, 1], enforce_sorted=False))
    ref, (ref_h, ref_c) = theirs(TR.pack_padded_sequence(torch.tensor(x), [2, 4, 1], enforce_sorted=False))
    same_packed(out, ref)
    same(h, ref_h)
    same(c, ref_c)
