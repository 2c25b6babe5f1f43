"""Short Fashion-MNIST searches that compare settings by accuracy, not speed.

    python benchmarks/trial_settings.py --n-train 20000 '{}' '{"temperature_start": 5}'
    python benchmarks/trial_settings.py --n-train 60000 --max-time 540 --points 5 \
        '{"discrete_fraction": 0}' '{"discrete_fraction": 0.4}'

Each JSON argument overrides the base settings (the CPU preset of
``python -m skhypernas`` with one epoch, lr 0.1, temperature from 1; with
``--max-time``, the CPU preset itself under that budget in seconds; with
``--search-space chain``, that space's CPU preset). For each, one search runs on the
first ``--n-train`` training images and prints its time, its steps, its last epoch's
losses, and, at ``--points`` values of lambda spread log-evenly over
``lambda_range`` (default: both ends), the test accuracy (first ``--n-test`` test
images) of the path's network there, inherited weights and batch norm recalibrated
as ``predict`` runs it (``set_complexity(lam).score``), and whether lambda orders the
path (:func:`path_order`: the Spearman correlation of lambda with the priced cost, the
cost's span, and how far the architecture distribution moved from uniform). Single
seeds: read differences of a few points as noise. Not part of the test suite.

    python benchmarks/trial_settings.py --search-space chain --n-train 60000 --max-time 300 --points 5 '{}'
    python benchmarks/trial_settings.py --search-space chain --n-train 60000 --max-time 300 --points 3 \
        '{"cost": "latency"}' '{"cost": "latency", "arch_weight_decay": 0}'
"""

import argparse
import json
import time

import numpy as np
import torch
from scipy.stats import spearmanr

from skhypernas import HyperDARTSClassifier
from skhypernas.costs import COST_COLUMNS
from skhypernas.datasets import load_fashion_mnist
from skhypernas.path import interval_middle
from skhypernas.presets import SPACE_PRESETS
from skhypernas.spaces.base import space_from_dict


def trial(overrides, X, y, x_test, y_test, max_time=None, points=2, search_space="darts"):
    preset = SPACE_PRESETS[search_space]["cpu"]
    if max_time is None:
        base = dict(preset, max_epochs=1, lr=0.1, temperature_start=1.0)
    else:
        base = dict(preset, max_epochs=1000, max_time=max_time)
    params = dict(base, path_samples=256, device="cpu", **overrides)
    if isinstance(params.get("search_space"), dict):  # a space's to_dict(), e.g. {"name": "chain", "operations": [...]}
        params["search_space"] = space_from_dict(params["search_space"])
    start = time.perf_counter()
    clf = HyperDARTSClassifier(random_state=0, **params).fit(X, y)
    seconds = time.perf_counter() - start
    scores = {}
    for s in np.linspace(0.0, 1.0, points):
        lam = float(clf.hypernet_.lambda_of(s))
        clf.set_complexity(lam)
        scores[f"{lam:g}"] = dict(derived=round(clf.score(x_test, y_test), 3), parameters=clf.n_parameters_)
    last = {k: round(v, 3) for k, v in clf.history_[-1].items() if k in ("train_loss", "arch_loss", "arch_accuracy")}
    steps = {k: sum(h.get(k, 0) for h in clf.history_) for k in ("steps", "arch_steps", "discrete_steps")}
    path = dict(
        entries=len(clf.complexity_path_["n_parameters"]),
        best_heldout=float(clf.complexity_path_["accuracy"].max()),
        **path_order(clf),
    )
    return dict(
        search_space=search_space,
        settings=overrides,
        max_time=max_time,
        seconds=round(seconds),
        **steps,
        last_epoch=last,
        path=path,
        test_accuracy=scores,
    )


def path_order(clf):
    """Whether lambda orders the path: Spearman of each entry's lambda (interval middle)
    against the cost the search priced, the cost's span (largest over smallest), and how
    far the architecture distribution moved from uniform (mean entropy of the allowed
    options per decision at each end of the range, over the uniform's)."""
    path = clf.complexity_path_
    cost = np.asarray(path[COST_COLUMNS[clf.cost]], dtype=float)
    middle = [interval_middle(path, i) for i in range(len(cost))]
    mask = clf.search_space_.option_mask()
    allowed = np.ones(clf.search_space_.arch_shape, bool) if mask is None else mask
    entropy = []
    for lam in clf.lambda_range:
        with torch.no_grad():
            p = torch.softmax(clf.hypernet_(torch.tensor(lam)).double().cpu(), -1).numpy()
        h = -(p * np.log(np.clip(p, 1e-300, None))).sum(-1)
        entropy.append(round(float(np.mean(h / np.log(allowed.sum(-1).clip(2)))), 3))
    return dict(
        spearman_cost_lambda=round(float(spearmanr(middle, cost).correlation), 3) if len(cost) > 2 else None,
        cost_span=round(float(cost.max() / cost.min()), 2),
        relative_entropy=entropy,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="+", help="JSON objects of estimator parameters")
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--max-time", type=float, default=None, help="the CPU preset under this budget (seconds)")
    parser.add_argument("--points", type=int, default=2, help="lambdas scored, log-evenly over the range")
    parser.add_argument("--search-space", choices=sorted(SPACE_PRESETS), default="darts")
    args = parser.parse_args()
    X, y = load_fashion_mnist("train")
    X, y = X[: args.n_train] / 255.0, y[: args.n_train]
    X_test, y_test = load_fashion_mnist("test")
    x_test, y_test = X_test[: args.n_test] / 255.0, y_test[: args.n_test]
    for overrides in args.overrides:
        result = trial(json.loads(overrides), X, y, x_test, y_test, args.max_time, args.points, args.search_space)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
