"""The search-space seam: the DARTS space honours the interface, and a toy space that
knows nothing of cells runs through every estimator, the path and persistence."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

import skhypernas
from skhypernas import ArchitectureClassifier, DARTSClassifier, HyperDARTSClassifier, RandomArchitectureClassifier
from skhypernas.search_space import Genotype
from skhypernas.spaces import DartsSpace, SearchSpace, as_architecture, register_space, resolve_space


@dataclasses.dataclass(frozen=True)
class ToyArchitecture:
    """One option per layer: 0 skips the layer, 1 is a 3x3 convolution."""

    space = "toy"
    layers: tuple

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(int(v) for v in self.layers))

    def to_dict(self):
        return {"space": self.space, "layers": self.layers}

    @classmethod
    def from_dict(cls, data):
        return cls(data["layers"])

    def to_json(self):
        return json.dumps(self.to_dict())


class ToySupernet(nn.Module):
    def __init__(self, space):
        super().__init__()
        self.space = space
        c = space.width
        self.stem = nn.Sequential(nn.Conv2d(space.in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        self.convs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
            for _ in range(space.n_layers)
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, space.n_classes))

    def forward(self, x, weights, choices=None):
        x = self.stem(x)
        for layer, conv in enumerate(self.convs):
            w = weights[..., layer, :]
            if w.dim() > 1:  # a mixture per example
                w = w.reshape(-1, 2, 1, 1, 1).unbind(1)
            else:
                w = w.unbind(-1)
            if choices is not None:
                x = w[1] * conv(x) if int(choices[layer]) == 1 else w[0] * x
            else:
                x = w[0] * x + w[1] * conv(x)
        return self.head(x)


class ToyNetwork(nn.Sequential):
    pass


@register_space
@dataclasses.dataclass(frozen=True)
class ToySpace(SearchSpace):
    name = "toy"
    architecture_class = ToyArchitecture

    n_layers: int = 2
    width: int = 3
    in_channels: int = 1
    n_classes: int = 10
    image_size: tuple = None

    @classmethod
    def for_architecture(cls, architecture, **shape):
        return cls(n_layers=len(architecture.layers), **shape)

    def bind(self, in_channels, n_classes, image_size=None):
        size = None if image_size is None else tuple(image_size)
        return dataclasses.replace(self, in_channels=in_channels, n_classes=n_classes, image_size=size)

    @property
    def arch_shape(self):
        return (self.n_layers, 2)

    def supernet(self):
        return ToySupernet(self)

    def build(self, architecture):
        net = ToySupernet(self)
        kept = [net.convs[i] for i, choice in enumerate(architecture.layers) if choice == 1]
        return ToyNetwork(net.stem, *kept, net.head)

    def derive(self, supernet, architecture):
        net = self.build(architecture)
        kept = [supernet.convs[i] for i, choice in enumerate(architecture.layers) if choice == 1]
        source = ToyNetwork(supernet.stem, *kept, supernet.head)
        net.load_state_dict({k: v.clone() for k, v in source.state_dict().items()})
        return net

    def architecture(self, choices):
        return ToyArchitecture(np.asarray(choices).tolist())

    def choices(self, architecture):
        return np.array(architecture.layers)

    def random_architecture(self, rng, p_parameter_free=0.5):
        return ToyArchitecture([int(rng.uniform() >= p_parameter_free) for _ in range(self.n_layers)])

    def _costs(self, kind):
        """(fixed, per kept convolution) of ``kind``."""
        c = self.width
        fixed = self.in_channels * c * 9 + 2 * c + c * self.n_classes + self.n_classes
        conv = c * c * 9 + 2 * c
        if kind == "params":
            return fixed, conv
        if kind == "flops":
            pixels = self.image_size[0] * self.image_size[1]
            return (self.in_channels * c * 9) * pixels + c * self.n_classes, c * c * 9 * pixels
        entries = self.latency_entries()
        return kind[entries[0].key], kind[entries[1].key]

    def cost(self, architecture, kind):
        fixed, conv = self._costs(kind)
        return fixed + conv * sum(architecture.layers)

    def expected_cost(self, alpha, kind):
        fixed, conv = self._costs(kind)
        return fixed + conv * torch.softmax(alpha, -1)[..., 1].sum(-1)

    def latency_entries(self):
        from skhypernas.latency import LatencyEntry

        c, size = self.width, self.image_size
        net = ToySupernet(self)
        return [
            # The stem and head together, and one convolution.
            LatencyEntry(
                f"toy fixed {self.in_channels}>{c} {size}",
                lambda: nn.Sequential(ToySupernet(self).stem, ToySupernet(self).head),
                [(self.in_channels, *size)],
                channels_last=False,
            ),
            LatencyEntry(f"toy conv {c} {size}", lambda: net.convs[0], [(c, *size)], channels_last=False),
        ]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:240] / 16.0, y[:240]


TINY = dict(max_epochs=1, batch_size=32, random_state=0, verbose=0)


def test_the_darts_space_honours_the_interface():
    space = DartsSpace(channels=2, n_nodes=2).bind(3, 4)
    assert space.in_channels == 3 and space.n_classes == 4
    supernet = space.supernet()
    assert supernet.space == space
    assert space.arch_shape == (2, 5, 8)
    rng = np.random.RandomState(0)
    genotype = space.random_architecture(rng)
    assert space.architecture(space.choices(genotype)) == genotype
    assert space.n_parameters(genotype) == sum(p.numel() for p in space.build(genotype).parameters())
    derived = space.derive(supernet, genotype)
    assert sum(p.numel() for p in derived.parameters()) == space.n_parameters(genotype)
    # Near one-hot logits: the expected count is the architecture's edges' (the fixed
    # parts are the same for every architecture, so the regulariser leaves them out).
    alpha = 50.0 * torch.nn.functional.one_hot(torch.as_tensor(space.choices(genotype)), 8).float()
    expected = space.expected_parameters(alpha).item() + space.config.fixed_param_count()
    assert expected == pytest.approx(space.n_parameters(genotype), rel=1e-4)
    assert dataclasses.asdict(space) == {k: v for k, v in space.to_dict().items() if k != "name"}


def test_architectures_carry_their_space_in_json():
    genotype = Genotype(((("sep_conv_3x3", 0),),), ((("max_pool_3x3", 1),),))
    assert json.loads(genotype.to_json())["space"] == "darts"
    assert as_architecture(genotype.to_json()) == genotype
    untagged = {"normal": [[["sep_conv_3x3", 0]]], "reduce": [[["max_pool_3x3", 1]]]}
    assert as_architecture(untagged) == genotype  # files written before the tag
    assert as_architecture('{"space": "toy", "layers": [1, 0]}') == ToyArchitecture((1, 0))
    with pytest.raises(ValueError, match="unknown search space 'chainz'"):
        as_architecture({"space": "chainz", "layers": [1]})
    with pytest.raises(TypeError, match="architecture"):
        as_architecture(3)


def test_unknown_spaces_are_clear_errors(digits):
    X, y = digits
    with pytest.raises(ValueError, match="search_space='cells' is not a known space"):
        HyperDARTSClassifier(search_space="cells", **TINY).fit(X, y)
    with pytest.raises(TypeError, match="search_space must be a space name or a SearchSpace"):
        DARTSClassifier(search_space=3, **TINY).fit(X, y)
    with pytest.raises(ValueError, match="channels shape the 'darts' space by name"):
        HyperDARTSClassifier(search_space=DartsSpace(channels=2), channels=4, **TINY).fit(X, y)
    assert isinstance(resolve_space("darts"), DartsSpace)


def test_a_darts_space_object_is_the_same_search_as_its_name(digits):
    X, y = digits
    shape = dict(channels=2, n_cells=3, n_nodes=2)
    by_name = HyperDARTSClassifier(**shape, path_samples=64, **TINY).fit(X, y)
    by_object = HyperDARTSClassifier(search_space=DartsSpace(**shape), path_samples=64, **TINY).fit(X, y)
    np.testing.assert_array_equal(by_name.predict_proba(X), by_object.predict_proba(X))
    assert by_object.search_space_ == DartsSpace(**shape, in_channels=1, n_classes=10, image_size=(8, 8))


def test_a_space_without_cells_runs_through_every_estimator(digits, tmp_path):
    X, y = digits
    space = ToySpace(n_layers=3, width=3)
    clf = HyperDARTSClassifier(search_space=space, lambda_range=(1e-4, 1e-1), path_samples=64, **TINY).fit(X, y)
    path = clf.complexity_path_
    assert all(isinstance(g, ToyArchitecture) for g in path["genotype"])
    for genotype, count in zip(path["genotype"], path["n_parameters"]):
        assert count == sum(p.numel() for p in clf.search_space_.build(genotype).parameters())
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)
    loaded = skhypernas.load(clf.save(tmp_path / "toy.skh"))
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)

    tuned = ArchitectureClassifier(init=clf, max_epochs=1, batch_size=32, random_state=0).fit(X, y)
    assert tuned.genotype_ == clf.genotype_ and tuned.search_space_ == clf.search_space_
    scratch = ArchitectureClassifier(clf.genotype_.to_json(), max_epochs=1, batch_size=32, random_state=0).fit(X, y)
    assert scratch.n_parameters_ == clf.n_parameters_
    assert isinstance(skhypernas.load(scratch.save(tmp_path / "arch.skh")).genotype_, ToyArchitecture)
    drawn = RandomArchitectureClassifier(search_space=space, p_parameter_free=0.0, **TINY).fit(X, y)
    assert drawn.genotype_ == ToyArchitecture((1, 1, 1))
    darts = DARTSClassifier(search_space=space, recalibration_samples=64, **TINY).fit(X, y)
    assert darts.alpha_.shape == (3, 2) and isinstance(darts.genotype_, ToyArchitecture)


def test_an_architecture_of_another_space_is_refused_by_init(digits):
    X, y = digits
    clf = HyperDARTSClassifier(search_space=ToySpace(), path_samples=64, **TINY).fit(X, y)
    darts = Genotype(((("sep_conv_3x3", 0),),), ((("max_pool_3x3", 1),),))
    with pytest.raises(ValueError, match="not an architecture of init's search space"):
        ArchitectureClassifier(darts, init=clf, max_epochs=1).fit(X, y)


def test_a_collapsed_darts_architecture_is_one_whose_cell_type_learns_nothing():
    space = DartsSpace(channels=2, n_nodes=2).bind(1, 10)
    # Edges in order: node 0 reads states 0, 1; node 1 reads states 0, 1, 2.
    # 1 max_pool, 2 avg_pool, 3 skip_connect, 4 sep_conv_3x3.
    convs = Genotype.from_choices([4, 4, 0, 4, 0], [4, 0, 4, 0, 0])
    assert space.collapsed(convs) is False
    pools_in_normal = Genotype.from_choices([1, 3, 2, 0, 3], [4, 0, 4, 0, 0])
    assert space.collapsed(pools_in_normal) is True
    # A reduction cell's skip from an input state is a factorized reduce: it learns.
    reducing_skips = Genotype.from_choices([4, 4, 0, 4, 0], [3, 3, 0, 0, 0])
    assert space.collapsed(reducing_skips) is False
    assert space.collapsed(Genotype.from_choices([4, 4, 0, 4, 0], [1, 2, 0, 0, 3])) is True
    assert space.collapsed(Genotype.from_choices([0] * 5, [4] * 5)) is True  # no kept edge at all
    # Two cells have no reduction cell: its genotype does not count.
    two_cells = DartsSpace(channels=2, n_cells=2, n_nodes=2).bind(1, 10)
    assert two_cells.collapsed(Genotype.from_choices([4] * 5, [1] * 5)) is False
    # Collapsed means: the cells' edges add nothing to the fixed parts' parameters.
    fixed = space.config.fixed_param_count()
    assert space.n_parameters(Genotype.from_choices([1, 3, 2, 0, 3], [1, 2, 0, 0, 1])) == fixed


def test_a_space_that_cannot_tell_a_collapse_says_none():
    assert ToySpace().collapsed(ToyArchitecture((0, 0))) is None


def test_a_chain_that_skips_every_layer_is_collapsed():
    from skhypernas.spaces import ChainArchitecture, ChainSpace

    space = ChainSpace().bind(1, 10)
    skips = ChainArchitecture((("skip", None),) * 4, (2, 2))
    assert space.collapsed(skips) is True
    assert space.collapsed(ChainArchitecture((("conv_3x3", 12),) + (("skip", None),) * 3, (2, 2))) is False


def test_costs_are_the_spaces_to_compute_by_kind():
    from skhypernas.spaces import check_cost_kind

    space = DartsSpace(channels=2, n_nodes=2).bind(1, 3, image_size=(8, 8))
    genotype = space.random_architecture(np.random.RandomState(0))
    alpha = torch.randn(3, *space.arch_shape)  # a batch of alphas
    # Parameters are the regulariser of before, bit for bit, and the counts of before.
    assert torch.equal(space.expected_cost(alpha, "params"), space.expected_parameters(alpha))
    assert space.cost(genotype, "params") == space.n_parameters(genotype) == genotype.n_parameters(space.config)
    assert space.cost(genotype, "flops") == genotype.n_flops(space.config, (8, 8))
    assert space.expected_cost(alpha, "flops").shape == (3,)
    toy = ToySpace(n_layers=3).bind(1, 3, image_size=(8, 8))
    layers = ToyArchitecture((1, 0, 1))
    assert toy.cost(layers, "flops") == (9 * 3 + 2 * 3 * 3 * 9) * 64 + 3 * 3
    assert toy.n_parameters(layers) == toy.cost(layers, "params")
    with pytest.raises(ValueError, match="bind the space with image_size"):
        DartsSpace().cost(genotype, "flops")
    with pytest.raises(ValueError, match="unknown cost kind 'time'"):
        space.cost(genotype, "time")
    with pytest.raises(TypeError, match="a cost kind is one of"):
        check_cost_kind(3)
