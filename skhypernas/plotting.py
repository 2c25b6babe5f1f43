"""Figures of a fitted search. Each function returns a matplotlib Figure."""

import numpy as np

from .costs import COST_COLUMNS
from .fronts import hypervolume, pareto_front

#: Axis labels of the path's cost columns.
COST_LABELS = {
    "n_parameters": "parameters",
    "n_flops": "multiply-accumulates per image",
    "latency_ms": "predicted latency (ms per image)",
    "cost": "cost",
}


def _cost_column(cost, columns):
    """The column of ``cost`` ("params", "flops", "latency" or "cost") among ``columns``."""
    column = COST_COLUMNS.get(cost, cost)
    if column not in COST_LABELS:
        raise ValueError(f'cost must be "params", "flops", "latency" or "cost"; got {cost!r}')
    if column not in columns:
        raise ValueError(f"the results have no {column} column to draw against")
    return column


def plot_complexity_path(estimator, ax=None, cost=None):
    """A cost and the held-out accuracy of every architecture on the complexity path.

    Parameters
    ----------
    estimator : fitted HyperDARTSClassifier
    ax : matplotlib Axes, optional
        Axes for the cost; the accuracy gets a twin axis.
    cost : {"params", "flops", "latency", "cost"} or None, default=None
        The path's column to draw: ``n_parameters``, ``n_flops``, ``latency_ms`` or a
        user's cost model's ``cost``; None draws the cost the search priced.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    path = estimator.complexity_path_
    if cost is None:
        cost = estimator.cost if isinstance(estimator.cost, str) else "cost"
    column = _cost_column(cost, path)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    else:
        fig = ax.figure
    edges = np.append(path["lambda_min"], path["lambda_max"][-1])
    label = COST_LABELS[column]
    ax.stairs(path[column], edges, baseline=None, color="tab:blue", linewidth=2, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("complexity coefficient lambda")
    # The cost's name alone: a longer label ran past the figure's edge for latency.
    ax.set_ylabel(label, color="tab:blue")
    acc_ax = ax.twinx()
    acc_ax.stairs(path["accuracy"], edges, baseline=None, color="tab:orange", linewidth=1.5, label="held-out accuracy")
    acc_ax.set_ylabel("held-out accuracy (inherited weights)", color="tab:orange")
    if getattr(estimator, "complexity_", None) is not None:
        ax.axvline(estimator.complexity_, color="gray", linestyle="--", linewidth=1)
    ax.set_title(f"Complexity path: {len(path['n_parameters'])} architectures from one search")
    return fig


def _columns(results):
    """``results`` as {column: list}: a DataFrame, a dict of columns or a list of row dicts."""
    if hasattr(results, "to_dict") and hasattr(results, "columns"):
        return {str(k): list(v) for k, v in results.to_dict(orient="list").items()}
    if isinstance(results, dict):
        return {k: list(v) for k, v in results.items()}
    rows = list(results)
    if not all(isinstance(r, dict) for r in rows):
        raise TypeError("results must be a DataFrame, a dict of columns or a list of row dicts")
    return {k: [r.get(k) for r in rows] for k in dict.fromkeys(k for r in rows for k in r)}


_METHOD_STYLES = {
    "hyperdarts": dict(color="tab:red", marker="o", label="HyperDARTS (one search)"),
    "darts": dict(color="tab:blue", marker="s", label="DARTS (one search per lambda)"),
    "random": dict(color="tab:gray", marker="^", label="random architectures"),
    "mlp": dict(color="tab:green", marker="x", label="MLPClassifier"),
    "plain_cnn": dict(color="tab:purple", marker="D", label="plain CNN"),
}


def plot_accuracy_vs_parameters(results, ax=None, log_x=True, title=None, reference=None, cost="params"):
    """Accuracy against parameter count (or another cost): one marker style per
    method, each family's Pareto front as a step line.

    The comparison of the seed's figure: architectures of several estimators (the
    complexity path of one search, DARTS, random architectures ...) side by side.
    With a ``weights`` column, each method splits into families by where its weights
    come from; ``"inherited"`` points are drawn hollow with a dashed front, trained or
    fine-tuned ones filled with a solid front
    (:func:`skhypernas.fronts.pareto_front`). With a ``seed`` column, each seed's
    front is drawn, and a family's hypervolume is the mean over seeds with its
    min-max.

    Parameters
    ----------
    results : pandas.DataFrame, dict of columns or list of dicts
        One row per architecture with ``method`` (str), ``n_parameters`` (or
        ``parameters``) and ``accuracy`` (or ``test_accuracy``), optionally
        ``weights`` and ``seed``, such as the rows of :func:`skhypernas.experiments.run_experiment`.
    ax : matplotlib Axes, optional
    log_x : bool, default=True
        Parameter counts on a log scale.
    title : str, optional
    reference : (float, float) or None, default=None
        A hypervolume reference point (accuracy, parameters): marked with a cross,
        and each family's legend entry gives its hypervolume
        (:func:`skhypernas.fronts.hypervolume`).
    cost : {"params", "flops", "latency", "cost"}, default="params"
        The x axis: ``n_parameters`` (or ``parameters``), ``n_flops``,
        ``latency_ms`` or ``cost``, which the results must hold.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    columns = _columns(results)
    n_key = "n_parameters" if "n_parameters" in columns else "parameters"
    if cost != "params":
        n_key = _cost_column(cost, columns)
    accuracy_key = "accuracy" if "accuracy" in columns else "test_accuracy"
    missing = {"method", n_key, accuracy_key} - set(columns)
    if missing:
        raise ValueError(f"results lack the column(s) {sorted(missing)}; they need method, {n_key}, accuracy")
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
    else:
        fig = ax.figure
    methods = np.asarray(columns["method"], dtype=object)
    weights = np.asarray(columns.get("weights", [""] * len(methods)), dtype=object)
    # Without a seed column every row is one seed's.
    seeds = np.asarray([str(v) for v in columns.get("seed", [""] * len(methods))], dtype=object)
    n_params = np.asarray(columns[n_key], dtype=float)
    accuracy = np.asarray(columns[accuracy_key], dtype=float)
    markers = "osD^v<>Px*"
    families = dict.fromkeys(zip(methods, weights))
    for k, (method, source) in enumerate(families):
        mine = (methods == method) & (weights == source)
        style = dict(marker=markers[k % len(markers)], color=f"C{k % 10}")
        style.update(_METHOD_STYLES.get(str(method).lower(), {}))
        label = style.pop("label", method) + (f", {source}" if source else "")
        inherited = source == "inherited"
        if inherited:
            style["markerfacecolor"] = "none"
        volumes = []
        for seed in dict.fromkeys(seeds[mine]):
            x, y = n_params[mine & (seeds == seed)], accuracy[mine & (seeds == seed)]
            front = pareto_front(x, y)
            volumes.append(hypervolume(zip(x[front], y[front]), reference) if reference is not None else 0.0)
            # Each seed's front holds its accuracy until the next, larger point improves on it.
            line = "--" if inherited else "-"
            ax.step(x[front], y[front], where="post", color=style["color"], linestyle=line, lw=1)
        if reference is not None:
            label += f"; hypervolume {np.mean(volumes):.3f}"
            if len(volumes) > 1:
                label += f" ({min(volumes):.3f}-{max(volumes):.3f}, {len(volumes)} seeds)"
        ax.plot(n_params[mine], accuracy[mine], linestyle="none", label=f"{label} ({mine.sum()})", **style)
    if reference is not None:
        ax.plot(reference[1], reference[0], marker="+", color="black", markersize=12, linestyle="none")
    if log_x:
        ax.set_xscale("log")
    label = COST_LABELS.get(n_key, "parameters")
    ax.set_xlabel(label)
    ax.set_ylabel("test accuracy" if accuracy_key == "test_accuracy" else "accuracy")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(title="family (models)", fontsize=7, framealpha=0.6)
    ax.set_title(title or f"Accuracy against {label}")
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
    """Draw an architecture: a DARTS genotype's normal and reduction cell, or a chain
    architecture's layers.

    In a cell, each kept edge is an arrow from its input state to its node, labelled
    with its operation; dashed arrows show every node joining the cell's output. A
    chain is drawn as a bar per layer, as high as its output width and coloured by
    its operation, with the max-pools between its stages.

    Parameters
    ----------
    genotype : Genotype or ChainArchitecture
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if getattr(genotype, "space", "darts") == "chain":
        return _plot_chain(genotype, title)

    width = 2.2 * (genotype.n_nodes + 2)
    fig, axes = plt.subplots(2, 1, figsize=(width, 8), constrained_layout=True)
    _draw_cell(axes[0], genotype.normal, "normal")
    _draw_cell(axes[1], genotype.reduce, "reduction")
    if title:
        fig.suptitle(title)
    return fig


_CHAIN_COLORS = {
    "skip": "tab:green",
    "conv_3x3": "tab:red",
    "sep_conv_3x3": "tab:blue",
    "sep_conv_5x5": "tab:cyan",
    "inverted_bottleneck_3x3": "tab:purple",
}


def _plot_chain(architecture, title):
    import matplotlib.pyplot as plt

    widths = architecture.widths(1)
    fig, ax = plt.subplots(figsize=(1.2 * len(widths) + 2, 3.5), constrained_layout=True)
    pools = set(np.cumsum(architecture.stages).tolist())
    for i, ((op, _), (_, b)) in enumerate(zip(architecture.layers, widths)):
        ax.bar(i, b, color=_CHAIN_COLORS.get(op, "black"), hatch="//" if op == "skip" else None, alpha=0.8)
        ax.text(i, b, f"{op}\n{b}", ha="center", va="bottom", fontsize=7)
        if i + 1 in pools:
            ax.axvline(i + 0.5, color="gray", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(widths)), [f"layer {i}" for i in range(len(widths))], fontsize=7)
    ax.set_ylabel("output channels")
    ax.set_ylim(0, 1.25 * max(b for _, b in widths))
    ax.set_title(title or "chain architecture (dashed: max-pool)")
    return fig
