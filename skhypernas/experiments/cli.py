"""``python -m skhypernas.experiments fashion-mnist --scale cpu``: the paper's experiment.

Test accuracy against parameter count on one train/test split, every family run
through scikit-learn's tooling (``cross_validate``, ``GridSearchCV``, joblib
``n_jobs``) under one time budget that the run states at its start:

- **hyperdarts**: one HyperDARTSClassifier search (a share of the budget), read with
  inherited weights at a grid of lambdas and at K picks spread over its path's
  parameter range; each pick then fine-tuned from the inherited weights;
- **darts**: one DARTSClassifier search per pick's lambda, the K searches together
  given the HyperDARTS search's budget (equal total compute), read with inherited
  weights; DARTSClassifier keeps no supernet, so each pick is retrained from scratch;
- **random**: RandomArchitectureClassifier with ``p_parameter_free`` spread over [0, 1];
- **plain_cnn**: :class:`~skhypernas.plain_cnn.PlainCNNClassifier` at widths spread
  over the picks' parameter range, the network a user writes instead of searching;
- **mlp**: scikit-learn's MLPClassifier at matching sizes, ``max_iter`` capped.

Every per-model training (fine-tuning, retraining, random, plain CNN) gets the same
budget in seconds and the same SGD recipe. Writes ``results.csv`` (one row per
model), ``fronts.csv`` (per family: Pareto front, hypervolume, wall time),
``summary.json`` (time plan, stage times, complexity control) and
``accuracy_vs_parameters.png``.
"""

import argparse
import sys
import time
from pathlib import Path

from ..datasets import load_train_test
from ..fronts import REFERENCE
from .families import run_experiment
from .results import RESULT_FILES, print_result, write_results
from .scales import SCALES
from .time_plan import plan_time, refuse_paper_scale_without_gpu


def _positive(kind):
    """An argparse ``type``: ``kind(text)``, a usage error unless it is positive."""

    def parse(text):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive; got {text}")
        return value

    return parse


def main(argv=None):
    """Run the experiment as the command line ``argv`` asks, once per seed of its scale.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments; None reads ``sys.argv``.
    """
    parser = argparse.ArgumentParser(prog="python -m skhypernas.experiments", description=__doc__)
    parser.add_argument("dataset", choices=["fashion-mnist", "digits"])
    parser.add_argument("--scale", choices=sorted(SCALES), default="cpu")
    parser.add_argument(
        "--time-budget",
        type=_positive(float),
        default=None,
        help="seconds for the whole run, split between the families (default: the scale's; 3000 for cpu)",
    )
    parser.add_argument("--k", type=_positive(int), default=None, help="HyperDARTS picks and DARTS searches")
    parser.add_argument("--search-share", type=float, default=None, help="the HyperDARTS search's budget share")
    parser.add_argument("--n-train", type=_positive(int), default=None, help="first N training samples")
    parser.add_argument("--n-test", type=_positive(int), default=None, help="first N test samples")
    parser.add_argument("--n-jobs", type=int, default=None, help="joblib workers of the per-model grids")
    parser.add_argument("--n-random", type=_positive(int), default=None, help="random architectures")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="start --scale paper without a GPU")
    parser.add_argument("--output", type=Path, default=Path("results/experiment"))
    args = parser.parse_args(argv)

    cfg = {key: (dict(v) if isinstance(v, dict) else v) for key, v in SCALES[args.scale].items()}
    for name in ("k", "search_share", "n_random"):
        if getattr(args, name) is not None:
            cfg[name] = getattr(args, name)
    n_train = args.n_train if args.n_train is not None else cfg["n_train"]
    n_test = args.n_test if args.n_test is not None else cfg["n_test"]
    n_jobs = args.n_jobs if args.n_jobs is not None else cfg["n_jobs"]
    budget = args.time_budget if args.time_budget is not None else cfg["time_budget"]
    if budget:
        counts = {"random": cfg["n_random"], "plain_cnn": cfg["n_cnn"]}
        shares = dict(search_share=cfg["search_share"], reserve_share=cfg["reserve_share"])
        try:  # a budget that cannot be split is a usage error, found before any data loads
            plan_time(budget, k=cfg["k"], counts=counts, n_jobs=n_jobs, **shares)
        except ValueError as exc:
            parser.error(str(exc))

    X_train, X_test, y_train, y_test = load_train_test(args.dataset, n_train)
    if n_test:
        X_test, y_test = X_test[:n_test], y_test[:n_test]
    refuse_paper_scale_without_gpu(args.scale, args.force, cfg, X_train, y_train)
    print(f"{args.dataset}, scale {args.scale}: {len(X_train)} training, {len(X_test)} test samples", flush=True)
    print(f"settings {cfg}", flush=True)
    unwritten = 0
    for seed in range(args.random_state, args.random_state + cfg["n_seeds"]):
        output = args.output if cfg["n_seeds"] == 1 else args.output / f"seed-{seed}"
        start = time.perf_counter()
        result = run_experiment(
            X_train,
            y_train,
            X_test,
            y_test,
            scale=cfg,
            time_budget=budget,
            n_jobs=n_jobs,
            random_state=seed,
            log=lambda line: print(line, flush=True),
        )
        total = time.perf_counter() - start
        title = f"{args.dataset}, {len(X_train)} training samples, scale {args.scale}, seed {seed}"
        paths = write_results(result, output, title)
        print_result(result, REFERENCE)
        limit = f" (budget {budget:.0f} s)" if budget else ""
        print(
            f"\nall done in {total:.0f} s{limit}; wrote {', '.join(sorted(paths)) or 'nothing'} to {output}", flush=True
        )
        unwritten += RESULT_FILES - len(paths)
    if unwritten:
        sys.exit(f"{unwritten} result files could not be written (see above)")
