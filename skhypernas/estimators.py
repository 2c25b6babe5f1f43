"""scikit-learn estimators. They validate, split and move data, then hand over to the
search, the path and the derived network; no training loop lives here."""

import hashlib
import json
import math
import numbers
from pathlib import Path

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import persistence
from ._base import (  # noqa: F401  (resolve_device, PREDICT_BATCH_VALUES: public here before)
    PREDICT_BATCH_VALUES,
    SEARCH_CONSTRAINTS,
    NetworkClassifierMixin,
    SearchEstimatorMixin,
    _to_device,
    calibration_images,
    predict_batch_size,
    resolve_device,
    search_parameter_docs,
    seeded_torch,
)
from ._params import Interval, Options, check_params
from .export import export_network
from .hypernet import PiecewiseLinearHypernet
from .path import budget_index, complexity_path, interval_middle, path_index
from .persistence import Checkpoint
from .reporting import Reporter
from .search import BilevelSearch
from .spaces import DartsSpace, space_from_dict


@persistence.register
class HyperDARTSClassifier(SearchEstimatorMixin, persistence.PersistenceMixin, NetworkClassifierMixin):
    __doc__ = f"""Differentiable architecture search with a complexity-controlling hypernetwork.

    One search trains a DARTS supernet together with a piecewise-linear hypernetwork
    ``alpha(lambda)`` over ``lambda_range``; afterwards every lambda in that range
    names an architecture (on every edge the argmax operation, ``none`` dropping the
    edge), and a larger lambda gives a network with fewer parameters. ``fit``
    enumerates all of them exactly (``complexity_path_``); ``predict`` runs the one
    chosen by ``complexity`` with weights inherited from the search.

    Parameters
    ----------
    complexity : float or "best", default="best"
        The lambda whose architecture ``predict`` uses; ``"best"`` picks the path
        entry with the highest held-out accuracy (fewest parameters among ties).
        Change it after fitting with :meth:`set_complexity`.
    lambda_range : (float, float), default=(1e-10, 1e-6)
        Range of the complexity coefficient, sampled log-uniformly during the search.
    n_knots : int or None, default=None
        Knots of the hypernetwork; None places one per decade of ``lambda_range``.
    {search_parameter_docs("cost", "latency_table")}
    {search_parameter_docs("search_space", "channels", "n_cells", "n_nodes", "stem_multiplier")}
    {search_parameter_docs("max_epochs", "batch_size", "lr, lr_min", "momentum, weight_decay, grad_clip")}
    arch_lr : float, default=1e-3
        Adam learning rate of the hypernetwork.
    {search_parameter_docs("arch_betas", "arch_weight_decay", "second_order")}
    relaxation : {{"gumbel", "hard"}}, default="gumbel"
        "gumbel" is the method: every example gets its own Gumbel-softmax mixture
        of all operations on every edge. "hard" is a faster approximation (GDAS'
        straight-through estimator): each batch runs one sampled operation per edge,
        so a step costs about a derived network's, and the architecture gradient
        reaches alpha through the sampled operations only. See docs/benchmarks.md.
    {search_parameter_docs("mixed_precision", "warmup_fraction")}
    temperature_start, temperature_end : float, default=1.0, 0.2
        Gumbel-softmax temperature, annealed geometrically over the search. A
        short search trains the supernet faster from a higher start (the CPU
        preset uses 5): smoother mixtures send every example's gradient to every
        operation, and the end temperature still leaves near-discrete mixtures, on
        which the derived networks' inherited weights depend.
    discrete_fraction : float, default=0.0
        Share of the search, at its end (of its steps, or of ``max_time``), that
        trains only the shared weights, each step those of the argmax architecture at
        a drawn lambda, with the hypernetwork fixed: the networks the complexity path
        hands out, which the mixture never trained one by one. Temperature and
        warm-up run their schedules over the share before it; the learning rate's
        cosine runs over the whole search. The CPU preset uses 0.4: on a short search
        it lifts the inherited-weight accuracy across the path by several points
        (``docs/benchmarks.md``). 0 is the authors' method.
    sandwich : bool, default=False
        In the discrete share, each step also trains the architectures at both ends
        of ``lambda_range`` (BigNAS' sandwich rule), at about three times the cost
        of a step.
    distill : bool, default=False
        With ``sandwich``: the architecture at the low end of ``lambda_range`` (the
        largest) learns from the labels, the other two from its predictions
        (in-place distillation, as slimmable networks and BigNAS train theirs).
    {search_parameter_docs("validation_fraction")}
    path_samples : int, default=2048
        Samples used, per path entry, to recalibrate batch norm (from the weight half)
        and to measure held-out accuracy (from the architecture half).
    {search_parameter_docs("image_shape", "max_time")}
    early_stopping_patience : int or None, default=None
        Stop the search once this many epochs in a row have not lowered the held-out
        loss: the mean cross-entropy on the architecture half, which the weights
        never train on (weight-only warm-up epochs do not count). The last epoch's
        state is kept. None searches all ``max_epochs``.
    checkpoint_dir : path-like or None, default=None
        Where the search writes a checkpoint after every epoch (atomically). A
        folder that cannot be written is an ``OSError`` before the search starts; a
        checkpoint that fails later (a full disk) warns once, keeps the last good
        file, is retried at the next epoch, and the search goes on.
    warm_start : bool, default=False
        With ``checkpoint_dir``: resume the search from its checkpoint, if one
        exists, and reach the result an uninterrupted search would have reached.
    {search_parameter_docs("device", "deterministic", "random_state", "verbose")}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    image_shape_ : tuple (C, H, W)
    complexity_path_ : dict of arrays
        One entry per maximal lambda interval with a constant architecture, in
        increasing lambda: ``lambda_min``, ``lambda_max``, the derived network's
        ``n_parameters``, ``n_flops`` (multiply-accumulates per image) and
        ``latency_ms`` (predicted milliseconds per image on the table's machine,
        NaN without a table), ``cost`` (for a user's cost model only), ``accuracy``
        (held-out, inherited weights, recalibrated batch norm) and ``genotype``.
        ``pandas.DataFrame(complexity_path_)`` shows it.
    complexity_ : float
        The lambda in use (``"best"`` and budgets resolve to their interval's
        geometric middle).
    genotype_ : Genotype
        The architecture in use.
    n_parameters_ : int
        Its parameter count.
    n_flops_ : int
        Its multiply-accumulates per image.
    latency_ms_ : float
        Its predicted milliseconds per image (NaN without a latency table).
    network_ : torch.nn.Module
        Its derived network, in eval mode.
    search_space_ : SearchSpace
        The search space, bound to the data's channels, classes and image size.
    cost_scale_ : float
        What the expected cost is multiplied by in the regulariser (1 for parameters).
    latency_table_ : LatencyTable or None
        The latency table of the path's ``latency_ms`` (None without one).
    supernet_ : torch.nn.Module
        The trained supernet; every derived network inherits its weights.
    hypernet_ : PiecewiseLinearHypernet
    path_buffers_ : list of dict
        Per path entry, the batch-norm statistics recalibrated for its architecture.
    history_ : list of dict
        One dict per search epoch: ``epoch``, ``train_loss`` (weight half),
        ``arch_loss`` and ``arch_accuracy`` (architecture half, the held-out loss of
        early stopping), ``temperature`` (at the epoch's end), ``lambda_min``,
        ``lambda_median``, ``lambda_max`` (of the lambdas sampled), ``steps``,
        ``arch_steps``, ``discrete_steps`` and ``seconds``. ``pandas.DataFrame(history_)`` shows it.
    device_ : torch.device
    """

    _constraints = {
        **SEARCH_CONSTRAINTS,
        "n_knots": Interval("int", 1, none_ok=True),
        "temperature_start": Interval("real", 0, open_low=True),
        "temperature_end": Interval("real", 0, open_low=True),
        "path_samples": Interval("int", 1),
        "early_stopping_patience": Interval("int", 1, none_ok=True),
        "relaxation": Options("gumbel", "hard"),
        "discrete_fraction": Interval("real", 0, 1, open_high=True),
        "sandwich": Options(True, False),
        "distill": Options(True, False),
    }

    def __init__(
        self,
        *,
        complexity="best",
        lambda_range=(1e-10, 1e-6),
        n_knots=None,
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
        arch_lr=1e-3,
        arch_betas=(0.5, 0.999),
        arch_weight_decay=1e-3,
        second_order=False,
        relaxation="gumbel",
        mixed_precision="auto",
        warmup_fraction=0.0,
        temperature_start=1.0,
        temperature_end=0.2,
        discrete_fraction=0.0,
        sandwich=False,
        distill=False,
        validation_fraction=0.5,
        path_samples=2048,
        image_shape=None,
        max_time=None,
        early_stopping_patience=None,
        checkpoint_dir=None,
        warm_start=False,
        device="auto",
        deterministic=False,
        random_state=None,
        verbose=0,
    ):
        self.complexity = complexity
        self.lambda_range = lambda_range
        self.n_knots = n_knots
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
        self.relaxation = relaxation
        self.mixed_precision = mixed_precision
        self.warmup_fraction = warmup_fraction
        self.temperature_start = temperature_start
        self.temperature_end = temperature_end
        self.discrete_fraction = discrete_fraction
        self.sandwich = sandwich
        self.distill = distill
        self.validation_fraction = validation_fraction
        self.path_samples = path_samples
        self.image_shape = image_shape
        self.max_time = max_time
        self.early_stopping_patience = early_stopping_patience
        self.checkpoint_dir = checkpoint_dir
        self.warm_start = warm_start
        self.device = device
        self.deterministic = deterministic
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting -----------------------------------------------------------------

    def _make_hypernet(self, space):
        return PiecewiseLinearHypernet(
            space.arch_shape, self.lambda_range, self.n_knots, option_mask=space.option_mask()
        )

    def _check_lambda_range(self):
        try:
            low, high = (float(v) for v in self.lambda_range)
        except (TypeError, ValueError):
            raise ValueError(f"lambda_range must be two positive numbers; got {self.lambda_range!r}") from None
        if not (0 < low < high and math.isfinite(high)):
            raise ValueError(f"lambda_range must satisfy 0 < low < high; got {self.lambda_range!r}")
        return low, high

    def fit(self, X, y):
        """Run one architecture search and enumerate the complexity path.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        check_params(self, self._constraints)
        lambda_range = self._check_lambda_range()
        self._check_complexity(self.complexity, lambda_range)
        X, y = self._validate_training_data(X, y)

        rng = check_random_state(self.random_state)
        data = self._search_data(X, y, rng)
        space = self._search_space()
        settings = self._search_settings()
        costs = self._fit_costs(space)
        checkpoint = None
        if self.checkpoint_dir is not None:
            checkpoint = Checkpoint(Path(self.checkpoint_dir) / "search.pt", self._fingerprint(X, y))
        with seeded_torch(rng, self.device_, self.deterministic):
            self.search_space_ = space
            self.supernet_ = _to_device(space.supernet(), self.device_)
            self.hypernet_ = self._make_hypernet(space).to(self.device_)
            n_train, n_val = len(data.x_train), len(data.x_val)
            regulariser = costs.regulariser(space)
            search = BilevelSearch(self.supernet_, self.hypernet_, settings, rng, n_train, n_val, regulariser)
            reporter = Reporter(self.verbose, self.max_epochs, "search", self.max_time)
            self.history_ = search.run(
                data.x_train,
                data.y_train,
                data.x_val,
                data.y_val,
                reporter=reporter,
                checkpoint=checkpoint,
                resume=self.warm_start,
            )
            calibration = calibration_images(data.x_train, self.path_samples, rng)
            n = self.path_samples
            self.complexity_path_, self.path_buffers_ = complexity_path(
                self.supernet_,
                self.hypernet_,
                calibration,
                data.x_val[:n],
                data.y_val[:n],
                predict_batch_size(self.image_shape_),
                costs.columns(space),
            )
        self._set_architecture()
        return self

    def _fingerprint(self, X, y):
        """What a checkpoint must match to be resumed: the search's settings and data."""
        ignored = {"verbose", "max_time", "early_stopping_patience", "checkpoint_dir", "warm_start", "device"}
        ignored |= {"complexity", "path_samples", "latency_table"}
        params = {k: v for k, v in self.get_params().items() if k not in ignored}
        digest = hashlib.sha1(np.ascontiguousarray(X).tobytes())
        digest.update(np.ascontiguousarray(y).tobytes())
        return json.dumps(
            dict(params=params, shape=list(X.shape), data=digest.hexdigest()), sort_keys=True, default=repr
        )

    # -- choosing an architecture -----------------------------------------------

    @staticmethod
    def _check_complexity(complexity, lambda_range):
        if isinstance(complexity, str):
            if complexity != "best":
                raise ValueError(f'complexity must be a float in lambda_range or "best"; got {complexity!r}')
            return
        if not isinstance(complexity, numbers.Real) or isinstance(complexity, bool):
            raise TypeError(f'complexity must be a float or "best"; got {type(complexity).__name__}')
        low, high = lambda_range
        if not low <= complexity <= high:
            raise ValueError(f"complexity={complexity!r} lies outside the searched lambda_range [{low:g}, {high:g}]")

    def set_complexity(self, complexity=None, *, max_params=None, max_flops=None, max_latency_ms=None):
        """Choose the architecture used by ``predict``; no retraining.

        Parameters
        ----------
        complexity : float or "best", optional
            A lambda inside ``lambda_range``, or "best" (highest held-out accuracy).
        max_params : int, optional
            Instead of a lambda, a budget: the most accurate path entry with at most
            this many parameters; ``complexity`` becomes the middle of its lambda
            interval.
        max_flops : int, optional
            A budget in multiply-accumulates per image (``n_flops``).
        max_latency_ms : float, optional
            A budget in predicted milliseconds per image (``latency_ms``). Budgets
            combine: the most accurate entry within all of them.

        Returns
        -------
        self
        """
        check_is_fitted(self)
        budgets = {"max_params": max_params, "max_flops": max_flops, "max_latency_ms": max_latency_ms}
        budgets = {name: value for name, value in budgets.items() if value is not None}
        if (complexity is None) == (not budgets):
            raise ValueError(
                "set_complexity takes either complexity or budgets (max_params, max_flops, max_latency_ms), "
                "not both or neither"
            )
        if budgets:
            index = budget_index(self.complexity_path_, **budgets)
            complexity = interval_middle(self.complexity_path_, index)
        self._check_complexity(complexity, self._check_lambda_range())
        self.complexity = complexity
        self._set_architecture()
        return self

    def set_params(self, **params):
        """Set parameters; on a fitted estimator a new ``complexity`` derives its
        architecture at once, so ``network_`` never lags behind it.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self
        """
        super().set_params(**params)
        if "complexity" in params and hasattr(self, "complexity_path_"):
            self._set_architecture()
        return self

    def _set_architecture(self):
        self._check_complexity(self.complexity, self._check_lambda_range())
        index = path_index(self.complexity_path_, self.complexity)
        genotype = self.complexity_path_["genotype"][index]
        net = self.search_space_.derive(self.supernet_, genotype)
        net.load_state_dict(self.path_buffers_[index], strict=False)
        self.network_ = net.eval()
        self.genotype_ = genotype
        self.n_parameters_ = int(self.complexity_path_["n_parameters"][index])
        # Files written before costs had kinds hold parameters only.
        self.n_flops_ = int(self.complexity_path_["n_flops"][index]) if "n_flops" in self.complexity_path_ else None
        latency = self.complexity_path_.get("latency_ms")
        self.latency_ms_ = float("nan") if latency is None else float(latency[index])
        self.complexity_ = (
            interval_middle(self.complexity_path_, index)
            if isinstance(self.complexity, str)
            else float(self.complexity)
        )
        # What ``network_`` was derived for: predict re-derives when ``complexity``
        # was assigned directly since.
        self._derived_for = self.complexity

    def _prediction_network(self):
        check_is_fitted(self)
        if not _same_complexity(self.complexity, getattr(self, "_derived_for", None)):
            self._set_architecture()
        return self.network_

    def export(self, path, format="torchscript"):
        """Write the derived network of the chosen complexity as a standalone model.

        The model computes what :meth:`predict_proba` computes: it takes float32
        images of shape ``(n, C, H, W)`` with ``(C, H, W) = image_shape_`` (flat rows
        become ``X.reshape(-1, *image_shape_)``, as ``predict`` reshapes them) and
        returns float32 class probabilities of shape ``(n, n_classes)``, columns in
        the order of ``classes_``. It runs on the CPU, needs neither skhypernas nor
        scikit-learn, and accepts any batch size.

        Parameters
        ----------
        path : path-like
        format : {"torchscript", "onnx"}, default="torchscript"
            ``"torchscript"`` loads with ``torch.jit.load``; ``"onnx"`` (opset of the
            installed torch, needs the ``onnx`` package) runs in onnxruntime, with
            input ``"images"`` and output ``"probabilities"``.

        Returns
        -------
        pathlib.Path
        """
        return export_network(self._prediction_network(), self.image_shape_, path, format)

    # -- persistence (save/load from persistence.PersistenceMixin) -----------------

    def _fitted_state(self):
        names = ["classes_", "n_features_in_", "feature_names_in_", "image_shape_", "device_"]
        names += ["complexity_path_", "path_buffers_", "history_", "cost_scale_", "latency_table_"]
        state = {name: getattr(self, name) for name in names if hasattr(self, name)}
        state["search_space"] = self.search_space_.to_dict()
        state["supernet_"] = dict(self.supernet_.state_dict())
        state["hypernet_"] = dict(self.hypernet_.state_dict())
        return state

    def _restore_fitted_state(self, state):
        # Files written before search spaces hold the DARTS network's "config".
        space = space_from_dict(state.pop("search_space")) if "search_space" in state else None
        space = DartsSpace(**state.pop("config")) if space is None else space
        supernet_state, hypernet_state = state.pop("supernet_"), state.pop("hypernet_")
        vars(self).update(state)
        self.search_space_ = space
        # Built on the meta device, then given the file's tensors: no wasted initialisation.
        with torch.device("meta"):
            supernet, hypernet = space.supernet(), self._make_hypernet(space)
        supernet.load_state_dict(supernet_state, assign=True)
        hypernet.load_state_dict(hypernet_state, assign=True)
        self.supernet_ = _to_device(supernet, self.device_)
        self.hypernet_ = hypernet.to(self.device_)
        self.path_buffers_ = [{k: v.to(self.device_) for k, v in b.items()} for b in self.path_buffers_]
        self._set_architecture()


def _same_complexity(a, b):
    # A float never equals "best", and 1e-7 equals 1e-7 whatever its numeric type.
    return isinstance(a, str) == isinstance(b, str) and a == b
