"""When a loop stops before its last epoch, and how far its schedules have run: a time
budget, and early stopping.

Both are small on purpose: the search and the training loop ask them one question
after a step or an epoch and stop when the answer is yes, and read the schedules'
progress from :meth:`TimeBudget.progress`.
"""

import math
import time


class TimeBudget:
    """Seconds since the loop started, against an optional limit.

    Parameters
    ----------
    max_time : float or None
        The limit in seconds; None never runs out.
    already : float, default=0.0
        Seconds a resumed loop spent before.
    """

    def __init__(self, max_time, already=0.0):
        self.max_time, self.start = max_time, time.perf_counter() - already

    def elapsed(self):
        """Seconds since the budget was created, plus ``already`` (a resumed loop's)."""
        return time.perf_counter() - self.start

    def progress(self, done, total, elapsed=None):
        """How far a loop's schedules have run, in [0, 1]: the larger of the steps'
        fraction ``done / total`` and, with a limit, the time's ``elapsed / max_time``.

        Hosts differ several-fold in speed, so a loop cut off by its time limit would
        otherwise stop with its learning rate and temperature half-annealed; this way
        whichever runs out first, the steps or the time, ends the schedules.
        """
        steps = done / max(1, total)
        if self.max_time is None:
            return min(1.0, steps)
        elapsed = self.elapsed() if elapsed is None else elapsed
        return min(1.0, max(steps, elapsed / self.max_time if self.max_time > 0 else 1.0))

    def spent(self, elapsed=None):
        """Whether more than ``max_time`` seconds have passed (``elapsed`` if given)."""
        if self.max_time is None:
            return False
        return (self.elapsed() if elapsed is None else elapsed) > self.max_time


def set_cosine_lr(optimizer, lr, lr_min, progress):
    """Set every parameter group's learning rate to the cosine from ``lr`` (progress 0)
    to ``lr_min`` (progress 1): the schedule a loop follows under a time limit, when
    :meth:`TimeBudget.progress` rather than the step count drives it.
    """
    value = lr_min + (lr - lr_min) * (1 + math.cos(math.pi * progress)) / 2
    for group in optimizer.param_groups:
        group["lr"] = value


def no_longer_improving(loop, patience):
    """Early stopping on the held-out loss of the epoch just recorded in ``loop``.

    Counts the epochs in a row whose held-out loss (the architecture half's mean
    cross-entropy) missed the best so far; a loss equal to the best is no
    improvement. The best and the count live in ``loop``, so a checkpoint of the
    loop resumes the count. Epochs without architecture steps (warm-up) neither
    count nor reset.

    Parameters
    ----------
    loop : LoopState
        The search's loop state (:class:`~skhypernas.search_state.LoopState`): its
        ``history`` is read, ``best_arch_loss`` and ``epochs_without_improvement``
        are updated.
    patience : int or None
        Epochs without improvement that stop the search; None never stops.

    Returns
    -------
    bool
        Whether the search should stop after this epoch.
    """
    last = loop.history[-1]
    if patience is None or last["arch_steps"] == 0:
        return False
    if last["arch_loss"] < loop.best_arch_loss:
        loop.best_arch_loss, loop.epochs_without_improvement = last["arch_loss"], 0
    else:
        loop.epochs_without_improvement += 1
    return loop.epochs_without_improvement >= patience
