"""Tiny transformer LM: Embedding(65, 128) + learned positions, 2 TransformerEncoderLayer(128, 4 heads,
feed-forward 512, batch_first, causal mask), Linear(128, 65); sequence 64, batch 32, AdamW."""
from . import Workload, linear_macs, next_token_loss, text, training_flops

VOCAB, SEQ, BATCH, D, HEADS, FF, LAYERS = 65, 64, 32, 128, 4, 512, 2


def build(torch):
    nn = torch.nn

    class TinyLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.tokens = nn.Embedding(VOCAB, D)
            self.positions = nn.Embedding(SEQ, D)
            layer = nn.TransformerEncoderLayer(D, HEADS, FF, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
            self.head = nn.Linear(D, VOCAB)
            self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(SEQ))
            self.register_buffer("where", torch.arange(SEQ))

        def forward(self, idx):
            h = self.tokens(idx) + self.positions(self.where)
            return self.head(self.encoder(h, mask=self.mask, is_causal=True))

    model = TinyLM()
    return model, torch.optim.AdamW(model.parameters(), lr=1e-3)


TOKENS = BATCH * SEQ
# per layer: q, k, v and output projections, the feed-forward pair, then scores and their weighted sum
LAYER_MACS = (linear_macs(TOKENS, D, 4 * D) + 2 * linear_macs(TOKENS, D, FF)
              + 2 * BATCH * SEQ * SEQ * D)
MACS = LAYERS * LAYER_MACS + linear_macs(TOKENS, D, VOCAB)
WORKLOADS = [Workload("transformer", "tiny transformer LM, 2x(128, 4 heads), seq 64, batch 32, AdamW", build,
                      text(VOCAB, BATCH, SEQ), TOKENS, "tokens", training_flops(MACS), next_token_loss)]
