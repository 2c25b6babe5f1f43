"""The plain CNN a user would write instead of searching: the reference to beat.

:class:`PlainCNN` is the torch module (the benchmarks' reference);
:class:`PlainCNNClassifier` trains it as a scikit-learn estimator with the same
training code, time budget, prediction and persistence as
:class:`~skhypernas.ArchitectureClassifier`, so that the experiment compares the
searched networks with it under one set of rules. It is a reference of the
experiment, not a citizen of the search space.
"""

import numpy as np
from sklearn.utils import check_random_state
from torch import nn

from . import persistence
from ._base import TRAINING_CONSTRAINTS, NetworkClassifierMixin, SavedNetworkMixin, fit_network
from ._params import Interval, check_params


class PlainCNN(nn.Sequential):
    """Conv3x3-BN-ReLU twice at ``width``, max-pool, twice at ``2 * width``, max-pool,
    global average pooling and a linear layer.

    At ``width=16`` it has 16,794 parameters and at 32 65,834 (one input channel, ten
    classes): the references of ``benchmarks/bench_derived.py``.

    Parameters
    ----------
    width : int
    in_channels : int, default=1
    n_classes : int, default=10
    """

    def __init__(self, width, in_channels=1, n_classes=10):
        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        super().__init__(
            *block(in_channels, width),
            *block(width, width),
            nn.MaxPool2d(2),
            *block(width, 2 * width),
            *block(2 * width, 2 * width),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(2 * width, n_classes),
        )


def plain_cnn_parameters(width, in_channels=1, n_classes=10):
    """Trainable parameters of ``PlainCNN(width, in_channels, n_classes)``, without building it.

    Four bias-free 3x3 convolutions (``9 * in * out`` each), their batch norms (``2 * out``)
    and the linear head (``2 * width * n_classes + n_classes``).

    Parameters
    ----------
    width : int
    in_channels : int, default=1
    n_classes : int, default=10

    Returns
    -------
    int
    """
    w = width
    convs = 9 * (in_channels * w + w * w + w * 2 * w + 2 * w * 2 * w)
    norms = 2 * (w + w + 2 * w + 2 * w)
    return convs + norms + 2 * w * n_classes + n_classes


def plain_cnn_widths(low, high, count, in_channels=1, n_classes=10):
    """Widths whose parameter counts spread geometrically over ``[low, high]``.

    Parameters
    ----------
    low, high : int
        Parameter counts of the narrowest and the widest network wanted.
    count : int
        Widths wanted (fewer where neighbours round to the same width).
    in_channels, n_classes : int, default=1, 10

    Returns
    -------
    list of int
        Sorted, distinct, each at least 1.
    """
    candidates = np.arange(1, 513)
    counts = np.array([plain_cnn_parameters(w, in_channels, n_classes) for w in candidates])
    targets = np.geomspace(low, high, count)
    return sorted({int(candidates[np.argmin(np.abs(np.log(counts / t)))]) for t in targets})


@persistence.register
class PlainCNNClassifier(SavedNetworkMixin, NetworkClassifierMixin):
    """A :class:`PlainCNN` of a given width, trained like
    :class:`~skhypernas.ArchitectureClassifier` trains a searched architecture.

    Cosine-annealed SGD with momentum, weight decay and gradient clipping, optional
    cutout, and the same ``max_time`` budget: the experiment's reference "what a user
    writes instead of searching", held to the same per-model rules as the searched
    networks. Its inputs are images at least 4 pixels high and wide (two 2x2
    max-pools).

    Parameters
    ----------
    width : int, default=16
        Channels of the first two convolutions; the last two have twice as many.
        16 gives 16,794 parameters and 32 65,834 on one-channel images with ten
        classes (:func:`plain_cnn_parameters`).
    max_epochs : int, default=100
        Training epochs over all of ``X``.
    batch_size : int, default=96
    lr, lr_min : float, default=0.025, 0.0
        SGD learning rate, cosine-annealed per step from ``lr`` to ``lr_min``.
    momentum, weight_decay, grad_clip : float, default=0.9, 3e-4, 5.0
    cutout : int, default=0
        Side in pixels of a square zeroed at a random place of every training image
        (0 turns it off).
    image_shape : tuple or None, default=None
        ``(H, W)`` or ``(C, H, W)`` of flat rows, as in HyperDARTSClassifier.
    max_time : float or None, default=None
        Wall-clock budget of the training in seconds; the learning rate follows the
        larger of the steps' and the time's fraction, so a run the budget ends is
        annealed (``max_epochs`` then only bounds it).
    device : str, default="auto"
        "auto" uses CUDA when available.
    random_state : int, RandomState or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    image_shape_ : tuple (C, H, W)
    n_parameters_ : int
        Trainable parameters of the network.
    network_ : PlainCNN
        The trained network, in eval mode.
    history_ : list of dict
        Per epoch: training loss and accuracy, learning rate, seconds.
    device_ : torch.device
    """

    _constraints = {
        **{k: v for k, v in TRAINING_CONSTRAINTS.items() if k not in ("channels", "n_cells", "stem_multiplier")},
        "width": Interval("int", 1),
        "cutout": Interval("int", 0),
    }

    def __init__(
        self,
        width=16,
        *,
        max_epochs=100,
        batch_size=96,
        lr=0.025,
        lr_min=0.0,
        momentum=0.9,
        weight_decay=3e-4,
        grad_clip=5.0,
        cutout=0,
        image_shape=None,
        max_time=None,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.width = width
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_min = lr_min
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.cutout = cutout
        self.image_shape = image_shape
        self.max_time = max_time
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _network_spec(self):
        return dict(width=self.width, in_channels=self.image_shape_[0], n_classes=len(self.classes_))

    def _empty_network(self, spec):
        return PlainCNN(**spec)

    def fit(self, X, y):
        """Train the network on all of ``X, y``.

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
        X, y = self._validate_training_data(X, y)
        if min(self.image_shape_[1:]) < 4:
            raise ValueError(
                f"PlainCNNClassifier needs images at least 4x4 (two 2x2 max-pools); got {self.image_shape_}"
            )
        self.network_, self.history_ = fit_network(self, lambda: PlainCNN(**self._network_spec()), X, y, rng)
        self.n_parameters_ = plain_cnn_parameters(self.width, self.image_shape_[0], len(self.classes_))
        return self
