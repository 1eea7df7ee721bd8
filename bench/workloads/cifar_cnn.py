"""CIFAR-shaped CNN: 3x32x32, [conv3x3, BatchNorm, ReLU] x2 + max-pool at 32, 64 and 128 channels,
global average pool, linear; SGD with momentum, batch 64."""
from . import Workload, classification_loss, conv_macs, linear_macs, training_flops

BATCH = 64
STAGES = [(3, 32, 32), (32, 64, 16), (64, 128, 8)]     # (in channels, out channels, side)


def build(torch):
    nn = torch.nn
    layers = []
    for cin, cout, _ in STAGES:
        for c in (cin, cout):
            layers += [nn.Conv2d(c, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        layers.append(nn.MaxPool2d(2))
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))
    return model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


def batch(rng):
    return rng.standard_normal((BATCH, 3, 32, 32), dtype="float32"), rng.integers(0, 10, BATCH)


MACS = sum(conv_macs(BATCH, cin, cout, 3, side, side) + conv_macs(BATCH, cout, cout, 3, side, side)
           for cin, cout, side in STAGES) + linear_macs(BATCH, 128, 10)
WORKLOADS = [Workload("cnn", "CIFAR-shaped CNN, BatchNorm, SGD momentum, batch 64", build, batch, BATCH, "images",
                      training_flops(MACS), classification_loss)]
