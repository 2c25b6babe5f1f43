"""``python -m skhypernas``: one search under a time budget, its complexity path printed
and plotted, and a few of its architectures fine-tuned."""

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import ArchitectureClassifier, HyperDARTSClassifier
from .costs import COST_COLUMNS, COST_NAMES
from .datasets import load_train_test
from .path import fine_tune_picks, interval_middle, path_index
from .persistence import csv_writer, write_files
from .presets import COST_PRESETS, FINE_TUNING, SPACE_PRESETS

#: Default ``--time-budget`` in seconds, per dataset: search, path and fine-tuning together.
TIME_BUDGETS = {"fashion-mnist": 1800.0, "digits": 110.0}
#: The search's share of the budget; the path, the test set and fine-tuning get the rest.
SEARCH_SHARE = 0.6


def parse_args(argv=None):
    """The command line's arguments, and the time budget they ask for.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments; None reads ``sys.argv``.

    Returns
    -------
    args : argparse.Namespace
    budget : float or None
        Seconds for search, path and fine-tuning together; None runs the epochs.
    """
    parser = argparse.ArgumentParser(prog="python -m skhypernas", description=__doc__)
    parser.add_argument("--dataset", choices=["fashion-mnist", "digits"], default="fashion-mnist")
    parser.add_argument("--search-space", choices=sorted(SPACE_PRESETS), default="darts")
    parser.add_argument(
        "--preset", choices=sorted({p for presets in SPACE_PRESETS.values() for p in presets}), default="cpu"
    )
    parser.add_argument("--n-train", type=int, default=None, help="use only the first N training samples")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--channels", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument(
        "--lambda-range",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        default=None,
        help="the lambdas the path spans (default: the preset's, or its cost's: presets.COST_PRESETS)",
    )
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path("results"))
    parser.add_argument("--test-all", action="store_true", help="score every path entry on the test set")
    parser.add_argument(
        "--cost",
        choices=COST_NAMES,
        default="params",
        help="what lambda prices: parameters, multiply-accumulates or predicted latency (default: params)",
    )
    parser.add_argument(
        "--latency-table",
        type=Path,
        default=None,
        help="a latency table measured on the deployment target (measure_latency_table); default: timed here",
    )
    parser.add_argument(
        "--time-budget",
        type=float,
        default=None,
        help="seconds for search, path and fine-tuning together (default: 1800 for fashion-mnist, 110 for "
        "digits); the schedules follow it. 0: no budget, the preset's epochs (exact reproduction)",
    )
    parser.add_argument(
        "--fine-tune", type=int, default=3, help="architectures of the path to fine-tune on all the training data"
    )
    args = parser.parse_args(argv)
    if args.preset not in SPACE_PRESETS[args.search_space]:
        parser.error(f"the {args.search_space} space has no preset {args.preset!r}")
    if args.channels is not None and args.search_space != "darts":
        parser.error("--channels shapes the darts space only")
    if args.time_budget is not None and args.time_budget < 0:
        parser.error("--time-budget must be at least 0")
    if args.lambda_range is not None and not 0 < args.lambda_range[0] < args.lambda_range[1]:
        parser.error("--lambda-range needs 0 < LOW < HIGH")
    budget = TIME_BUDGETS[args.dataset] if args.time_budget is None else args.time_budget or None
    return args, budget


def search_settings(args, budget):
    """The search's HyperDARTSClassifier parameters: the preset, fitted to the dataset and the budget.

    Parameters
    ----------
    args : argparse.Namespace
        From :func:`parse_args`; its ``max_epochs``, ``channels``, ``lr`` and ``lambda_range`` override.
    budget : float or None

    Returns
    -------
    dict
    """
    params = dict(SPACE_PRESETS[args.search_space][args.preset])
    if args.dataset == "digits" and args.preset == "cpu":
        # 8x8 images: 20 epochs take under a minute, and this small a network needs
        # lambda up to 1e-3 before the regulariser shrinks it (1e-4 only halved it).
        params.update(max_epochs=20, lambda_range=(1e-8, 1e-3))
    if args.preset == "cpu":
        params.update(COST_PRESETS.get((args.search_space, args.cost), {}))
    if budget is not None:
        # The budget, not the epochs, ends the search (and its schedules).
        params.update(max_epochs=1000, max_time=SEARCH_SHARE * budget)
    for name in ("max_epochs", "channels", "lr"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    if args.lambda_range is not None:
        params["lambda_range"] = tuple(args.lambda_range)
    params["cost"] = args.cost
    if args.latency_table is not None:
        params["latency_table"] = str(args.latency_table)
    return params


def run_search(X_train, y_train, n_test, params, budget, args):
    """Announce the run, then fit the search (and its complexity path) on the training data.

    Parameters
    ----------
    X_train, y_train : ndarray
    n_test : int
        Test samples, for the announcement.
    params : dict
        From :func:`search_settings`.
    budget : float or None
    args : argparse.Namespace
        Its ``dataset`` is announced, its ``random_state`` seeds the search.

    Returns
    -------
    clf : HyperDARTSClassifier
    fit_seconds : float
        Search and path together.
    """
    print(f"{args.dataset}: {len(X_train)} training, {n_test} test samples; settings {params}", flush=True)
    if budget is not None:
        print(f"time budget {budget:.0f} s: search {params['max_time']:.0f} s, then path and fine-tuning", flush=True)
    fit_start = time.perf_counter()
    clf = HyperDARTSClassifier(random_state=args.random_state, verbose=1, **params).fit(X_train, y_train)
    return clf, time.perf_counter() - fit_start


def score_path(clf, X_test, y_test, n_picks, test_all):
    """One row per architecture of the complexity path, scored on the test set where worth it.

    The full test set is scored at each decade of lambda, at both ends of the range
    and at the picks to fine-tune (every entry with ``test_all``): one pass over it
    takes seconds on a CPU.

    Parameters
    ----------
    clf : HyperDARTSClassifier
        The fitted search; left at the last scored lambda.
    X_test, y_test : ndarray
    n_picks : int
        Architectures to fine-tune, spread over the range of the cost the search priced.
    test_all : bool

    Returns
    -------
    rows : list of dict
        The path's entries, ``finetuned_test_accuracy`` still None.
    picks : list of int
        Rows to fine-tune.
    n_tested : int
        Rows scored as decades and ends (the picks not counted).
    seconds : float
        Time spent scoring.
    """
    path = clf.complexity_path_
    low, high = np.log10(path["lambda_min"][0]), np.log10(path["lambda_max"][-1])
    decades = 10.0 ** np.arange(np.ceil(low - 1e-9), np.floor(high + 1e-9) + 1)
    tested = {0, len(path["genotype"]) - 1} | {path_index(path, lam) for lam in decades}
    rows = []
    start = time.perf_counter()
    # A network no better than a uniform guess on the held-out images learns nothing
    # from fine-tuning either (the latency run's high end: cells whose outputs are all
    # zero). "collapsed" is not the test: many such networks of parameter-free cells
    # reached 0.82-0.89 there.
    usable = path["accuracy"] > 1.0 / len(clf.classes_)
    picks = fine_tune_picks(path[COST_COLUMNS[clf.cost]], n_picks, usable)
    for i, genotype in enumerate(path["genotype"]):
        row = dict(
            lambda_min=float(path["lambda_min"][i]),
            lambda_max=float(path["lambda_max"][i]),
            n_parameters=int(path["n_parameters"][i]),
            n_flops=int(path["n_flops"][i]),
            latency_ms=float(path["latency_ms"][i]),
            heldout_accuracy=float(path["accuracy"][i]),
            test_accuracy=None,
            finetuned_test_accuracy=None,
            genotype=genotype.to_json(),
        )
        if test_all or i in tested or i in picks:
            clf.set_complexity(interval_middle(path, i))
            row["test_accuracy"] = float(clf.score(X_test, y_test))
        rows.append(row)
    return rows, picks, len(tested), time.perf_counter() - start


def fine_tune(clf, picks, train, test, budget, start, test_pass, random_state):
    """Fine-tune each pick of the path from the search's weights and score it on the test set.

    Parameters
    ----------
    clf : HyperDARTSClassifier
        The fitted search, whose supernet the picks inherit.
    picks : list of int
        Entries of the complexity path.
    train, test : (ndarray, ndarray)
        ``(X, y)`` to fine-tune on, and to score on.
    budget : float or None
        Each pick gets an equal share of what it leaves; None: one epoch each.
    start : float
        ``time.perf_counter()`` when the run began.
    test_pass : float
        Seconds of one test-set pass, kept back from each share.
    random_state : int

    Returns
    -------
    accuracy : dict
        Test accuracy of each pick, by path entry.
    seconds : float
    """
    path = clf.complexity_path_
    accuracy = {}
    tune_start = time.perf_counter()
    for k, i in enumerate(picks):
        # Each pick gets an equal share of what the budget has left, less a test pass.
        left = None if budget is None else budget - (time.perf_counter() - start)
        share = None if left is None else max(1.0, left / (len(picks) - k) - test_pass)
        size = f"{int(path['n_parameters'][i]):,} parameters, {path['latency_ms'][i]:.3g} ms per image"
        print(f"\nfine-tuning {size}" + (f" for {share:.0f} s" if share else ""))
        tuned = ArchitectureClassifier(
            path["genotype"][i],
            init=clf.supernet_,
            max_epochs=1000 if share else 1,
            max_time=share,
            random_state=random_state,
            verbose=1,
            **FINE_TUNING,
        ).fit(*train)
        accuracy[i] = float(tuned.score(*test))
    seconds = time.perf_counter() - tune_start
    if picks:
        print(f"\nfine-tuning {len(picks)} architectures: {seconds:.0f} s")
    return accuracy, seconds


def print_path(rows, total_seconds, budget):
    """Print the run's total time and the path's table: held-out, test and fine-tuned accuracy.

    Parameters
    ----------
    rows : list of dict
        From :func:`score_path`, with the fine-tuned accuracies.
    total_seconds : float
    budget : float or None
    """
    limit = "" if budget is None else f" (budget {budget:.0f} s)"
    print(f"total: {total_seconds:.0f} s{limit}\n")
    header = f"{'lambda from':>12} {'lambda to':>12} {'params':>8} {'MMACs':>7} {'ms/image':>9}"
    print(f"{header} {'held-out':>9} {'test':>7} {'tuned':>7}")
    for r in rows:
        test, tuned = (("" if r[k] is None else f"{r[k]:7.4f}") for k in ("test_accuracy", "finetuned_test_accuracy"))
        interval = f"{r['lambda_min']:12.3g} {r['lambda_max']:12.3g}"
        costs = f"{r['n_parameters']:8d} {r['n_flops'] / 1e6:7.2f} {r['latency_ms']:9.4f}"
        print(f"{interval} {costs} {r['heldout_accuracy']:9.4f} {test:>7} {tuned:>7}")


def write_outputs(output, clf, rows, summary):
    """Write the path's figure, cell drawings, JSON and CSV, and the fitted model, and say how to load it.

    Each file is written atomically; one that cannot be written is reported and the
    others are still written (:func:`~skhypernas.persistence.write_files`).

    Parameters
    ----------
    output : pathlib.Path
        Folder, created if needed.
    clf : HyperDARTSClassifier
        The fitted search; saved at its most accurate lambda.
    rows : list of dict
        The path's table.
    summary : dict
        What ``complexity_path.json`` holds.

    Returns
    -------
    list of str
        The files that could not be written.
    """
    from .plotting import plot_complexity_path, plot_genotype

    path = clf.complexity_path_
    clf.set_complexity("best")
    files = {"complexity_path.png": _figure_writer(plot_complexity_path(clf), 120)}
    for name, i in (("smallest", 0), ("largest", -1)):
        title = f"{name} lambda: {path['n_parameters'][i]} parameters"
        drawing = "cells" if clf.search_space_.name == "darts" else "layers"
        files[f"{drawing}_{name}_lambda.png"] = _figure_writer(plot_genotype(path["genotype"][i], title), 100)
    # A preset's search space is an object: its to_dict() (a space's saved form) goes in.
    as_json = functools.partial(json.dumps, indent=1, default=lambda value: value.to_dict())
    files["complexity_path.json"] = lambda tmp: tmp.write_text(as_json(summary))
    columns = ["lambda_min", "lambda_max", "n_parameters", "n_flops", "latency_ms", "heldout_accuracy", "test_accuracy"]
    files["complexity_path.csv"] = csv_writer(rows, columns + ["finetuned_test_accuracy"])
    # The fitted estimator, in the safe (pickle-free) format, at the most accurate lambda.
    files["model.skh"] = clf.save
    failed = write_files(output, files)
    written = [name for name in files if name not in failed]
    print(f"\nwrote {', '.join(written) or 'nothing'} to {output}")
    if "model.skh" in written:
        print("load it and predict with:")
        print(f'    clf = skhypernas.load("{output / "model.skh"}")')
        print("    clf.set_complexity(1e-6).predict(X)   # any lambda of its path; X as in fit")
    return failed


def _figure_writer(figure, dpi):
    # The temporary file's name has no .png: the format is said, not inferred.
    return lambda tmp: figure.savefig(tmp, format="png", dpi=dpi)


def main(argv=None):
    """Search, score the complexity path, fine-tune a few picks and write it all, as ``argv`` asks.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments; None reads ``sys.argv``.
    """
    args, budget = parse_args(argv)
    start = time.perf_counter()
    params = search_settings(args, budget)
    X_train, X_test, y_train, y_test = load_train_test(args.dataset, args.n_train)
    clf, fit_seconds = run_search(X_train, y_train, len(X_test), params, budget, args)
    rows, picks, n_tested, test_seconds = score_path(clf, X_test, y_test, args.fine_tune, args.test_all)
    print(f"\nsearch and path: {fit_seconds:.0f} s; {len(rows)} architectures on the complexity path")
    print(f"test-set scoring: {test_seconds:.0f} s", flush=True)
    test_pass = test_seconds / max(1, n_tested)
    tuned, tune_seconds = fine_tune(
        clf, picks, (X_train, y_train), (X_test, y_test), budget, start, test_pass, args.random_state
    )
    for i, accuracy in tuned.items():
        rows[i]["finetuned_test_accuracy"] = accuracy
    total_seconds = time.perf_counter() - start
    print_path(rows, total_seconds, budget)
    summary = dict(
        dataset=args.dataset,
        settings=params,
        n_train=len(X_train),
        time_budget=budget,
        cost_scale=clf.cost_scale_,
        latency_table=None if clf.latency_table_ is None else clf.latency_table_.host,
        fine_tuning=FINE_TUNING,
        fit_seconds=fit_seconds,
        # fit = search + path: the path's cost is fixed by the architectures it finds,
        # the one part a budget cannot shape.
        search_seconds=sum(h["seconds"] for h in clf.history_),
        test_seconds=test_seconds,
        finetune_seconds=tune_seconds,
        total_seconds=total_seconds,
        path=rows,
    )
    failed = write_outputs(args.output, clf, rows, summary)
    if failed:
        sys.exit(f"{len(failed)} of the results could not be written: {', '.join(failed)} (see above)")


if __name__ == "__main__":
    main()
