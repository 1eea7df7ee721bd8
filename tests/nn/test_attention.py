"""scaled_dot_product_attention and MultiheadAttention against PyTorch.

Random shapes and masks (bool and float, key padding, causal), both batch
layouts; outputs, attention weights and every gradient (inputs, float masks
and parameters) must agree in float64. Small cases also pass gradcheck.
"""
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F

torch = pytest.importorskip("torch")

SETTINGS = settings(max_examples=20, deadline=None)


def both(array, requires_grad=True):
    """The same float64 values as a gradlab and a torch tensor."""
    array = np.asarray(array, dtype=np.float64)
    return (gradlab.tensor(array.copy(), requires_grad=requires_grad),
            torch.tensor(array.copy(), requires_grad=requires_grad))


def bool_pair(array):
    return gradlab.tensor(np.array(array, dtype=bool)), torch.tensor(np.array(array, dtype=bool))


def close(ours, theirs, rtol=1e-9, atol=1e-11):
    if theirs is None:
        assert ours is None
        return
    theirs = theirs.detach().numpy()
    assert tuple(ours.shape) == theirs.shape
    np.testing.assert_allclose(ours.detach().numpy(), theirs, rtol=rtol, atol=atol)


def backward_both(out, ref, rng):
    upstream = rng.standard_normal(tuple(ref.shape))
    out.backward(gradlab.tensor(upstream))
    ref.backward(torch.tensor(upstream))


# ---- scaled_dot_product_attention -----------------------------------------------------------------
@pytest.mark.parametrize("mask", ["none", "bool", "float", "float-broadcast", "causal"])
@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), batch=st.lists(st.integers(1, 3), max_size=2),
       L=st.integers(1, 5), S=st.integers(1, 5), E=st.integers(1, 4), Ev=st.integers(1, 4),
       custom_scale=st.booleans())
def test_sdpa_matches_torch(seed, batch, L, S, E, Ev, mask, custom_scale):
    rng = np.random.default_rng(seed)
    (q, tq), (k, tk), (v, tv) = (both(rng.standard_normal(tuple(batch) + shape))
                                 for shape in ((L, E), (S, E), (S, Ev)))
    kwargs, tkwargs, float_masks = {}, {}, []
    if mask == "bool":
        allowed = rng.random(tuple(batch) + (L, S)) < 0.7
        allowed[..., 0, :] = False                        # one query that may attend to nothing at all
        kwargs["attn_mask"], tkwargs["attn_mask"] = bool_pair(allowed)
    elif mask.startswith("float"):
        shape = (L, S) if mask == "float-broadcast" else tuple(batch) + (L, S)
        values = rng.standard_normal(shape)
        values[rng.random(shape) < 0.2] = -np.inf
        m, tm = both(values)
        kwargs["attn_mask"], tkwargs["attn_mask"] = m, tm
        float_masks.append((m, tm))
    elif mask == "causal":
        kwargs["is_causal"] = tkwargs["is_causal"] = True
    if custom_scale:
        kwargs["scale"] = tkwargs["scale"] = 0.3
    out = F.scaled_dot_product_attention(q, k, v, **kwargs)
    ref = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **tkwargs)
    close(out, ref)
    backward_both(out, ref, rng)
    for ours, theirs in [(q, tq), (k, tk), (v, tv)] + float_masks:
        assert np.isfinite(ours.grad.numpy()).all() or not np.isfinite(theirs.grad.numpy()).all()
        close(ours.grad, theirs.grad)


def test_sdpa_rows_with_no_allowed_key_are_zero():
    rng = np.random.default_rng(0)
    (q, tq), (k, tk), (v, tv) = (both(rng.standard_normal((2, 3, 4))) for _ in range(3))
    allowed = np.ones((3, 3), dtype=bool)
    allowed[1] = False
    m, tm = bool_pair(allowed)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
    ref = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm)
    np.testing.assert_array_equal(out.detach().numpy()[:, 1], 0.0)
    close(out, ref)
    out.sum().backward()
    ref.sum().backward()
    for ours, theirs in [(q, tq), (k, tk), (v, tv)]:
        assert np.isfinite(ours.grad.numpy()).all()
        close(ours.grad, theirs.grad)


def test_sdpa_causal_with_more_queries_than_keys_is_aligned_top_left():
    rng = np.random.default_rng(1)
    (q, tq), (k, tk), (v, tv) = both(rng.standard_normal((5, 2))), both(rng.standard_normal((3, 2))), \
        both(rng.standard_normal((3, 2)))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    close(out, torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True))
    np.testing.assert_allclose(out.detach().numpy()[0], v.detach().numpy()[0])     # query 0 sees key 0 only


def test_sdpa_grouped_query_attention_matches_torch():
    rng = np.random.default_rng(2)
    (q, tq), (k, tk), (v, tv) = (both(rng.standard_normal(shape)) for shape in ((2, 6, 3, 4), (2, 2, 5, 4),
                                                                                (2, 3, 5, 2)))
    out = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    ref = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, enable_gqa=True)
    close(out, ref)
    backward_both(out, ref, rng)
    for ours, theirs in [(q, tq), (k, tk), (v, tv)]:
        close(ours.grad, theirs.grad)


def test_sdpa_dropout_zeroes_weights_and_scales_the_rest():
    """With value = identity the output rows are the attention weights themselves."""
    gradlab.manual_seed(0)
    rng = np.random.default_rng(3)
    q, k = gradlab.tensor(rng.standard_normal((4, 3))), gradlab.tensor(rng.standard_normal((6, 3)))
    eye = gradlab.eye(6, dtype=gradlab.float64)
    weights = F.scaled_dot_product_attention(q, k, eye).numpy()
    dropped = F.scaled_dot_product_attention(q, k, eye, dropout_p=0.5).numpy()
    kept = dropped != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(dropped[kept], weights[kept] / 0.5)


def test_sdpa_gradcheck():
    rng = np.random.default_rng(4)
    q, k, v = (gradlab.tensor(rng.standard_normal(shape), requires_grad=True) for shape in ((2, 3, 2), (2, 4, 2),
                                                                                           (2, 4, 3)))
    mask = gradlab.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradlab.autograd.gradcheck(lambda *t: F.scaled_dot_product_attention(*t), (q, k, v, mask))
    assert gradlab.autograd.gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True,
                                                                                     scale=0.7), (q, k, v))


@pytest.mark.parametrize("shapes, kwargs, message", [
    (((4,), (4,), (4,)), {}, "at least 2 dimensional"),
    (((2, 3), (4, 2), (4, 2)), {}, r"query \(2, 3\) and key \(4, 2\) must have the same last"),
    (((2, 3), (4, 3), (5, 3)), {}, r"key \(4, 3\) and value \(5, 3\) must have the same source length"),
    (((2, 3), (4, 3), (4, 3)), dict(is_causal=True, attn_mask="bool"), "Explicit attn_mask should not be set"),
    (((2, 3), (4, 3), (4, 3)), dict(attn_mask="int"), "Expected attn_mask dtype to be bool or float"),
    (((1, 4, 3, 2), (1, 3, 5, 2), (1, 3, 5, 2)), dict(enable_gqa=True), "Number of heads in key and value must"),
])
def test_sdpa_errors(shapes, kwargs, message):
    q, k, v = (gradlab.zeros(*s) for s in shapes)
    if kwargs.get("attn_mask") == "bool":
        kwargs["attn_mask"] = gradlab.ones(2, 4, dtype=gradlab.bool)
    elif kwargs.get("attn_mask") == "int":
        kwargs["attn_mask"] = gradlab.ones(2, 4, dtype=gradlab.int64)
    with pytest.raises(RuntimeError, match=message):
        F.scaled_dot_product_attention(q, k, v, **kwargs)


def test_sdpa_errors_on_mismatched_dtypes():
    with pytest.raises(RuntimeError, match="same dtype"):
        F.scaled_dot_product_attention(gradlab.zeros(2, 3, dtype=gradlab.float64), gradlab.zeros(2, 3),
                                       gradlab.zeros(2, 3))


# ---- MultiheadAttention ------------------------------------------------------------------------------
def twin_mha(rng, **options):
    """A gradlab MultiheadAttention and a torch one with the same random float64 parameters."""
    ours = gradlab.nn.MultiheadAttention(**options, dtype=gradlab.float64)
    theirs = torch.nn.MultiheadAttention(**options, dtype=torch.float64)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    with torch.no_grad():
        for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert tuple(p.shape) == tuple(tp.shape), name
            values = rng.standard_normal(tuple(tp.shape)) * 0.5
            p.data.copy_(gradlab.tensor(values))
            tp.copy_(torch.tensor(values))
    return ours, theirs


def mha_masks(rng, mask_kind, padding_kind, N, H, L, S):
    """(ours, theirs) keyword masks; key 0 always stays allowed, so no query row is fully blocked."""
    ours, theirs, float_masks = {}, {}, []
    if mask_kind in ("bool2d", "bool3d", "causal"):
        shape = (L, S) if mask_kind != "bool3d" else (N * H, L, S)
        blocked = np.triu(np.ones((L, S), dtype=bool), 1) if mask_kind == "causal" else rng.random(shape) < 0.3
        blocked[..., 0] = False
        ours["attn_mask"], theirs["attn_mask"] = bool_pair(blocked)
        if mask_kind == "causal":
            ours["is_causal"] = theirs["is_causal"] = True
    elif mask_kind in ("float2d", "float3d"):
        shape = (L, S) if mask_kind == "float2d" else (N * H, L, S)
        m, tm = both(rng.standard_normal(shape))
        ours["attn_mask"], theirs["attn_mask"] = m, tm
        float_masks.append((m, tm))
    if padding_kind != "none":
        padded = rng.random((N, S)) < 0.4
        padded[:, 0] = False
        if padding_kind == "bool":
            ours["key_padding_mask"], theirs["key_padding_mask"] = bool_pair(padded)
        else:
            m, tm = both(np.where(padded, -np.inf, 0.0), requires_grad=False)
            ours["key_padding_mask"], theirs["key_padding_mask"] = m, tm
    return ours, theirs, float_masks


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("mask_kind", ["none", "bool2d", "bool3d", "float2d", "float3d", "causal"])
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), H=st.integers(1, 3), D=st.integers(1, 3), N=st.integers(1, 3),
       L=st.integers(1, 4), S=st.integers(1, 4), batch_first=st.booleans(), bias=st.booleans(),
       add_bias_kv=st.booleans(), add_zero_attn=st.booleans(), other_dims=st.booleans(), average=st.booleans(),
       padding_kind=st.sampled_from(["none", "bool", "float"]))
def test_multihead_attention_matches_torch(seed, H, D, N, L, S, batch_first, bias, add_bias_kv, add_zero_attn,
                                           other_dims, need_weights, average, mask_kind, padding_kind):
    rng = np.random.default_rng(seed)
    E = H * D
    if mask_kind == "causal":
        S = L
    if padding_kind != "none" and mask_kind != "none":    # the same kind as attn_mask (mixing is deprecated)
        padding_kind = "float" if mask_kind.startswith("float") else "bool"
    kdim, vdim = (2, 3) if other_dims else (None, None)
    ours, theirs = twin_mha(rng, embed_dim=E, num_heads=H, bias=bias, add_bias_kv=add_bias_kv,
                            add_zero_attn=add_zero_attn, kdim=kdim, vdim=vdim, batch_first=batch_first)
    def layout(length, width):
        return (N, length, width) if batch_first else (length, N, width)
    (q, tq), (k, tk), (v, tv) = both(rng.standard_normal(layout(L, E))), \
        both(rng.standard_normal(layout(S, kdim or E))), both(rng.standard_normal(layout(S, vdim or E)))
    masks, tmasks, float_masks = mha_masks(rng, mask_kind, padding_kind, N, H, L, S)
    out, weights = ours(q, k, v, need_weights=need_weights, average_attn_weights=average, **masks)
    ref, ref_weights = theirs(tq, tk, tv, need_weights=need_weights, average_attn_weights=average, **tmasks)
    close(out, ref)
    close(weights, ref_weights)
    backward_both(out, ref, rng)
    for ours_t, theirs_t in [(q, tq), (k, tk), (v, tv)] + float_masks:
        close(ours_t.grad, theirs_t.grad)
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        close(p.grad, tp.grad)


def test_multihead_attention_self_attention_unbatched_and_weight_gradients():
    rng = np.random.default_rng(5)
    ours, theirs = twin_mha(rng, embed_dim=4, num_heads=2)
    x, tx = both(rng.standard_normal((3, 4)))
    out, w = ours(x, x, x, average_attn_weights=False)
    ref, tw = theirs(tx, tx, tx, average_attn_weights=False)
    assert tuple(w.shape) == (2, 3, 3)
    close(out, ref)
    close(w, tw)
    (out.sum() + (w * w).sum()).backward()
    (ref.sum() + (tw * tw).sum()).backward()
    close(x.grad, tx.grad)
    for (_, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        close(p.grad, tp.grad)


def test_multihead_attention_gradcheck():
    rng = np.random.default_rng(6)
    mha = gradlab.nn.MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True, dtype=gradlab.float64)
    q, k = (gradlab.tensor(rng.standard_normal((2, 1, 4)), requires_grad=True) for _ in range(2))
    padding = gradlab.tensor([[False, True]])
    params = list(mha.parameters())

    def f(q, k, *_):
        return mha(q, k, k, key_padding_mask=padding)[0]
    assert gradlab.autograd.gradcheck(f, (q, k, *params))


def test_multihead_attention_default_init_and_repr_as_torch():
    ours = gradlab.nn.MultiheadAttention(6, 3, add_bias_kv=True)
    theirs = torch.nn.MultiheadAttention(6, 3, add_bias_kv=True)
    assert repr(ours) == repr(theirs)
    assert float(ours.in_proj_bias.abs().sum()) == 0.0 and float(ours.out_proj.bias.abs().sum()) == 0.0
    bound = math.sqrt(6 / (6 + 18))                       # xavier_uniform_ over the (18, 6) packed weight
    assert float(ours.in_proj_weight.abs().max()) <= bound
    assert float(ours.in_proj_weight.abs().max()) > bound / 2
    assert ours.bias_k.shape == (1, 1, 6)
    assert not ours.batch_first and ours.dropout == 0.0 and ours.head_dim == 2


def test_multihead_attention_dropout_only_while_training():
    gradlab.manual_seed(0)
    mha = gradlab.nn.MultiheadAttention(4, 2, dropout=0.5, dtype=gradlab.float64)
    x = gradlab.randn(3, 2, 4, dtype=gradlab.float64)
    train_out = mha(x, x, x)[0]
    mha.eval()
    eval_out, eval_again = mha(x, x, x)[0].detach(), mha(x, x, x)[0].detach()
    np.testing.assert_array_equal(eval_out.numpy(), eval_again.numpy())
    assert not np.allclose(train_out.detach().numpy(), eval_out.numpy())


@pytest.mark.parametrize("make, call", [
    (lambda T: T.nn.MultiheadAttention(5, 2), None),
    (lambda T: T.nn.MultiheadAttention(0, 2), None),
    (lambda T: T.nn.MultiheadAttention(4, 2), lambda T, m: m(T.zeros(3, 2, 4), T.zeros(3, 2, 4), T.zeros(3, 2, 4),
                                                                attn_mask=T.zeros(3, 4, dtype=T.bool))),
    (lambda T: T.nn.MultiheadAttention(4, 2), lambda T, m: m(T.zeros(3, 2, 4), T.zeros(3, 2, 4), T.zeros(3, 2, 4),
                                                                attn_mask=T.zeros(3, 3, dtype=T.int64))),
    (lambda T: T.nn.MultiheadAttention(4, 2), lambda T, m: m(T.zeros(3, 2, 4), T.zeros(3, 2, 4), T.zeros(3, 2, 4),
                                                                key_padding_mask=T.zeros(2, 3, 1, dtype=T.bool))),
    (lambda T: T.nn.MultiheadAttention(4, 2), lambda T, m: m(T.zeros(3, 2, 4), T.zeros(3, 2, 4), T.zeros(3, 2, 4),
                                                                is_causal=True)),
    (lambda T: T.nn.MultiheadAttention(4, 2), lambda T, m: m(T.zeros(3, 2, 4), T.zeros(3, 2, 4), T.zeros(2, 2, 4))),
    (lambda T: T.nn.MultiheadAttention(4, 2), lambda T, m: m(T.zeros(3, 2, 4), T.zeros(3, 4), T.zeros(3, 4))),
    (lambda T: T.nn.MultiheadAttention(4, 2), lambda T, m: m(T.zeros(3, 2, 4), T.zeros(3, 2, 4), T.zeros(3, 2, 4),
                                                                attn_mask=T.zeros(5, 3, 3))),
    (lambda T: T.nn.MultiheadAttention(4, 2), lambda T, m: m(T.zeros(3, 2, 5), T.zeros(3, 2, 5),
                                                                T.zeros(3, 2, 5))),
])
def test_multihead_attention_errors_as_torch(make, call):
    """The same exception type and message as PyTorch."""
    def outcome(T):
        try:
            module = make(T)
            if call is not None:
                call(T, module)
        except Exception as error:                        # noqa: BLE001 - compared below
            return type(error), str(error).replace("torch.", "gradlab.")
        return None
    theirs = outcome(torch)
    assert theirs is not None
    assert outcome(gradlab) == theirs


@pytest.mark.parametrize("need_weights", [True, False])
def test_multi_head_attention_forward_with_static_keys_matches_torch(need_weights):
    """The functional form, with precomputed per-head keys and values (static_k, static_v: (N*H, S, D))."""
    rng = np.random.default_rng(7)
    L, S, N, H, D = 3, 4, 2, 2, 3
    E = H * D
    arrays = dict(query=(L, N, E), key=(S, N, E), value=(S, N, E), in_proj_weight=(3 * E, E), in_proj_bias=(3 * E,),
                  out_proj_weight=(E, E), out_proj_bias=(E,), static_k=(N * H, S, D), static_v=(N * H, S, D))
    ours, theirs = {}, {}
    for name, shape in arrays.items():
        ours[name], theirs[name] = both(rng.standard_normal(shape))
    padded = np.zeros((N, S), dtype=bool)
    padded[1, 2:] = True

    def call(fn, t, lib):
        return fn(t["query"], t["key"], t["value"], E, H, t["in_proj_weight"], t["in_proj_bias"], None, None, False,
                  0.0, t["out_proj_weight"], t["out_proj_bias"], key_padding_mask=lib.tensor(padded),
                  need_weights=need_weights, static_k=t["static_k"], static_v=t["static_v"])
    out, weights = call(F.multi_head_attention_forward, ours, gradlab)
    ref, ref_weights = call(torch.nn.functional.multi_head_attention_forward, theirs, torch)
    close(out, ref)
    close(weights, ref_weights)
    backward_both(out, ref, rng)
    for name in arrays:
        if theirs[name].grad is None:
            assert ours[name].grad is None, name
        else:
            close(ours[name].grad, theirs[name].grad)


def test_multihead_attention_float32_stays_float32_and_matches_torch():
    rng = np.random.default_rng(8)
    ours, theirs = gradlab.nn.MultiheadAttention(6, 3, batch_first=True), torch.nn.MultiheadAttention(6, 3,
                                                                                                      batch_first=True)
    ours.load_state_dict({k: gradlab.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((2, 4, 6)).astype(np.float32)
    padding = np.array([[0, 0, -np.inf, -np.inf], [0] * 4], dtype=np.float32)
    causal = gradlab.nn.Transformer.generate_square_subsequent_mask(4)
    out, weights = ours(*[gradlab.tensor(x)] * 3, key_padding_mask=gradlab.tensor(padding), attn_mask=causal)
    ref, ref_weights = theirs(*[torch.tensor(x)] * 3, key_padding_mask=torch.tensor(padding),
                              attn_mask=torch.tensor(causal.numpy()))
    assert out.dtype == weights.dtype == gradlab.float32
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weights.detach().numpy(), ref_weights.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_multihead_attention_of_an_empty_batch_is_empty_as_torch(need_weights, batch_first):
    # the output's last size cannot be inferred (-1) from zero elements
    shape = (0, 4, 8) if batch_first else (4, 0, 8)
    for lib in (gradlab, torch):
        mha = lib.nn.MultiheadAttention(8, 2, batch_first=batch_first)
        x = lib.zeros(*shape)
        out, weights = mha(x, x, x, need_weights=need_weights)
        assert tuple(out.shape) == shape
        assert (weights is None) == (not need_weights)
        if need_weights:
            assert tuple(weights.shape) == (0, 4, 4)



@pytest.mark.parametrize("mask_shape", [(4, 2), (3, 1, 5, 2), (5, 3)])
def test_sdpa_names_itself_and_the_shapes_when_the_mask_does_not_broadcast(mask_shape):
    # the error came from masked_fill or add, ops the caller never called
    q, k = gradlab.zeros(1, 1, 5, 4), gradlab.zeros(1, 1, 2, 4)
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention: attn_mask of shape " +
                       re.escape(str(mask_shape)) + r" does not broadcast .* query \(1, 1, 5, 4\) and key"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=gradlab.ones(*mask_shape, dtype=gradlab.bool))
    with pytest.raises(RuntimeError):  # PyTorch refuses these masks too
        torch.nn.functional.scaled_dot_product_attention(torch.zeros(1, 1, 5, 4), torch.zeros(1, 1, 2, 4),
                                                         torch.zeros(1, 1, 2, 4),
                                                         attn_mask=torch.ones(*mask_shape, dtype=torch.bool))
