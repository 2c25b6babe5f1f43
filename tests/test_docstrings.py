"""The public API's docstrings describe every parameter and return value (numpydoc)."""

import inspect

import pytest
from numpydoc import validate as numpydoc_validate

import skhypernas
from skhypernas.plain_cnn import PlainCNNClassifier

#: Missing or unknown parameters, parameters without a type, no Returns section,
#: no docstring at all.
CHECKS = {"PR01", "PR02", "PR03", "RT01", "GL08"}

MODULE_FUNCTIONS = [
    "skhypernas.path.complexity_path",
    "skhypernas.path.path_index",
    "skhypernas.path.interval_middle",
    "skhypernas.path.budget_index",
    "skhypernas.search_space.op_flop_count",
    "skhypernas.spaces.check_cost_kind",
    "skhypernas.latency.measure_latency_table",
    "skhypernas.latency.as_latency_table",
    "skhypernas.latency.time_entries",
    "skhypernas.latency.calibrate",
    "skhypernas.latency.cache_dir",
    "skhypernas.costs.cost_scale",
    "skhypernas.costs.resolve_fit_costs",
    "skhypernas.datasets.load_fashion_mnist",
    "skhypernas.datasets.load_train_test",
    "skhypernas.persistence.save",
    "skhypernas.persistence.write_atomically",
    "skhypernas.persistence.write_files",
    "skhypernas.spaces.as_architecture",
    "skhypernas.spaces.resolve_space",
    "skhypernas.unrolled.unrolled_gradient",
    "skhypernas.load",
    "skhypernas.plotting.plot_complexity_path",
    "skhypernas.plotting.plot_accuracy_vs_parameters",
    "skhypernas.plotting.plot_genotype",
    "skhypernas.fronts.pareto_front",
    "skhypernas.fronts.hypervolume",
    "skhypernas.experiments.front_table",
    "skhypernas.experiments.complexity_control",
    "skhypernas.experiments.plan_time",
    "skhypernas.experiments.run_experiment",
    "skhypernas.experiments.write_results",
    "skhypernas.experiments.time_search_step",
    "skhypernas.experiments.paper_scale_estimate",
    "skhypernas.experiments.refuse_paper_scale_without_gpu",
    "skhypernas.experiments.search_seconds_estimate",
    "skhypernas.experiments.check_run_settings",
    "skhypernas.experiments.collapse_counts",
    "skhypernas.experiments.hyperdarts_families",
    "skhypernas.plain_cnn.plain_cnn_parameters",
    "skhypernas.plain_cnn.plain_cnn_widths",
]


def public_api():
    names = list(MODULE_FUNCTIONS)
    for cls in (
        skhypernas.HyperDARTSClassifier,
        skhypernas.DARTSClassifier,
        skhypernas.ArchitectureClassifier,
        skhypernas.RandomArchitectureClassifier,
        PlainCNNClassifier,
    ):
        prefix = "skhypernas" if hasattr(skhypernas, cls.__name__) else cls.__module__
        names.append(f"{prefix}.{cls.__name__}")
        for method, member in inspect.getmembers(cls, inspect.isfunction):
            # The estimators' own public methods, not those scikit-learn documents.
            if not method.startswith("_") and member.__module__.startswith("skhypernas"):
                names.append(f"{prefix}.{cls.__name__}.{method}")
    return names


@pytest.mark.parametrize("name", public_api())
def test_docstring_documents_parameters_and_returns(name):
    errors = [f"{code}: {message}" for code, message in numpydoc_validate.validate(name)["errors"] if code in CHECKS]
    assert not errors, f"{name}: " + "; ".join(errors)
