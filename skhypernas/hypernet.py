"""Structural parameters as a function of the complexity coefficient lambda.

The hypernetwork maps a batch of lambdas to ``alpha`` of shape
``(..., *arch_shape)``, the search space's architecture parameters (for the DARTS
cells ``(2, n_edges, n_ops)``: the normal cells' logits, then the reduction cells').
With a single knot it is plain DARTS: one free ``alpha`` whatever lambda is.
"""

import math

import numpy as np
import torch
from torch import nn

#: The logit of an option a decision may not take: finite (the path's envelope
#: arithmetic subtracts logits), and far below any learned one, so that its softmax
#: weight is exactly 0 in float32 and bfloat16.
MASKED = -1e4


class PiecewiseLinearHypernet(nn.Module):
    """``alpha(lambda)``: linear interpolation between anchors at knots in log-lambda.

    With ``s = (log10 lambda - log10 lambda_min) / (log10 lambda_max - log10 lambda_min)``
    and knots ``t_k = k / (n_knots - 1)``, ``alpha(s) = (1 - u) a_k + u a_{k+1}`` on
    ``[t_k, t_{k+1}]``, ``u = (s - t_k) / (t_{k+1} - t_k)``.

    Parameters
    ----------
    arch_shape : tuple of int
        Shape of ``alpha`` for one lambda (the search space's ``arch_shape``).
    lambda_range : (float, float)
    n_knots : int or None
        Default: one knot per decade of ``lambda_range`` (at least 2). ``1`` gives
        a constant ``alpha`` (DARTS).
    init_scale : float
        Standard deviation of the anchors' initial values (DARTS: 1e-3).
    option_mask : bool array of ``arch_shape`` or None
        The options a decision may take (the space's :meth:`option_mask
        <skhypernas.spaces.SearchSpace.option_mask>`): the others' logits are
        :data:`MASKED`, so that no softmax, sample or argmax ever picks them. None:
        every option.
    """

    #: Blocked options (the inverse of ``option_mask``); the class's None also serves
    #: hypernetworks pickled before masks existed.
    blocked = None

    def __init__(self, arch_shape, lambda_range, n_knots=None, init_scale=1e-3, option_mask=None):
        super().__init__()
        self.log_range = tuple(math.log10(v) for v in lambda_range)
        if n_knots is None:
            n_knots = max(2, round(self.log_range[1] - self.log_range[0]) + 1)
        self.n_knots = int(n_knots)
        self.anchors = nn.Parameter(init_scale * torch.randn(self.n_knots, *arch_shape))
        # Not a buffer: the space gives it again whenever a hypernetwork is made (also
        # on the meta device, where loading makes them), so files do not carry it.
        self.blocked = None if option_mask is None else ~np.asarray(option_mask, dtype=bool)
        self._blocked_on = {}  # the mask as a tensor, per device: forward runs every step

    def normalise(self, lam):
        """``s`` of lambda, clamped to [0, 1]."""
        low, high = self.log_range
        return ((torch.log10(lam) - low) / (high - low)).clamp(0.0, 1.0)

    def forward(self, lam):
        lam = torch.as_tensor(lam, dtype=self.anchors.dtype, device=self.anchors.device)
        if self.n_knots == 1:
            alpha = self.anchors[0].expand(*lam.shape, *self.anchors.shape[1:])
        else:
            pos = self.normalise(lam) * (self.n_knots - 1)
            k = pos.floor().clamp(max=self.n_knots - 2).long()
            u = (pos - k).view(*pos.shape, *[1] * (self.anchors.dim() - 1))
            alpha = (1 - u) * self.anchors[k] + u * self.anchors[k + 1]
        if self.blocked is None:
            return alpha
        if alpha.device not in self._blocked_on:
            self._blocked_on[alpha.device] = torch.as_tensor(self.blocked, device=alpha.device)
        return alpha.masked_fill(self._blocked_on[alpha.device], MASKED)

    def knot_anchors(self):
        """The anchors as a float64 array ``(n_knots, *arch_shape)``.

        A single knot is returned twice: a flat segment over the whole range.
        """
        anchors = self.anchors.detach().cpu().double().numpy()
        if self.blocked is not None:
            anchors = np.where(self.blocked, MASKED, anchors)
        return np.repeat(anchors, 2, axis=0) if self.n_knots == 1 else anchors

    def lambda_of(self, s):
        """Inverse of :meth:`normalise`."""
        low, high = self.log_range
        return 10.0 ** (low + np.asarray(s, dtype=np.float64) * (high - low))
