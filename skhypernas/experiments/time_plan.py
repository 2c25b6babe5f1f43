"""The experiment's time: how one budget splits, and what the paper's scale would cost here."""

import dataclasses
import math
import sys

import numpy as np
from joblib import effective_n_jobs

from .. import HyperDARTSClassifier
from .._images import resolve_image_shape


@dataclasses.dataclass(frozen=True)
class TimePlan:
    """How one seed's budget splits; every field is in seconds except the counts."""

    budget: float
    #: Each HyperDARTS family's one search (its complexity path comes on top, from the reserve).
    search: float
    #: Each of the K + 1 DARTS searches (lambda 0, then the picks' lambdas): together ``search``.
    darts_search: float
    #: Every per-model training: fine-tuning, retraining, random, plain CNN.
    per_model: float
    #: Per-model trainings one after the other on ``workers`` joblib workers.
    rounds: int
    workers: int
    #: Path enumeration, test-set scoring and the MLPs.
    reserve: float
    k: int
    #: HyperDARTS families, one search each (one per search space).
    n_hyperdarts: int = 1

    @property
    def equal_per_search(self):
        """Search seconds DARTS would need to give each of its K + 1 searches HyperDARTS' budget."""
        return (self.k + 1) * self.search

    def describe(self, counts, families=("hyperdarts",)):
        """Lines stating the plan; ``counts`` gives the models of each per-model family,
        ``families`` the HyperDARTS families' names."""
        m, search, k = _sec(self.per_model), _sec(self.search), self.k
        sharing = (
            f"{self.workers} fits at a time through joblib, sharing the cores"
            if self.workers > 1
            else "one fit at a time"
        )
        return [
            f"time budget per seed {_sec(self.budget)} ({self.budget / 60:.0f} min), split as follows:",
            f"  {', '.join(families)}: one search of {search} each (all cores), then {k} picks fine-tuned {m} each",
            f"  darts: up to {k + 1} searches of {_sec(self.darts_search)} one after the other: lambda 0 (the "
            f"authors' DARTS), then the picks' lambdas upward until one collapses (together {search}: equal "
            f"total compute); each architecture fine-tuned from its search's weights and trained from scratch, "
            f"{m} each",
            f"  random: {counts['random']} architectures, plain_cnn: {counts['plain_cnn']} widths, {m} each",
            f"  per-model budget {m} for every family: {self.rounds} rounds of fits, {sharing}",
            f"  reserve {_sec(self.reserve)}: the complexity path, test-set scoring, the MLPs (max_iter capped)",
            f"  an equal budget per DARTS search ({search} each) would cost {_sec(self.equal_per_search)} "
            f"of search instead of {search} ({k + 1}x)",
        ]


def _sec(seconds):
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def plan_time(budget, *, k, counts, n_jobs=None, search_share=0.3, reserve_share=0.12, n_hyperdarts=1):
    """Split one seed's ``budget`` seconds between the searches and the per-model trainings.

    Each HyperDARTS family's search gets ``search_share * budget``; the K + 1 DARTS
    searches (lambda 0 and the K picks' lambdas) as much together; ``reserve_share``
    is kept for what no budget bounds; the rest goes to the per-model trainings in
    rounds of ``n_jobs`` parallel fits, one budget for all of them: K fine-tunings per
    HyperDARTS family, K + 1 DARTS fine-tunings and K + 1 DARTS retrainings, and
    ``counts``.

    Parameters
    ----------
    budget : float
        Seconds for one seed's run.
    k : int
        HyperDARTS picks; DARTS searches at their lambdas besides lambda 0.
    counts : dict
        Models of each other per-model family (``random``, ``plain_cnn``).
    n_jobs : int or None, default=None
        joblib workers of the per-model grids.
    search_share, reserve_share : float, default=0.3, 0.12
    n_hyperdarts : int, default=1
        HyperDARTS families (one search each).

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
    searches = n_hyperdarts + 1  # each HyperDARTS family, and DARTS' searches together
    if not 0 < search_share < 1 / searches:
        raise ValueError(
            f"search_share must be in (0, {1 / searches:.3g}): {searches} searches' shares must leave room; "
            f"got {search_share}"
        )
    if not 0 <= reserve_share < 1 - searches * search_share:
        raise ValueError(f"reserve_share must be in [0, {1 - searches * search_share:g}); got {reserve_share}")
    workers = effective_n_jobs(n_jobs)
    fits = [k] * n_hyperdarts + [k + 1, k + 1, *counts.values()]
    rounds = sum(math.ceil(n / workers) for n in fits if n)
    search, reserve = search_share * budget, reserve_share * budget
    per_model = (budget - searches * search - reserve) / max(rounds, 1)
    return TimePlan(budget, search, search / (k + 1), per_model, rounds, workers, reserve, k, n_hyperdarts)


def time_search_step(search, image_shape=(1, 28, 28), n_classes=10, batch=16, *, steps=1, device="cpu"):
    """Seconds of one search step of ``HyperDARTSClassifier(**search)`` on this machine.

    Runs the search for two epochs of ``steps`` steps on ``batch`` random images each
    (a weight batch and an architecture batch per step) with a token path, keeps the
    faster epoch (the first pays for allocations, and on a GPU for choosing kernels)
    and scales its step to the setting's batch size: the cost of a step at the
    setting's width, depth and order, for an extrapolation. On a CPU one step of a
    small batch gives it in seconds rather than the minutes a full-size step can
    take; small batches cost more per image and warm-up steps (weights only) less
    than full steps, so the figure errs on the long side. On a GPU, time a few
    hundred steps of the full batch.

    Parameters
    ----------
    search : dict
        HyperDARTSClassifier parameters.
    image_shape : tuple, default=(1, 28, 28)
    n_classes : int, default=10
    batch : int, default=16
        Images per timed weight batch (at most the setting's batch size).
    steps : int, default=1
        Steps per timed epoch.
    device : str, default="cpu"

    Returns
    -------
    float
    """
    full_batch = search.get("batch_size", HyperDARTSClassifier().batch_size)
    batch = min(batch, full_batch)
    rng = np.random.RandomState(0)
    X = rng.rand(2 * steps * batch, *image_shape).astype(np.float32)
    y = np.arange(len(X)) % n_classes
    # No warm-up and no discrete share: every step is a full bilevel step, the search's dominant cost.
    params = dict(search, batch_size=batch, max_epochs=2, max_time=None, warmup_fraction=0.0, path_samples=2)
    params.update(discrete_fraction=0.0)
    params.update(device=device, random_state=0, early_stopping_patience=None)
    history = HyperDARTSClassifier(**params).fit(X, y).history_
    return min(h["seconds"] / h["steps"] for h in history) * full_batch / batch


def search_seconds_estimate(search, n_train, step_seconds):
    """Seconds one search of ``HyperDARTSClassifier(**search)`` takes over ``n_train`` images.

    Parameters
    ----------
    search : dict
        HyperDARTSClassifier parameters; its epochs, batch size and validation share count.
    n_train : int
        Training images (the weight half's share of them makes a search epoch).
    step_seconds : float
        One search step, from :func:`time_search_step`.

    Returns
    -------
    float
    """
    defaults = HyperDARTSClassifier()
    batch = search.get("batch_size", defaults.batch_size)
    weight_half = n_train * (1 - search.get("validation_fraction", defaults.validation_fraction))
    return max(1, int(weight_half) // batch) * search.get("max_epochs", defaults.max_epochs) * step_seconds


def n_searches(cfg):
    """Searches of one seed of a scale: one per HyperDARTS family, and DARTS' K + 1 (at most)."""
    return len(cfg["hyperdarts"]) + cfg["k"] + 1


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
    return search_seconds_estimate(cfg["search"], n_train, step_seconds) * n_searches(cfg) * cfg["n_seeds"]


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
        f"took {step:.2f} s here, so its {n_searches(cfg)} searches x {cfg['n_seeds']} seeds alone would take "
        f"about {hours:,.0f} hours (the 100-epoch retrainings come on top). Run it on a GPU, use --scale cpu, "
        f"or pass --force to start anyway."
    )
