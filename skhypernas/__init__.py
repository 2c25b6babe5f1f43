"""Differentiable neural architecture search with complexity control, for scikit-learn."""

from .estimators import HyperDARTSClassifier
from .persistence import load
from .search_space import PRIMITIVES, Genotype, NetworkConfig

__all__ = ["HyperDARTSClassifier", "Genotype", "NetworkConfig", "PRIMITIVES", "load"]
__version__ = "0.1.0"
