"""The Python half of ``benchmarks/gpu_check.sh``: the checks it asks for and the one JSON
report it writes.

    python benchmarks/gpu_check.py require-cuda        # exit 2, saying why, without CUDA
    python benchmarks/gpu_check.py has-space chain     # exit 0 when the space is registered
    python benchmarks/gpu_check.py time-search --space darts --steps 150 --output OUT/paper_search.json
    python benchmarks/gpu_check.py report OUT          # OUT/gpu_check.json from the stages' files

``gpu_check.sh`` runs each stage under ``timeout`` and leaves in its folder, per stage
``NAME``: ``NAME.rc`` (exit status; 124 is a timeout), ``NAME.seconds``, ``NAME.log``,
``NAME.json`` (the stage's figures, when it has some) or ``NAME.skipped`` (why it did
not run). ``report`` reads them whatever happened, so a stage that failed or ran out of
time is a line of the report, not a missing report. Not part of the test suite (its
logic is: ``tests/test_gpu_check.py``).
"""

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

from skhypernas.atomic_files import write_atomically

#: The stages of ``gpu_check.sh``, in order.
STAGES = ("cuda_tests", "bench_search_darts", "bench_search_chain", "paper_search", "chain_search")
#: Full Fashion-MNIST: the training images a full search runs over.
FASHION_MNIST_TRAIN = 60_000


def require_cuda():
    """Exit with status 2 and a message on stderr unless torch sees a CUDA device."""
    import torch

    if not torch.cuda.is_available():
        sys.exit(
            f"gpu_check: no CUDA device here (torch {torch.__version__}, built for CUDA {torch.version.cuda}); "
            "this check runs on a GPU machine only"
        )


def search_settings(space):
    """The HyperDARTSClassifier parameters to time for ``space``, and the preset's name.

    The DARTS cells: the paper setting (``PRESETS["paper"]``). Another space: its
    ``"paper"`` preset where :data:`~skhypernas.presets.SPACE_PRESETS` has one, else its
    ``"cpu"`` one (the chain space has only that), else the paper setting on that space.
    """
    from skhypernas.presets import PRESETS, SPACE_PRESETS

    if space == "darts":
        return dict(PRESETS["paper"]), "paper"
    presets = SPACE_PRESETS.get(space, {})
    for name in ("paper", "cpu"):
        if name in presets:
            return {**presets[name], "search_space": space}, name
    return {**PRESETS["paper"], "search_space": space}, "paper"


def _figures(params, step, steps, n_train):
    from skhypernas.experiments import search_seconds_estimate

    total = search_seconds_estimate(params, n_train, step)
    return dict(
        step_seconds=step,
        steps_timed=2 * steps,
        full_search_steps=round(total / step),
        estimated_search_seconds=total,
        estimated_search_hours=total / 3600,
    )


def time_search(
    params, steps, device, max_seconds, image_shape=(1, 28, 28), n_train=FASHION_MNIST_TRAIN, save=lambda figures: None
):
    """Time search steps of ``HyperDARTSClassifier(**params)`` and extrapolate a full search.

    A short calibration (two epochs of ten steps) first, then two epochs of ``steps``
    steps, fewer if the calibration says they would not fit into ``max_seconds``.
    ``save(figures)`` receives the calibration's figures, then the long run's: a stage
    stopped by its time limit still leaves the first.

    Returns
    -------
    dict
        ``step_seconds`` (the faster epoch's, per step), ``steps_timed``, the full
        search's ``full_search_steps`` over ``n_train`` images and its
        ``estimated_search_seconds`` and ``_hours``.
    """
    from skhypernas.experiments import time_search_step

    full_batch = params.get("batch_size", 64)
    start = time.perf_counter()
    step = time_search_step(params, image_shape, 10, batch=full_batch, steps=10, device=device)
    figures = _figures(params, step, 10, n_train)
    save(figures)
    # Two epochs of the long run in what is left of 80% of the allowance.
    left = 0.8 * max_seconds - (time.perf_counter() - start)
    steps = min(steps, int(left / (2 * step))) if left > 0 else 0
    if steps > 10:
        step = time_search_step(params, image_shape, 10, batch=full_batch, steps=steps, device=device)
        figures = _figures(params, step, steps, n_train)
        save(figures)
    return figures


def gpu_facts():
    """The first CUDA device: name, compute capability, memory; and how many there are
    (``count`` 0 and no name where there is none)."""
    import torch

    if not torch.cuda.is_available():
        return dict(name=None, count=0)
    properties = torch.cuda.get_device_properties(0)
    return dict(
        name=torch.cuda.get_device_name(0),
        capability=".".join(map(str, torch.cuda.get_device_capability(0))),
        memory_gib=round(properties.total_memory / 2**30, 1),
        count=torch.cuda.device_count(),
    )


def versions():
    """Python, torch, CUDA, cuDNN, skhypernas, numpy, scikit-learn, and the commit when git knows it."""
    import numpy
    import sklearn
    import torch

    import skhypernas

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = None  # a copy of the tree without its .git
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return dict(
        python=platform.python_version(),
        torch=torch.__version__,
        cuda=torch.version.cuda,
        cudnn=cudnn,
        skhypernas=skhypernas.__version__,
        numpy=numpy.__version__,
        scikit_learn=sklearn.__version__,
        commit=commit,
    )


def stage_record(folder, name):
    """What stage ``name`` left in ``folder``: its status, exit code, seconds, figures, the end of its log.

    Parameters
    ----------
    folder : path-like
    name : str

    Returns
    -------
    dict
        ``status`` is ``"passed"``, ``"failed"``, ``"timed out"`` (exit 124 or 137),
        ``"skipped"`` (with ``reason``) or ``"not run"``.
    """
    folder = Path(folder)

    def read(suffix):
        path = folder / f"{name}.{suffix}"
        return path.read_text().strip() if path.is_file() else None

    skipped = read("skipped")
    if skipped is not None:
        return dict(status="skipped", reason=skipped)
    rc = read("rc")
    if rc is None:
        return dict(status="not run")
    code = int(rc)
    record = dict(
        status="passed" if code == 0 else "timed out" if code in (124, 137) else "failed",
        exit_code=code,
        seconds=float(read("seconds") or "nan"),
    )
    text = read("json")
    if text:
        try:
            record["figures"] = json.loads(text)
        except json.JSONDecodeError:
            record["figures"] = None  # cut short while writing: the log says more
    log = read("log")
    if log:
        record["log_tail"] = log.splitlines()[-5:]
    return record


def build_report(gpu, versions, stages):
    """The check's one JSON object from its parts.

    Parameters
    ----------
    gpu : dict
        :func:`gpu_facts`.
    versions : dict
        :func:`versions`.
    stages : dict
        ``{name: stage_record(...)}``.

    Returns
    -------
    dict
        ``gpu``, ``versions``, ``stages``, ``ok`` (every stage passed or was skipped),
        and the paper setting's ``paper_full_search_seconds`` and ``_hours`` (one
        HyperDARTS search of 50 epochs over Fashion-MNIST's 60,000 training images,
        from the timed steps; None when that stage left no figure).
    """
    paper = (stages.get("paper_search") or {}).get("figures") or {}
    seconds = paper.get("estimated_search_seconds")
    return dict(
        gpu=gpu,
        versions=versions,
        ok=all(s["status"] in ("passed", "skipped") for s in stages.values()),
        paper_full_search_seconds=seconds,
        paper_full_search_hours=None if seconds is None else seconds / 3600,
        stages=stages,
    )


def report(folder):
    """Write ``folder/gpu_check.json``; returns the report."""
    folder = Path(folder)
    result = build_report(gpu_facts(), versions(), {name: stage_record(folder, name) for name in STAGES})
    (folder / "gpu_check.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("require-cuda", help="exit 2 without a CUDA device")
    has_space = commands.add_parser("has-space", help="exit 0 when the search space is registered")
    has_space.add_argument("space")
    timing = commands.add_parser("time-search", help="time search steps, extrapolate a full search")
    timing.add_argument("--space", default="darts")
    timing.add_argument("--steps", type=int, default=150, help="steps per timed epoch (two epochs)")
    timing.add_argument("--device", default="cuda")
    timing.add_argument("--max-seconds", type=float, default=100.0, help="the stage's time limit")
    timing.add_argument("--output", type=Path, required=True)
    reporting = commands.add_parser("report", help="assemble gpu_check.json from a folder's stage files")
    reporting.add_argument("folder", type=Path)
    args = parser.parse_args(argv)

    if args.command == "require-cuda":
        require_cuda()
    elif args.command == "has-space":
        from skhypernas.spaces import SPACES

        sys.exit(0 if args.space in SPACES else 1)
    elif args.command == "time-search":
        params, preset = search_settings(args.space)
        about = dict(space=args.space, preset=preset, settings=params, device=args.device)

        def save(figures):
            text = json.dumps({**about, **figures}, indent=1, default=repr) + "\n"
            write_atomically(args.output, lambda tmp: tmp.write_text(text))

        figures = time_search(params, args.steps, args.device, args.max_seconds, save=save)
        hours = figures["estimated_search_hours"]
        print(
            f"{args.space} ({preset} preset): {figures['step_seconds']:.4f} s a step over {figures['steps_timed']} "
            f"steps; a full search of {figures['full_search_steps']:,} steps: {hours:.2f} h",
            flush=True,
        )
    else:
        result = report(args.folder)
        for name, stage in result["stages"].items():
            print(f"{name:20s} {stage['status']}" + (f" ({stage['seconds']:.0f} s)" if "seconds" in stage else ""))
        hours = result["paper_full_search_hours"]
        if hours is not None:
            print(f"paper setting: one full search about {hours:.2f} h on {result['gpu']['name']}")
        print(f"wrote {args.folder / 'gpu_check.json'}")
        sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
