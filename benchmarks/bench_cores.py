"""Where the cores go: the experiment's per-model fits one at a time on all cores, or
several at a time on a share of the cores each, at equal wall time.

    python benchmarks/bench_cores.py fashion-mnist --wall 1200 --fits 4 --workers 1,2 \
        --output docs/results/benchmarks/cores.json

The experiment runs its per-model fits (fine-tunings, retrainings, random
architectures, plain CNNs) through ``GridSearchCV(n_jobs=...)``, and
``experiments.plan_time`` gives each the budget that ``rounds = ceil(fits / n_jobs)``
rounds leave. With ``n_jobs=1`` a fit has every core for ``wall / fits`` seconds; with
``n_jobs=2`` joblib's loky workers get ``cores // 2`` threads each, and a fit has them
for twice as long. Which reaches the higher accuracy in the same wall time depends on
how well one fit uses many cores (small networks, small batches: not well), which this
script measures on this host.

For each ``--workers`` value it trains the same ``--fits`` random architectures of the
CPU scale (``p_parameter_free`` spread over [0, 1], the experiment's recipe) exactly as
the experiment would, under a per-fit budget of ``wall / ceil(fits / workers)``, and
records the wall time, every fit's test accuracy, images trained and torch threads. It
writes (or prints) one JSON object; ``best_workers`` is the setting with the higher
mean test accuracy (a single run: read differences of a point or less as noise).
Run it on an otherwise idle host, without ``OMP_NUM_THREADS`` (which would pin a fit
alone to fewer cores). Not part of the test suite.
"""

import argparse
import json
import math
import os
import platform
import sys
import time

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.model_selection import GridSearchCV

from skhypernas import RandomArchitectureClassifier
from skhypernas.datasets import load_train_test
from skhypernas.experiments import SCALES


def per_fit_seconds(wall, n_fits, workers):
    """The budget of each fit when ``n_fits`` fits share ``wall`` seconds on ``workers`` workers.

    Parameters
    ----------
    wall : float
    n_fits : int
    workers : int

    Returns
    -------
    float
    """
    return wall / math.ceil(n_fits / workers)


def _images(estimator, X, y):
    return sum(h["steps"] for h in estimator.history_) * estimator.batch_size


def _threads(estimator, X, y):
    # Scored in the process that fitted: the torch threads each fit had.
    return torch.get_num_threads()


SCORING = {"accuracy": "accuracy", "images": _images, "threads": _threads}


def _ready_worker():
    import skhypernas  # noqa: F401  (what every fit's worker imports first)

    return torch.get_num_threads()


def start_workers(workers):
    """Start joblib's ``workers`` loky processes, skhypernas imported, before the clock runs:
    GridSearchCV reuses them, so a setting's wall time is its fits', not the start's.

    Returns
    -------
    list of int
        The torch threads of each task's worker.
    """
    if workers == 1:
        return [torch.get_num_threads()]
    return Parallel(n_jobs=workers)(delayed(_ready_worker)() for _ in range(2 * workers))


def measure(X, y, split, workers, per_fit, params, n_fits):
    """Train ``n_fits`` random architectures through ``GridSearchCV(n_jobs=workers)``.

    Parameters
    ----------
    X, y : ndarray
        Training rows, then test rows.
    split : list
        One (train, test) index pair.
    workers : int
    per_fit : float
        Each fit's budget in seconds.
    params : dict
        RandomArchitectureClassifier parameters.
    n_fits : int

    Returns
    -------
    dict
        ``workers``, ``per_fit_seconds``, ``wall_seconds``, and per fit
        ``accuracy``, ``images`` and ``threads``.
    """
    candidates = [
        {"random_state": [i], "p_parameter_free": [float(p)]} for i, p in enumerate(np.linspace(0.0, 1.0, n_fits))
    ]
    estimator = RandomArchitectureClassifier(**params, max_epochs=1000, max_time=per_fit)
    grid = GridSearchCV(estimator, candidates, cv=split, scoring=SCORING, refit=False, n_jobs=workers)
    start_workers(workers)
    start = time.perf_counter()
    grid.fit(X, y)
    wall = time.perf_counter() - start
    results = grid.cv_results_
    return dict(
        workers=workers,
        per_fit_seconds=per_fit,
        wall_seconds=wall,
        accuracy=[float(v) for v in results["mean_test_accuracy"]],
        images=[int(v) for v in results["mean_test_images"]],
        threads=[int(v) for v in results["mean_test_threads"]],
    )


def compare(modes):
    """Each mode's mean accuracy and training throughput, and the mode with the higher accuracy.

    Parameters
    ----------
    modes : list of dict
        :func:`measure`'s results, one per ``workers`` value, at the same wall budget.

    Returns
    -------
    dict
        ``modes`` (each with ``mean_accuracy`` and ``images_per_wall_second`` added),
        ``best_workers`` and ``accuracy_gain`` (its mean accuracy over the next best's).
    """
    modes = [
        {
            **m,
            "mean_accuracy": float(np.mean(m["accuracy"])),
            "images_per_wall_second": sum(m["images"]) / m["wall_seconds"],
        }
        for m in modes
    ]
    ranked = sorted(modes, key=lambda m: m["mean_accuracy"], reverse=True)
    gain = ranked[0]["mean_accuracy"] - ranked[1]["mean_accuracy"] if len(ranked) > 1 else 0.0
    return dict(modes=modes, best_workers=ranked[0]["workers"], accuracy_gain=gain)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=["fashion-mnist", "digits"])
    parser.add_argument("--wall", type=float, default=1200.0, help="seconds of fits per workers setting")
    parser.add_argument("--fits", type=int, default=4, help="fits per workers setting")
    parser.add_argument("--workers", default="1,2", help="comma-separated n_jobs values to compare")
    parser.add_argument("--n-train", type=int, default=None, help="first N training samples")
    parser.add_argument("--n-test", type=int, default=None, help="first N test samples")
    parser.add_argument("--channels", type=int, default=None, help="network width (default: the CPU scale's)")
    parser.add_argument("--output", default=None, help="JSON file (default: print it)")
    args = parser.parse_args(argv)
    if os.environ.get("OMP_NUM_THREADS"):
        print(
            f"warning: OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} pins one-at-a-time fits to that many "
            "threads; unset it for the real measurement",
            file=sys.stderr,
        )
    workers = [int(w) for w in args.workers.split(",")]
    X_train, X_test, y_train, y_test = load_train_test(args.dataset, args.n_train)
    if args.n_test:
        X_test, y_test = X_test[: args.n_test], y_test[: args.n_test]
    X, y = np.concatenate([X_train, X_test]), np.concatenate([y_train, y_test])
    split = [(np.arange(len(X_train)), np.arange(len(X_train), len(X)))]
    cfg = SCALES["cpu"]
    shape = {k: cfg["search"][k] for k in ("channels", "n_cells", "n_nodes", "stem_multiplier") if k in cfg["search"]}
    if args.channels is not None:
        shape["channels"] = args.channels
    params = {**cfg["train"], **shape, "device": "cpu"}
    modes = []
    for w in workers:
        per_fit = per_fit_seconds(args.wall, args.fits, w)
        print(f"workers {w}: {args.fits} fits of {per_fit:.1f} s each", file=sys.stderr, flush=True)
        modes.append(measure(X, y, split, w, per_fit, params, args.fits))
    report = dict(
        dataset=args.dataset,
        n_train=len(X_train),
        n_test=len(X_test),
        wall=args.wall,
        fits=args.fits,
        params=params,
        machine=dict(
            platform=platform.platform(),
            processor=platform.processor(),
            cpu_count=os.cpu_count(),
            torch_threads=torch.get_num_threads(),
            torch=torch.__version__,
        ),
        **compare(modes),
    )
    text = json.dumps(report, indent=1)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return report


if __name__ == "__main__":
    main()
