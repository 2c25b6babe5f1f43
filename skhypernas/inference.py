"""The inference form of a network: batch norms folded into the convolutions before them.

In eval mode a batch norm is a per-channel affine map, so a convolution followed by
one is a single convolution with a bias: ``w' = w * scale[o]``, ``b' = (b - mean) *
scale + beta`` with ``scale = gamma / sqrt(var + eps)``. :func:`fold_batch_norms`
rewrites a trained network that way; the result computes the same function (up to
float rounding) with one pass less over every folded activation.
"""

import copy
import itertools
import weakref

import torch
from torch import nn


def fold_into(conv, bn, channels=slice(None)):
    """Make ``conv`` compute itself followed by ``bn`` restricted to ``channels`` (in place).

    Parameters
    ----------
    conv : torch.nn.Conv2d
    bn : torch.nn.BatchNorm2d
        In eval mode: its running statistics are what gets folded.
    channels : slice, default=slice(None)
        The batch norm's channels that ``conv`` outputs (a part of a concatenation).
    """
    scale = (bn.running_var[channels] + bn.eps).rsqrt()
    shift = -bn.running_mean[channels] * scale
    if bn.affine:
        scale, shift = scale * bn.weight[channels], shift * bn.weight[channels] + bn.bias[channels]
    bias = shift if conv.bias is None else conv.bias * scale + shift
    conv.weight = nn.Parameter(conv.weight * scale.view(-1, 1, 1, 1))
    conv.bias = nn.Parameter(bias)


def _fold_sequential(module):
    # A convolution directly followed by a batch norm, anywhere in a Sequential.
    for i in range(len(module) - 1):
        if isinstance(module[i], nn.Conv2d) and isinstance(module[i + 1], nn.modules.batchnorm._BatchNorm):
            fold_into(module[i], module[i + 1])
            module[i + 1] = nn.Identity()


@torch.no_grad()
def fold_batch_norms(network):
    """A copy of ``network`` in eval mode with every batch norm that follows a convolution
    folded into it (and replaced by an identity).

    Knows no search space: it folds a convolution followed by a batch norm in any
    ``nn.Sequential``, and asks every module with a ``fold_batch_norms_()`` method
    (an operation whose parts are not a plain sequence, such as the DARTS cells'
    :class:`~skhypernas.ops.DilConv` and :class:`~skhypernas.ops.FactorizedReduce`)
    to fold itself. Batch norms after pools have no convolution to fold into and
    stay. The copy is for prediction: its batch norms no longer learn.

    Parameters
    ----------
    network : torch.nn.Module
        A trained network, typically a derived network of a search space.

    Returns
    -------
    torch.nn.Module
    """
    # The copy's convolutions are folded in place: no second copy of each.
    network = copy.deepcopy(network).eval()
    for module in list(network.modules()):
        if hasattr(module, "fold_batch_norms_"):
            module.fold_batch_norms_()
        elif isinstance(module, nn.Sequential):
            _fold_sequential(module)
    return network


_FOLDED = weakref.WeakKeyDictionary()


def _state_key(network):
    # Every tensor's identity and in-place version: any update of the weights or the
    # batch-norm statistics (an optimiser step, load_state_dict, a copy_) changes it.
    return tuple((id(t), t._version) for t in itertools.chain(network.parameters(), network.buffers()))


def inference_network(network):
    """:func:`fold_batch_norms` of ``network``, reused while its tensors are unchanged.

    ``predict`` on a few rows would otherwise spend most of its time copying the
    network (docs/benchmarks.md, "Derived networks and channels-last on the CPU",
    the inference form).

    Parameters
    ----------
    network : torch.nn.Module

    Returns
    -------
    torch.nn.Module
    """
    key = _state_key(network)
    cached = _FOLDED.get(network)
    if cached is None or cached[0] != key:
        cached = _FOLDED[network] = (key, fold_batch_norms(network))
    return cached[1]
