"""Fingerprints of short fits at a fixed seed: one hash of the weights and predictions per setting.

A refactoring that must not change behaviour runs this before and after and compares the
lines (same host, same torch). Each line hashes every fitted tensor that decides the
predictions (supernet, hypernetwork, path buffers or the trained network) together with
``predict_proba`` on the first 200 rows::

    OMP_NUM_THREADS=1 python benchmarks/fingerprint.py > before.txt
    ... change the code ...
    OMP_NUM_THREADS=1 python benchmarks/fingerprint.py | diff before.txt -

1,200 Fashion-MNIST training images when the Debian package is installed, else digits.
"""

import hashlib
import sys

import numpy as np
import torch

from skhypernas import ArchitectureClassifier, DARTSClassifier, HyperDARTSClassifier

TINY = dict(channels=4, n_cells=3, n_nodes=2, max_epochs=1, batch_size=32, random_state=0)


def data():
    try:
        from skhypernas.datasets import load_fashion_mnist

        X, y = load_fashion_mnist("train")
        return X[:1200] / 255.0, y[:1200], "fashion-mnist"
    except (OSError, RuntimeError):
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        return X[:1200] / 16.0, y[:1200], "digits"


def digest(estimator, X):
    h = hashlib.sha256()
    # DARTSClassifier keeps its supernet since the fair-DARTS change, for fine-tuning
    # only: its fingerprint stays that of what it predicts with, as before.
    names = ("supernet_", "hypernet_", "network_") if isinstance(estimator, HyperDARTSClassifier) else ("network_",)
    modules = [getattr(estimator, name, None) for name in names]
    for module in modules:
        if module is not None:
            for name, tensor in sorted(module.state_dict().items()):
                h.update(name.encode())
                h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    for buffers in getattr(estimator, "path_buffers_", []):
        for name, tensor in sorted(buffers.items()):
            h.update(name.encode())
            h.update(tensor.cpu().contiguous().numpy().tobytes())
    h.update(np.ascontiguousarray(estimator.predict_proba(X[:200])).tobytes())
    return h.hexdigest()[:16]


def main():
    torch.set_num_threads(1)
    X, y, name = data()
    search = HyperDARTSClassifier(**TINY, discrete_fraction=0.3, warmup_fraction=0.2, path_samples=256)
    settings = {
        "first order": lambda: search,
        "path (complexity 1e-7)": lambda: search.set_complexity(1e-7),
        "second order": lambda: HyperDARTSClassifier(**TINY, second_order=True, path_samples=128),
        "hard": lambda: HyperDARTSClassifier(**TINY, relaxation="hard", path_samples=128),
        "bf16": lambda: HyperDARTSClassifier(**TINY, mixed_precision=True, path_samples=128),
        "DARTS": lambda: DARTSClassifier(**TINY, complexity=1e-7, recalibration_samples=128),
        "ArchitectureClassifier": lambda: ArchitectureClassifier(
            search.genotype_, channels=4, max_epochs=1, batch_size=32, random_state=0
        ),
    }
    print(f"# data: {name}, {len(X)} images; torch {torch.__version__}")
    search.fit(X, y)
    for label, make in settings.items():
        estimator = make()
        if not hasattr(estimator, "classes_"):
            estimator.fit(X, y)
        print(f"{label}: {digest(estimator, X)}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
