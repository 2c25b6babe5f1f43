"""Training one fixed network from scratch: the authors' retraining step.

Cosine-annealed SGD with momentum, weight decay and gradient clipping; cutout and
drop-path are optional regularisers (off by default). Like the search, the learning
rate and the drop-path probability follow their schedules per step, so a short run
(an epoch or two on a CPU) still anneals fully, and under ``max_time`` they follow the
time when it runs out before the epochs (:meth:`~skhypernas.stopping.TimeBudget.progress`).
"""

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .reporting import Reporter
from .stopping import TimeBudget, set_cosine_lr


@dataclass
class TrainSettings:
    """Hyperparameters of one training run; defaults are the authors' retraining setting."""

    epochs: int = 100
    batch_size: int = 96
    lr: float = 0.025
    lr_min: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    #: Side of the square cut out of every training image (0: no cutout).
    cutout: int = 0
    #: Final drop-path probability, reached linearly over the run (0: none).
    drop_path: float = 0.0
    max_time: float = None


def cutout(x, length):
    """Zero a ``length`` x ``length`` square at a random centre of every image.

    The square is clipped at the border, as in DARTS, so edge images lose less.
    """
    batch, _, height, width = x.shape
    cy = torch.randint(0, height, (batch, 1), device=x.device)
    cx = torch.randint(0, width, (batch, 1), device=x.device)
    rows = torch.arange(height, device=x.device)
    cols = torch.arange(width, device=x.device)
    inside_y = (rows >= cy - length // 2) & (rows < cy + (length + 1) // 2)
    inside_x = (cols >= cx - length // 2) & (cols < cx + (length + 1) // 2)
    hole = inside_y[:, :, None] & inside_x[:, None, :]
    return x * (~hole).unsqueeze(1).to(x.dtype)


def train_network(net, x, y, settings, rng, reporter=None):
    """Train ``net`` (a :class:`~skhypernas.derived.DerivedNetwork`) on ``x, y`` in place.

    Parameters
    ----------
    net : DerivedNetwork
    x, y : torch.Tensor
        Images ``(n, C, H, W)`` and integer labels, on the network's device.
    settings : TrainSettings
    rng : numpy.random.RandomState
        Shuffles the batches; torch's global generator draws cutout and drop-path.
    reporter : Reporter, optional
        Shows a progress bar and one line per epoch; default: silent.

    Returns
    -------
    list of dict
        Per epoch: ``epoch``, ``train_loss``, ``train_accuracy``, ``lr``,
        ``drop_path``, ``steps`` and ``seconds``.

    Raises
    ------
    FloatingPointError
        When the loss stops being finite.
    """
    s = settings
    n = len(x)
    batch = min(s.batch_size, n)
    steps = max(1, n // batch)
    total = steps * s.epochs
    optimizer = torch.optim.SGD(net.parameters(), s.lr, momentum=s.momentum, weight_decay=s.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, total, s.lr_min)
    if reporter is None:
        reporter = Reporter(0, s.epochs, "training")
    history, done, budget = [], 0, TimeBudget(s.max_time)
    net.train()
    try:
        for epoch in range(s.epochs):
            epoch_start = time.perf_counter()
            order = rng.permutation(n)
            loss_sum, correct, seen = 0.0, 0, 0
            for step in reporter.epoch_steps(range(steps), epoch):
                index = torch.as_tensor(order[step * batch : (step + 1) * batch], device=x.device)
                xb, yb = x[index], y[index]
                if s.cutout:
                    xb = cutout(xb, s.cutout)
                net.drop_path_prob = s.drop_path * budget.progress(done, total)
                logits = net(xb)
                loss = F.cross_entropy(logits, yb)
                if not math.isfinite(loss.item()):
                    raise FloatingPointError(
                        f"training diverged at epoch {epoch + 1}, step {step + 1}: loss {loss.item()}. "
                        f"Lower lr (now {s.lr}) or standardise X."
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), s.grad_clip)
                optimizer.step()
                scheduler.step()
                done += 1
                if s.max_time is not None:  # the next step's cosine follows the time, if it runs out first
                    set_cosine_lr(optimizer, s.lr, s.lr_min, budget.progress(done, total))
                loss_sum += loss.item()
                correct += (logits.argmax(1) == yb).sum().item()
                seen += len(yb)
                if budget.spent():
                    break
            history.append(
                dict(
                    epoch=epoch + 1,
                    train_loss=loss_sum / max(1, step + 1),
                    train_accuracy=correct / max(1, seen),
                    lr=optimizer.param_groups[0]["lr"],
                    drop_path=net.drop_path_prob,
                    steps=step + 1,
                    seconds=time.perf_counter() - epoch_start,
                )
            )
            reporter.training_epoch(history[-1])
            if budget.spent():
                reporter.write(f"max_time={s.max_time}s reached after epoch {epoch + 1}: training stopped")
                break
    finally:
        # Whatever happens, the network leaves in inference mode without drop-path.
        net.drop_path_prob = 0.0
        net.eval()
    return history
