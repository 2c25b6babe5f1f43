"""Gumbel-softmax relaxation of the choice of operation, and its temperature schedule."""

import torch


def sample_gumbel(shape, device=None, dtype=torch.float32):
    """Standard Gumbel noise, drawn from torch's global generator."""
    u = torch.rand(shape, device=device, dtype=dtype)
    # Clamping keeps both logarithms finite: no sample is ever inf or NaN.
    tiny = torch.finfo(dtype).tiny
    return -torch.log(-torch.log(u.clamp(tiny, 1.0 - torch.finfo(dtype).eps)))


def relaxed_one_hot(logits, gumbel, temperature):
    """A Gumbel-softmax sample ``GS(exp(logits), temperature)`` over the last axis.

    ``gumbel`` may carry leading batch axes: each example then gets its own sample,
    as in the authors' code. softmax subtracts the maximum, so low temperatures and
    extreme logits stay finite.
    """
    return torch.softmax((logits + gumbel) / temperature, dim=-1)


def hard_one_hot(logits, gumbel, temperature):
    """Straight-through Gumbel-softmax: exactly one-hot values, the relaxed sample's gradient.

    Returns ``(weights, choice)``: ``weights`` equals ``one_hot(choice)`` in value
    while its gradient is that of :func:`relaxed_one_hot`, and ``choice`` is the
    sampled operation per edge, so a network can run only the chosen operation.
    """
    soft = relaxed_one_hot(logits, gumbel, temperature)
    choice = soft.argmax(-1)
    hard = torch.nn.functional.one_hot(choice, soft.shape[-1]).to(soft.dtype)
    return hard - soft.detach() + soft, choice


def temperature_at(progress, start=1.0, end=0.2):
    """Geometric annealing from ``start`` (progress 0) to ``end`` (progress 1)."""
    progress = min(max(float(progress), 0.0), 1.0)
    return start * (end / start) ** progress
