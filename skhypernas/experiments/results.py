"""The experiment's outputs: its files, and the tables it prints at the end."""

import dataclasses
import json
from pathlib import Path

from ..fronts import REFERENCE
from ..persistence import csv_writer, write_files
from ..plotting import plot_accuracy_vs_parameters
from .families import COLUMNS
from .measures import front_table

#: How many files :func:`write_results` writes.
RESULT_FILES = 4


def write_results(result, output, title=None, reference=REFERENCE):
    """Write ``results.csv``, ``fronts.csv``, ``summary.json`` and ``accuracy_vs_parameters.png``.

    Each file is written atomically; one that cannot be written is reported on stderr
    and the others are still written (:func:`~skhypernas.persistence.write_files`).

    Parameters
    ----------
    result : ExperimentResult
    output : path-like
        Folder, created if needed.
    title : str, optional
        The figure's title.
    reference : (float, float), default=(0.80, 100_000)
        The hypervolume's reference point (accuracy, parameters).

    Returns
    -------
    dict
        The paths written, by name (without those that failed).
    """
    output = Path(output)
    fronts = front_table(result.rows, result.seconds, reference)
    plan = (
        None
        if result.plan is None
        else {**dataclasses.asdict(result.plan), "equal_per_search": result.plan.equal_per_search}
    )
    summary = dict(
        time_plan=plan,
        stage_seconds=result.seconds,
        hypervolume_reference=dict(accuracy=reference[0], n_parameters=reference[1], axis="accuracy x log10(params)"),
        complexity_control=result.complexity_control,
    )
    figure = plot_accuracy_vs_parameters(result.rows, title=title, reference=reference)
    files = {
        "results.csv": csv_writer(result.rows, COLUMNS),
        "fronts.csv": csv_writer(
            [{**row, "front": json.dumps(row["front"])} for row in fronts],
            ["family", "n_models", "hypervolume", "wall_seconds", "front"],
        ),
        "summary.json": lambda tmp: tmp.write_text(json.dumps(summary, indent=1)),
        # The temporary file's name has no .png: the format is said, not inferred.
        "accuracy_vs_parameters.png": lambda tmp: figure.savefig(tmp, format="png", dpi=120),
    }
    failed = write_files(output, files)
    return {name: output / name for name in files if name not in failed}


def print_result(result, reference):
    """Print the rows, each family's front and hypervolume, the complexity check and the search budget.

    Parameters
    ----------
    result : ExperimentResult
    reference : (float, float)
        The hypervolume's reference point (accuracy, parameters).
    """
    print(
        f"\n{'method':<10} {'weights':<10} {'lambda':>9} {'setting':<22} {'params':>8} {'test acc':>8} {'train s':>8}"
    )
    for r in result.rows:
        lam = f"{r['lambda']:9.3g}" if r["lambda"] != "" else f"{'':9}"
        print(
            f"{r['method']:<10} {r['weights']:<10} {lam} {r['setting']:<22} {r['n_parameters']:8d} "
            f"{r['test_accuracy']:8.4f} {r['train_seconds']:8.1f}"
        )
    print(f"\nPareto fronts; hypervolume above {reference[0]} accuracy, up to {reference[1]:,} parameters")
    print("(area in accuracy x decades of parameters):")
    for row in front_table(result.rows, result.seconds, reference):
        front = ", ".join(f"{p:,}: {a:.4f}" for p, a in row["front"])
        print(f"  {row['family']:<24} hypervolume {row['hypervolume']:.4f}, {row['wall_seconds']:6.0f} s; {front}")
    c = result.complexity_control
    print(
        f"\ncomplexity control of the HyperDARTS picks: parameters {'fall' if c['monotonic'] else 'do NOT fall'} "
        f"monotonically with lambda, span {c['span']:.1f}x (3x wanted): {'holds' if c['holds'] else 'FAILS'}"
    )
    if result.plan is not None:
        p = result.plan
        print(
            f"one HyperDARTS search: {p.search:.0f} s; DARTS with {p.search:.0f} s per search would need "
            f"{p.equal_per_search:.0f} s of search ({p.k}x)"
        )
