"""``python -m skhypernas.experiments fashion-mnist --scale cpu``: the paper's experiment.

Test accuracy against parameter count for four families, each run through
scikit-learn's tooling on one train/test split:

- **hyperdarts**: one HyperDARTSClassifier search (``cross_validate``), then one
  architecture per lambda, weights inherited (or retrained with ``--retrain``);
- **darts**: ``GridSearchCV(DARTSClassifier(), {"complexity": lambdas})``, one search
  per lambda;
- **random**: ``GridSearchCV`` over RandomArchitectureClassifier seeds, with
  ``p_parameter_free`` spread over [0, 1] so that the models span the parameter range;
- **mlp**: scikit-learn's MLPClassifier at hidden sizes whose parameter counts span the
  range of the architectures above, the non-NAS reference.

Writes ``results.csv`` (one row per model: method, lambda, seed, setting, parameters,
test accuracy, seconds of search and of training) and ``accuracy_vs_parameters.png``.
"""

import argparse
import csv
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.neural_network import MLPClassifier

from . import ArchitectureClassifier, DARTSClassifier, HyperDARTSClassifier, RandomArchitectureClassifier
from .datasets import load_train_test
from .presets import PRESETS


def _grid(low, high, count):
    # Round to 3 digits so that points shared with ``lambdas`` coincide exactly.
    return tuple(float(f"{v:.3g}") for v in np.geomspace(low, high, count))


#: ``n_train``, ``n_test``: the first samples of each set used (None: all);
#: ``n_jobs``: joblib workers for the grids (2 on the CPU: one search per core);
#: ``search``: HyperDARTSClassifier parameters (DARTS takes those it shares);
#: ``lambdas``: one DARTS search each, and the points of the HyperDARTS family;
#: ``hyper_lambdas``: more points read off the one HyperDARTS search (they cost no
#: search); ``train``: ArchitectureClassifier parameters for random architectures and
#: ``--retrain``. "cpu" fits in about 15 minutes on 2 CPU cores; "paper" is the
#: authors' GPU setting (50 search epochs, 16 channels, second order, 100-epoch
#: retraining with cutout and drop-path, 20 random architectures).
SCALES = {
    "cpu": dict(
        search=dict(PRESETS["cpu"], path_samples=256),
        lambdas=(1e-8, 1e-6, 1e-4),
        hyper_lambdas=_grid(1e-8, 1e-4, 5),
        n_random=6,
        train=dict(channels=8, max_epochs=2, batch_size=64, lr=0.05),
        mlp_sizes=4,
        mlp_max_iter=50,
        n_train=3000,
        n_test=2000,
        n_jobs=2,
    ),
    "paper": dict(
        search=dict(PRESETS["paper"]),
        lambdas=(1e-10, 1e-9, 1e-8, 1e-7, 1e-6),
        hyper_lambdas=_grid(1e-10, 1e-6, 17),
        n_random=20,
        train=dict(channels=16, max_epochs=100, batch_size=96, lr=0.025, cutout=16, drop_path=0.2),
        mlp_sizes=6,
        mlp_max_iter=200,
        n_train=None,
        n_test=None,
        n_jobs=None,
    ),
}

COLUMNS = (
    "method",
    "lambda",
    "seed",
    "setting",
    "weights",
    "n_parameters",
    "test_accuracy",
    "search_seconds",
    "train_seconds",
)


def n_parameters(estimator):
    """Trainable parameters of a fitted estimator of this package or an MLPClassifier."""
    if hasattr(estimator, "n_parameters_"):
        return estimator.n_parameters_
    return sum(a.size for a in estimator.coefs_) + sum(b.size for b in estimator.intercepts_)


def _search_seconds(estimator, X, y):
    return sum(h["seconds"] for h in getattr(estimator, "history_", [])) if hasattr(estimator, "alpha_") else 0.0


#: Scorers of one fitted model on the test fold; the last two read what fit recorded.
SCORING = {
    "accuracy": "accuracy",
    "n_parameters": lambda estimator, X, y: n_parameters(estimator),
    "search_seconds": _search_seconds,
}


def _params_of(estimator_class, params):
    accepted = estimator_class().get_params()
    return {k: v for k, v in params.items() if k in accepted}


def _grid_rows(grid, method, describe):
    """One row per candidate of a GridSearchCV run with ``refit=False`` on one split."""
    results = grid.cv_results_
    rows = []
    for i, params in enumerate(results["params"]):
        search = float(results["mean_test_search_seconds"][i])
        row = dict(
            method=method,
            n_parameters=int(results["mean_test_n_parameters"][i]),
            test_accuracy=float(results["mean_test_accuracy"][i]),
            search_seconds=search,
            train_seconds=float(results["mean_fit_time"][i]) - search,
        )
        row.update(describe(params))
        rows.append(row)
    return rows


def mlp_hidden_sizes(n_features, n_classes, low, high, count):
    """One-hidden-layer sizes whose parameter counts spread geometrically over [low, high]."""
    per_unit = n_features + 1 + n_classes
    targets = np.geomspace(max(low, per_unit + n_classes), max(high, per_unit + n_classes + 1), count)
    return sorted({max(1, int(round((t - n_classes) / per_unit))) for t in targets})


def run_experiment(
    X_train, y_train, X_test, y_test, *, scale="cpu", retrain=False, n_jobs=None, random_state=0, log=print
):
    """Fit the four families on ``(X_train, y_train)`` and score them on ``(X_test, y_test)``.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : array-like
    scale : {"cpu", "paper"} or dict
        A name from :data:`SCALES`, or a dict of the same keys.
    retrain : bool, default=False
        Retrain the derived architectures of HyperDARTS and DARTS from scratch
        (``train`` settings) instead of keeping the weights inherited from the search.
    n_jobs : int or None
        joblib workers for the grid searches (searches, trainings and MLPs in parallel).
    random_state : int, default=0
        Seed of the searches; random architecture ``i`` uses ``random_state + i``.
    log : callable
        Receives a line per finished family.

    Returns
    -------
    list of dict
        One row per model, with the keys of :data:`COLUMNS`.
    """
    cfg = SCALES[scale] if isinstance(scale, str) else scale
    X_all = np.concatenate([np.asarray(X_train), np.asarray(X_test)])
    y_all = np.concatenate([np.asarray(y_train), np.asarray(y_test)])
    n_train = len(X_train)
    split = [(np.arange(n_train), np.arange(n_train, len(X_all)))]
    weights = "retrained" if retrain else "inherited"
    train = dict(cfg["train"], random_state=random_state)
    rows = []

    # The proposed method: one search, then an architecture per lambda.
    start = time.perf_counter()
    fitted = cross_validate(
        HyperDARTSClassifier(**cfg["search"], random_state=random_state),
        X_all,
        y_all,
        cv=split,
        scoring={"n_parameters": SCORING["n_parameters"]},  # the lambdas are scored below
        return_estimator=True,
    )
    clf = fitted["estimator"][0]
    search_seconds = float(fitted["fit_time"][0])
    lambdas = sorted(set(cfg["hyper_lambdas"]) | set(cfg["lambdas"]))
    hyper, accuracy = [], {}
    for lam in lambdas:
        clf.set_complexity(lam)
        # Path entries with one genotype share their network: score each once.
        key = clf.genotype_.to_json()
        if key not in accuracy:
            accuracy[key] = float(clf.score(X_test, y_test))
        hyper.append(
            dict(
                method="hyperdarts",
                **{"lambda": lam},
                seed=random_state,
                setting=clf.genotype_.to_json(),
                weights=weights,
                n_parameters=clf.n_parameters_,
                test_accuracy=accuracy[key],
                search_seconds=search_seconds,
                train_seconds=0.0,
            )
        )
    if retrain:
        genotypes = sorted({r["setting"] for r in hyper})
        grid = GridSearchCV(
            ArchitectureClassifier(**train),
            {"genotype": genotypes},
            cv=split,
            scoring=SCORING,
            refit=False,
            n_jobs=n_jobs,
        ).fit(X_all, y_all)
        by_genotype = {r["genotype"]: r for r in _grid_rows(grid, "hyperdarts", lambda p: dict(genotype=p["genotype"]))}
        for row in hyper:
            trained = by_genotype[row["setting"]]
            row.update(test_accuracy=trained["test_accuracy"], train_seconds=trained["train_seconds"])
    rows += hyper
    log(f"hyperdarts: 1 search, {len(hyper)} architectures, {time.perf_counter() - start:.0f} s")

    # DARTS: one search per lambda.
    start = time.perf_counter()
    darts = DARTSClassifier(**_params_of(DARTSClassifier, cfg["search"]), random_state=random_state)
    if retrain:
        retrain_params = {k: v for k, v in cfg["train"].items() if k not in ("channels", "max_epochs")}
        darts.set_params(retrain_epochs=cfg["train"]["max_epochs"], retrain_params=retrain_params)
    grid = GridSearchCV(
        darts, {"complexity": list(cfg["lambdas"])}, cv=split, scoring=SCORING, refit=False, n_jobs=n_jobs
    ).fit(X_all, y_all)
    rows += _grid_rows(
        grid, "darts", lambda p: {"lambda": p["complexity"], "seed": random_state, "setting": "", "weights": weights}
    )
    log(f"darts: {len(cfg['lambdas'])} searches, {time.perf_counter() - start:.0f} s")

    # Random architectures, from all-convolution to parameter-free cells.
    start = time.perf_counter()
    n_random = cfg["n_random"]
    candidates = [
        {"random_state": [random_state + i], "p_parameter_free": [float(p)]}
        for i, p in enumerate(np.linspace(0.0, 1.0, n_random))
    ]
    train_params = _params_of(RandomArchitectureClassifier, cfg["train"])
    grid = GridSearchCV(
        RandomArchitectureClassifier(**train_params, n_nodes=cfg["search"].get("n_nodes", 4)),
        candidates,
        cv=split,
        scoring=SCORING,
        refit=False,
        n_jobs=n_jobs,
    ).fit(X_all, y_all)
    rows += _grid_rows(
        grid,
        "random",
        lambda p: {
            "lambda": "",
            "seed": p["random_state"],
            "setting": f"p_parameter_free={p['p_parameter_free']:.2f}",
            "weights": "trained",
        },
    )
    log(f"random: {n_random} architectures, {time.perf_counter() - start:.0f} s")

    # The non-NAS reference at comparable sizes.
    start = time.perf_counter()
    sizes = [r["n_parameters"] for r in rows]
    hidden = mlp_hidden_sizes(X_all.shape[1], len(np.unique(y_all)), min(sizes), max(sizes), cfg["mlp_sizes"])
    grid = GridSearchCV(
        MLPClassifier(max_iter=cfg["mlp_max_iter"], random_state=random_state),
        {"hidden_layer_sizes": [(h,) for h in hidden]},
        cv=split,
        scoring=SCORING,
        refit=False,
        n_jobs=n_jobs,
    )
    with warnings.catch_warnings():
        # A capped max_iter is the point at the CPU scale; the table shows the result.
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X_all.reshape(len(X_all), -1), y_all)
    rows += _grid_rows(
        grid,
        "mlp",
        lambda p: {
            "lambda": "",
            "seed": random_state,
            "setting": f"hidden={p['hidden_layer_sizes'][0]}",
            "weights": "trained",
        },
    )
    log(f"mlp: {len(hidden)} sizes, {time.perf_counter() - start:.0f} s")
    return [{k: row.get(k, "") for k in COLUMNS} for row in rows]


def write_results(rows, output, title=None):
    """Write ``results.csv`` and ``accuracy_vs_parameters.png`` into ``output``; return both paths."""
    from .plotting import plot_accuracy_vs_parameters

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    table = output / "results.csv"
    with open(table, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    figure = output / "accuracy_vs_parameters.png"
    plot_accuracy_vs_parameters(rows, title=title).savefig(figure, dpi=120)
    return table, figure


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m skhypernas.experiments", description=__doc__)
    parser.add_argument("dataset", choices=["fashion-mnist", "digits"])
    parser.add_argument("--scale", choices=sorted(SCALES), default="cpu")
    parser.add_argument("--retrain", action="store_true", help="retrain derived architectures from scratch")
    parser.add_argument("--n-train", type=int, default=None, help="first N training samples (default: the scale's)")
    parser.add_argument("--n-test", type=int, default=None, help="first N test samples (default: the scale's)")
    parser.add_argument("--n-jobs", type=int, default=None, help="joblib workers for the grids (default: the scale's)")
    parser.add_argument("--search-epochs", type=int, default=None, help="override the search epochs")
    parser.add_argument("--train-epochs", type=int, default=None, help="override the training epochs")
    parser.add_argument("--n-random", type=int, default=None, help="override the number of random architectures")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path("results/experiment"))
    args = parser.parse_args(argv)

    cfg = {k: (dict(v) if isinstance(v, dict) else v) for k, v in SCALES[args.scale].items()}
    if args.search_epochs is not None:
        cfg["search"]["max_epochs"] = args.search_epochs
    if args.train_epochs is not None:
        cfg["train"]["max_epochs"] = args.train_epochs
    if args.n_random is not None:
        cfg["n_random"] = args.n_random
    n_train = args.n_train if args.n_train is not None else cfg["n_train"]
    X_train, X_test, y_train, y_test = load_train_test(args.dataset, n_train)
    n_test = args.n_test if args.n_test is not None else cfg["n_test"]
    if n_test:
        X_test, y_test = X_test[:n_test], y_test[:n_test]
    print(
        f"{args.dataset}, scale {args.scale}: {len(X_train)} training, {len(X_test)} test samples; "
        f"{'retrained' if args.retrain else 'inherited'} weights; settings {cfg}",
        flush=True,
    )
    start = time.perf_counter()
    rows = run_experiment(
        X_train,
        y_train,
        X_test,
        y_test,
        scale=cfg,
        retrain=args.retrain,
        n_jobs=args.n_jobs if args.n_jobs is not None else cfg["n_jobs"],
        random_state=args.random_state,
        log=lambda line: print(line, flush=True),
    )
    total = time.perf_counter() - start
    title = f"{args.dataset}, {len(X_train)} training samples, scale {args.scale}"
    table, figure = write_results(rows, args.output, title)
    print(
        f"\n{'method':<11} {'lambda':>9} {'setting':<24} {'params':>8} {'test acc':>8} {'search s':>9} {'train s':>8}"
    )
    for r in rows:
        lam = f"{r['lambda']:9.2g}" if r["lambda"] != "" else f"{'':9}"
        setting = r["setting"] if len(r["setting"]) <= 24 else "(genotype)"
        print(
            f"{r['method']:<11} {lam} {setting:<24} {r['n_parameters']:8d} {r['test_accuracy']:8.4f} "
            f"{r['search_seconds']:9.1f} {r['train_seconds']:8.1f}"
        )
    print(f"\nall done in {total:.0f} s; wrote {table} and {figure}")


if __name__ == "__main__":
    main()
