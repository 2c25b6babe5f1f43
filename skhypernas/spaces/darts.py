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

from ..derived import DerivedNetwork
from ..search_space import PRIMITIVES, Genotype, NetworkConfig
from ..supernet import SearchNetwork
from .base import SearchSpace, register_space


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
        return NetworkConfig(**dataclasses.asdict(self))

    def bind(self, in_channels, n_classes):
        return dataclasses.replace(self, in_channels=int(in_channels), n_classes=int(n_classes))

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

    def n_parameters(self, architecture):
        return architecture.n_parameters(self.config)

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

    def expected_parameters(self, alpha):
        """``sum_cells sum_edges <softmax(alpha_ij), n(g_ij)>``: every candidate operation
        priced at its cell's width, each cell by its type's logits."""
        table, cell_type = _parameter_table(self, alpha.device)
        probs = torch.softmax(alpha, dim=-1)[..., cell_type, :, :]
        return (probs * table.to(alpha.dtype)).sum(dim=(-3, -2, -1))


@functools.lru_cache(maxsize=32)
def _parameter_table(space, device):
    """Per cell, edge and operation its parameter count, and each cell's type (0 normal, 1 reduce)."""
    config = space.config
    table = torch.tensor(config.op_param_table(), dtype=torch.float32, device=device)
    cell_type = torch.tensor([int(c.reduction) for c in config.cells()], device=device)
    return table, cell_type
