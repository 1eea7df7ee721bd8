"""``F.flatten`` (as ``nn.Flatten``): the shape op."""
from ...ops import shape as _shape

__all__ = ["flatten"]


def flatten(input, start_dim=0, end_dim=-1):
    return _shape.flatten(input, start_dim, end_dim)
