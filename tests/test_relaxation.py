import pytest
import torch

from skhypernas.relaxation import hard_one_hot, relaxed_one_hot, sample_gumbel, temperature_at


@pytest.mark.parametrize("temperature", [1.0, 0.2, 0.01])
@pytest.mark.parametrize("scale", [1.0, 1e4, 1e30])
def test_gumbel_softmax_is_finite_and_a_distribution(temperature, scale):
    torch.manual_seed(0)
    logits = scale * torch.randn(2, 14, 8)
    w = relaxed_one_hot(logits, sample_gumbel((256, 2, 14, 8)), temperature)
    assert torch.isfinite(w).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(256, 2, 14))


def test_gumbel_samples_follow_softmax_of_logits():
    torch.manual_seed(0)
    logits = torch.tensor([0.0, 1.0, 2.0])
    w = relaxed_one_hot(logits, sample_gumbel((20000, 3)), 0.01)
    frequencies = torch.bincount(w.argmax(-1), minlength=3).float() / 20000
    torch.testing.assert_close(frequencies, torch.softmax(logits, 0), atol=0.015, rtol=0)


def test_gumbel_noise_is_never_infinite():
    torch.manual_seed(0)
    assert torch.isfinite(sample_gumbel((10**6,))).all()


def test_temperature_anneals_from_start_to_end():
    assert temperature_at(0) == 1.0
    assert temperature_at(1) == pytest.approx(0.2)
    assert 0.2 < temperature_at(0.5) < 1.0
    assert temperature_at(2) == pytest.approx(0.2)


def test_hard_one_hot_is_one_hot_in_value_with_the_relaxed_gradient():
    torch.manual_seed(0)
    logits = torch.randn(3, 8, requires_grad=True)
    gumbel = torch.randn(3, 8)
    weights, choice = hard_one_hot(logits, gumbel, 0.5)
    assert torch.equal(weights.detach(), torch.nn.functional.one_hot(choice, 8).float())
    assert torch.equal(choice, ((logits + gumbel) / 0.5).argmax(-1))
    probe = torch.randn(3, 8)
    (grad_hard,) = torch.autograd.grad((weights * probe).sum(), logits)
    (grad_soft,) = torch.autograd.grad((relaxed_one_hot(logits, gumbel, 0.5) * probe).sum(), logits)
    torch.testing.assert_close(grad_hard, grad_soft)
