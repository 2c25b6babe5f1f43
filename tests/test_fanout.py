"""The fused supernet computes exactly what summing every MixedEdge computes."""

import copy

import pytest
import torch

from skhypernas import fanout
from skhypernas.search_space import PRIMITIVES, NetworkConfig
from skhypernas.supernet import SearchNetwork


def twin_networks(**config):
    torch.manual_seed(0)
    reference = SearchNetwork(NetworkConfig(**config), fused=False).double()
    # Non-trivial affine parameters, so that every composed weight matters.
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.1 * torch.randn_like(p))
    fused = copy.deepcopy(reference)
    for cell in fused.cells:
        cell.fused = True
    return reference, fused


def random_weights(config, batch):
    """Mixture weights of the normal and the reduction cells, as two tensors."""
    return tuple(torch.softmax(torch.randn(*batch, config.n_edges, len(PRIMITIVES)), -1).double() for _ in range(2))


@pytest.mark.parametrize("dense_max", [0, 10**6], ids=["depthwise", "dense"])
@pytest.mark.parametrize("batch", [(), (5,)], ids=["shared-weights", "per-example-weights"])
@pytest.mark.parametrize("size", [(6, 6), (5, 3), (1, 7)], ids=["6x6", "odd-5x3", "strip-1x7"])
def test_outputs_gradients_and_statistics_match_the_definition(batch, size, dense_max, monkeypatch):
    monkeypatch.setattr(fanout, "DENSE_MAX", dense_max)
    reference, fused = twin_networks(in_channels=2, n_classes=3, channels=4, n_nodes=3, affine=True)
    x = torch.randn(5, 2, *size, dtype=torch.float64)
    weights = random_weights(reference.config, batch)
    outputs = []
    for net in (reference, fused):
        w = tuple(t.clone().requires_grad_() for t in weights)
        out = net(x, torch.stack(w, dim=-3))
        (out * torch.arange(3.0, dtype=torch.float64)).sum().backward()
        outputs.append((out, [t.grad for t in w]))
    torch.testing.assert_close(outputs[1][0], outputs[0][0])
    for g_fused, g_reference in zip(outputs[1][1], outputs[0][1]):
        torch.testing.assert_close(g_fused, g_reference)
    for (name, p_ref), p_fused in zip(reference.named_parameters(), fused.parameters()):
        torch.testing.assert_close(p_fused.grad, p_ref.grad, msg=name)
    for (name, b_ref), b_fused in zip(reference.named_buffers(), fused.buffers()):
        torch.testing.assert_close(b_fused, b_ref, msg=name)


def test_eval_mode_matches_the_definition_with_distinct_running_statistics():
    reference, fused = twin_networks(in_channels=1, n_classes=2, channels=4, n_nodes=2, affine=False)
    with torch.no_grad():
        for buffer_ref, buffer_fused in zip(reference.buffers(), fused.buffers()):
            if buffer_ref.is_floating_point():
                buffer_ref.uniform_(0.5, 1.5)
                buffer_fused.copy_(buffer_ref)
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    weights = random_weights(reference.config, ())
    weights = torch.stack(weights, dim=-3)
    torch.testing.assert_close(fused.eval()(x, weights), reference.eval()(x, weights))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16-autocast"])
def test_pool_batch_norm_running_statistics_are_float32_accurate(dtype):
    torch.manual_seed(0)
    norms = [torch.nn.BatchNorm2d(3, affine=False) for _ in range(2)]
    x = (torch.randn(8, 3, 5, 5) * 3 + 1).to(dtype)
    with torch.autocast("cpu", torch.bfloat16, enabled=dtype == torch.bfloat16):
        fanout._shared_batch_norm(x, norms)
    exact = x.double()
    for n in norms:
        torch.testing.assert_close(n.running_mean, 0.1 * exact.mean((0, 2, 3)).float(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(n.running_var, 0.9 + 0.1 * exact.var((0, 2, 3)).float(), rtol=1e-5, atol=1e-6)
