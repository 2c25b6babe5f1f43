"""What a search space is to the rest of the package: the seam every space implements.

The search loop, the hypernetwork, the exact complexity path, persistence and the
estimators know architectures only through this interface. A space is a small,
immutable description (a frozen dataclass) of a family of networks; :meth:`bind`
completes it with what only the data tell (input channels, classes), and the bound
space then builds modules and prices architectures.

Architecture parameters: a space's ``alpha`` has the shape :attr:`arch_shape`,
``(..., n_choices)``: every leading position is one decision among ``n_choices``
options, and an architecture is the argmax of every decision. The hypernetwork
outputs that shape, the relaxation samples over its last axis, and the exact path
works on any such shape (the envelope of piecewise-linear logits per decision).

Architectures are immutable values tagged with their space: they compare, hash,
and turn into JSON (``to_json()``, a dict holding ``"space": name``) and back
(:func:`as_architecture`).

Costs are the space's to compute: :meth:`SearchSpace.cost` (exact, of a derived
network) and :meth:`SearchSpace.expected_cost` (differentiable in ``alpha``, the
regulariser) for every kind of :data:`COST_KINDS` and for a latency table
(:class:`~skhypernas.latency.LatencyTable`), whose entries the space names
(:meth:`SearchSpace.latency_entries`).
"""

import abc
import dataclasses
import json

import numpy as np

#: Space classes by name; a space joins with :func:`register_space`.
SPACES = {}
#: Architecture classes by the name of their space.
ARCHITECTURES = {}
#: The costs every space computes by name; a latency table is the third kind.
COST_KINDS = ("params", "flops")


def register_space(space_class):
    """Class decorator: ``search_space=space_class.name`` builds it, and its
    architectures (``space_class.architecture_class``) load by their tag."""
    SPACES[space_class.name] = space_class
    ARCHITECTURES[space_class.name] = space_class.architecture_class
    return space_class


class SearchSpace(abc.ABC):
    """A family of networks whose members differ by discrete choices.

    Subclasses are frozen dataclasses (hashable, comparable, safe to pass as an
    estimator parameter) with a class attribute ``name`` and ``architecture_class``.
    Everything below a bound space (:meth:`bind`) works on tensors of
    :attr:`arch_shape`.
    """

    #: The name ``search_space=`` takes and architectures carry.
    name = None
    #: The class of this space's architectures.
    architecture_class = None

    # -- shape ------------------------------------------------------------------

    @abc.abstractmethod
    def bind(self, in_channels, n_classes, image_size=None):
        """This space for data of ``in_channels`` channels and ``n_classes`` classes.

        ``image_size`` is the input's ``(height, width)``: the FLOPs and the latency
        entries depend on it, the modules need not (a space keeps it, ``None`` before
        it is known).
        """

    @property
    @abc.abstractmethod
    def arch_shape(self):
        """Shape of the architecture parameters, ``(..., n_choices)``."""

    # -- networks ---------------------------------------------------------------

    @abc.abstractmethod
    def supernet(self):
        """A fresh supernet: ``forward(x, weights, choices=None)``.

        ``weights`` has :attr:`arch_shape`, with a batch axis in front when every
        example has its own mixture; ``choices`` (``arch_shape[:-1]`` indices) runs
        only the chosen option of every decision.
        """

    @abc.abstractmethod
    def derive(self, supernet, architecture):
        """The network of ``architecture`` with every weight inherited from ``supernet``."""

    @abc.abstractmethod
    def build(self, architecture):
        """The network of ``architecture`` with fresh weights."""

    def fold(self, network):
        """``network``'s inference form: batch norms folded into the convolutions before them."""
        from ..inference import fold_batch_norms

        return fold_batch_norms(network)

    # -- architectures ----------------------------------------------------------

    @abc.abstractmethod
    def architecture(self, choices):
        """The architecture of one option index per decision (an ``arch_shape[:-1]`` array)."""

    @abc.abstractmethod
    def choices(self, architecture):
        """Inverse of :meth:`architecture`: an int array of shape ``arch_shape[:-1]``."""

    @abc.abstractmethod
    def random_architecture(self, rng, **options):
        """An architecture drawn with ``rng`` (a ``numpy.random.RandomState``)."""

    def option_mask(self):
        """Which options each decision may take: a bool array of :attr:`arch_shape`, or
        None (the default) where every decision may take every option. The
        hypernetwork never gives a blocked option weight, so searches and paths skip it."""
        return None

    def argmax_architecture(self, alpha):
        """The architecture that keeps the largest logit of every decision of ``alpha``."""
        return self.architecture(np.asarray(alpha).argmax(axis=-1))

    # -- costs --------------------------------------------------------------------
    #
    # ``kind`` is "params" (trainable parameters), "flops" (multiply-accumulates per
    # image, at the bound image size) or a latency table (predicted milliseconds per
    # image: the sum of the table's entries that the network runs).

    @abc.abstractmethod
    def cost(self, architecture, kind):
        """The exact cost of the derived network of ``architecture``.

        ``kind``: "params", "flops" or a :class:`~skhypernas.latency.LatencyTable`
        (see :func:`check_cost_kind`).
        """

    @abc.abstractmethod
    def expected_cost(self, alpha, kind):
        """``E[cost]`` under ``softmax(alpha)``, differentiable in ``alpha``: the
        complexity regulariser. Leading axes beyond :attr:`arch_shape` are a batch.

        Only its gradient matters, so a space may leave out a constant that every
        architecture pays (the DARTS cells leave out stem, preprocessing and
        classifier); at one-hot ``alpha`` it is :meth:`cost` less that constant.
        """

    @abc.abstractmethod
    def latency_entries(self):
        """What a latency table of this bound space times: a list of
        :class:`~skhypernas.latency.LatencyEntry`, each a module at its input shape
        and memory layout as the derived networks run it: every candidate operation at
        its shape, and the parts every network has. :meth:`cost` with a table sums the
        entries of the network it prices; keys that repeat are timed once.
        """

    def n_parameters(self, architecture):
        """Trainable parameters of the network of ``architecture``: ``cost(architecture, "params")``."""
        return int(self.cost(architecture, "params"))

    def expected_parameters(self, alpha):
        """``E[parameters]`` under ``softmax(alpha)``: ``expected_cost(alpha, "params")``."""
        return self.expected_cost(alpha, "params")

    def collapsed(self, architecture):
        """Whether ``architecture`` is a collapsed search's: its searched part carries no
        parameters where it must (for the DARTS cells, a cell type whose kept edges are
        all parameter-free), so its network is little more than the fixed parts.

        Differentiable searches drift there under a complexity term (and DARTS even
        without one); the experiment marks such results instead of reading them as
        small networks. A space that cannot tell returns None (the default).
        """
        return None

    # -- persistence ----------------------------------------------------------------

    def to_dict(self):
        """The space as plain values, tagged with its name (see :func:`space_from_dict`)."""
        return {"name": self.name, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict` without the name; a space whose fields grew reads
        older dicts here."""
        return cls(**data)


def check_cost_kind(kind):
    """``kind`` if a space can price it: a name of :data:`COST_KINDS` or a latency table.

    Parameters
    ----------
    kind : str or LatencyTable

    Returns
    -------
    str or LatencyTable

    Raises
    ------
    ValueError
        For another name.
    TypeError
        For anything else.
    """
    from ..latency import LatencyTable

    if isinstance(kind, str):
        if kind not in COST_KINDS:
            raise ValueError(f"unknown cost kind {kind!r}; a space prices {COST_KINDS} or a LatencyTable")
        return kind
    if isinstance(kind, LatencyTable):
        return kind
    raise TypeError(f"a cost kind is one of {COST_KINDS} or a LatencyTable; got {type(kind).__name__}")


def space_from_dict(data):
    """Inverse of :meth:`SearchSpace.to_dict`."""
    data = dict(data)
    name = data.pop("name", None)
    if name not in SPACES:
        raise ValueError(f"unknown search space {name!r}; known: {sorted(SPACES)}")
    return SPACES[name].from_dict(data)


def resolve_space(search_space):
    """A :class:`SearchSpace` from a name of :data:`SPACES` or a space object.

    Parameters
    ----------
    search_space : str or SearchSpace

    Returns
    -------
    SearchSpace
        Not yet bound to data (:meth:`SearchSpace.bind`).

    Raises
    ------
    ValueError
        For an unknown name.
    TypeError
        For anything else.
    """
    if isinstance(search_space, SearchSpace):
        return search_space
    if isinstance(search_space, str):
        if search_space not in SPACES:
            raise ValueError(f"search_space={search_space!r} is not a known space; known: {sorted(SPACES)}")
        return SPACES[search_space]()
    raise TypeError(f"search_space must be a space name or a SearchSpace object; got {type(search_space).__name__}")


def as_architecture(value):
    """An architecture from an architecture, its JSON text, or its dict.

    A dict or JSON without a ``"space"`` tag is a DARTS genotype (the format before
    spaces were tagged).

    Parameters
    ----------
    value : architecture, str or dict

    Returns
    -------
    architecture
        An instance of its space's ``architecture_class``.

    Raises
    ------
    TypeError
        For any other type.
    ValueError
        For malformed JSON, an unknown space or an invalid architecture.
    """
    if any(isinstance(value, cls) for cls in ARCHITECTURES.values()):
        return value
    if not isinstance(value, (str, dict)):
        raise TypeError(
            f"an architecture must be one of a space's architectures, its JSON text or a dict; "
            f"got {type(value).__name__}"
        )
    try:
        data = json.loads(value) if isinstance(value, str) else dict(value)
        name = data.pop("space", "darts")
        if name not in ARCHITECTURES:
            raise ValueError(f"unknown search space {name!r}; known: {sorted(ARCHITECTURES)}")
        return ARCHITECTURES[name].from_dict(data)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"not a valid architecture ({type(exc).__name__}: {exc})") from None
