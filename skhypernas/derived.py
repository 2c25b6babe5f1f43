"""The discrete network of a :class:`~skhypernas.search_space.Genotype`."""

import torch
from torch import nn

from .ops import Classifier, Stem, cat_channels, make_op, make_preprocess
from .search_space import edge_index


class DerivedCell(nn.Module):
    """A cell that runs one operation per kept edge; a node with no edge is zero."""

    def __init__(self, spec, nodes, affine):
        super().__init__()
        self.reduction = spec.reduction
        self.channels = spec.channels
        self.preprocess0, self.preprocess1 = make_preprocess(spec, affine)
        self.nodes = [[(i, self._edge_key(j, i)) for _, i in node] for j, node in enumerate(nodes)]
        self.edges = nn.ModuleDict(
            {
                self._edge_key(j, i): make_op(op, spec.channels, 2 if spec.reduction and i < 2 else 1, affine)
                for j, node in enumerate(nodes)
                for op, i in node
            }
        )

    @staticmethod
    def _edge_key(node, state):
        # The supernet's edge index, so weights map across by name.
        return str(edge_index(node, state))

    def forward(self, s0, s1, drop_prob=0.0):
        """``drop_prob``: drop-path probability of every non-identity edge (training only)."""
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        batch, _, height, width = states[1].shape
        if self.reduction:
            height, width = (height + 1) // 2, (width + 1) // 2
        for node in self.nodes:
            if node:
                states.append(sum(self._edge(key, states[i], drop_prob) for i, key in node))
            else:
                states.append(zeros_in_layout(states[1], (batch, self.channels, height, width)))
        return cat_channels(states[2:])

    def _edge(self, key, x, drop_prob):
        op = self.edges[key]
        out = op(x)
        # DARTS' regulariser for retraining: skip connections are never dropped.
        if self.training and drop_prob > 0 and not isinstance(op, nn.Identity):
            out = drop_path(out, drop_prob)
        return out


def zeros_in_layout(x, shape):
    """Zeros of ``shape`` in ``x``'s memory layout.

    A node that keeps no edge outputs these. In NCHW (``new_zeros``) they turned a
    channels-last cell's concatenation, and every layer after it, into NCHW, where the
    CPU's depthwise convolutions and pools run slower (docs/benchmarks.md, "Latency
    tables").
    """
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    layout = torch.channels_last if channels_last else torch.contiguous_format
    return torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=layout).zero_()


def drop_path(x, prob):
    """Zero whole examples of ``x`` with probability ``prob``; rescale the rest."""
    keep = 1.0 - prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x * mask / keep


class DerivedNetwork(nn.Module):
    """The network of one genotype under a network configuration, fresh weights.

    ``drop_path_prob`` (0 unless a training loop sets it) is the drop-path probability
    applied to the cells' edges in training mode.
    """

    drop_path_prob = 0.0

    def __init__(self, genotype, config):
        super().__init__()
        if genotype.n_nodes != config.n_nodes:
            raise ValueError(f"genotype has {genotype.n_nodes} nodes per cell, the network {config.n_nodes}")
        self.genotype = genotype
        self.config = config
        self.stem = Stem(config.in_channels, config.stem_channels)
        self.cells = nn.ModuleList(
            DerivedCell(spec, genotype.reduce if spec.reduction else genotype.normal, config.affine)
            for spec in config.cells()
        )
        self.classifier = Classifier(config.final_channels, config.n_classes)

    def forward(self, x):
        # Channels-last runs these small depthwise convolutions and pools several times
        # faster on the CPU (and on GPUs), and every operation keeps its input's layout.
        # Set after the stem: with one input channel both layouts are the same tensor.
        s0 = s1 = self.stem(x).contiguous(memory_format=torch.channels_last)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
        return self.classifier(s1)

    @classmethod
    def from_supernet(cls, supernet, genotype):
        """The genotype's network with every weight inherited from ``supernet``.

        Built on the meta device and then given copies of the supernet's tensors,
        so deriving draws no random numbers and initialises nothing in vain.
        """
        with torch.device("meta"):
            net = cls(genotype, supernet.config)
        source = supernet.state_dict()
        choice = {"normal": genotype.choices("normal"), "reduce": genotype.choices("reduce")}
        state = {}
        for name in net.state_dict():
            parts = name.split(".")
            if parts[0] == "cells" and parts[2] == "edges":
                cell, edge = int(parts[1]), int(parts[3])
                k = choice["reduce" if net.cells[cell].reduction else "normal"][edge]
                parts[4:4] = ["ops", str(k)]
            state[name] = source[".".join(parts)].clone()
        net.load_state_dict(state, assign=True)
        return net

    def n_parameters(self):
        return sum(p.numel() for p in self.parameters())


def iter_batches(x, size):
    """Consecutive slices of ``x`` of at most ``size`` rows."""
    return (x[i : i + size] for i in range(0, len(x), size))


@torch.no_grad()
def recalibrate_batch_norm(net, batches):
    """Re-estimate every batch norm's statistics of ``net`` from ``batches`` of inputs.

    The statistics a derived network inherits were gathered on the supernet's mixtures,
    not on its own activations; a cumulative average over a few batches fixes them.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    for x in batches:
        net(x)
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    net.eval()
    return net
