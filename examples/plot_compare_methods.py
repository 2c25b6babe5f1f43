"""
Accuracy against parameters: one search against DARTS
======================================================

The seed's comparison in miniature. One :class:`~skhypernas.HyperDARTSClassifier`
search gives a whole family of architectures; plain DARTS (the special case
``n_knots=1``: one architecture whatever lambda is) gives one. Both searches run at
once in two worker processes through joblib (``n_jobs``; a Dask backend spreads the
same code over a cluster, see "Beyond one machine"), and every architecture is then
scored on a test set and drawn with
:func:`~skhypernas.plotting.plot_accuracy_vs_parameters`.
"""

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skhypernas import HyperDARTSClassifier
from skhypernas.plotting import plot_accuracy_vs_parameters

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.3, stratify=y, random_state=0)

# Tiny settings, so that the documentation builds in minutes: accuracies are far
# below those of a real search (README: a CPU-sized search on Fashion-MNIST).
settings = dict(
    channels=4, max_epochs=1, batch_size=16, lr=0.05, arch_lr=1e-2, lambda_range=(1e-8, 1e-4), path_samples=256
)
methods = {
    "HyperDARTS": HyperDARTSClassifier(n_knots=3, random_state=0, **settings),
    "DARTS (n_knots=1)": HyperDARTSClassifier(n_knots=1, random_state=0, **settings),
}
fitted = Parallel(n_jobs=2)(delayed(clone(m).fit)(X_train, y_train) for m in methods.values())

# %%
# Architectures spread over each path (at most ten here), scored on the test set:
# choosing one is ``set_complexity``, no retraining.
rows = []
for name, clf in zip(methods, fitted):
    path = clf.complexity_path_
    for i in np.unique(np.linspace(0, len(path["genotype"]) - 1, 10).round().astype(int)):
        clf.set_complexity(float(np.sqrt(path["lambda_min"][i] * path["lambda_max"][i])))
        rows.append({"method": name, "n_parameters": clf.n_parameters_, "accuracy": clf.score(X_test, y_test)})
results = pd.DataFrame(rows)
print(results.groupby("method").agg(architectures=("accuracy", "size"), best=("accuracy", "max")))

# %%
fig = plot_accuracy_vs_parameters(results)
