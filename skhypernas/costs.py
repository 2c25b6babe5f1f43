"""Cost models: what ``lambda`` prices in the regulariser ``lambda * E[cost]``, and on what scale.

A cost model has two methods, both given the fitted (bound) search space:

- ``cost(space, architecture)``: the cost of the architecture's derived network, a
  number (the path's column ``cost`` for a user's model);
- ``expected_cost(space, alpha)``: its expectation under ``softmax(alpha)``, a
  tensor differentiable in ``alpha`` (leading axes beyond ``space.arch_shape`` are a
  batch; a constant every architecture pays may be left out).

``cost="params"``, ``"flops"`` and ``"latency"`` are :class:`SpaceCost` models: the
space computes them (:meth:`~skhypernas.spaces.SearchSpace.cost`). Parameters are
priced as they are; every other cost is multiplied by :func:`cost_scale`, which puts
it in *parameter-equivalents*, so that one ``lambda_range`` spans every cost's family.
"""

import dataclasses

import numpy as np
import torch

from .hypernet import MASKED
from .latency import LatencyTable, as_latency_table, measure_latency_table

#: The costs the estimators' ``cost=`` names; the space computes each.
COST_NAMES = ("params", "flops", "latency")
#: The path's column of each named cost.
COST_COLUMNS = {"params": "n_parameters", "flops": "n_flops", "latency": "latency_ms"}


class SpaceCost:
    """A cost the search space computes: ``"params"``, ``"flops"`` or a latency table.

    Parameters
    ----------
    kind : str or LatencyTable
        What :meth:`~skhypernas.spaces.SearchSpace.cost` prices.
    """

    def __init__(self, kind):
        self.kind = kind

    def cost(self, space, architecture):
        """The exact cost of ``architecture``'s derived network."""
        return space.cost(architecture, self.kind)

    def expected_cost(self, space, alpha):
        """``E[cost]`` under ``softmax(alpha)``, differentiable in ``alpha``."""
        return space.expected_cost(alpha, self.kind)

    def __repr__(self):
        return f"SpaceCost({self.kind!r})"


def is_cost_model(value):
    """Whether ``value`` has a cost model's two methods."""
    return callable(getattr(value, "cost", None)) and callable(getattr(value, "expected_cost", None))


class CostConstraint:
    """``cost=``: a name of :data:`COST_NAMES` or an object with a cost model's methods."""

    def check(self, name, value):
        if isinstance(value, str):
            if value not in COST_NAMES:
                raise ValueError(
                    f"{name} must be one of {', '.join(map(repr, COST_NAMES))} or a cost model; got {value!r}"
                )
        elif not is_cost_model(value):
            raise TypeError(
                f"{name} must be one of {', '.join(map(repr, COST_NAMES))} or an object with methods "
                f"cost(space, architecture) and expected_cost(space, alpha); got {type(value).__name__}"
            )


class LatencyTableConstraint:
    """``latency_table=``: "auto", None, a :class:`~skhypernas.latency.LatencyTable`, its dict or its file."""

    def check(self, name, value):
        if value is None or value == "auto" or isinstance(value, (LatencyTable, dict)):
            return
        if isinstance(value, str) or hasattr(value, "__fspath__"):
            return  # a file, read (and refused if it is not a table) in fit
        raise TypeError(f'{name} must be "auto", None, a LatencyTable or its JSON file; got {type(value).__name__}')


def cost_scale(model, space):
    """What ``model``'s expected cost is multiplied by in the regulariser.

    At the search's start (``alpha = 0``: every option the space allows equally likely,
    its masked ones at the hypernetwork's :data:`~skhypernas.hypernet.MASKED`) the scaled
    cost's gradient with respect to ``alpha`` has the norm of the parameter count's:
    ``lambda`` then pushes the architecture as hard whatever the cost, and the
    ``lambda_range`` that spans the parameter counts spans the others' families. A
    space whose parameter count does not depend on the architecture scales the
    gradient to norm 1.

    Parameters
    ----------
    model : cost model
    space : SearchSpace
        Bound to the data.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        When the cost does not depend on the architecture.
    """

    mask = space.option_mask()
    start = torch.zeros(space.arch_shape)
    if mask is not None:  # the search starts uniform over the options it may take
        start = start.masked_fill(torch.as_tensor(~np.asarray(mask, dtype=bool)), MASKED)

    def gradient_norm(expected):
        alpha = start.clone().requires_grad_()
        (grad,) = torch.autograd.grad(expected(alpha), alpha)
        return float(grad.norm())

    cost_norm = gradient_norm(lambda alpha: model.expected_cost(space, alpha))
    if not cost_norm > 0:
        raise ValueError(f"the cost {model!r} does not depend on the architecture: nothing for lambda to trade")
    params_norm = gradient_norm(lambda alpha: space.expected_cost(alpha, "params"))
    return (params_norm if params_norm > 0 else 1.0) / cost_norm


@dataclasses.dataclass
class FitCosts:
    """What a search estimator's ``cost`` and ``latency_table`` resolve to at ``fit``."""

    #: The cost model that ``lambda`` prices.
    model: object
    #: Its multiplier in the regulariser (:func:`cost_scale`; 1 for parameters).
    scale: float
    #: The latency table, None without one.
    table: LatencyTable

    def regulariser(self, space):
        """``alpha -> scale * E[cost]``: what :class:`~skhypernas.search.BilevelSearch` adds times lambda."""
        model, scale = self.model, self.scale
        if isinstance(model, SpaceCost) and model.kind == "params":
            # Parameters exactly as before costs had kinds: the space's expected count, unscaled.
            return lambda alpha: space.expected_cost(alpha, "params")
        return lambda alpha: scale * model.expected_cost(space, alpha)

    def columns(self, space):
        """The path's cost columns: ``{name: architecture -> value}``. Parameters and
        FLOPs always; predicted milliseconds per image with a table; ``cost`` for a
        user's model."""
        columns = {
            "n_parameters": space.n_parameters,
            "n_flops": lambda architecture: int(space.cost(architecture, "flops")),
            "latency_ms": lambda architecture: float("nan"),
        }
        if self.table is not None:
            columns["latency_ms"] = lambda architecture: float(space.cost(architecture, self.table))
        if not isinstance(self.model, SpaceCost):
            columns["cost"] = lambda architecture: float(self.model.cost(space, architecture))
        return columns


#: ``latency_table="auto"`` times a space's entries at every fit only up to this many
#: unless the cost is latency: the DARTS cells name tens, the chain space hundreds (every
#: operation at every input width), which took more than 400 s on one core.
AUTO_MAX_ENTRIES = 200


def resolve_fit_costs(cost, latency_table, space, image_shape, n_classes, device):
    """The cost model, its scale and the latency table of one fit.

    Parameters
    ----------
    cost : "params", "flops", "latency" or cost model
    latency_table : "auto", None, LatencyTable, dict or path-like
        "auto" measures a table on ``device`` (or reads it from the cache) when the cost
        is latency or the space names at most :data:`AUTO_MAX_ENTRIES` entries, else
        none; a given table is checked against ``space``.
    space : SearchSpace
        Bound to the data.
    image_shape : (int, int, int)
    n_classes : int
    device : torch.device

    Returns
    -------
    FitCosts

    Raises
    ------
    ValueError
        For ``cost="latency"`` without a table, or a table of other shapes.
    """
    table = None
    if isinstance(latency_table, str) and latency_table == "auto":
        if cost == "latency" or len(space.latency_entries()) <= AUTO_MAX_ENTRIES:
            table = measure_latency_table(space, image_shape, n_classes, device=device)
    elif latency_table is not None:
        table = as_latency_table(latency_table).check(space)
    if isinstance(cost, str):
        if cost == "latency" and table is None:
            raise ValueError(
                'cost="latency" needs a latency table: latency_table="auto" measures one on the fitting '
                "device, or pass one measured on the deployment target (measure_latency_table)"
            )
        model = SpaceCost({"params": "params", "flops": "flops", "latency": table}[cost])
    else:
        model = cost
    is_params = isinstance(model, SpaceCost) and model.kind == "params"
    return FitCosts(model, 1.0 if is_params else cost_scale(model, space), table)


#: The docstring entries of the cost parameters both search estimators take.
COST_PARAMETER_DOCS = {
    "cost": """cost : {"params", "flops", "latency"} or cost model, default="params"
    What ``lambda`` prices in the architecture loss ``L_val + lambda * E[cost]``:
    "params", the trainable parameters (the method's regulariser); "flops", the
    multiply-accumulates per image of every convolution and the linear layer at
    the fitted image size; "latency", the prediction milliseconds per image that
    ``latency_table`` predicts. Or an object with methods
    ``cost(space, architecture)`` (a number: the derived network's cost) and
    ``expected_cost(space, alpha)`` (a tensor differentiable in ``alpha``: its
    expectation under ``softmax(alpha)``). Every cost but parameters is multiplied
    by ``cost_scale_``, which gives it the parameter count's gradient norm at the
    search's start, so the default ``lambda_range`` spans every cost's family.""",
    "latency_table": """latency_table : "auto", LatencyTable, path-like or None, default="auto"
    The table that predicts latency (the path's ``latency_ms`` and
    ``cost="latency"``): "auto" times the space's operations on the fitting
    device at the start of ``fit`` (a space of many entries, such as the chain
    space, only with ``cost="latency"``; seconds to minutes; cached on disk, in
    ``$SKHYPERNAS_CACHE_DIR`` or the user's cache folder); a table or its JSON
    file measured elsewhere with :func:`~skhypernas.latency.measure_latency_table`
    (the deployment target), refused if it was measured for other shapes; None
    measures nothing (no latencies).""",
}
