import copy
import sys

import numpy as np
import pytest
import torch


def _images(fitted, X):
    return np.ascontiguousarray(X, dtype=np.float32).reshape(len(X), *fitted.image_shape_)


@pytest.fixture(params=["smallest", "largest"])
def chosen(fitted, request):
    """The estimator at both ends of its path: a dense and a sparse (maybe empty-node) cell."""
    path = fitted.complexity_path_
    lam = path["lambda_min"][0] if request.param == "smallest" else path["lambda_max"][-1]
    return copy.deepcopy(fitted).set_complexity(float(lam))


def test_torchscript_export_reproduces_predict_proba(chosen, digits, tmp_path):
    X = digits[0][:37]  # a batch size other than the one traced
    path = chosen.export(tmp_path / "model.pt", format="torchscript")
    model = torch.jit.load(str(path))
    with torch.no_grad():
        proba = model(torch.from_numpy(_images(chosen, X))).numpy()
    assert proba.dtype == np.float32 and proba.shape == (37, len(chosen.classes_))
    np.testing.assert_allclose(proba, chosen.predict_proba(X), rtol=1e-4, atol=1e-6)


def test_onnx_export_reproduces_predict_proba(chosen, digits, tmp_path):
    ort = pytest.importorskip("onnxruntime")  # optional test dependency (the "test" extra has it)
    pytest.importorskip("onnx")
    X = digits[0][:37]
    path = chosen.export(tmp_path / "model.onnx", format="onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    (proba,) = session.run(["probabilities"], {"images": _images(chosen, X)})
    assert proba.shape == (37, len(chosen.classes_))
    np.testing.assert_allclose(proba, chosen.predict_proba(X), rtol=1e-4, atol=1e-6)


def test_export_checks_its_arguments(fitted, tmp_path, monkeypatch):
    from sklearn.exceptions import NotFittedError

    from skhypernas import HyperDARTSClassifier

    with pytest.raises(ValueError, match="format"):
        fitted.export(tmp_path / "m", format="tflite")
    with pytest.raises(NotFittedError):
        HyperDARTSClassifier().export(tmp_path / "m")
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if onnx were not installed
    with pytest.raises(ImportError, match="skhypernas\\[onnx\\]"):
        fitted.export(tmp_path / "m.onnx", format="onnx")
