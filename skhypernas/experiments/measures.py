"""What the experiment concludes from its rows: each family's front, and the complexity check."""

import numpy as np

from ..fronts import REFERENCE, hypervolume, pareto_front


def family(row):
    """The front a result row belongs to: its method and where its weights come from."""
    return f"{row['method']} ({row['weights']})"


def _stage_seconds(name, seconds):
    """A family's wall time: its own stage, plus the search its models started from (a
    fine-tuned or retrained family's ``<method> (inherited)`` stage)."""
    method, weights = name.rsplit(" (", 1)
    own = seconds.get(name, 0.0)
    return own if weights == "inherited)" else own + seconds.get(f"{method} (inherited)", 0.0)


def front_table(rows, seconds, reference=REFERENCE):
    """Per family: its models, Pareto front per seed, hypervolume over seeds and wall time.

    Parameters
    ----------
    rows : list of dict
        Result rows with ``method``, ``weights``, ``n_parameters``, ``test_accuracy``
        and, for several seeds, ``seed``.
    seconds : dict
        Per seed (the rows' ``seed``), the wall seconds of each family's own stage by
        :func:`family` name; a fine-tuned or retrained family adds the search it
        started from. A dict of stage seconds alone serves every seed.
    reference : (float, float), default=(0.80, 100_000)

    Returns
    -------
    list of dict
        ``family``, ``n_seeds``, ``n_models`` (all seeds'), ``hypervolume`` (the mean
        over seeds), ``hypervolume_min``, ``hypervolume_max``, ``wall_seconds`` (the mean
        over seeds) and ``fronts`` (per seed, a list of ``[n_parameters, accuracy]``),
        in the order families first appear.
    """
    if seconds and all(isinstance(v, (int, float)) for v in seconds.values()):
        seconds = {seed: seconds for seed in {r.get("seed") for r in rows}}
    table = []
    for name in dict.fromkeys(family(r) for r in rows):
        mine = [r for r in rows if family(r) == name]
        fronts, volumes, walls = {}, [], []
        for seed in dict.fromkeys(r.get("seed") for r in mine):
            points = [(int(r["n_parameters"]), float(r["test_accuracy"])) for r in mine if r.get("seed") == seed]
            front = [list(points[i]) for i in pareto_front(*zip(*points))]
            fronts[seed] = front
            volumes.append(hypervolume(front, reference))
            walls.append(_stage_seconds(name, seconds.get(seed, {})))
        table.append(
            dict(
                family=name,
                n_seeds=len(fronts),
                n_models=len(mine),
                hypervolume=float(np.mean(volumes)),
                hypervolume_min=min(volumes),
                hypervolume_max=max(volumes),
                wall_seconds=float(np.mean(walls)),
                fronts=fronts,
            )
        )
    return table


def collapse_counts(rows):
    """Per family, how many of its models' architectures collapsed (the ``collapsed``
    column), among those whose search space can tell.

    Parameters
    ----------
    rows : list of dict

    Returns
    -------
    dict
        ``{family: {"collapsed": n, "models": m}}``, for the families with a known answer.
    """
    counts = {}
    for row in rows:
        value = row.get("collapsed", "")
        if value in ("", None):
            continue
        entry = counts.setdefault(family(row), {"collapsed": 0, "models": 0})
        entry["collapsed"] += value in (True, "True")
        entry["models"] += 1
    return counts


def complexity_control(lambdas, n_parameters, min_span=3.0):
    """Whether parameter counts fall with lambda and span at least ``min_span`` times.

    Parameters
    ----------
    lambdas, n_parameters : array-like of shape (n_picks,)
    min_span : float, default=3.0
        Required ratio of the largest to the smallest count.

    Returns
    -------
    dict
        ``monotonic`` (counts never rise as lambda rises), ``span`` (largest over
        smallest count), ``holds`` (both), and the ``lambdas`` and ``n_parameters``
        in increasing order of lambda.
    """
    order = np.argsort(lambdas, kind="stable")
    lambdas, counts = np.asarray(lambdas, dtype=float)[order], np.asarray(n_parameters, dtype=float)[order]
    monotonic = bool(np.all(np.diff(counts) <= 0))
    span = float(counts.max() / counts.min()) if len(counts) else 0.0
    return dict(
        monotonic=monotonic,
        span=span,
        holds=monotonic and span >= min_span,
        lambdas=lambdas.tolist(),
        n_parameters=[int(c) for c in counts],
    )
