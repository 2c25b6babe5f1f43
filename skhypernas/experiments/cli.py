"""``python -m skhypernas.experiments fashion-mnist --scale cpu``: the paper's experiment.

Test accuracy against parameter count on one train/test split, every family run
through scikit-learn's tooling (``cross_validate``, ``GridSearchCV``, joblib
``n_jobs``) under one time budget per seed that the run states at its start:

- **hyperdarts**: one HyperDARTSClassifier search (a share of the budget), read with
  inherited weights at a grid of lambdas and at K picks spread over its path's
  parameter range; each pick then fine-tuned from the inherited weights
  (``--search-spaces darts,NAME`` adds a family ``hyperdarts-NAME`` searching that space);
- **darts**: DARTSClassifier as its authors ran it (lambda 0), then at the picks'
  lambdas upward until a search collapses to parameter-free cells; the searches
  together get one HyperDARTS search's budget (equal total compute); read with
  inherited weights, each architecture then fine-tuned from its search's supernet
  and trained from scratch;
- **random**: RandomArchitectureClassifier with ``p_parameter_free`` spread over [0, 1];
- **plain_cnn**: :class:`~skhypernas.plain_cnn.PlainCNNClassifier` at widths spread
  over the picks' parameter range, the network a user writes instead of searching;
- **mlp**: scikit-learn's MLPClassifier at matching sizes, ``max_iter`` capped.

Every per-model training (fine-tuning, retraining, random, plain CNN) gets the same
budget in seconds and the same SGD recipe. ``--seeds N`` repeats it all with seeds
``--random-state`` ... ``+ N - 1``. Each seed's stages are written to
``OUTPUT/seed-<seed>/`` as they finish, so a rerun with the same ``--output`` skips
them and runs only the rest. After each seed the run writes ``results.csv`` (one row
per model and seed, a ``collapsed`` column), ``fronts.csv`` (per family: Pareto front
per seed, hypervolume as mean, min and max over seeds, wall time), ``summary.json``
(time plan, each seed's time, complexity control, collapsed searches) and
``accuracy_vs_parameters.png``.
"""

import argparse
import sys
import time
from pathlib import Path

from ..datasets import load_train_test
from ..fronts import REFERENCE
from ..spaces import SPACES
from .parts import SeedParts, check_run_settings
from .results import RESULT_FILES, print_result, write_results
from .run import run_experiment
from .scales import SCALES, hyperdarts_families
from .time_plan import plan_time, refuse_paper_scale_without_gpu


def _positive(kind):
    """An argparse ``type``: ``kind(text)``, a usage error unless it is positive."""

    def parse(text):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive; got {text}")
        return value

    return parse


def _spaces(text):
    """An argparse ``type``: comma-separated search space names this skhypernas has."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SPACES]
    if unknown or not names:
        named = ", ".join(map(repr, unknown)) or repr(text)
        raise argparse.ArgumentTypeError(
            f"search space {named} is not available in this skhypernas (it has: {', '.join(sorted(SPACES))})"
        )
    return names


def main(argv=None):
    """Run the experiment as the command line ``argv`` asks, once per seed.

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
        help="seconds per seed, split between the families (default: the scale's; 3000 for cpu)",
    )
    parser.add_argument("--seeds", type=_positive(int), default=None, help="seeds (default: the scale's; 1 for cpu)")
    parser.add_argument("--k", type=_positive(int), default=None, help="HyperDARTS picks (DARTS searches: k + 1)")
    parser.add_argument("--search-share", type=float, default=None, help="each HyperDARTS search's budget share")
    parser.add_argument(
        "--search-spaces",
        type=_spaces,
        default=None,
        help="comma-separated spaces, one HyperDARTS family each (default: darts; darts,chain adds hyperdarts-chain)",
    )
    parser.add_argument("--n-train", type=_positive(int), default=None, help="first N training samples")
    parser.add_argument("--n-test", type=_positive(int), default=None, help="first N test samples")
    parser.add_argument("--n-jobs", type=int, default=None, help="joblib workers of the per-model grids")
    parser.add_argument("--n-random", type=_positive(int), default=None, help="random architectures")
    parser.add_argument("--random-state", type=int, default=0, help="the first seed")
    parser.add_argument("--force", action="store_true", help="start --scale paper without a GPU")
    parser.add_argument(
        "--output", type=Path, default=Path("results/experiment"), help="folder; a rerun into it resumes the run"
    )
    args = parser.parse_args(argv)

    cfg = {key: (dict(v) if isinstance(v, dict) else v) for key, v in SCALES[args.scale].items()}
    for name in ("k", "search_share", "n_random"):
        if getattr(args, name) is not None:
            cfg[name] = getattr(args, name)
    if args.seeds is not None:
        cfg["n_seeds"] = args.seeds
    if args.search_spaces is not None:
        cfg["hyperdarts"] = hyperdarts_families(args.search_spaces, args.scale)
    n_train = args.n_train if args.n_train is not None else cfg["n_train"]
    n_test = args.n_test if args.n_test is not None else cfg["n_test"]
    n_jobs = args.n_jobs if args.n_jobs is not None else cfg["n_jobs"]
    budget = args.time_budget if args.time_budget is not None else cfg["time_budget"]
    if budget:
        counts = {"random": cfg["n_random"], "plain_cnn": cfg["n_cnn"]}
        shares = dict(search_share=cfg["search_share"], reserve_share=cfg["reserve_share"])
        try:  # a budget that cannot be split is a usage error, found before any data loads
            plan_time(budget, k=cfg["k"], counts=counts, n_jobs=n_jobs, n_hyperdarts=len(cfg["hyperdarts"]), **shares)
        except ValueError as exc:
            parser.error(str(exc))

    X_train, X_test, y_train, y_test = load_train_test(args.dataset, n_train)
    if n_test:
        X_test, y_test = X_test[:n_test], y_test[:n_test]
    refuse_paper_scale_without_gpu(args.scale, args.force, cfg, X_train, y_train)
    seeds = list(range(args.random_state, args.random_state + cfg["n_seeds"]))
    # What must not change between the parts of one run; more seeds may come later.
    settings = dict(
        dataset=args.dataset,
        scale=args.scale,
        n_train=len(X_train),
        n_test=len(X_test),
        time_budget=budget,
        n_jobs=n_jobs,
        **{f"scale.{k}": v for k, v in cfg.items() if k != "n_seeds"},
    )
    try:
        resumed = check_run_settings(args.output, settings)
    except (ValueError, OSError) as exc:
        sys.exit(str(exc))
    print(f"{args.dataset}, scale {args.scale}: {len(X_train)} training, {len(X_test)} test samples", flush=True)
    print(f"settings {cfg}", flush=True)
    print(f"seeds {', '.join(map(str, seeds))}; {'resuming' if resumed else 'writing'} {args.output}", flush=True)
    named = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}-{seeds[-1]}"
    title = f"{args.dataset}, {len(X_train)} training samples, scale {args.scale}, {named}"
    results, failed_parts, missing = [], 0, 0
    for seed in seeds:
        parts = SeedParts(args.output, seed)
        start = time.perf_counter()
        results.append(
            run_experiment(
                X_train,
                y_train,
                X_test,
                y_test,
                scale=cfg,
                time_budget=budget,
                n_jobs=n_jobs,
                random_state=seed,
                log=lambda line, seed=seed: print(f"seed {seed}: {line}", flush=True),
                parts=parts,
            )
        )
        # The files cover the seeds so far: a run stopped later still leaves them.
        paths = write_results(results, args.output, title)
        failed_parts, missing = failed_parts + len(parts.failed), RESULT_FILES - len(paths)
        print(
            f"seed {seed}: {sum(results[-1].seconds.values()):.0f} s of stages, {time.perf_counter() - start:.0f} s "
            f"this session; wrote {', '.join(sorted(paths)) or 'nothing'} to {args.output}",
            flush=True,
        )
    print_result(results, REFERENCE)
    if failed_parts + missing:
        sys.exit(f"{failed_parts + missing} files could not be written (see above)")
