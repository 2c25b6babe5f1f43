import numpy as np
import pytest
import torch

from skhypernas.hypernet import PiecewiseLinearHypernet
from skhypernas.path import architecture_at, enumerate_path, envelope_switches
from skhypernas.search_space import Genotype
from skhypernas.spaces import DartsSpace

SPACE = DartsSpace(n_nodes=4)


def test_envelope_switches_match_a_dense_scan():
    rng = np.random.RandomState(0)
    for _ in range(50):
        b, m = rng.randn(8), 3 * rng.randn(8)
        u = np.linspace(0, 1, 20001)
        winners = np.argmax(b[None] + u[:, None] * m[None], axis=1)
        changes = u[1:][winners[1:] != winners[:-1]]
        switches = envelope_switches(b, m)
        assert len(switches) == len(changes)
        np.testing.assert_allclose(switches, changes, atol=1e-4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dense_grid_finds_no_architecture_the_path_lacks(seed):
    torch.manual_seed(seed)
    hypernet = PiecewiseLinearHypernet((2, 14, 8), (1e-10, 1e-6), init_scale=1.0).double()
    path = enumerate_path(SPACE, hypernet.knot_anchors())
    lows = np.array([low for low, _, _ in path])
    highs = np.array([high for _, high, _ in path])
    # The intervals tile [0, 1]: no gap, no overlap; neighbours differ.
    assert lows[0] == 0 and highs[-1] == 1
    np.testing.assert_array_equal(lows[1:], highs[:-1])
    assert all(a[2] != b[2] for a, b in zip(path, path[1:]))
    on_path = {g for _, _, g in path}
    s_grid = np.linspace(0, 1, 20001)
    lambdas = torch.as_tensor(hypernet.lambda_of(s_grid))
    with torch.no_grad():
        choices = hypernet(lambdas).argmax(-1).numpy()
    for s, choice in zip(s_grid, choices):
        genotype = Genotype.from_choices(choice[0].tolist(), choice[1].tolist())
        assert genotype in on_path
        i = min(np.searchsorted(highs, s), len(path) - 1)
        if min(abs(s - lows[i]), abs(s - highs[i])) > 1e-9:
            assert genotype == path[i][2]


def test_path_of_constant_alpha_is_one_architecture():
    torch.manual_seed(0)
    hypernet = PiecewiseLinearHypernet((2, 5, 8), (1e-10, 1e-6), n_knots=1)
    path = enumerate_path(DartsSpace(n_nodes=2), hypernet.knot_anchors())
    assert len(path) == 1 and path[0][:2] == (0.0, 1.0)
    assert path[0][2] == architecture_at(DartsSpace(n_nodes=2), hypernet.knot_anchors(), 0.3)


def test_path_index_and_interval_middle_on_a_hand_made_path():
    from skhypernas.path import interval_middle, path_index

    path = {
        "lambda_min": np.array([1e-8, 1e-7, 1e-5]),
        "lambda_max": np.array([1e-7, 1e-5, 1e-4]),
        "n_parameters": np.array([900, 500, 100]),
        "accuracy": np.array([0.9, 0.9, 0.5]),
    }
    assert [path_index(path, lam) for lam in (1e-8, 5e-8, 1e-7, 2e-7, 1e-5, 1e-4)] == [0, 0, 0, 1, 1, 2]
    assert path_index(path, "best") == 1  # tie on accuracy: fewer parameters
    assert interval_middle(path, 1) == pytest.approx(1e-6)
    assert path_index(path, interval_middle(path, 2)) == 2


def test_complexity_path_is_what_the_estimator_stores(fitted, digits):
    import copy

    from skhypernas.path import complexity_path

    X, _ = digits
    clf = copy.deepcopy(fitted)
    x = torch.as_tensor(X[:64]).reshape(-1, *clf.image_shape_)
    y = torch.as_tensor(clf.predict(X[:64])).long()
    path, buffers = complexity_path(clf.supernet_, clf.hypernet_, x, x, y, batch_size=32)
    # Without costs: the parameter counts alone.
    assert list(path) == ["lambda_min", "lambda_max", "n_parameters", "accuracy", "genotype"]
    for key in ("lambda_min", "lambda_max", "n_parameters", "genotype"):
        assert list(path[key]) == list(clf.complexity_path_[key])
    space = clf.search_space_
    costs = {"n_flops": lambda g: space.cost(g, "flops"), "edges": lambda g: int((space.choices(g) > 0).sum())}
    priced, _ = complexity_path(clf.supernet_, clf.hypernet_, x, x, y, batch_size=32, costs=costs)
    assert list(priced) == ["lambda_min", "lambda_max", "n_flops", "edges", "accuracy", "genotype"]
    np.testing.assert_array_equal(priced["n_flops"], clf.complexity_path_["n_flops"])
    assert len(buffers) == len(path["genotype"]) and all(isinstance(b, dict) for b in buffers)
