"""EmbeddingBag: values, gradients and grad_fn names against PyTorch over random bags, gradcheck,
the layer's repr, init and errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F
from gradlab.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from against_torch import assert_same, backward_both, pair, seeds  # noqa: E402


@st.composite
def bags(draw):
    """Indices into a (rows, dim) table, as 1-D input with offsets (empty bags allowed) or 2-D input."""
    rows = draw(st.integers(2, 6))
    if draw(st.booleans()):
        lengths = draw(st.lists(st.integers(0, 4), min_size=1, max_size=4))
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        idx = np.array(draw(st.lists(st.integers(0, rows - 1), min_size=sum(lengths), max_size=sum(lengths))),
                       dtype=np.int64)
    else:
        b, n = draw(st.integers(1, 3)), draw(st.integers(1, 4))
        idx = np.array(draw(st.lists(st.integers(0, rows - 1), min_size=b * n, max_size=b * n)),
                       dtype=np.int64).reshape(b, n)
        offsets = None
    return rows, idx, offsets


@settings(max_examples=40, deadline=None)
@given(layout=bags(), mode=st.sampled_from(["sum", "mean", "max"]), weighted=st.booleans(),
       use_padding=st.booleans(), last_offset=st.booleans(), seed=seeds())
def test_embedding_bag_matches_torch(layout, mode, weighted, use_padding, last_offset, seed):
    rows, idx, offsets = layout
    rng = np.random.default_rng(seed)
    gw, tw = pair(rng.standard_normal((rows, 3)))
    kwargs = {"mode": mode, "padding_idx": 1 if use_padding else None}
    g_off = t_off = None
    if offsets is not None:
        if last_offset:  # offsets then end with the input's length
            offsets = np.append(offsets, len(idx))
            kwargs["include_last_offset"] = True
        g_off, t_off = gradlab.tensor(offsets), torch.tensor(offsets)
    g_psw = t_psw = None
    if weighted and mode == "sum":
        g_psw, t_psw = pair(rng.uniform(0.5, 2.0, idx.shape))
    gout = F.embedding_bag(gradlab.tensor(idx), gw, g_off, per_sample_weights=g_psw, **kwargs)
    tout = TF.embedding_bag(torch.tensor(idx), tw, t_off, per_sample_weights=t_psw, **kwargs)
    assert_same(gout, tout)
    assert gout.grad_fn.name() == type(tout.grad_fn).__name__ == "EmbeddingBagBackward0"
    backward_both(gout, tout, seed)
    np.testing.assert_allclose(gw.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-12)
    if g_psw is not None:
        np.testing.assert_allclose(g_psw.grad.numpy(), t_psw.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_embedding_bag_gradchecks():
    idx, offsets = gradlab.tensor([0, 2, 2, 3, 1]), gradlab.tensor([0, 2, 2])
    w = gradlab.randn(4, 3, dtype=gradlab.float64, requires_grad=True)
    psw = gradlab.rand(5, dtype=gradlab.float64, requires_grad=True)
    for mode in ("sum", "mean", "max"):
        assert gradcheck(lambda t: F.embedding_bag(idx, t, offsets, mode=mode), (w,))
    weighted = lambda t, s: F.embedding_bag(idx, t, offsets, mode="sum", per_sample_weights=s) ** 2  # noqa: E731
    assert gradcheck(weighted, (w, psw))
    assert gradgradcheck(weighted, (w, psw))


def test_embedding_bag_layer_repr_init_and_errors():
    for kwargs in [{}, {"mode": "sum", "padding_idx": 2, "max_norm": 1.0}, {"norm_type": 1.0, "mode": "max"}]:
        assert repr(gradlab.nn.EmbeddingBag(10, 3, **kwargs)) == repr(torch.nn.EmbeddingBag(10, 3, **kwargs))
    gradlab.manual_seed(0)
    layer = gradlab.nn.EmbeddingBag(400, 50, padding_idx=-1)  # N(0, 1) init, padding row zeroed
    assert layer.padding_idx == 399 and not layer.weight[399].detach().numpy().any()
    w = layer.weight.detach().numpy()[:399]
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02
    out = layer(gradlab.tensor([[1, 399, 2]]))
    np.testing.assert_allclose(out.detach().numpy()[0], (w[1] + w[2]) / 2)  # mean over the non-padding entries
    pre = gradlab.nn.EmbeddingBag.from_pretrained(gradlab.ones(3, 2), mode="sum")
    assert not pre.weight.requires_grad and pre(gradlab.tensor([[0, 1, 2]])).tolist() == [[3.0, 3.0]]
    idx, w = gradlab.tensor([1, 2, 3]), gradlab.randn(5, 2)
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        F.embedding_bag(idx, w, gradlab.tensor([0]), mode="mean", per_sample_weights=gradlab.ones(3))
    with pytest.raises(ValueError, match="offsets has to be None"):
        F.embedding_bag(idx.view(1, 3), w, gradlab.tensor([0]))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor"):
        F.embedding_bag(idx, w)
    with pytest.raises(RuntimeError, match="offsets\\[0\\] has to be 0"):
        F.embedding_bag(idx, w, gradlab.tensor([1]))
    with pytest.raises(IndexError, match="index out of range"):
        F.embedding_bag(gradlab.tensor([7]), w, gradlab.tensor([0]))
    with pytest.raises(ValueError, match="max mode does not support"):
        F.embedding_bag(idx, w, gradlab.tensor([0]), mode="max", scale_grad_by_freq=True)
