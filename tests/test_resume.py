"""Interruption, checkpoints and resumption lose nothing."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import TINY

from skhypernas import HyperDARTSClassifier
from skhypernas.search import BilevelSearch

SETTINGS = dict(TINY, batch_size=8, max_epochs=4)


def data():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X[:240] / 16.0).astype(np.float32), y[:240]


def assert_same_result(a, b, X):
    for key in ("lambda_min", "lambda_max", "n_parameters", "accuracy"):
        np.testing.assert_array_equal(a.complexity_path_[key], b.complexity_path_[key])
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.fixture(scope="module")
def uninterrupted():
    X, y = data()
    return HyperDARTSClassifier(random_state=0, **SETTINGS).fit(X, y)


def test_checkpointing_does_not_change_the_result(uninterrupted, tmp_path):
    X, y = data()
    clf = HyperDARTSClassifier(random_state=0, checkpoint_dir=tmp_path, **SETTINGS).fit(X, y)
    assert (tmp_path / "search.pt").is_file() and not list(tmp_path.glob("*.tmp"))
    assert_same_result(clf, uninterrupted, X)


def test_killed_search_resumes_to_the_uninterrupted_result(uninterrupted, tmp_path):
    X, y = data()
    script = textwrap.dedent(
        f"""
        import numpy as np, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_resume import SETTINGS, data
        from skhypernas import HyperDARTSClassifier
        X, y = data()
        HyperDARTSClassifier(random_state=0, checkpoint_dir={str(tmp_path)!r}, **SETTINGS).fit(X, y)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    checkpoint = tmp_path / "search.pt"
    deadline = time.time() + 300
    while not checkpoint.exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert checkpoint.exists(), "the child wrote no checkpoint"
    child.send_signal(signal.SIGKILL)
    child.wait()
    resumed = HyperDARTSClassifier(random_state=0, checkpoint_dir=tmp_path, warm_start=True, **SETTINGS).fit(X, y)
    assert_same_result(resumed, uninterrupted, X)
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3, 4]


def test_truncated_or_foreign_checkpoint_is_reported(tmp_path):
    X, y = data()
    HyperDARTSClassifier(random_state=0, checkpoint_dir=tmp_path, **{**SETTINGS, "max_epochs": 1}).fit(X, y)
    checkpoint = tmp_path / "search.pt"
    with pytest.raises(ValueError, match="another search"):
        HyperDARTSClassifier(random_state=0, checkpoint_dir=tmp_path, warm_start=True, **SETTINGS).fit(X, y)
    checkpoint.write_bytes(checkpoint.read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        HyperDARTSClassifier(
            random_state=0, checkpoint_dir=tmp_path, warm_start=True, **{**SETTINGS, "max_epochs": 1}
        ).fit(X, y)


def test_ctrl_c_keeps_the_last_completed_epoch(monkeypatch):
    X, y = data()
    calls = {"n": 0}
    step = BilevelSearch.weight_step

    def interrupted_step(self, *args):
        calls["n"] += 1
        if calls["n"] == 20:  # in the second epoch (15 steps per epoch)
            raise KeyboardInterrupt
        return step(self, *args)

    monkeypatch.setattr(BilevelSearch, "weight_step", interrupted_step)
    with pytest.warns(RuntimeWarning, match="after epoch 1 of 4"):
        clf = HyperDARTSClassifier(random_state=0, **SETTINGS).fit(X, y)
    assert len(clf.history_) == 1
    assert clf.predict(X).shape == (len(X),)


def test_ctrl_c_in_the_first_epoch_propagates(monkeypatch):
    X, y = data()

    def interrupted_step(self, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(BilevelSearch, "weight_step", interrupted_step)
    with pytest.raises(KeyboardInterrupt):
        HyperDARTSClassifier(random_state=0, **SETTINGS).fit(X, y)


def test_same_seed_is_bit_identical_across_processes(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, numpy as np
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_resume import SETTINGS, data
        from skhypernas import HyperDARTSClassifier
        X, y = data()
        clf = HyperDARTSClassifier(random_state=7, **dict(SETTINGS, max_epochs=1)).fit(X, y)
        path = clf.complexity_path_
        np.savez(sys.argv[1], proba=clf.predict_proba(X), accuracy=path["accuracy"],
                 lambdas=np.r_[path["lambda_min"], path["lambda_max"]],
                 genotypes=np.array([g.to_json() for g in path["genotype"]]))
        """
    )
    for name in ("a", "b"):
        subprocess.run([sys.executable, "-c", script, str(tmp_path / f"{name}.npz")], check=True)
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    for key in ("proba", "accuracy", "lambdas", "genotypes"):
        np.testing.assert_array_equal(a[key], b[key])
