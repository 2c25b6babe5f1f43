"""The families of the experiment, each fitted through scikit-learn's tooling, and
:func:`run_experiment`, which runs them all under one time plan."""

import dataclasses
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.neural_network import MLPClassifier

from .. import ArchitectureClassifier, DARTSClassifier, HyperDARTSClassifier, RandomArchitectureClassifier
from ..path import fine_tune_picks, interval_middle
from ..plain_cnn import PlainCNNClassifier, plain_cnn_widths
from .measures import complexity_control
from .scales import SCALES
from .time_plan import plan_time

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
