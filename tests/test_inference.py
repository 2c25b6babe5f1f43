"""The inference form computes what the trained network computes."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skhypernas import ArchitectureClassifier, derived, load, ops
from skhypernas.derived import DerivedNetwork
from skhypernas.inference import fold_batch_norms
from skhypernas.search_space import PRIMITIVES, Genotype, NetworkConfig


def trained_looking(net, input_shape):
    """``net`` with batch-norm statistics and affine parameters far from their defaults."""
    torch.manual_seed(1)
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(16, *input_shape, dtype=torch.float64) * 3 + 1)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d) and m.affine:
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_()
    return net.eval()


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("size", [(8, 8), (7, 5)], ids=["8x8", "odd-7x5"])
def test_folded_network_computes_the_eval_network(affine, size):
    # Every operation on some edge of the normal or the reduction cell.
    ops_cycle = list(range(1, len(PRIMITIVES)))
    genotype = Genotype.from_choices(ops_cycle[:5], ops_cycle[2:])
    config = NetworkConfig(in_channels=2, channels=4, n_cells=3, n_nodes=2, affine=affine)
    net = DerivedNetwork(genotype, config).double()
    trained_looking(net, (2, *size))
    folded = fold_batch_norms(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) and m.affine for m in folded.modules())
    x = torch.randn(5, 2, *size, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), net(x))
    # A copy: the trained network keeps its batch norms and stays trainable.
    assert isinstance(net.stem[1], torch.nn.BatchNorm2d)


def test_derived_network_gradients_match_the_plain_torch_operations(monkeypatch):
    # The fast forms (channels-last, subsampled strided convolutions, the concatenation
    # with dense gradients) against torch's own operations, float64.
    genotype = Genotype.from_choices([1, 2, 3, 4, 5], [6, 7, 3, 1, 2])
    config = NetworkConfig(in_channels=1, channels=4, n_cells=3, n_nodes=2)
    torch.manual_seed(0)
    fast = DerivedNetwork(genotype, config).double()
    plain = DerivedNetwork(genotype, config).double()
    plain.load_state_dict(fast.state_dict())
    x = torch.randn(6, 1, 9, 9, dtype=torch.float64)
    fast(x).square().sum().backward()
    monkeypatch.setattr(ops, "conv2d", lambda x, w, s=1, p=0, d=1, g=1, b=None: F.conv2d(x, w, b, s, p, d, g))
    for module in (ops, derived):
        monkeypatch.setattr(module, "cat_channels", lambda tensors: torch.cat(tensors, dim=1))
    plain(x.contiguous()).square().sum().backward()
    for (name, a), b in zip(fast.named_parameters(), plain.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)


def test_predict_proba_runs_the_folded_network_and_survives_save_load(tmp_path):
    rng = np.random.RandomState(0)
    X, y = rng.rand(60, 64).astype(np.float32), rng.randint(0, 3, 60)
    genotype = Genotype.from_choices([4, 3, 6, 1, 2], [5, 7, 3, 2, 1])
    clf = ArchitectureClassifier(genotype, channels=4, max_epochs=1, batch_size=16, random_state=0, device="cpu")
    clf.fit(X, y)
    with torch.no_grad():
        expected = torch.softmax(clf.network_.eval()(torch.as_tensor(X).view(-1, 1, 8, 8)), 1).numpy()
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba, expected, rtol=1e-4, atol=1e-6)
    loaded = load(clf.save(tmp_path / "model.skh"))
    np.testing.assert_array_equal(loaded.predict_proba(X), proba)


def test_the_inference_form_is_reused_until_the_weights_change():
    from skhypernas.inference import inference_network

    net = DerivedNetwork(Genotype.from_choices([4, 3, 1, 0, 6], [5, 2, 0, 1, 3]), NetworkConfig(channels=2, n_nodes=2))
    net.eval()
    first = inference_network(net)
    assert inference_network(net) is first
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        net.stem[0].weight.mul_(2.0)  # an in-place update, as an optimiser makes
    second = inference_network(net)
    assert second is not first
    with torch.no_grad():
        torch.testing.assert_close(second(x), net(x))
