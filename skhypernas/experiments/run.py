"""One seed of the experiment: its stages in order, each read back when an earlier part
of the run wrote it (:mod:`.parts`), else run and written at once."""

import dataclasses
import time

import numpy as np

from .._images import flatten_images, resolve_image_shape
from ..plain_cnn import plain_cnn_widths
from .families import (
    COLUMNS,
    Setting,
    darts_inherited,
    darts_scratch,
    fine_tuned,
    hyperdarts_inherited,
    mlp_hidden_sizes,
    mlp_scratch,
    picks_of,
    plain_cnn_scratch,
    random_scratch,
)
from .measures import complexity_control
from .scales import SCALES
from .time_plan import plan_time


@dataclasses.dataclass
class ExperimentResult:
    """What :func:`run_experiment` returns for one seed."""

    #: One dict per model, with the keys of :data:`COLUMNS`.
    rows: list
    #: The budget's split (None without a budget).
    plan: object
    #: Wall seconds of each stage (a family's fits, by :func:`~.measures.family` name),
    #: as long as it took when it ran, in this session or an earlier one.
    seconds: dict
    #: Per HyperDARTS family, :func:`complexity_control` of its picks.
    complexity_control: dict
    #: The seed (``random_state``) of every fit.
    seed: object = None
    #: The lambdas whose DARTS search was skipped after a search collapsed.
    darts_skipped: list = dataclasses.field(default_factory=list)


class _Stages:
    """Runs one seed's stages, timing each, or reads back those written earlier.

    A stage that later stages start from (a search) saves its fitted searches
    beside its rows; when it is read back and a later stage still needs them, they
    are loaded, and if they cannot be, the stage runs again.
    """

    def __init__(self, parts, log):
        self.parts, self.log, self.seconds = parts, log, {}

    def done(self, name):
        return self.parts is not None and self.parts.read(name) is not None

    def rows(self, name, fit):
        """The rows of a stage whose ``fit()`` returns rows."""
        return self.search(name, lambda: (fit(), [], {}), keep=False)[0]

    def search(self, name, fit, keep):
        """``(rows, searches, notes)`` of a stage whose ``fit()`` returns those three;
        ``searches`` is None when read back with ``keep`` False (no later stage needs them)."""
        record = self.parts.read(name) if self.parts is not None else None
        if record is not None:
            searches = [self.parts.load_model(m) for m in record["models"]] if keep else None
            if searches is None or all(s is not None for s in searches):
                self.seconds[name] = record["seconds"]
                self.log(f"{name}: written earlier ({self.parts.path(name)}), skipped")
                return record["rows"], searches, record["notes"]
            self.log(f"{name}: written earlier, but a later stage needs its searches and they are missing: runs again")
        start = time.perf_counter()
        rows, searches, notes = fit()
        self.seconds[name] = time.perf_counter() - start
        self.log(f"{name}: {self.seconds[name]:.0f} s")
        if self.parts is not None:
            models = [f"{name} search {i + 1}" for i in range(len(searches))]
            for model, fitted in zip(models, searches):
                self.parts.save_model(model, fitted)
            self.parts.write(name, dict(seconds=self.seconds[name], rows=rows, models=models, notes=notes))
        return rows, searches, notes


def run_experiment(
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    scale="cpu",
    time_budget=None,
    n_jobs=None,
    random_state=0,
    log=print,
    parts=None,
):
    """Fit every family on ``(X_train, y_train)`` and score it on ``(X_test, y_test)``: one seed.

    The stages, in order: per HyperDARTS family its search read with inherited
    weights, then its picks fine-tuned; DARTS at lambda 0 and at the first family's
    picks' lambdas (upward, until a search collapses), each architecture fine-tuned
    from its search and trained from scratch; random architectures; the plain CNN
    and the MLPs at the picks' sizes.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : array-like
    scale : {"cpu", "paper"} or dict
        A name from :data:`SCALES`, or a dict of the same keys.
    time_budget : float or None, default=None
        Seconds for this seed, split by :func:`plan_time`; None takes the scale's
        (whose None runs the epochs of its settings instead).
    n_jobs : int or None, default=None
        joblib workers of the per-model grids; None takes the scale's.
    random_state : int, default=0
        The seed of every fit; random architecture ``i`` is drawn with
        ``1000 * random_state + i``.
    log : callable, default=print
        Receives the time plan's lines and a line per finished stage.
    parts : SeedParts or None, default=None
        Where each stage is written as soon as it ends, and read back from when an
        earlier run wrote it (:class:`~skhypernas.experiments.parts.SeedParts`);
        None keeps nothing.

    Returns
    -------
    ExperimentResult
    """
    cfg = SCALES[scale] if isinstance(scale, str) else scale
    families = cfg["hyperdarts"]
    budget = cfg["time_budget"] if time_budget is None else time_budget
    n_jobs = cfg["n_jobs"] if n_jobs is None else n_jobs
    counts = {"random": cfg["n_random"], "plain_cnn": cfg["n_cnn"]}
    search = dict(cfg["search"], random_state=random_state)
    train = dict(cfg["train"], random_state=random_state)
    plan, searched = None, {}
    if budget:
        shares = dict(search_share=cfg["search_share"], reserve_share=cfg["reserve_share"])
        plan = plan_time(budget, k=cfg["k"], counts=counts, n_jobs=n_jobs, n_hyperdarts=len(families), **shares)
        for line in plan.describe(counts, list(families)):
            log(line)
        # The budgets, not the epochs, end every fit, with its schedules annealed
        # (a family's own preset cannot bring its epochs back: they come last).
        searched = dict(max_epochs=1000, max_time=plan.search)
        search.update(searched)
        train.update(max_epochs=1000, max_time=plan.per_model)
    X = np.concatenate([np.asarray(X_train), np.asarray(X_test)])
    y = np.concatenate([np.asarray(y_train), np.asarray(y_test)])
    split = [(np.arange(len(X_train)), np.arange(len(X_train), len(X)))]
    shape = {name: search[name] for name in ("channels", "n_cells", "n_nodes", "stem_multiplier") if name in search}
    s = Setting(X, y, split, n_jobs, search, train, shape)
    stages, rows, picks, control = _Stages(parts, log), [], {}, {}

    for family, overrides in families.items():
        tuned = f"{family} (fine-tuned)"

        def search_family(family=family, params={**search, **overrides, **searched}):
            found, clf = hyperdarts_inherited(s, family, params, X_test, y_test, cfg["hyper_lambdas"], cfg["k"])
            return found, [clf], {}

        found, searches, _ = stages.search(f"{family} (inherited)", search_family, keep=not stages.done(tuned))
        picks[family] = picks_of(found)
        rows += found
        # One supernet per pick: a family's picks share their search's.
        rows += stages.rows(
            tuned, lambda f=family, c=searches: fine_tuned(s, picks[f], [c[0].supernet_] * len(picks[f]))
        )
        control[family] = complexity_control(
            [r["lambda"] for r in picks[family]], [r["n_parameters"] for r in picks[family]]
        )

    # DARTS at the first family's picks' lambdas, its searches together as long as one HyperDARTS search.
    lambdas = [r["lambda"] for r in picks[next(iter(families))]]

    def search_darts():
        found, searches, skipped = darts_inherited(s, lambdas, plan and plan.darts_search, log)
        return found, searches, {"skipped": skipped}

    keep = not stages.done("darts (fine-tuned)")
    darts, searches, notes = stages.search("darts (inherited)", search_darts, keep=keep)
    rows += darts
    rows += stages.rows("darts (fine-tuned)", lambda: fine_tuned(s, darts, [d.supernet_ for d in searches]))
    rows += stages.rows("darts (scratch)", lambda: darts_scratch(s, darts))
    rows += stages.rows("random (scratch)", lambda: random_scratch(s, cfg["n_random"], random_state))

    # The references a user would pick instead, over the picks' sizes.
    sizes = [r["n_parameters"] for found in picks.values() for r in found]
    low, high = min(sizes), max(sizes)
    n_classes = len(np.unique(y))
    image_shape = resolve_image_shape(search.get("image_shape"), X[0].size, flatten_images(X[:1])[1])
    widths = plain_cnn_widths(low, high, cfg["n_cnn"], image_shape[0], n_classes)
    rows += stages.rows("plain_cnn (scratch)", lambda: plain_cnn_scratch(s, widths, image_shape))
    hidden = mlp_hidden_sizes(X[0].size, n_classes, low, high, cfg["mlp_sizes"])
    rows += stages.rows("mlp (scratch)", lambda: mlp_scratch(s, hidden, cfg["mlp_max_iter"], random_state))

    rows = [{**dict.fromkeys(COLUMNS, ""), **row, "seed": random_state} for row in rows]
    rows = [{k: row[k] for k in COLUMNS} for row in rows]
    return ExperimentResult(rows, plan, stages.seconds, control, random_state, notes.get("skipped", []))
