"""
Baselines with scikit-learn tooling
===================================

The baselines of the experiment are estimators, so scikit-learn compares them:
``GridSearchCV`` runs one :class:`~skhypernas.DARTSClassifier` search per complexity
(the "one search per lambda" baseline), a ``Pipeline`` puts a scaler in front of a
:class:`~skhypernas.RandomArchitectureClassifier`, and
:class:`~skhypernas.ArchitectureClassifier` retrains the architecture DARTS found
from scratch. Everything runs on scikit-learn's 8x8 digits, offline, in well under a
minute on a laptop CPU; the numbers are those of tiny networks trained briefly.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhypernas import ArchitectureClassifier, DARTSClassifier, RandomArchitectureClassifier
from skhypernas.plotting import plot_genotype

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.3, stratify=y, random_state=0)
small = dict(channels=4, n_nodes=2, device="cpu", random_state=0)

# %%
# One DARTS search per complexity, through GridSearchCV. A larger complexity
# penalises expected parameters in the architecture loss: a smaller network. The
# cross-validated numbers are means over the folds' searches; with weights inherited
# from so short a search, accuracy is low until the architecture is retrained.
grid = GridSearchCV(
    DARTSClassifier(max_epochs=3, arch_lr=1e-2, **small),
    {"complexity": [0.0, 1e-2]},
    cv=2,
    scoring={"accuracy": "accuracy", "n_parameters": lambda est, X, y: est.n_parameters_},
    refit="accuracy",
).fit(X_train, y_train)
for params, acc, size in zip(
    grid.cv_results_["params"], grid.cv_results_["mean_test_accuracy"], grid.cv_results_["mean_test_n_parameters"]
):
    print(f"DARTS complexity {params['complexity']:g}: {size:.0f} parameters, cv accuracy {acc:.3f}")
darts = grid.best_estimator_
print(f"best: complexity {grid.best_params_['complexity']:g}, test accuracy {darts.score(X_test, y_test):.3f}")

# %%
# Retrain the architecture DARTS found from scratch (the authors' retraining step).
retrained = ArchitectureClassifier(darts.genotype_, max_epochs=6, channels=4, device="cpu", random_state=0)
retrained.fit(X_train, y_train)
print(f"retrained: {retrained.n_parameters_} parameters, test accuracy {retrained.score(X_test, y_test):.3f}")

# %%
# Random architectures in a Pipeline, from all-convolution to parameter-free cells.
for p in (0.0, 0.5, 1.0):
    pipe = make_pipeline(StandardScaler(), RandomArchitectureClassifier(p_parameter_free=p, max_epochs=6, **small)).fit(
        X_train, y_train
    )
    clf = pipe[-1]
    print(f"random, p_parameter_free={p}: {clf.n_parameters_} parameters, test {pipe.score(X_test, y_test):.3f}")

# %%
fig = plot_genotype(darts.genotype_, f"DARTS on digits: {darts.n_parameters_} parameters")
plt.show()
