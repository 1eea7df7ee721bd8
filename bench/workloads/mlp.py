"""MLP 784-256-256-10 with ReLU, Adam, batch 128."""
from . import Workload, classification_loss, linear_macs, training_flops

BATCH = 128


def build(torch):
    nn = torch.nn
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def batch(rng):
    return rng.standard_normal((BATCH, 784), dtype="float32"), rng.integers(0, 10, BATCH)


MACS = linear_macs(BATCH, 784, 256) + linear_macs(BATCH, 256, 256) + linear_macs(BATCH, 256, 10)
WORKLOADS = [Workload("mlp", "MLP 784-256-256-10, ReLU, Adam, batch 128", build, batch, BATCH, "images",
                      training_flops(MACS), classification_loss)]
