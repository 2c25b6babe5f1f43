"""What lambda prices: parameters (as before, bit for bit), FLOPs, latency or a user's
cost model; how each is scaled; the path's three costs and set_complexity's budgets."""

import copy

import numpy as np
import pytest
import torch
from conftest import TINY

import skhypernas
from skhypernas import DARTSClassifier, HyperDARTSClassifier
from skhypernas.costs import SpaceCost, cost_scale, resolve_fit_costs
from skhypernas.hypernet import PiecewiseLinearHypernet
from skhypernas.search import BilevelSearch, SearchSettings
from skhypernas.spaces import DartsSpace

SPACE = DartsSpace(channels=2, n_nodes=2).bind(1, 10, image_size=(8, 8))


class KeptEdges:
    """A user's cost model: the number of kept edges (operations that are not "none")."""

    def cost(self, space, architecture):
        return float((space.choices(architecture) != 0).sum())

    def expected_cost(self, space, alpha):
        return (1.0 - torch.softmax(alpha, -1)[..., 0]).sum(dim=(-2, -1))


@pytest.fixture(scope="module")
def searched(digits):
    """One tiny search per cost, on the same seed."""
    X, y = digits
    fits = {}
    for cost in ("params", "flops", "latency", KeptEdges()):
        clf = HyperDARTSClassifier(cost=cost, random_state=0, lambda_range=(1e-6, 1e-2), **TINY)
        fits[cost if isinstance(cost, str) else "user"] = clf.fit(X[:300], y[:300])
    return fits


def test_the_path_carries_all_three_costs_whatever_lambda_prices(searched):
    for name, clf in searched.items():
        path, space, table = clf.complexity_path_, clf.search_space_, clf.latency_table_
        for i, genotype in enumerate(path["genotype"]):
            assert path["n_parameters"][i] == space.n_parameters(genotype)
            assert path["n_flops"][i] == space.cost(genotype, "flops")
            assert path["latency_ms"][i] == pytest.approx(space.cost(genotype, table)) and path["latency_ms"][i] > 0
        assert ("cost" in path) == (name == "user")
        clf.set_complexity("best")
        index = int(np.flatnonzero([g == clf.genotype_ for g in path["genotype"]])[0])
        assert clf.n_flops_ == path["n_flops"][index] and clf.latency_ms_ == path["latency_ms"][index]
    np.testing.assert_array_equal(
        searched["user"].complexity_path_["cost"],
        [KeptEdges().cost(SPACE, g) for g in searched["user"].complexity_path_["genotype"]],
    )


def test_each_cost_is_scaled_to_the_parameter_counts_gradient_at_the_start(searched):
    assert searched["params"].cost_scale_ == 1.0
    for name, clf in searched.items():
        space = clf.search_space_
        model = {"flops": SpaceCost("flops"), "latency": SpaceCost(clf.latency_table_), "user": KeptEdges()}.get(name)
        if model is None:
            continue
        assert clf.cost_scale_ == pytest.approx(cost_scale(model, space))

        def norm(expected):
            alpha = torch.zeros(space.arch_shape, requires_grad=True)
            return torch.autograd.grad(expected(alpha), alpha)[0].norm().item()

        scaled = norm(lambda a: clf.cost_scale_ * model.expected_cost(space, a))
        assert scaled == pytest.approx(norm(lambda a: space.expected_cost(a, "params")), rel=1e-4)


def test_the_parameter_regulariser_is_the_expected_parameter_count_bit_for_bit():
    costs = resolve_fit_costs("params", None, SPACE, (1, 8, 8), 10, torch.device("cpu"))
    alpha = torch.randn(4, *SPACE.arch_shape)
    assert costs.scale == 1.0 and costs.table is None
    assert torch.equal(costs.regulariser(SPACE)(alpha), SPACE.supernet().space.expected_parameters(alpha))


@pytest.mark.parametrize("cost", ["params", "flops", "latency", "user"])
def test_a_larger_lambda_moves_the_search_to_cheaper_architectures(cost):
    """Architecture steps alone (fixed lambda) from one start: the large lambda ends
    with a lower expected cost than the small one."""
    table = resolve_fit_costs("params", "auto", SPACE, (1, 8, 8), 10, torch.device("cpu")).table
    model = {"params": SpaceCost("params"), "flops": SpaceCost("flops"), "latency": SpaceCost(table)}
    model = model.get(cost, KeptEdges())
    scale = 1.0 if cost == "params" else cost_scale(model, SPACE)
    x, y = torch.randn(8, 1, 8, 8), torch.arange(8) % 10
    expected = []
    for lam in (1e-8, 1e-2):
        torch.manual_seed(0)
        supernet = SPACE.supernet()
        hypernet = PiecewiseLinearHypernet(SPACE.arch_shape, (1e-10, 1e-6), n_knots=1)
        settings = SearchSettings(fixed_lambda=lam, relaxation="softmax", arch_lr=0.05)
        search = BilevelSearch(
            supernet,
            hypernet,
            settings,
            np.random.RandomState(0),
            8,
            8,
            lambda a: scale * model.expected_cost(SPACE, a),
        )
        for _ in range(20):
            search.arch_step(x, y, lam, 1.0)
        with torch.no_grad():
            expected.append(model.expected_cost(SPACE, hypernet(lam)).item())
    assert expected[1] < expected[0]


def test_set_complexity_takes_a_budget_in_each_cost_and_all_of_them_at_once(searched):
    clf = copy.deepcopy(searched["latency"])
    path = clf.complexity_path_
    for budget, column in (("max_params", "n_parameters"), ("max_flops", "n_flops"), ("max_latency_ms", "latency_ms")):
        limit = np.median(path[column])
        clf.set_complexity(**{budget: limit})
        fits = path[column] <= limit
        assert (
            getattr(clf, {"n_parameters": "n_parameters_", "n_flops": "n_flops_"}.get(column, "latency_ms_")) <= limit
        )
        chosen = int(np.flatnonzero([g == clf.genotype_ for g in path["genotype"]])[0])
        assert path["accuracy"][chosen] == path["accuracy"][fits].max()
    # Budgets combine: the cheapest entry in FLOPs is the one left.
    clf.set_complexity(max_params=path["n_parameters"].max(), max_flops=path["n_flops"].min())
    assert clf.n_flops_ == path["n_flops"].min()


def test_budgets_that_cannot_be_met_or_mixed_with_a_lambda_are_refused(searched):
    clf = copy.deepcopy(searched["params"])
    with pytest.raises(ValueError, match="max_flops=1 is below the smallest architecture on the path"):
        clf.set_complexity(max_flops=1)
    with pytest.raises(ValueError, match="max_latency_ms=1e-09 is below"):
        clf.set_complexity(max_latency_ms=1e-9)
    with pytest.raises(ValueError, match="not both or neither"):
        clf.set_complexity(1e-4, max_flops=10**9)
    path = clf.complexity_path_
    if path["n_parameters"].argmin() != path["n_flops"].argmin():
        with pytest.raises(ValueError, match="no architecture on the path fits all"):
            clf.set_complexity(max_params=path["n_parameters"].min(), max_flops=path["n_flops"].min())


def test_without_a_table_there_is_no_latency_to_budget_or_price(digits):
    X, y = digits
    clf = HyperDARTSClassifier(latency_table=None, random_state=0, **TINY).fit(X[:200], y[:200])
    assert np.isnan(clf.complexity_path_["latency_ms"]).all() and clf.latency_table_ is None
    with pytest.raises(ValueError, match="max_latency_ms: this path has no latency_ms"):
        clf.set_complexity(max_latency_ms=1.0)
    with pytest.raises(ValueError, match='cost="latency" needs a latency table'):
        HyperDARTSClassifier(cost="latency", latency_table=None, **TINY).fit(X[:200], y[:200])


def test_bad_costs_and_tables_are_clear_errors(digits, tmp_path):
    X, y = digits
    with pytest.raises(ValueError, match="cost must be one of 'params', 'flops', 'latency'"):
        HyperDARTSClassifier(cost="time", **TINY).fit(X[:100], y[:100])
    with pytest.raises(TypeError, match=r"cost\(space, architecture\) and expected_cost\(space, alpha\)"):
        DARTSClassifier(cost=3, channels=2, max_epochs=1).fit(X[:100], y[:100])
    with pytest.raises(TypeError, match='latency_table must be "auto", None, a LatencyTable'):
        HyperDARTSClassifier(latency_table=3, **TINY).fit(X[:100], y[:100])
    # A table of another network (3 channels per cell instead of 2) is refused at fit.
    other = skhypernas.latency.measure_latency_table(
        DartsSpace(channels=3, n_nodes=2), (1, 8, 8), batch_size=8, calibration_networks=0, cache=False
    )
    other.save(tmp_path / "other.json")
    with pytest.raises(ValueError, match="the latency table does not match this network"):
        HyperDARTSClassifier(cost="latency", latency_table=tmp_path / "other.json", **TINY).fit(X[:100], y[:100])


def test_a_table_measured_elsewhere_is_read_from_its_file(searched, digits, tmp_path):
    X, y = digits
    table = searched["latency"].latency_table_
    path = table.save(tmp_path / "target.json")
    clf = HyperDARTSClassifier(cost="latency", latency_table=path, random_state=0, lambda_range=(1e-6, 1e-2), **TINY)
    clf.fit(X[:300], y[:300])
    assert clf.latency_table_ == table
    np.testing.assert_array_equal(
        clf.complexity_path_["latency_ms"], searched["latency"].complexity_path_["latency_ms"]
    )


def test_plain_darts_prices_its_architecture_in_every_cost(digits):
    X, y = digits
    clf = DARTSClassifier(
        cost="flops",
        complexity=1e-3,
        n_nodes=2,
        channels=2,
        max_epochs=1,
        batch_size=32,
        recalibration_samples=64,
        device="cpu",
        random_state=0,
    ).fit(X[:200], y[:200])
    space = clf.search_space_
    assert clf.n_flops_ == space.cost(clf.genotype_, "flops") and clf.cost_scale_ != 1.0
    assert clf.latency_ms_ == pytest.approx(space.cost(clf.genotype_, clf.latency_table_))


def test_a_saved_search_keeps_its_costs(searched, tmp_path):
    clf = searched["latency"]
    loaded = skhypernas.load(clf.save(tmp_path / "latency.skh"))
    assert loaded.latency_table_ == clf.latency_table_ and loaded.cost_scale_ == clf.cost_scale_
    for column in ("n_parameters", "n_flops", "latency_ms"):
        np.testing.assert_array_equal(loaded.complexity_path_[column], clf.complexity_path_[column])
    assert loaded.set_complexity(max_latency_ms=clf.complexity_path_["latency_ms"].max()).latency_ms_ > 0
