"""Where a search stands in its schedules: learning rate, temperature, warm-up and
the discrete share, over its steps or its time budget."""

from .relaxation import temperature_at
from .stopping import TimeBudget


class SearchSchedules:
    """The schedules of one search, read at the number of steps done.

    The learning rate's cosine runs over the whole search; the Gumbel temperature
    and the warm-up run over the share before the discrete one
    (``settings.discrete_fraction``). Under ``settings.max_time`` they follow the
    larger of the steps' and the time's fraction (:meth:`TimeBudget.progress
    <skhypernas.stopping.TimeBudget.progress>`).

    Parameters
    ----------
    settings : SearchSettings
    total_steps : int
        Steps of all the epochs.
    """

    def __init__(self, settings, total_steps):
        self.settings, self.total_steps = settings, total_steps
        mixture_steps = total_steps - int(settings.discrete_fraction * total_steps)
        self.warmup_steps = int(settings.warmup_fraction * mixture_steps)
        #: The time budget of the current run; outside one, none (steps alone).
        self.budget = TimeBudget(None)

    def progress(self, done, total=None):
        """How far the schedules have run before step ``done``, in [0, 1]: the steps'
        fraction of ``total`` (default: all the epochs' steps), or the time's if larger."""
        return self.budget.progress(done, self.total_steps if total is None else total)

    def mixture_progress(self, done, total=None):
        """:meth:`progress` over the share before the discrete one: 1 from the discrete share on."""
        return min(1.0, self.progress(done, total) / (1.0 - self.settings.discrete_fraction))

    def temperature(self, done):
        """The Gumbel-softmax temperature of step ``done``, annealed over :meth:`mixture_progress`."""
        # Over total - 1 steps: the last step runs at the end temperature.
        progress = self.mixture_progress(done, self.total_steps - 1)
        return temperature_at(progress, self.settings.temperature_start, self.settings.temperature_end)

    def in_warmup(self, done):
        """Whether step ``done`` trains the weights only (the first ``warmup_fraction``
        of the mixture share)."""
        if self.settings.max_time is None:
            return done < self.warmup_steps
        return self.mixture_progress(done) < self.settings.warmup_fraction

    def in_discrete_share(self, done):
        """Whether step ``done`` trains argmax architectures only (the last ``discrete_fraction``)."""
        fraction = self.settings.discrete_fraction
        return fraction > 0 and self.progress(done) >= 1.0 - fraction
