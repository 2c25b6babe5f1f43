"""The experiment's named settings: what each ``--scale`` runs, and for how long."""

import numpy as np

from ..presets import FINE_TUNING, PRESETS, SPACE_PRESETS


def _grid(low, high, count):
    # Round to 3 digits so that the printed lambdas are the ones used.
    return tuple(float(f"{v:.3g}") for v in np.geomspace(low, high, count))


def hyperdarts_families(spaces, scale="cpu"):
    """The HyperDARTS families that search ``spaces``, one search each.

    The DARTS cells' family is ``"hyperdarts"`` and searches with the scale's
    ``search``; another space's is ``"hyperdarts-<name>"`` and searches with its own
    preset at this scale where :data:`~skhypernas.presets.SPACE_PRESETS` has one (the
    chain space's ``"cpu"``), over the scale's ``search``.

    Parameters
    ----------
    spaces : sequence of str
        Search space names, the first the family DARTS is compared with.
    scale : str, default="cpu"
        The scale whose space presets apply.

    Returns
    -------
    dict
        ``{family: HyperDARTSClassifier parameters over the scale's search}``.
    """
    families = {}
    for name in spaces:
        own = {} if name == "darts" else SPACE_PRESETS.get(name, {}).get(scale, {})
        families["hyperdarts" if name == "darts" else f"hyperdarts-{name}"] = {**own, "search_space": name}
    return families


#: ``search``: HyperDARTSClassifier parameters (DARTS takes those it shares);
#: ``hyperdarts``: the HyperDARTS families, ``{name: parameters over search}`` (one
#: search each; the first family's picks give DARTS its lambdas);
#: ``train``: the one recipe of every per-model training (ArchitectureClassifier,
#: RandomArchitectureClassifier and PlainCNNClassifier take what they share);
#: ``k``: picks of each HyperDARTS path (DARTS searches at the first family's, after
#: lambda 0); ``hyper_lambdas``: more lambdas read off each search with inherited
#: weights (they cost no search); ``n_random``, ``n_cnn``, ``mlp_sizes``: models of
#: those families; ``time_budget``: seconds per seed, split by :func:`plan_time`
#: (None: the epochs of ``search`` and ``train``); ``search_share``: each HyperDARTS
#: search's share (the DARTS searches get as much together); ``reserve_share``: the
#: share kept for what no budget bounds (the complexity path, test-set scoring, the
#: MLPs); ``n_seeds``: repetitions (``--seeds``); ``n_train``, ``n_test``: first
#: samples used (None: all); ``n_jobs``: joblib workers of the per-model grids (the
#: searches run one at a time).
SCALES = {
    "cpu": dict(
        search=dict(PRESETS["cpu"]),
        hyperdarts=hyperdarts_families(["darts"], "cpu"),
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
        hyperdarts=hyperdarts_families(["darts"], "paper"),
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
