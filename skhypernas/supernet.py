"""The search network: a stack of cells whose edges mix every candidate operation."""

import torch
from torch import nn

from .fanout import fan_out
from .ops import Classifier, Stem, cat_channels, make_op, make_preprocess
from .search_space import PRIMITIVES, edge_index, edge_inputs

# "none" contributes exactly zero to every mixture, so the mixed edge skips it.
_WEIGHTED_OPS = [k for k, name in enumerate(PRIMITIVES) if name != "none"]


class MixedEdge(nn.Module):
    """Every candidate operation on one edge, summed with given weights.

    Its ``forward`` is the definition; the search network computes all edges leaving
    a state at once with :func:`~skhypernas.fanout.fan_out`, which gives the same result.
    """

    def __init__(self, channels, stride, affine):
        super().__init__()
        self.ops = nn.ModuleList(make_op(name, channels, stride, affine) for name in PRIMITIVES)

    def forward(self, x, weights, choice=None):
        # weights: (n_ops,) shared by the batch, or (batch, n_ops) per example.
        # With a ``choice``, only that operation runs (hard sampling).
        if choice is not None:
            return weights[..., choice] * self.ops[choice](x)
        out = 0.0
        for k in _WEIGHTED_OPS:
            w = weights[..., k]
            out = out + (w.view(-1, 1, 1, 1) if w.dim() else w) * self.ops[k](x)
        return out


class SearchCell(nn.Module):
    """A cell of mixed edges. ``fused=False`` runs every edge on its own (the
    definition, kept for tests and comparisons); the default fuses edges per state."""

    def __init__(self, spec, n_nodes, affine, fused=True):
        super().__init__()
        self.n_nodes = n_nodes
        self.fused = fused
        self.reduction = spec.reduction
        self.preprocess0, self.preprocess1 = make_preprocess(spec, affine)
        self.edges = nn.ModuleList(
            MixedEdge(spec.channels, 2 if spec.reduction and i < 2 else 1, affine) for i in edge_inputs(n_nodes)
        )

    def forward(self, s0, s1, weights, choices=None):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        if not self.fused or choices is not None:
            edge = 0
            for _ in range(self.n_nodes):
                node = sum(
                    self.edges[edge + i](
                        h, weights[..., edge + i, :], None if choices is None else int(choices[edge + i])
                    )
                    for i, h in enumerate(states)
                )
                edge += len(states)
                states.append(node)
            return cat_channels(states[2:])
        nodes = [0.0] * self.n_nodes
        # Node j reads states 0 .. j+1, so state i (node i-2) is complete once
        # every state before it has fanned out.
        for i in range(self.n_nodes + 1):
            if i >= 2:
                states.append(nodes[i - 2])
            targets = range(max(i - 1, 0), self.n_nodes)
            index = [edge_index(j, i) for j in targets]
            stride = 2 if self.reduction and i < 2 else 1
            out = fan_out(states[i], [self.edges[e] for e in index], weights[..., index, :], stride)
            for k, j in enumerate(targets):
                nodes[j] = nodes[j] + out[:, k]
        return torch.cat(nodes, dim=1)


class SearchNetwork(nn.Module):
    """The DARTS supernet of a :class:`~skhypernas.search_space.NetworkConfig`.

    ``forward(x, weights)`` takes ``weights`` of shape ``(2, n_edges, n_ops)`` or
    ``(batch, 2, n_edges, n_ops)``: the mixture weights of every edge of the normal
    (index 0) and of the reduction cells (index 1), the space's ``arch_shape``.
    ``choices``, of shape ``(2, n_edges)``, runs only the chosen operation of every
    edge (hard sampling: ``weights`` are then one-hot in value).

    ``fused=True`` computes all edges leaving a state together
    (:func:`~skhypernas.fanout.fan_out`); ``False`` runs each :class:`MixedEdge` on
    its own. Both give the same result from the same parameters.
    """

    def __init__(self, config, fused=True):
        super().__init__()
        self.config = config
        specs = config.cells()
        self.reduction = [spec.reduction for spec in specs]
        self.stem = Stem(config.in_channels, config.stem_channels)
        self.cells = nn.ModuleList(SearchCell(spec, config.n_nodes, config.affine, fused) for spec in specs)
        self.classifier = Classifier(config.final_channels, config.n_classes)

    def forward(self, x, weights, choices=None):
        s0 = s1 = self.stem(x)
        if choices is not None:
            # One operation per edge runs, as in a derived network, and as there
            # channels-last runs it faster on the CPU; the fused mixture, whose
            # kernels were chosen in NCHW, runs faster in NCHW.
            s0 = s1 = s0.contiguous(memory_format=torch.channels_last)
        for cell, reduction in zip(self.cells, self.reduction):
            r = int(reduction)
            s0, s1 = s1, cell(s0, s1, weights[..., r, :, :], None if choices is None else choices[r])
        return self.classifier(s1)

    @property
    def space(self):
        """The :class:`~skhypernas.spaces.DartsSpace` this supernet belongs to."""
        from .spaces.darts import DartsSpace

        return DartsSpace.from_config(self.config)
