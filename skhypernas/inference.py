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

from .ops import DilConv, FactorizedReduce, ReLUConvBN, Stem


def _fold(conv, bn, channels=slice(None)):
    """Make ``conv`` compute itself followed by ``bn`` restricted to ``channels`` (in place)."""
    scale = (bn.running_var[channels] + bn.eps).rsqrt()
    shift = -bn.running_mean[channels] * scale
    if bn.affine:
        scale, shift = scale * bn.weight[channels], shift * bn.weight[channels] + bn.bias[channels]
    bias = shift if conv.bias is None else conv.bias * scale + shift
    conv.weight = nn.Parameter(conv.weight * scale.view(-1, 1, 1, 1))
    conv.bias = nn.Parameter(bias)


@torch.no_grad()
def fold_batch_norms(network):
    """A copy of ``network`` in eval mode with every batch norm that follows a convolution
    folded into it (and replaced by an identity).

    Folds the stem, the cells' preprocessing (:class:`~skhypernas.ops.ReLUConvBN`,
    :class:`~skhypernas.ops.FactorizedReduce`) and the separable and dilated
    convolutions' pointwise stages. Batch norms after pools have no convolution to
    fold into and stay. The copy is for prediction: its batch norms no longer learn.

    Parameters
    ----------
    network : torch.nn.Module
        A trained network, typically a :class:`~skhypernas.derived.DerivedNetwork`.

    Returns
    -------
    torch.nn.Module
    """
    # The copy's convolutions are folded in place: no second copy of each.
    network = copy.deepcopy(network).eval()
    for module in network.modules():
        if isinstance(module, DilConv):
            _fold(module.pointwise, module.bn)
            module.bn = nn.Identity()
        elif isinstance(module, ReLUConvBN | Stem):
            _fold(module[-2], module[-1])
            module[-1] = nn.Identity()
        elif isinstance(module, FactorizedReduce):
            half = module.conv_1.out_channels
            _fold(module.conv_1, module.bn, slice(None, half))
            _fold(module.conv_2, module.bn, slice(half, None))
            module.bn = nn.Identity()
    return network


_FOLDED = weakref.WeakKeyDictionary()


def _state_key(network):
    # Every tensor's identity and in-place version: any update of the weights or the
    # batch-norm statistics (an optimiser step, load_state_dict, a copy_) changes it.
    return tuple((id(t), t._version) for t in itertools.chain(network.parameters(), network.buffers()))


def inference_network(network):
    """:func:`fold_batch_norms` of ``network``, reused while its tensors are unchanged.

    ``predict`` on a few rows would otherwise spend most of its time copying the
    network (a fold of a small derived network takes 10-30 ms).

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
