"""Search spaces: what a searched architecture can be.

``search_space="darts"`` (the default, the method's published cells) or a space
object. :class:`SearchSpace` is the interface a new space implements; see
``docs/architecture.md``, "Where a new piece goes".
"""

from .base import (
    ARCHITECTURES,
    COST_KINDS,
    SPACES,
    SearchSpace,
    as_architecture,
    check_cost_kind,
    register_space,
    resolve_space,
    space_from_dict,
)
from .chain import ChainArchitecture, ChainSpace
from .darts import DartsSpace

__all__ = [
    "SearchSpace",
    "DartsSpace",
    "ChainSpace",
    "ChainArchitecture",
    "SPACES",
    "ARCHITECTURES",
    "as_architecture",
    "check_cost_kind",
    "COST_KINDS",
    "register_space",
    "resolve_space",
    "space_from_dict",
]
