"""Named settings of :class:`~skhypernas.HyperDARTSClassifier` for the command line and
the experiment.

- ``"cpu"``: a search sized for a 2-core CPU (how long it takes on this project's
  hosts: ``docs/benchmarks.md``, "A whole search on this CPU"), tuned by the trials
  recorded there ("Settings for a short search"); its last 40% trains the shared
  weights of the path's argmax architectures only (``discrete_fraction``), which
  lifted inherited-weight accuracy across the path;
- ``"paper"``: the authors' GPU-sized setting (16 channels, 50 epochs, second order).

:data:`SPACE_PRESETS` holds them per search space: the chain space
(:class:`~skhypernas.spaces.ChainSpace`) has a ``"cpu"`` preset of its own, found by
the trials in ``docs/benchmarks.md`` ("The chain space's recipe"), and
:data:`COST_PRESETS` what a preset changes for another cost.
"""

PRESETS = {
    "cpu": dict(
        channels=8,
        max_epochs=4,
        batch_size=64,
        lr=0.3,
        warmup_fraction=0.5,
        arch_lr=1e-2,
        temperature_start=5.0,
        discrete_fraction=0.4,
        lambda_range=(1e-8, 1e-4),
        path_samples=1024,
    ),
    "paper": dict(channels=16, max_epochs=50, second_order=True),
}

#: The presets of each search space, by the name ``search_space=`` takes.
SPACE_PRESETS = {
    "darts": PRESETS,
    "chain": {
        "cpu": dict(
            search_space="chain",
            max_epochs=4,
            batch_size=64,
            lr=0.1,
            relaxation="hard",
            warmup_fraction=0.2,
            arch_lr=1e-2,
            temperature_start=5.0,
            discrete_fraction=0.7,
            sandwich=True,
            distill=True,
            lambda_range=(1e-8, 1e-6),
            path_samples=1024,
        ),
    },
}

#: What a space's ``"cpu"`` preset changes when the search prices another cost than
#: parameters, by ``(space, cost)``; ``python -m skhypernas`` applies it. The chain
#: space's latency: with the DARTS authors' architecture weight decay (1e-3) its four
#: decisions' distributions stayed within 1% of uniform entropy, so the path's
#: argmaxes followed noise, not lambda. Without it they move, the space's fastest
#: networks come by lambda 1e-9, and three knots instead of one per decade keep the
#: interpolated logits from detouring (docs/benchmarks.md, "The chain space priced in
#: latency": measured latency over the path 4.6x, Spearman with lambda -0.94). Its
#: range is that run's 1e-13 .. 1e-9 divided by 1.88: the cost scale then also
#: weighed the stem's masked options, and without them it is 1.88x larger, so this
#: range runs the same search.
COST_PRESETS = {
    ("chain", "latency"): dict(arch_weight_decay=0.0, arch_lr=2e-2, lambda_range=(5.3e-14, 5.3e-10), n_knots=3),
}

#: How ``python -m skhypernas`` fine-tunes its picks of the path
#: (:class:`~skhypernas.ArchitectureClassifier` with ``init``): SGD from the inherited
#: weights, cosine-annealed over each pick's share of the time budget.
FINE_TUNING = dict(lr=0.05, batch_size=96)
