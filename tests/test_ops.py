"""The pools behave as torch's reference pooling, whichever kernel runs them."""

import pytest
import torch
import torch.nn.functional as F

from skhypernas import ops


def aten_max(x, stride):
    return F.max_pool2d(x, 3, stride, 1)


def aten_avg(x, stride):
    return F.avg_pool2d(x, 3, stride, 1, count_include_pad=False)


@pytest.mark.parametrize("pool, aten", [(ops.max_pool_3x3, aten_max), (ops.avg_pool_3x3, aten_avg)], ids=["max", "avg"])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [(8, 8), (5, 3), (1, 7), (1, 1)], ids=["8x8", "odd-5x3", "strip-1x7", "1x1"])
def test_pools_match_aten_outputs_and_gradients(pool, aten, stride, size):
    assert ops._onednn_pooling(torch.zeros(1)) == torch.backends.mkldnn.is_available()
    torch.manual_seed(0)
    # A transposed view: the pools must accept non-contiguous input.
    x = torch.randn(3, 4, size[1], size[0]).transpose(2, 3)
    fast, reference = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, expected = pool(fast, stride), aten(reference, stride)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    grad = torch.randn_like(expected)
    out.backward(grad)
    expected.backward(grad)
    # Overlapping windows sum their gradients in another order: float32 rounding.
    torch.testing.assert_close(fast.grad, reference.grad, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_pools_of_other_dtypes_use_aten(dtype):
    x = torch.randn(2, 3, 6, 6).to(dtype)
    assert not ops._onednn_pooling(x)
    assert torch.equal(ops.max_pool_3x3(x, 2), aten_max(x, 2))
    assert torch.equal(ops.avg_pool_3x3(x, 1), aten_avg(x, 1))


def test_traced_pool_stays_portable():
    # Export traces the network: the graph must not contain oneDNN's CPU-only layout.
    pool = ops.Pool("max", 3, 2).eval()
    traced = torch.jit.trace(pool, torch.randn(2, 3, 6, 6))
    assert "mkldnn" not in str(traced.graph)
    x = torch.randn(2, 3, 6, 6)
    assert torch.equal(traced(x), pool(x))
