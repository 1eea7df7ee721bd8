"""Recurrent networks and attention as a course introduces them: one-hot inputs, an RNN written out and
as ``nn.RNN``, gradient clipping, masked softmax, additive and scaled dot-product attention with
``bmm``, and ``nn.MultiheadAttention``; on PyTorch too, from the same weights."""
import math

import numpy as np
import pytest

import gradlab

from course_helpers import assert_close, copy_weights, torch  # noqa: F401

VOCAB, HIDDEN, STEPS, BATCH = 12, 16, 7, 3


def tokens(seed=0):
    return np.random.default_rng(seed).integers(0, VOCAB, (BATCH, STEPS))


def rnn_language_model(lib):
    nn, F = lib.nn, lib.nn.functional

    class RNNModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(VOCAB, HIDDEN)
            self.linear = nn.LazyLinear(VOCAB)

        def forward(self, inputs, state=None):
            X = F.one_hot(inputs.T, VOCAB).type(lib.float32)  # (steps, batch, vocab)
            outputs, state = self.rnn(X, state)
            return self.linear(outputs.reshape(-1, outputs.shape[-1])), state

    return RNNModel()


def test_one_hot_inputs():
    X = gradlab.tensor(tokens())
    one_hot = gradlab.nn.functional.one_hot(X.T, VOCAB)
    assert tuple(one_hot.shape) == (STEPS, BATCH, VOCAB) and one_hot.dtype == gradlab.int64
    np.testing.assert_array_equal(one_hot.numpy().argmax(-1), tokens().T)
    assert one_hot.sum().item() == STEPS * BATCH


def test_rnn_from_scratch_equals_nn_rnn():
    gradlab.manual_seed(9)
    rnn = gradlab.nn.RNN(VOCAB, HIDDEN)
    X = gradlab.nn.functional.one_hot(gradlab.tensor(tokens()).T, VOCAB).type(gradlab.float32)
    H = gradlab.zeros((BATCH, HIDDEN))
    outputs = []
    for X_t in X:
        H = gradlab.tanh(gradlab.matmul(X_t, rnn.weight_ih_l0.T) + rnn.bias_ih_l0
                         + gradlab.matmul(H, rnn.weight_hh_l0.T) + rnn.bias_hh_l0)
        outputs.append(H)
    Y, state = rnn(X)
    assert_close(gradlab.stack(outputs), Y, atol=1e-6)
    assert_close(H.unsqueeze(0), state, atol=1e-6)


def clip_and_step(lib, model, seq, targets, theta):
    F = lib.nn.functional
    optimizer = lib.optim.SGD(model.parameters(), lr=1.0)
    norms, losses = [], []
    for _ in range(3):
        logits, _ = model(seq)
        l = F.cross_entropy(logits, targets.T.reshape(-1))
        optimizer.zero_grad()
        l.backward()
        norms.append(float(lib.nn.utils.clip_grad_norm_(model.parameters(), theta)))
        clipped = math.sqrt(sum(float((p.grad ** 2).sum()) for p in model.parameters()))
        assert clipped <= theta * (1 + 1e-5)
        optimizer.step()
        losses.append(l.item())
    return norms, losses


def test_rnn_with_gradient_clipping_trains_as_pytorch(torch):
    seq = tokens(1)
    targets = np.roll(seq, -1, axis=1)
    gradlab.manual_seed(10)
    model = rnn_language_model(gradlab)
    model(gradlab.tensor(seq))
    theirs = rnn_language_model(torch)
    theirs(torch.tensor(seq))
    copy_weights(model, theirs, torch)
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    norms, losses = clip_and_step(gradlab, model, gradlab.tensor(seq), gradlab.tensor(targets), theta=0.1)
    their_norms, their_losses = clip_and_step(torch, theirs, torch.tensor(seq), torch.tensor(targets), theta=0.1)
    np.testing.assert_allclose(norms, their_norms, rtol=1e-4)
    np.testing.assert_allclose(losses, their_losses, rtol=1e-4)
    assert norms[0] > 0.1  # the clipping did something
    logits, state = model(gradlab.tensor(seq))
    assert tuple(logits.shape) == (STEPS * BATCH, VOCAB) and tuple(state.shape) == (1, BATCH, HIDDEN)


# ---------------------------------------------------------------- attention


def attention_layers(lib):
    nn = lib.nn

    def masked_softmax(X, valid_lens):
        """Softmax over the last axis, keys past each row's valid length masked out."""
        if valid_lens is None:
            return nn.functional.softmax(X, dim=-1)
        shape = X.shape
        if valid_lens.dim() == 1:
            valid_lens = lib.repeat_interleave(valid_lens, shape[1])
        else:
            valid_lens = valid_lens.reshape(-1)
        X = X.reshape(-1, shape[-1])
        mask = lib.arange(shape[-1], dtype=lib.float32)[None, :] < valid_lens[:, None]
        X[~mask] = -1e6
        return nn.functional.softmax(X.reshape(shape), dim=-1)

    class AdditiveAttention(nn.Module):
        def __init__(self, num_hiddens, dropout):
            super().__init__()
            self.W_k = nn.LazyLinear(num_hiddens, bias=False)
            self.W_q = nn.LazyLinear(num_hiddens, bias=False)
            self.w_v = nn.LazyLinear(1, bias=False)
            self.dropout = nn.Dropout(dropout)

        def forward(self, queries, keys, values, valid_lens):
            features = lib.tanh(self.W_q(queries).unsqueeze(2) + self.W_k(keys).unsqueeze(1))
            scores = self.w_v(features).squeeze(-1)
            self.attention_weights = masked_softmax(scores, valid_lens)
            return lib.bmm(self.dropout(self.attention_weights), values)

    class DotProductAttention(nn.Module):
        def __init__(self, dropout):
            super().__init__()
            self.dropout = nn.Dropout(dropout)

        def forward(self, queries, keys, values, valid_lens=None):
            scores = lib.bmm(queries, keys.transpose(1, 2)) / math.sqrt(queries.shape[-1])
            self.attention_weights = masked_softmax(scores, valid_lens)
            return lib.bmm(self.dropout(self.attention_weights), values)

    return masked_softmax, AdditiveAttention, DotProductAttention


@pytest.mark.parametrize("valid_lens", [[2, 3], [[1, 3], [2, 4]]], ids=["per-batch", "per-query"])
def test_masked_softmax(valid_lens):
    masked_softmax, _, _ = attention_layers(gradlab)
    X = np.random.default_rng(11).random((2, 2, 4)).astype(np.float32)
    P = masked_softmax(gradlab.tensor(X), gradlab.tensor(valid_lens)).numpy()
    lens = np.broadcast_to(np.asarray(valid_lens).reshape(2, -1), (2, 2))
    for b in range(2):
        for q in range(2):
            n = lens[b, q]
            e = np.exp(X[b, q, :n] - X[b, q, :n].max())
            np.testing.assert_allclose(P[b, q, :n], e / e.sum(), rtol=1e-5)
            assert (P[b, q, n:] == 0).all()


def test_additive_and_dot_product_attention(torch):
    rng = np.random.default_rng(12)
    queries = rng.standard_normal((2, 1, 20)).astype(np.float32)
    dot_queries = rng.standard_normal((2, 1, 2)).astype(np.float32)
    keys = rng.standard_normal((2, 10, 2)).astype(np.float32)
    values = rng.standard_normal((2, 10, 4)).astype(np.float32)
    results = []
    for lib in (gradlab, torch):
        _, AdditiveAttention, DotProductAttention = attention_layers(lib)
        q, dq, k, v, lens = (lib.tensor(a) for a in (queries, dot_queries, keys, values, np.array([2, 6])))
        additive = AdditiveAttention(num_hiddens=8, dropout=0.1)
        additive.eval()
        additive(q, k, v, lens)
        if lib is gradlab:
            ours = additive
        else:
            copy_weights(ours, additive, torch)
        dot = DotProductAttention(dropout=0.5)
        dot.eval()
        results.append((additive(q, k, v, lens), additive.attention_weights, dot(dq, k, v, lens),
                        dot.attention_weights))
    for a, b in zip(*results):
        assert_close(a, b, atol=1e-6)
    out, weights, dot_out, dot_weights = results[0]
    assert tuple(out.shape) == (2, 1, 4) and tuple(dot_out.shape) == (2, 1, 4)
    assert (weights.detach().numpy()[0, :, 2:] == 0).all() and (dot_weights.detach().numpy()[1, :, 6:] == 0).all()
    assert_close(weights.sum(-1), np.ones((2, 1)))


def test_multihead_attention_with_a_padding_mask(torch):
    gradlab.manual_seed(13)
    mha = gradlab.nn.MultiheadAttention(16, 4, batch_first=True)
    theirs = torch.nn.MultiheadAttention(16, 4, batch_first=True)
    copy_weights(mha, theirs, torch)
    X = np.random.default_rng(13).standard_normal((2, 5, 16)).astype(np.float32)
    pad = np.array([[False] * 5, [False] * 3 + [True] * 2])
    out, weights = mha(*[gradlab.tensor(X)] * 3, key_padding_mask=gradlab.tensor(pad))
    their_out, their_weights = theirs(*[torch.tensor(X)] * 3, key_padding_mask=torch.tensor(pad))
    assert tuple(out.shape) == (2, 5, 16) and tuple(weights.shape) == (2, 5, 5)
    assert_close(out, their_out, atol=1e-5)
    assert_close(weights, their_weights, atol=1e-6)
    assert (weights.detach().numpy()[1, :, 3:] == 0).all()
    out.sum().backward()
    their_out.sum().backward()
    assert_close(mha.in_proj_weight.grad, theirs.in_proj_weight.grad, rtol=1e-4, atol=1e-5)
