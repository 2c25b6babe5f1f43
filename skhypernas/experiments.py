"""``python -m skhypernas.experiments fashion-mnist --scale cpu``: the paper's experiment.

Test accuracy against parameter count on one train/test split, every family run
through scikit-learn's tooling (``cross_validate``, ``GridSearchCV``, joblib
``n_jobs``) under one time budget that the run states at its start:

- **hyperdarts**: one HyperDARTSClassifier search (a share of the budget), read with
  inherited weights at a grid of lambdas and at K picks spread over its path's
  parameter range; each pick then fine-tuned from the inherited weights;
- **darts**: one DARTSClassifier search per pick's lambda, the K searches together
  given the HyperDARTS search's budget (equal total compute), read with inherited
  weights; DARTSClassifier keeps no supernet, so each pick is retrained from scratch;
- **random**: RandomArchitectureClassifier with ``p_parameter_free`` spread over [0, 1];
- **plain_cnn**: :class:`~skhypernas.plain_cnn.PlainCNNClassifier` at widths spread
  over the picks' parameter range, the network a user writes instead of searching;
- **mlp**: scikit-learn's MLPClassifier at matching sizes, ``max_iter`` capped.

Every per-model training (fine-tuning, retraining, random, plain CNN) gets the same
budget in seconds and the same SGD recipe. Writes ``results.csv`` (one row per
model), ``fronts.csv`` (per family: Pareto front, hypervolume, wall time),
``summary.json`` (time plan, stage times, complexity control) and
``accuracy_vs_parameters.png``.
"""

import argparse
import csv
import dataclasses
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from joblib import effective_n_jobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.neural_network import MLPClassifier

from . import ArchitectureClassifier, DARTSClassifier, HyperDARTSClassifier, RandomArchitectureClassifier
from ._images import resolve_image_shape
from .datasets import load_train_test
from .fronts import REFERENCE, hypervolume, pareto_front
from .path import fine_tune_picks, interval_middle
from .plain_cnn import PlainCNNClassifier, plain_cnn_widths
from .plotting import plot_accuracy_vs_parameters
from .presets import FINE_TUNING, PRESETS


def _grid(low, high, count):
    # Round to 3 digits so that the printed lambdas are the ones used.
    return tuple(float(f"{v:.3g}") for v in np.geomspace(low, high, count))


#: ``search``: HyperDARTSClassifier parameters (DARTS takes those it shares);
#: ``train``: the one recipe of every per-model training (ArchitectureClassifier,
#: RandomArchitectureClassifier and PlainCNNClassifier take what they share);
#: ``k``: picks of the HyperDARTS path, and DARTS searches; ``hyper_lambdas``: more
#: lambdas read off the one search with inherited weights (they cost no search);
#: ``n_random``, ``n_cnn``, ``mlp_sizes``: models of those families; ``time_budget``:
#: seconds for everything, split by :func:`plan_time` (None: the epochs of
#: ``search`` and ``train``); ``search_share``: the HyperDARTS search's share (the
#: DARTS searches get as much together); ``reserve_share``: the share kept for what
#: no budget bounds (the complexity path, test-set scoring, the MLPs); ``n_seeds``:
#: repetitions; ``n_train``, ``n_test``: first samples used (None: all); ``n_jobs``:
#: joblib workers of the per-model grids (the searches run one at a time).
SCALES = {
    "cpu": dict(
        search=dict(PRESETS["cpu"]),
        train=dict(FINE_TUNING),
        k=3,
        hyper_lambdas=_grid(1e-8, 1e-4, 5),
        n_random=4,
        n_cnn=4,
        mlp_sizes=3,
        mlp_max_iter=30,
        time_budget=3000.0,
        search_share=0.3,
        reserve_share=0.12,
        n_seeds=1,
        n_train=None,
        n_test=None,
        n_jobs=2,
    ),
    # The authors' GPU setting: 50 search epochs, 16 channels, second order,
    # 100-epoch retraining with cutout and drop-path, 20 random architectures, 5 seeds.
    "paper": dict(
        search=dict(PRESETS["paper"]),
        train=dict(max_epochs=100, batch_size=96, lr=0.025, cutout=16, drop_path=0.2),
        k=5,
        hyper_lambdas=_grid(1e-10, 1e-6, 17),
        n_random=20,
        n_cnn=5,
        mlp_sizes=6,
        mlp_max_iter=200,
        time_budget=None,
        search_share=0.3,
        reserve_share=0.12,
        n_seeds=5,
        n_train=None,
        n_test=None,
        n_jobs=None,
    ),
}

COLUMNS = (
    "method",
    "weights",
    "lambda",
    "seed",
    "setting",
    "n_parameters",
    "test_accuracy",
    "search_seconds",
    "train_seconds",
    "genotype",
)


# -- fronts as numbers ---------------------------------------------------------------


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


# -- the time budget ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TimePlan:
    """How a run's budget splits; every field is in seconds except the counts."""

    budget: float
    #: The HyperDARTS search (its complexity path comes on top, from the reserve).
    search: float
    #: Each of the K DARTS searches: together ``search``.
    darts_search: float
    #: Every per-model training: fine-tuning, retraining, random, plain CNN.
    per_model: float
    #: Per-model trainings one after the other on ``workers`` joblib workers.
    rounds: int
    workers: int
    #: Path enumeration, test-set scoring and the MLPs.
    reserve: float
    k: int

    @property
    def equal_per_search(self):
        """Search seconds DARTS would need to give each of its K searches HyperDARTS' budget."""
        return self.k * self.search

    def describe(self, counts):
        """Lines stating the plan; ``counts`` gives the models of each per-model family."""
        m, search, k = _sec(self.per_model), _sec(self.search), self.k
        sharing = (
            f"{self.workers} fits at a time through joblib, sharing the cores"
            if self.workers > 1
            else "one fit at a time"
        )
        return [
            f"time budget {_sec(self.budget)} ({self.budget / 60:.0f} min), split as follows:",
            f"  hyperdarts: one search of {search} (all cores), then {k} picks fine-tuned {m} each",
            f"  darts: {k} searches of {_sec(self.darts_search)} one after the other (together {search}: equal "
            f"total compute), each pick retrained from scratch {m}",
            f"  random: {counts['random']} architectures, plain_cnn: {counts['plain_cnn']} widths, {m} each",
            f"  per-model budget {m} for every family: {self.rounds} rounds of fits, {sharing}",
            f"  reserve {_sec(self.reserve)}: the complexity path, test-set scoring, the MLPs (max_iter capped)",
            f"  an equal budget per DARTS search ({search} each) would cost {_sec(self.equal_per_search)} "
            f"of search instead of {search} ({k}x)",
        ]


def _sec(seconds):
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def plan_time(budget, *, k, counts, n_jobs=None, search_share=0.3, reserve_share=0.12):
    """Split ``budget`` seconds between the searches and the per-model trainings.

    The HyperDARTS search gets ``search_share * budget``; the K DARTS searches as
    much together; ``reserve_share`` is kept for what no budget bounds; the rest goes
    to the per-model trainings in rounds of ``n_jobs`` parallel fits, one budget for
    all of them.

    Parameters
    ----------
    budget : float
        Seconds for the whole run.
    k : int
        HyperDARTS picks and DARTS searches.
    counts : dict
        Models of each per-model family (``random``, ``plain_cnn``); the K
        fine-tunings and K retrainings are added.
    n_jobs : int or None, default=None
        joblib workers of the per-model grids.
    search_share, reserve_share : float, default=0.3, 0.12

    Returns
    -------
    TimePlan

    Raises
    ------
    ValueError
        When a share is out of range or nothing is left for the per-model trainings.
    """
    if not budget > 0:
        raise ValueError(f"time budget must be positive; got {budget}")
    if k < 1:
        raise ValueError(f"k (picks and DARTS searches) must be at least 1; got {k}")
    if not 0 < search_share < 0.5:
        raise ValueError(f"search_share must be in (0, 0.5): two searches' shares must leave room; got {search_share}")
    if not 0 <= reserve_share < 1 - 2 * search_share:
        raise ValueError(f"reserve_share must be in [0, {1 - 2 * search_share:g}); got {reserve_share}")
    workers = effective_n_jobs(n_jobs)
    fits = [k, k, *counts.values()]
    rounds = sum(math.ceil(n / workers) for n in fits if n)
    search, reserve = search_share * budget, reserve_share * budget
    per_model = (budget - 2 * search - reserve) / max(rounds, 1)
    return TimePlan(budget, search, search / k, per_model, rounds, workers, reserve, k)


# -- the families ------------------------------------------------------------------


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


def _grid_rows(grid, method, weights, describe):
    """One row per candidate of a GridSearchCV run with ``refit=False`` on one split."""
    results = grid.cv_results_
    rows = []
    for i, params in enumerate(results["params"]):
        search = float(results["mean_test_search_seconds"][i])
        row = dict(
            method=method,
            weights=weights,
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


@dataclasses.dataclass
class ExperimentResult:
    """What :func:`run_experiment` returns."""

    #: One dict per model, with the keys of :data:`COLUMNS`.
    rows: list
    #: The budget's split (None without a budget).
    plan: object
    #: Wall seconds of each family's own stage, by :func:`family` name.
    seconds: dict
    #: :func:`complexity_control` of the HyperDARTS picks.
    complexity_control: dict


@dataclasses.dataclass
class _Setting:
    """What every family of one run shares: the data on one split and the fits' parameters."""

    X: np.ndarray  # training rows, then test rows
    y: np.ndarray
    split: list  # one (train, test) pair: the predefined split
    n_jobs: object
    search: dict  # HyperDARTSClassifier parameters, budget included
    train: dict  # the per-model training recipe, budget included
    shape: dict  # the search network's shape, which networks trained from scratch take

    def grid(self, estimator, grid, X=None):
        """``GridSearchCV`` of ``estimator`` over ``grid`` on the split, scored by :data:`SCORING`."""
        search = GridSearchCV(estimator, grid, cv=self.split, scoring=SCORING, refit=False, n_jobs=self.n_jobs)
        return search.fit(self.X if X is None else X, self.y)


def _hyperdarts_inherited(s, X_test, y_test, lambdas, k):
    """One search, read with inherited weights at ``lambdas`` and at ``k`` picks of its path.

    Returns the rows of the lambdas, the rows of the picks, and the fitted search.
    """
    fitted = cross_validate(
        HyperDARTSClassifier(**s.search),
        s.X,
        s.y,
        cv=s.split,
        scoring={"search_seconds": _search_seconds},  # no test pass here: the lambdas are scored below
        return_estimator=True,
    )
    clf, seconds = fitted["estimator"][0], float(fitted["fit_time"][0])
    path = clf.complexity_path_
    # Spread over the path's parameter range, listed by lambda as the complexity check reads them.
    picks = sorted(interval_middle(path, i) for i in fine_tune_picks(path["n_parameters"], k))
    accuracy = {}  # path entries with one genotype share their network: score each once

    def row(lam, setting):
        genotype = clf.set_complexity(lam).genotype_.to_json()
        if genotype not in accuracy:
            accuracy[genotype] = float(clf.score(X_test, y_test))
        return dict(
            method="hyperdarts",
            weights="inherited",
            setting=setting,
            genotype=genotype,
            n_parameters=clf.n_parameters_,
            test_accuracy=accuracy[genotype],
            search_seconds=seconds,
            train_seconds=0.0,
            **{"lambda": lam},
        )

    grid_rows = [row(lam, "lambda grid") for lam in lambdas]
    return grid_rows, [row(lam, f"pick {i + 1} of {len(picks)}") for i, lam in enumerate(picks)], clf


def _hyperdarts_fine_tuned(s, clf, picks):
    """The picks' architectures fine-tuned from the search's weights, one row each."""
    by_genotype = {r["genotype"]: r for r in picks}
    tuner = ArchitectureClassifier(init=clf.supernet_, **_params_of(ArchitectureClassifier, s.train))
    grid = s.grid(tuner, {"genotype": list(by_genotype)})
    rows = []
    for row in _grid_rows(grid, "hyperdarts", "fine-tuned", lambda p: dict(genotype=p["genotype"])):
        pick = by_genotype[row["genotype"]]
        rows.append({**row, **{k: pick[k] for k in ("lambda", "setting", "search_seconds")}})
    return rows


def _darts_inherited(s, lambdas, search_time):
    """One DARTSClassifier search per lambda, each ``search_time`` seconds (None: its epochs)."""
    params = dict(_params_of(DARTSClassifier, s.search), max_time=search_time)
    rows = []
    for i, lam in enumerate(lambdas):
        darts = DARTSClassifier(**params, complexity=lam)
        scores = cross_validate(darts, s.X, s.y, cv=s.split, scoring=SCORING, return_estimator=True)
        searched = float(scores["test_search_seconds"][0])
        rows.append(
            dict(
                method="darts",
                weights="inherited",
                setting=f"search at pick {i + 1}'s lambda",
                genotype=scores["estimator"][0].genotype_.to_json(),
                n_parameters=int(scores["test_n_parameters"][0]),
                test_accuracy=float(scores["test_accuracy"][0]),
                search_seconds=searched,
                train_seconds=float(scores["fit_time"][0]) - searched,
                **{"lambda": lam},
            )
        )
    return rows


def _darts_scratch(s, darts):
    """The DARTS searches' architectures trained from scratch: DARTSClassifier keeps no
    supernet whose weights a fine-tuning could start from."""
    scratch = ArchitectureClassifier(**_params_of(ArchitectureClassifier, {**s.train, **s.shape}))
    grid = s.grid(scratch, {"genotype": list(dict.fromkeys(r["genotype"] for r in darts))})
    trained = {r["genotype"]: r for r in _grid_rows(grid, "darts", "scratch", lambda p: dict(genotype=p["genotype"]))}
    # Each row keeps its lambda and its search's time; two searches may share an architecture.
    return [{**row, **trained[row["genotype"]], "search_seconds": row["search_seconds"]} for row in darts]


def _random_scratch(s, n_random, random_state):
    """Random architectures from all-convolution (``p_parameter_free=0``) to parameter-free cells."""
    candidates = [
        {"random_state": [random_state + i], "p_parameter_free": [float(p)]}
        for i, p in enumerate(np.linspace(0.0, 1.0, n_random))
    ]
    estimator = RandomArchitectureClassifier(**_params_of(RandomArchitectureClassifier, {**s.train, **s.shape}))
    grid = s.grid(estimator, candidates)

    def describe(p):
        return {"seed": p["random_state"], "setting": f"p_parameter_free={p['p_parameter_free']:.2f}"}

    return _grid_rows(grid, "random", "scratch", describe)


def _plain_cnn_scratch(s, widths, image_shape):
    """The plain CNN at ``widths``, trained like the searched networks."""
    cnn = PlainCNNClassifier(**_params_of(PlainCNNClassifier, s.train), image_shape=image_shape)
    return _grid_rows(
        s.grid(cnn, {"width": widths}), "plain_cnn", "scratch", lambda p: {"setting": f"width={p['width']}"}
    )


def _mlp_scratch(s, hidden, max_iter, random_state):
    """MLPClassifier with one hidden layer of each size in ``hidden``, at most ``max_iter`` epochs."""
    with warnings.catch_warnings():
        # A capped max_iter is the point under a budget; the table shows the result.
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(max_iter=max_iter, random_state=random_state)
        grid = s.grid(mlp, {"hidden_layer_sizes": [(h,) for h in hidden]}, X=s.X.reshape(len(s.X), -1))
    return _grid_rows(grid, "mlp", "scratch", lambda p: {"setting": f"hidden={p['hidden_layer_sizes'][0]}"})


def run_experiment(
    X_train, y_train, X_test, y_test, *, scale="cpu", time_budget=None, n_jobs=None, random_state=0, log=print
):
    """Fit every family on ``(X_train, y_train)`` and score it on ``(X_test, y_test)``.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : array-like
    scale : {"cpu", "paper"} or dict
        A name from :data:`SCALES`, or a dict of the same keys.
    time_budget : float or None, default=None
        Seconds for the whole run, split by :func:`plan_time`; None takes the
        scale's (whose None runs the epochs of its settings instead).
    n_jobs : int or None, default=None
        joblib workers of the per-model grids; None takes the scale's.
    random_state : int, default=0
        Seed of every fit; random architecture ``i`` uses ``random_state + i``.
    log : callable
        Receives the time plan's lines and a line per finished family.

    Returns
    -------
    ExperimentResult
    """
    cfg = SCALES[scale] if isinstance(scale, str) else scale
    budget = cfg["time_budget"] if time_budget is None else time_budget
    n_jobs = cfg["n_jobs"] if n_jobs is None else n_jobs
    counts = {"random": cfg["n_random"], "plain_cnn": cfg["n_cnn"]}
    search = dict(cfg["search"], random_state=random_state)
    train = dict(cfg["train"], random_state=random_state)
    plan = None
    if budget:
        shares = dict(search_share=cfg["search_share"], reserve_share=cfg["reserve_share"])
        plan = plan_time(budget, k=cfg["k"], counts=counts, n_jobs=n_jobs, **shares)
        for line in plan.describe(counts):
            log(line)
        # The budgets, not the epochs, end every fit, with its schedules annealed.
        search.update(max_epochs=1000, max_time=plan.search)
        train.update(max_epochs=1000, max_time=plan.per_model)
    X = np.concatenate([np.asarray(X_train), np.asarray(X_test)])
    y = np.concatenate([np.asarray(y_train), np.asarray(y_test)])
    split = [(np.arange(len(X_train)), np.arange(len(X_train), len(X)))]
    shape = {name: search[name] for name in ("channels", "n_cells", "n_nodes", "stem_multiplier") if name in search}
    s = _Setting(X, y, split, n_jobs, search, train, shape)
    seconds, rows = {}, []

    def stage(name, run, *args):
        start = time.perf_counter()
        out = run(*args)
        seconds[name] = time.perf_counter() - start
        log(f"{name}: {seconds[name]:.0f} s")
        return out

    grid = cfg["hyper_lambdas"]
    grid_rows, picks, clf = stage("hyperdarts (inherited)", _hyperdarts_inherited, s, X_test, y_test, grid, cfg["k"])
    rows += grid_rows + picks + stage("hyperdarts (fine-tuned)", _hyperdarts_fine_tuned, s, clf, picks)
    # DARTS at the picks' lambdas, its searches together as long as HyperDARTS' one.
    lambdas = [r["lambda"] for r in picks]
    darts = stage("darts (inherited)", _darts_inherited, s, lambdas, plan and plan.search / len(lambdas))
    rows += darts + stage("darts (scratch)", _darts_scratch, s, darts)
    rows += stage("random (scratch)", _random_scratch, s, cfg["n_random"], random_state)
    # The references a user would pick instead, at the picks' sizes.
    low, high = min(r["n_parameters"] for r in picks), max(r["n_parameters"] for r in picks)
    n_classes = len(np.unique(y))
    widths = plain_cnn_widths(low, high, cfg["n_cnn"], clf.image_shape_[0], n_classes)
    rows += stage("plain_cnn (scratch)", _plain_cnn_scratch, s, widths, clf.image_shape_)
    hidden = mlp_hidden_sizes(X[0].size, n_classes, low, high, cfg["mlp_sizes"])
    rows += stage("mlp (scratch)", _mlp_scratch, s, hidden, cfg["mlp_max_iter"], random_state)

    control = complexity_control([r["lambda"] for r in picks], [r["n_parameters"] for r in picks])
    rows = [{**dict.fromkeys(COLUMNS, ""), "seed": random_state, **row} for row in rows]
    return ExperimentResult([{k: row[k] for k in COLUMNS} for row in rows], plan, seconds, control)


# -- output --------------------------------------------------------------------------


def write_results(result, output, title=None, reference=REFERENCE):
    """Write ``results.csv``, ``fronts.csv``, ``summary.json`` and ``accuracy_vs_parameters.png``.

    Parameters
    ----------
    result : ExperimentResult
    output : path-like
        Folder, created if needed.
    title : str, optional
        The figure's title.
    reference : (float, float), default=(0.80, 100_000)
        The hypervolume's reference point (accuracy, parameters).

    Returns
    -------
    dict
        The paths written, by name.
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    paths = {name: output / name for name in ("results.csv", "fronts.csv", "summary.json")}
    with open(paths["results.csv"], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(result.rows)
    fronts = front_table(result.rows, result.seconds, reference)
    with open(paths["fronts.csv"], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["family", "n_models", "hypervolume", "wall_seconds", "front"])
        writer.writeheader()
        writer.writerows({**row, "front": json.dumps(row["front"])} for row in fronts)
    plan = (
        None
        if result.plan is None
        else {**dataclasses.asdict(result.plan), "equal_per_search": result.plan.equal_per_search}
    )
    summary = dict(
        time_plan=plan,
        stage_seconds=result.seconds,
        hypervolume_reference=dict(accuracy=reference[0], n_parameters=reference[1], axis="accuracy x log10(params)"),
        complexity_control=result.complexity_control,
    )
    paths["summary.json"].write_text(json.dumps(summary, indent=1))
    paths["accuracy_vs_parameters.png"] = output / "accuracy_vs_parameters.png"
    plot_accuracy_vs_parameters(result.rows, title=title, reference=reference).savefig(
        paths["accuracy_vs_parameters.png"], dpi=120
    )
    return paths


def time_search_step(search, image_shape=(1, 28, 28), n_classes=10, batch=16):
    """Seconds of one search step of ``HyperDARTSClassifier(**search)`` on this machine's CPU.

    Runs the search for two one-step epochs of ``batch`` random images (a weight
    batch and an architecture batch each) with a token path, keeps the faster step
    (the first pays for allocations) and scales it linearly to the setting's batch
    size: the cost of a step at the setting's width, depth and order, for an
    extrapolation, in seconds rather than the minutes a full-size step can take on
    a CPU. Small batches cost more per image and warm-up steps (weights only) less
    than full steps, so the figure errs on the long side.

    Parameters
    ----------
    search : dict
        HyperDARTSClassifier parameters.
    image_shape : tuple, default=(1, 28, 28)
    n_classes : int, default=10
    batch : int, default=16
        Images per timed weight batch.

    Returns
    -------
    float
    """
    full_batch = search.get("batch_size", HyperDARTSClassifier().batch_size)
    batch = min(batch, full_batch)
    rng = np.random.RandomState(0)
    X = rng.rand(2 * batch, *image_shape).astype(np.float32)
    y = np.arange(2 * batch) % n_classes
    # No warm-up: both steps are full bilevel steps, the search's dominant cost.
    params = dict(search, batch_size=batch, max_epochs=2, max_time=None, warmup_fraction=0.0, path_samples=2)
    params.update(device="cpu", random_state=0)
    history = HyperDARTSClassifier(**params).fit(X, y).history_
    return min(h["seconds"] for h in history) * full_batch / batch


def paper_scale_estimate(cfg, n_train, step_seconds):
    """Seconds the searches of a scale would take at ``step_seconds`` a step (retraining not counted).

    Parameters
    ----------
    cfg : dict
        A :data:`SCALES` entry.
    n_train : int
        Training images.
    step_seconds : float
        One search step, from :func:`time_search_step`.

    Returns
    -------
    float
    """
    defaults = HyperDARTSClassifier()
    search = cfg["search"]
    batch = search.get("batch_size", defaults.batch_size)
    weight_half = n_train * (1 - search.get("validation_fraction", defaults.validation_fraction))
    steps = max(1, int(weight_half) // batch) * search.get("max_epochs", defaults.max_epochs)
    return steps * step_seconds * (1 + cfg["k"]) * cfg["n_seeds"]


def refuse_paper_scale_without_gpu(scale, force, cfg, X_train, y_train):
    """Exit with the time a ``"paper"`` scale run would take here, unless there is a GPU or ``force``.

    The estimate times one search step of the scale's supernet on this CPU
    (:func:`time_search_step`) and extrapolates it to the scale's searches
    (:func:`paper_scale_estimate`): a user learns the cost of starting it before paying it.

    Parameters
    ----------
    scale : str
    force : bool
    cfg : dict
        The scale's settings.
    X_train, y_train : ndarray
        The training data, whose size and image shape the estimate uses.

    Raises
    ------
    SystemExit
        With the estimate, when ``scale`` is ``"paper"``, CUDA is absent and ``force`` is False.
    """
    import torch

    if scale != "paper" or force or torch.cuda.is_available():
        return
    X_train = np.asarray(X_train)
    image_shape = resolve_image_shape(None, X_train[0].size, X_train.shape[1:] if X_train.ndim > 2 else None)
    step = time_search_step(cfg["search"], image_shape, len(np.unique(y_train)))
    hours = paper_scale_estimate(cfg, len(X_train), step) / 3600
    sys.exit(
        f"--scale paper is the authors' GPU setting and this machine has no CUDA device: one search step "
        f"took {step:.2f} s here, so its {1 + cfg['k']} searches x {cfg['n_seeds']} seeds alone would take "
        f"about {hours:,.0f} hours (the 100-epoch retrainings come on top). Run it on a GPU, use --scale cpu, "
        f"or pass --force to start anyway."
    )


def _positive(kind):
    def parse(text):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive; got {text}")
        return value

    return parse


def _print_result(result, reference):
    print(
        f"\n{'method':<10} {'weights':<10} {'lambda':>9} {'setting':<22} {'params':>8} {'test acc':>8} {'train s':>8}"
    )
    for r in result.rows:
        lam = f"{r['lambda']:9.3g}" if r["lambda"] != "" else f"{'':9}"
        print(
            f"{r['method']:<10} {r['weights']:<10} {lam} {r['setting']:<22} {r['n_parameters']:8d} "
            f"{r['test_accuracy']:8.4f} {r['train_seconds']:8.1f}"
        )
    print(f"\nPareto fronts; hypervolume above {reference[0]} accuracy, up to {reference[1]:,} parameters")
    print("(area in accuracy x decades of parameters):")
    for row in front_table(result.rows, result.seconds, reference):
        front = ", ".join(f"{p:,}: {a:.4f}" for p, a in row["front"])
        print(f"  {row['family']:<24} hypervolume {row['hypervolume']:.4f}, {row['wall_seconds']:6.0f} s; {front}")
    c = result.complexity_control
    print(
        f"\ncomplexity control of the HyperDARTS picks: parameters {'fall' if c['monotonic'] else 'do NOT fall'} "
        f"monotonically with lambda, span {c['span']:.1f}x (3x wanted): {'holds' if c['holds'] else 'FAILS'}"
    )
    if result.plan is not None:
        p = result.plan
        print(
            f"one HyperDARTS search: {p.search:.0f} s; DARTS with {p.search:.0f} s per search would need "
            f"{p.equal_per_search:.0f} s of search ({p.k}x)"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m skhypernas.experiments", description=__doc__)
    parser.add_argument("dataset", choices=["fashion-mnist", "digits"])
    parser.add_argument("--scale", choices=sorted(SCALES), default="cpu")
    parser.add_argument(
        "--time-budget",
        type=_positive(float),
        default=None,
        help="seconds for the whole run, split between the families (default: the scale's; 3000 for cpu)",
    )
    parser.add_argument("--k", type=_positive(int), default=None, help="HyperDARTS picks and DARTS searches")
    parser.add_argument("--search-share", type=float, default=None, help="the HyperDARTS search's budget share")
    parser.add_argument("--n-train", type=_positive(int), default=None, help="first N training samples")
    parser.add_argument("--n-test", type=_positive(int), default=None, help="first N test samples")
    parser.add_argument("--n-jobs", type=int, default=None, help="joblib workers of the per-model grids")
    parser.add_argument("--n-random", type=_positive(int), default=None, help="random architectures")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="start --scale paper without a GPU")
    parser.add_argument("--output", type=Path, default=Path("results/experiment"))
    args = parser.parse_args(argv)

    cfg = {key: (dict(v) if isinstance(v, dict) else v) for key, v in SCALES[args.scale].items()}
    for name in ("k", "search_share", "n_random"):
        if getattr(args, name) is not None:
            cfg[name] = getattr(args, name)
    n_train = args.n_train if args.n_train is not None else cfg["n_train"]
    n_test = args.n_test if args.n_test is not None else cfg["n_test"]
    n_jobs = args.n_jobs if args.n_jobs is not None else cfg["n_jobs"]
    budget = args.time_budget if args.time_budget is not None else cfg["time_budget"]
    if budget:
        counts = {"random": cfg["n_random"], "plain_cnn": cfg["n_cnn"]}
        shares = dict(search_share=cfg["search_share"], reserve_share=cfg["reserve_share"])
        try:  # a budget that cannot be split is a usage error, found before any data loads
            plan_time(budget, k=cfg["k"], counts=counts, n_jobs=n_jobs, **shares)
        except ValueError as exc:
            parser.error(str(exc))

    X_train, X_test, y_train, y_test = load_train_test(args.dataset, n_train)
    if n_test:
        X_test, y_test = X_test[:n_test], y_test[:n_test]
    refuse_paper_scale_without_gpu(args.scale, args.force, cfg, X_train, y_train)
    print(f"{args.dataset}, scale {args.scale}: {len(X_train)} training, {len(X_test)} test samples", flush=True)
    print(f"settings {cfg}", flush=True)
    for seed in range(args.random_state, args.random_state + cfg["n_seeds"]):
        output = args.output if cfg["n_seeds"] == 1 else args.output / f"seed-{seed}"
        start = time.perf_counter()
        result = run_experiment(
            X_train,
            y_train,
            X_test,
            y_test,
            scale=cfg,
            time_budget=budget,
            n_jobs=n_jobs,
            random_state=seed,
            log=lambda line: print(line, flush=True),
        )
        total = time.perf_counter() - start
        title = f"{args.dataset}, {len(X_train)} training samples, scale {args.scale}, seed {seed}"
        paths = write_results(result, output, title)
        _print_result(result, REFERENCE)
        limit = f" (budget {budget:.0f} s)" if budget else ""
        print(f"\nall done in {total:.0f} s{limit}; wrote {', '.join(sorted(paths))} to {output}", flush=True)


if __name__ == "__main__":
    main()
