"""The families of the experiment, each fitted through scikit-learn's tooling: one
function per family, which returns its result rows (and the searches a later family
starts from). :mod:`.run` runs them in order for one seed."""

import dataclasses
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.neural_network import MLPClassifier

from .. import ArchitectureClassifier, DARTSClassifier, HyperDARTSClassifier, RandomArchitectureClassifier
from ..path import fine_tune_picks, interval_middle
from ..plain_cnn import PlainCNNClassifier

COLUMNS = (
    "method",
    "weights",
    "lambda",
    "seed",
    "setting",
    "n_parameters",
    "test_accuracy",
    "collapsed",
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


def collapsed(estimator):
    """Whether a fitted estimator's architecture is a collapsed search's
    (:meth:`SearchSpace.collapsed <skhypernas.spaces.SearchSpace.collapsed>`); None
    where its space cannot tell."""
    return estimator.search_space_.collapsed(estimator.genotype_)


def _collapsed_score(estimator, X, y):
    # A scorer returns a number: 1 collapsed, 0 not, -1 unknown (read back by _grid_rows).
    answer = collapsed(estimator)
    return -1.0 if answer is None else float(answer)


#: Scorers of one fitted model on the test fold; the last two read what fit recorded.
SCORING = {
    "accuracy": "accuracy",
    "n_parameters": lambda estimator, X, y: n_parameters(estimator),
    "search_seconds": _search_seconds,
}
#: ... and of a model of the search space's cells, whether its architecture collapsed.
CELL_SCORING = {**SCORING, "collapsed": _collapsed_score}


def _params_of(estimator_class, params):
    accepted = estimator_class().get_params()
    return {k: v for k, v in params.items() if k in accepted}


def _grid_rows(grid, method, weights, describe):
    """One row per candidate of a GridSearchCV run with ``refit=False`` on one split, in
    the candidates' order."""
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
        if "mean_test_collapsed" in results:
            score = float(results["mean_test_collapsed"][i])
            row["collapsed"] = "" if score < 0 else bool(score)
        row.update(describe(params))
        rows.append(row)
    return rows


def mlp_hidden_sizes(n_features, n_classes, low, high, count):
    """One-hidden-layer sizes whose parameter counts spread geometrically over [low, high]."""
    per_unit = n_features + 1 + n_classes
    targets = np.geomspace(max(low, per_unit + n_classes), max(high, per_unit + n_classes + 1), count)
    return sorted({max(1, int(round((t - n_classes) / per_unit))) for t in targets})


@dataclasses.dataclass
class Setting:
    """What every family of one seed shares: the data on one split and the fits' parameters."""

    X: np.ndarray  # training rows, then test rows
    y: np.ndarray
    split: list  # one (train, test) pair: the predefined split
    n_jobs: object
    search: dict  # HyperDARTSClassifier parameters, budget and seed included
    train: dict  # the per-model training recipe, budget and seed included
    shape: dict  # the DARTS search network's shape, which networks trained from scratch take

    def grid(self, estimator, grid, X=None, scoring=SCORING):
        """``GridSearchCV`` of ``estimator`` over ``grid`` on the split, scored by ``scoring``."""
        search = GridSearchCV(estimator, grid, cv=self.split, scoring=scoring, refit=False, n_jobs=self.n_jobs)
        return search.fit(self.X if X is None else X, self.y)


def hyperdarts_inherited(s, family, search, X_test, y_test, lambdas, k):
    """One HyperDARTS search, read with inherited weights at ``lambdas`` and at ``k``
    picks spread over its path's parameter range.

    Parameters
    ----------
    s : Setting
    family : str
        The family's name, the rows' ``method``.
    search : dict
        The search's HyperDARTSClassifier parameters.
    X_test, y_test : ndarray
    lambdas : sequence of float
        The lambdas read besides the picks.
    k : int

    Returns
    -------
    rows : list of dict
        The lambdas' rows, then the picks' (``setting`` "pick i of k"), by increasing lambda.
    search : HyperDARTSClassifier
        The fitted search.
    """
    fitted = cross_validate(
        HyperDARTSClassifier(**search),
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
        found = collapsed(clf)
        return dict(
            method=family,
            weights="inherited",
            setting=setting,
            genotype=genotype,
            n_parameters=clf.n_parameters_,
            test_accuracy=accuracy[genotype],
            collapsed="" if found is None else found,
            search_seconds=seconds,
            train_seconds=0.0,
            **{"lambda": lam},
        )

    grid_rows = [row(lam, "lambda grid") for lam in lambdas]
    return grid_rows + [row(lam, f"pick {i + 1} of {len(picks)}") for i, lam in enumerate(picks)], clf


def picks_of(rows):
    """The pick rows among a HyperDARTS family's inherited rows."""
    return [r for r in rows if r["setting"].startswith("pick ")]


def fine_tuned(s, sources, supernets):
    """Each source row's architecture fine-tuned from its search's weights: one row each.

    Parameters
    ----------
    s : Setting
    sources : list of dict
        Inherited rows; each keeps its ``method``, ``lambda``, ``setting`` and ``search_seconds``.
    supernets : list of torch.nn.Module
        The supernet each row's architecture inherits from, in the rows' order.

    Returns
    -------
    list of dict
    """
    tuner = ArchitectureClassifier(**_params_of(ArchitectureClassifier, s.train))
    # One candidate per row: GridSearchCV clones (deep-copies) each supernet for its fit.
    grid = s.grid(
        tuner,
        [{"init": [net], "genotype": [r["genotype"]]} for r, net in zip(sources, supernets)],
        scoring=CELL_SCORING,
    )
    method = sources[0]["method"] if sources else ""
    trained = _grid_rows(grid, method, "fine-tuned", lambda p: dict(genotype=p["genotype"]))
    keep = ("method", "lambda", "setting", "search_seconds")
    return [{**row, **{k: source[k] for k in keep}} for source, row in zip(sources, trained)]


def darts_inherited(s, lambdas, search_time, log=print):
    """DARTS as its authors ran it (lambda 0), then at ``lambdas`` upward while it stays informative.

    One DARTSClassifier search per lambda, each ``search_time`` seconds (None: its
    epochs). A search whose architecture collapsed (its cells of one type keep only
    parameter-free edges) ends the list: a larger lambda only presses harder toward
    the same corner, so those searches would cost time and tell nothing new.

    Parameters
    ----------
    s : Setting
    lambdas : sequence of float
        The HyperDARTS picks' lambdas.
    search_time : float or None
    log : callable, default=print
        Receives a line when searches are skipped.

    Returns
    -------
    rows : list of dict
    searches : list of DARTSClassifier
        The fitted searches, in the rows' order.
    skipped : list of float
        The lambdas not searched.
    """
    params = dict(_params_of(DARTSClassifier, s.search), max_time=search_time)
    todo = [(0.0, "lambda 0 (the authors' DARTS)")]
    todo += [(lam, f"search at pick {i + 1}'s lambda") for i, lam in enumerate(sorted(lambdas))]
    rows, searches = [], []
    for n, (lam, setting) in enumerate(todo):
        scores = cross_validate(
            DARTSClassifier(**params, complexity=lam), s.X, s.y, cv=s.split, scoring=SCORING, return_estimator=True
        )
        darts = scores["estimator"][0]
        searched = float(scores["test_search_seconds"][0])
        found = collapsed(darts)
        searches.append(darts)
        rows.append(
            dict(
                method="darts",
                weights="inherited",
                setting=setting,
                genotype=darts.genotype_.to_json(),
                n_parameters=int(scores["test_n_parameters"][0]),
                test_accuracy=float(scores["test_accuracy"][0]),
                collapsed="" if found is None else found,
                search_seconds=searched,
                train_seconds=float(scores["fit_time"][0]) - searched,
                **{"lambda": lam},
            )
        )
        if found and n + 1 < len(todo):
            skipped = [lam for lam, _ in todo[n + 1 :]]
            listed = ", ".join(f"{v:g}" for v in skipped)
            log(f"darts: the search at lambda {lam:g} collapsed; lambdas {listed} skipped")
            return rows, searches, skipped
    return rows, searches, []


def darts_scratch(s, darts):
    """The DARTS searches' architectures trained from scratch, as the authors retrained them."""
    scratch = ArchitectureClassifier(**_params_of(ArchitectureClassifier, {**s.train, **s.shape}))
    genotypes = list(dict.fromkeys(r["genotype"] for r in darts))
    grid = s.grid(scratch, {"genotype": genotypes}, scoring=CELL_SCORING)
    trained = {r["genotype"]: r for r in _grid_rows(grid, "darts", "scratch", lambda p: dict(genotype=p["genotype"]))}
    # Each row keeps its lambda and its search's time; two searches may share an architecture.
    return [{**row, **trained[row["genotype"]], "search_seconds": row["search_seconds"]} for row in darts]


def random_scratch(s, n_random, seed):
    """Random architectures from all-convolution (``p_parameter_free=0``) to parameter-free cells.

    Architecture ``i`` of seed ``seed`` is drawn with ``random_state=1000 * seed + i``:
    every seed draws its own.
    """
    candidates = [
        {"random_state": [1000 * seed + i], "p_parameter_free": [float(p)]}
        for i, p in enumerate(np.linspace(0.0, 1.0, n_random))
    ]
    estimator = RandomArchitectureClassifier(**_params_of(RandomArchitectureClassifier, {**s.train, **s.shape}))
    grid = s.grid(estimator, candidates, scoring=CELL_SCORING)

    def describe(p):
        return {"setting": f"p_parameter_free={p['p_parameter_free']:.2f}, random_state={p['random_state']}"}

    return _grid_rows(grid, "random", "scratch", describe)


def plain_cnn_scratch(s, widths, image_shape):
    """The plain CNN at ``widths``, trained like the searched networks."""
    cnn = PlainCNNClassifier(**_params_of(PlainCNNClassifier, s.train), image_shape=image_shape)
    return _grid_rows(
        s.grid(cnn, {"width": widths}), "plain_cnn", "scratch", lambda p: {"setting": f"width={p['width']}"}
    )


def mlp_scratch(s, hidden, max_iter, random_state):
    """MLPClassifier with one hidden layer of each size in ``hidden``, at most ``max_iter`` epochs."""
    with warnings.catch_warnings():
        # A capped max_iter is the point under a budget; the table shows the result.
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(max_iter=max_iter, random_state=random_state)
        grid = s.grid(mlp, {"hidden_layer_sizes": [(h,) for h in hidden]}, X=s.X.reshape(len(s.X), -1))
    return _grid_rows(grid, "mlp", "scratch", lambda p: {"setting": f"hidden={p['hidden_layer_sizes'][0]}"})
