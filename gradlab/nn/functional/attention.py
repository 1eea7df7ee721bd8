"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``, as PyTorch.

Both are written with ordinary tensor ops (matmul, softmax, masked_fill,
linear), so autograd differentiates them like any other composition.  What
lies between the two matmuls (scale, causal or additive mask, softmax) is one
op when it can be, ``attention_softmax`` (gradlab/ops/nn/activation.py, one
kernel call each way); the readable composition below it is the reference and
the path for everything else (a mask that varies over the batch or needs a
gradient, float16).

Shape names used in the comments:
    N   batch size            L   target (query) length     S   source (key) length
    E   embedding size        H   number of heads           D   head size (E / H)

Two mask conventions, as PyTorch:
  * ``scaled_dot_product_attention``: a bool ``attn_mask`` is True where a
    query MAY attend to a key;
  * ``multi_head_attention_forward``: a bool ``attn_mask`` or
    ``key_padding_mask`` is True where attention is NOT allowed.
A float mask is added to the attention scores in both (-inf blocks a pair).
"""
import math
import warnings

import numpy as np

from ... import _creation
from ..._dtype import bool as _bool, float32 as _float32, float64 as _float64
from ...ops.nn.activation import attention_softmax as _attention_softmax
from ...ops.shape import cat as _cat
from .dropout import dropout
from .linear import linear
from .padding import pad

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


# ---- scaled dot-product attention -------------------------------------------------------------------
def _check_sdpa_inputs(query, key, value, attn_mask, is_causal):
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError("scaled_dot_product_attention: expected query, key, and value to all be at least "
                           f"2 dimensional, but got query.dim: {query.dim()} key.dim: {key.dim()} and "
                           f"value.dim: {value.dim()} instead.")
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError("scaled_dot_product_attention: expected query, key, and value to have the same dtype, "
                           f"but got query.dtype: {query.dtype} key.dtype: {key.dtype} and "
                           f"value.dtype: {value.dtype} instead.")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query {tuple(query.shape)} and key {tuple(key.shape)} "
                           "must have the same last (embedding) size")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: key {tuple(key.shape)} and value {tuple(value.shape)} "
                           "must have the same source length (size -2)")
    if is_causal and attn_mask is not None:
        raise RuntimeError("scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    if attn_mask is not None and attn_mask.dtype != _bool and not attn_mask.is_floating_point():
        raise RuntimeError("scaled_dot_product_attention: Expected attn_mask dtype to be bool or float or to match "
                           f"query dtype, but got attn_mask.dtype: {attn_mask.dtype} and query.dtype: "
                           f"{query.dtype} instead.")
    if attn_mask is not None:
        try:  # the scores are (..., L, S), their batch dims broadcast from query's and key's
            scores_shape = np.broadcast_shapes(tuple(query.shape[:-2]), tuple(key.shape[:-2])) + \
                (query.shape[-2], key.shape[-2])
            fits = np.broadcast_shapes(tuple(attn_mask.shape), scores_shape) == scores_shape
        except ValueError:
            fits = False
        if not fits:
            raise RuntimeError(f"scaled_dot_product_attention: attn_mask of shape {tuple(attn_mask.shape)} does "
                               f"not broadcast to the attention scores' shape (..., L, S) of query "
                               f"{tuple(query.shape)} and key {tuple(key.shape)}")


def _repeat_kv_heads(query, key, value):
    """Grouped-query attention: each key/value head serves H_q / H_kv query heads (dim -3 is the head axis)."""
    if query.dim() < 3 or key.dim() < 3 or value.dim() < 3:
        raise RuntimeError("scaled_dot_product_attention: enable_gqa=True needs a head axis (dim -3) in "
                           f"query, key and value, got shapes {tuple(query.shape)}, {tuple(key.shape)}, "
                           f"{tuple(value.shape)}")
    q_heads, k_heads, v_heads = query.shape[-3], key.shape[-3], value.shape[-3]
    if q_heads % k_heads != 0 or q_heads % v_heads != 0:
        raise RuntimeError("scaled_dot_product_attention: Number of heads in key and value must divide the number "
                           f"of heads in query, got {q_heads} query, {k_heads} key and {v_heads} value heads")
    return (key.repeat_interleave(q_heads // k_heads, dim=-3),
            value.repeat_interleave(q_heads // v_heads, dim=-3))


def _causal_mask(query_len, key_len):
    """Bool (L, S), True on and below the diagonal: query i sees keys 0..i (aligned at the top left)."""
    return _creation.ones(query_len, key_len, dtype=_bool).tril()


def _softmax_rows(scores, blocked_rows_give_zero):
    """Softmax over the keys (last axis).

    A query whose every key is masked (-inf everywhere) has no distribution:
    plain softmax gives NaN there (as ``multi_head_attention_forward`` with
    ``need_weights=True``); with ``blocked_rows_give_zero`` its weights are 0
    (as ``scaled_dot_product_attention``), and so is their gradient.
    """
    if not blocked_rows_give_zero:
        return scores.softmax(-1)
    blocked = scores.detach().isneginf().all(-1, keepdim=True)       # (..., L, 1)
    if not bool(blocked.any()):
        return scores.softmax(-1)
    # fill the blocked rows with a finite value first, so that neither softmax nor its backward makes NaNs
    return scores.masked_fill(blocked, 0.0).softmax(-1).masked_fill(blocked, 0.0)


def _fused_mask(query, key, attn_mask):
    """attn_mask as the additive (L, S) array attention_softmax takes (None for no mask), or False when that op
    cannot do it: the scores are not float32/float64, or the mask varies over the batch or needs a gradient."""
    if query.dtype != _float32 and query.dtype != _float64:
        return False
    if attn_mask is None:
        return None
    if attn_mask.dim() < 2 or any(n != 1 for n in attn_mask.shape[:-2]) or attn_mask.requires_grad:
        return False
    mask = np.broadcast_to(attn_mask._data.reshape(attn_mask.shape[-2:]), (query.shape[-2], key.shape[-2]))
    if attn_mask.dtype == _bool:                                     # True: may attend
        return np.where(mask, 0, -np.inf).astype(query._data.dtype)
    return np.ascontiguousarray(mask, dtype=query._data.dtype)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(Q K^T * scale + mask) V, over the last two axes, batched over the leading ones.

    query (..., L, E), key (..., S, E), value (..., S, Ev)  ->  (..., L, Ev).
    ``scale`` defaults to 1 / sqrt(E). ``attn_mask`` broadcasts to (..., L, S):
    bool True = may attend, float = added to the scores. ``is_causal`` lets
    query i attend to keys 0..i only. ``dropout_p`` drops attention weights
    (always, as PyTorch: pass 0 in eval mode). ``enable_gqa`` repeats the key
    and value heads (axis -3) to match the query heads.
    """
    _check_sdpa_inputs(query, key, value, attn_mask, is_causal)
    if enable_gqa:
        key, value = _repeat_kv_heads(query, key, value)
    query_len, key_len = query.shape[-2], key.shape[-2]
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])

    fused_mask = _fused_mask(query, key, attn_mask)
    if fused_mask is not False:                                      # scale, mask and softmax in one op
        weights = _attention_softmax(query.matmul(key.transpose(-2, -1)), scale, is_causal, fused_mask)
        if dropout_p > 0.0:
            weights = dropout(weights, dropout_p, training=True)
        return weights.matmul(value)

    scores = query.matmul(key.transpose(-2, -1)) * scale            # (..., L, S)
    if is_causal:
        scores = scores.masked_fill(_causal_mask(query_len, key_len).logical_not(), float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == _bool:
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            scores = scores + attn_mask
    weights = _softmax_rows(scores, blocked_rows_give_zero=True)     # (..., L, S), rows sum to 1
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return weights.matmul(value)                                     # (..., L, Ev)


# ---- multi-head attention -------------------------------------------------------------------------
def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """True for batched (L, N, E) inputs, False for unbatched (L, E); PyTorch's checks and messages."""
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError("For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                                 f"{key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError("For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D but "
                                 f"found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError("For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but "
                                 f"found {attn_mask.dim()}-D tensor instead")
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError("For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                                 f"{key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError("For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D but "
                                 f"found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError("For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
                                     f"but found {attn_mask.dim()}-D tensor instead")
            expected = (num_heads, query.shape[0], key.shape[0])
            if attn_mask.dim() == 3 and tuple(attn_mask.shape) != expected:
                raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got {attn_mask.shape}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query "
                         "tensor")


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """A mask as an additive float mask of ``target_type``: bool True becomes -inf, False 0; floats unchanged."""
    if mask is None:
        return None
    is_float = mask.is_floating_point()
    if mask.dtype != _bool and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for both "
                      "instead.", stacklevel=3)
    if is_float:
        return mask
    return _creation.zeros(tuple(mask.shape), dtype=target_type).masked_fill(mask, float("-inf"))


def _in_projection(query, key, value, weight, bias, q_weight=None, k_weight=None, v_weight=None):
    """q, k, v = the three input projections: rows [0:E], [E:2E], [2E:3E] of one packed weight, or three weights."""
    b_q = b_k = b_v = None
    if bias is not None:
        b_q, b_k, b_v = bias.chunk(3)
    if q_weight is None:
        q_weight, k_weight, v_weight = weight.chunk(3)
    return linear(query, q_weight, b_q), linear(key, k_weight, b_k), linear(value, v_weight, b_v)


def _project_inputs(query, key, value, in_proj_weight, in_proj_bias, use_separate_proj_weight, q_proj_weight,
                    k_proj_weight, v_proj_weight):
    """q, k, v from the packed (3E, E) weight, or from three weights when ``use_separate_proj_weight``."""
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match value's "
                                 f"{value.shape[:2]}")
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is True but q_proj_weight, k_proj_weight or "
                                 "v_proj_weight is None")
        return _in_projection(query, key, value, None, in_proj_bias, q_proj_weight, k_proj_weight, v_proj_weight)
    if tuple(key.shape) != tuple(value.shape):
        raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")
    if in_proj_weight is None:
        raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
    if query is key and key is value:                # self-attention: one (3E, E) product, then split
        return linear(query, in_proj_weight, in_proj_bias).chunk(3, -1)
    return _in_projection(query, key, value, in_proj_weight, in_proj_bias)


def _check_attn_mask_shape(attn_mask, tgt_len, src_len, batch_heads):
    """A 2-D mask (L, S) is shared by every batch and head; a 3-D one is (N*H, L, S). Returns (1 or N*H, L, S)."""
    if attn_mask.dim() == 2:
        if tuple(attn_mask.shape) != (tgt_len, src_len):
            raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                               f"{(tgt_len, src_len)}.")
        return attn_mask.unsqueeze(0)
    if attn_mask.dim() == 3:
        if tuple(attn_mask.shape) != (batch_heads, tgt_len, src_len):
            raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                               f"{(batch_heads, tgt_len, src_len)}.")
        return attn_mask
    raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")


def _pad_last(mask):
    """One more key column (value 0: allowed) at the end of a float mask, for an added bias or zero key."""
    return None if mask is None else pad(mask, (0, 1))


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """Multi-head attention on sequence-first inputs: query (L, N, E), key (S, N, Ek), value (S, N, Ev),
    or unbatched (L, E), (S, Ek), (S, Ev).

    Returns (output (L, N, E), weights): weights (N, L, S) averaged over the
    heads, (N, H, L, S) with ``average_attn_weights=False``, or None when
    ``need_weights=False``. Bool masks are True where attention is NOT allowed.
    """
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:                                   # a batch of one: (L, E) -> (L, 1, E)
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       None if attn_mask is None else attn_mask.dtype, "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None                                 # scaled_dot_product_attention applies is_causal itself
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
        if key_padding_mask is not None:
            is_causal = False                            # the explicit masks say it all

    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    q, k, v = _project_inputs(query, key, value, in_proj_weight, in_proj_bias, use_separate_proj_weight,
                              q_proj_weight, k_proj_weight, v_proj_weight)  # q (L, N, E), k and v (S, N, E)

    if attn_mask is not None:
        attn_mask = _check_attn_mask_shape(attn_mask, tgt_len, key.shape[0], bsz * num_heads)
    if bias_k is not None and bias_v is not None:        # one more learned key and value at the end of the source
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key or value.")
        k = _cat([k, bias_k.repeat(1, bsz, 1)])
        v = _cat([v, bias_v.repeat(1, bsz, 1)])
        attn_mask, key_padding_mask = _pad_last(attn_mask), _pad_last(key_padding_mask)
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("bias_k and bias_v must be given together")

    # split the heads: (L, N, E) -> (L, N*H, D) -> (N*H, L, D); row b*H + h is batch b, head h
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = _heads_first(k, static_k, bsz * num_heads, head_dim, "static_k")
    v = _heads_first(v, static_v, bsz * num_heads, head_dim, "static_v")

    if add_zero_attn:                                    # one more all-zero key and value
        zeros = _creation.zeros(bsz * num_heads, 1, head_dim, dtype=k.dtype)
        k, v = _cat([k, zeros], dim=1), _cat([v, zeros], dim=1)
        attn_mask, key_padding_mask = _pad_last(attn_mask), _pad_last(key_padding_mask)
    src_len = k.shape[1]

    if key_padding_mask is not None:                     # (N, S) -> (N*H, 1, S), merged into attn_mask
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(f"Expected key_padding_mask of shape {(bsz, src_len)}, but got "
                                 f"{tuple(key_padding_mask.shape)}")
        key_padding_mask = (key_padding_mask.reshape(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1)
                            .reshape(bsz * num_heads, 1, src_len))
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    if not training:
        dropout_p = 0.0

    out, weights = _attend_heads(q, k, v, attn_mask, dropout_p, is_causal, need_weights, average_attn_weights,
                                 bsz, num_heads)
    # (L, N, E); the size is spelled out as -1 cannot be inferred for an empty batch
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, out_proj_weight.shape[0])
    if not is_batched:
        out = out.squeeze(1)
        weights = None if weights is None else weights.squeeze(0)
    return out, weights


def _attend_heads(q, k, v, attn_mask, dropout_p, is_causal, need_weights, average_attn_weights, bsz, num_heads):
    """Every head's attention, q (N*H, L, D), k and v (N*H, S, D), attn_mask (1 or N*H, L, S) or None.

    Returns the heads joined, (L*N, E), and the weights. The weights are only
    built when asked for; otherwise scaled_dot_product_attention does the work.
    """
    (_, tgt_len, head_dim), src_len = q.shape, k.shape[1]
    embed_dim = num_heads * head_dim
    if not need_weights:
        if attn_mask is not None:                        # (1 or N*H, L, S) -> broadcastable to (N, H, L, S)
            attn_mask = (attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1
                         else attn_mask.reshape(bsz, num_heads, -1, src_len))
        out = scaled_dot_product_attention(q.reshape(bsz, num_heads, tgt_len, head_dim),
                                           k.reshape(bsz, num_heads, src_len, head_dim),
                                           v.reshape(bsz, num_heads, src_len, head_dim),
                                           attn_mask, dropout_p, is_causal)      # (N, H, L, D)
        return out.permute(2, 0, 1, 3).reshape(tgt_len * bsz, embed_dim), None

    scores = (q * math.sqrt(1.0 / head_dim)).matmul(k.transpose(-2, -1))        # (N*H, L, S)
    if attn_mask is not None:
        scores = scores + attn_mask
    weights = _softmax_rows(scores, blocked_rows_give_zero=False)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    out = weights.matmul(v)                                                     # (N*H, L, D)
    out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)                 # join the heads: (L*N, E)
    weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
    return out, weights.mean(dim=1) if average_attn_weights else weights      # (N, L, S) or (N, H, L, S)


def _heads_first(x, static, batch_heads, head_dim, name):
    """(S, N, E) -> (N*H, S, D), or a given ``static`` (N*H, S, D) tensor in its place."""
    if static is None:
        return x.reshape(x.shape[0], batch_heads, head_dim).transpose(0, 1)
    if static.shape[0] != batch_heads or static.shape[2] != head_dim:
        raise AssertionError(f"expecting {name} of shape ({batch_heads}, S, {head_dim}), but got "
                             f"{tuple(static.shape)}")
    return static

