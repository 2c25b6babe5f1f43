"""A search's bookkeeping: where its loop stands (checkpointed), and one epoch's running sums."""

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class LoopState:
    """Where a search is: everything a checkpoint must hold to continue exactly,
    besides modules, optimisers and generators (see :meth:`BilevelSearch.state_dict`).
    """

    #: Epochs completed.
    epoch: int = 0
    #: Steps completed.
    done: int = 0
    #: One entry per completed epoch (:meth:`EpochRecord.entry`).
    history: list = dataclasses.field(default_factory=list)
    #: The architecture half's order, and the position of its next batch.
    val_order: np.ndarray = None
    val_pos: int = 0
    #: Seconds spent, counting a resumed search's earlier runs.
    seconds: float = 0.0
    #: Early stopping's best held-out loss and the epochs since it
    #: (:func:`~skhypernas.stopping.no_longer_improving`).
    best_arch_loss: float = math.inf
    epochs_without_improvement: int = 0

    def to_dict(self):
        """Plain values and tensors, for a checkpoint."""
        return dict(dataclasses.asdict(self), val_order=torch.as_tensor(self.val_order))

    @classmethod
    def from_dict(cls, state):
        """Inverse of :meth:`to_dict`; entries that older checkpoints lack keep their defaults."""
        known = {f.name for f in dataclasses.fields(cls)}
        state = {k: v for k, v in state.items() if k in known}
        loop = cls(**state)
        loop.val_order = state["val_order"].numpy()
        loop.history = [dict(h) for h in loop.history]
        return loop


class EpochRecord:
    """One epoch's running sums, and the history entry they make.

    Parameters
    ----------
    epoch : int
        The epoch, counted from 0.
    """

    def __init__(self, epoch):
        self.epoch, self.start = epoch, time.perf_counter()
        self.train_loss, self.arch_loss = 0.0, 0.0
        self.correct, self.seen, self.steps, self.arch_steps, self.discrete_steps = 0, 0, 0, 0, 0
        self.lambdas, self.temperatures = [], []

    def add(self, step):
        """Count one :meth:`BilevelSearch.train_step` result."""
        self.lambdas.append(step["lambda"])
        self.temperatures.append(step["temperature"])
        if step["arch_loss"] is not None:
            self.arch_loss += step["arch_loss"]
            self.correct += step["correct"]
            self.seen += step["seen"]
            self.arch_steps += 1
        self.train_loss += step["train_loss"]
        self.steps += 1
        self.discrete_steps += int(step.get("discrete", False))

    def entry(self):
        """The history dict: mean losses, accuracy, the last temperature, the lambdas' spread."""
        return dict(
            epoch=self.epoch + 1,
            train_loss=self.train_loss / max(1, self.steps),
            arch_loss=self.arch_loss / max(1, self.arch_steps),
            arch_accuracy=self.correct / max(1, self.seen),
            temperature=self.temperatures[-1],
            lambda_median=float(np.median(self.lambdas)),
            lambda_min=float(np.min(self.lambdas)),
            lambda_max=float(np.max(self.lambdas)),
            steps=self.steps,
            arch_steps=self.arch_steps,
            discrete_steps=self.discrete_steps,
            seconds=time.perf_counter() - self.start,
        )
