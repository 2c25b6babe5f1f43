"""Time the search's steps and inference: a straightforward supernet against skhypernas'.

    python benchmarks/bench_search.py --preset mini-fmnist --json

prints one JSON object. Every figure is measured for two variants, each in its own
process (so that peak memory is its own), in the same run:

* ``reference``: the textbook mixed operation defined below -- every candidate
  operation run on its own and summed, NCHW, nothing shared or fused;
* ``skhypernas``: the package's supernet as ``HyperDARTSClassifier`` runs it
  (the exact method: relaxed Gumbel-softmax weights over every operation);

and, for the search steps only, the opt-in approximations:

* ``bf16``: the same under bfloat16 autocast (``mixed_precision=True``; second-order
  steps stay float32 by design);
* ``hard``: straight-through hard sampling (``relaxation="hard"``), one operation per
  edge per batch.

All use the same parameters, search code (``BilevelSearch``) and random data; only
the supernet's forward and the step settings differ.

``--search-space chain`` times the chain space instead, in one process: a training
step of its largest member (every layer a 3x3 convolution at its stage's largest
width, the derived network as ``ArchitectureClassifier`` trains it) against the
search's steps on the supernet (a weight step, a first-order step, a discrete step of
the argmax architecture, a first-order step of hard sampling), ``ratio`` = step /
largest member's step::

    python benchmarks/bench_search.py --search-space chain --json ``ratio`` is reference / variant
for times and variant / reference for throughputs and memory, so a time ratio above
1 means the variant is faster. Not part of the test suite.
"""

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
import types

import numpy as np
import torch

from skhypernas import ops
from skhypernas._base import _to_device
from skhypernas.derived import DerivedNetwork
from skhypernas.hypernet import PiecewiseLinearHypernet
from skhypernas.search import BilevelSearch, SearchSettings
from skhypernas.search_space import PRIMITIVES, Genotype, NetworkConfig
from skhypernas.supernet import SearchNetwork

PRESETS = {
    # The authors' "mini Fashion-MNIST" search network.
    "mini-fmnist": dict(in_channels=1, size=28, n_classes=10, channels=16, n_cells=3, n_nodes=4, batch_size=64),
    # The package's CPU preset (python -m skhypernas --preset cpu).
    "cpu": dict(in_channels=1, size=28, n_classes=10, channels=8, n_cells=3, n_nodes=4, batch_size=64),
}


def reference_mixed_op(edge, x, weights, choice=None):
    """Every candidate operation, "none" included, weighted and summed."""
    out = 0.0
    for k in range(len(PRIMITIVES)):
        w = weights[..., k]
        out = out + (w.view(-1, 1, 1, 1) if w.dim() else w) * edge.ops[k](x)
    return out


VARIANTS = {
    "reference": {},
    "skhypernas": {},
    "bf16": dict(mixed_precision=True),
    "hard": dict(relaxation="hard"),
}


def build(variant, args):
    torch.manual_seed(0)
    config = NetworkConfig(
        in_channels=args.in_channels,
        n_classes=args.n_classes,
        channels=args.channels,
        n_cells=args.n_cells,
        n_nodes=args.n_nodes,
    )
    supernet = SearchNetwork(config, fused=variant != "reference")
    if variant == "reference":
        # Textbook pooling too: ATen's kernels, as nn.MaxPool2d and nn.AvgPool2d run.
        ops._pool = lambda pool, x, *args, **kwargs: pool(x, *args, **kwargs)
        for cell in supernet.cells:
            for edge in cell.edges:
                edge.forward = types.MethodType(reference_mixed_op, edge)
    device = torch.device(args.device)
    supernet = _to_device(supernet, device)
    hypernet = PiecewiseLinearHypernet(supernet.space.arch_shape, (1e-10, 1e-6)).to(device)
    return config, supernet, hypernet, device


def timed(fn, repeats):
    fn()  # warm-up: allocator, kernels, optimiser state
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return dict(median=statistics.median(times), min=min(times), max=max(times))


def throughput(images, seconds):
    """Images per second from ``timed``'s seconds: the fastest time is the highest rate."""
    return dict(median=images / seconds["median"], min=images / seconds["max"], max=images / seconds["min"])


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(variant, args):
    config, supernet, hypernet, device = build(variant, args)
    rng = np.random.RandomState(0)
    shape = (args.batch_size, args.in_channels, args.size, args.size)
    x, xv = _to_device(torch.randn(shape), device), _to_device(torch.randn(shape), device)
    y = torch.randint(0, args.n_classes, (args.batch_size,), device=device)
    settings = dict(batch_size=args.batch_size, **VARIANTS[variant])
    n = args.batch_size  # the steps are timed on one batch of each half
    first = BilevelSearch(supernet, hypernet, SearchSettings(**settings), rng, n, n)
    second = BilevelSearch(supernet, hypernet, SearchSettings(**settings, second_order=True), rng, n, n)
    lam, t = 1e-8, 0.5
    supernet.train()
    result = dict(
        weight_step_s=timed(lambda: first.weight_step(x, y, lam, t), args.repeats),
        first_order_step_s=timed(
            lambda: (first.arch_step(xv, y, lam, t), first.weight_step(x, y, lam, t)), args.repeats
        ),
    )
    # A search with first-order steps (the default) never goes past this peak.
    result["first_order_peak_rss_mb"] = peak_rss_mb()
    result["second_order_step_s"] = timed(
        lambda: (second.arch_step(xv, y, lam, t, (x, y)), second.weight_step(x, y, lam, t)),
        max(1, args.repeats // 2),
    )
    if variant not in ("reference", "skhypernas"):  # inference does not depend on these settings
        result["peak_rss_mb"] = peak_rss_mb()
        return result
    batch = _to_device(torch.randn(4 * args.batch_size, *shape[1:]), device)
    supernet.eval()
    with torch.no_grad():
        weights = torch.softmax(hypernet(lam), -1)
        seconds = timed(lambda: supernet(batch, weights), args.repeats)
        result["supernet_inference_img_s"] = throughput(len(batch), seconds)
        # The architecture of the path's smallest lambda: the largest derived network.
        genotype = Genotype.from_choices(weights[0].argmax(-1).tolist(), weights[1].argmax(-1).tolist())
        derived = DerivedNetwork.from_supernet(supernet, genotype).eval()
        seconds = timed(lambda: derived(batch), args.repeats)
        result["derived_inference_img_s"] = throughput(len(batch), seconds)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def measure_chain(args):
    """The chain space's search steps against a training step of its largest member."""
    from skhypernas.spaces import ChainArchitecture, ChainSpace

    torch.manual_seed(0)
    device = torch.device(args.device)
    space = ChainSpace().bind(args.in_channels, args.n_classes)
    supernet = space.supernet().to(device)
    hypernet = PiecewiseLinearHypernet(space.arch_shape, (1e-8, 1e-4), option_mask=space.option_mask()).to(device)
    shape = (args.batch_size, args.in_channels, args.size, args.size)
    x, xv = torch.randn(shape, device=device), torch.randn(shape, device=device)
    y = torch.randint(0, args.n_classes, (args.batch_size,), device=device)
    rng = np.random.RandomState(0)
    n = args.batch_size
    search = BilevelSearch(supernet, hypernet, SearchSettings(batch_size=n), rng, n, n)
    hard = BilevelSearch(supernet, hypernet, SearchSettings(batch_size=n, relaxation="hard"), rng, n, n)
    largest = ChainArchitecture(tuple(("conv_3x3", space.widths[stage]) for stage in space.layer_stage), space.stages)
    member = space.build(largest).to(device).train()
    optimizer = torch.optim.SGD(member.parameters(), 0.05, momentum=0.9)

    def member_step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(member(x), y).backward()
        optimizer.step()

    lam, t = 1e-8, 0.5
    supernet.train()
    result = dict(largest_member_parameters=space.n_parameters(largest))
    result["largest_member_step_s"] = timed(member_step, args.repeats)
    result["weight_step_s"] = timed(lambda: search.weight_step(x, y, lam, t), args.repeats)
    result["first_order_step_s"] = timed(
        lambda: (search.arch_step(xv, y, lam, t), search.weight_step(x, y, lam, t)), args.repeats
    )
    result["discrete_step_s"] = timed(lambda: search.discrete_step(x, y, lam), args.repeats)
    result["hard_first_order_step_s"] = timed(
        lambda: (hard.arch_step(xv, y, lam, t), hard.weight_step(x, y, lam, t)), args.repeats
    )
    base = result["largest_member_step_s"]["median"]
    for key in ("weight_step_s", "first_order_step_s", "discrete_step_s", "hard_first_order_step_s"):
        result[key[: -len("_s")] + "_ratio"] = result[key]["median"] / base
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def compare(results):
    """Each figure of each variant beside the reference's, with their ratio."""
    out = {}
    for key, ref in results["reference"].items():
        row = dict(reference=ref)
        for variant, figures in results.items():
            if variant == "reference" or key not in figures:
                continue
            fast = figures[key]
            row[variant] = fast
            if isinstance(ref, dict):
                ratio = fast["median"] / ref["median"] if key.endswith("img_s") else ref["median"] / fast["median"]
            else:
                ratio = fast / ref
            row[f"{variant}_ratio"] = ratio
        out[key] = row
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="mini-fmnist")
    parser.add_argument("--channels", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per figure (median, min, max)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (else a table)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, from: " + ", ".join(VARIANTS))
    parser.add_argument("--variant", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--search-space", choices=["darts", "chain"], default="darts")
    args = parser.parse_args(argv)
    for key, value in PRESETS[args.preset].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.search_space == "chain":
        report = dict(
            search_space="chain",
            settings=dict(batch_size=args.batch_size, size=args.size, device=args.device, repeats=args.repeats),
            machine=dict(platform=platform.platform(), threads=torch.get_num_threads(), torch=torch.__version__),
            figures=measure_chain(args),
        )
        print(json.dumps(report, indent=1))
        return
    if args.variant:  # a child process: one variant, JSON on stdout
        print(json.dumps(measure(args.variant, args)))
        return
    results = {}
    for variant in ["reference"] + [v for v in args.variants.split(",") if v != "reference"]:
        child = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:]), "--variant", variant]
        results[variant] = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout)
    report = dict(
        preset=args.preset,
        settings={
            k: getattr(args, k) for k in ("channels", "batch_size", "n_nodes", "n_cells", "size", "device", "repeats")
        },
        machine=dict(
            platform=platform.platform(),
            processor=platform.processor(),
            threads=torch.get_num_threads(),
            torch=torch.__version__,
        ),
        figures=compare(results),
    )
    if args.json:
        print(json.dumps(report, indent=1))
        return
    for key, row in report["figures"].items():
        cells = []
        for variant, value in row.items():
            if not variant.endswith("_ratio"):
                value = value["median"] if isinstance(value, dict) else value
                ratio = row.get(f"{variant}_ratio")
                cells.append(f"{variant} {value:9.3f}" + ("" if ratio is None else f" (x{ratio:.2f})"))
        print(f"{key:26s} " + "   ".join(cells))


if __name__ == "__main__":
    main()
