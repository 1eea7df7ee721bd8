"""Transformer layers, stacks and the full Transformer against PyTorch.

Both libraries build the same module, the gradlab parameters are copied into
torch by name, and the outputs and the gradients of the inputs and of every
parameter must agree in float64 (dropout 0, so training mode is deterministic).
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab

torch = pytest.importorskip("torch")


def swish(x):
    """A callable activation that runs on either library's tensors."""
    return x * x.sigmoid()


def build(T, kind, d_model, nhead, options, layers=2):
    nn = T.nn
    if kind == "encoder_layer":
        return nn.TransformerEncoderLayer(d_model, nhead, **options)
    if kind == "decoder_layer":
        return nn.TransformerDecoderLayer(d_model, nhead, **options)
    if kind == "encoder":
        return nn.TransformerEncoder(nn.TransformerEncoderLayer(d_model, nhead, **options), layers,
                                     norm=nn.LayerNorm(d_model, dtype=options["dtype"]), enable_nested_tensor=False)
    if kind == "decoder":
        return nn.TransformerDecoder(nn.TransformerDecoderLayer(d_model, nhead, **options), layers)
    return nn.Transformer(d_model, nhead, num_encoder_layers=layers, num_decoder_layers=layers, **options)


def twins(kind, d_model, nhead, options, rng, layers=2):
    """The same module in gradlab and torch, with the same random parameters (copied by name)."""
    ours = build(gradlab, kind, d_model, nhead, dict(options, dtype=gradlab.float64), layers)
    theirs = build(torch, kind, d_model, nhead, dict(options, dtype=torch.float64), layers)
    ours_params, theirs_params = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert list(ours_params) == list(theirs_params)
    with torch.no_grad():
        for name, tp in theirs_params.items():
            values = rng.standard_normal(tuple(tp.shape)) * 0.4
            ours_params[name].data.copy_(gradlab.tensor(values))
            tp.copy_(torch.tensor(values))
    return ours, theirs


def both(array, requires_grad=True):
    array = np.asarray(array, dtype=np.float64)
    return (gradlab.tensor(array.copy(), requires_grad=requires_grad),
            torch.tensor(array.copy(), requires_grad=requires_grad))


def close(ours, theirs, rtol=1e-8, atol=1e-10):
    theirs = theirs.detach().numpy()
    assert tuple(ours.shape) == theirs.shape
    np.testing.assert_allclose(ours.detach().numpy(), theirs, rtol=rtol, atol=atol)


def padding_pair(rng, batch, length, unbatched):
    padded = rng.random((batch, length)) < 0.3
    padded[:, 0] = False                                  # every sequence keeps one key
    if unbatched:
        padded = padded[0]
    return gradlab.tensor(padded), torch.tensor(padded)


def mask_pair(rng, kind, length, T_ours=gradlab):
    if kind == "causal":
        return (gradlab.nn.Transformer.generate_square_subsequent_mask(length, dtype=gradlab.float64),
                torch.nn.Transformer.generate_square_subsequent_mask(length, dtype=torch.float64))
    if kind == "float":
        return both(rng.standard_normal((length, length)) * 0.5, requires_grad=False)
    if kind == "bool":
        blocked = rng.random((length, length)) < 0.3
        blocked[:, 0] = False
        return gradlab.tensor(blocked), torch.tensor(blocked)
    return None, None


pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("kind", ["encoder_layer", "decoder_layer", "encoder", "decoder", "transformer"])
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), nhead=st.integers(1, 2), head_dim=st.integers(1, 3),
       dim_feedforward=st.integers(1, 6), activation=st.sampled_from(["relu", "gelu", "callable"]),
       batch_first=st.booleans(), bias=st.booleans(), eps=st.sampled_from([1e-5, 1e-3]), N=st.integers(1, 2), S=st.integers(1, 4),
       T=st.integers(1, 4), unbatched=st.booleans(),
       mask_kind=st.sampled_from(["none", "causal", "float", "bool"]), padding=st.booleans())
def test_transformer_modules_match_torch(seed, kind, nhead, head_dim, dim_feedforward, activation, batch_first,
                                         norm_first, bias, eps, N, S, T, unbatched, mask_kind, padding):
    rng = np.random.default_rng(seed)
    d_model = nhead * head_dim
    options = dict(dim_feedforward=dim_feedforward, dropout=0.0, layer_norm_eps=eps, batch_first=batch_first,
                   norm_first=norm_first, bias=bias, activation=swish if activation == "callable" else activation)
    ours, theirs = twins(kind, d_model, nhead, options, rng)
    if unbatched:
        N = 1

    def sequence(length):
        shape = (length, d_model) if unbatched else ((N, length, d_model) if batch_first else (length, N, d_model))
        return both(rng.standard_normal(shape))

    (src, tsrc), (tgt, ttgt) = sequence(S), sequence(T)
    if mask_kind == "bool" and padding:
        mask_kind = "causal"                              # bool attn_mask with a bool padding mask: both bool
    inputs, tinputs, kwargs, tkwargs = [src], [tsrc], {}, {}
    if kind.startswith("encoder"):
        mask, tmask = mask_pair(rng, mask_kind, S)
        names = ("src_mask", "src_key_padding_mask") if kind == "encoder_layer" else ("mask", "src_key_padding_mask")
        pad_len = S
    else:
        mask, tmask = mask_pair(rng, mask_kind, T)
        names, pad_len = ("tgt_mask", "tgt_key_padding_mask"), T
        if kind != "transformer":
            inputs, tinputs = [tgt, src], [ttgt, tsrc]    # decoder(tgt, memory)
        else:
            inputs, tinputs = [src, tgt], [tsrc, ttgt]
    if mask is not None:
        kwargs[names[0]], tkwargs[names[0]] = mask, tmask
        if kind == "encoder_layer" and mask_kind == "causal":
            kwargs["is_causal"] = tkwargs["is_causal"] = True
    if padding:
        kwargs[names[1]], tkwargs[names[1]] = padding_pair(rng, N, pad_len, unbatched)
        if mask is not None and mask.dtype != gradlab.bool:   # keep the two masks of one kind
            kwargs[names[1]] = gradlab.where(kwargs[names[1]], float("-inf"), 0.0).double()
            tkwargs[names[1]] = torch.where(tkwargs[names[1]], float("-inf"), 0.0).double()

    out = ours(*inputs, **kwargs)
    ref = theirs(*tinputs, **tkwargs)
    close(out, ref)
    upstream = rng.standard_normal(tuple(ref.shape))
    out.backward(gradlab.tensor(upstream))
    ref.backward(torch.tensor(upstream))
    for a, b in zip(inputs, tinputs):
        close(a.grad, b.grad)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        if theirs_params[name].grad is None:
            assert p.grad is None or not p.grad.numpy().any(), name
        else:
            close(p.grad, theirs_params[name].grad)


def test_eval_mode_matches_torch_fast_path():
    """With dropout > 0 in eval mode the layers are deterministic; torch takes its fused path here."""
    rng = np.random.default_rng(0)
    ours, theirs = twins("encoder", 4, 2, dict(dim_feedforward=8, dropout=0.3, batch_first=True), rng)
    ours.eval(), theirs.eval()
    x = rng.standard_normal((2, 5, 4))
    padded = np.zeros((2, 5), dtype=bool)
    padded[1, 3:] = True
    with torch.no_grad():
        ref = theirs(torch.tensor(x), src_key_padding_mask=torch.tensor(padded))
    with gradlab.no_grad():
        out = ours(gradlab.tensor(x), src_key_padding_mask=gradlab.tensor(padded))
    # the fused path leaves padded positions 0 in its output; compare the real ones
    np.testing.assert_allclose(out.numpy()[~padded], ref.numpy()[~padded], rtol=1e-7, atol=1e-9)


def test_dropout_applies_while_training():
    gradlab.manual_seed(0)
    layer = gradlab.nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.5, dtype=gradlab.float64)
    x = gradlab.randn(3, 2, 4, dtype=gradlab.float64)
    first, second = layer(x).detach(), layer(x).detach()
    assert not np.allclose(first.numpy(), second.numpy())
    layer.eval()
    np.testing.assert_array_equal(layer(x).detach().numpy(), layer(x).detach().numpy())


def test_detected_causal_mask_gives_the_same_result_as_the_hint():
    rng = np.random.default_rng(1)
    ours, theirs = twins("encoder", 4, 2, dict(dim_feedforward=6, dropout=0.0), rng)
    x = gradlab.tensor(rng.standard_normal((5, 2, 4)))
    mask = gradlab.nn.Transformer.generate_square_subsequent_mask(5, dtype=gradlab.float64)
    detected = ours(x, mask=mask)
    hinted = ours(x, mask=mask, is_causal=True)
    plain = ours(x)
    np.testing.assert_allclose(detected.detach().numpy(), hinted.detach().numpy(), rtol=1e-12)
    assert not np.allclose(detected.detach().numpy(), plain.detach().numpy())
    close(detected, theirs(torch.tensor(x.numpy()), mask=torch.tensor(mask.numpy())))


def test_generate_square_subsequent_mask_as_torch():
    for size in (1, 4):
        ours = gradlab.nn.Transformer.generate_square_subsequent_mask(size)
        theirs = torch.nn.Transformer.generate_square_subsequent_mask(size)
        assert ours.dtype == gradlab.float32
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert gradlab.nn.Transformer.generate_square_subsequent_mask(2, dtype=gradlab.float64).dtype == gradlab.float64


def test_gradcheck_encoder_and_decoder_layers():
    rng = np.random.default_rng(2)
    for kind in ("encoder_layer", "decoder_layer"):
        module = build(gradlab, kind, 4, 2, dict(dim_feedforward=3, dropout=0.0, activation="gelu",
                                                 dtype=gradlab.float64))
        x = gradlab.tensor(rng.standard_normal((3, 1, 4)), requires_grad=True)
        memory = gradlab.tensor(rng.standard_normal((2, 1, 4)), requires_grad=True)
        params = list(module.parameters())
        if kind == "encoder_layer":
            def f(x, *_):
                return module(x, is_causal=True, src_mask=gradlab.nn.Transformer.generate_square_subsequent_mask(3))
            assert gradlab.autograd.gradcheck(f, (x, *params))
        else:
            assert gradlab.autograd.gradcheck(lambda x, m, *_: module(x, m), (x, memory, *params))


def test_structure_repr_and_default_init_as_torch():
    options = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16)
    ours, theirs = gradlab.nn.Transformer(**options), torch.nn.Transformer(**options)
    assert repr(ours) == repr(theirs)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    # every matrix is Xavier-uniform: |w| <= sqrt(6 / (fan_in + fan_out)), and it reaches near the bound
    for name, p in ours.named_parameters():
        if p.dim() > 1:
            bound = math.sqrt(6 / (p.shape[0] + p.shape[1]))
            assert bound / 2 < float(p.abs().max()) <= bound, name
    # cloned layers are independent copies that start equal
    first, second = ours.encoder.layers[0].linear1.weight, ours.encoder.layers[1].linear1.weight
    assert first is not second
    layer = gradlab.nn.TransformerEncoderLayer(4, 2)
    stack = gradlab.nn.TransformerEncoder(layer, 3, enable_nested_tensor=False)
    np.testing.assert_array_equal(stack.layers[0].linear1.weight.detach().numpy(),
                                  stack.layers[2].linear1.weight.detach().numpy())
    assert stack.layers[0].linear1.weight is not stack.layers[2].linear1.weight


@pytest.mark.parametrize("call", [
    lambda T: T.nn.TransformerEncoderLayer(4, 2, activation="tanh"),
    lambda T: T.nn.Transformer(4, 2, 1, 1, 8)(T.zeros(3, 2, 4), T.zeros(3, 3, 4)),
    lambda T: T.nn.Transformer(4, 2, 1, 1, 8, batch_first=True)(T.zeros(2, 3, 4), T.zeros(3, 3, 4)),
    lambda T: T.nn.Transformer(4, 2, 1, 1, 8)(T.zeros(3, 2, 4), T.zeros(3, 2, 5)),
])
def test_errors_as_torch(call):
    def outcome(T):
        try:
            call(T)
        except Exception as error:                        # noqa: BLE001 - compared below
            return type(error), str(error)
        return None
    theirs = outcome(torch)
    assert theirs is not None
    assert outcome(gradlab) == theirs


def test_loads_a_torch_state_dict():
    """A torch Transformer's state dict loads into gradlab's (same keys and shapes) and gives the same output."""
    options = dict(d_model=4, nhead=2, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=6, dropout=0.0,
                   norm_first=True)
    theirs = torch.nn.Transformer(**options, dtype=torch.float64)
    ours = gradlab.nn.Transformer(**options, dtype=gradlab.float64)
    ours.load_state_dict({k: gradlab.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(3)
    src, tgt = rng.standard_normal((5, 2, 4)), rng.standard_normal((3, 2, 4))
    mask = torch.nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64)
    ref = theirs(torch.tensor(src), torch.tensor(tgt), tgt_mask=mask)
    out = ours(gradlab.tensor(src), gradlab.tensor(tgt), tgt_mask=gradlab.tensor(mask.numpy()))
    close(out, ref)
