"""The README's recipe for spreading a comparison over workers (joblib, Dask)."""

import joblib
import numpy as np
import pytest
import torch
from conftest import TINY
from sklearn.model_selection import cross_validate

from skhypernas import HyperDARTSClassifier


def _compare(X, y, n_jobs):
    """The README's comparison: each configuration cross-validated, folds spread over workers."""
    candidates = {
        "HyperDARTS, 2 knots": HyperDARTSClassifier(n_knots=2, random_state=0, **TINY),
        "HyperDARTS, 1 knot (DARTS)": HyperDARTSClassifier(n_knots=1, random_state=0, **TINY),
    }
    return {
        name: cross_validate(clf, X, y, cv=2, n_jobs=n_jobs, return_estimator=True) for name, clf in candidates.items()
    }


def test_dask_backend_gives_the_results_of_a_sequential_run(digits):
    distributed = pytest.importorskip("distributed")  # in the "test" extra; guards a bare install
    X, y = digits[0][:120], digits[1][:120]
    sequential = _compare(X, y, n_jobs=None)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        with joblib.parallel_backend("dask"):
            spread = _compare(X, y, n_jobs=-1)
        assert client.scheduler_info()["workers"]  # the work went through the cluster
    for name in sequential:
        np.testing.assert_array_equal(spread[name]["test_score"], sequential[name]["test_score"])
        # Each worker resolved device="auto" itself: CPU on this machine.
        assert all(e.device_ == torch.device("cpu") for e in spread[name]["estimator"])


def test_device_auto_is_resolved_where_fit_runs(digits, monkeypatch):
    X, y = digits[0][:60], digits[1][:60]
    clf = HyperDARTSClassifier(random_state=0, **{**TINY, "device": "auto"})
    assert clf.get_params()["device"] == "auto"  # nothing is decided before fit
    assert clf.fit(X, y).device_ == torch.device("cpu")
    # A worker that sees a GPU picks it: the choice is made by each fit, not up front.
    from skhypernas import estimators

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert estimators.resolve_device("auto") == torch.device("cuda")
