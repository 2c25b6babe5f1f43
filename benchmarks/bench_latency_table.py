"""Does the latency table predict? Predicted against measured ``predict_proba`` latency
over the complexity path of one CPU-preset search.

    OMP_NUM_THREADS=1 python benchmarks/bench_latency_table.py --n-train 3000 --search-time 150 --json out.json

One search with the CPU preset (``skhypernas.presets.PRESETS["cpu"]``) under a time
budget, on the first ``--n-train`` Fashion-MNIST training images (digits with
``--dataset digits``), pricing ``--cost`` (latency by default). Then every distinct
architecture of its path is timed through ``predict_proba`` on ``--rows`` test images
(batches of 256, as ``predict`` runs them), ``--rounds`` rounds interleaved over the
architectures, the median round per architecture, in milliseconds per image; the
first call of each architecture (its inference form is built then) is not timed.

Prints, and writes with ``--json``: the host (CPU model, vector extensions, threads),
the table's scale and build time, per architecture its parameters, MACs, predicted
and measured latency, and the Spearman correlations of each cost with the measured
latency, the median absolute relative error of the prediction, and the path's span
(largest over smallest) in each cost. Not part of the test suite.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from skhypernas import HyperDARTSClassifier
from skhypernas.datasets import load_train_test
from skhypernas.latency import cpu_model
from skhypernas.path import interval_middle
from skhypernas.presets import PRESETS


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["fashion-mnist", "digits"], default="fashion-mnist")
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--search-time", type=float, default=150.0, help="seconds of search (max_time)")
    parser.add_argument("--cost", default="latency", choices=["params", "flops", "latency"])
    parser.add_argument("--rows", type=int, default=512, help="test images per timed predict_proba call")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--lambda-max", type=float, default=None, help="upper end of lambda_range (default: the preset's)"
    )
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args()


def measure(clf, lambdas, X, rounds):
    """Median over interleaved rounds of ``clf.predict_proba`` at each lambda, ms per image.

    Each lambda's derived network is made once (``set_complexity``) and put back in
    ``network_`` for its turn, so that its inference form, built by its first call, is
    reused as ``predict`` reuses it; no copies of the estimator.
    """
    return time_predictions(clf, [clf.set_complexity(lam).network_ for lam in lambdas], X, rounds)


def time_predictions(clf, networks, X, rounds):
    """Median over interleaved rounds of ``clf.predict_proba`` with each of ``networks``
    in ``network_``, ms per image; each network's first call (it builds the inference
    form, which the table does not predict) is not timed."""
    for network in networks:
        clf.network_ = network
        clf.predict_proba(X)
    times = np.empty((rounds, len(networks)))
    for r in range(rounds):
        for k, network in enumerate(networks):
            clf.network_ = network
            start = time.perf_counter()
            clf.predict_proba(X)
            times[r, k] = 1e3 * (time.perf_counter() - start) / len(X)
    return np.median(times, axis=0)


def main():
    args = parse_args()
    X_train, X_test, y_train, _ = load_train_test(args.dataset, args.n_train)
    params = dict(PRESETS["cpu"], max_epochs=1000, max_time=args.search_time, cost=args.cost)
    if args.dataset == "digits":
        params.update(lambda_range=(1e-8, 1e-3))  # as python -m skhypernas runs digits
    if args.lambda_max is not None:
        params.update(lambda_range=(params["lambda_range"][0], args.lambda_max))
    start = time.perf_counter()
    clf = HyperDARTSClassifier(random_state=args.random_state, **params).fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    path, table = clf.complexity_path_, clf.latency_table_
    # Each distinct architecture of the path once, at its interval's middle.
    first = {}
    for i, genotype in enumerate(path["genotype"]):
        first.setdefault(genotype, i)
    entries = sorted(first.values())
    lambdas = [interval_middle(path, i) for i in entries]
    measured = measure(clf, lambdas, np.ascontiguousarray(X_test[: args.rows]), args.rounds)
    predicted = path["latency_ms"][entries]
    rows = [
        dict(
            entry=int(i),
            lambda_mid=interval_middle(path, i),
            n_parameters=int(path["n_parameters"][i]),
            n_flops=int(path["n_flops"][i]),
            predicted_ms=float(path["latency_ms"][i]),
            measured_ms=float(m),
            accuracy=float(path["accuracy"][i]),
        )
        for i, m in zip(entries, measured)
    ]
    error = np.abs(predicted / measured - 1)
    summary = dict(
        command="OMP_NUM_THREADS=%s python benchmarks/bench_latency_table.py --dataset %s --n-train %d "
        "--search-time %g --cost %s --rows %d --rounds %d%s"
        % (
            torch.get_num_threads(),
            args.dataset,
            args.n_train,
            args.search_time,
            args.cost,
            args.rows,
            args.rounds,
            "" if args.lambda_max is None else f" --lambda-max {args.lambda_max:g}",
        ),
        lambda_range=list(clf.lambda_range),
        host=dict(
            cpu=cpu_model(),
            vector_extensions=torch.backends.cpu.get_cpu_capability(),
            threads=torch.get_num_threads(),
            torch=torch.__version__,
        ),
        fit_seconds=fit_seconds,
        search_seconds=sum(h["seconds"] for h in clf.history_),
        cost_scale=clf.cost_scale_,
        table_scale=table.scale,
        table_calibration=table.host["calibration"],
        n_path_entries=len(path["genotype"]),
        n_architectures=len(entries),
        spearman_predicted=float(spearmanr(predicted, measured)[0]),
        spearman_parameters=float(spearmanr(path["n_parameters"][entries], measured)[0]),
        spearman_flops=float(spearmanr(path["n_flops"][entries], measured)[0]),
        spearman_lambda=float(spearmanr([r["lambda_mid"] for r in rows], measured)[0]),
        median_abs_relative_error=float(np.median(error)),
        max_abs_relative_error=float(error.max()),
        mean_relative_error=float(np.mean(predicted / measured - 1)),
        span=dict(
            measured_ms=float(measured.max() / measured.min()),
            predicted_ms=float(predicted.max() / predicted.min()),
            n_parameters=float(path["n_parameters"].max() / path["n_parameters"].min()),
            n_flops=float(path["n_flops"].max() / path["n_flops"].min()),
        ),
        path=rows,
    )
    for r in rows:
        print(
            f"{r['lambda_mid']:10.3g} {r['n_parameters']:8d} {r['n_flops'] / 1e6:8.2f} MMAC "
            f"pred {r['predicted_ms']:.4f} meas {r['measured_ms']:.4f} ms/img  acc {r['accuracy']:.3f}"
        )
    print(json.dumps({k: v for k, v in summary.items() if k != "path"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
