"""``ChannelShuffle``: interleave the channels of g groups (ShuffleNet's mixing between grouped convolutions)."""
from .. import functional as F
from .module import Module

__all__ = ["ChannelShuffle"]


class ChannelShuffle(Module):
    """Channels of an (N, C, *) input, seen as g groups of C/g, reordered to C/g groups of g."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
