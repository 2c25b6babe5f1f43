"""
The complexity path of one search
=================================

One search of :class:`~skhypernas.HyperDARTSClassifier` gives a whole family of
architectures: every lambda in ``lambda_range`` names one, and ``fit`` enumerates
all of them exactly. This example runs a small search on scikit-learn's 8x8 digits
(offline, about a minute on a laptop CPU), prints the path, picks architectures by
lambda and by parameter budget, and plots the path.
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skhypernas import HyperDARTSClassifier
from skhypernas.plotting import plot_complexity_path

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.3, stratify=y, random_state=0)

clf = HyperDARTSClassifier(
    channels=4, max_epochs=3, lambda_range=(1e-8, 1e-4), arch_lr=1e-2, path_samples=512, random_state=0
).fit(X_train, y_train)

path = clf.complexity_path_
print(f"{len(path['genotype'])} architectures on the path")
for low, high, n, acc in zip(path["lambda_min"], path["lambda_max"], path["n_parameters"], path["accuracy"]):
    print(f"lambda {low:9.3g} .. {high:9.3g}: {n:6d} parameters, held-out accuracy {acc:.3f}")

# %%
# Pick an architecture by lambda, or by a parameter budget: no retraining.
for lam in (1e-8, 1e-6, 1e-4):
    clf.set_complexity(lam)
    print(f"lambda {lam:g}: {clf.n_parameters_} parameters, test accuracy {clf.score(X_test, y_test):.3f}")
clf.set_complexity(max_params=int(np.median(path["n_parameters"])))
print(f"budget: {clf.n_parameters_} parameters, test accuracy {clf.score(X_test, y_test):.3f}")

# %%
fig = plot_complexity_path(clf)
