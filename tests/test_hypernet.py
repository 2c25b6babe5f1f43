import numpy as np
import torch

from skhypernas.hypernet import PiecewiseLinearHypernet


def test_default_is_one_knot_per_decade():
    assert PiecewiseLinearHypernet((2, 14, 8), (1e-10, 1e-6)).n_knots == 5
    assert PiecewiseLinearHypernet((2, 14, 8), (1e-9, 1e-3)).n_knots == 7


def test_alpha_is_the_anchor_at_knots_and_linear_between():
    net = PiecewiseLinearHypernet((2, 3, 8), (1e-10, 1e-6), init_scale=1.0)
    a = net.anchors.detach()
    for k, lam in enumerate([1e-10, 1e-9, 1e-8, 1e-7, 1e-6]):
        torch.testing.assert_close(net(lam), a[k])
    middle = net(10**-8.5)
    torch.testing.assert_close(middle, 0.5 * (a[1] + a[2]))
    assert net(torch.tensor([1e-10, 1e-6])).shape == (2, 2, 3, 8)


def test_lambda_of_inverts_normalise():
    net = PiecewiseLinearHypernet((2, 2, 8), (1e-10, 1e-6))
    s = np.linspace(0, 1, 7)
    back = net.normalise(torch.as_tensor(net.lambda_of(s), dtype=torch.float64))
    np.testing.assert_allclose(back.numpy(), s, atol=1e-12)


def test_single_knot_is_plain_darts_alpha():
    net = PiecewiseLinearHypernet((2, 4, 8), (1e-10, 1e-6), n_knots=1)
    torch.testing.assert_close(net(1e-10), net(1e-6))
    assert net.knot_anchors().shape == (2, 2, 4, 8)
