"""Files written by earlier versions still load and predict what they predicted then.

The files under ``tests/data`` were written once, by the version that wrote file format 1
(see ``tests/data/make_legacy_fixtures.py``); they must never be regenerated.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import skhypernas
from skhypernas import ArchitectureClassifier, Genotype, HyperDARTSClassifier, persistence

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def expected():
    return json.loads((DATA / "legacy_v1_expected.json").read_text())


@pytest.fixture(scope="module")
def rows():
    X = load_digits(return_X_y=True)[0]
    return (X[:20] / 16.0).astype(np.float32)


def test_the_files_are_of_format_1(expected):
    # Guards against someone regenerating them with a newer version.
    assert expected["format_version"] == 1
    for name in ("legacy_v1_hyperdarts.skh", "legacy_v1_architecture.skh"):
        assert torch.load(DATA / name, weights_only=True)["version"] == 1


def test_a_format_1_hyperdarts_file_predicts_as_it_did(expected, rows):
    for model in (
        skhypernas.load(DATA / "legacy_v1_hyperdarts.skh"),
        HyperDARTSClassifier.load(DATA / "legacy_v1_hyperdarts.skh"),
    ):
        np.testing.assert_allclose(model.predict_proba(rows), expected["hyperdarts_predict_proba"], atol=1e-5)
        assert list(model.complexity_path_["n_parameters"]) == expected["n_parameters"]
        assert model.genotype_ == Genotype.from_json(expected["genotype"])


def test_a_format_1_architecture_file_predicts_as_it_did(expected, rows):
    model = ArchitectureClassifier.load(DATA / "legacy_v1_architecture.skh")
    np.testing.assert_allclose(model.predict_proba(rows), expected["architecture_predict_proba"], atol=1e-5)
    assert model.genotype_ == Genotype.from_json(expected["genotype"])


def test_a_format_1_checkpoint_loads_with_its_fingerprint(expected):
    path = DATA / "legacy_v1_search_checkpoint.pt"
    state = persistence.Checkpoint(path, expected["checkpoint_fingerprint"]).load()
    assert state["format"] == 1 and state["loop"]["epoch"] == 1
    assert {"supernet", "hypernet", "weight_optimizer", "arch_optimizer"} <= set(state)
    with pytest.raises(ValueError, match="another search"):
        persistence.Checkpoint(path, "another fingerprint").load()


def test_a_format_1_file_saved_again_is_smaller_and_predicts_the_same(rows, tmp_path):
    legacy = DATA / "legacy_v1_hyperdarts.skh"
    model = skhypernas.load(legacy)
    again = skhypernas.load(model.save(tmp_path / "model.skh"))
    assert torch.load(tmp_path / "model.skh", weights_only=True)["version"] == persistence.FORMAT_VERSION
    np.testing.assert_array_equal(again.predict_proba(rows), model.predict_proba(rows))
    assert (tmp_path / "model.skh").stat().st_size < legacy.stat().st_size / 2
