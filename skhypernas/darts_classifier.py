"""Plain DARTS as a scikit-learn estimator: the baseline the method is compared with."""

import numpy as np
import torch
from sklearn.utils import check_random_state

from . import persistence
from ._base import (
    SEARCH_CONSTRAINTS,
    NetworkClassifierMixin,
    SearchEstimatorMixin,
    _to_device,
    calibration_images,
    predict_batch_size,
    search_parameter_docs,
    seeded_torch,
)
from ._params import Interval, check_params
from .baselines import ArchitectureClassifier, _ArchitectureNetworkMixin
from .derived import iter_batches, recalibrate_batch_norm
from .hypernet import PiecewiseLinearHypernet
from .path import architecture_at
from .reporting import Reporter
from .search import BilevelSearch


@persistence.register
class DARTSClassifier(SearchEstimatorMixin, _ArchitectureNetworkMixin, NetworkClassifierMixin):
    __doc__ = f"""Plain DARTS: one search with a free alpha and the softmax relaxation.

    The search is :class:`~skhypernas.search.BilevelSearch`, the one
    :class:`~skhypernas.HyperDARTSClassifier` runs, with a one-knot hypernetwork (a
    free alpha), softmax mixtures instead of Gumbel samples, and a fixed ``lambda``:
    the architecture loss is ``L_val + complexity * E[cost]`` (``cost``: parameters by
    default, or FLOPs, latency or a user's cost model). Afterwards every
    edge keeps its argmax operation (``none`` drops it, the authors' rule), and
    ``predict`` runs that network with weights inherited from the supernet and batch
    norm recalibrated, or, with ``retrain_epochs``, retrained from scratch by
    :class:`ArchitectureClassifier`. The supernet stays (``supernet_``), so
    ``ArchitectureClassifier(init=darts)`` fine-tunes the architecture from the
    search's weights, as it does a :class:`~skhypernas.HyperDARTSClassifier`'s.

    ``GridSearchCV(DARTSClassifier(...), {{"complexity": [...]}})`` is the
    "one search per lambda" baseline.

    Parameters
    ----------
    complexity : float, default=0.0
        The fixed lambda of the complexity term; 0 is DARTS without it.
    {search_parameter_docs("cost", "latency_table")}
    {search_parameter_docs("search_space", "channels", "n_cells", "n_nodes", "stem_multiplier")}
    {search_parameter_docs("max_epochs", "batch_size", "lr, lr_min", "momentum, weight_decay, grad_clip")}
    arch_lr : float, default=3e-4
        Adam learning rate of alpha (DARTS' value).
    {search_parameter_docs("arch_betas", "arch_weight_decay", "second_order", "mixed_precision")}
    {search_parameter_docs("warmup_fraction", "validation_fraction")}
    recalibration_samples : int, default=2048
        Weight-half samples that re-estimate the derived network's batch norm.
    retrain_epochs : int, default=0
        0 predicts with inherited weights; more retrains the derived architecture from
        scratch on all of ``X`` for that many epochs with :class:`ArchitectureClassifier`.
    retrain_params : dict or None, default=None
        Further :class:`ArchitectureClassifier` parameters for the retraining
        (``batch_size``, ``lr``, ``cutout``, ``drop_path``, ...); its defaults otherwise.
        The network's shape, device and seed always come from this estimator.
    {search_parameter_docs("image_shape", "max_time", "device", "deterministic", "random_state", "verbose")}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    image_shape_ : tuple (C, H, W)
    alpha_ : ndarray
        The learnt logits, of the search space's ``arch_shape`` (for the DARTS cells
        ``(2, n_edges, n_ops)``: the normal (0) and reduction (1) cells').
    search_space_ : SearchSpace
        The search space, bound to the data's channels, classes and image size.
    genotype_ : Genotype
        The argmax architecture.
    n_parameters_ : int
    n_flops_ : int
        Its multiply-accumulates per image.
    latency_ms_ : float
        Its predicted milliseconds per image (NaN without a latency table).
    cost_scale_ : float
        What the expected cost is multiplied by in the regulariser (1 for parameters).
    latency_table_ : LatencyTable or None
    network_ : torch.nn.Module
        Its network, in eval mode.
    supernet_ : torch.nn.Module
        The searched supernet, the weights ``network_`` inherits (unless retrained)
        and a fine-tuning starts from; ``save`` keeps it.
    history_ : list of dict
        Per search epoch, as in HyperDARTSClassifier.
    retrain_history_ : list of dict
        Per retraining epoch; empty without retraining.
    device_ : torch.device
    """

    _constraints = {
        **SEARCH_CONSTRAINTS,
        "complexity": Interval("real", 0),
        "recalibration_samples": Interval("int", 1),
        "retrain_epochs": Interval("int", 0),
    }

    def __init__(
        self,
        *,
        complexity=0.0,
        cost="params",
        latency_table="auto",
        search_space="darts",
        channels=16,
        n_cells=3,
        n_nodes=4,
        stem_multiplier=3,
        max_epochs=50,
        batch_size=64,
        lr=0.025,
        lr_min=0.001,
        momentum=0.9,
        weight_decay=3e-4,
        grad_clip=5.0,
        arch_lr=3e-4,
        arch_betas=(0.5, 0.999),
        arch_weight_decay=1e-3,
        second_order=False,
        mixed_precision="auto",
        warmup_fraction=0.0,
        validation_fraction=0.5,
        recalibration_samples=2048,
        retrain_epochs=0,
        retrain_params=None,
        image_shape=None,
        max_time=None,
        device="auto",
        deterministic=False,
        random_state=None,
        verbose=0,
    ):
        self.complexity = complexity
        self.cost = cost
        self.latency_table = latency_table
        self.search_space = search_space
        self.channels = channels
        self.n_cells = n_cells
        self.n_nodes = n_nodes
        self.stem_multiplier = stem_multiplier
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_min = lr_min
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.arch_lr = arch_lr
        self.arch_betas = arch_betas
        self.arch_weight_decay = arch_weight_decay
        self.second_order = second_order
        self.mixed_precision = mixed_precision
        self.warmup_fraction = warmup_fraction
        self.validation_fraction = validation_fraction
        self.recalibration_samples = recalibration_samples
        self.retrain_epochs = retrain_epochs
        self.retrain_params = retrain_params
        self.image_shape = image_shape
        self.max_time = max_time
        self.device = device
        self.deterministic = deterministic
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y):
        """Search alpha at the fixed complexity, derive the argmax architecture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        check_params(self, self._constraints)
        if not isinstance(self.retrain_params, (dict, type(None))):
            raise TypeError(f"retrain_params must be a dict or None; got {type(self.retrain_params).__name__}")
        X, y = self._validate_training_data(X, y)
        rng = check_random_state(self.random_state)
        data = self._search_data(X, y, rng)
        space = self.search_space_ = self._search_space()
        settings = self._search_settings(relaxation="softmax", fixed_lambda=float(self.complexity))
        costs = self._fit_costs(space)
        with seeded_torch(rng, self.device_, self.deterministic):
            supernet = _to_device(space.supernet(), self.device_)
            # One knot: alpha is a free parameter whatever lambda is, so any range does.
            hypernet = PiecewiseLinearHypernet(
                space.arch_shape, (1e-10, 1e-6), n_knots=1, option_mask=space.option_mask()
            )
            n_train, n_val = len(data.x_train), len(data.x_val)
            regulariser = costs.regulariser(space)
            search = BilevelSearch(supernet, hypernet.to(self.device_), settings, rng, n_train, n_val, regulariser)
            reporter = Reporter(self.verbose, self.max_epochs, "search", self.max_time)
            self.history_ = search.run(data.x_train, data.y_train, data.x_val, data.y_val, reporter)
            self.supernet_ = supernet
            self.alpha_ = hypernet.knot_anchors()[0].astype(np.float32)  # blocked options masked
            self.genotype_ = architecture_at(space, hypernet.knot_anchors(), 0.0)
            self.retrain_history_ = []
            if self.retrain_epochs:
                own = dict(
                    search_space=self._unbound_space(),
                    **dict.fromkeys(ArchitectureClassifier._SHAPE_DEFAULTS),
                    max_epochs=self.retrain_epochs,
                    image_shape=self.image_shape_,
                    device=self.device_,
                    random_state=rng.randint(2**31 - 1),
                    verbose=self.verbose,
                )
                retrained = ArchitectureClassifier(self.genotype_, **{**(self.retrain_params or {}), **own}).fit(X, y)
                self.network_, self.retrain_history_ = retrained.network_, retrained.history_
            else:
                net = space.derive(supernet, self.genotype_)
                calibration = calibration_images(data.x_train, self.recalibration_samples, rng)
                batches = iter_batches(calibration, predict_batch_size(self.image_shape_))
                self.network_ = recalibrate_batch_norm(net, batches)
        self.n_parameters_ = space.n_parameters(self.genotype_)
        self.n_flops_ = int(space.cost(self.genotype_, "flops"))
        self.latency_ms_ = float("nan") if costs.table is None else float(space.cost(self.genotype_, costs.table))
        return self

    # -- persistence: the network as _ArchitectureNetworkMixin stores it, and the supernet

    def _fitted_state(self):
        state = super()._fitted_state()  # every fitted attribute, the supernet as a module
        state["supernet_"] = dict(self.supernet_.state_dict())
        return state

    def _restore_fitted_state(self, state):
        supernet_state = state.pop("supernet_", None)
        super()._restore_fitted_state(state)
        if supernet_state is None:  # a file written before DARTSClassifier kept its supernet
            return
        # Built on the meta device, then given the file's tensors: no wasted initialisation.
        with torch.device("meta"):
            supernet = self.search_space_.supernet()
        supernet.load_state_dict(supernet_state, assign=True)
        self.supernet_ = _to_device(supernet, self.device_)
