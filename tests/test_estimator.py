import copy

import numpy as np
import pytest
import torch
from conftest import TINY
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skhypernas import Genotype, HyperDARTSClassifier


def small(X, y, n=200):
    return X[:n], y[:n]


def test_init_stores_parameters_only():
    clf = HyperDARTSClassifier(channels=3, complexity=1e-8)
    assert clf.get_params()["channels"] == 3 and clf.get_params()["complexity"] == 1e-8
    assert not [k for k in vars(clf) if k.endswith("_")]


def test_fit_exposes_a_complexity_path_that_tiles_the_range(fitted):
    path = fitted.complexity_path_
    n = len(path["genotype"])
    assert n >= 1
    assert list(path) == ["lambda_min", "lambda_max", "n_parameters", "n_flops", "latency_ms", "accuracy", "genotype"]
    assert all(len(v) == n for v in path.values())
    assert path["lambda_min"][0] == pytest.approx(1e-10) and path["lambda_max"][-1] == pytest.approx(1e-6)
    np.testing.assert_allclose(path["lambda_min"][1:], path["lambda_max"][:-1])
    assert np.all((0 <= path["accuracy"]) & (path["accuracy"] <= 1))
    assert all(isinstance(g, Genotype) for g in path["genotype"])
    config = fitted.supernet_.config
    assert [g.n_parameters(config) for g in path["genotype"]] == list(path["n_parameters"])


def test_predict_runs_the_derived_network_not_the_supernet(fitted, digits):
    X, _ = digits
    proba = fitted.predict_proba(X[:50])
    x = torch.as_tensor(X[:50]).reshape(50, 1, 8, 8)
    with torch.no_grad():
        expected = torch.softmax(fitted.network_(x), 1).numpy()
    np.testing.assert_allclose(proba, expected, rtol=1e-5, atol=1e-6)
    assert fitted.network_.genotype == fitted.genotype_
    assert fitted.n_parameters_ == sum(p.numel() for p in fitted.network_.parameters())
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-6)
    assert set(fitted.predict(X[:50])) <= set(fitted.classes_)


def test_set_complexity_picks_the_path_entry_and_returns_self(fitted):
    clf = copy.deepcopy(fitted)
    path = clf.complexity_path_
    for i in range(len(path["genotype"])):
        lam = float(np.sqrt(path["lambda_min"][i] * path["lambda_max"][i]))
        assert clf.set_complexity(lam) is clf
        assert clf.complexity == lam == clf.complexity_
        assert clf.genotype_ == path["genotype"][i]
        assert clf.n_parameters_ == path["n_parameters"][i]
    clf.set_complexity("best")
    best = np.flatnonzero(path["accuracy"] == path["accuracy"].max())
    assert clf.n_parameters_ == path["n_parameters"][best].min()
    budget = int(np.median(path["n_parameters"]))
    clf.set_complexity(max_params=budget)
    assert clf.n_parameters_ <= budget
    assert path["lambda_min"][0] <= clf.complexity <= path["lambda_max"][-1]


@pytest.mark.parametrize("how", ["set_params", "assignment"])
def test_predict_never_runs_a_stale_complexity(fitted, digits, how):
    X, _ = digits
    clf = copy.deepcopy(fitted)
    path = clf.complexity_path_
    # Two path entries with different architectures, each named by its interval's middle.
    first, last = 0, len(path["genotype"]) - 1
    lambdas = [float(np.sqrt(path["lambda_min"][i] * path["lambda_max"][i])) for i in (first, last)]
    for lam in (lambdas[1], lambdas[0], "best"):
        if how == "set_params":
            clf.set_params(complexity=lam)
        else:
            clf.complexity = lam
        fresh = copy.deepcopy(fitted).set_complexity(lam)
        np.testing.assert_array_equal(clf.predict_proba(X[:40]), fresh.predict_proba(X[:40]))
        assert clf.genotype_ == fresh.genotype_ and clf.n_parameters_ == fresh.n_parameters_
    clf.complexity = 1.0  # outside lambda_range: refused with the usual message
    with pytest.raises(ValueError, match="lambda_range"):
        clf.predict(X[:5])


@pytest.mark.parametrize("bad", [1e-12, 1e-3, "simplest", -1.0])
def test_complexity_outside_the_searched_range_is_a_clear_error(fitted, bad):
    with pytest.raises(ValueError, match="complexity"):
        copy.deepcopy(fitted).set_complexity(bad)


def test_set_complexity_needs_exactly_one_choice_and_a_reachable_budget(fitted):
    with pytest.raises(ValueError, match="either"):
        fitted.set_complexity()
    with pytest.raises(ValueError, match="max_params"):
        fitted.set_complexity(max_params=10)


def test_unfitted_set_complexity_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        HyperDARTSClassifier().set_complexity(1e-8)


def test_complexity_parameter_is_used_at_fit(digits):
    X, y = small(*digits)
    clf = HyperDARTSClassifier(random_state=0, complexity=1e-6, **TINY).fit(X, y)
    assert clf.complexity_ == 1e-6
    assert clf.genotype_ == clf.complexity_path_["genotype"][-1]
    with pytest.raises(ValueError, match="outside"):
        HyperDARTSClassifier(complexity=1.0, **TINY).fit(X, y)


def test_same_random_state_gives_identical_path_and_predictions(digits):
    X, y = small(*digits)
    a = HyperDARTSClassifier(random_state=3, **TINY).fit(X, y)
    b = HyperDARTSClassifier(random_state=3, **TINY).fit(X, y)
    for key in ("lambda_min", "lambda_max", "n_parameters", "accuracy"):
        np.testing.assert_array_equal(a.complexity_path_[key], b.complexity_path_[key])
    assert list(a.complexity_path_["genotype"]) == list(b.complexity_path_["genotype"])
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_fit_leaves_torch_global_random_state_alone(digits):
    X, y = small(*digits)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    HyperDARTSClassifier(random_state=0, **TINY).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_image_layouts_are_equivalent(digits):
    X, y = small(*digits)
    flat = HyperDARTSClassifier(random_state=0, **TINY).fit(X, y)
    images = HyperDARTSClassifier(random_state=0, **TINY).fit(X.reshape(-1, 8, 8), y)
    channels = HyperDARTSClassifier(random_state=0, **TINY).fit(X.reshape(-1, 1, 8, 8), y)
    assert flat.image_shape_ == images.image_shape_ == channels.image_shape_ == (1, 8, 8)
    assert flat.n_features_in_ == images.n_features_in_ == 64
    expected = flat.predict_proba(X)
    np.testing.assert_array_equal(images.predict_proba(X.reshape(-1, 8, 8)), expected)
    np.testing.assert_array_equal(channels.predict_proba(X.reshape(-1, 1, 8, 8)), expected)
    np.testing.assert_array_equal(channels.predict_proba(X), expected)  # rows work too
    with pytest.raises(ValueError, match="shape"):
        flat.predict(X.reshape(-1, 1, 4, 16))


def test_multichannel_images_and_explicit_image_shape():
    rng = np.random.RandomState(0)
    X = rng.rand(60, 3, 6, 5).astype(np.float32)
    y = (X[:, 0].mean((1, 2)) > 0.5).astype(int)
    clf = HyperDARTSClassifier(random_state=0, **TINY).fit(X, y)
    assert clf.image_shape_ == (3, 6, 5) and clf.supernet_.config.in_channels == 3
    flat = HyperDARTSClassifier(random_state=0, image_shape=(3, 6, 5), **TINY).fit(X.reshape(60, -1), y)
    np.testing.assert_array_equal(flat.predict_proba(X.reshape(60, -1)), clf.predict_proba(X))
    with pytest.raises(ValueError, match="image_shape"):
        HyperDARTSClassifier(image_shape=(4, 4), **TINY).fit(X.reshape(60, -1), y)


def test_non_image_rows_become_a_strip():
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    clf = HyperDARTSClassifier(random_state=0, **TINY).fit(X, y)
    assert clf.image_shape_ == (1, 1, 13)
    assert clf.predict(X).shape == (len(X),)


def test_string_labels_round_trip(digits):
    X, y = small(*digits)
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = HyperDARTSClassifier(random_state=0, **TINY).fit(X, names[y])
    assert list(clf.classes_) == sorted(names)
    assert set(clf.predict(X)) <= set(names)


def test_single_class_and_lambda_range_errors(digits):
    X, y = small(*digits)
    with pytest.raises(ValueError, match="single class"):
        HyperDARTSClassifier(**TINY).fit(X, np.zeros(len(X)))
    for bad in [(1e-6, 1e-10), (0.0, 1e-6), (-1e-8, 1e-6), "wide"]:
        with pytest.raises(ValueError, match="lambda_range"):
            HyperDARTSClassifier(lambda_range=bad, **TINY).fit(X, y)


def test_pipeline_and_clone(digits):
    X, y = small(*digits)
    pipe = make_pipeline(StandardScaler(), HyperDARTSClassifier(random_state=0, **TINY)).fit(X, y)
    assert 0 <= pipe.score(X, y) <= 1
    pipe = make_pipeline(
        FunctionTransformer(lambda a: a.reshape(len(a), 1, 8, 8)), HyperDARTSClassifier(random_state=0, **TINY)
    )
    assert pipe.fit(X, y).predict(X).shape == (len(X),)
    fitted = pipe[-1]
    fitted.set_complexity(float(fitted.complexity_path_["lambda_max"][-1]))
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()  # the chosen complexity included
    assert not [k for k in vars(copy) if k.endswith("_")]


def test_grid_search_over_complexity_in_two_processes(digits):
    from sklearn.model_selection import GridSearchCV

    X, y = small(*digits, n=120)
    grid = {"complexity": [1e-9, 1e-7], "lambda_range": [(1e-10, 1e-6)]}
    search = GridSearchCV(HyperDARTSClassifier(random_state=0, **TINY), grid, cv=2, n_jobs=2).fit(X, y)
    assert search.best_params_["complexity"] in (1e-9, 1e-7)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.complexity_ == search.best_params_["complexity"]
    # Workers are separate processes: the same seed gives the same fit as here.
    here = HyperDARTSClassifier(random_state=0, **TINY).set_params(**search.best_params_).fit(X, y)
    np.testing.assert_array_equal(search.predict_proba(X), here.predict_proba(X))


def test_cross_validate_scores_every_fold(digits):
    from sklearn.model_selection import cross_validate

    X, y = small(*digits, n=150)
    result = cross_validate(HyperDARTSClassifier(random_state=0, **TINY), X, y, cv=3, return_estimator=True)
    assert result["test_score"].shape == (3,) and np.all((0 <= result["test_score"]) & (result["test_score"] <= 1))
    assert len({id(e) for e in result["estimator"]}) == 3
    assert all(hasattr(e, "complexity_path_") for e in result["estimator"])


def test_verbose_reports_progress_and_silence_by_default(digits, capfd):
    from skhypernas.reporting import EPOCH_TABLE_HEADER

    X, y = small(*digits)
    HyperDARTSClassifier(random_state=0, **TINY).fit(X, y)
    out = capfd.readouterr()
    assert out.out == "" and out.err == ""  # at the file-descriptor level: nothing at all
    clf = HyperDARTSClassifier(random_state=0, verbose=1, **{**TINY, "max_epochs": 2}).fit(X, y)
    out = capfd.readouterr()
    assert "estimated search time" in out.out
    assert "epoch 1/2" in out.err and "epoch 2/2" in out.err and "step/s" in out.err  # tqdm bars
    lines = out.out.splitlines()
    assert EPOCH_TABLE_HEADER in lines
    rows = [line for line in lines if line.split()[0].endswith("/2")]
    assert len(rows) == 2
    for h, row in zip(clf.history_, rows):
        cells = row.split()
        assert cells[0] == f"{h['epoch']}/2"
        assert [float(c) for c in cells[1:]] == pytest.approx(
            [h[k] for k in ("train_loss", "arch_loss", "arch_accuracy", "temperature")]
            + [h[k] for k in ("lambda_min", "lambda_median", "lambda_max", "seconds")],
            rel=0.01,
            abs=0.06,
        )


def test_second_order_search_fits(digits):
    X, y = small(*digits, n=100)
    clf = HyperDARTSClassifier(random_state=0, second_order=True, **TINY).fit(X, y)
    assert clf.history_[0]["steps"] >= 1


def test_history_records_each_epoch(digits):
    X, y = small(*digits)
    clf = HyperDARTSClassifier(random_state=0, **{**TINY, "max_epochs": 2}).fit(X, y)
    assert [h["epoch"] for h in clf.history_] == [1, 2]
    keys = {"train_loss", "arch_loss", "arch_accuracy", "temperature", "seconds"}
    assert keys | {"lambda_min", "lambda_median", "lambda_max"} <= set(clf.history_[0])


def test_max_time_stops_after_the_current_step_and_leaves_a_usable_model(digits):
    X, y = small(*digits)
    clf = HyperDARTSClassifier(random_state=0, max_time=1e-9, **{**TINY, "max_epochs": 5}).fit(X, y)
    assert len(clf.history_) == 1 and clf.history_[0]["steps"] == 1  # of 3 steps per epoch
    assert len(clf.complexity_path_["genotype"]) >= 1
    assert clf.predict(X).shape == (len(X),)


def test_early_stopping_patience_ends_the_search_early(digits):
    X, y = small(*digits)
    # A zero learning rate leaves the held-out loss flat: patience 1 stops at epoch 2.
    params = {**TINY, "max_epochs": 6, "lr": 1e-12, "lr_min": 0.0, "arch_lr": 1e-12}
    clf = HyperDARTSClassifier(random_state=0, early_stopping_patience=1, **params).fit(X, y)
    assert 2 <= len(clf.history_) < 6
    assert clf.predict(X).shape == (len(X),)
    with pytest.raises(ValueError, match="early_stopping_patience"):
        HyperDARTSClassifier(early_stopping_patience=0, **TINY).fit(X, y)


@pytest.mark.parametrize(
    "param,value,error",
    [
        ("n_nodes", 0, ValueError),
        ("channels", -4, ValueError),
        ("channels", 2.5, TypeError),
        ("batch_size", 0, ValueError),
        ("temperature_end", 0.0, ValueError),
        ("temperature_start", -1.0, ValueError),
        ("validation_fraction", 1.0, ValueError),
        ("lr", float("nan"), ValueError),
        ("max_time", 0, ValueError),
        ("n_knots", 0, ValueError),
        ("momentum", "high", TypeError),
        ("relaxation", "softmax", ValueError),
        ("discrete_fraction", 1.0, ValueError),
        ("discrete_fraction", "half", TypeError),
        ("sandwich", "yes", ValueError),
    ],
)
def test_nonsensical_hyperparameters_are_named_in_the_error(digits, param, value, error):
    X, y = small(*digits, n=40)
    with pytest.raises(error, match=param):
        HyperDARTSClassifier(**{**TINY, param: value}).fit(X, y)


def test_a_discrete_share_ends_the_search_with_weight_steps_of_the_path_s_networks(digits):
    X, y = digits
    params = dict(TINY, max_epochs=4, lr=0.1, discrete_fraction=0.5, sandwich=True, random_state=0)
    clf = HyperDARTSClassifier(**params).fit(X[:600], y[:600])
    assert [h["arch_steps"] > 0 for h in clf.history_] == [True, True, False, False]
    assert [h["discrete_steps"] == h["steps"] for h in clf.history_] == [False, False, True, True]
    losses = [h["train_loss"] for h in clf.history_]
    assert losses[-1] < losses[1]
    assert set(clf.set_complexity(1e-8).predict(X[600:700])) <= set(clf.classes_)


def test_hard_relaxation_learns_and_fits_a_whole_path(digits):
    X, y = digits
    clf = HyperDARTSClassifier(**{**TINY, "max_epochs": 3}, lr=0.1, relaxation="hard", random_state=0)
    clf.fit(X[:600], y[:600])
    losses = [h["train_loss"] for h in clf.history_]
    assert losses[-1] < losses[0]
    assert len(clf.complexity_path_["genotype"]) >= 1
    assert clf.predict(X[600:700]).shape == (100,)


def test_bad_data_gets_errors_that_name_the_problem(digits, fitted):
    import scipy.sparse

    X, y = small(*digits, n=60)
    clf = HyperDARTSClassifier(**TINY)
    bad_X = X.copy()
    bad_X[3, 5] = np.nan
    cases = [
        (bad_X, y, ValueError, "NaN"),
        (X[:0], y[:0], ValueError, "0 sample"),
        (X.astype(str).astype(object) + "px", y, ValueError, "convert"),
        (scipy.sparse.csr_matrix(X), y, TypeError, "[Ss]parse"),
        (X.reshape(60, 1, 1, 8, 8), y, ValueError, "dimensions"),
        (X, np.array([1, "a"] * 30, dtype=object), TypeError, "mixes label types"),
        (X[:13], np.r_[np.repeat(np.arange(6), 2), 6], ValueError, "halves"),
    ]
    for X_bad, y_bad, error, message in cases:
        with pytest.raises(error, match=message):
            clf.fit(X_bad, y_bad)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :10])


def test_deterministic_option_is_scoped_to_fit(digits):
    X, y = small(*digits, n=100)
    clf = HyperDARTSClassifier(random_state=0, deterministic=True, **TINY).fit(X, y)
    assert not torch.are_deterministic_algorithms_enabled()
    again = HyperDARTSClassifier(random_state=0, deterministic=True, **TINY).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), again.predict_proba(X))


def test_predict_batches_large_images_and_many_rows(fitted, digits, monkeypatch):
    from skhypernas import estimators

    rng = np.random.RandomState(0)
    X = rng.rand(100, 3, 64, 64).astype(np.float32)  # 85 images fit in one batch
    y = np.arange(100) % 2
    clf = HyperDARTSClassifier(random_state=0, **TINY).fit(X, y)
    seen = []
    forward = type(clf.network_).forward
    monkeypatch.setattr(type(clf.network_), "forward", lambda self, x: seen.append(x.numel()) or forward(self, x))
    proba = clf.predict_proba(X)
    assert max(seen) <= estimators.PREDICT_BATCH_VALUES and len(seen) == 2
    monkeypatch.undo()
    np.testing.assert_allclose(proba.sum(1), 1)
    # 100k rows of 8x8 images go through in bounded batches too.
    many = np.tile(digits[0], (100_000 // len(digits[0]) + 1, 1))[:100_000]
    assert fitted.predict(many).shape == (100_000,)


def test_path_scoring_batches_like_predict(monkeypatch):
    from skhypernas import _base
    from skhypernas.derived import DerivedNetwork

    monkeypatch.setattr(_base, "PREDICT_BATCH_VALUES", 12 * 3 * 16 * 16)  # 12 images of 3x16x16
    rng = np.random.RandomState(0)
    X, y = rng.rand(60, 3, 16, 16).astype(np.float32), np.arange(60) % 2
    seen = []
    forward = DerivedNetwork.forward
    monkeypatch.setattr(DerivedNetwork, "forward", lambda self, x: seen.append(len(x)) or forward(self, x))
    HyperDARTSClassifier(random_state=0, **TINY).fit(X, y)
    # Recalibration and scoring of every path entry, 30 images each: 12, 12 and 6.
    assert max(seen) == 12 and 6 in seen


@pytest.mark.parametrize("native", [False, True])
def test_mixed_precision_warns_on_a_cpu_without_bfloat16(digits, monkeypatch, native):
    import warnings

    from skhypernas import _base

    monkeypatch.setattr(_base, "cpu_has_bfloat16", lambda: native)
    X, y = small(*digits, n=100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        HyperDARTSClassifier(mixed_precision=True, random_state=0, **TINY).fit(X, y)
    slower = [w for w in caught if "without bfloat16" in str(w.message)]
    assert len(slower) == (0 if native else 1)
