"""The DARTS cells: the method's published search space, and the package's default.

A stem, a stack of cells (reduction cells at 1/3 and 2/3 of the depth), a classifier.
Every cell is a DAG whose edges choose among :data:`~skhypernas.search_space.PRIMITIVES`;
normal cells share one set of choices, reduction cells another, so ``alpha`` has the
shape ``(2, n_edges, n_ops)``. The modules live beside this file's adapter:
:mod:`~skhypernas.search_space` (the description: widths, parameter counts,
:class:`~skhypernas.search_space.Genotype`), :mod:`~skhypernas.ops`,
:mod:`~skhypernas.supernet` and :mod:`~skhypernas.fanout` (the supernet),
:mod:`~skhypernas.derived` (a genotype's network).
"""

import dataclasses
import functools

import numpy as np
import torch
from torch import nn

from ..derived import DerivedNetwork, zeros_in_layout
from ..latency import LatencyEntry
from ..ops import Classifier, Stem, make_op, make_preprocess
from ..search_space import PRIMITIVES, Genotype, NetworkConfig, edge_index, strided_size
from ..supernet import SearchNetwork
from .base import SearchSpace, check_cost_kind, register_space


@register_space
@dataclasses.dataclass(frozen=True)
class DartsSpace(SearchSpace):
    """The DARTS cell space.

    Parameters
    ----------
    channels : int, default=16
        Width of the first cell; each reduction cell doubles it.
    n_cells : int, default=3
        Cells in the network; reduction cells sit at 1/3 and 2/3 of the depth.
    n_nodes : int, default=4
        Intermediate nodes per cell.
    stem_multiplier : int, default=3
        The stem outputs ``stem_multiplier * channels`` channels.
    affine : bool, default=False
        Whether the cells' batch norms learn a scale and shift.
    in_channels, n_classes : int, default=1, 10
        Set from the data by :meth:`bind`.
    image_size : (int, int) or None, default=None
        The images' height and width, set from the data by :meth:`bind`: the FLOPs and
        the latency entries depend on it, the modules do not.
    """

    name = "darts"
    architecture_class = Genotype

    channels: int = 16
    n_cells: int = 3
    n_nodes: int = 4
    stem_multiplier: int = 3
    affine: bool = False
    in_channels: int = 1
    n_classes: int = 10
    image_size: tuple = None

    def __post_init__(self):
        if self.image_size is not None:  # a list when read from JSON
            object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))

    @classmethod
    def from_config(cls, config):
        """The space of a :class:`~skhypernas.search_space.NetworkConfig`."""
        return cls(**dataclasses.asdict(config))

    @classmethod
    def for_architecture(cls, genotype, **shape):
        """The space a genotype is built in on its own: its number of nodes, and
        ``shape`` (``channels``, ``n_cells``, ``stem_multiplier``) or the defaults."""
        return cls(n_nodes=genotype.n_nodes, **shape)

    @property
    def config(self):
        """The :class:`~skhypernas.search_space.NetworkConfig` the modules read."""
        shape = dataclasses.asdict(self)
        del shape["image_size"]
        return NetworkConfig(**shape)

    def bind(self, in_channels, n_classes, image_size=None):
        size = None if image_size is None else tuple(int(v) for v in image_size)
        return dataclasses.replace(self, in_channels=int(in_channels), n_classes=int(n_classes), image_size=size)

    @property
    def arch_shape(self):
        return (2, self.config.n_edges, len(PRIMITIVES))

    def supernet(self):
        return SearchNetwork(self.config)

    def derive(self, supernet, architecture):
        return DerivedNetwork.from_supernet(supernet, architecture)

    def build(self, architecture):
        return DerivedNetwork(architecture, self.config)

    def architecture(self, choices):
        choices = np.asarray(choices)
        return Genotype.from_choices(choices[0].tolist(), choices[1].tolist())

    def choices(self, architecture):
        return np.array([architecture.choices("normal"), architecture.choices("reduce")])

    def random_architecture(self, rng, p_parameter_free=0.5):
        """See :meth:`Genotype.random <skhypernas.search_space.Genotype.random>`."""
        return Genotype.random(self.n_nodes, rng, p_parameter_free)

    # -- costs: a table per cell, edge and operation, and what every network pays --

    def collapsed(self, architecture):
        """True when the kept edges of the normal or of the reduction cells carry no
        parameters (pools, identities, nothing): every path through such a cell is
        parameter-free, so the network learns only in its stem, its cells' 1x1
        preprocessing and its classifier. A skip at a reduction cell's stride-2 input
        is a factorized reduce, with parameters."""
        table = self.config.op_param_table()
        edge_parameters = {}
        for c, cell in enumerate(self.config.cells()):
            kind = "reduce" if cell.reduction else "normal"
            ops = architecture.choices(kind)
            edge_parameters[kind] = edge_parameters.get(kind, 0) + sum(table[c][e][k] for e, k in enumerate(ops))
        return any(count == 0 for count in edge_parameters.values())

    def cost(self, architecture, kind):
        """The cost of ``architecture``'s derived network: the parts every network has,
        plus each kept edge's operation at its cell's shape (with, for latency, the
        addition into its node), plus, for latency, a zero tensor per node that keeps
        no edge."""
        costs = _cost_tables(self, check_cost_kind(kind))
        choices = self.choices(architecture)
        total = costs.fixed
        for c, cell in enumerate(self.config.cells()):
            chosen = choices[int(cell.reduction)]
            total += sum(costs.edges[c][e][k] for e, k in enumerate(chosen))
            total += costs.empty_node[c] * sum(not np.any(chosen[edges]) for edges in _node_edges(self.n_nodes))
        return total

    def expected_cost(self, alpha, kind):
        """``sum_cells sum_edges <softmax(alpha_ij), cost(g_ij)>``: every candidate
        operation priced at its cell's shape, each cell by its type's logits; for
        latency also each node's zero tensor times the chance that it keeps no edge.
        The parts every network has are left out."""
        costs = _cost_tables(self, check_cost_kind(kind))
        table, cell_type = _edge_table(self, kind, alpha.device)
        probs = torch.softmax(alpha, dim=-1)[..., cell_type, :, :]
        total = (probs * table.to(alpha.dtype)).sum(dim=(-3, -2, -1))
        if any(costs.empty_node):
            none = probs[..., PRIMITIVES.index("none")]
            empty = torch.stack([none[..., edges].prod(-1) for edges in _node_edges(self.n_nodes)], -1)
            per_cell = torch.as_tensor(costs.empty_node, dtype=alpha.dtype, device=alpha.device)
            total = total + (empty.sum(-1) * per_cell).sum(-1)
        return total

    def latency_entries(self):
        """Every candidate operation at its cell's shape and stride, the addition into
        a node and a node's zero tensor at each cell's shape, and the parts every
        network has (the stem and its switch to channels-last, each cell's
        preprocessing and concatenation, the classifier), all channels-last but the
        stem, as :class:`~skhypernas.derived.DerivedNetwork` runs them."""
        layout = _latency_layout(self)
        entries = list(layout.fixed)
        for cell_ops, add, zeros in zip(layout.ops, layout.add, layout.zeros):
            entries += [entry for edge in cell_ops for entry in edge if entry is not None]
            entries += [add, zeros]
        return entries

    def _image_size(self):
        if self.image_size is None:
            raise ValueError("FLOPs and latency need the images' size: bind the space with image_size=(height, width)")
        return self.image_size


def _node_edges(n_nodes):
    """Per intermediate node, the indices of its edges."""
    return [[edge_index(j, i) for i in range(j + 2)] for j in range(n_nodes)]


@dataclasses.dataclass(frozen=True)
class _CostTables:
    """One kind's costs: ``edges[cell][edge][op]``, ``fixed`` (every network) and
    ``empty_node[cell]`` (a node with no edge)."""

    edges: list
    fixed: float
    empty_node: list


@functools.lru_cache(maxsize=32)
def _cost_tables(space, kind):
    config = space.config
    n_cells = len(config.cells())
    if kind == "params":
        return _CostTables(config.op_param_table(), config.fixed_param_count(), [0] * n_cells)
    if kind == "flops":
        size = space._image_size()
        return _CostTables(config.op_flop_table(size), config.fixed_flop_count(size), [0] * n_cells)
    layout = _latency_layout(space)
    kind.check(space)
    edges = [
        [[0.0 if entry is None else kind[entry.key] + kind[add.key] for entry in edge] for edge in cell]
        for cell, add in zip(layout.ops, layout.add)
    ]
    fixed = sum(kind[entry.key] for entry in layout.fixed)
    return _CostTables(edges, fixed, [kind[entry.key] for entry in layout.zeros])


@functools.lru_cache(maxsize=32)
def _edge_table(space, kind, device):
    """Per cell, edge and operation its cost as a float32 tensor, and each cell's type (0 normal, 1 reduce)."""
    table = torch.tensor(_cost_tables(space, kind).edges, dtype=torch.float32, device=device)
    cell_type = torch.tensor([int(c.reduction) for c in space.config.cells()], device=device)
    return table, cell_type


# -- latency entries: the derived network's parts, as it runs them ----------------------


@dataclasses.dataclass(frozen=True)
class _LatencyLayout:
    """The entries of a space: ``fixed`` (every network), ``ops[cell][edge][op]``
    (None for "none"), and per cell ``add`` and ``zeros``."""

    fixed: list
    ops: list
    add: list
    zeros: list


class _ChannelsLastStem(nn.Module):
    """The stem and the switch to channels-last after it, as the derived network runs them."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.stem = Stem(in_channels, out_channels)

    def forward(self, x):
        return self.stem(x).contiguous(memory_format=torch.channels_last)


class _Add(nn.Module):
    """An edge's output added into its node."""

    def forward(self, a, b):
        return a + b


class _Zeros(nn.Module):
    """The output of a node that keeps no edge (as :class:`~skhypernas.derived.DerivedCell` makes it)."""

    def forward(self, x):
        return zeros_in_layout(x, x.shape)


class _Concatenate(nn.Module):
    """A cell's output: its nodes, concatenated."""

    def forward(self, *states):
        return torch.cat(states, dim=1)


def _size(size):
    return f"{size[0]}x{size[1]}"


@functools.lru_cache(maxsize=32)
def _latency_layout(space):
    config, image_size = space.config, space._image_size()
    affine = config.affine
    stem = config.stem_channels
    fixed = [
        LatencyEntry(
            f"stem {config.in_channels}>{stem} {_size(image_size)}",
            functools.partial(_ChannelsLastStem, config.in_channels, stem),
            [(config.in_channels, *image_size)],
            channels_last=False,
        )
    ]
    ops, add, zeros = [], [], []
    sizes = config.cell_sizes(image_size)
    for k, (cell, size, edges) in enumerate(zip(config.cells(), sizes, config.edge_sizes(image_size))):
        c, out = cell.channels, tuple(strided_size(v, 2) for v in size) if cell.reduction else size
        # The cell's first input is the output of the cell before the previous one.
        size0 = sizes[k - 1] if k else size
        name0 = "factorized_reduce" if cell.reduction_prev else "relu_conv_bn"
        fixed += [
            LatencyEntry(
                f"{name0} {cell.channels_prev_prev}>{c} {_size(size0)}",
                functools.partial(lambda s: make_preprocess(s, affine)[0], cell),
                [(cell.channels_prev_prev, *size0)],
            ),
            LatencyEntry(
                f"relu_conv_bn {cell.channels_prev}>{c} {_size(size)}",
                functools.partial(lambda s: make_preprocess(s, affine)[1], cell),
                [(cell.channels_prev, *size)],
            ),
            LatencyEntry(f"cat {config.n_nodes}x c{c} {_size(out)}", _Concatenate, [(c, *out)] * config.n_nodes),
        ]
        ops.append(
            [
                [
                    None
                    if op == "none"
                    else LatencyEntry(
                        f"{op} c{c} s{stride} {_size(edge_size)}",
                        functools.partial(make_op, op, c, stride, affine),
                        [(c, *edge_size)],
                    )
                    for op in PRIMITIVES
                ]
                for stride, edge_size in edges
            ]
        )
        add.append(LatencyEntry(f"add c{c} {_size(out)}", _Add, [(c, *out)] * 2))
        zeros.append(LatencyEntry(f"zeros c{c} {_size(out)}", _Zeros, [(c, *out)]))
    final = config.cells()[-1]
    last = tuple(strided_size(v, 2) for v in sizes[-1]) if final.reduction else sizes[-1]
    fixed.append(
        LatencyEntry(
            f"classifier {config.final_channels}>{config.n_classes} {_size(last)}",
            functools.partial(Classifier, config.final_channels, config.n_classes),
            [(config.final_channels, *last)],
        )
    )
    return _LatencyLayout(fixed, ops, add, zeros)
