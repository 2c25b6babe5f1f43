"""``python -m skhypernas.experiments fashion-mnist --scale cpu``: the paper's experiment.

Test accuracy against parameter count on one train/test split, every family run
through scikit-learn's tooling under one time budget per seed; ``cli``'s docstring
(the command's ``--help``) lists the families and the files a run writes. One job per
module, each importing only those above it in this list:

- ``scales``: the named settings, :data:`SCALES`, and the HyperDARTS families of
  search spaces (:func:`hyperdarts_families`);
- ``time_plan``: how a seed's budget splits (:func:`plan_time`), and what a search or
  the paper's scale costs on this machine;
- ``measures``: each family's Pareto fronts and hypervolume over seeds
  (:func:`front_table`), the complexity check of the HyperDARTS picks, the collapsed
  searches;
- ``families``: one function per family's fits;
- ``parts``: the output folder as it fills, one file per (stage, seed), so that a
  run can be done in parts;
- ``run``: one seed's stages in order, :func:`run_experiment`;
- ``results``: the files a run writes and the tables it prints;
- ``cli``: the command line, :func:`main`.

Fronts and hypervolumes as numbers are :mod:`skhypernas.fronts`' (the figure uses
them too); this package re-exports them, and every name it had as one module.
"""

from ..fronts import REFERENCE, hypervolume, pareto_front
from .cli import main
from .families import COLUMNS, SCORING, mlp_hidden_sizes, n_parameters
from .measures import collapse_counts, complexity_control, family, front_table
from .parts import SeedParts, check_run_settings
from .results import write_results
from .run import ExperimentResult, run_experiment
from .scales import SCALES, hyperdarts_families
from .time_plan import (
    TimePlan,
    paper_scale_estimate,
    plan_time,
    refuse_paper_scale_without_gpu,
    search_seconds_estimate,
    time_search_step,
)

__all__ = [
    "SCALES",
    "COLUMNS",
    "REFERENCE",
    "SCORING",
    "ExperimentResult",
    "SeedParts",
    "TimePlan",
    "check_run_settings",
    "collapse_counts",
    "complexity_control",
    "family",
    "front_table",
    "hypervolume",
    "hyperdarts_families",
    "main",
    "mlp_hidden_sizes",
    "n_parameters",
    "paper_scale_estimate",
    "pareto_front",
    "plan_time",
    "refuse_paper_scale_without_gpu",
    "run_experiment",
    "search_seconds_estimate",
    "time_search_step",
    "write_results",
]
