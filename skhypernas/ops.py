"""Torch modules for the DARTS candidate operations.

Every operation maps ``channels`` to ``channels`` at stride 1, or halves the spatial
size (rounding up) at stride 2, for any image size including a 1-pixel-high strip.
Pools end in a parameter-free batch norm, as in DARTS' search network, so that their
output scale matches the convolutions' when the mixed operation weighs them.
"""

import torch
import torch.nn.functional as F
from torch import nn

_CPU_CAPABILITY = torch.backends.cpu.get_cpu_capability()


class BatchNorm(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` that trains channels-last input through NCHW when that is faster.

    torch 2.14's multithreaded channels-last batch norm is slow in training when the
    channels fill no whole AVX-512 vector: slower there than the round trip through
    NCHW and back (docs/benchmarks.md, "Derived networks and channels-last on the
    CPU", Batch norm). The same arithmetic either way.
    """

    def forward(self, x):
        if (
            self.training
            and x.shape[1] < 16
            and x.device.type == "cpu"
            and torch.get_num_threads() > 1
            and not x.is_contiguous()
            and x.is_contiguous(memory_format=torch.channels_last)
        ):
            return super().forward(x.contiguous()).contiguous(memory_format=torch.channels_last)
        return super().forward(x)


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, kernel_size, stride, padding, affine):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel_size, stride, padding, bias=False),
            BatchNorm(c_out, affine=affine),
        )


class _NamedParts(nn.Module):
    """An operation whose parts have names, so that :mod:`~skhypernas.fanout` can read
    them (``op.depthwise``, ``op.bn``) and an edit cannot silently break the fused path.

    Files written before the parts had names (version 1, when the operations were
    ``nn.Sequential``) stored them as ``0``, ``1``, ...; ``_LEGACY_NAMES`` maps those
    keys, so such files still load.
    """

    _version = 2
    _LEGACY_NAMES = {}

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args, **kwargs):
        if local_metadata.get("version", 1) < 2:
            # Children load after their parent, so they find their keys renamed.
            for key in [k for k in state_dict if k.startswith(prefix)]:
                head, _, rest = key[len(prefix) :].partition(".")
                if head in self._LEGACY_NAMES:
                    state_dict[f"{prefix}{self._LEGACY_NAMES[head]}.{rest}"] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args, **kwargs)


def conv2d(x, weight, stride=1, padding=0, dilation=1, groups=1, bias=None):
    """``F.conv2d`` (square int settings), in the form the CPU runs fastest.

    A convolution whose stride equals its dilation, or a 1x1 one at stride 2 (with
    even padding), reads only the even rows and columns: it is the undilated stride-1
    convolution of that subsampled image, the same products and sums on a quarter of
    the input. On channels-last CPU tensors this form avoids two torch 2.14 kernels:
    dilated convolutions at stride 2, which run slower than at stride 1, and 1x1
    convolutions at stride 2, whose backward pass corrupts the heap on 56x56 and
    larger inputs (docs/benchmarks.md, "Derived networks and channels-last on the
    CPU", Strided convolutions).
    """
    k = weight.shape[-1]
    if stride == 2 and padding % 2 == 0 and (dilation == 2 or k == 1):
        x, stride, padding, dilation = x[:, :, ::2, ::2], 1, padding // 2, 1
    return F.conv2d(x, weight, bias, stride, padding, dilation, groups)


def _conv(conv, x):
    """An ``nn.Conv2d`` module through :func:`conv2d`."""
    return conv2d(x, conv.weight, conv.stride[0], conv.padding[0], conv.dilation[0], conv.groups, conv.bias)


class DilConv(_NamedParts):
    """ReLU, depthwise (dilated) convolution, pointwise convolution, batch norm."""

    _LEGACY_NAMES = {"1": "depthwise", "2": "pointwise", "3": "bn"}

    def __init__(self, channels, kernel_size, stride, dilation, affine):
        super().__init__()
        padding = dilation * (kernel_size - 1) // 2
        self.relu = nn.ReLU(inplace=False)
        self.depthwise = nn.Conv2d(
            channels, channels, kernel_size, stride, padding, dilation, groups=channels, bias=False
        )
        self.pointwise = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn = BatchNorm(channels, affine=affine)

    def forward(self, x):
        return self.bn(self.pointwise(_conv(self.depthwise, self.relu(x))))

    def fold_batch_norms_(self):
        """Fold the batch norm into the pointwise convolution (in place, eval mode only)."""
        from .inference import fold_into

        fold_into(self.pointwise, self.bn)
        self.bn = nn.Identity()


class SepConv(_NamedParts):
    """Two stacked depthwise-separable convolutions; only the ``first`` one strides."""

    _LEGACY_NAMES = {"0": "first", "1": "second"}

    def __init__(self, channels, kernel_size, stride, affine):
        super().__init__()
        self.first = DilConv(channels, kernel_size, stride, 1, affine)
        self.second = DilConv(channels, kernel_size, 1, 1, affine)

    def forward(self, x):
        return self.second(self.first(x))


def _onednn_pooling(x):
    """Whether ``x`` takes oneDNN's pooling (see :func:`_pool`)."""
    return (
        _CPU_CAPABILITY.startswith("AVX512") and torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
    )


def _pool(pool, x, *args, **kwargs):
    """``pool(x, ...)`` through the fastest CPU kernel for ``x``'s layout.

    ATen pools channels-last tensors well on every CPU, but NCHW ones far slower than
    the memory traffic needs (docs/benchmarks.md, "Derived networks and channels-last
    on the CPU", Layout). NCHW float32 tensors therefore go to oneDNN where it has
    AVX-512 kernels, and elsewhere through channels-last and back (oneDNN's AVX2 NCHW
    pooling is slower still than ATen's). Outputs are identical; gradients differ only
    in summation order. Traced graphs (TorchScript and ONNX export) keep ATen's
    pooling so that they stay portable.
    """
    channels_last = x.is_contiguous(memory_format=torch.channels_last)
    if x.device.type != "cpu" or x.dtype != torch.float32 or channels_last or torch.jit.is_tracing():
        return pool(x, *args, **kwargs)
    if _onednn_pooling(x):
        return pool(x.contiguous().to_mkldnn(), *args, **kwargs).to_dense()
    return pool(x.contiguous(memory_format=torch.channels_last), *args, **kwargs).contiguous()


def max_pool_3x3(x, stride):
    """3x3 max pool with padding 1, as ``F.max_pool2d(x, 3, stride, 1)``."""
    return _pool(F.max_pool2d, x, 3, stride, 1)


def avg_pool_3x3(x, stride):
    """3x3 average pool over the window's pixels inside the image (padding excluded)."""
    return _pool(F.avg_pool2d, x, 3, stride, 1, count_include_pad=False)


class Pool3x3(nn.Module):
    """``max_pool_3x3`` or ``avg_pool_3x3`` as a module."""

    def __init__(self, kind, stride):
        super().__init__()
        self.kind, self.stride = kind, stride
        self.pool = max_pool_3x3 if kind == "max" else avg_pool_3x3

    def forward(self, x):
        return self.pool(x, self.stride)

    def extra_repr(self):
        return f"kind={self.kind!r}, stride={self.stride}"


class Pool(_NamedParts):
    """A 3x3 pool and its parameter-free batch norm."""

    _LEGACY_NAMES = {"1": "bn"}

    def __init__(self, kind, channels, stride):
        super().__init__()
        self.pool = Pool3x3(kind, stride)
        self.bn = BatchNorm(channels, affine=False)

    def forward(self, x):
        return self.bn(self.pool(x))


class _CatChannels(torch.autograd.Function):
    @staticmethod
    def forward(ctx, *tensors):
        ctx.sizes = [t.shape[1] for t in tensors]
        return torch.cat(tensors, dim=1)

    @staticmethod
    def backward(ctx, grad):
        channels_last = grad.is_contiguous(memory_format=torch.channels_last)
        layout = torch.channels_last if channels_last else torch.contiguous_format
        return tuple(g.contiguous(memory_format=layout) for g in grad.split(ctx.sizes, dim=1))


def cat_channels(tensors):
    """``torch.cat(tensors, dim=1)`` whose backward hands each input a dense gradient.

    Autograd's own gives them channel slices of one gradient, which in channels-last
    are strided along the innermost dimension, and batch norm's backward runs far
    slower on such a slice than on a copy of it (docs/benchmarks.md, "Derived networks
    and channels-last on the CPU", Concatenation).
    """
    if not torch.is_grad_enabled() or torch.jit.is_tracing():  # traced graphs stay portable
        return torch.cat(tensors, dim=1)
    return _CatChannels.apply(*tensors)


class FactorizedReduce(nn.Module):
    """Halve the spatial size with two 1x1 stride-2 convolutions on offset grids."""

    def __init__(self, c_in, c_out, affine):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = BatchNorm(c_out, affine=affine)

    def forward(self, x):
        x = self.relu(x)
        # Padding before the one-pixel shift keeps both grids the same size for odd
        # (and one-pixel) inputs.
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(cat_channels([_conv(self.conv_1, x), _conv(self.conv_2, shifted)]))

    def fold_batch_norms_(self):
        """Fold the batch norm into both convolutions, each its half of the channels
        (in place, eval mode only)."""
        from .inference import fold_into

        half = self.conv_1.out_channels
        fold_into(self.conv_1, self.bn, slice(None, half))
        fold_into(self.conv_2, self.bn, slice(half, None))
        self.bn = nn.Identity()


class Zero(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


def make_op(name, channels, stride, affine):
    """The module of candidate operation ``name`` at the given width and stride."""
    if name == "none":
        return Zero(stride)
    if name == "max_pool_3x3":
        return Pool("max", channels, stride)
    if name == "avg_pool_3x3":
        return Pool("avg", channels, stride)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(channels, channels, affine)
    if name == "sep_conv_3x3":
        return SepConv(channels, 3, stride, affine)
    if name == "sep_conv_5x5":
        return SepConv(channels, 5, stride, affine)
    if name == "dil_conv_3x3":
        return DilConv(channels, 3, stride, 2, affine)
    if name == "dil_conv_5x5":
        return DilConv(channels, 5, stride, 2, affine)
    raise ValueError(f"unknown operation {name!r}")


class Stem(nn.Sequential):
    def __init__(self, in_channels, out_channels):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            BatchNorm(out_channels),
        )


def make_preprocess(spec, affine):
    """The two modules that bring a cell's input states to its width."""
    pre0 = (
        FactorizedReduce(spec.channels_prev_prev, spec.channels, affine)
        if spec.reduction_prev
        else ReLUConvBN(spec.channels_prev_prev, spec.channels, 1, 1, 0, affine)
    )
    return pre0, ReLUConvBN(spec.channels_prev, spec.channels, 1, 1, 0, affine)


class Classifier(nn.Sequential):
    """Global average pooling and a linear layer: the head of every network."""

    def __init__(self, channels, n_classes):
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, n_classes))
