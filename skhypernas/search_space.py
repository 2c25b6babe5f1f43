"""The DARTS search space: candidate operations, network layout and architectures.

Everything here is plain Python: it describes *what* a network is (cell widths and
resolutions, the parameter and multiply-accumulate counts of every candidate
operation, the chosen operations of a derived architecture) without building any
torch module, so the regulariser, the complexity path and the counts all read from
one description.
"""

import json
from dataclasses import dataclass
from typing import ClassVar

#: The eight DARTS candidate operations, in the order used by every alpha vector.
PRIMITIVES = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)


def _batch_norm_params(channels, affine):
    return 2 * channels if affine else 0


def op_param_count(op, channels, stride=1, affine=False):
    """Number of trainable parameters of one candidate operation.

    Parameters
    ----------
    op : str
        A name from :data:`PRIMITIVES`.
    channels : int
        Width of the cell the operation sits in (its input and output channels).
    stride : {1, 2}
        2 on the edges that leave an input state of a reduction cell.
    affine : bool
        Whether the operation's batch norms learn a scale and shift.

    Returns
    -------
    int
    """
    c, bn = channels, _batch_norm_params(channels, affine)
    if op in ("none", "max_pool_3x3", "avg_pool_3x3"):
        return 0
    if op == "skip_connect":
        # At stride 2 the identity becomes a factorized reduce: two 1x1 convolutions
        # that together map c to c channels, then a batch norm.
        return 0 if stride == 1 else c * c + bn
    if op.startswith("sep_conv_"):
        k = int(op[-1])
        return 2 * (c * k * k + c * c + bn)
    if op.startswith("dil_conv_"):
        k = int(op[-1])
        return c * k * k + c * c + bn
    raise ValueError(f"unknown operation {op!r}; expected one of {PRIMITIVES}")


def strided_size(size, stride):
    """Output side of a stride-``stride`` operation on a side of ``size`` pixels: every
    operation (convolutions padded to keep the size, pools, the factorized reduce)
    rounds up."""
    return -(-size // stride)


def op_flop_count(op, channels, image_size, stride=1):
    """Multiply-accumulates of one candidate operation on one image.

    Every convolution of an operation costs its weights times its output pixels, and
    an operation's output has the size its stride gives (:func:`strided_size`); the
    pools and the identity multiply nothing. This is what
    ``torch.utils.flop_counter.FlopCounterMode`` counts, divided by 2 (it counts a
    multiply-accumulate as two operations).

    Parameters
    ----------
    op : str
        A name from :data:`PRIMITIVES`.
    channels : int
        Width of the cell the operation sits in.
    image_size : (int, int)
        Height and width of the operation's input.
    stride : {1, 2}

    Returns
    -------
    int
    """
    pixels = strided_size(image_size[0], stride) * strided_size(image_size[1], stride)
    # Without their batch norms (which multiply nothing foldable), the operations'
    # parameters are exactly their convolutions' weights.
    weights = op_param_count(op, channels, stride, affine=False)
    return weights * pixels


def edge_inputs(n_nodes):
    """The input state of every edge, in edge order: node j reads states 0 .. j+1."""
    return [i for j in range(n_nodes) for i in range(2 + j)]


def edge_index(node, state):
    """Position, in edge order, of the edge from ``state`` into intermediate ``node``."""
    return sum(2 + k for k in range(node)) + state


@dataclass(frozen=True)
class CellSpec:
    """Widths of one cell of the network."""

    reduction: bool
    reduction_prev: bool
    channels_prev_prev: int
    channels_prev: int
    channels: int


@dataclass(frozen=True)
class NetworkConfig:
    """Shape of a DARTS network: stem, stack of cells, classifier.

    Reduction cells sit at ``n_cells // 3`` and ``2 * n_cells // 3`` (DARTS' rule), so
    3 cells give the authors' normal, reduce, reduce layout.
    """

    in_channels: int = 1
    n_classes: int = 10
    channels: int = 16
    n_cells: int = 3
    n_nodes: int = 4
    stem_multiplier: int = 3
    affine: bool = False

    @property
    def n_edges(self):
        return len(edge_inputs(self.n_nodes))

    @property
    def stem_channels(self):
        return self.stem_multiplier * self.channels

    def cells(self):
        """A :class:`CellSpec` per cell, in order."""
        reductions = {self.n_cells // 3, 2 * self.n_cells // 3} - {0} if self.n_cells >= 3 else set()
        specs = []
        c_pp, c_p, c = self.stem_channels, self.stem_channels, self.channels
        reduction_prev = False
        for index in range(self.n_cells):
            reduction = index in reductions
            if reduction:
                c *= 2
            specs.append(CellSpec(reduction, reduction_prev, c_pp, c_p, c))
            c_pp, c_p = c_p, self.n_nodes * c
            reduction_prev = reduction
        return specs

    @property
    def final_channels(self):
        return self.n_nodes * self.cells()[-1].channels

    def cell_sizes(self, image_size):
        """Per cell, the spatial size ``(height, width)`` its operations read (its
        previous cell's output, after the stem at the image's size)."""
        sizes, size = [], tuple(int(v) for v in image_size)
        for cell in self.cells():
            sizes.append(size)
            if cell.reduction:
                size = tuple(strided_size(v, 2) for v in size)
        return sizes

    def op_param_table(self):
        """Parameters of every candidate op: a nested list ``[cell][edge][op]``."""
        inputs = edge_inputs(self.n_nodes)
        return [
            [
                [
                    op_param_count(op, cell.channels, 2 if cell.reduction and i < 2 else 1, self.affine)
                    for op in PRIMITIVES
                ]
                for i in inputs
            ]
            for cell in self.cells()
        ]

    def edge_sizes(self, image_size):
        """Per cell and edge, ``(stride, (height, width))`` of the edge's input: a
        reduction cell's edges from its inputs stride 2, those from its nodes read the
        halved size."""
        table = []
        for cell, size in zip(self.cells(), self.cell_sizes(image_size)):
            halved = tuple(strided_size(v, 2) for v in size)
            strided = [(2, size) if i < 2 else (1, halved) for i in edge_inputs(self.n_nodes)]
            table.append(strided if cell.reduction else [(1, size)] * self.n_edges)
        return table

    def op_flop_table(self, image_size):
        """Multiply-accumulates per image of every candidate op at ``image_size``
        (the network's input): a nested list ``[cell][edge][op]``."""
        return [
            [[op_flop_count(op, cell.channels, size, stride) for op in PRIMITIVES] for stride, size in edges]
            for cell, edges in zip(self.cells(), self.edge_sizes(image_size))
        ]

    def fixed_flop_count(self, image_size):
        """Multiply-accumulates per image outside the cells' edges: stem, preprocessing
        (1x1 convolutions, or a factorized reduce after a reduction cell, which reads the
        cell before's twice as large output) and classifier."""
        height, width = image_size
        total = self.in_channels * self.stem_channels * 9 * height * width
        for cell, (h, w) in zip(self.cells(), self.cell_sizes(image_size)):
            # Both preprocessings output the cell's width at the size its operations read.
            total += (cell.channels_prev_prev + cell.channels_prev) * cell.channels * h * w
        return total + self.final_channels * self.n_classes

    def fixed_param_count(self):
        """Parameters outside the cells' edges: stem, preprocessing and classifier."""
        total = self.in_channels * self.stem_channels * 9 + 2 * self.stem_channels  # stem BN is affine
        for cell in self.cells():
            # Each input is mapped to the cell's width by 1x1 convolutions (a factorized
            # reduce after a reduction cell has the same count) and a batch norm.
            bn = _batch_norm_params(cell.channels, self.affine)
            total += (cell.channels_prev_prev + cell.channels_prev) * cell.channels + 2 * bn
        return total + self.final_channels * self.n_classes + self.n_classes


@dataclass(frozen=True)
class Genotype:
    """A derived architecture: the kept edges of the normal and the reduction cell.

    ``normal`` and ``reduce`` hold one tuple per intermediate node; each is a tuple of
    ``(operation, input_state)`` pairs for the node's kept edges (states 0 and 1 are
    the cell's inputs, state ``k + 2`` is node ``k``). A node may keep no edge at all:
    it then outputs zeros. Every node is concatenated into the cell's output.

    Parameters
    ----------
    normal, reduce : tuple of tuple of (str, int)
    """

    #: The search space this architecture belongs to (its JSON tag).
    space: ClassVar[str] = "darts"

    normal: tuple
    reduce: tuple

    def __post_init__(self):
        for name in ("normal", "reduce"):
            cell = tuple(tuple((str(op), int(i)) for op, i in node) for node in getattr(self, name))
            for j, node in enumerate(cell):
                for op, i in node:
                    if op not in PRIMITIVES or op == "none":
                        raise ValueError(f"Genotype.{name}: {op!r} is not a kept operation")
                    if not 0 <= i < j + 2:
                        raise ValueError(f"Genotype.{name}: node {j} cannot read state {i}")
            object.__setattr__(self, name, cell)
        if len(self.normal) != len(self.reduce):
            raise ValueError("Genotype: normal and reduce cells must have the same number of nodes")
        if not self.normal:
            raise ValueError("Genotype: no intermediate nodes; a cell needs at least one")

    @property
    def n_nodes(self):
        return len(self.normal)

    @classmethod
    def from_choices(cls, normal_ops, reduce_ops):
        """Build from one chosen operation index per edge (``0``, ``none``, drops the edge)."""
        n_edges = len(normal_ops)
        n_nodes = next(n for n in range(n_edges + 1) if len(edge_inputs(n)) == n_edges)

        def cell(choices):
            nodes, edge = [], 0
            for j in range(n_nodes):
                kept = []
                for i in range(j + 2):
                    if choices[edge] != 0:
                        kept.append((PRIMITIVES[choices[edge]], i))
                    edge += 1
                nodes.append(tuple(kept))
            return tuple(nodes)

        return cls(cell(normal_ops), cell(reduce_ops))

    @classmethod
    def random(cls, n_nodes, rng, p_parameter_free=0.5):
        """Draw every edge's operation at random; ``none`` drops the edge.

        With probability ``p_parameter_free`` an edge draws uniformly among the
        operations that have no parameters *on that edge* (``none``, the pools, and
        ``skip_connect`` except on a reduction cell's stride-2 input edges, where it is
        a factorized reduce), else among the others. Varying it spreads random
        architectures over the whole range of parameter counts.

        Parameters
        ----------
        n_nodes : int
        rng : numpy.random.RandomState
        p_parameter_free : float in [0, 1]

        Returns
        -------
        Genotype
        """

        def cell(reduction):
            choices = []
            for i in edge_inputs(n_nodes):
                stride = 2 if reduction and i < 2 else 1
                free = [k for k, op in enumerate(PRIMITIVES) if op_param_count(op, 1, stride) == 0]
                pool = free if rng.uniform() < p_parameter_free else sorted(set(range(len(PRIMITIVES))) - set(free))
                choices.append(pool[rng.randint(len(pool))])
            return choices

        return cls.from_choices(cell(False), cell(True))

    def choices(self, cell):
        """Operation index per edge of ``cell`` ('normal' or 'reduce'), 0 where dropped."""
        out = []
        for j, node in enumerate(getattr(self, cell)):
            chosen = dict((i, op) for op, i in node)
            out.extend(PRIMITIVES.index(chosen[i]) if i in chosen else 0 for i in range(j + 2))
        return out

    def n_parameters(self, config):
        """Trainable parameters of the derived network of this genotype under ``config``."""
        table = config.op_param_table()
        total = config.fixed_param_count()
        for c, cell in enumerate(config.cells()):
            ops = self.choices("reduce" if cell.reduction else "normal")
            total += sum(table[c][e][k] for e, k in enumerate(ops))
        return total

    def n_flops(self, config, image_size):
        """Multiply-accumulates per image of the derived network of this genotype under
        ``config`` at ``image_size`` (height, width)."""
        table = config.op_flop_table(image_size)
        total = config.fixed_flop_count(image_size)
        for c, cell in enumerate(config.cells()):
            ops = self.choices("reduce" if cell.reduction else "normal")
            total += sum(table[c][e][k] for e, k in enumerate(ops))
        return total

    def to_dict(self):
        """The architecture as plain values, tagged with its space."""
        return {"space": self.space, "normal": self.normal, "reduce": self.reduce}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`; the ``"space"`` tag may be absent (older files)."""
        if data.get("space", cls.space) != cls.space:
            raise ValueError(f"an architecture of the {data['space']!r} space is not a DARTS genotype")
        return cls(data["normal"], data["reduce"])

    def to_json(self):
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(json.loads(text))

    def __str__(self):
        def cell(nodes):
            return "; ".join(
                f"n{j}<-" + (", ".join(f"{op}({i})" for op, i in node) or "zero") for j, node in enumerate(nodes)
            )

        return f"normal: {cell(self.normal)} | reduce: {cell(self.reduce)}"
