"""All mixed edges that leave one state, computed together.

This is the search's hot loop, and it computes exactly what summing every edge's
:class:`~skhypernas.supernet.MixedEdge` computes, from the same parameters; it is
only organised for the CPU. A straightforward supernet spends most of a step in
many small depthwise convolutions, whose backward pass is far slower than their
forward, and in pools that every edge recomputes on the same input. Here:

* the same stage of one kind of convolution on every edge from the state runs as
  one call (four calls for the first stages of the four convolutional operations,
  two grouped ones for the second stages of the separable ones);
* where the CPU runs it faster (few channels, small kernels), a depthwise
  convolution and the pointwise one after it run as a single dense convolution with
  weight ``pw[o, i] * dw[i]``: nothing non-linear sits between them, and dense
  convolutions are what the CPU libraries do best -- above all their backward pass,
  which for depthwise ones is many times slower than the forward;
* pools, their parameter-free batch norm and the shared ReLU run once per state,
  not once per edge;
* batch norms of several edges run as one over the concatenated channels, and
  each edge's running statistics are updated as its own module would.

Gradients reach the original parameters through the weight composition, so the
optimiser, the checkpoint and the derived network see the usual modules.
"""

import torch
import torch.nn.functional as F

from .ops import avg_pool_3x3, max_pool_3x3
from .search_space import PRIMITIVES

_K = {name: k for k, name in enumerate(PRIMITIVES)}
_CONVOLUTIONS = ("sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
_SEPARABLE = ("sep_conv_3x3", "sep_conv_5x5")

#: Compose depthwise and pointwise into one dense convolution when
#: ``channels * kernel_height * kernel_width`` is at most this: where dense wins on
#: the CPU (docs/benchmarks.md, "Constants chosen by measurement").
DENSE_MAX = 576


def _first_stage(edge, name):
    op = edge.ops[_K[name]]
    return op.first if name in _SEPARABLE else op


def _dil_convs(x, convs, shared_input):
    """ReLU'd ``x`` through the depthwise, pointwise and batch-norm layers of ``convs``.

    ``convs`` are DilConv modules of one shape. With ``shared_input`` they all read
    ``x`` (N, C, H, W); otherwise convolution ``e`` reads channels ``e*C .. (e+1)*C``.
    Returns (N, len(convs) * C, H', W').
    """
    m = len(convs)
    depthwise = torch.cat([c.depthwise.weight for c in convs])  # (m*C, 1, k, k)
    pointwise = torch.cat([c.pointwise.weight for c in convs])  # (m*C, C, 1, 1)
    shape = convs[0].depthwise
    channels, k = shape.in_channels, shape.kernel_size
    stride, padding, dilation = shape.stride, shape.padding, shape.dilation
    if channels * k[0] * k[1] <= DENSE_MAX:
        dense = pointwise * depthwise.view(m, 1, channels, *k).expand(m, channels, channels, *k).flatten(0, 1)
        out = F.conv2d(x, dense, None, stride, padding, dilation, 1 if shared_input else m)
    else:
        if shared_input:  # a depthwise convolution with m kernels per channel, ordered (channel, edge)
            depthwise = depthwise.unflatten(0, (m, channels)).transpose(0, 1).flatten(0, 1)
        out = F.conv2d(x, depthwise, None, stride, padding, dilation, channels if shared_input else m * channels)
        if shared_input:
            out = out.unflatten(1, (channels, m)).transpose(1, 2).flatten(1, 2)
        out = F.conv2d(out, pointwise, groups=m)
    return batch_norm_stack(out, [c.bn for c in convs])


def batch_norm_stack(x, norms):
    """Each of ``norms`` on its own slice of ``x``'s channels, as one call."""
    first = norms[0]
    mean = torch.cat([n.running_mean for n in norms])
    var = torch.cat([n.running_var for n in norms])
    weight = torch.cat([n.weight for n in norms]) if first.affine else None
    bias = torch.cat([n.bias for n in norms]) if first.affine else None
    out = F.batch_norm(x, mean, var, weight, bias, first.training, first.momentum, first.eps)
    if first.training:
        with torch.no_grad():
            sizes = [n.num_features for n in norms]
            for n, m, v in zip(norms, mean.split(sizes), var.split(sizes)):
                n.running_mean.copy_(m)
                n.running_var.copy_(v)
                n.num_batches_tracked.add_(1)
    return out


def _shared_batch_norm(x, norms):
    """Parameter-free batch norms of several edges on the same input: (N, 1|m, C, H, W)."""
    first = norms[0]
    if first.training:
        # The batch statistics come back from the normalisation itself, not from a
        # second pass over x: var = invstd^-2 - eps, made unbiased as BatchNorm2d does.
        out, mean, invstd = torch.native_batch_norm(x, None, None, None, None, True, 0.0, first.eps)
        with torch.no_grad():
            if x.dtype == first.running_mean.dtype:
                count = x.numel() // x.shape[1]
                var = (invstd.pow(-2) - first.eps) * (count / max(count - 1, 1))
            else:  # bfloat16 under autocast: its statistics are too coarse to keep
                statistics = x.to(first.running_mean.dtype)
                mean, var = statistics.mean((0, 2, 3)), statistics.var((0, 2, 3))
            for n in norms:
                n.running_mean.lerp_(mean, first.momentum)
                n.running_var.lerp_(var, first.momentum)
                n.num_batches_tracked.add_(1)
        return out[:, None]
    mean = torch.stack([n.running_mean for n in norms])[None, :, :, None, None]
    scale = torch.stack([n.running_var for n in norms]).add(first.eps).rsqrt()[None, :, :, None, None]
    return (x[:, None] - mean) * scale


def _skip(x, edges, stride):
    if stride == 1:
        return x[:, None]
    # FactorizedReduce of every edge: two offset 1x1 stride-2 convolutions each.
    reduces = [edge.ops[_K["skip_connect"]] for edge in edges]
    x = F.relu(x)
    shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
    a = F.conv2d(x, torch.cat([r.conv_1.weight for r in reduces]), stride=2)
    b = F.conv2d(shifted, torch.cat([r.conv_2.weight for r in reduces]), stride=2)
    m = len(edges)
    out = torch.cat([a.unflatten(1, (m, -1)), b.unflatten(1, (m, -1))], dim=2).flatten(1, 2)
    return batch_norm_stack(out, [r.bn for r in reduces]).unflatten(1, (m, -1))


def fan_out(x, edges, weights, stride):
    """Outputs of ``edges`` (all reading state ``x``) under their mixture weights.

    Parameters
    ----------
    x : tensor of shape (N, C, H, W)
    edges : list of MixedEdge
    weights : tensor of shape (len(edges), n_ops) or (N, len(edges), n_ops)
    stride : int

    Returns
    -------
    tensor of shape (N, len(edges), C, H', W')
    """
    m = len(edges)
    w = weights if weights.dim() == 3 else weights[None]
    w = w[..., None, None, None]  # (N|1, m, n_ops, 1, 1, 1)

    def weighted(name, out):
        return w[:, :, _K[name]] * out

    relu = F.relu(x)
    first = {
        name: _dil_convs(relu, [_first_stage(e, name) for e in edges], True).unflatten(1, (m, -1))
        for name in _CONVOLUTIONS
    }
    for name in _SEPARABLE:
        seconds = [e.ops[_K[name]].second for e in edges]
        first[name] = _dil_convs(F.relu(first[name].flatten(1, 2)), seconds, False).unflatten(1, (m, -1))

    max_pool = max_pool_3x3(x, stride)
    avg_pool = avg_pool_3x3(x, stride)
    out = weighted("max_pool_3x3", _shared_batch_norm(max_pool, [e.ops[_K["max_pool_3x3"]].bn for e in edges]))
    out = out + weighted("avg_pool_3x3", _shared_batch_norm(avg_pool, [e.ops[_K["avg_pool_3x3"]].bn for e in edges]))
    out = out + weighted("skip_connect", _skip(x, edges, stride))
    for name in _CONVOLUTIONS:
        out = out + weighted(name, first[name])
    return out
