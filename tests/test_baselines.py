"""The baselines: a given architecture trained from scratch, random architectures, DARTS."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skhypernas
from skhypernas import (
    ArchitectureClassifier,
    DARTSClassifier,
    Genotype,
    HyperDARTSClassifier,
    RandomArchitectureClassifier,
)
from skhypernas.derived import DerivedNetwork
from skhypernas.search_space import NetworkConfig, op_param_count

#: Tiny settings: 2 channels, 8x8 digits, one short epoch.
TRAIN = dict(channels=2, max_epochs=1, batch_size=32, device="cpu")
SEARCH = dict(channels=2, n_nodes=2, max_epochs=1, batch_size=32, recalibration_samples=64, device="cpu")
CONVS = {"sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"}


@pytest.fixture(scope="module")
def genotype():
    # Node 0: a convolution and a skip; node 1: a pool and a convolution.
    return Genotype.from_choices([4, 3, 1, 0, 6], [5, 2, 0, 1, 3])


def test_a_given_architecture_learns_digits_well_beyond_chance(digits, genotype):
    X, y = digits
    clf = ArchitectureClassifier(genotype, random_state=0, **{**TRAIN, "max_epochs": 3}).fit(X[:900], y[:900])
    # Chance is 0.1; three epochs of 28 steps reach about 0.8 here.
    assert clf.score(X[900:], y[900:]) > 0.5
    assert clf.genotype_ == genotype
    assert clf.n_parameters_ == sum(p.numel() for p in clf.network_.parameters())
    assert clf.n_parameters_ == genotype.n_parameters(clf.network_.config)
    assert [h["epoch"] for h in clf.history_] == [1, 2, 3]
    assert clf.history_[-1]["train_loss"] < clf.history_[0]["train_loss"]
    assert not clf.network_.training


def test_genotype_as_value_json_or_dict_gives_the_same_model(digits, genotype):
    X, y = digits[0][:200], digits[1][:200]
    forms = [genotype, genotype.to_json(), {"normal": genotype.normal, "reduce": genotype.reduce}]
    fits = [ArchitectureClassifier(g, random_state=1, **TRAIN).fit(X, y) for g in forms]
    assert all(f.genotype_ == genotype for f in fits)
    expected = fits[0].predict_proba(X)
    for f in fits[1:]:
        np.testing.assert_array_equal(f.predict_proba(X), expected)


@pytest.mark.parametrize(
    "bad,error,message",
    [
        (None, ValueError, "needs a genotype"),
        (42, TypeError, "genotype must be"),
        ("{not json", ValueError, "genotype"),
        ({"normal": [[["conv_9x9", 0]]], "reduce": [[]]}, ValueError, "conv_9x9"),
        ({"normal": [[["sep_conv_3x3", 5]]], "reduce": [[]]}, ValueError, "cannot read state 5"),
        ({"normal": [[], []], "reduce": [[]]}, ValueError, "same number of nodes"),
        ({"normal": []}, ValueError, "genotype"),
        ({"normal": [], "reduce": []}, ValueError, "no intermediate nodes"),
    ],
)
def test_bad_genotypes_are_clear_errors(digits, bad, error, message):
    X, y = digits[0][:40], digits[1][:40]
    with pytest.raises(error, match=message):
        ArchitectureClassifier(bad, **TRAIN).fit(X, y)


@pytest.mark.parametrize(
    "estimator,param,value,error",
    [
        (RandomArchitectureClassifier, "p_parameter_free", 1.5, ValueError),
        (RandomArchitectureClassifier, "p_parameter_free", -0.1, ValueError),
        (RandomArchitectureClassifier, "n_nodes", 0, ValueError),
        (RandomArchitectureClassifier, "cutout", -2, ValueError),
        (RandomArchitectureClassifier, "drop_path", 1.0, ValueError),
        (RandomArchitectureClassifier, "channels", 2.5, TypeError),
        (DARTSClassifier, "complexity", -1e-6, ValueError),
        (DARTSClassifier, "complexity", "large", TypeError),
        (DARTSClassifier, "retrain_epochs", -1, ValueError),
        (DARTSClassifier, "arch_lr", 0.0, ValueError),
        (DARTSClassifier, "retrain_params", [("lr", 1)], TypeError),
    ],
)
def test_nonsensical_hyperparameters_are_named(digits, estimator, param, value, error):
    X, y = digits[0][:40], digits[1][:40]
    with pytest.raises(error, match=param):
        estimator(**{param: value, "device": "cpu"}).fit(X, y)


def test_all_parameter_free_random_architectures_have_no_convolution(digits):
    X, y = digits[0][:100], digits[1][:100]
    for seed in range(3):
        clf = RandomArchitectureClassifier(n_nodes=3, p_parameter_free=1.0, random_state=seed, **TRAIN).fit(X, y)
        ops = {op for cell in (clf.genotype_.normal, clf.genotype_.reduce) for node in cell for op, _ in node}
        assert not ops & CONVS
        # Only the fixed stem, preprocessing and classifier carry weights.
        assert clf.n_parameters_ == clf.network_.config.fixed_param_count()


def test_parameter_free_knob_spans_the_parameter_range():
    rng = np.random.RandomState(0)
    config = NetworkConfig(channels=8)
    counts = {p: [Genotype.random(4, rng, p).n_parameters(config) for _ in range(5)] for p in (0.0, 0.5, 1.0)}
    assert max(counts[1.0]) < min(counts[0.5]) and max(counts[0.5]) < min(counts[0.0])
    # p = 0: every edge has weights (a stride-2 skip is a factorized reduce and counts).
    genotype = Genotype.random(4, rng, 0.0)
    for cell, reduction in ((genotype.normal, False), (genotype.reduce, True)):
        for j, node in enumerate(cell):
            assert len(node) == j + 2
            assert all(op_param_count(op, 1, 2 if reduction and i < 2 else 1) > 0 for op, i in node)


def test_random_architectures_repeat_with_their_seed_and_vary_across_seeds(digits):
    X, y = digits[0][:100], digits[1][:100]
    a = RandomArchitectureClassifier(n_nodes=2, random_state=7, **TRAIN).fit(X, y)
    b = RandomArchitectureClassifier(n_nodes=2, random_state=7, **TRAIN).fit(X, y)
    assert a.genotype_ == b.genotype_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    genotypes = {Genotype.random(4, np.random.RandomState(seed)) for seed in range(5)}
    assert len(genotypes) == 5


def test_cutout_and_drop_path_options_train_and_leave_inference_alone(digits, genotype):
    X, y = digits[0][:200], digits[1][:200]
    torch.manual_seed(0)
    clf = ArchitectureClassifier(genotype, cutout=4, drop_path=0.3, random_state=0, **{**TRAIN, "max_epochs": 2})
    clf.fit(X, y)
    assert 0 < clf.history_[0]["drop_path"] < clf.history_[1]["drop_path"] <= 0.3
    assert clf.network_.drop_path_prob == 0.0 and not clf.network_.training
    # Inference is deterministic: no drop-path outside training.
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))
    plain = ArchitectureClassifier(genotype, random_state=0, **{**TRAIN, "max_epochs": 2}).fit(X, y)
    assert not np.array_equal(plain.predict_proba(X), clf.predict_proba(X))


def test_image_layouts_and_multichannel_input(digits, genotype):
    X, y = digits[0][:100], digits[1][:100]
    flat = ArchitectureClassifier(genotype, random_state=0, **TRAIN).fit(X, y)
    square = ArchitectureClassifier(genotype, random_state=0, **TRAIN).fit(X.reshape(-1, 8, 8), y)
    np.testing.assert_array_equal(square.predict_proba(X.reshape(-1, 8, 8)), flat.predict_proba(X))
    assert flat.image_shape_ == square.image_shape_ == (1, 8, 8) and flat.n_features_in_ == 64
    rgb = np.repeat(X.reshape(-1, 1, 8, 8), 3, axis=1)
    clf = ArchitectureClassifier(genotype, random_state=0, **TRAIN).fit(rgb, y)
    assert clf.image_shape_ == (3, 8, 8) and clf.network_.config.in_channels == 3
    strip = ArchitectureClassifier(genotype, image_shape=(3, 8, 8), random_state=0, **TRAIN)
    strip.fit(rgb.reshape(100, -1), y)
    np.testing.assert_array_equal(strip.predict_proba(rgb.reshape(100, -1)), clf.predict_proba(rgb))


def test_a_huge_complexity_makes_darts_pick_a_smaller_architecture(digits):
    X, y = digits[0][:300], digits[1][:300]
    free = DARTSClassifier(complexity=0.0, arch_lr=0.05, random_state=0, **SEARCH).fit(X, y)
    costly = DARTSClassifier(complexity=1.0, arch_lr=0.05, random_state=0, **SEARCH).fit(X, y)
    assert costly.n_parameters_ < free.n_parameters_
    ops = {op for cell in (costly.genotype_.normal, costly.genotype_.reduce) for node in cell for op, _ in node}
    assert not ops & CONVS
    assert free.alpha_.shape == (2, 5, 8)
    assert free.n_parameters_ == sum(p.numel() for p in free.network_.parameters())
    assert free.history_[0]["lambda_median"] == 0.0 and costly.history_[0]["lambda_median"] == 1.0
    assert free.retrain_history_ == []


def test_darts_is_repeatable_and_can_retrain_its_architecture(digits):
    X, y = digits[0][:200], digits[1][:200]
    a = DARTSClassifier(random_state=3, **SEARCH).fit(X, y)
    b = DARTSClassifier(random_state=3, **SEARCH).fit(X, y)
    assert a.genotype_ == b.genotype_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    retrained = DARTSClassifier(random_state=3, retrain_epochs=2, retrain_params={"batch_size": 50}, **SEARCH)
    retrained.fit(X, y)
    assert retrained.genotype_ == a.genotype_ and len(retrained.retrain_history_) == 2
    assert retrained.retrain_history_[0]["steps"] == 200 // 50
    assert not np.array_equal(retrained.predict_proba(X), a.predict_proba(X))


def test_grid_search_over_complexity_is_one_darts_search_per_lambda(digits):
    X, y = digits[0][:240], digits[1][:240]
    grid = GridSearchCV(
        DARTSClassifier(arch_lr=0.05, random_state=0, **SEARCH),
        {"complexity": [0.0, 1.0]},
        cv=2,
        scoring={"accuracy": "accuracy", "n_parameters": lambda est, X, y: est.n_parameters_},
        refit="accuracy",
    ).fit(X, y)
    sizes = grid.cv_results_["mean_test_n_parameters"]
    assert sizes[1] < sizes[0]
    assert grid.best_params_["complexity"] in (0.0, 1.0)
    assert grid.predict(X).shape == (240,)


def test_pipeline_clone_and_pickle(digits, genotype):
    X, y = digits[0][:100], digits[1][:100]
    pipe = make_pipeline(StandardScaler(), RandomArchitectureClassifier(n_nodes=2, random_state=0, **TRAIN))
    pipe.fit(X, y)
    assert 0 <= pipe.score(X, y) <= 1
    clf = ArchitectureClassifier(genotype, random_state=0, **TRAIN).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params() and not hasattr(fresh, "network_")
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    labelled = ArchitectureClassifier(genotype, random_state=0, **TRAIN).fit(X, np.array(names)[y])
    assert set(labelled.predict(X)) <= set(names)


def test_init_stores_parameters_only_and_verbose_reports(digits, genotype, capsys):
    for est in (ArchitectureClassifier("x"), RandomArchitectureClassifier(p_parameter_free=7), DARTSClassifier()):
        assert not [k for k in vars(est) if k.endswith("_")]
    X, y = digits[0][:100], digits[1][:100]
    ArchitectureClassifier(genotype, random_state=0, **TRAIN).fit(X, y)
    assert capsys.readouterr().err == ""
    ArchitectureClassifier(genotype, random_state=0, verbose=1, **TRAIN).fit(X, y)
    DARTSClassifier(random_state=0, verbose=1, **SEARCH).fit(X, y)
    out = capsys.readouterr()
    assert "epoch   1/1  train loss" in out.out + out.err
    assert "arch loss" in out.out + out.err


# -- fine-tuning: ArchitectureClassifier(init=search) ----------------------------------


def test_fine_tuning_starts_from_the_search_weights(digits, fitted):
    X, y = digits[0][:300], digits[1][:300]
    supernet = fitted.supernet_
    # A learning rate too small to move the weights: the network is the derived one.
    still = ArchitectureClassifier(init=fitted, max_epochs=1, lr=1e-12, momentum=0.0, weight_decay=0.0, device="cpu")
    still.fit(X, y)
    assert still.genotype_ == fitted.genotype_
    assert still.network_.config == supernet.config
    inherited = DerivedNetwork.from_supernet(supernet, fitted.genotype_).state_dict()
    for name, value in still.network_.state_dict().items():
        if name.endswith("weight"):
            torch.testing.assert_close(value, inherited[name], msg=name)
    # Fine-tuning proper: a few epochs over all the data beat the inherited weights.
    tuned = ArchitectureClassifier(init=fitted, max_epochs=3, lr=0.05, batch_size=32, random_state=0, device="cpu")
    assert tuned.fit(X, y).score(X, y) > fitted.score(X, y)
    assert tuned.n_parameters_ == fitted.n_parameters_


def test_fine_tuning_takes_the_search_network_itself_and_survives_clone_grid_search_and_save(digits, fitted, tmp_path):
    X, y = digits[0][:300], digits[1][:300]
    for init in (fitted.supernet_, FrozenEstimator(fitted)):
        base = ArchitectureClassifier(fitted.genotype_, init=init, max_epochs=1, batch_size=32, device="cpu")
        grid = GridSearchCV(base, {"lr": [0.01, 0.05]}, cv=2).fit(X, y)
        assert grid.best_estimator_.network_.config == fitted.supernet_.config
    tuned = clone(base).set_params(random_state=0).fit(X, y)
    loaded = skhypernas.load(tuned.save(tmp_path / "tuned.skh"))
    assert loaded.init is None
    np.testing.assert_array_equal(loaded.predict_proba(X), tuned.predict_proba(X))


@pytest.mark.parametrize(
    "change, error, message",
    [
        (dict(channels=5), ValueError, "differs from init's channels"),
        (dict(init="supernet"), TypeError, "init must be"),
        (dict(init=HyperDARTSClassifier()), ValueError, "FrozenEstimator"),
        (dict(genotype=Genotype.from_choices([4, 3, 1, 0, 6, 2, 1, 0, 3], [5] * 9)), ValueError, "n_nodes"),
    ],
    ids=["channels", "type", "unfitted", "nodes"],
)
def test_fine_tuning_refuses_what_does_not_fit_the_search(digits, fitted, change, error, message):
    X, y = digits[0][:100], digits[1][:100]
    clf = ArchitectureClassifier(**{"init": fitted, "max_epochs": 1, "device": "cpu", **change})
    with pytest.raises(error, match=message):
        clf.fit(X, y)


def test_fine_tuning_refuses_other_classes(digits, fitted):
    X, y = digits[0][:100], digits[1][:100]
    with pytest.raises(ValueError, match="init was fitted on"):
        ArchitectureClassifier(init=fitted, max_epochs=1, device="cpu").fit(X, (y + 1) % 10 + 10)


def test_darts_keeps_its_supernet_so_its_architecture_fine_tunes_from_the_search(digits, tmp_path):
    X, y = digits[0][:240], digits[1][:240]
    darts = DARTSClassifier(arch_lr=0.05, random_state=0, **SEARCH).fit(X, y)
    inherited = DerivedNetwork.from_supernet(darts.supernet_, darts.genotype_).state_dict()
    # A learning rate too small to move the weights: the network starts as the derived one.
    still = ArchitectureClassifier(init=darts, max_epochs=1, lr=1e-12, momentum=0.0, weight_decay=0.0, device="cpu")
    still.fit(X, y)
    assert still.genotype_ == darts.genotype_ and still.network_.config == darts.supernet_.config
    for name, value in still.network_.state_dict().items():
        if name.endswith("weight"):
            torch.testing.assert_close(value, inherited[name], msg=name)
    # The supernet survives save and load: a loaded search fine-tunes as the fitted one does.
    loaded = skhypernas.load(darts.save(tmp_path / "darts.skh"))
    for name, value in darts.supernet_.state_dict().items():
        torch.testing.assert_close(loaded.supernet_.state_dict()[name], value, msg=name)
    tuned = [
        ArchitectureClassifier(init=init, max_epochs=1, lr=0.05, batch_size=32, random_state=0, device="cpu")
        for init in (darts, loaded)
    ]
    np.testing.assert_array_equal(tuned[0].fit(X, y).predict_proba(X), tuned[1].fit(X, y).predict_proba(X))
    # Inside GridSearchCV: its supernet as the init (clone deep-copies it), one per search.
    base = ArchitectureClassifier(max_epochs=1, batch_size=32, device="cpu")
    grid = GridSearchCV(base, {"init": [darts.supernet_], "genotype": [darts.genotype_]}, cv=2).fit(X, y)
    assert grid.best_estimator_.network_.config == darts.supernet_.config


def test_a_darts_model_saved_without_its_supernet_still_loads_and_says_why_it_cannot_fine_tune(digits, tmp_path):
    import json

    X, y = digits[0][:200], digits[1][:200]
    darts = DARTSClassifier(random_state=0, **SEARCH).fit(X, y)
    # A file as DARTSClassifier wrote it before it kept its supernet: no supernet_ entry.
    payload = torch.load(darts.save(tmp_path / "darts.skh"), weights_only=True)
    state = json.loads(payload["state"])
    del state["__dict__"]["supernet_"]
    payload["state"] = json.dumps(state)
    torch.save(payload, tmp_path / "old.skh")
    old = skhypernas.load(tmp_path / "old.skh")
    assert not hasattr(old, "supernet_")
    np.testing.assert_array_equal(old.predict_proba(X), darts.predict_proba(X))
    with pytest.raises(ValueError, match="holds no supernet_"):
        ArchitectureClassifier(init=old, max_epochs=1, device="cpu").fit(X, y)
