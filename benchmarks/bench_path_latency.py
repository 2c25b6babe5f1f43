"""Measured prediction latency along committed complexity paths, and accuracy at equal latency.

    OMP_NUM_THREADS=1 python benchmarks/bench_path_latency.py \
        docs/results/fashion-mnist-cpu-latency docs/results/fashion-mnist-cpu --json out.json

Each argument is a folder that ``python -m skhypernas`` wrote (``complexity_path.json``);
the first must also hold its ``model.skh``. Every distinct architecture of every
folder's path is built in the first model's space (fresh weights: a network's time does
not depend on its values) and timed through that model's ``predict_proba`` on
``--rows`` Fashion-MNIST test images (batches as ``predict`` runs them), ``--rounds``
rounds interleaved over all architectures of all folders, the median round per
architecture, in milliseconds per image; each network's first call (its inference form
is built then) is not timed.

Prints, and writes with ``--json``: the host, per folder the Spearman correlation of
lambda (each entry's interval middle) with the measured latency, the path's span
(slowest over fastest) in measured latency and parameters, and the front of held-out
accuracy against measured latency; and per pair of folders, at each measured latency
of either path, the best held-out accuracy each path offers at that latency or less
(the first folder's against the others'). Not part of the test suite.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from bench_latency_table import time_predictions  # run as a script: benchmarks/ is on the path
from scipy.stats import spearmanr

import skhypernas
from skhypernas.datasets import load_train_test
from skhypernas.fronts import pareto_front
from skhypernas.latency import cpu_model
from skhypernas.spaces import as_architecture


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "folders", type=Path, nargs="+", help="outputs of python -m skhypernas; the first with model.skh"
    )
    parser.add_argument("--dataset", choices=["fashion-mnist", "digits"], default="fashion-mnist")
    parser.add_argument("--rows", type=int, default=512, help="test images per timed predict_proba call")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args()


def read_path(folder):
    """The path's entries: lambda interval middle (geometric), architecture, parameters, held-out accuracy."""
    entries = json.loads((folder / "complexity_path.json").read_text())["path"]
    return [
        dict(
            lambda_mid=float(np.sqrt(e["lambda_min"] * e["lambda_max"])),
            genotype=as_architecture(e["genotype"]),
            n_parameters=int(e["n_parameters"]),
            heldout_accuracy=float(e["heldout_accuracy"]),
        )
        for e in entries
    ]


def measure(clf, genotypes, X, rounds):
    """Median over interleaved rounds of ``clf.predict_proba`` with each genotype's network, ms per image."""
    networks = [clf.search_space_.build(genotype).eval() for genotype in genotypes]
    return time_predictions(clf, networks, X, rounds)


def best_at(latency, accuracy, budget):
    """The best accuracy among entries of latency at most ``budget`` (nan where none is)."""
    ok = latency <= budget
    return float(accuracy[ok].max()) if ok.any() else float("nan")


def main():
    args = parse_args()
    clf = skhypernas.load(args.folders[0] / "model.skh")
    _, X_test, _, _ = load_train_test(args.dataset)
    X = np.ascontiguousarray(X_test[: args.rows])
    paths = {str(folder): read_path(folder) for folder in args.folders}
    genotypes = sorted({e["genotype"] for path in paths.values() for e in path}, key=str)
    measured = dict(zip(genotypes, measure(clf, genotypes, X, args.rounds)))
    summary = dict(
        command="OMP_NUM_THREADS=%s python benchmarks/bench_path_latency.py %s --rows %d --rounds %d"
        % (torch.get_num_threads(), " ".join(map(str, args.folders)), args.rows, args.rounds),
        host=dict(
            cpu=cpu_model(),
            vector_extensions=torch.backends.cpu.get_cpu_capability(),
            threads=torch.get_num_threads(),
            torch=torch.__version__,
        ),
        folders={},
    )
    arrays = {}
    for name, path in paths.items():
        latency = np.array([measured[e["genotype"]] for e in path])
        accuracy = np.array([e["heldout_accuracy"] for e in path])
        params = np.array([e["n_parameters"] for e in path])
        arrays[name] = latency, accuracy
        summary["folders"][name] = dict(
            n_entries=len(path),
            spearman_lambda_measured=float(spearmanr([e["lambda_mid"] for e in path], latency)[0]),
            spearman_parameters_measured=float(spearmanr(params, latency)[0]),
            span_measured=float(latency.max() / latency.min()),
            span_parameters=float(params.max() / params.min()),
            measured_ms=[float(v) for v in latency],
            front=[
                dict(measured_ms=float(latency[i]), heldout_accuracy=float(accuracy[i]), n_parameters=int(params[i]))
                for i in pareto_front(latency, accuracy)
            ],
        )
    first, *others = paths
    for other in others:
        budgets = np.unique(np.concatenate([arrays[first][0], arrays[other][0]]))
        mine = np.array([best_at(*arrays[first], t) for t in budgets])
        theirs = np.array([best_at(*arrays[other], t) for t in budgets])
        both = ~np.isnan(mine) & ~np.isnan(theirs)
        summary.setdefault("comparisons", {})[f"{first} vs {other}"] = dict(
            budgets_ms=[float(t) for t in budgets],
            best_first=[float(v) for v in mine],
            best_other=[float(v) for v in theirs],
            share_of_budgets_first_at_least_other=float(np.mean(mine[both] >= theirs[both])),
            median_difference=float(np.median(mine[both] - theirs[both])),
            budgets_only_first_reaches=int(np.sum(~np.isnan(mine) & np.isnan(theirs))),
        )
    for name, s in summary["folders"].items():
        print(
            f"{name}: {s['n_entries']} entries, Spearman(lambda, measured) {s['spearman_lambda_measured']:+.3f}, "
            f"span {s['span_measured']:.2f}x measured, {s['span_parameters']:.2f}x parameters"
        )
        for f in s["front"]:
            print(
                f"   {f['measured_ms']:.4f} ms/img  {f['n_parameters']:7d} params  held-out {f['heldout_accuracy']:.4f}"
            )
    for name, c in summary.get("comparisons", {}).items():
        print(
            f"{name}: first at least as accurate at {100 * c['share_of_budgets_first_at_least_other']:.0f}% of "
            f"latency budgets, median difference {c['median_difference']:+.4f}, "
            f"{c['budgets_only_first_reaches']} budgets only the first reaches"
        )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
