"""LeNet-5 (gradlab.models.LeNet5's layers): training with Adam at batch 256, inference at batch 1 and 1024."""
from . import Workload, classification_loss, conv_macs, linear_macs, training_flops


def lenet5(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 120, 5), nn.ReLU(),
        nn.Flatten(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def build_training(torch):
    model = lenet5(torch)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def build_inference(torch):
    return lenet5(torch).eval(), None


def images(n, labels=True):
    def batch(rng):
        x = rng.standard_normal((n, 1, 28, 28), dtype="float32")
        return (x, rng.integers(0, 10, n)) if labels else (x,)
    return batch


def forward_macs(n):
    return (conv_macs(n, 1, 6, 5, 28, 28) + conv_macs(n, 6, 16, 5, 10, 10) + conv_macs(n, 16, 120, 5, 1, 1)
            + linear_macs(n, 120, 84) + linear_macs(n, 84, 10))


WORKLOADS = [
    Workload("lenet", "LeNet-5, Adam, batch 256", build_training, images(256), 256, "images",
             training_flops(forward_macs(256)), classification_loss),
    Workload("infer1", "LeNet-5 inference, no_grad, batch 1", build_inference, images(1, False), 1, "images",
             2 * forward_macs(1)),
    Workload("infer1024", "LeNet-5 inference, no_grad, batch 1024", build_inference, images(1024, False), 1024,
             "images", 2 * forward_macs(1024)),
]
