"""``Dropout`` and ``Dropout2d``: while training, zero random elements (or whole channels) and scale the
rest by 1 / (1 - p); in eval mode, the identity.  ``AlphaDropout`` and ``FeatureAlphaDropout`` do the same
for SELU networks, keeping the mean and variance of their input."""
from .. import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout2d", "AlphaDropout", "FeatureAlphaDropout"]


class Dropout(Module):
    """Each element is zeroed with probability p (and the rest scaled by 1 / (1 - p)) while training."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Whole channels of an (N, C, H, W) input are zeroed with probability p while training."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)


class AlphaDropout(Dropout):
    """While training, elements become SELU's negative saturation value with probability p, then an affine
    map restores a zero-mean unit-variance input's statistics."""

    def forward(self, input):
        return F.alpha_dropout(input, self.p, self.training, self.inplace)


class FeatureAlphaDropout(Dropout):
    """Alpha dropout of whole channels of an (N, C, *) input."""

    def forward(self, input):
        return F.feature_alpha_dropout(input, self.p, self.training, self.inplace)
