"""Figures of a fitted search. Each function returns a matplotlib Figure."""

import numpy as np


def plot_complexity_path(estimator, ax=None):
    """Parameters and held-out accuracy of every architecture on the complexity path.

    Parameters
    ----------
    estimator : fitted HyperDARTSClassifier
    ax : matplotlib Axes, optional
        Axes for the parameter count; the accuracy gets a twin axis.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    path = estimator.complexity_path_
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    else:
        fig = ax.figure
    edges = np.append(path["lambda_min"], path["lambda_max"][-1])
    ax.stairs(path["n_parameters"], edges, baseline=None, color="tab:blue", linewidth=2, label="parameters")
    ax.set_xscale("log")
    ax.set_xlabel("complexity coefficient lambda")
    ax.set_ylabel("parameters of the derived network", color="tab:blue")
    acc_ax = ax.twinx()
    acc_ax.stairs(path["accuracy"], edges, baseline=None, color="tab:orange", linewidth=1.5, label="held-out accuracy")
    acc_ax.set_ylabel("held-out accuracy (inherited weights)", color="tab:orange")
    if getattr(estimator, "complexity_", None) is not None:
        ax.axvline(estimator.complexity_, color="gray", linestyle="--", linewidth=1)
    ax.set_title(f"Complexity path: {len(path['n_parameters'])} architectures from one search")
    return fig


_OP_COLORS = {
    "max_pool_3x3": "tab:gray",
    "avg_pool_3x3": "tab:gray",
    "skip_connect": "tab:green",
    "sep_conv_3x3": "tab:blue",
    "sep_conv_5x5": "tab:blue",
    "dil_conv_3x3": "tab:purple",
    "dil_conv_5x5": "tab:purple",
}


def _draw_cell(ax, nodes, title):
    n = len(nodes)
    # Inputs on the left, intermediate nodes on a rising diagonal, output on the right.
    position = {0: (0.0, 0.25), 1: (0.0, 0.75)}
    for j in range(n):
        position[j + 2] = (1.0 + j, (j + 0.5) / max(n, 1))
    position["out"] = (n + 1.0, 0.5)
    labels = {0: "c_{k-2}", 1: "c_{k-1}", "out": "c_{k}"}
    for key, (x, y) in position.items():
        text = labels.get(key, str(key - 2) if isinstance(key, int) else key)
        color = "lightyellow" if key in (0, 1, "out") else "lightblue"
        ax.text(
            x,
            y,
            f"${text}$" if "_" in text else text,
            ha="center",
            va="center",
            zorder=3,
            bbox=dict(boxstyle="round", fc=color, ec="black"),
        )
    for j, node in enumerate(nodes):
        for op, i in node:
            (x0, y0), (x1, y1) = position[i], position[j + 2]
            ax.annotate(
                "",
                xy=(x1, y1),
                xytext=(x0, y0),
                arrowprops=dict(arrowstyle="->", color=_OP_COLORS.get(op, "black"), shrinkA=12, shrinkB=12),
            )
            ax.text(
                0.5 * (x0 + x1),
                0.5 * (y0 + y1),
                op,
                fontsize=7,
                ha="center",
                va="center",
                color=_OP_COLORS.get(op, "black"),
                bbox=dict(fc="white", ec="none", alpha=0.7, pad=0.5),
            )
        (x0, y0), (x1, y1) = position[j + 2], position["out"]
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops=dict(arrowstyle="->", color="lightgray", linestyle="--", shrinkA=12, shrinkB=12),
        )
    kept = sum(len(node) for node in nodes)
    ax.set_title(f"{title} cell: {kept} kept edge{'s' if kept != 1 else ''}")
    ax.set_xlim(-0.5, n + 1.5)
    ax.set_ylim(-0.1, 1.1)
    ax.axis("off")


def plot_genotype(genotype, title=None):
    """Draw the normal and the reduction cell of a genotype.

    Each kept edge is an arrow from its input state to its node, labelled with its
    operation; dashed arrows show every node joining the cell's output.

    Parameters
    ----------
    genotype : Genotype
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    width = 2.2 * (genotype.n_nodes + 2)
    fig, axes = plt.subplots(2, 1, figsize=(width, 8), constrained_layout=True)
    _draw_cell(axes[0], genotype.normal, "normal")
    _draw_cell(axes[1], genotype.reduce, "reduction")
    if title:
        fig.suptitle(title)
    return fig


_METHOD_STYLES = {
    "hyperdarts": dict(color="tab:red", marker="o", label="HyperDARTS (one search)"),
    "darts": dict(color="tab:blue", marker="s", label="DARTS (one search per lambda)"),
    "random": dict(color="tab:gray", marker="^", label="random architectures"),
    "mlp": dict(color="tab:green", marker="x", label="MLPClassifier"),
}


def plot_accuracy_vs_parameters(rows, ax=None, title=None):
    """Test accuracy against parameter count, one marker style per method.

    Parameters
    ----------
    rows : list of dict
        Each with ``method``, ``n_parameters`` and ``test_accuracy`` (the rows of
        :func:`skhypernas.experiments.run_experiment`). The proposed method's points
        are joined in order of lambda.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    else:
        fig = ax.figure
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        style = dict(_METHOD_STYLES.get(method, dict(marker="o", label=method)))
        x = [r["n_parameters"] for r in mine]
        y = [r["test_accuracy"] for r in mine]
        linestyle = "-" if method == "hyperdarts" else "none"
        ax.plot(x, y, linestyle=linestyle, linewidth=1, markersize=6, **style)
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("test accuracy")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.6)
    ax.set_title(title or "Accuracy against parameter count")
    return fig
