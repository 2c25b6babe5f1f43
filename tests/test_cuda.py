"""The package on a CUDA device: fits, mixed precision, second order, fine-tuning,
saving and loading across devices, the fused supernet's kernels.

Every test here is marked ``cuda`` and skipped on a machine without a CUDA device
(``tests/conftest.py``); ``benchmarks/gpu_check.sh`` runs them with ``-m cuda``.
"""

import copy
import os

import numpy as np
import pytest
import torch

import skhypernas
from skhypernas import ArchitectureClassifier, DARTSClassifier, HyperDARTSClassifier
from skhypernas.search_space import PRIMITIVES, NetworkConfig
from skhypernas.supernet import SearchNetwork

pytestmark = pytest.mark.cuda

#: Where these tests fit; a module constant, so that their logic can be tried on "cpu".
DEVICE = "cuda"
SEARCH = dict(channels=4, n_nodes=2, max_epochs=2, batch_size=32, path_samples=64, device=DEVICE, random_state=0)


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return X[:400], y[:400]


@pytest.fixture(scope="module")
def search(data):
    return HyperDARTSClassifier(**SEARCH).fit(*data)


def test_a_search_fits_on_the_gpu_in_bfloat16_and_predicts_on_the_cpu_after_loading(search, data, tmp_path):
    X, y = data
    assert search.device_.type == DEVICE
    assert next(search.supernet_.parameters()).device.type == DEVICE
    # mixed_precision="auto" is bfloat16 on CUDA: the losses stay finite.
    assert all(np.isfinite(h["train_loss"]) and np.isfinite(h["arch_loss"]) for h in search.history_)
    # cuDNN convolutions default to TF32 (10-bit mantissas): full float32 to compare with the CPU.
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        proba = search.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    on_cpu = skhypernas.load(search.save(tmp_path / "search.skh"), device="cpu")
    assert on_cpu.device_ == torch.device("cpu")
    np.testing.assert_allclose(on_cpu.predict_proba(X), proba, atol=1e-4)
    assert on_cpu.complexity_path_["genotype"].tolist() == search.complexity_path_["genotype"].tolist()


def test_second_order_and_hard_searches_run_on_the_gpu(data):
    X, y = data
    for extra in (dict(second_order=True, max_epochs=1), dict(relaxation="hard")):
        clf = HyperDARTSClassifier(**{**SEARCH, **extra}).fit(X, y)
        assert all(np.isfinite(h["train_loss"]) for h in clf.history_)
        assert 0 <= clf.score(X, y) <= 1


def test_darts_and_fine_tuning_from_either_search_on_the_gpu(search, data):
    X, y = data
    darts = DARTSClassifier(**{k: v for k, v in SEARCH.items() if k != "path_samples"}).fit(X, y)
    assert next(darts.supernet_.parameters()).device.type == DEVICE
    for init in (search, darts):
        tuned = ArchitectureClassifier(init=init, max_epochs=1, batch_size=32, device=DEVICE, random_state=0)
        tuned.fit(X, y)
        assert tuned.genotype_ == init.genotype_ and next(tuned.network_.parameters()).device.type == DEVICE
        assert 0 <= tuned.score(X, y) <= 1


@pytest.mark.skipif(
    DEVICE == "cuda" and not os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    reason="deterministic CUDA kernels need CUBLAS_WORKSPACE_CONFIG=:4096:8 set before Python starts",
)
def test_deterministic_gpu_searches_repeat(data):
    X, y = data
    fits = [HyperDARTSClassifier(**SEARCH, deterministic=True).fit(X, y) for _ in range(2)]
    np.testing.assert_array_equal(fits[0].predict_proba(X), fits[1].predict_proba(X))


def test_the_fused_supernet_matches_the_definition_on_the_gpu():
    torch.manual_seed(0)
    reference = SearchNetwork(NetworkConfig(in_channels=2, n_classes=3, channels=4, n_nodes=3), fused=False)
    reference = reference.to(DEVICE)
    fused = copy.deepcopy(reference)
    for cell in fused.cells:
        cell.fused = True
    x = torch.randn(6, 2, 8, 8, device=DEVICE)
    weights = torch.softmax(torch.randn(6, 2, reference.config.n_edges, len(PRIMITIVES), device=DEVICE), -1)
    outputs = []
    for net in (reference, fused):
        with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):  # float32, not TF32, convolutions
            out = net(x, weights)
            out.sum().backward()
        outputs.append((out, [p.grad for p in net.parameters()]))
    # float32 kernels differ in their order of summation: close, not equal.
    torch.testing.assert_close(outputs[1][0], outputs[0][0], rtol=1e-4, atol=1e-5)
    for g_fused, g_reference in zip(outputs[1][1], outputs[0][1]):
        torch.testing.assert_close(g_fused, g_reference, rtol=1e-3, atol=1e-4)
