"""Short Fashion-MNIST searches that compare settings by accuracy, not speed.

    python benchmarks/trial_settings.py --n-train 20000 '{}' '{"temperature_start": 5}'
    python benchmarks/trial_settings.py --n-train 60000 --max-time 540 --points 5 \
        '{"discrete_fraction": 0}' '{"discrete_fraction": 0.4}'

Each JSON argument overrides the base settings (the CPU preset of
``python -m skhypernas`` with one epoch, lr 0.1, temperature from 1; with
``--max-time``, the CPU preset itself under that budget in seconds). For each, one
search runs on the first ``--n-train`` training images and prints its time, its
steps, its last epoch's losses, and, at ``--points`` values of lambda spread
log-evenly over ``lambda_range`` (default: both ends), the test accuracy (first
``--n-test`` test images) of the supernet under its softmax mixture and of the
derived network with inherited weights (batch norm recalibrated on 2,048 training
images). Single seeds: read differences of a few points as noise. Not part of the
test suite.
"""

import argparse
import json
import time

import numpy as np
import torch

from skhypernas import HyperDARTSClassifier
from skhypernas._base import predict_batch_size
from skhypernas.datasets import load_fashion_mnist
from skhypernas.derived import DerivedNetwork, recalibrate_batch_norm
from skhypernas.path import architecture_at
from skhypernas.presets import PRESETS

BASE = dict(PRESETS["cpu"], max_epochs=1, lr=0.1, temperature_start=1.0, path_samples=256, device="cpu")


def accuracy(net, x, y, weights=None):
    with torch.inference_mode():
        out = [net(b) if weights is None else net(b, weights) for b in x.split(250)]
    return float((torch.cat(out).argmax(1) == y).float().mean())


def trial(overrides, X, y, x_test, y_test, max_time=None, points=2):
    base = BASE if max_time is None else dict(PRESETS["cpu"], max_epochs=1000, max_time=max_time, device="cpu")
    params = dict(base, path_samples=256, **overrides)
    start = time.perf_counter()
    clf = HyperDARTSClassifier(random_state=0, **params).fit(X, y)
    seconds = time.perf_counter() - start
    calibration = torch.as_tensor(X[-2048:].reshape(-1, 1, 28, 28), dtype=torch.float32)
    ends = {}
    for s in np.linspace(0.0, 1.0, points):
        lam = float(clf.hypernet_.lambda_of(s))
        with torch.no_grad():
            mixture = torch.softmax(clf.hypernet_(lam), -1)
        supernet = accuracy(clf.supernet_.eval(), x_test, y_test, (mixture[0], mixture[1]))
        derived = DerivedNetwork.from_supernet(
            clf.supernet_, architecture_at(clf.search_space_, clf.hypernet_.knot_anchors(), s)
        )
        recalibrate_batch_norm(derived, calibration.split(predict_batch_size(calibration.shape[1:])))
        ends[f"{lam:g}"] = dict(
            supernet=round(supernet, 3),
            derived=round(accuracy(derived, x_test, y_test), 3),
            parameters=derived.n_parameters(),
        )
    last = {k: round(v, 3) for k, v in clf.history_[-1].items() if k in ("train_loss", "arch_loss", "arch_accuracy")}
    steps = {k: sum(h.get(k, 0) for h in clf.history_) for k in ("steps", "arch_steps", "discrete_steps")}
    return dict(
        settings=overrides, max_time=max_time, seconds=round(seconds), **steps, last_epoch=last, test_accuracy=ends
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="+", help="JSON objects of estimator parameters")
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--max-time", type=float, default=None, help="the CPU preset under this budget (seconds)")
    parser.add_argument("--points", type=int, default=2, help="lambdas scored, log-evenly over the range")
    args = parser.parse_args()
    X, y = load_fashion_mnist("train")
    X, y = X[: args.n_train] / 255.0, y[: args.n_train]
    X_test, y_test = load_fashion_mnist("test")
    x_test = torch.as_tensor(X_test[: args.n_test].reshape(-1, 1, 28, 28) / 255.0, dtype=torch.float32)
    y_test = torch.as_tensor(y_test[: args.n_test])
    for overrides in args.overrides:
        result = trial(json.loads(overrides), X, y, x_test, y_test, args.max_time, args.points)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
