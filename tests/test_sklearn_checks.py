"""scikit-learn's own estimator checks, over every public estimator."""

import numpy as np
import pytest
from conftest import TINY
from sklearn.base import ClassifierMixin, is_classifier
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhypernas import (
    ArchitectureClassifier,
    DARTSClassifier,
    Genotype,
    HyperDARTSClassifier,
    RandomArchitectureClassifier,
)
from skhypernas.spaces import ChainSpace

#: TINY, with two knots (few path entries to score) and a step size that learns the
#: checks' 2-feature blobs beyond their 0.83 training-accuracy bar in two epochs.
CHECKED = dict(TINY, n_knots=2, batch_size=16, lr=0.1, max_epochs=2)

#: The baselines at the same tiny size; a fixed 2-node architecture with convolutions.
SMALL = dict(channels=2, batch_size=16, lr=0.1, max_epochs=2, device="cpu", random_state=0)
GENOTYPE = Genotype.from_choices([4, 3, 6, 1, 5], [2, 4, 3, 7, 1])

#: The chain space at a size the checks' tiny inputs (1 x d strips, 2x2 images) learn in two epochs.
CHAIN = ChainSpace(stages=(1,), widths=(16,), multipliers=(0.5, 1.0))

ESTIMATORS = [
    HyperDARTSClassifier(random_state=0, **CHECKED),
    HyperDARTSClassifier(
        search_space=CHAIN, random_state=0, **{k: v for k, v in CHECKED.items() if k not in ("channels", "n_nodes")}
    ),
    DARTSClassifier(n_nodes=2, recalibration_samples=64, **SMALL),
    ArchitectureClassifier(GENOTYPE, **SMALL),
    RandomArchitectureClassifier(n_nodes=2, **SMALL),
]

_BATCH_ROUNDING = {
    "check_methods_subset_invariance": (
        "float32 convolution kernels block by batch size, so a row's probabilities "
        "agree to ~1e-6 across batch sizes, not to the check's 1e-7"
    ),
}
EXPECTED_FAILURES = {
    "HyperDARTSClassifier": _BATCH_ROUNDING,
    "DARTSClassifier": {
        **_BATCH_ROUNDING,
        "check_classifiers_train": (
            "a short plain-DARTS search on the checks' 30 blobs collapses to mostly "
            "parameter-free operations (DARTS' known failure), and that network fits them "
            "to 0.33-0.97 by seed and setting, inherited or retrained: not reliably > 0.83"
        ),
    },
}


def expected_failed_checks(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_classifier_mixin_comes_first_and_tags_say_what_is_accepted(estimator):
    mro = type(estimator).__mro__
    assert mro.index(ClassifierMixin) < [c.__name__ for c in mro].index("BaseEstimator")
    assert is_classifier(estimator)
    tags = get_tags(estimator)
    assert tags.estimator_type == "classifier"
    assert tags.input_tags.two_d_array and tags.input_tags.three_d_array
    assert not tags.input_tags.sparse and not tags.input_tags.allow_nan


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "uint16", "int32", "int64", "float16", "float64"])
def test_every_numeric_dtype_predicts_like_float32(fitted, digits, dtype):
    X = np.rint(digits[0][:40] * 16)  # the digits' own integer values, 0..16
    expected = fitted.predict_proba(X.astype(np.float32))
    np.testing.assert_array_equal(fitted.predict_proba(X.astype(dtype)), expected)
    np.testing.assert_array_equal(fitted.predict_proba(X.astype(dtype).reshape(-1, 8, 8)), expected)
