"""The experiment's named settings: what each ``--scale`` runs, and for how long."""

import numpy as np

from ..presets import FINE_TUNING, PRESETS


def _grid(low, high, count):
    # Round to 3 digits so that the printed lambdas are the ones used.
    return tuple(float(f"{v:.3g}") for v in np.geomspace(low, high, count))


#: ``search``: HyperDARTSClassifier parameters (DARTS takes those it shares);
#: ``train``: the one recipe of every per-model training (ArchitectureClassifier,
#: RandomArchitectureClassifier and PlainCNNClassifier take what they share);
#: ``k``: picks of the HyperDARTS path, and DARTS searches; ``hyper_lambdas``: more
#: lambdas read off the one search with inherited weights (they cost no search);
#: ``n_random``, ``n_cnn``, ``mlp_sizes``: models of those families; ``time_budget``:
#: seconds for everything, split by :func:`plan_time` (None: the epochs of
#: ``search`` and ``train``); ``search_share``: the HyperDARTS search's share (the
#: DARTS searches get as much together); ``reserve_share``: the share kept for what
#: no budget bounds (the complexity path, test-set scoring, the MLPs); ``n_seeds``:
#: repetitions; ``n_train``, ``n_test``: first samples used (None: all); ``n_jobs``:
#: joblib workers of the per-model grids (the searches run one at a time).
SCALES = {
    "cpu": dict(
        search=dict(PRESETS["cpu"]),
        train=dict(FINE_TUNING),
        k=3,
        hyper_lambdas=_grid(1e-8, 1e-4, 5),
        n_random=4,
        n_cnn=4,
        mlp_sizes=3,
        mlp_max_iter=30,
        time_budget=3000.0,
        search_share=0.3,
        reserve_share=0.12,
        n_seeds=1,
        n_train=None,
        n_test=None,
        n_jobs=2,
    ),
    # The authors' GPU setting: 50 search epochs, 16 channels, second order,
    # 100-epoch retraining with cutout and drop-path, 20 random architectures, 5 seeds.
    "paper": dict(
        search=dict(PRESETS["paper"]),
        train=dict(max_epochs=100, batch_size=96, lr=0.025, cutout=16, drop_path=0.2),
        k=5,
        hyper_lambdas=_grid(1e-10, 1e-6, 17),
        n_random=20,
        n_cnn=5,
        mlp_sizes=6,
        mlp_max_iter=200,
        time_budget=None,
        search_share=0.3,
        reserve_share=0.12,
        n_seeds=5,
        n_train=None,
        n_test=None,
        n_jobs=None,
    ),
}
