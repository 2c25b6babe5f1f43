import json
import pickle

import joblib
import numpy as np
import pytest
import torch

import skhypernas
from skhypernas import (
    ArchitectureClassifier,
    DARTSClassifier,
    Genotype,
    HyperDARTSClassifier,
    RandomArchitectureClassifier,
    persistence,
)

BASELINE = dict(channels=2, batch_size=32, max_epochs=1, device="cpu", random_state=0)


@pytest.fixture()
def X(digits):
    return digits[0][:80]


def test_pickle_and_joblib_round_trips_predict_identically(fitted, X, tmp_path):
    expected = fitted.predict_proba(X)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict_proba(X), expected)
    joblib.dump(fitted, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    assert loaded.get_params() == fitted.get_params() and loaded.genotype_ == fitted.genotype_
    # Still a whole estimator: another lambda needs no refit.
    lam = float(loaded.complexity_path_["lambda_max"][-1])
    other = pickle.loads(pickle.dumps(fitted)).set_complexity(lam)
    np.testing.assert_array_equal(loaded.set_complexity(lam).predict_proba(X), other.predict_proba(X))


def _pickle_as_if_fitted_on_cuda(estimator, monkeypatch):
    """Pickle ``estimator`` with every tensor storage tagged as living on cuda:0.

    torch records each storage's device in the pickle and restores it there when
    unpickling; tagging the storages is what a GPU fit's pickle looks like.
    """
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        fake = pickle.loads(pickle.dumps(estimator))
        fake.device_ = torch.device("cuda:0")
        return pickle.dumps(fake)


def test_a_gpu_fitted_pickle_predicts_on_a_cpu_only_machine(fitted, X, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    # The fake is faithful: a bare tensor pickled this way refuses to load here.
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        tensor_pickle = pickle.dumps(torch.ones(2))
    with pytest.raises(RuntimeError, match="CUDA"):
        pickle.loads(tensor_pickle)

    loaded = pickle.loads(_pickle_as_if_fitted_on_cuda(fitted, monkeypatch))
    assert loaded.device_ == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in loaded.network_.parameters())
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


def test_unfitted_estimators_pickle_as_plain_parameters():
    clf = HyperDARTSClassifier(channels=3)
    assert pickle.loads(pickle.dumps(clf)).get_params() == clf.get_params()
    assert "_fitted_blob" not in clf.__getstate__()


def test_save_and_load_without_pickle(fitted, X, tmp_path):
    path = fitted.save(tmp_path / "model.pt")
    for loaded in (HyperDARTSClassifier.load(path), skhypernas.load(path)):
        np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
        assert loaded.get_params() == fitted.get_params()
        assert loaded.genotype_ == fitted.genotype_ and loaded.n_parameters_ == fitted.n_parameters_
        for key, values in fitted.complexity_path_.items():
            assert list(loaded.complexity_path_[key]) == list(values)
        assert loaded.history_ == fitted.history_
        np.testing.assert_array_equal(loaded.classes_, fitted.classes_)
    # Only tensors and primitive containers: loadable under weights_only=True.
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "skhypernas" and payload["version"] == persistence.FORMAT_VERSION


def test_files_pack_their_tensors_into_one_flat_tensor_per_dtype(fitted, tmp_path):
    path = fitted.save(tmp_path / "model.skh")
    payload = torch.load(path, weights_only=True)
    tensors = payload["tensors"]
    # Thousands of path buffers, a few records: one flat tensor per dtype.
    assert len(tensors) <= 5 and all(t.dim() == 1 and str(t.dtype) == f"torch.{k}" for k, t in tensors.items())
    content = sum(t.numel() * t.element_size() for t in tensors.values()) + len(payload["state"])
    assert path.stat().st_size < 1.1 * content + 20_000
    loaded = skhypernas.load(path)
    assert len(loaded.path_buffers_) == len(fitted.path_buffers_)
    for got, want in zip(loaded.path_buffers_, fitted.path_buffers_):
        assert list(got) == list(want)  # the same keys in the same order
        for key in want:
            assert torch.equal(got[key], want[key]) and got[key].dtype == want[key].dtype


def test_the_encoding_round_trips_tensors_of_every_kind():
    dicts = [
        {"a": torch.arange(6.0).reshape(2, 3), "n": torch.tensor(3), "mask": torch.tensor([True, False])},
        {"n": torch.tensor(4), "a": torch.zeros(4), "half": torch.ones(2, dtype=torch.float16)},
        {},
        {"a": torch.ones(2, 3), "empty": torch.zeros(0, 5, dtype=torch.float64)},
    ]
    value = {"dicts": dicts, "one": torch.tensor(2.5), "array": np.arange(5, dtype=np.uint8), "labels": ["x", "y"]}
    packer = persistence._TensorPacker()
    encoded = json.loads(json.dumps(persistence._encode(value, packer)))
    decoded = persistence._decode(encoded, persistence._PackedTensors(packer.packed()))
    assert [list(d) for d in decoded["dicts"]] == [list(d) for d in dicts]
    for got, want in zip(decoded["dicts"], dicts):
        for key in want:
            assert torch.equal(got[key], want[key]) and got[key].dtype == want[key].dtype
            assert got[key].untyped_storage().nbytes() == want[key].untyped_storage().nbytes()  # no shared storage
    assert torch.equal(decoded["one"], value["one"]) and decoded["labels"] == ["x", "y"]
    np.testing.assert_array_equal(decoded["array"], value["array"])
    assert decoded["array"].dtype == np.uint8


def test_a_damaged_tensor_reference_is_a_value_error(fitted, tmp_path):
    payload = torch.load(fitted.save(tmp_path / "model.skh"), weights_only=True)
    payload["tensors"]["float32"] = payload["tensors"]["float32"][:10]
    torch.save(payload, tmp_path / "damaged.skh")
    with pytest.raises(ValueError, match="damaged skhypernas model file.*points past"):
        skhypernas.load(tmp_path / "damaged.skh")


def test_save_keeps_string_labels_feature_names_and_the_chosen_complexity(digits, tmp_path):
    pd = pytest.importorskip("pandas")
    from conftest import TINY

    X, y = digits[0][:120], digits[1][:120]
    frame = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)])
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = HyperDARTSClassifier(random_state=0, lambda_range=(1e-9, 1e-7), **TINY).fit(frame, names[y])
    clf.set_complexity(1e-7)
    loaded = skhypernas.load(clf.save(tmp_path / "m.pt"))
    assert loaded.complexity == 1e-7 and loaded.lambda_range == (1e-9, 1e-7)
    np.testing.assert_array_equal(loaded.feature_names_in_, clf.feature_names_in_)
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))
    assert loaded.classes_.dtype == clf.classes_.dtype


def test_load_maps_a_gpu_file_to_the_cpu_and_honours_an_explicit_device(fitted, X, tmp_path, monkeypatch):
    path = fitted.save(tmp_path / "model.pt")
    payload = torch.load(path, weights_only=True)
    payload["state"] = payload["state"].replace('"__device__": "cpu"', '"__device__": "cuda:0"')
    torch.save(payload, tmp_path / "gpu.pt")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = skhypernas.load(tmp_path / "gpu.pt")
    assert loaded.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    assert skhypernas.load(path, device="cpu").device_ == torch.device("cpu")
    assert skhypernas.load(tmp_path / "gpu.pt", device="auto").device_ == torch.device("cpu")


def test_load_refuses_newer_versions_foreign_files_and_pickles(fitted, tmp_path):
    path = fitted.save(tmp_path / "model.pt")
    payload = torch.load(path, weights_only=True)
    torch.save(dict(payload, version=persistence.FORMAT_VERSION + 1), tmp_path / "newer.pt")
    with pytest.raises(ValueError, match="upgrade skhypernas"):
        skhypernas.load(tmp_path / "newer.pt")
    torch.save({"weights": torch.ones(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a skhypernas model file"):
        skhypernas.load(tmp_path / "other.pt")
    (tmp_path / "text.txt").write_text("hello")
    with pytest.raises(ValueError, match="not a skhypernas model file"):
        skhypernas.load(tmp_path / "text.txt")
    # A pickle of the estimator is refused too: the safe loader never unpickles objects.
    torch.save(fitted, tmp_path / "pickled.pt")
    with pytest.raises(ValueError, match="not a skhypernas model file"):
        skhypernas.load(tmp_path / "pickled.pt")
    with pytest.raises(FileNotFoundError):
        skhypernas.load(tmp_path / "missing.pt")


def test_save_needs_a_fitted_estimator(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        HyperDARTSClassifier().save(tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize(
    "make",
    [
        lambda: ArchitectureClassifier(Genotype.from_choices([4, 3, 6, 1, 5], [2, 4, 3, 7, 1]), **BASELINE),
        lambda: RandomArchitectureClassifier(n_nodes=2, **BASELINE),
        lambda: DARTSClassifier(n_nodes=2, recalibration_samples=64, **BASELINE),
    ],
    ids=["ArchitectureClassifier", "RandomArchitectureClassifier", "DARTSClassifier"],
)
def test_baselines_save_load_and_pickle_round_trip(digits, make, tmp_path):
    X, y = digits
    clf = make().fit(X[:200], y[:200])
    expected = clf.predict_proba(X[200:260])
    clf.save(tmp_path / "model.skh")
    for restored in (
        type(clf).load(tmp_path / "model.skh"),
        skhypernas.load(tmp_path / "model.skh"),
        pickle.loads(pickle.dumps(clf)),
    ):
        assert type(restored) is type(clf) and restored.genotype_ == clf.genotype_
        np.testing.assert_array_equal(restored.predict_proba(X[200:260]), expected)
