import matplotlib

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
