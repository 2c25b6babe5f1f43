"""The baselines of the experiment, as scikit-learn estimators.

- :class:`ArchitectureClassifier` trains a given architecture (a genotype, of any search
  space) from scratch (the authors' retraining step), or fine-tunes it from a search;
- :class:`RandomArchitectureClassifier` draws an architecture at random and trains it
  the same way;
- :class:`~skhypernas.DARTSClassifier` (:mod:`skhypernas.darts_classifier`) is plain
  DARTS (softmax relaxation, one free alpha), with an optional fixed complexity term,
  run by the same search code as :class:`~skhypernas.HyperDARTSClassifier`; it keeps
  its supernet, which :class:`ArchitectureClassifier` fine-tunes from.

None of them holds a training loop: they hand over to :mod:`skhypernas.training` and
:mod:`skhypernas.search`.
"""

import numpy as np
import torch
from sklearn.utils import check_random_state

from . import persistence
from ._base import (
    TRAINING_CONSTRAINTS,
    NetworkClassifierMixin,
    SavedNetworkMixin,
    SpaceConstraint,
    SpaceParamsMixin,
    fit_network,
)
from ._params import Interval, check_params
from .spaces import SPACES, DartsSpace, SearchSpace, as_architecture, resolve_space, space_from_dict


def as_genotype(value):
    """An architecture of any search space from itself, its JSON text, or its dict
    (a DARTS genotype's: ``{"normal", "reduce"}``).

    Raises
    ------
    TypeError
        For any other type.
    ValueError
        For malformed JSON, missing cells, unknown operations or impossible inputs.
    """
    try:
        return as_architecture(value)
    except TypeError:
        raise TypeError(
            f"genotype must be an architecture (a Genotype), its JSON text or a dict; got {type(value).__name__}"
        ) from None
    except ValueError as exc:
        raise ValueError(f"genotype is {exc}") from None


_TRAINING_CONSTRAINTS = {
    **TRAINING_CONSTRAINTS,
    "cutout": Interval("int", 0),
    "drop_path": Interval("real", 0, 1, open_high=True),
}


class _ArchitectureNetworkMixin(SavedNetworkMixin):
    """Saved state of classifiers whose ``network_`` is the network of ``genotype_`` in
    ``search_space_``: the space is stored as the network's spec."""

    def _network_spec(self):
        return self.search_space_.to_dict()

    def _empty_network(self, spec):
        # Files written before search spaces hold a DARTS network's config, untagged.
        self.search_space_ = space_from_dict(spec) if "name" in spec else DartsSpace(**spec)
        return self.search_space_.build(self.genotype_)


class _TrainedArchitecture(_ArchitectureNetworkMixin, NetworkClassifierMixin):
    """Fit = choose an architecture (``_choose_genotype``), then train its network."""

    _constraints = _TRAINING_CONSTRAINTS

    def _choose_genotype(self, rng):
        raise NotImplementedError

    def _network_space(self, genotype):
        """The search space, bound to the data, that builds ``genotype``'s network."""
        raise NotImplementedError

    def _initial_network(self, genotype, space):
        """The network training starts from: fresh weights."""
        return space.build(genotype)

    def fit(self, X, y):
        """Train the architecture's network on all of ``X, y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        check_params(self, self._constraints)
        rng = check_random_state(self.random_state)
        genotype = self._choose_genotype(rng)
        X, y = self._validate_training_data(X, y)
        space = self._network_space(genotype)
        net, self.history_ = fit_network(self, lambda: self._initial_network(genotype, space), X, y, rng)
        self.network_ = net
        self.genotype_ = genotype
        self.search_space_ = space
        self.n_parameters_ = space.n_parameters(genotype)
        return self


_SHAPE_PARAMS_DOC = """channels : int, default=16
        Width of the first cell; each reduction cell doubles it.
    n_cells : int, default=3
        Cells in the network; reduction cells sit at 1/3 and 2/3 of the depth.
    stem_multiplier : int, default=3"""

_TRAINING_PARAMS_DOC = """max_epochs : int, default=100
        Training epochs over all of ``X``.
    batch_size : int, default=96
    lr, lr_min : float, default=0.025, 0.0
        SGD learning rate, cosine-annealed per step from ``lr`` to ``lr_min``.
    momentum, weight_decay, grad_clip : float, default=0.9, 3e-4, 5.0
    cutout : int, default=0
        Side in pixels of a square zeroed at a random place of every training image
        (the authors used it; 0 turns it off).
    drop_path : float, default=0.0
        Drop-path probability of the cells' non-identity edges, ramped linearly from 0
        over the run (the authors used it; 0 turns it off).
    image_shape : tuple or None, default=None
        ``(H, W)`` or ``(C, H, W)`` of flat rows, as in HyperDARTSClassifier.
    max_time : float or None, default=None
        Wall-clock budget of the training in seconds. Training stops after the step
        that spends it, and the learning rate and drop-path follow the larger of the
        steps' and the time's fraction, so a run the budget cuts short still ends
        annealed (``max_epochs`` then only bounds it). None: the epochs alone, for
        exact reproduction.
    device : str, default="auto"
        "auto" uses CUDA when available.
    random_state : int, RandomState or None, default=None
    verbose : int, default=0
        0 is silent; 1 shows a progress bar and a line per epoch."""

_FITTED_DOC = """classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    image_shape_ : tuple (C, H, W)
    genotype_ : Genotype or another space's architecture
        The trained architecture.
    search_space_ : SearchSpace
        Its search space, bound to the data's channels and classes.
    n_parameters_ : int
        Trainable parameters of its network.
    network_ : torch.nn.Module
        The trained :class:`~skhypernas.derived.DerivedNetwork`, in eval mode.
    history_ : list of dict
        Per epoch: training loss and accuracy, learning rate, drop-path, seconds.
    device_ : torch.device"""


def _is_supernet(value):
    return isinstance(value, torch.nn.Module) and isinstance(getattr(value, "space", None), SearchSpace)


def _supernet_of(init):
    """The supernet that ``init`` (a supernet, or a fitted search estimator's ``supernet_``) holds."""
    if _is_supernet(init):
        return init
    supernet = getattr(init, "supernet_", None)
    if _is_supernet(supernet):
        return supernet
    if hasattr(init, "fit") and hasattr(init, "genotype_"):
        raise ValueError(
            f"init={type(init).__name__}(...) is fitted but holds no supernet_ to start from (a model saved "
            "before DARTSClassifier kept its supernet); pass genotype=init.genotype_ without init to train "
            "it from scratch"
        )
    if hasattr(init, "fit"):
        raise ValueError(
            f"init={type(init).__name__}(...) is not fitted. Fit it first; inside GridSearchCV, "
            "cross_validate or clone, which refit unfitted copies of every estimator parameter, "
            "pass sklearn.frozen.FrozenEstimator(fitted) or fitted.supernet_ instead"
        )
    raise TypeError(
        "init must be a fitted HyperDARTSClassifier or DARTSClassifier (or a FrozenEstimator of one) "
        "or its supernet_; "
        f"got {type(init).__name__}"
    )


@persistence.register
class ArchitectureClassifier(_TrainedArchitecture):
    __doc__ = f"""Train a given architecture: from scratch (the authors' retraining
    step), or fine-tune it from a search's weights.

    Builds the discrete network of ``genotype`` (stem, ``n_cells`` cells, classifier)
    and trains it with cosine-annealed SGD, weight decay and gradient clipping; cutout
    and drop-path are options. The defaults are the authors' from-scratch setting (100
    epochs, batch 96, lr 0.025), a GPU-sized run.

    With ``init``, the network starts from the weights a search trained instead
    (:meth:`DerivedNetwork.from_supernet
    <skhypernas.derived.DerivedNetwork.from_supernet>`) and its shape is the search
    network's: fine-tuning. The search trained those weights on half of the data
    (the other half steered the architecture) and in a mixture of architectures, so
    a few epochs over all of ``X`` usually lift the accuracy well above the inherited
    weights'. It costs one training run of ``max_epochs`` over ``X``, like training
    from scratch, but needs far fewer epochs::

        search = HyperDARTSClassifier(channels=8).fit(X, y).set_complexity(1e-6)
        tuned = ArchitectureClassifier(init=search, max_epochs=3, lr=0.01).fit(X, y)

    Parameters
    ----------
    genotype : Genotype, str, dict or None, default=None
        The architecture, of any search space: a :class:`~skhypernas.Genotype` (the
        DARTS cells') or another space's architecture, its ``to_json()`` text, or its
        dict (for a Genotype, ``"normal"`` and ``"reduce"`` cells; its number of
        nodes sets the network's). None takes ``init.genotype_`` (the search's
        architecture at its chosen complexity); without ``init`` it is required.
    init : estimator, supernet or None, default=None
        Start from the weights of a search: a fitted
        :class:`~skhypernas.HyperDARTSClassifier` or
        :class:`~skhypernas.DARTSClassifier`, or its ``supernet_``. scikit-learn's
        ``clone`` (and so ``GridSearchCV`` and ``cross_validate``) refits unfitted
        copies of estimator parameters: there, pass
        ``sklearn.frozen.FrozenEstimator(search)`` or ``search.supernet_``. ``save``
        keeps the fine-tuned weights, not ``init``.
    search_space : SearchSpace or None, default=None
        The space that builds ``genotype``'s network. None: the space its tag names
        (for a Genotype, the DARTS cells shaped by the three parameters below), or
        ``init``'s.
    channels, n_cells, stem_multiplier : int or None, default=None
        The DARTS cells' shape: width of the first cell (each reduction cell doubles
        it), number of cells (reduction cells at 1/3 and 2/3 of the depth), stem width
        multiplier. None is 16, 3 and 3, or ``init``'s; a value that differs from
        ``init``'s is an error.
    {_TRAINING_PARAMS_DOC}

    Attributes
    ----------
    {_FITTED_DOC}
    """

    _constraints = {
        **_TRAINING_CONSTRAINTS,
        "search_space": SpaceConstraint(none_ok=True),
        "channels": Interval("int", 1, none_ok=True),
        "n_cells": Interval("int", 1, none_ok=True),
        "stem_multiplier": Interval("int", 1, none_ok=True),
    }
    _SHAPE_DEFAULTS = {"channels": 16, "n_cells": 3, "stem_multiplier": 3}

    def __init__(
        self,
        genotype=None,
        *,
        init=None,
        search_space=None,
        channels=None,
        n_cells=None,
        stem_multiplier=None,
        max_epochs=100,
        batch_size=96,
        lr=0.025,
        lr_min=0.0,
        momentum=0.9,
        weight_decay=3e-4,
        grad_clip=5.0,
        cutout=0,
        drop_path=0.0,
        image_shape=None,
        max_time=None,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.genotype = genotype
        self.init = init
        self.search_space = search_space
        self.channels = channels
        self.n_cells = n_cells
        self.stem_multiplier = stem_multiplier
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_min = lr_min
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.cutout = cutout
        self.drop_path = drop_path
        self.image_shape = image_shape
        self.max_time = max_time
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _choose_genotype(self, rng):
        if self.init is not None:
            _supernet_of(self.init)  # a clear error for a wrong init before anything else
        if self.genotype is not None:
            return as_genotype(self.genotype)
        if self.init is not None and getattr(self.init, "genotype_", None) is not None:
            return self.init.genotype_
        raise ValueError(
            "ArchitectureClassifier needs a genotype (a Genotype, its JSON text or a dict), "
            "or an init search estimator whose genotype_ it takes"
        )

    def _network_space(self, genotype):
        shape = {name: getattr(self, name) for name in self._SHAPE_DEFAULTS if getattr(self, name) is not None}
        data = {"in_channels": self.image_shape_[0], "n_classes": len(self.classes_)}
        if self.init is None and self.search_space is None:
            return SPACES[genotype.space].for_architecture(genotype, **shape).bind(**data)
        if self.init is None:
            if shape:
                raise ValueError(f"{', '.join(shape)} shape the DARTS cells by name; set them on search_space")
            space = resolve_space(self.search_space).bind(**data)
            if genotype.space != space.name or space.choices(genotype).shape != space.arch_shape[:-1]:
                raise ValueError(f"the genotype is not an architecture of search_space {space}: {genotype}")
            return space
        if self.search_space is not None:
            raise ValueError("init brings its search space; leave search_space at None")
        space = _supernet_of(self.init).space
        for name, value in shape.items():
            if value != getattr(space, name, None):
                raise ValueError(f"{name}={value} differs from init's {name}={getattr(space, name, None)}")
        for name, value in data.items():
            if value != getattr(space, name):
                raise ValueError(f"init's search network has {name}={getattr(space, name)}; this fit needs {value}")
        if genotype.space != space.name or space.choices(genotype).shape != space.arch_shape[:-1]:
            raise ValueError(f"the genotype is not an architecture of init's search space {space}: {genotype}")
        init_classes = getattr(self.init, "classes_", None)
        if init_classes is not None and not np.array_equal(init_classes, self.classes_):
            raise ValueError(f"y has classes {self.classes_.tolist()}; init was fitted on {init_classes.tolist()}")
        return space

    def _initial_network(self, genotype, space):
        if self.init is None:
            return space.build(genotype)
        return space.derive(_supernet_of(self.init), genotype)


@persistence.register
class RandomArchitectureClassifier(SpaceParamsMixin, _TrainedArchitecture):
    __doc__ = f"""Train an architecture drawn at random: the random-search baseline.

    ``fit`` draws an architecture of ``search_space`` from ``random_state`` (for the
    DARTS cells :meth:`Genotype.random <skhypernas.Genotype.random>`: every edge picks
    an operation; ``none`` drops it) and trains it exactly like
    :class:`ArchitectureClassifier`. ``p_parameter_free`` is the chance that an edge
    draws a parameter-free operation; varying it, as the authors did, spreads random
    models over the whole parameter range.

    Parameters
    ----------
    search_space : "darts" or SearchSpace, default="darts"
        The space to draw from: ``"darts"``, shaped by ``n_nodes``, ``channels``,
        ``n_cells`` and ``stem_multiplier``, or a
        :class:`~skhypernas.spaces.SearchSpace` object, which carries its own shape.
    n_nodes : int, default=4
        Intermediate nodes per cell.
    p_parameter_free : float in [0, 1], default=0.5
        Probability that an edge draws among the parameter-free operations
        (``none``, pools, and skip connections where they have no weights); 1 gives
        cells without any convolution, 0 cells of convolutions only.
    {_SHAPE_PARAMS_DOC}
    {_TRAINING_PARAMS_DOC}

    Attributes
    ----------
    {_FITTED_DOC}
    """

    _constraints = {
        **_TRAINING_CONSTRAINTS,
        "search_space": SpaceConstraint(),
        "n_nodes": Interval("int", 1),
        "p_parameter_free": Interval("real", 0, 1),
    }

    def __init__(
        self,
        *,
        search_space="darts",
        n_nodes=4,
        p_parameter_free=0.5,
        channels=16,
        n_cells=3,
        stem_multiplier=3,
        max_epochs=100,
        batch_size=96,
        lr=0.025,
        lr_min=0.0,
        momentum=0.9,
        weight_decay=3e-4,
        grad_clip=5.0,
        cutout=0,
        drop_path=0.0,
        image_shape=None,
        max_time=None,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.search_space = search_space
        self.n_nodes = n_nodes
        self.p_parameter_free = p_parameter_free
        self.channels = channels
        self.n_cells = n_cells
        self.stem_multiplier = stem_multiplier
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_min = lr_min
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.cutout = cutout
        self.drop_path = drop_path
        self.image_shape = image_shape
        self.max_time = max_time
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _choose_genotype(self, rng):
        return self._unbound_space().random_architecture(rng, p_parameter_free=self.p_parameter_free)

    def _network_space(self, genotype):
        return self._search_space()
