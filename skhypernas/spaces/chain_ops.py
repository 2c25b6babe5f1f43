"""The chain space's operations: one weight tensor at the largest width serves every width.

Each operation maps ``a`` input channels to ``b`` output channels at stride 1. It holds
its weights at the largest widths it can take (``a_max``, ``b_max``) and runs in three
forms that agree exactly where they overlap:

- :meth:`full`: at the largest widths, for the supernet's mixtures; the output's
  channels past a width are cut by a mask (FBNetV2's channel masks), so one convolution
  serves every width;
- :meth:`sliced`: at widths ``(a, b)`` with the first ``a``/``b`` channels of every
  tensor (once-for-all's elastic width), for discrete steps, at a plain network's cost;
- :meth:`derive`/:meth:`build`: the plain layers of a derived network, with copies of
  those slices or with fresh weights.

Channels past the active width are exactly zero at every step of :meth:`full` (batch
norms would turn a zero channel into its bias: the masks come after them), which is
what makes the supernet at a one-hot choice equal to the derived network.
"""

import torch
import torch.nn.functional as F
from torch import nn

#: Channels of an inverted bottleneck's hidden layer per output channel.
EXPANSION = 3


def _bn(x, bn, channels):
    """``bn`` restricted to its first ``channels`` channels (statistics updated in place)."""
    return F.batch_norm(
        x,
        None if bn.running_mean is None else bn.running_mean[:channels],
        None if bn.running_var is None else bn.running_var[:channels],
        bn.weight[:channels],
        bn.bias[:channels],
        bn.training or bn.running_mean is None,
        0.0 if bn.momentum is None else bn.momentum,
        bn.eps,
    )


def _conv(x, conv, out_channels, in_channels, groups=1):
    """``conv`` on its first ``in_channels`` inputs and ``out_channels`` outputs."""
    weight = conv.weight[:out_channels] if groups > 1 else conv.weight[:out_channels, :in_channels]
    return F.conv2d(x, weight, None, 1, conv.padding, conv.dilation, groups)


def _copy_conv(conv, out_channels, in_channels, groups=1):
    new = nn.Conv2d(in_channels, out_channels, conv.kernel_size, padding=conv.padding, groups=groups, bias=False)
    weight = conv.weight[:out_channels] if groups > 1 else conv.weight[:out_channels, :in_channels]
    new.weight = nn.Parameter(weight.detach().clone())
    return new


def _copy_bn(bn, channels):
    new = nn.BatchNorm2d(channels)
    with torch.no_grad():
        for name in ("weight", "bias"):
            getattr(new, name).copy_(getattr(bn, name)[:channels])
        for name in ("running_mean", "running_var"):
            getattr(new, name).copy_(getattr(bn, name)[:channels])
        new.num_batches_tracked.copy_(bn.num_batches_tracked)
    return new


class Conv3x3(nn.Module):
    """A 3x3 convolution, batch norm, ReLU: the plain CNN's layer."""

    def __init__(self, a_max, b_max):
        super().__init__()
        self.conv = nn.Conv2d(a_max, b_max, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(b_max)

    def full(self, x, hidden_mask=None):
        return F.relu(self.bn(self.conv(x)))

    def sliced(self, x, a, b):
        return F.relu(_bn(_conv(x, self.conv, b, a), self.bn, b))

    def derive(self, a, b):
        return [_copy_conv(self.conv, b, a), _copy_bn(self.bn, b), nn.ReLU(inplace=True)]

    @staticmethod
    def build(a, b):
        return [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]


class SepConv(nn.Module):
    """A depthwise ``k x k`` convolution, a pointwise one, batch norm, ReLU."""

    def __init__(self, a_max, b_max, kernel_size):
        super().__init__()
        self.kernel_size = kernel_size
        self.depthwise = nn.Conv2d(a_max, a_max, kernel_size, padding=kernel_size // 2, groups=a_max, bias=False)
        self.pointwise = nn.Conv2d(a_max, b_max, 1, bias=False)
        self.bn = nn.BatchNorm2d(b_max)

    def full(self, x, hidden_mask=None):
        return F.relu(self.bn(self.pointwise(self.depthwise(x))))

    def sliced(self, x, a, b):
        x = _conv(x, self.depthwise, a, a, groups=a)
        return F.relu(_bn(_conv(x, self.pointwise, b, a), self.bn, b))

    def derive(self, a, b):
        return [
            _copy_conv(self.depthwise, a, a, groups=a),
            _copy_conv(self.pointwise, b, a),
            _copy_bn(self.bn, b),
            nn.ReLU(inplace=True),
        ]


class InvertedBottleneck(nn.Module):
    """MobileNetV2's block without its residual (widths differ): a pointwise expansion to
    ``EXPANSION * b`` channels, batch norm, ReLU, a depthwise 3x3, batch norm, ReLU, a
    linear pointwise projection to ``b``, batch norm. Its hidden width follows its
    output width, so a hidden mask travels with the output's."""

    def __init__(self, a_max, b_max):
        super().__init__()
        hidden = EXPANSION * b_max
        self.expand = nn.Conv2d(a_max, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.depthwise = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False)
        self.bn2 = nn.BatchNorm2d(hidden)
        self.project = nn.Conv2d(hidden, b_max, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(b_max)

    def full(self, x, hidden_mask=None):
        h = F.relu(self.bn1(self.expand(x)))
        if hidden_mask is not None:
            h = h * hidden_mask
        h = F.relu(self.bn2(self.depthwise(h)))
        if hidden_mask is not None:
            h = h * hidden_mask
        return self.bn3(self.project(h))

    def sliced(self, x, a, b):
        h = EXPANSION * b
        x = F.relu(_bn(_conv(x, self.expand, h, a), self.bn1, h))
        x = F.relu(_bn(_conv(x, self.depthwise, h, h, groups=h), self.bn2, h))
        return _bn(_conv(x, self.project, b, h), self.bn3, b)

    def derive(self, a, b):
        h = EXPANSION * b
        return [
            _copy_conv(self.expand, h, a),
            _copy_bn(self.bn1, h),
            nn.ReLU(inplace=True),
            _copy_conv(self.depthwise, h, h, groups=h),
            _copy_bn(self.bn2, h),
            nn.ReLU(inplace=True),
            _copy_conv(self.project, b, h),
            _copy_bn(self.bn3, b),
        ]

    @staticmethod
    def build(a, b):
        h = EXPANSION * b
        return [
            nn.Conv2d(a, h, 1, bias=False),
            nn.BatchNorm2d(h),
            nn.ReLU(inplace=True),
            nn.Conv2d(h, h, 3, padding=1, groups=h, bias=False),
            nn.BatchNorm2d(h),
            nn.ReLU(inplace=True),
            nn.Conv2d(h, b, 1, bias=False),
            nn.BatchNorm2d(b),
        ]


def op_parameters(name, a, b):
    """Trainable parameters of operation ``name`` from ``a`` to ``b`` channels (0 for ``skip``)."""
    if name == "skip":
        return 0
    if name == "conv_3x3":
        return 9 * a * b + 2 * b
    if name.startswith("sep_conv_"):
        k = int(name[-1])
        return k * k * a + a * b + 2 * b
    if name == "inverted_bottleneck_3x3":
        h = EXPANSION * b
        return a * h + 2 * h + 9 * h + 2 * h + h * b + 2 * b
    raise ValueError(f"unknown chain operation {name!r}")


def op_macs(name, a, b, pixels):
    """Multiply-accumulates per image of operation ``name``'s convolutions at ``pixels`` positions."""
    if name == "skip":
        return 0
    if name == "conv_3x3":
        return 9 * a * b * pixels
    if name.startswith("sep_conv_"):
        k = int(name[-1])
        return (k * k * a + a * b) * pixels
    if name == "inverted_bottleneck_3x3":
        h = EXPANSION * b
        return (a * h + 9 * h + h * b) * pixels
    raise ValueError(f"unknown chain operation {name!r}")


def build_layers(name, a, b):
    """Fresh plain layers of operation ``name`` from ``a`` to ``b`` channels (none for ``skip``)."""
    if name == "skip":
        return []
    if name == "conv_3x3":
        return Conv3x3.build(a, b)
    if name.startswith("sep_conv_"):
        k = int(name[-1])
        depthwise = nn.Conv2d(a, a, k, padding=k // 2, groups=a, bias=False)
        return [depthwise, nn.Conv2d(a, b, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]
    if name == "inverted_bottleneck_3x3":
        return InvertedBottleneck.build(a, b)
    raise ValueError(f"unknown chain operation {name!r}")


def make_op(name, a_max, b_max):
    """The operation ``name`` of :data:`~skhypernas.spaces.chain.OPERATIONS` at the largest widths."""
    if name == "conv_3x3":
        return Conv3x3(a_max, b_max)
    if name == "sep_conv_3x3":
        return SepConv(a_max, b_max, 3)
    if name == "sep_conv_5x5":
        return SepConv(a_max, b_max, 5)
    if name == "inverted_bottleneck_3x3":
        return InvertedBottleneck(a_max, b_max)
    raise ValueError(f"unknown chain operation {name!r}")
