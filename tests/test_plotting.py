import matplotlib
import pytest

matplotlib.use("Agg")

from skhypernas import Genotype  # noqa: E402
from skhypernas.plotting import plot_complexity_path, plot_genotype  # noqa: E402


def test_complexity_path_plot_renders(fitted, tmp_path):
    fig = plot_complexity_path(fitted)
    fig.savefig(tmp_path / "path.png")
    assert (tmp_path / "path.png").stat().st_size > 1000
    assert fig.axes[0].get_xscale() == "log"


def test_genotype_drawing_shows_one_arrow_per_kept_edge(tmp_path):
    genotype = Genotype.from_choices([4, 0, 3, 1, 0, 0, 7, 2, 0, 0, 0, 0, 5, 6], [0] * 14)
    fig = plot_genotype(genotype, "example")
    fig.savefig(tmp_path / "cells.png")
    normal, reduce = fig.axes
    labels = [t.get_text() for t in normal.texts]
    assert sorted(
        op
        for op in labels
        if op
        in {
            "sep_conv_3x3",
            "skip_connect",
            "max_pool_3x3",
            "dil_conv_5x5",
            "avg_pool_3x3",
            "sep_conv_5x5",
            "dil_conv_3x3",
        }
    ) == sorted(
        ["sep_conv_3x3", "skip_connect", "max_pool_3x3", "dil_conv_5x5", "avg_pool_3x3", "sep_conv_5x5", "dil_conv_3x3"]
    )
    assert "0 kept edges" in reduce.get_title() and "7 kept edges" in normal.get_title()


def test_accuracy_vs_parameters_takes_frames_dicts_and_rows(fitted, tmp_path):
    import pandas as pd

    from skhypernas.plotting import plot_accuracy_vs_parameters

    path = fitted.complexity_path_
    rows = [
        {"method": "HyperDARTS", "n_parameters": n, "accuracy": a}
        for n, a in zip(path["n_parameters"], path["accuracy"])
    ]
    rows += [{"method": "DARTS", "n_parameters": 900, "accuracy": 0.4}]
    rows += [{"method": "random", "n_parameters": 500 + 100 * i, "accuracy": 0.1 * i} for i in range(3)]
    for results in (pd.DataFrame(rows), pd.DataFrame(rows).to_dict(orient="list"), rows):
        fig = plot_accuracy_vs_parameters(results)
        fig.savefig(tmp_path / "comparison.png")
        assert (tmp_path / "comparison.png").stat().st_size > 1000
        (ax,) = fig.axes
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            f"HyperDARTS (one search) ({len(path['n_parameters'])})",
            "DARTS (one search per lambda) (1)",
            "random architectures (3)",
        ]
        (random_points,) = [line for line in ax.get_lines() if line.get_label().startswith("random")]
        assert list(random_points.get_xdata()) == [500, 600, 700]
    renamed = pd.DataFrame(rows).rename(columns={"n_parameters": "parameters"})
    assert plot_accuracy_vs_parameters(renamed, log_x=False).axes[0].get_xscale() == "linear"
    with pytest.raises(ValueError, match="accuracy"):
        plot_accuracy_vs_parameters({"method": ["a"], "n_parameters": [1]})


def test_accuracy_vs_parameters_marks_inherited_points_and_draws_fronts_as_steps():
    from skhypernas.plotting import plot_accuracy_vs_parameters

    rows = [
        dict(method="hyperdarts", weights="inherited", n_parameters=n, test_accuracy=a)
        for n, a in [(5_000, 0.80), (20_000, 0.85), (60_000, 0.84)]
    ]
    rows += [
        dict(method="hyperdarts", weights="fine-tuned", n_parameters=n, test_accuracy=0.9) for n in (5_000, 60_000)
    ]
    rows += [dict(method="plain_cnn", weights="scratch", n_parameters=16_794, test_accuracy=0.91)]
    fig = plot_accuracy_vs_parameters(rows, reference=(0.80, 100_000))
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("HyperDARTS (one search), inherited; hypervolume 0.")
    assert "fine-tuned" in labels[1] and "plain CNN" in labels[2]
    points = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert [line.get_markerfacecolor() for line in points.values()][0] == "none"
    assert points[labels[1]].get_markerfacecolor() != "none"
    fronts = [line for line in ax.get_lines() if line.get_drawstyle() == "steps-post"]
    # The inherited front drops the 60K point, which the 20K one beats.
    assert len(fronts) == 3 and list(fronts[0].get_xdata()) == [5_000, 20_000]


def test_accuracy_vs_parameters_gives_the_hypervolume_over_seeds_and_a_front_per_seed():
    from skhypernas.fronts import hypervolume
    from skhypernas.plotting import plot_accuracy_vs_parameters

    by_seed = {0: [(5_000, 0.85), (50_000, 0.90)], 1: [(5_000, 0.82)], 2: [(20_000, 0.88), (60_000, 0.86)]}
    rows = [
        dict(method="darts", weights="scratch", seed=seed, n_parameters=n, test_accuracy=a)
        for seed, points in by_seed.items()
        for n, a in points
    ]
    (ax,) = plot_accuracy_vs_parameters(rows, reference=(0.80, 100_000)).axes
    # Seed 2's front drops its 60K point, which its 20K one beats.
    volumes = [hypervolume(front) for front in ([(5_000, 0.85), (50_000, 0.90)], [(5_000, 0.82)], [(20_000, 0.88)])]
    (label,) = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"hypervolume {sum(volumes) / 3:.3f} ({min(volumes):.3f}-{max(volumes):.3f}, 3 seeds) (5)" in label
    fronts = [list(line.get_xdata()) for line in ax.get_lines() if line.get_drawstyle() == "steps-post"]
    assert fronts == [[5_000, 50_000], [5_000], [20_000]]


def test_the_plots_draw_against_any_of_the_paths_costs(fitted):
    import numpy as np

    from skhypernas.plotting import plot_accuracy_vs_parameters

    path = fitted.complexity_path_
    for cost, column in (("params", "n_parameters"), ("flops", "n_flops"), ("latency", "latency_ms")):
        (ax, _) = plot_complexity_path(fitted, cost=cost).axes
        (stairs,) = ax.patches
        np.testing.assert_array_equal(stairs.get_data().values, path[column])
        rows = {"method": ["HyperDARTS"] * len(path["accuracy"]), "accuracy": path["accuracy"], column: path[column]}
        (ax,) = plot_accuracy_vs_parameters(rows, cost=cost).axes
        # The markers are the line with every row (the front after them has fewer points).
        (points,) = [line for line in ax.get_lines() if len(line.get_xdata()) == len(path[column])]
        np.testing.assert_array_equal(points.get_xdata(), path[column])
    assert "latency" in plot_accuracy_vs_parameters(rows, cost="latency").axes[0].get_xlabel()
    with pytest.raises(ValueError, match="no n_flops column"):
        plot_accuracy_vs_parameters({"method": ["a"], "accuracy": [1], "n_parameters": [1]}, cost="flops")
    with pytest.raises(ValueError, match='cost must be "params", "flops", "latency" or "cost"'):
        plot_complexity_path(fitted, cost="time")
