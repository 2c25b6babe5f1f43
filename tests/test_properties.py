"""Property-based: any input either fits and predicts, or fails with a documented error."""

import numpy as np
from conftest import TINY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skhypernas import HyperDARTSClassifier

DOCUMENTED = (ValueError, TypeError, FloatingPointError)
FAST = dict(TINY, path_samples=16)


@st.composite
def datasets(draw):
    n = draw(st.integers(0, 14))
    shape = draw(st.sampled_from([(5,), (4,), (3, 3), (1, 2, 3), (2, 2, 2)]))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_, object]))
    values = draw(st.sampled_from(["normal", "nan", "inf", "huge", "constant"]))
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    X = {
        "normal": rng.randn(n, *shape),
        "nan": np.where(rng.rand(n, *shape) < 0.1, np.nan, rng.randn(n, *shape)),
        "inf": np.where(rng.rand(n, *shape) < 0.1, np.inf, rng.randn(n, *shape)),
        "huge": rng.randn(n, *shape) * 1e30,
        "constant": np.ones((n, *shape)),
    }[values]
    with np.errstate(invalid="ignore"):
        X = X.astype(dtype) if dtype is not object else X.astype(object)
    labels = draw(st.sampled_from([np.array([0, 1, 2]), np.array(["a", "b"]), np.array([True, False]), np.array([7])]))
    y = labels[rng.randint(0, len(labels), size=n)]
    return X, y


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datasets())
def test_fit_and_predict_succeed_or_raise_a_documented_error(data):
    X, y = data
    try:
        clf = HyperDARTSClassifier(random_state=0, **FAST).fit(X, y)
    except DOCUMENTED as exc:
        assert str(exc), "an error must say what is wrong"
        return
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(clf.classes_))
    assert np.isfinite(proba).all()
    assert set(clf.predict(X)) <= set(clf.classes_)
