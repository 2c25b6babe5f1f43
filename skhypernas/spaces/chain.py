"""The chain space: plain CNNs whose layers each choose an operation and a width.

Stages of layers, a 2x2 max-pool after each stage, global average pooling and a linear
classifier (FBNet's, ProxylessNAS' and once-for-all's kind of space). Every layer makes
one decision among ``1 + len(OPERATIONS) * len(multipliers)`` options: ``skip`` (the
identity: the layer's output keeps its input's width), or an operation at a width, a
multiplier of its stage's largest width. The first layer reads the image: it is the
stem, a 3x3 convolution choosing only its width by default (``stem_operation``).
Derived networks are ``nn.Sequential`` stacks of convolutions, batch norms and ReLUs,
which CPUs run as a handful of large kernels; the plain CNN of
:mod:`~skhypernas.plain_cnn` is a member at every width whose two stages' widths are
options (12, 24 and 36 by default, and 48).

Widths share weights: one tensor per operation and layer at its largest widths serves
every width (:mod:`~skhypernas.spaces.chain_ops`). A layer's cost depends on its input
width, the previous layers' choice; under independent choices the expected cost is
still exact: :meth:`ChainSpace.expected_parameters` carries the distribution of every
layer's input width through the chain (a skip passes it on).
"""

import dataclasses
import functools
import json

import numpy as np
import torch
from torch import nn

from .base import SearchSpace, check_cost_kind, register_space
from .chain_ops import EXPANSION, InvertedBottleneck, build_layers, make_op, op_macs, op_parameters

#: The operations a layer chooses among, besides ``skip``.
OPERATIONS = ("conv_3x3", "sep_conv_3x3", "sep_conv_5x5", "inverted_bottleneck_3x3")


@dataclasses.dataclass(frozen=True)
class ChainArchitecture:
    """A derived chain network: ``(operation, width)`` per layer, ``("skip", None)`` for a
    skipped one, and the number of layers of each stage (a max-pool follows each).

    Parameters
    ----------
    layers : tuple of (str, int or None)
    stages : tuple of int
    """

    space = "chain"

    layers: tuple
    stages: tuple

    def __post_init__(self):
        layers = tuple((str(op), None if op == "skip" else int(width)) for op, width in self.layers)
        for op, width in layers:
            if op != "skip" and (op not in OPERATIONS or width < 1):
                raise ValueError(f"ChainArchitecture: ({op!r}, {width}) is not a layer")
        stages = tuple(int(n) for n in self.stages)
        if sum(stages) != len(layers) or min(stages, default=0) < 1:
            raise ValueError(f"ChainArchitecture: stages {stages} do not split {len(layers)} layers")
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "stages", stages)

    def widths(self, in_channels):
        """Every layer's input and output width: ``[(a, b), ...]``."""
        out, a = [], in_channels
        for op, width in self.layers:
            b = a if op == "skip" else width
            out.append((a, b))
            a = b
        return out

    def to_dict(self):
        """The architecture as plain values, tagged with its space."""
        return {"space": self.space, "layers": [list(layer) for layer in self.layers], "stages": list(self.stages)}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`."""
        return cls(tuple(tuple(layer) for layer in data["layers"]), tuple(data["stages"]))

    def to_json(self):
        return json.dumps(self.to_dict())

    def __str__(self):
        stages, start = [], 0
        for n in self.stages:
            stages.append(", ".join(op if op == "skip" else f"{op}({w})" for op, w in self.layers[start : start + n]))
            start += n
        return " | pool | ".join(stages) + " | pool"


@register_space
@dataclasses.dataclass(frozen=True)
class ChainSpace(SearchSpace):
    """Plain CNNs: stages of layers, each choosing an operation and a width.

    Parameters
    ----------
    stages : tuple of int, default=(2, 2)
        Layers per stage; a 2x2 max-pool (rounding up) follows every stage.
    widths : tuple of int, default=(48, 96)
        Each stage's largest width, non-decreasing.
    multipliers : tuple of float, default=(0.25, 0.375, 0.5, 0.75, 1.0)
        A layer's widths, as fractions of its stage's largest (rounded, at least 1).
        The defaults span about 5K to 150K parameters on 28x28 one-channel images
        with ten classes, and make the plain CNN of widths 12, 24, 36 and 48 members.
    operations : tuple of str, default=OPERATIONS
        The operations layers choose among (a subset of :data:`OPERATIONS`; ``skip`` is
        always offered after the first layer). The others stay in the option list and
        the supernet, masked (:meth:`option_mask`), so that architectures keep their
        meaning across spaces. ``("conv_3x3",)`` searches plain CNNs of any widths and
        depths (on CPUs the separable convolutions and the inverted bottleneck predict
        fast but train up to 4x slower than a convolution of their size); on
        Fashion-MNIST that search found less accurate families than all four
        operations (``docs/benchmarks.md``, "Convolutions only, and when the
        architecture is decided").
    stem_operation : str or None, default="conv_3x3"
        The first layer's operation (one of :attr:`operations`): the stem chooses only
        its width. On an image of few channels the cheaper operations are all but empty
        (a separable convolution of a one-channel image is a single 3x3 filter), and a
        search under a cost drifts to them; every space FBNet, ProxylessNAS and
        once-for-all search fixes its stem likewise. None: the first layer chooses
        like the others (never ``skip``: it reads the image).
    in_channels, n_classes : int, default=1, 10
        Set from the data by :meth:`bind`.
    image_size : (int, int) or None, default=None
        The images' height and width, set by :meth:`bind`: FLOPs and latency need it.
    """

    name = "chain"
    architecture_class = ChainArchitecture

    stages: tuple = (2, 2)
    widths: tuple = (48, 96)
    multipliers: tuple = (0.25, 0.375, 0.5, 0.75, 1.0)
    operations: tuple = OPERATIONS
    stem_operation: str = "conv_3x3"
    in_channels: int = 1
    n_classes: int = 10
    image_size: tuple = None

    def __post_init__(self):
        for name in ("stages", "widths", "multipliers", "operations"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.image_size is not None:  # a list when read from JSON
            object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        if len(self.stages) != len(self.widths) or not self.stages:
            raise ValueError(f"ChainSpace: {len(self.stages)} stages but {len(self.widths)} widths")
        if min(self.stages) < 1 or min(self.widths) < 1 or list(self.widths) != sorted(self.widths):
            raise ValueError("ChainSpace: stages need a layer each, widths must be positive and non-decreasing")
        if not self.multipliers or not all(0 < m <= 1 for m in self.multipliers):
            raise ValueError(f"ChainSpace: multipliers must lie in (0, 1]; got {self.multipliers}")
        unknown = [op for op in self.operations if op not in OPERATIONS]
        if unknown or not self.operations or len(set(self.operations)) < len(self.operations):
            raise ValueError(f"ChainSpace: operations must be distinct names among {OPERATIONS}; got {self.operations}")
        if self.stem_operation is not None and self.stem_operation not in self.operations:
            raise ValueError(
                f"ChainSpace: stem_operation must be one of {self.operations} or None; got {self.stem_operation!r}"
            )

    @classmethod
    def from_dict(cls, data):
        # Spaces saved before the stem was fixed searched their first layer freely.
        return cls(**{"stem_operation": None, **data})

    @classmethod
    def for_architecture(cls, architecture, **shape):
        """The space a chain architecture is built in on its own: its stages, and
        each stage's largest width its widest layer there."""
        widths, start = [], 0
        out = architecture.widths(shape.get("in_channels", 1))
        for n in architecture.stages:
            widths.append(max(b for _, b in out[start : start + n]))
            start += n
        widths = [max(widths[: i + 1]) for i in range(len(widths))]
        return cls(stages=architecture.stages, widths=tuple(widths), **shape)

    def bind(self, in_channels, n_classes, image_size=None):
        size = None if image_size is None else tuple(int(v) for v in image_size)
        return dataclasses.replace(self, in_channels=int(in_channels), n_classes=int(n_classes), image_size=size)

    # -- the decisions -------------------------------------------------------------

    @property
    def n_layers(self):
        return sum(self.stages)

    @property
    def layer_stage(self):
        """Each layer's stage."""
        return [s for s, n in enumerate(self.stages) for _ in range(n)]

    def stage_widths(self, stage):
        """The widths a layer of ``stage`` can take, in :attr:`multipliers` order."""
        return [max(1, round(m * self.widths[stage])) for m in self.multipliers]

    def options(self, layer):
        """Layer ``layer``'s options, in ``alpha`` order: ``("skip", None)``, then every
        operation at every width of its stage (the stem's blocked ones too:
        :meth:`option_mask`)."""
        return self._options[layer]

    @functools.cached_property
    def _options(self):
        # Per layer, made once: the supernet's discrete steps look options up every step.
        return tuple(
            (("skip", None),) + tuple((op, w) for op in OPERATIONS for w in self.stage_widths(stage))
            for stage in self.layer_stage
        )

    def layer_operations(self, layer):
        """The operations layer ``layer`` may run: the stem's alone at a fixed stem."""
        return (self.stem_operation,) if layer == 0 and self.stem_operation is not None else self.operations

    def allowed(self, layer):
        """Whether each of layer ``layer``'s options may be chosen (in :meth:`options` order);
        the first layer never skips."""
        return [(layer > 0 and op == "skip") or op in self.layer_operations(layer) for op, _ in self.options(layer)]

    def option_mask(self):
        if self.stem_operation is None and self.operations == OPERATIONS:
            return None  # the first layer never skips, but None keeps older searches' draws
        return np.array([self.allowed(layer) for layer in range(self.n_layers)])

    @property
    def arch_shape(self):
        return (self.n_layers, 1 + len(OPERATIONS) * len(self.multipliers))

    def architecture(self, choices):
        choices = np.asarray(choices).reshape(-1)
        return ChainArchitecture(tuple(self.options(i)[int(k)] for i, k in enumerate(choices)), self.stages)

    def choices(self, architecture):
        if architecture.stages != self.stages:
            raise ValueError(
                f"an architecture of stages {architecture.stages} is not one of this space's {self.stages}"
            )
        try:
            return np.array([self.options(i).index(layer) for i, layer in enumerate(architecture.layers)])
        except ValueError:
            raise ValueError(f"{architecture} has a layer this space does not offer") from None

    def random_architecture(self, rng, p_parameter_free=0.5):
        """Every layer skips with probability ``p_parameter_free`` (never the first),
        else draws an operation and a width uniformly."""
        layers = []
        for i in range(self.n_layers):
            options = self.options(i)
            if i > 0 and rng.uniform() < p_parameter_free:
                layers.append(options[0])
            else:
                drawn = [option for option, ok in zip(options[1:], self.allowed(i)[1:]) if ok]
                layers.append(drawn[rng.randint(len(drawn))])
        return ChainArchitecture(tuple(layers), self.stages)

    def collapsed(self, architecture):
        """True when every layer skips: the network is pooling and a linear classifier
        on the image, no convolution left."""
        return all(op == "skip" for op, _ in architecture.layers)

    # -- networks ------------------------------------------------------------------

    def supernet(self):
        return ChainSupernet(self)

    def build(self, architecture):
        widths = architecture.widths(self.in_channels)
        layers = [build_layers(op, a, b) for (op, _), (a, b) in zip(architecture.layers, widths)]
        return self._assemble(architecture, layers, nn.Linear(widths[-1][1], self.n_classes))

    def derive(self, supernet, architecture):
        self.choices(architecture)  # a clear error for a layer this space does not offer
        widths = architecture.widths(self.in_channels)
        layers = [
            [] if op == "skip" else layer[OPERATIONS.index(op)].derive(a, b)
            for (op, _), (a, b), layer in zip(architecture.layers, widths, supernet.layers)
        ]
        b = widths[-1][1]
        head = nn.Linear(b, self.n_classes)
        head.weight = nn.Parameter(supernet.head.weight[:, :b].detach().clone())
        head.bias = nn.Parameter(supernet.head.bias.detach().clone())
        return self._assemble(architecture, layers, head)

    def _assemble(self, architecture, layers, head):
        """Each layer's modules (a list per layer) with a max-pool after each stage, then
        pooling and the classifier ``head``."""
        modules, ends = [], set((np.cumsum(architecture.stages) - 1).tolist())
        for index, layer in enumerate(layers):
            modules += layer
            if index in ends:
                modules.append(nn.MaxPool2d(2, ceil_mode=True))
        return ChainNetwork(*modules, nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)

    # -- costs ---------------------------------------------------------------------

    def cost(self, architecture, kind):
        """Every layer's operation at its input and output widths and its stage's size,
        each stage's max-pool at its output width, and the classifier."""
        prices = _Prices(self, check_cost_kind(kind))
        widths = architecture.widths(self.in_channels)
        total = sum(prices.layer(i, op, a, b) for i, ((op, _), (a, b)) in enumerate(zip(architecture.layers, widths)))
        ends = np.cumsum(self.stages) - 1
        total += sum(prices.pool(stage, widths[end][1]) for stage, end in enumerate(ends))
        return total + prices.head(widths[-1][1])

    def expected_cost(self, alpha, kind):
        """``E[cost]`` under independent ``softmax(alpha)`` choices, exactly.

        The distribution ``q`` of a layer's input width over :meth:`width_grid` starts
        at the image's channels; a layer's expected cost is ``p . C . q`` (``C``: each
        option's cost at each input width), and its output width's distribution
        ``p_skip q + p . S`` (``S``: the width each option sets) is the next layer's
        input's. A stage's max-pool and the classifier price the distribution they read.
        """
        tables = _cost_tables(self, check_cost_kind(kind), alpha.device)
        probs = torch.softmax(alpha, dim=-1).to(torch.float64)
        q = tables["start"].expand(*probs.shape[:-2], -1)
        total = 0.0
        ends = set((np.cumsum(self.stages) - 1).tolist())
        for layer in range(self.n_layers):
            p = probs[..., layer, :]
            total = total + torch.einsum("...o,og,...g->...", p, tables["layers"][layer], q)
            q = p[..., :1] * q + p @ tables["sets"][layer]
            if layer in ends:
                total = total + q @ tables["pools"][self.layer_stage[layer]]
        total = total + q @ tables["head"]
        return total.to(alpha.dtype)

    def latency_entries(self):
        """Every operation of :attr:`operations` at every input width it can meet, output
        width and stage size, each stage's max-pool at every width, and the classifier at
        every width, channels-last, as the derived network runs them (its first layer's
        input is the image, the same tensor in either layout)."""
        from ..latency import LatencyEntry

        entries, grid = {}, self.width_grid()
        for layer in range(self.n_layers):
            height, width = self._stage_size(self.layer_stage[layer])
            for op, b in self.options(layer)[1:]:
                if op not in self.operations:
                    continue
                for a in grid:
                    key = _layer_key(op, a, b, (height, width))
                    entries[key] = LatencyEntry(
                        key, functools.partial(_layers, op, a, b), [(a, height, width)], channels_last=True
                    )
        for stage in range(len(self.stages)):
            size = self._stage_size(stage)
            for b in grid:
                key = _pool_key(b, size)
                entries[key] = LatencyEntry(key, _pool, [(b, *size)], channels_last=True)
        for b in grid:
            size = self._stage_size(len(self.stages))
            key = _head_key(b, self.n_classes, size)
            entries[key] = LatencyEntry(
                key, functools.partial(_head, b, self.n_classes), [(b, *size)], channels_last=True
            )
        return list(entries.values())

    def _stage_size(self, stage):
        """The images' size inside ``stage`` (after ``stage`` max-pools)."""
        if self.image_size is None:
            raise ValueError("FLOPs and latency need the images' size: bind the space with image_size=(height, width)")
        height, width = self.image_size
        for _ in range(stage):
            height, width = (height + 1) // 2, (width + 1) // 2
        return height, width

    def width_grid(self):
        """Every width a layer's input can have: the image's channels and every option's."""
        widths = {self.in_channels}
        for stage in range(len(self.stages)):
            widths.update(self.stage_widths(stage))
        return sorted(widths)


def _layer_key(op, a, b, size):
    return f"chain {op} {a}>{b} {size[0]}x{size[1]}"


def _pool_key(b, size):
    return f"chain max_pool c{b} {size[0]}x{size[1]}"


def _head_key(b, n_classes, size):
    return f"chain head {b}>{n_classes} {size[0]}x{size[1]}"


def _layers(op, a, b):
    return nn.Sequential(*build_layers(op, a, b))


def _pool():
    return nn.MaxPool2d(2, ceil_mode=True)


def _head(b, n_classes):
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(b, n_classes))


class _Prices:
    """One kind's price of a layer, a pool and the classifier of a bound chain space."""

    def __init__(self, space, kind):
        self.space, self.kind = space, kind
        if not isinstance(kind, str):
            kind.check(space)

    def layer(self, index, op, a, b):
        if op == "skip":
            return 0
        if self.kind == "params":
            return op_parameters(op, a, b)
        size = self.space._stage_size(self.space.layer_stage[index])
        if self.kind == "flops":
            return op_macs(op, a, b, size[0] * size[1])
        return self.kind[_layer_key(op, a, b, size)]

    def pool(self, stage, b):
        if isinstance(self.kind, str):
            return 0
        return self.kind[_pool_key(b, self.space._stage_size(stage))]

    def head(self, b):
        n = self.space.n_classes
        if self.kind == "params":
            return b * n + n
        if self.kind == "flops":
            return b * n
        return self.kind[_head_key(b, n, self.space._stage_size(len(self.space.stages)))]


class ChainNetwork(nn.Sequential):
    """A derived chain network: plain layers in sequence, run channels-last."""

    def forward(self, x):
        for module in self:
            x = module(x)
            if x.dim() == 4 and x.shape[1] > 1:
                # A no-op once a tensor is channels-last; a first layer of one channel
                # (a separable convolution's depthwise part on a gray image) is not yet.
                x = _channels_last(x)
        return x


def _channels_last(x):
    # Channels-last runs the depthwise convolutions several times faster on the CPU,
    # and the plain ones about a quarter faster (docs/benchmarks.md, "The chain space's
    # recipe"); every layer keeps its input's layout. Set after the first convolution:
    # with one input channel both layouts are the same tensor, and torch reads it as NCHW.
    return x.contiguous(memory_format=torch.channels_last)


@functools.lru_cache(maxsize=32)
def _cost_tables(space, kind, device):
    """The tensors :meth:`ChainSpace.expected_cost` contracts, float64, on ``device``."""
    prices = _Prices(space, kind)
    grid = space.width_grid()
    position = {w: i for i, w in enumerate(grid)}
    layers, sets = [], []
    for layer in range(space.n_layers):
        options = space.options(layer)
        cost = torch.zeros(len(options), len(grid), dtype=torch.float64)
        width = torch.zeros(len(options), len(grid), dtype=torch.float64)
        for k, (op, b) in enumerate(options):
            if op == "skip":
                continue
            width[k, position[b]] = 1.0
            if op not in space.operations and not isinstance(kind, str):
                continue  # never timed: masked, so of probability 0 under the hypernetwork
            for a in grid:
                cost[k, position[a]] = prices.layer(layer, op, a, b)
        layers.append(cost.to(device))
        sets.append(width.to(device))
    start = torch.zeros(len(grid), dtype=torch.float64)
    start[position[space.in_channels]] = 1.0
    pools = [
        torch.tensor([prices.pool(stage, w) for w in grid], dtype=torch.float64, device=device)
        for stage in range(len(space.stages))
    ]
    head = torch.tensor([prices.head(w) for w in grid], dtype=torch.float64, device=device)
    return {"layers": layers, "sets": sets, "start": start.to(device), "pools": pools, "head": head}


class ChainSupernet(nn.Module):
    """Every option of every layer of a :class:`ChainSpace`, sharing weights across widths.

    ``forward(x, weights)`` with ``weights`` of shape ``(n_layers, n_options)`` or
    ``(batch, n_layers, n_options)`` runs every operation of a layer once at its
    largest widths and mixes them: operation ``k``'s output is multiplied per channel
    by the total weight of its options at least that wide (FBNetV2's channel masks),
    ``skip`` adds the input (zero-padded to the layer's largest width). With
    ``choices`` (one option per layer) only the chosen operations run, on the first
    channels of every weight (once-for-all's elastic width): the derived network's
    computation, scaled by the chosen weights.
    """

    def __init__(self, space):
        super().__init__()
        self.space = space
        layers, a_max = [], space.in_channels
        for layer in range(space.n_layers):
            b_max = space.widths[space.layer_stage[layer]]
            layers.append(nn.ModuleList(make_op(op, a_max, b_max) for op in OPERATIONS))
            a_max = b_max
        self.layers = nn.ModuleList(layers)
        # The operations a mixture runs per layer: masked ones have weight 0.
        self.active = [[OPERATIONS.index(op) for op in space.layer_operations(i)] for i in range(space.n_layers)]
        self.pool = nn.MaxPool2d(2, ceil_mode=True)
        self.head = nn.Linear(space.widths[-1], space.n_classes)

    def _masks(self, layer, device):
        """``masks[m, c] = 1`` where channel ``c`` lies inside layer ``layer``'s width ``m``,
        and the same for its inverted bottleneck's hidden channels. Made per call (a
        few hundred values), so that a supernet built on the meta device loads."""
        widths = torch.tensor(self.space.stage_widths(self.space.layer_stage[layer]), device=device)[:, None]
        b_max = self.space.widths[self.space.layer_stage[layer]]
        channels = torch.arange(EXPANSION * b_max, device=device)[None]
        return (channels[:, :b_max] < widths).float(), (channels < EXPANSION * widths).float()

    def forward(self, x, weights, choices=None):
        if choices is not None:
            return self._forward_choices(x, weights, choices)
        stage_end = np.cumsum(self.space.stages)
        n_widths = len(self.space.multipliers)
        for layer, ops in enumerate(self.layers):
            p = weights[..., layer, :]
            b_max = self.space.widths[self.space.layer_stage[layer]]
            masks, hidden_masks = self._masks(layer, x.device)
            skip = p[..., 0].reshape(-1, 1, 1, 1) if p.dim() > 1 else p[0]
            out = skip * _pad_channels(x, b_max)
            for k in self.active[layer]:
                op = ops[k]
                pk = p[..., 1 + k * n_widths : 1 + (k + 1) * n_widths]
                mask = _per_channel(pk @ masks.to(pk.dtype))
                hidden = _per_channel(pk @ hidden_masks.to(pk.dtype)) if isinstance(op, InvertedBottleneck) else None
                out = out + op.full(x, hidden) * mask
            x = _channels_last(out) if layer == 0 else out
            if layer + 1 in stage_end:
                x = self.pool(x)
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    def _forward_choices(self, x, weights, choices):
        stage_end = np.cumsum(self.space.stages)
        a = x.shape[1]
        for layer, ops in enumerate(self.layers):
            k = int(choices[layer])
            op, b = self.space.options(layer)[k]
            w = weights[..., layer, k]
            if op == "skip":
                x = w * x
            else:
                x = w * ops[OPERATIONS.index(op)].sliced(x, a, b)
                a = b
            if layer == 0:
                x = _channels_last(x)
            if layer + 1 in stage_end:
                x = self.pool(x)
        pooled = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return nn.functional.linear(pooled, self.head.weight[:, :a], self.head.bias)


def _pad_channels(x, channels):
    """``x`` with zero channels appended up to ``channels``."""
    if x.shape[1] == channels:
        return x
    return nn.functional.pad(x, (0, 0, 0, 0, 0, channels - x.shape[1]))


def _per_channel(mask):
    """A per-channel mask ``(..., C)`` shaped to multiply ``(N, C, H, W)``."""
    return mask.reshape(-1, mask.shape[-1], 1, 1) if mask.dim() > 1 else mask.reshape(1, -1, 1, 1)
