"""What every classifier of this package shares: input validation, image layout,
device placement, a seeded torch scope, and prediction through ``network_``."""

import contextlib
import dataclasses
import functools
import math
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import persistence
from ._images import flatten_images, resolve_image_shape
from ._params import Interval, Options
from .costs import COST_PARAMETER_DOCS, CostConstraint, LatencyTableConstraint, resolve_fit_costs
from .inference import inference_network
from .reporting import Reporter
from .search import SearchSettings
from .spaces import DartsSpace, resolve_space
from .training import TrainSettings, train_network

#: ``predict`` feeds the network at most this many input values per batch.
PREDICT_BATCH_VALUES = 2**20
#: ... and at most this many images, whose activations stay in a CPU's cache
#: (docs/benchmarks.md, "Constants chosen by measurement").
PREDICT_BATCH_IMAGES = 256


#: torch's random generator and its deterministic-algorithms switch are global to a
#: process: fits in threads of one process (joblib's threading backend, a Dask
#: client with processes=False) take turns, or their random streams would mix.
TORCH_GLOBAL_STATE = threading.RLock()


def resolve_device(device):
    """``"auto"`` is CUDA when available, else CPU; anything else goes to ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device: {exc}") from None


def _to_device(tensor_or_module, device):
    # Channels-last runs this search's convolutions faster on a GPU. On the CPU it
    # corrupted the heap on 64x64 inputs (docs/benchmarks.md, "Constants chosen by
    # measurement"): correctness first, so the CPU keeps the default layout.
    tensor_or_module = tensor_or_module.to(device)
    if device.type == "cuda":
        tensor_or_module = tensor_or_module.to(memory_format=torch.channels_last)
    return tensor_or_module


def predict_batch_size(image_shape):
    """Images per inference batch: at most ``PREDICT_BATCH_IMAGES`` images and
    ``PREDICT_BATCH_VALUES`` input values, and at least one image."""
    return max(1, min(PREDICT_BATCH_IMAGES, PREDICT_BATCH_VALUES // math.prod(image_shape)))


def split_halves(y, validation_fraction, rng):
    """Stratified indices ``(train, validation)``; a too-small class is a clear error."""
    try:
        return train_test_split(np.arange(len(y)), test_size=validation_fraction, stratify=y, random_state=rng)
    except ValueError as exc:
        raise ValueError(
            f"cannot split the data into weight and architecture halves "
            f"(validation_fraction={validation_fraction}): {exc}"
        ) from None


#: Valid values of the parameters that every estimator training a network takes.
TRAINING_CONSTRAINTS = {
    "channels": Interval("int", 1),
    "n_cells": Interval("int", 1),
    "stem_multiplier": Interval("int", 1),
    "max_epochs": Interval("int", 1),
    "batch_size": Interval("int", 1),
    "lr": Interval("real", 0, open_low=True),
    "lr_min": Interval("real", 0),
    "momentum": Interval("real", 0, 1, open_high=True),
    "weight_decay": Interval("real", 0),
    "grad_clip": Interval("real", 0, open_low=True),
    "max_time": Interval("real", 0, open_low=True, none_ok=True),
    "verbose": Interval("int", 0),
}


#: The docstring entries of the parameters both search estimators take, each once:
#: an estimator's docstring lists them with :func:`search_parameter_docs`.
SEARCH_PARAMETER_DOCS = {
    "search_space": """search_space : "darts" or SearchSpace, default="darts"
    What an architecture can be: ``"darts"``, the method's published cells
    (shaped by ``channels``, ``n_cells``, ``n_nodes`` and ``stem_multiplier``),
    or a :class:`~skhypernas.spaces.SearchSpace` object, which carries its own
    shape (those four parameters then stay at their defaults).""",
    "channels": """channels : int, default=16
    Width of the first cell; each reduction cell doubles it.""",
    "n_cells": """n_cells : int, default=3
    Cells in the network; reduction cells sit at 1/3 and 2/3 of the depth.""",
    "n_nodes": """n_nodes : int, default=4
    Intermediate nodes per cell.""",
    "stem_multiplier": """stem_multiplier : int, default=3
    The stem outputs ``stem_multiplier * channels`` channels.""",
    "max_epochs": """max_epochs : int, default=50
    Search epochs; an epoch is one pass over the weight half of the data.""",
    "batch_size": """batch_size : int, default=64""",
    "lr, lr_min": """lr, lr_min : float, default=0.025, 0.001
    The weights' SGD learning rate, cosine-annealed from ``lr`` to ``lr_min``.""",
    "momentum, weight_decay, grad_clip": """momentum, weight_decay, grad_clip : float, default=0.9, 3e-4, 5.0""",
    "arch_betas": """arch_betas : (float, float), default=(0.5, 0.999)""",
    "arch_weight_decay": """arch_weight_decay : float, default=1e-3""",
    "second_order": """second_order : bool, default=False
    Use DARTS' unrolled (second-order) architecture gradient.""",
    "mixed_precision": """mixed_precision : "auto", True or False, default="auto"
    Run the search's forward and backward passes under bfloat16 autocast.
    "auto" does so on CUDA only. Never applied to second-order steps, whose
    finite differences need full precision; the derived networks always
    predict in float32.""",
    "warmup_fraction": """warmup_fraction : float, default=0.0
    Share of the search's steps that train only the weights before architecture
    steps begin (the authors use none; it helps short CPU searches).""",
    "validation_fraction": """validation_fraction : float, default=0.5
    Stratified share of the data that trains the architecture (the rest trains
    the weights). It also scores the complexity path.""",
    "image_shape": """image_shape : tuple or None, default=None
    ``(H, W)`` or ``(C, H, W)`` of flat rows. None: taken from n-d input, square
    rows are one-channel images, anything else is a 1 x d strip.""",
    "max_time": """max_time : float or None, default=None
    Wall-clock budget of the search in seconds (counting a resumed search's
    earlier runs). The search stops after the step that spends it, and its
    learning rate, temperature and warm-up follow the larger of the steps' and
    the time's fraction, so it ends fully annealed whichever runs out first:
    set ``max_epochs`` high and the budget decides, on a fast host or a slow one.
    The architectures are then derived from the state reached. None: the epochs alone,
    for exact reproduction.""",
    "device": """device : str, default="auto"
    "auto" uses CUDA when available.""",
    "deterministic": """deterministic : bool, default=False
    Turn on PyTorch's deterministic algorithms during ``fit`` (CPU fits are
    repeatable without it; GPU kernels otherwise may not be).""",
    "random_state": """random_state : int, RandomState or None, default=None""",
    **COST_PARAMETER_DOCS,
    "verbose": """verbose : int, default=0
    0 prints nothing; 1 shows a tqdm progress bar per epoch, the estimated search
    time after the first steps and a table with one row per epoch (the figures
    of ``history_``).""",
}


def search_parameter_docs(*names):
    """The numpydoc entries of :data:`SEARCH_PARAMETER_DOCS` named, in that order,
    indented for a class docstring's Parameters section."""
    return "\n    ".join(SEARCH_PARAMETER_DOCS[name].replace("\n", "\n    ") for name in names)


class SpaceConstraint:
    """A search space's name or a space object (:func:`~skhypernas.spaces.resolve_space`)."""

    def __init__(self, none_ok=False):
        self.none_ok = none_ok

    def check(self, name, value):
        if not (value is None and self.none_ok):
            resolve_space(value)


#: ... and those that both search estimators (HyperDARTSClassifier and
#: DARTSClassifier) add; each adds its own besides.
SEARCH_CONSTRAINTS = {
    **TRAINING_CONSTRAINTS,
    "search_space": SpaceConstraint(),
    "n_nodes": Interval("int", 1),
    "arch_lr": Interval("real", 0, open_low=True),
    "arch_weight_decay": Interval("real", 0),
    "warmup_fraction": Interval("real", 0, 1, open_high=True),
    "validation_fraction": Interval("real", 0, 1, open_low=True, open_high=True),
    "mixed_precision": Options("auto", True, False),
    "cost": CostConstraint(),
    "latency_table": LatencyTableConstraint(),
}


@functools.cache
def cpu_has_bfloat16():
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX), as Linux reports
    it; unknown elsewhere, where it answers True so that no warning is wrong."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True
    return not {"avx512_bf16", "amx_bf16"}.isdisjoint(flags.split())


@dataclasses.dataclass
class SearchData:
    """One search's data on the estimator's device: the weight half trains the
    supernet's weights, the architecture half the structural parameters."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


#: The shape parameters of the default ("darts") space that the search estimators take.
DARTS_SHAPE_DEFAULTS = {"channels": 16, "n_cells": 3, "n_nodes": 4, "stem_multiplier": 3}


class SpaceParamsMixin:
    """The search space an estimator's ``search_space`` parameter names: ``"darts"``
    shaped by ``channels``, ``n_cells``, ``n_nodes`` and ``stem_multiplier``, or a space
    object, which carries its own shape (those then stay at their defaults)."""

    def _unbound_space(self):
        space = resolve_space(self.search_space)
        if isinstance(self.search_space, str):
            if isinstance(space, DartsSpace):
                space = DartsSpace(**{name: getattr(self, name) for name in DARTS_SHAPE_DEFAULTS})
            return space
        changed = [n for n, default in DARTS_SHAPE_DEFAULTS.items() if getattr(self, n) != default]
        if changed:
            raise ValueError(
                f"{', '.join(changed)} shape the 'darts' space by name; with a space object "
                f"({type(space).__name__}) set them on the object and leave these at their defaults"
            )
        return space

    def _search_space(self):
        """The search space, bound to the validated data's channels, classes and image size."""
        return self._unbound_space().bind(self.image_shape_[0], len(self.classes_), image_size=self.image_shape_[1:])


class SearchEstimatorMixin(SpaceParamsMixin):
    """The plumbing both search estimators (:class:`~skhypernas.HyperDARTSClassifier`
    and :class:`~skhypernas.DARTSClassifier`) share: their space, their settings, their
    data halves. Methods read the estimator's parameters, and no fitted state but what
    :meth:`NetworkClassifierMixin._validate_training_data` set."""

    def _search_settings(self, **fixed):
        """:class:`SearchSettings` from every parameter named like one of its fields
        (``max_epochs`` becomes ``epochs``); ``fixed`` sets the rest, or overrides.

        A new search setting therefore needs a field and a parameter of one name, and
        nothing here. ``mixed_precision="auto"`` is resolved for ``device_`` (bfloat16
        on CUDA only).
        """
        own = self.get_params(deep=False)
        params = {f.name: own[f.name] for f in dataclasses.fields(SearchSettings) if f.name in own}
        params["arch_betas"] = tuple(params["arch_betas"])
        mixed = self.mixed_precision
        params["mixed_precision"] = self.device_.type == "cuda" if mixed == "auto" else bool(mixed)
        if params["mixed_precision"] and self.device_.type == "cpu" and not cpu_has_bfloat16():
            warnings.warn(
                "mixed_precision=True on a CPU without bfloat16 instructions (AVX512-BF16 or AMX): "
                "bfloat16 is emulated there and the search runs slower than in float32; "
                "set mixed_precision=False",
                UserWarning,
                stacklevel=3,
            )
        return SearchSettings(epochs=self.max_epochs, **{**params, **fixed})

    def _fit_costs(self, space):
        """What ``cost`` and ``latency_table`` resolve to for ``space`` (bound to the data):
        a :class:`~skhypernas.costs.FitCosts`; sets ``cost_scale_`` and ``latency_table_``.

        Measuring a table draws no random numbers of the fit's (its own, forked)."""
        costs = resolve_fit_costs(
            self.cost, self.latency_table, space, self.image_shape_, len(self.classes_), self.device_
        )
        self.cost_scale_, self.latency_table_ = costs.scale, costs.table
        return costs

    def _search_data(self, X, y, rng):
        """Split validated rows and encoded labels into a :class:`SearchData`, stratified
        by ``validation_fraction``."""
        train_idx, val_idx = split_halves(y, self.validation_fraction, rng)
        x_all = self._image_tensor(X)
        y_all = torch.as_tensor(y, dtype=torch.long, device=self.device_)
        return SearchData(x_all[train_idx], y_all[train_idx], x_all[val_idx], y_all[val_idx])


def calibration_images(x_train, n_samples, rng):
    """``n_samples`` images of the weight half, drawn by ``rng``, that re-estimate the
    derived networks' batch-norm statistics."""
    return x_train[torch.as_tensor(rng.permutation(len(x_train))[:n_samples])]


@contextlib.contextmanager
def seeded_torch(rng, device, deterministic=False):
    """Run a fit's torch code from a seed drawn from ``rng``, leaving the caller's
    global torch generators and deterministic-algorithms flag as they were."""
    cuda = [device.index or 0] if device.type == "cuda" else []
    with TORCH_GLOBAL_STATE, torch.random.fork_rng(devices=cuda):
        previous = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(bool(deterministic) or previous)
        try:
            torch.manual_seed(rng.randint(2**31 - 1))
            yield
        finally:
            torch.use_deterministic_algorithms(previous)


def train_settings(estimator):
    """:class:`TrainSettings` from a training estimator's parameters of the same names.

    ``max_epochs`` becomes ``epochs``; a setting the estimator has no parameter for
    (``drop_path`` of a network without cells) keeps its default, off.
    """
    names = [f.name for f in dataclasses.fields(TrainSettings) if f.name != "epochs"]
    params = {name: getattr(estimator, name) for name in names if hasattr(estimator, name)}
    return TrainSettings(epochs=estimator.max_epochs, **params)


def fit_network(estimator, make_network, X, y, rng):
    """Build ``make_network()`` and train it on validated ``X, y`` as ``estimator`` says.

    The one training path of the estimators that train a fixed network: the network
    is built under the fit's torch seed (so its initial weights repeat), moved to
    ``estimator.device_`` and trained by :func:`~skhypernas.training.train_network`
    with :func:`train_settings`, its ``max_time`` budget included.

    Returns the trained network (in eval mode) and its per-epoch history.
    """
    with seeded_torch(rng, estimator.device_):
        net = _to_device(make_network(), estimator.device_)
        labels = torch.as_tensor(y, dtype=torch.long, device=estimator.device_)
        reporter = Reporter(estimator.verbose, estimator.max_epochs, "training", estimator.max_time)
        history = train_network(net, estimator._image_tensor(X), labels, train_settings(estimator), rng, reporter)
    return net, history


class NetworkClassifierMixin(ClassifierMixin, BaseEstimator):
    """Base of the estimators that predict with a torch network held in ``network_``.

    Subclasses call :meth:`_validate_training_data` at the start of ``fit`` and set
    ``network_`` (in eval mode); prediction, its batching and its input checks come
    from here.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Besides 2-D rows, (n, H, W) and (n, C, H, W) image arrays are accepted.
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags

    def _validate_training_data(self, X, y):
        """Check X and y; set ``classes_``, ``n_features_in_``, ``image_shape_`` and ``device_``.

        Returns the rows as a 2-D float array and the labels encoded as 0..n_classes-1.
        """
        X, input_shape = flatten_images(X)
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64], ensure_min_samples=2)
        kinds = {type(v).__name__ for v in y} if y.dtype == object else ()
        if len(kinds) > 1:
            raise TypeError(f"y mixes label types ({', '.join(sorted(kinds))}); use labels of one type")
        check_classification_targets(y)
        self.classes_, y = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y has a single class ({self.classes_[0]!r}); a classifier needs at least two")
        self.image_shape_ = resolve_image_shape(self.image_shape, X.shape[1], input_shape)
        self.device_ = resolve_device(self.device)
        return X, y

    def _image_tensor(self, X):
        """Validated rows as a float32 image batch on ``device_``."""
        # torch cannot share read-only memory (memmaps, frozen arrays): copy those only.
        images = np.require(X, np.float32, ["W"]).reshape(len(X), *self.image_shape_)
        return _to_device(torch.as_tensor(images), self.device_)

    def _prediction_network(self):
        """The network that ``predict`` runs (subclasses may derive it first)."""
        check_is_fitted(self)
        return self.network_

    def _to_images(self, X):
        check_is_fitted(self)
        X, input_shape = flatten_images(X)
        if input_shape is not None and tuple(input_shape) != self.image_shape_:
            raise ValueError(f"X has images of shape {tuple(input_shape)}; the model was fitted on {self.image_shape_}")
        return validate_data(self, X, reset=False, dtype=[np.float32, np.float64])

    def predict_proba(self, X):
        """Class probabilities from the fitted network ``network_``, in its inference
        form (:func:`~skhypernas.inference.fold_batch_norms`).

        Runs in batches of at most ``PREDICT_BATCH_VALUES`` input values and
        ``PREDICT_BATCH_IMAGES`` images, so memory stays bounded for any number of rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or images

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        X = self._to_images(X)
        out = np.empty((len(X), len(self.classes_)))
        # Rows become float32 images one batch at a time, so memory holds the input,
        # the output and one batch's activations, whatever the number of rows.
        size = predict_batch_size(self.image_shape_)
        # Batch norms folded into their convolutions: the same function, one pass less
        # per folded activation (a copy; network_ stays trainable).
        network = inference_network(self._prediction_network())
        with torch.inference_mode():
            for start in range(0, len(X), size):
                batch = torch.as_tensor(np.require(X[start : start + size], np.float32, ["W"]))
                logits = network(_to_device(batch.reshape(len(batch), *self.image_shape_), self.device_))
                out[start : start + size] = torch.softmax(logits.double(), 1).cpu().numpy()
        return out

    def predict(self, X):
        """Class labels from the fitted network ``network_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or images

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)  # first, so an unfitted estimator raises NotFittedError
        return self.classes_[proba.argmax(axis=1)]


class SavedNetworkMixin(persistence.PersistenceMixin):
    """Fitted state of classifiers whose model is ``network_``: its weights are stored
    beside ``_network_spec()`` (plain values), and ``_empty_network(spec)`` rebuilds
    the module from them."""

    def _network_spec(self):
        raise NotImplementedError

    def _empty_network(self, spec):
        raise NotImplementedError

    def _fitted_state(self):
        state = {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}
        for name in ("network_", "search_space_"):
            state.pop(name, None)
        state["config"] = self._network_spec()
        state["network_"] = dict(self.network_.state_dict())
        return state

    def _restore_fitted_state(self, state):
        spec, weights = state.pop("config"), state.pop("network_")
        vars(self).update(state)
        with torch.device("meta"):
            net = self._empty_network(spec)
        net.load_state_dict(weights, assign=True)
        self.network_ = _to_device(net, self.device_).eval()
