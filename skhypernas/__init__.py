"""Differentiable neural architecture search with complexity control, for scikit-learn."""

from .baselines import ArchitectureClassifier, RandomArchitectureClassifier
from .darts_classifier import DARTSClassifier
from .estimators import HyperDARTSClassifier
from .persistence import load
from .search_space import PRIMITIVES, Genotype, NetworkConfig

__all__ = [
    "HyperDARTSClassifier",
    "DARTSClassifier",
    "ArchitectureClassifier",
    "RandomArchitectureClassifier",
    "Genotype",
    "NetworkConfig",
    "PRIMITIVES",
    "load",
]
__version__ = "0.1.0"
