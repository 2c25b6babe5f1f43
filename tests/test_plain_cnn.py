"""The plain CNN reference: its parameter count, and its estimator on the shared training path."""

import numpy as np
import pytest

import skhypernas
from skhypernas.plain_cnn import PlainCNN, PlainCNNClassifier, plain_cnn_parameters, plain_cnn_widths


@pytest.mark.parametrize("width,in_channels,n_classes", [(16, 1, 10), (32, 1, 10), (5, 3, 7)])
def test_parameter_count_matches_the_module(width, in_channels, n_classes):
    module = PlainCNN(width, in_channels, n_classes)
    assert plain_cnn_parameters(width, in_channels, n_classes) == sum(p.numel() for p in module.parameters())


def test_widths_spread_over_the_parameter_range():
    widths = plain_cnn_widths(4_000, 70_000, 3)
    assert widths == [8, 16, 33]
    assert [plain_cnn_parameters(w) for w in widths] == [4_370, 16_794, 69_970]


def test_fit_under_a_budget_ends_annealed_predicts_and_round_trips(digits, tmp_path):
    X, y = digits
    clf = PlainCNNClassifier(4, max_epochs=1000, max_time=0.5, lr=0.05, device="cpu", random_state=0)
    clf.fit(X[:600], y[:600])
    assert clf.history_[-1]["lr"] == pytest.approx(0.0, abs=1e-3)  # the budget ended it annealed
    assert clf.n_parameters_ == plain_cnn_parameters(4) and clf.score(X[600:900], y[600:900]) > 0.3
    loaded = skhypernas.load(clf.save(tmp_path / "cnn.skh"))
    np.testing.assert_array_equal(loaded.predict_proba(X[:50]), clf.predict_proba(X[:50]))


def test_images_too_small_for_two_pools_are_refused(digits):
    X, y = digits
    with pytest.raises(ValueError, match="at least 4x4"):
        PlainCNNClassifier(2, max_epochs=1, device="cpu", image_shape=(2, 32)).fit(X[:40], y[:40])
