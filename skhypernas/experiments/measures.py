"""What the experiment concludes from its rows: each family's front, and the complexity check."""

import numpy as np

from ..fronts import REFERENCE, hypervolume, pareto_front


def family(row):
    """The front a result row belongs to: its method and where its weights come from."""
    return f"{row['method']} ({row['weights']})"


#: Families whose models need another family's work first: their wall time adds it.
_PREREQUISITE = {"hyperdarts (fine-tuned)": "hyperdarts (inherited)", "darts (scratch)": "darts (inherited)"}


def front_table(rows, seconds, reference=REFERENCE):
    """Per family: its models, Pareto front, hypervolume and wall time.

    Parameters
    ----------
    rows : list of dict
        Result rows with ``method``, ``weights``, ``n_parameters``, ``test_accuracy``.
    seconds : dict
        Wall seconds of each family's own stage, by :func:`family` name; a
        fine-tuned or retrained family adds the search it started from.
    reference : (float, float), default=(0.80, 100_000)

    Returns
    -------
    list of dict
        ``family``, ``n_models``, ``hypervolume``, ``wall_seconds`` and ``front``
        (a list of ``[n_parameters, accuracy]``), in the order families first appear.
    """
    table = []
    for name in dict.fromkeys(family(r) for r in rows):
        mine = [r for r in rows if family(r) == name]
        points = [(int(r["n_parameters"]), float(r["test_accuracy"])) for r in mine]
        front = [points[i] for i in pareto_front(*zip(*points))]
        wall = seconds.get(name, 0.0) + seconds.get(_PREREQUISITE.get(name), 0.0)
        table.append(
            dict(
                family=name,
                n_models=len(mine),
                hypervolume=hypervolume(front, reference),
                wall_seconds=wall,
                front=[list(p) for p in front],
            )
        )
    return table


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
