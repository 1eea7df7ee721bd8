"""Ready-made models (as ``torchvision.models``): the flagship ``LeNet5``."""
from .lenet import LeNet5

__all__ = ["LeNet5"]
