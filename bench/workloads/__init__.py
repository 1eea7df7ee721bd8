"""The workloads of bench/suite.py, each written once as PyTorch code.

A workload's ``build(torch)`` receives the library module, ``gradlab`` or
``torch``, so the same lines build the same model on either engine.  Its data
comes from NumPy (``batch(rng)``), the same arrays for both, and
``same_start`` gives both engines the same initial weights, so the first
losses of the two agree (up to dropout's random masks).

FLOPs are the model's multiply-adds in its matrix products and convolutions,
counted as 2 FLOPs each; a training step counts 3 times the forward pass
(forward, input gradient, weight gradient), as model-FLOP utilisation
figures usually do.  Elementwise work, normalisation and the optimizer are
not counted: they are what keeps a step from reaching the GEMM rate.
"""
import math
import zlib
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np


@dataclass(frozen=True)
class Workload:
    name: str                   # the key for --workloads
    title: str                  # the table's row
    build: Callable             # build(torch) -> (model, optimizer), optimizer None for inference
    batch: Callable             # batch(rng) -> tuple of NumPy arrays: inputs, then the target if any
    items: int                  # images or tokens per step
    unit: str                   # "images" or "tokens"
    flops: float                # FLOPs per step (see above)
    loss: Optional[Callable] = None   # loss(torch, model, *batch) -> scalar; None: inference under no_grad


def linear_macs(rows, fan_in, fan_out):
    return rows * fan_in * fan_out


def conv_macs(batch, cin, cout, kernel, out_h, out_w):
    return batch * cout * cin * kernel * kernel * out_h * out_w


def training_flops(macs):
    return 3 * 2 * macs


def classification_loss(torch, model, x, y):
    return torch.nn.functional.cross_entropy(model(x), y)


def next_token_loss(torch, model, idx, target):
    logits = model(idx)
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))


def text(vocab, batch, seq):
    """batch(rng) for a language model: random characters, and the same shifted by one as the target."""
    def draw(rng):
        chars = rng.integers(0, vocab, (batch, seq + 1))
        return chars[:, :-1].copy(), chars[:, 1:].copy()
    return draw


def same_start(torch, model, seed=0):
    """The same initial weights on either engine: each matrix or kernel uniform in
    +-1/sqrt(fan_in) from a NumPy generator seeded by (seed, parameter name), each bias zero,
    other vectors (normalisation weights) as the engine built them."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            shape = tuple(p.shape)
            if len(shape) >= 2:
                rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
                bound = 1 / math.sqrt(math.prod(shape[1:]))
                values = rng.uniform(-bound, bound, shape)
            elif "bias" in name.rsplit(".", 1)[-1]:      # bias, in_proj_bias, bias_ih_l0
                values = np.zeros(shape)
            else:
                continue
            p.copy_(torch.from_numpy(values.astype(np.float32)))


def all_workloads():
    """Every workload by name, in the table's order."""
    from . import char_lstm, cifar_cnn, lenet, mlp, tiny_transformer
    found = {}
    for module in (mlp, lenet, cifar_cnn, char_lstm, tiny_transformer):
        for w in module.WORKLOADS:
            found[w.name] = w
    order = ["mlp", "lenet", "cnn", "lstm", "transformer", "infer1", "infer1024"]
    return {name: found[name] for name in order}
