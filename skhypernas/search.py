"""The bilevel search: weight steps on one half of the data, architecture steps on the other.

One lambda is drawn log-uniformly per step and shared by both steps. The architecture
loss is the cross-entropy of the supernet under Gumbel-softmax weights sampled from
``alpha(lambda)``, plus ``lambda`` times the expected cost of the architecture (its
search space's expected parameter count, or the regulariser the estimator hands over:
:class:`~skhypernas.costs.FitCosts`). Nothing here knows the space: the supernet takes
mixture weights of the hypernetwork's shape.
"""

import copy
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .persistence import Checkpoint  # noqa: F401  (imported from here before)
from .relaxation import hard_one_hot, relaxed_one_hot, sample_gumbel
from .reporting import Reporter
from .schedules import SearchSchedules
from .search_state import EpochRecord, LoopState  # noqa: F401  (LoopState: public here)
from .stopping import TimeBudget, no_longer_improving, set_cosine_lr
from .unrolled import FINITE_DIFFERENCE_SCALE, frozen, unrolled_gradient


@dataclass
class SearchSettings:
    """Hyperparameters of one search; defaults are the authors' Fashion-MNIST setting."""

    epochs: int = 50
    batch_size: int = 64
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    arch_lr: float = 1e-3
    arch_betas: tuple = (0.5, 0.999)
    arch_weight_decay: float = 1e-3
    second_order: bool = False
    warmup_fraction: float = 0.0
    temperature_start: float = 1.0
    temperature_end: float = 0.2
    max_time: float = None
    #: "gumbel": per-example Gumbel-softmax samples (the proposed method);
    #: "hard": one straight-through Gumbel sample per batch, only its operations run
    #: (GDAS' estimator, a faster approximation);
    #: "softmax": the deterministic ``softmax(alpha)`` mixture of plain DARTS.
    relaxation: str = "gumbel"
    #: A lambda used at every step instead of drawing one from the hypernetwork's range
    #: (DARTS with a fixed complexity term; 0 turns the term off).
    fixed_lambda: float = None
    mixed_precision: bool = False
    early_stopping_patience: int = None
    #: The last share of the search (of its steps, or of ``max_time``) trains only the
    #: weights, each step those of the argmax architecture at a drawn lambda: the
    #: networks the path hands out. The architecture, the temperature and the warm-up
    #: run their schedules over the share before it.
    discrete_fraction: float = 0.0
    #: In the discrete share, each step also trains the architectures at both ends of
    #: the lambda range (the "sandwich rule" of BigNAS), summing the three gradients.
    sandwich: bool = False
    #: With the sandwich, the smaller two learn from the largest's predictions
    #: (in-place distillation) instead of the labels.
    distill: bool = False


class BilevelSearch:
    """Alternating weight and architecture updates of a supernet and its hypernetwork.

    The loop is a chain of small steps, each one overridable: :meth:`run` runs epochs
    and decides when to stop, :meth:`run_epoch` runs one epoch's steps, and
    :meth:`train_step` is one step of the maths (an architecture step past the
    warm-up, then a weight step).

    Parameters
    ----------
    supernet : SearchNetwork
    hypernet : PiecewiseLinearHypernet
        Lambdas are drawn log-uniformly over its ``log_range``.
    settings : SearchSettings
    rng : numpy.random.RandomState
        Draws batches and lambdas; torch's global generator draws the Gumbel noise.
    n_train, n_val : int
        Sizes of the weight half and the architecture half that :meth:`run` gets;
        they fix the batches per epoch and so the schedules.
    cost : callable or None, default=None
        ``alpha -> E[cost]``, differentiable, that ``lambda`` multiplies; None:
        ``supernet.space.expected_parameters``.
    """

    #: DARTS' step for the finite-difference Hessian-vector product: ``e = scale / |v|``.
    finite_difference_scale = FINITE_DIFFERENCE_SCALE

    def __init__(self, supernet, hypernet, settings, rng, n_train, n_val, cost=None):
        self.supernet, self.hypernet, self.settings, self.rng = supernet, hypernet, settings, rng
        s = settings
        self.weight_optimizer = torch.optim.SGD(
            supernet.parameters(), s.lr, momentum=s.momentum, weight_decay=s.weight_decay
        )
        self.arch_optimizer = torch.optim.Adam(
            hypernet.parameters(), s.arch_lr, betas=tuple(s.arch_betas), weight_decay=s.arch_weight_decay
        )
        #: The expected cost that lambda prices: by default the space's expected parameters.
        self.cost = supernet.space.expected_parameters if cost is None else cost
        if s.relaxation not in ("gumbel", "hard", "softmax"):
            raise ValueError(f'relaxation must be "gumbel", "hard" or "softmax"; got {s.relaxation!r}')
        self.n_train, self.n_val = n_train, n_val
        #: The settings' batch size, capped by the smaller half.
        self.batch_size = min(s.batch_size, n_train, n_val)
        self.steps_per_epoch = max(1, n_train // self.batch_size)
        self.total_steps = self.steps_per_epoch * s.epochs
        self.schedules = SearchSchedules(s, self.total_steps)
        # The learning rate and the temperature follow their schedules per step, so a
        # short search (one or two epochs on a CPU) still anneals both fully.
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.weight_optimizer, self.total_steps, s.lr_min)
        self.loop = LoopState(val_order=rng.permutation(n_val))

    @property
    def warmup_steps(self):
        return self.schedules.warmup_steps

    def sample_lambda(self):
        """The step's lambda: ``settings.fixed_lambda``, or log-uniform over the hypernetwork's range."""
        if self.settings.fixed_lambda is not None:
            return float(self.settings.fixed_lambda)
        # The hypernetwork's own log mapping, so the lambdas drawn are those its knots span.
        return 10.0 ** self.rng.uniform(*self.hypernet.log_range)

    def gumbel(self, batch):
        """Per-example noise of every decision: ``(batch, *arch_shape)``.

        Hard sampling draws one architecture per batch: ``(1, *arch_shape)``;
        the softmax relaxation draws no noise: None.
        """
        if self.settings.relaxation == "softmax":
            return None
        shape = (1 if self.settings.relaxation == "hard" else batch, *self.hypernet.anchors.shape[1:])
        return sample_gumbel(shape, self.hypernet.anchors.device, self.hypernet.anchors.dtype)

    def _loss(self, x, y, alpha, gumbel, temperature):
        # bfloat16 autocast needs no loss scaling; the second-order step's finite
        # differences do need full precision, so it never runs under autocast.
        mixed = self.settings.mixed_precision and not self.settings.second_order
        with torch.autocast(x.device.type, torch.bfloat16, enabled=mixed):
            return self._mixture_loss(x, y, alpha, gumbel, temperature)

    def _argmax_logits(self, x, lam):
        # Only the argmax option of every decision runs ("none" adds zero): the
        # network of architecture_at(lambda), with the supernet's own weights.
        with torch.no_grad():
            choice = self.hypernet(lam).argmax(-1)
        weights = F.one_hot(choice, self.hypernet.anchors.shape[-1]).to(self.hypernet.anchors.dtype)
        with torch.autocast(x.device.type, torch.bfloat16, enabled=self.settings.mixed_precision):
            logits = self.supernet(x, weights, choice)
        return logits.to(torch.promote_types(logits.dtype, torch.float32))

    def _argmax_loss(self, x, y, lam):
        return F.cross_entropy(self._argmax_logits(x, lam), y)

    def _mixture_loss(self, x, y, alpha, gumbel, temperature):
        if self.settings.relaxation == "hard":
            # Straight-through: the batch runs one sampled sub-network (GDAS-style).
            weights, choice = hard_one_hot(alpha, gumbel[0], temperature)
            logits = self.supernet(x, weights, choice)
        else:
            # Gumbel weights carry a batch axis in front, softmax weights do not.
            weights = torch.softmax(alpha, dim=-1) if gumbel is None else relaxed_one_hot(alpha, gumbel, temperature)
            logits = self.supernet(x, weights)
        # The loss in at least float32, whatever autocast gave the logits.
        return F.cross_entropy(logits.to(torch.promote_types(logits.dtype, torch.float32)), y), logits

    def weight_step(self, x, y, lam, temperature):
        """One SGD step on the supernet's weights at fixed ``alpha(lambda)``."""
        with torch.no_grad():
            alpha = self.hypernet(lam)
        loss, _ = self._loss(x, y, alpha, self.gumbel(len(x)), temperature)
        self.weight_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.supernet.parameters(), self.settings.grad_clip)
        self.weight_optimizer.step()
        return loss.item()

    def discrete_step(self, x, y, lam):
        """One SGD step on the weights of the argmax architecture at ``lam``; with
        ``settings.sandwich`` also at both ends of the range, the gradients summed.

        With ``settings.distill`` (and the sandwich), the network at the range's low
        end (the largest, least priced) learns from the labels and the others from its
        predictions (in-place distillation, as slimmable networks and BigNAS train
        their members). Returns the mean loss."""
        if self.settings.sandwich and self.settings.distill:
            return self._distilled_step(x, y, lam)
        lambdas = [lam]
        if self.settings.sandwich:
            lambdas += [10.0**bound for bound in self.hypernet.log_range]
        self.weight_optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for value in lambdas:
            loss = self._argmax_loss(x, y, value) / len(lambdas)
            loss.backward()
            total += loss.item()
        torch.nn.utils.clip_grad_norm_(self.supernet.parameters(), self.settings.grad_clip)
        self.weight_optimizer.step()
        return total

    def _distilled_step(self, x, y, lam):
        low, high = (10.0**bound for bound in self.hypernet.log_range)
        self.weight_optimizer.zero_grad(set_to_none=True)
        teacher = self._argmax_logits(x, low)
        loss = F.cross_entropy(teacher, y) / 3
        loss.backward()
        total = loss.item()
        targets = torch.softmax(teacher.detach(), dim=1)
        for value in (lam, high):
            student = F.log_softmax(self._argmax_logits(x, value), dim=1)
            loss = -(targets * student).sum(dim=1).mean() / 3
            loss.backward()
            total += loss.item()
        torch.nn.utils.clip_grad_norm_(self.supernet.parameters(), self.settings.grad_clip)
        self.weight_optimizer.step()
        return total

    def arch_objective(self, x, y, lam, gumbel, temperature):
        """Validation loss plus the complexity term; returns (objective, cross-entropy, logits)."""
        alpha = self.hypernet(lam)
        loss, logits = self._loss(x, y, alpha, gumbel, temperature)
        return loss + lam * self.cost(alpha), loss, logits

    def arch_step(self, x, y, lam, temperature, train_batch=None):
        """One Adam step on the hypernetwork.

        First order by default; with ``settings.second_order`` the gradient is DARTS'
        unrolled one, for which ``train_batch = (x_train, y_train)`` is needed.
        """
        gumbel = self.gumbel(len(x))
        if self.settings.second_order:
            grads, loss, logits = self.unrolled_gradient(x, y, lam, temperature, gumbel, *train_batch)
            for p, g in zip(self.hypernet.parameters(), grads):
                p.grad = g
        else:
            # Only the hypernetwork's gradient: the supernet's weights are constants
            # here, which spares a third of a full backward pass and the activations
            # that only weight gradients need.
            with frozen(self.supernet):
                objective, loss, logits = self.arch_objective(x, y, lam, gumbel, temperature)
            hyper = list(self.hypernet.parameters())
            for p, g in zip(hyper, torch.autograd.grad(objective, hyper)):
                p.grad = g
        self.arch_optimizer.step()
        correct = (logits.argmax(1) == y).sum().item()
        return loss.item(), correct

    def unrolled_gradient(self, x_val, y_val, lam, temperature, gumbel_val, x_train, y_train, gumbel_train=None):
        """DARTS' second-order hypergradient: :func:`~skhypernas.unrolled.unrolled_gradient`."""
        return unrolled_gradient(self, x_val, y_val, lam, temperature, gumbel_val, x_train, y_train, gumbel_train)

    def progress(self, total=None):
        """How far the schedules have run before the next step, in [0, 1]
        (:meth:`SearchSchedules.progress <skhypernas.schedules.SearchSchedules.progress>`)."""
        return self.schedules.progress(self.loop.done, total)

    def temperature(self):
        """The Gumbel-softmax temperature of the next step."""
        return self.schedules.temperature(self.loop.done)

    def in_warmup(self):
        """Whether the next step trains the weights only."""
        return self.schedules.in_warmup(self.loop.done)

    def in_discrete_share(self):
        """Whether the next step trains argmax architectures only."""
        return self.schedules.in_discrete_share(self.loop.done)

    def train_step(self, x, y, x_val, y_val):
        """One step of the search on a weight batch ``x, y`` and an architecture batch.

        Past the warm-up, an architecture step on ``x_val, y_val``, then a weight step
        on ``x, y``, both at one freshly drawn lambda. The schedules are not advanced
        here (see :meth:`run_epoch`).

        Returns
        -------
        dict
            ``lambda``, ``temperature``, ``train_loss``, and ``arch_loss`` (None in
            the warm-up), ``correct`` and ``seen`` of the architecture batch.
        """
        lam, temperature = self.sample_lambda(), self.temperature()
        out = {"lambda": lam, "temperature": temperature, "arch_loss": None, "correct": 0, "seen": 0}
        out["discrete"] = self.in_discrete_share()
        if out["discrete"]:
            out["train_loss"] = self.discrete_step(x, y, lam)
            return out
        if not self.in_warmup():
            out["arch_loss"], out["correct"] = self.arch_step(x_val, y_val, lam, temperature, (x, y))
            out["seen"] = len(y_val)
        out["train_loss"] = self.weight_step(x, y, lam, temperature)
        return out

    def run_epoch(self, x_train, y_train, x_val, y_val, reporter, budget):
        """One pass over a fresh shuffle of the weight half; returns the epoch's history entry.

        Every step takes the next architecture batch (the held-out half is reshuffled
        whenever it runs out), runs :meth:`train_step` and advances the schedules.
        The epoch ends early, recorded as far as it went, once ``budget`` is spent.
        """
        record = EpochRecord(self.loop.epoch)
        self.supernet.train()
        order = self.rng.permutation(self.n_train)
        for step in reporter.epoch_steps(range(self.steps_per_epoch), self.loop.epoch):
            train = order[step * self.batch_size : (step + 1) * self.batch_size]
            val = self._next_val_batch()
            result = self.train_step(x_train[train], y_train[train], x_val[val], y_val[val])
            self._raise_if_diverged(result, step)
            record.add(result)
            self.scheduler.step()
            self.loop.done += 1
            elapsed = self.loop.seconds = budget.elapsed()
            s = self.settings
            if s.max_time is not None:  # the next step's cosine follows progress(), not the scheduler
                set_cosine_lr(self.weight_optimizer, s.lr, s.lr_min, self.progress())
            reporter.estimate_time(self.loop.done, elapsed, self.steps_per_epoch, self.warmup_steps)
            if budget.spent(elapsed):
                break
        return record.entry()

    def _next_val_batch(self):
        """Indices of the next architecture batch, in an order kept across epochs."""
        loop, size = self.loop, self.batch_size
        if loop.val_pos + size > self.n_val:
            loop.val_order, loop.val_pos = self.rng.permutation(self.n_val), 0
        index = loop.val_order[loop.val_pos : loop.val_pos + size]
        loop.val_pos += size
        return index

    def _raise_if_diverged(self, result, step):
        train_loss, arch_loss = result["train_loss"], result["arch_loss"]
        if math.isfinite(train_loss) and (arch_loss is None or math.isfinite(arch_loss)):
            return
        s = self.settings
        raise FloatingPointError(
            f"the search diverged at epoch {self.loop.epoch + 1}, step {step + 1} "
            f"(lambda={result['lambda']:.3g}): weight loss {train_loss}, "
            f"architecture loss {'n/a' if arch_loss is None else arch_loss}. "
            f"Lower lr (now {s.lr}) or arch_lr (now {s.arch_lr}), narrow lambda_range, "
            "or standardise X."
        )

    def run(self, x_train, y_train, x_val, y_val, reporter=None, checkpoint=None, resume=False):
        """The whole search; returns the per-epoch history (a list of dicts).

        The first ``settings.warmup_fraction`` of the steps train only the weights
        (alpha stays at its initial, near-uniform value), a common DARTS remedy for
        parameter-free operations winning while the convolutions are untrained.

        Parameters
        ----------
        x_train, y_train, x_val, y_val : torch.Tensor
            The weight half and the architecture half, of the sizes given at construction.
        reporter : Reporter, optional
            Shows the progress, the time estimate and one line per epoch; default: silent.
        checkpoint : Checkpoint, optional
            Written after every epoch.
        resume : bool
            Start from ``checkpoint`` when it exists.

        Returns
        -------
        list of dict
            Per epoch: ``epoch``, ``train_loss``, ``arch_loss``, ``arch_accuracy``,
            ``temperature``, ``lambda_median``, ``lambda_min``, ``lambda_max``,
            ``steps``, ``arch_steps``, ``discrete_steps`` and ``seconds``.

        Notes
        -----
        Stops cleanly after the current step once ``settings.max_time`` seconds have
        passed (counting a resumed search's earlier runs); the learning rate, the
        temperature and the warm-up then follow the larger of the steps' and the
        time's fraction (:meth:`progress`), so the search ends fully annealed whichever
        limit it meets first. Without ``max_time`` they follow the steps alone, for
        exact reproduction. It also stops after an epoch once ``settings.early_stopping_patience`` epochs in a
        row have not lowered the held-out loss (see
        :func:`~skhypernas.stopping.no_longer_improving`). On KeyboardInterrupt the
        search rolls back to the end of the last completed epoch, warns and returns;
        interrupted in the first epoch, it re-raises.
        """
        self._check_sizes(x_train, x_val)
        s = self.settings
        reporter = Reporter(0, s.epochs, "search") if reporter is None else reporter
        if resume and checkpoint is not None and checkpoint.exists():
            self.load_state_dict(checkpoint.load())
            reporter.write(f"resumed from {checkpoint.path} after epoch {self.loop.epoch}")
        # Resumed, the budget counts the time spent before too.
        budget = self.schedules.budget = TimeBudget(s.max_time, self.loop.seconds)
        snapshot = copy.deepcopy(self.state_dict()) if self.loop.epoch else None
        try:
            while self.loop.epoch < s.epochs:
                self.loop.history.append(self.run_epoch(x_train, y_train, x_val, y_val, reporter, budget))
                # Counted before the snapshot, so that a resumed search keeps the count.
                stalled = no_longer_improving(self.loop, s.early_stopping_patience)
                self.loop.epoch += 1
                snapshot = copy.deepcopy(self.state_dict())
                if checkpoint is not None:
                    checkpoint.save(snapshot)
                reporter.search_epoch(self.loop.history[-1])
                reason = self._stop_reason(stalled, budget)
                if reason is not None:
                    reporter.write(reason)
                    break
        except KeyboardInterrupt:
            if snapshot is None:
                raise
            self.load_state_dict(snapshot)
            warnings.warn(
                f"search interrupted; keeping its state after epoch {self.loop.epoch} of {s.epochs}",
                RuntimeWarning,
                stacklevel=3,
            )
        return self.loop.history

    def _check_sizes(self, x_train, x_val):
        if (len(x_train), len(x_val)) != (self.n_train, self.n_val):
            raise ValueError(
                f"the search was set up for halves of {self.n_train} and {self.n_val} examples; "
                f"run got {len(x_train)} and {len(x_val)}"
            )

    def _stop_reason(self, stalled, budget):
        """Why the search ends after the epoch just finished; None to go on."""
        s, epoch = self.settings, self.loop.epoch
        if stalled:
            patience = s.early_stopping_patience
            return f"held-out loss not improved for {patience} epochs: search stopped after epoch {epoch}"
        if budget.spent():
            return f"max_time={s.max_time}s reached after epoch {epoch}: search stopped"
        return None

    def state_dict(self):
        """Everything the search needs to continue exactly: weights, optimisers, generators, position."""
        rng = self.rng.get_state()
        return dict(
            supernet=self.supernet.state_dict(),
            hypernet=self.hypernet.state_dict(),
            weight_optimizer=self.weight_optimizer.state_dict(),
            arch_optimizer=self.arch_optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            numpy_rng=dict(keys=torch.as_tensor(rng[1].astype(np.int64)), pos=rng[2], has_gauss=rng[3], gauss=rng[4]),
            torch_rng=torch.get_rng_state(),
            cuda_rng=torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
            loop=self.loop.to_dict(),
        )

    def load_state_dict(self, state):
        self.supernet.load_state_dict(state["supernet"])
        self.hypernet.load_state_dict(state["hypernet"])
        self.weight_optimizer.load_state_dict(state["weight_optimizer"])
        self.arch_optimizer.load_state_dict(state["arch_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        r = state["numpy_rng"]
        self.rng.set_state(("MT19937", r["keys"].numpy().astype(np.uint32), r["pos"], r["has_gauss"], r["gauss"]))
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"]:
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.loop = LoopState.from_dict(state["loop"])
