"""The experiment's outputs: its files, and the tables it prints at the end."""

import dataclasses
import json
from pathlib import Path

from ..fronts import REFERENCE
from ..persistence import csv_writer, write_files
from ..plotting import plot_accuracy_vs_parameters
from .families import COLUMNS
from .measures import collapse_counts, front_table

#: How many files :func:`write_results` writes.
RESULT_FILES = 4

#: The columns of ``fronts.csv``.
FRONT_COLUMNS = (
    "family",
    "n_seeds",
    "n_models",
    "hypervolume",
    "hypervolume_min",
    "hypervolume_max",
    "wall_seconds",
    "fronts",
)


def _as_list(results):
    return list(results) if isinstance(results, (list, tuple)) else [results]


def _summary(results, reference):
    plan = results[0].plan
    plan = None if plan is None else {**dataclasses.asdict(plan), "equal_per_search": plan.equal_per_search}
    controls = {}
    for result in results:
        for name, control in result.complexity_control.items():
            controls.setdefault(name, {})[str(result.seed)] = control
    rows = [row for result in results for row in result.rows]
    return dict(
        time_plan=plan,
        # How long each seed took: its stages' wall times, whichever session ran them.
        seeds={
            str(r.seed): dict(seconds=sum(r.seconds.values()), stage_seconds=r.seconds, darts_skipped=r.darts_skipped)
            for r in results
        },
        hypervolume_reference=dict(accuracy=reference[0], n_parameters=reference[1], axis="accuracy x log10(params)"),
        complexity_control=controls,
        collapsed=collapse_counts(rows),
    )


def write_results(results, output, title=None, reference=REFERENCE):
    """Write ``results.csv``, ``fronts.csv``, ``summary.json`` and ``accuracy_vs_parameters.png``.

    Each file is written atomically; one that cannot be written is reported on stderr
    and the others are still written (:func:`~skhypernas.persistence.write_files`).

    Parameters
    ----------
    results : ExperimentResult or list of ExperimentResult
        One per seed.
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
    results = _as_list(results)
    output = Path(output)
    rows = [row for result in results for row in result.rows]
    fronts = front_table(rows, {r.seed: r.seconds for r in results}, reference)
    summary = _summary(results, reference)
    figure = plot_accuracy_vs_parameters(rows, title=title, reference=reference)
    files = {
        "results.csv": csv_writer(rows, COLUMNS),
        "fronts.csv": csv_writer(
            [{**row, "fronts": json.dumps({str(k): v for k, v in row["fronts"].items()})} for row in fronts],
            FRONT_COLUMNS,
        ),
        "summary.json": lambda tmp: tmp.write_text(json.dumps(summary, indent=1)),
        # The temporary file's name has no .png: the format is said, not inferred.
        "accuracy_vs_parameters.png": lambda tmp: figure.savefig(tmp, format="png", dpi=120),
    }
    failed = write_files(output, files)
    return {name: output / name for name in files if name not in failed}


def _print_rows(rows):
    print(
        f"\n{'method':<16} {'weights':<10} {'seed':>4} {'lambda':>9} {'setting':<34} {'params':>8} "
        f"{'test acc':>8} {'train s':>8}"
    )
    for r in rows:
        lam = f"{r['lambda']:9.3g}" if r["lambda"] != "" else f"{'':9}"
        mark = " collapsed" if r.get("collapsed") is True else ""
        print(
            f"{r['method']:<16} {r['weights']:<10} {r['seed']!s:>4} {lam} {r['setting'][:34]:<34} "
            f"{r['n_parameters']:8d} {r['test_accuracy']:8.4f} {r['train_seconds']:8.1f}{mark}"
        )


def print_result(results, reference):
    """Print the rows, each family's fronts and hypervolume over seeds, the complexity
    check, the collapsed searches, each seed's time and the search budget.

    Parameters
    ----------
    results : ExperimentResult or list of ExperimentResult
        One per seed.
    reference : (float, float)
        The hypervolume's reference point (accuracy, parameters).
    """
    results = _as_list(results)
    rows = [row for result in results for row in result.rows]
    _print_rows(rows)
    print(f"\nPareto fronts; hypervolume above {reference[0]} accuracy, up to {reference[1]:,} parameters")
    print("(area in accuracy x decades of parameters; mean, and min-max over seeds):")
    for row in front_table(rows, {r.seed: r.seconds for r in results}, reference):
        spread = f" ({row['hypervolume_min']:.4f}-{row['hypervolume_max']:.4f})" if row["n_seeds"] > 1 else ""
        print(f"  {row['family']:<30} hypervolume {row['hypervolume']:.4f}{spread}, {row['wall_seconds']:6.0f} s")
        for seed, front in row["fronts"].items():
            print(f"    seed {seed}: " + ", ".join(f"{p:,}: {a:.4f}" for p, a in front))
    for result in results:
        for name, c in result.complexity_control.items():
            print(
                f"complexity control of the {name} picks, seed {result.seed}: parameters "
                f"{'fall' if c['monotonic'] else 'do NOT fall'} monotonically with lambda, span {c['span']:.1f}x "
                f"(3x wanted): {'holds' if c['holds'] else 'FAILS'}"
            )
    counts = collapse_counts(rows)
    if counts:
        listed = ", ".join(f"{name} {c['collapsed']} of {c['models']}" for name, c in counts.items())
        print(f"collapsed to parameter-free cells (the collapsed column): {listed}")
    for result in results:
        skipped = ", ".join(f"{v:g}" for v in result.darts_skipped)
        note = f"; DARTS skipped lambda {skipped} after a collapsed search" if skipped else ""
        print(f"seed {result.seed}: {sum(result.seconds.values()):.0f} s of stages{note}")
    plan = results[0].plan
    if plan is not None:
        print(
            f"one HyperDARTS search: {plan.search:.0f} s; DARTS with {plan.search:.0f} s per search would need "
            f"{plan.equal_per_search:.0f} s of search ({plan.k + 1}x)"
        )
