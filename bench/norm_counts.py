"""Instruction counts of the normalization and softmax kernels against the NumPy code they replace.

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/norm_counts.py CASE N

runs CASE ("before" or "after" variant of one op, forward and backward) N
times; the difference of the "Collected" counts for N and 0 calls, divided
by N, is the cost of one call, whatever the machine's load.  Only NumPy and
gradlab_ext are imported, so each run is short.  The "before" variants are
the array code gradlab ran before the kernels (ops/nn/normalization.py and
ops/nn/activation.py at 4088dd0; attention as scale, masked_fill and softmax).
Shapes are the tiny transformer's (LayerNorm, causal attention over 64
positions, the loss's log-softmax) and the CIFAR CNN's first BatchNorm.
"""
import sys

import numpy as np

from gradlab_ext import norm, softmax

rng = np.random.default_rng(0)
X = rng.standard_normal((2048, 128), dtype=np.float32)
W, B = np.ones(128, np.float32), np.zeros(128, np.float32)
S = rng.standard_normal((32, 4, 64, 64), dtype=np.float32)
L = rng.standard_normal((2048, 65), dtype=np.float32)
X4 = rng.standard_normal((64, 32, 32, 32), dtype=np.float32)
W4 = np.ones((1, 32, 1, 1), np.float32)


def _standardize_grad(gh, xhat, invstd, axes):
    return invstd * (gh - gh.mean(axes, keepdims=True) - xhat * (gh * xhat).mean(axes, keepdims=True))


def layer_norm_before():
    mean = X.mean(axis=-1, keepdims=True)
    centered = X - mean
    invstd = 1 / np.sqrt(np.mean(centered * centered, axis=-1, keepdims=True) + 1e-5)
    xhat = centered * invstd
    out = xhat * W
    out += B
    g = out
    return _standardize_grad(g * W, xhat, invstd, -1), (g * xhat).sum(0), g.sum(0)


def layer_norm_after():
    out, mean, rstd = norm.layer_norm_forward(X, W, B, 1e-5)
    return norm.layer_norm_backward(out, X, mean, rstd, W, True, True, True)


def attention_before():
    scores = S * np.float32(0.17)
    scores = np.where(np.tri(64, 64, dtype=bool), scores, -np.inf)
    blocked = np.isneginf(scores).all(-1, keepdims=True)
    bool(blocked.any())
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    g = S
    gs = e * (g - (g * e).sum(-1, keepdims=True))
    gs = np.where(np.tri(64, 64, dtype=bool), gs, 0)
    return gs * np.float32(0.17)


def attention_after():
    w = softmax.attention_softmax_forward(S, 0.17, True, None)
    return softmax.attention_softmax_backward(S, w, 0.17)


def log_softmax_before():
    shifted = L - L.max(axis=1, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return L - np.exp(out) * L.sum(1, keepdims=True)


def log_softmax_after():
    out = softmax.log_softmax_forward(L)
    return softmax.log_softmax_backward(L, out)


def batch_norm_before():
    axes = (0, 2, 3)
    mean = X4.mean(axis=axes, keepdims=True)
    centered = X4 - mean
    var = np.mean(centered * centered, axis=axes, keepdims=True)
    invstd = 1 / np.sqrt(var + 1e-5)
    xhat = centered * invstd
    out = xhat * W4
    g = out
    return _standardize_grad(g, xhat, invstd * W4, axes), (g * xhat).sum(axes), g.sum(axes)


def batch_norm_after():
    x3 = X4.reshape(64, 32, -1)
    out, mean, _, rstd = norm.batch_norm_forward(x3, W4.reshape(-1), None, 1e-5)
    return norm.batch_norm_backward(out, x3, mean, rstd, W4.reshape(-1), True, True, True)


if __name__ == "__main__":
    fn = globals()[sys.argv[1]]
    for _ in range(int(sys.argv[2])):
        fn()
