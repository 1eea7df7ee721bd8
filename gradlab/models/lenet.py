"""LeNet-5 (LeCun et al., 1998) for 28x28 grey-scale digits, with ReLU and max pooling.

    input   N x 1 x 28 x 28
    conv 6@5x5, pad 2 -> ReLU -> maxpool 2     N x 6 x 14 x 14
    conv 16@5x5       -> ReLU -> maxpool 2     N x 16 x 5 x 5
    conv 120@5x5      -> ReLU                  N x 120 x 1 x 1
    flatten -> Linear 84 -> ReLU -> Linear 10  N x 10 logits

61,706 parameters.
"""
from .. import nn

__all__ = ["LeNet5"]


class LeNet5(nn.Module):
    """``features`` turns an image into 120 numbers; ``classifier`` turns those into 10 class logits."""

    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2),
            nn.Conv2d(6, 16, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2),
            nn.Conv2d(16, 120, kernel_size=5),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))
