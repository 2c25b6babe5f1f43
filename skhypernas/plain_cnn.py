"""The plain CNN a user would write instead of searching: the reference to beat."""

from torch import nn


class PlainCNN(nn.Sequential):
    """Conv3x3-BN-ReLU twice at ``width``, max-pool, twice at ``2 * width``, max-pool,
    global average pooling and a linear layer.

    At ``width=16`` it has 16,794 parameters and at 32 65,834 (one input channel, ten
    classes): the references of ``benchmarks/bench_derived.py``.

    Parameters
    ----------
    width : int
    in_channels : int, default=1
    n_classes : int, default=10
    """

    def __init__(self, width, in_channels=1, n_classes=10):
        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        super().__init__(
            *block(in_channels, width),
            *block(width, width),
            nn.MaxPool2d(2),
            *block(width, 2 * width),
            *block(2 * width, 2 * width),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(2 * width, n_classes),
        )
