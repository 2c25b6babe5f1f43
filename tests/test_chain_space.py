"""The chain space: plain-CNN members, width sharing, exact expected costs, estimators."""

import itertools

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import skhypernas
from skhypernas import ArchitectureClassifier, HyperDARTSClassifier, RandomArchitectureClassifier
from skhypernas.hypernet import PiecewiseLinearHypernet
from skhypernas.inference import fold_batch_norms
from skhypernas.plain_cnn import PlainCNN, plain_cnn_parameters
from skhypernas.spaces import ChainArchitecture, ChainSpace, as_architecture
from skhypernas.spaces.base import space_from_dict

TINY_SPACE = ChainSpace(stages=(1, 2), widths=(4, 6), multipliers=(0.5, 1.0))
CONV_ONLY = ChainSpace(widths=(4, 6), multipliers=(0.5, 1.0), operations=("conv_3x3",))


def plain(width):
    return ChainArchitecture((("conv_3x3", width),) * 2 + (("conv_3x3", 2 * width),) * 2, (2, 2))


@pytest.mark.parametrize("width", [12, 24, 36, 48])
def test_the_plain_cnn_is_a_member_at_its_widths(width):
    space = ChainSpace().bind(1, 10)
    arch = plain(width)
    space.choices(arch)  # an architecture of the space, not only a buildable one
    net = space.build(arch)
    assert [p.shape for p in net.parameters()] == [p.shape for p in PlainCNN(width).parameters()]
    assert space.n_parameters(arch) == plain_cnn_parameters(width) == sum(p.numel() for p in net.parameters())


def test_the_default_space_spans_5k_to_150k_parameters():
    space = ChainSpace().bind(1, 10)
    smallest = ChainArchitecture((("sep_conv_3x3", 12), ("skip", None), ("sep_conv_3x3", 24), ("skip", None)), (2, 2))
    assert space.n_parameters(smallest) < 5_000 and space.n_parameters(plain(48)) > 140_000


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_derived_member_computes_the_supernet_at_its_one_hot_choice(seed):
    torch.manual_seed(seed)
    stem = "conv_3x3" if seed < 2 else None  # a fixed stem, and a first layer of any operation
    space = ChainSpace(widths=(8, 12), multipliers=(0.25, 0.5, 1.0), stem_operation=stem).bind(2, 3)
    supernet = space.supernet()
    with torch.no_grad():  # non-trivial batch-norm affine parameters
        for p in supernet.parameters():
            p.add_(0.1 * torch.randn_like(p))
    arch = space.random_architecture(np.random.RandomState(seed), p_parameter_free=0.3)
    choices = torch.as_tensor(space.choices(arch))
    weights = torch.nn.functional.one_hot(choices, space.arch_shape[-1]).float()
    derived = space.derive(supernet, arch)
    x = torch.randn(5, 2, 9, 7)
    supernet.train(), derived.train()  # batch statistics, as in a search step
    expected = derived(x)
    torch.testing.assert_close(supernet(x, weights), expected)  # the mixture at one-hot weights
    torch.testing.assert_close(supernet(x, weights, choices), expected)  # the sliced single path
    assert sum(p.numel() for p in derived.parameters()) == space.n_parameters(arch)


@pytest.mark.parametrize("first", ["conv_3x3", "sep_conv_3x3"])
def test_derived_networks_run_channels_last_after_the_image(first):
    # Depthwise convolutions run several times faster channels-last on the CPU; a
    # separable first layer's depthwise part outputs one channel, which torch reads as NCHW.
    space = ChainSpace(widths=(8, 12), multipliers=(0.5, 1.0), stem_operation=None).bind(1, 3)
    arch = ChainArchitecture(((first, 8), ("sep_conv_5x5", 4), ("conv_3x3", 12), ("skip", None)), (2, 2))
    net = space.build(arch)
    layouts = []
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d) and module.in_channels > 1:
            module.register_forward_hook(
                lambda m, inputs, out: layouts.append(inputs[0].is_contiguous(memory_format=torch.channels_last))
            )
    net(torch.randn(2, 1, 9, 9))
    assert len(layouts) >= 3 and all(layouts)


def test_expected_parameters_equal_the_enumeration_and_are_differentiable():
    space = TINY_SPACE.bind(2, 3)
    torch.manual_seed(0)
    alpha = torch.randn(*space.arch_shape, dtype=torch.float64, requires_grad=True)
    probs = torch.softmax(alpha, -1).detach().numpy()
    total = 0.0
    for combo in itertools.product(range(space.arch_shape[-1]), repeat=space.n_layers):
        weight = np.prod([probs[layer, k] for layer, k in enumerate(combo)])
        total += weight * space.n_parameters(space.architecture(np.array(combo)))
    expected = space.expected_parameters(alpha)
    assert expected.item() == pytest.approx(total, rel=1e-12)
    expected.backward()
    assert torch.isfinite(alpha.grad).all() and alpha.grad.abs().sum() > 0
    batch = space.expected_parameters(torch.stack([alpha.detach(), alpha.detach()]))
    assert batch.shape == (2,) and batch[0].item() == pytest.approx(total, rel=1e-12)


def test_architectures_round_trip_and_bad_ones_are_clear_errors():
    arch = plain(12)
    assert as_architecture(arch.to_json()) == arch and "conv_3x3(12)" in str(arch)
    with pytest.raises(ValueError, match="is not a layer"):
        ChainArchitecture((("conv_7x7", 4),), (1,))
    with pytest.raises(ValueError, match="do not split"):
        ChainArchitecture((("conv_3x3", 4),), (2,))
    with pytest.raises(ValueError, match="does not offer"):
        ChainSpace().choices(plain(13))
    with pytest.raises(ValueError, match="non-decreasing"):
        ChainSpace(widths=(16, 8))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


@pytest.fixture(scope="module")
def chain_search(digits):
    X, y = digits
    space = ChainSpace(widths=(4, 8), multipliers=(0.5, 1.0))
    params = dict(max_epochs=2, batch_size=32, path_samples=64, lambda_range=(1e-6, 1e-2), random_state=0)
    return HyperDARTSClassifier(search_space=space, discrete_fraction=0.5, **params).fit(X, y)


def test_the_path_costs_are_the_derived_networks_counts(chain_search):
    path = chain_search.complexity_path_
    assert all(isinstance(g, ChainArchitecture) for g in path["genotype"])
    for genotype, count in zip(path["genotype"], path["n_parameters"]):
        net = chain_search.search_space_.derive(chain_search.supernet_, genotype)
        assert count == sum(p.numel() for p in net.parameters())


def test_the_stem_chooses_only_the_width_of_its_convolution(chain_search):
    space = ChainSpace().bind(1, 10)
    mask = space.option_mask()
    assert mask.shape == space.arch_shape and mask[1:].all()
    assert [space.options(0)[k] for k in np.flatnonzero(mask[0])] == [("conv_3x3", w) for w in (12, 18, 24, 36, 48)]
    hypernet = PiecewiseLinearHypernet(space.arch_shape, (1e-8, 1e-4), init_scale=1.0, option_mask=mask)
    probs = torch.softmax(hypernet(torch.tensor([1e-8, 1e-6])), -1)
    assert (probs[:, 0][:, ~mask[0]] == 0).all() and (hypernet.knot_anchors()[:, 0, ~mask[0]] < -1e3).all()
    rng = np.random.RandomState(0)
    assert all(space.random_architecture(rng).layers[0][0] == "conv_3x3" for _ in range(50))
    assert all(g.layers[0][0] == "conv_3x3" for g in chain_search.complexity_path_["genotype"])
    # A space saved before the stem was fixed searched its first layer freely.
    old = {k: v for k, v in ChainSpace().to_dict().items() if k != "stem_operation"}
    assert space_from_dict(old).stem_operation is None and space_from_dict(old).option_mask() is None
    with pytest.raises(ValueError, match="stem_operation"):
        ChainSpace(stem_operation="conv_7x7")


def test_a_space_of_fewer_operations_searches_only_those(digits):
    space = CONV_ONLY.bind(1, 10, (8, 8))
    mask = space.option_mask()
    assert [space.options(1)[k] for k in np.flatnonzero(mask[1])] == [("skip", None), ("conv_3x3", 2), ("conv_3x3", 4)]
    rng = np.random.RandomState(0)
    drawn = {op for _ in range(50) for op, _ in space.random_architecture(rng).layers}
    assert drawn == {"conv_3x3", "skip"}
    # The latency table times only what the space can build.
    assert all(" sep_" not in e.key and "inverted" not in e.key for e in space.latency_entries())
    assert space_from_dict(space.to_dict()) == space
    X, y = digits
    clf = HyperDARTSClassifier(
        search_space=CONV_ONLY,
        max_epochs=1,
        batch_size=64,
        path_samples=16,
        relaxation="hard",
        random_state=0,
    ).fit(X[:300], y[:300])
    assert all(op in ("conv_3x3", "skip") for g in clf.complexity_path_["genotype"] for op, _ in g.layers)
    with pytest.raises(ValueError, match="operations"):
        ChainSpace(operations=("conv_7x7",))
    with pytest.raises(ValueError, match="stem_operation"):
        ChainSpace(operations=("sep_conv_3x3",))


def test_a_masked_space_scales_its_cost_at_the_start_the_search_has():
    from skhypernas.costs import SpaceCost, cost_scale
    from skhypernas.hypernet import MASKED

    space = CONV_ONLY.bind(1, 10, (8, 8))
    blocked = torch.as_tensor(~space.option_mask())
    scale = cost_scale(SpaceCost("flops"), space)

    def norm(expected):  # uniform over the options a search may take
        alpha = torch.zeros(space.arch_shape).masked_fill(blocked, MASKED).requires_grad_()
        return torch.autograd.grad(expected(alpha), alpha)[0].norm().item()

    params = norm(lambda a: space.expected_cost(a, "params"))
    assert scale * norm(lambda a: space.expected_cost(a, "flops")) == pytest.approx(params, rel=1e-6)


def test_chain_models_predict_save_load_fold_and_fine_tune(chain_search, digits, tmp_path):
    X, y = digits
    proba = chain_search.predict_proba(X)
    loaded = skhypernas.load(chain_search.save(tmp_path / "chain.skh"))
    np.testing.assert_allclose(loaded.predict_proba(X), proba, atol=1e-6)
    net = chain_search.network_.eval()
    folded = fold_batch_norms(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules() if m is not folded)
    x = torch.as_tensor(X[:8], dtype=torch.float32).reshape(-1, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), net(x), atol=1e-5, rtol=1e-4)
    tuned = ArchitectureClassifier(init=chain_search, max_epochs=1, batch_size=32, random_state=0).fit(X, y)
    assert tuned.n_parameters_ == chain_search.n_parameters_
    drawn = RandomArchitectureClassifier(search_space="chain", max_epochs=1, random_state=0).fit(X, y)
    assert isinstance(drawn.genotype_, ChainArchitecture)


def test_flops_are_the_flop_counters_and_every_cost_expectation_is_exact():
    from torch.utils.flop_counter import FlopCounterMode

    from skhypernas.latency import LatencyTable, _shape_record

    space = TINY_SPACE.bind(2, 3, image_size=(7, 5))
    rng = np.random.RandomState(0)
    for _ in range(4):
        arch = space.random_architecture(rng, p_parameter_free=0.3)
        with FlopCounterMode(display=False) as counter:
            space.build(arch).eval()(torch.randn(1, 2, 7, 5))
        assert space.cost(arch, "flops") == counter.get_total_flops() // 2
    entries = space.latency_entries()
    table = LatencyTable(
        {e.key: 0.01 * (i + 1) for i, e in enumerate(entries)}, {e.key: _shape_record(e) for e in entries}, {}
    )
    alpha = torch.randn(*space.arch_shape, dtype=torch.float64)
    probs = torch.softmax(alpha, -1).numpy()
    for kind in ("params", "flops", table):
        total = 0.0
        for combo in itertools.product(range(space.arch_shape[-1]), repeat=space.n_layers):
            weight = np.prod([probs[layer, k] for layer, k in enumerate(combo)])
            total += weight * space.cost(space.architecture(np.array(combo)), kind)
        assert space.expected_cost(alpha, kind).item() == pytest.approx(total, rel=1e-10)
    with pytest.raises(ValueError, match="bind the space with image_size"):
        TINY_SPACE.bind(2, 3).cost(arch, "flops")
