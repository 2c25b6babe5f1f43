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


@pytest.mark.parametrize("name", ["sep_conv_3x3", "dil_conv_5x5", "max_pool_3x3"])
def test_state_dicts_written_before_the_parts_had_names_still_load(name):
    # Version 1 of these operations was an nn.Sequential: parts stored as 0, 1, 2, ...
    legacy = {"first": "0", "second": "1", "depthwise": "1", "pointwise": "2", "bn": "1", "pool": "0"}
    torch.manual_seed(0)
    op = ops.make_op(name, 4, 1, affine=True)
    old_keys = {}
    for key, value in op.state_dict().items():
        parts = key.split(".")
        # A SepConv's DilConvs number their batch norm 3; a pool numbers it 1.
        parts = [("3" if p == "bn" and isinstance(op, ops.SepConv | ops.DilConv) else legacy.get(p, p)) for p in parts]
        old_keys[".".join(parts)] = value.clone()
    fresh = ops.make_op(name, 4, 1, affine=True)
    fresh.load_state_dict(old_keys)
    for (key, value), expected in zip(fresh.state_dict().items(), op.state_dict().values()):
        assert torch.equal(value, expected), key
    x = torch.randn(2, 4, 6, 6)
    assert torch.equal(fresh.eval()(x), op.eval()(x))
