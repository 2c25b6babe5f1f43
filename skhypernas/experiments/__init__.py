"""``python -m skhypernas.experiments fashion-mnist --scale cpu``: the paper's experiment.

Test accuracy against parameter count on one train/test split, every family run
through scikit-learn's tooling under one time budget; ``cli``'s docstring (the
command's ``--help``) lists the families and the files a run writes. One job per
module, each importing only those above it in this list:

- ``scales``: the named settings, :data:`SCALES`;
- ``time_plan``: how a budget splits (:func:`plan_time`), and what the paper's scale
  would cost on this machine;
- ``measures``: each family's Pareto front (:func:`front_table`) and the complexity
  check of the HyperDARTS picks;
- ``families``: the families' fits and :func:`run_experiment`;
- ``results``: the files a run writes and the tables it prints;
- ``cli``: the command line, :func:`main`.

Fronts and hypervolumes as numbers are :mod:`skhypernas.fronts`' (the figure uses
them too); this package re-exports them, and every name it had as one module.
"""

from ..fronts import REFERENCE, hypervolume, pareto_front
from .cli import main
from .families import COLUMNS, SCORING, ExperimentResult, mlp_hidden_sizes, n_parameters, run_experiment
from .measures import complexity_control, family, front_table
from .results import write_results
from .scales import SCALES
from .time_plan import TimePlan, paper_scale_estimate, plan_time, refuse_paper_scale_without_gpu, time_search_step

__all__ = [
    "SCALES",
    "COLUMNS",
    "REFERENCE",
    "SCORING",
    "ExperimentResult",
    "TimePlan",
    "complexity_control",
    "family",
    "front_table",
    "hypervolume",
    "main",
    "mlp_hidden_sizes",
    "n_parameters",
    "paper_scale_estimate",
    "pareto_front",
    "plan_time",
    "refuse_paper_scale_without_gpu",
    "run_experiment",
    "time_search_step",
    "write_results",
]
