"""The exact complexity path: every distinct argmax architecture over the lambda range.

``alpha`` is piecewise linear in ``s`` (normalised log-lambda), so on each segment
between two knots every operation's logit is a line in ``s``, and the argmax of an
edge changes only where the upper envelope of those lines switches from one line to
another. Those switch points, for every edge of both cell types, together with the
knots, split ``[0, 1]`` into intervals on which the whole architecture is constant,
much as LARS finds the lasso path from its breakpoints instead of a grid.
"""

import numpy as np

from .search_space import Genotype


def alpha_at(anchors, s):
    """``alpha(s)`` from knot anchors ``(n_knots, ...)``, in float64."""
    n_knots = len(anchors)
    pos = float(np.clip(s, 0.0, 1.0)) * (n_knots - 1)
    k = min(int(np.floor(pos)), n_knots - 2)
    u = pos - k
    return (1.0 - u) * anchors[k] + u * anchors[k + 1]


def genotype_at(anchors, s):
    """The argmax architecture at ``s``: on every edge the best op; ``none`` drops it."""
    choices = alpha_at(anchors, s).argmax(axis=-1)
    return Genotype.from_choices(choices[0].tolist(), choices[1].tolist())


def envelope_switches(intercepts, slopes):
    """Where the upper envelope of the lines ``b + m u`` changes line, for u in (0, 1)."""
    u = 0.0
    # At u = 0 ties go to the steeper line, which is the one above just after 0.
    top = np.max(intercepts)
    current = max(np.flatnonzero(intercepts == top), key=lambda j: slopes[j])
    switches = []
    while True:
        steeper = np.flatnonzero(slopes > slopes[current])
        if steeper.size == 0:
            return switches
        cross = (intercepts[current] - intercepts[steeper]) / (slopes[steeper] - slopes[current])
        first = cross.min()
        if first >= 1.0:
            return switches
        u = max(first, u)
        switches.append(u)
        # Of the lines crossing there, the steepest stays on top afterwards.
        candidates = steeper[cross == first]
        current = candidates[np.argmax(slopes[candidates])]


def breakpoints(anchors):
    """Sorted values of ``s`` in [0, 1] where some edge's argmax may change, ends included."""
    n_knots = len(anchors)
    knots = np.linspace(0.0, 1.0, n_knots)
    points = set(knots.tolist())
    for k in range(n_knots - 1):
        start, stop = anchors[k].reshape(-1, anchors.shape[-1]), anchors[k + 1].reshape(-1, anchors.shape[-1])
        width = knots[k + 1] - knots[k]
        for b, end in zip(start, stop):
            points.update(knots[k] + u * width for u in envelope_switches(b, end - b))
    return np.array(sorted(points))


def enumerate_path(anchors):
    """Maximal intervals of ``s`` with one architecture each, tiling [0, 1].

    Returns a list of ``(s_low, s_high, genotype)``. Adjacent intervals always differ;
    an architecture may still come back in a later interval.
    """
    points = breakpoints(anchors)
    path = []
    for low, high in zip(points[:-1], points[1:]):
        genotype = genotype_at(anchors, 0.5 * (low + high))
        if path and path[-1][2] == genotype:
            path[-1] = (path[-1][0], high, genotype)
        else:
            path.append((low, high, genotype))
    return path
