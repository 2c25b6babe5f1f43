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
