"""What a fit tells its user while it runs: progress bars, a time estimate, a line per epoch.

The search and the training loop hand everything they would print to a :class:`Reporter`,
so their code reads as the optimisation alone, and ``verbose=0`` is one silent object
rather than a test before every print.
"""

from tqdm.auto import tqdm

#: Columns of the search's per-epoch table.
EPOCH_TABLE_HEADER = (
    f"{'epoch':7s} {'train loss':>10s} {'arch loss':>9s} {'arch acc':>8s} {'temp':>6s}  "
    f"{'lam min':>8s} {'lam med':>8s} {'lam max':>8s} {'seconds':>8s}"
)


class Reporter:
    """Progress bars and log lines of one fit; silent when ``verbose`` is 0.

    Parameters
    ----------
    verbose : int
        0 prints nothing; anything else shows a tqdm bar per epoch and writes lines
        with ``tqdm.write`` (so they do not break the bar).
    epochs : int
        The fit's number of epochs, shown as ``epoch/epochs``.
    what : str
        What runs, for the bars' label: ``"search"`` or ``"training"``.
    max_time : float or None, default=None
        The fit's time budget: the estimate then says how much of the epochs fits in
        it, and epochs are counted without the (unreached) ``epochs``.
    """

    #: After this many timed steps a rate is worth extrapolating.
    estimate_after = 5

    def __init__(self, verbose, epochs, what, max_time=None):
        self.verbose, self.epochs, self.what, self.max_time = verbose, epochs, what, max_time
        self._table_started = False
        self._discrete_announced = False
        self._warmup_end = 0.0

    def _epoch(self, epoch):
        """``epoch`` (1-based) as ``i/n``, or ``i`` when a time budget ends the fit."""
        return f"{epoch:3d}" if self.max_time is not None else f"{epoch:3d}/{self.epochs}"

    def epoch_steps(self, steps, epoch):
        """``steps`` (an iterable) behind a progress bar for 0-based ``epoch``."""
        if not self.verbose:
            return steps
        return tqdm(steps, desc=f"{self.what} epoch {self._epoch(epoch + 1).strip()}", leave=False, unit="step")

    def write(self, line):
        """One line of text, printed above any running bar."""
        if self.verbose:
            tqdm.write(line)

    def estimate_time(self, done, elapsed, steps, warmup):
        """The search's running time, extrapolated once a few steps are timed.

        Called after every step. ``done`` steps have run in ``elapsed`` seconds, out
        of ``steps`` per epoch, the first ``warmup`` of them weight-only.
        """
        if not self.verbose:
            return
        total, after = steps * self.epochs, self.estimate_after
        if self.max_time is not None:
            if done == after:
                fit = self.max_time / (elapsed / after)
                self.write(
                    f"time budget {_duration(self.max_time)}: at the first steps' rate about {fit:,.0f} steps "
                    f"({fit / steps:.1f} epochs of {steps}) fit in it; the schedules anneal over the budget"
                )
            return
        if done == warmup:
            self._warmup_end = elapsed
        if done in (min(after, total), min(warmup + after, total)) and done > warmup:
            # Steps with an architecture update cost about twice a warm-up step, so the
            # rate is measured on them alone once the warm-up is over.
            rate = (elapsed - self._warmup_end) / (done - warmup)
            estimate = self._warmup_end + rate * (total - warmup)
            self.write(f"estimated search time: {_duration(estimate)} ({steps} steps x {self.epochs} epochs)")
        elif done == after and warmup >= after:
            self.write(f"warm-up of {warmup} weight-only steps: about {_duration(elapsed / after * warmup)}")

    def search_epoch(self, record):
        """One row of the search's table (its header before the first row).

        An epoch without architecture steps (the warm-up, the discrete share) shows a
        dash for the architecture's loss and accuracy: its zeros measure nothing. The
        first epoch with discrete steps is announced by a line above its row.

        Parameters
        ----------
        record : dict
            A search history entry, with its ``arch_steps`` and ``discrete_steps``.
        """
        h = record
        first_row = not self._table_started
        if first_row:
            self.write(EPOCH_TABLE_HEADER)
            self._table_started = True
        if h["discrete_steps"] and not self._discrete_announced:
            self._discrete_announced = True
            # A resumed search's first row may be deep in a share begun before it.
            since = f"epoch {h['epoch']} or earlier" if first_row and h["epoch"] > 1 else f"epoch {h['epoch']}"
            self.write(f"discrete share from {since}: weights of argmax architectures only, no architecture steps")
        if h["arch_steps"]:
            arch = f"{h['arch_loss']:9.4f} {h['arch_accuracy']:8.4f}"
        else:
            arch = f"{'-':>9} {'-':>8}"
        self.write(
            f"{self._epoch(h['epoch']):7s} {h['train_loss']:10.4f} {arch} {h['temperature']:6.3f}  "
            f"{h['lambda_min']:8.2e} {h['lambda_median']:8.2e} {h['lambda_max']:8.2e} {h['seconds']:8.1f}"
        )

    def training_epoch(self, record):
        """The training loop's line for one epoch."""
        h = record
        self.write(
            f"epoch {self._epoch(h['epoch'])}  train loss {h['train_loss']:.4f}  "
            f"train acc {h['train_accuracy']:.4f}  {h['seconds']:.1f}s"
        )


def _duration(seconds):
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
