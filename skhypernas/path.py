"""The exact complexity path: every distinct argmax architecture over the lambda range.

``alpha`` is piecewise linear in ``s`` (normalised log-lambda), so on each segment
between two knots every operation's logit is a line in ``s``, and the argmax of an
edge changes only where the upper envelope of those lines switches from one line to
another. Those switch points, for every decision of the search space (every edge of
both cell types, for the DARTS cells), together with the knots, split ``[0, 1]`` into
intervals on which the whole architecture is constant, much as LARS finds the lasso
path from its breakpoints instead of a grid. Nothing here depends on the space
beyond ``alpha``'s last axis holding the options of a decision.
"""

import numpy as np
import torch

from .derived import iter_batches, recalibrate_batch_norm


def alpha_at(anchors, s):
    """``alpha(s)`` from knot anchors ``(n_knots, ...)``, in float64."""
    n_knots = len(anchors)
    pos = float(np.clip(s, 0.0, 1.0)) * (n_knots - 1)
    k = min(int(np.floor(pos)), n_knots - 2)
    u = pos - k
    return (1.0 - u) * anchors[k] + u * anchors[k + 1]


def architecture_at(space, anchors, s):
    """The argmax architecture of ``space`` at ``s``: on every decision the best option."""
    return space.argmax_architecture(alpha_at(anchors, s))


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


def enumerate_path(space, anchors):
    """Maximal intervals of ``s`` with one architecture of ``space`` each, tiling [0, 1].

    Returns a list of ``(s_low, s_high, architecture)``. Adjacent intervals always
    differ; an architecture may still come back in a later interval.
    """
    points = breakpoints(anchors)
    path = []
    for low, high in zip(points[:-1], points[1:]):
        genotype = architecture_at(space, anchors, 0.5 * (low + high))
        if path and path[-1][2] == genotype:
            path[-1] = (path[-1][0], high, genotype)
        else:
            path.append((low, high, genotype))
    return path


def complexity_path(supernet, hypernet, calibration, x_score, y_score, batch_size=256, costs=None):
    """The exact complexity path of a trained search, scored with inherited weights.

    Enumerates every distinct argmax architecture of ``hypernet`` over its lambda
    range (:func:`enumerate_path`), derives each one's network from ``supernet``,
    recalibrates its batch norm on ``calibration``, measures its accuracy on
    ``x_score, y_score`` and prices it with ``costs``. An architecture that comes
    back on a later interval is scored once.

    Parameters
    ----------
    supernet : torch.nn.Module
        The trained supernet of a search space (``supernet.space``); the derived
        networks inherit its weights.
    hypernet : PiecewiseLinearHypernet
        Its trained hypernetwork; its lambda range is the path's.
    calibration : torch.Tensor
        Images ``(n, C, H, W)`` that re-estimate batch-norm statistics.
    x_score, y_score : torch.Tensor
        Held-out images and their integer labels.
    batch_size : int, default=256
        Images per forward pass.
    costs : dict or None, default=None
        The path's cost columns, ``{name: architecture -> number}``, in order; None:
        ``n_parameters`` alone (the space's count).

    Returns
    -------
    path : dict of ndarray
        One entry per maximal lambda interval with a constant architecture, in
        increasing lambda: ``lambda_min``, ``lambda_max``, the ``costs`` columns,
        ``accuracy`` and ``genotype`` (an object array of the space's architectures).
    batch_norm : list of dict
        Per entry, the recalibrated batch-norm buffers of its derived network
        (``{name: tensor}``, to load with ``strict=False``).
    """
    space = supernet.space
    intervals = enumerate_path(space, hypernet.knot_anchors())
    lambdas = hypernet.lambda_of(np.array([[low, high] for low, high, _ in intervals]))
    scored = {}
    for _, _, genotype in intervals:
        if genotype in scored:
            continue
        net = space.derive(supernet, genotype)
        recalibrate_batch_norm(net, iter_batches(calibration, batch_size))
        with torch.inference_mode():
            pred = torch.cat([net(x).argmax(1) for x in iter_batches(x_score, batch_size)])
        buffers = {name: b.clone() for name, b in net.named_buffers()}
        scored[genotype] = ((pred == y_score).float().mean().item(), buffers)
    genotypes = [g for _, _, g in intervals]
    costs = {"n_parameters": space.n_parameters} if costs is None else costs
    priced = {name: {g: price(g) for g in scored} for name, price in costs.items()}
    path = {
        "lambda_min": lambdas[:, 0],
        "lambda_max": lambdas[:, 1],
        **{name: np.array([values[g] for g in genotypes]) for name, values in priced.items()},
        "accuracy": np.array([scored[g][0] for g in genotypes]),
        "genotype": np.array(genotypes, dtype=object),
    }
    return path, [scored[g][1] for g in genotypes]


def path_index(path, complexity):
    """The entry of ``path`` that ``complexity`` selects.

    Parameters
    ----------
    path : dict of ndarray
        A complexity path (``complexity_path_``).
    complexity : float or "best"
        A lambda (the entry whose interval holds it; the ends of the range belong to
        the first and last entries), or ``"best"``: the highest accuracy, fewest
        parameters among ties.

    Returns
    -------
    int
    """
    if isinstance(complexity, str):
        return int(np.lexsort((path["n_parameters"], -path["accuracy"]))[0])
    index = np.searchsorted(path["lambda_max"], complexity, side="left")
    return int(min(index, len(path["lambda_max"]) - 1))


#: The path's column each budget of :func:`budget_index` bounds.
BUDGET_COLUMNS = {"max_params": "n_parameters", "max_flops": "n_flops", "max_latency_ms": "latency_ms"}


def budget_index(path, **budgets):
    """The most accurate entry of ``path`` within every budget.

    Parameters
    ----------
    path : dict of ndarray
        A complexity path (``complexity_path_``).
    **budgets : float
        Any of ``max_params``, ``max_flops`` and ``max_latency_ms``: the most an
        entry's ``n_parameters``, ``n_flops`` and ``latency_ms`` may be.

    Returns
    -------
    int
        Among entries of equal accuracy, the first (the smallest lambda).

    Raises
    ------
    ValueError
        For an unknown budget, a path without its column (or without latencies), or
        a budget below every entry's cost.
    """
    fits = np.ones(len(path["accuracy"]), dtype=bool)
    for name, value in budgets.items():
        if name not in BUDGET_COLUMNS:
            raise ValueError(f"unknown budget {name!r}; known: {', '.join(BUDGET_COLUMNS)}")
        if isinstance(value, bool) or not np.isscalar(value) or not np.isreal(value):
            raise TypeError(f"{name} must be a number; got {value!r}")
        column = path.get(BUDGET_COLUMNS[name])
        if column is None or np.isnan(np.asarray(column, dtype=float)).all():
            raise ValueError(
                f"{name}: this path has no {BUDGET_COLUMNS[name]} (fitted with latency_table=None, "
                "or saved before costs had kinds)"
            )
        column = np.asarray(column, dtype=float)
        if not (column <= value).any():
            raise ValueError(
                f"{name}={value} is below the smallest architecture on the path "
                f"({BUDGET_COLUMNS[name]} {column.min():.6g})"
            )
        fits &= column <= value
    if not fits.any():
        raise ValueError(f"no architecture on the path fits all of {budgets}")
    candidates = np.flatnonzero(fits)
    return int(candidates[np.argmax(path["accuracy"][candidates])])


def interval_middle(path, index):
    """The geometric middle of an entry's lambda interval: a lambda that names it.

    Parameters
    ----------
    path : dict of ndarray
        A complexity path (``complexity_path_``).
    index : int
        The entry.

    Returns
    -------
    float
    """
    return float(np.sqrt(path["lambda_min"][index] * path["lambda_max"][index]))


def fine_tune_picks(n_parameters, k, usable=None):
    """Indices of ``k`` path entries spread over its parameter range: those nearest to
    ``k`` log-spaced counts from the largest to the smallest (fewer where they coincide).

    ``usable`` (bools, one per entry) restricts the picks to those entries (the main
    job leaves out networks no better than a guess: they learn nothing however long
    they train).
    """
    counts = np.asarray(n_parameters, dtype=float)
    candidates = np.arange(len(counts)) if usable is None else np.flatnonzero(np.asarray(usable, dtype=bool))
    if k <= 0 or candidates.size == 0:
        return []
    counts = counts[candidates]
    targets = np.geomspace(counts.max(), counts.min(), k)
    return list(dict.fromkeys(int(candidates[np.argmin(np.abs(np.log(counts / t)))]) for t in targets))
