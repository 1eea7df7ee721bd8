"""Character LSTM: Embedding(65, 64), LSTM(64, 128, 2 layers, batch_first), Linear(128, 65);
sequence 64, batch 32, Adam."""
from . import Workload, linear_macs, next_token_loss, text, training_flops

VOCAB, SEQ, BATCH, EMBED, HIDDEN = 65, 64, 32, 64, 128


def build(torch):
    nn = torch.nn

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, EMBED)
            self.lstm = nn.LSTM(EMBED, HIDDEN, num_layers=2, batch_first=True)
            self.head = nn.Linear(HIDDEN, VOCAB)

        def forward(self, idx):
            out, _ = self.lstm(self.embed(idx))
            return self.head(out)

    model = CharLSTM()
    return model, torch.optim.Adam(model.parameters(), lr=2e-3)


TOKENS = BATCH * SEQ
# each layer's four gates: (input + hidden) x 4*hidden per token
MACS = (linear_macs(TOKENS, EMBED + HIDDEN, 4 * HIDDEN) + linear_macs(TOKENS, 2 * HIDDEN, 4 * HIDDEN)
        + linear_macs(TOKENS, HIDDEN, VOCAB))
WORKLOADS = [Workload("lstm", "character LSTM, 2x128, seq 64, batch 32, Adam", build, text(VOCAB, BATCH, SEQ), TOKENS,
                      "tokens", training_flops(MACS), next_token_loss)]
