"""Derived networks against a plain CNN of the same size: training and predicting speed.

    python benchmarks/bench_derived.py --json

The derived networks are the architectures of the CPU run's complexity path that the
speed issue measured (docs/results/fashion-mnist-cpu-2026-11-30) nearest to the plain CNN's 16,794 and 65,834
parameters, with fresh weights, built as the estimators build them. Every network is
timed in the same process, repetitions interleaved, on random 1x28x28 images:

* training: one SGD step (momentum 0.9) on a batch of ``--batch-size`` (128), forward,
  backward and update, as ``ArchitectureClassifier.fit`` runs it;
* predicting: a batch of ``PREDICT_BATCH_IMAGES`` (256) in inference mode, the
  derived networks in the form ``predict_proba`` runs (batch norms folded).

The plain CNN (``skhypernas.plain_cnn.PlainCNN``) runs as a user would write it, in
torch's default layout. ``--search-space chain`` times six architectures spread over
the chain run's path (``docs/results/fashion-mnist-cpu-chain``, or ``--chain-path``), each against the plain
CNN of the nearest parameter count. ``ratio`` is derived / plain for img/s, so 1 is parity.
Prints the host's CPU model and vector extensions. Not part of the test suite.
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from skhypernas.derived import DerivedNetwork
from skhypernas.search_space import Genotype, NetworkConfig

try:
    from skhypernas.inference import fold_batch_norms
except ImportError:  # commits before the inference form: time the network as it is

    def fold_batch_norms(network):
        return network.eval()


try:
    from skhypernas.plain_cnn import PlainCNN
except ImportError:
    PlainCNN = None

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
PATH = RESULTS / "fashion-mnist-cpu-2026-11-30" / "complexity_path.json"
CHAIN_PATH = RESULTS / "fashion-mnist-cpu-chain" / "complexity_path.json"
PREDICT_BATCH = 256


def host():
    """CPU model, the vector extensions that decide kernel speed, threads, torch."""
    model, flags = platform.processor(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("", platform.processor()):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    wanted = ["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16"]
    return dict(
        cpu=model,
        extensions=[f for f in wanted if f in flags],
        aten_capability=torch.backends.cpu.get_cpu_capability(),
        threads=torch.get_num_threads(),
        torch=torch.__version__,
    )


def networks():
    path = json.loads(PATH.read_text())["path"]
    config = NetworkConfig(in_channels=1, n_classes=10, channels=8, n_cells=3, n_nodes=4)
    out = {}
    for width in (16, 32):
        plain = PlainCNN(width)
        size = sum(p.numel() for p in plain.parameters())
        entry = min(path, key=lambda r: abs(r["n_parameters"] - size))
        out[f"derived {entry['n_parameters']:,}"] = DerivedNetwork(Genotype.from_json(entry["genotype"]), config)
        out[f"plain CNN {size:,}"] = plain
    return out


def chain_networks(count=6, path_file=CHAIN_PATH):
    """``count`` architectures spread over a chain run's path (``path_file``), each beside
    the plain CNN of the nearest parameter count."""
    from skhypernas.plain_cnn import plain_cnn_parameters
    from skhypernas.spaces import ChainSpace, as_architecture

    path = json.loads(Path(path_file).read_text())["path"]
    space = ChainSpace().bind(1, 10)
    entries = sorted({r["genotype"]: r for r in path}.values(), key=lambda r: r["n_parameters"])
    picks = [entries[round(i)] for i in np.linspace(0, len(entries) - 1, count)]
    out = {}
    for entry in dict.fromkeys(map(json.dumps, picks)):
        entry = json.loads(entry)
        width = min(range(4, 80), key=lambda w: abs(plain_cnn_parameters(w) - entry["n_parameters"]))
        out[f"derived {entry['n_parameters']:,}"] = space.build(as_architecture(entry["genotype"]))
        out[f"plain CNN {plain_cnn_parameters(width):,}"] = PlainCNN(width)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--search-space",
        choices=["darts", "chain"],
        default="darts",
        help="chain: architectures of the chain run's path (docs/results/fashion-mnist-cpu-chain)",
    )
    parser.add_argument(
        "--chain-path", type=Path, default=CHAIN_PATH, help="the complexity_path.json of another chain run"
    )
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    nets = networks() if args.search_space == "darts" else chain_networks(path_file=args.chain_path)
    x, y = torch.randn(args.batch_size, 1, 28, 28), torch.randint(0, 10, (args.batch_size,))
    images = torch.randn(PREDICT_BATCH, 1, 28, 28)
    optimizers = {k: torch.optim.SGD(n.parameters(), 0.01, momentum=0.9) for k, n in nets.items()}

    def train(name):
        net, opt = nets[name].train(), optimizers[name]
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()

    # predict_proba folds once per call, then runs every batch: folded once here.
    inference = {k: fold_batch_norms(n) if k.startswith("derived") else n.eval() for k, n in nets.items()}

    def predict(name):
        with torch.inference_mode():
            inference[name](images)

    rates = {k: dict(train=[], predict=[]) for k in nets}
    for rep in range(args.repeats + 1):  # the first round warms up
        for name in nets:
            for what, fn, n in (("train", train, args.batch_size), ("predict", predict, PREDICT_BATCH)):
                start = time.perf_counter()
                fn(name)
                if rep:
                    rates[name][what].append(n / (time.perf_counter() - start))
    figures = {}
    for name, r in rates.items():
        figures[name] = dict(parameters=sum(p.numel() for p in nets[name].parameters()))
        for what, values in r.items():
            figures[name][f"{what}_img_s"] = dict(median=statistics.median(values), min=min(values), max=max(values))
    names = list(nets)
    for derived, plain in zip(names[::2], names[1::2]):
        for what in ("train_img_s", "predict_img_s"):
            figures[derived][f"{what}_ratio"] = figures[derived][what]["median"] / figures[plain][what]["median"]
    report = dict(host=host(), batch_size=args.batch_size, predict_batch=PREDICT_BATCH, repeats=args.repeats)
    report["figures"] = figures
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(report["host"])
    for name, f in figures.items():
        ratio = lambda k: f" (x{f[k]:.2f})" if k in f else ""  # noqa: E731
        print(
            f"{name:18s} train {f['train_img_s']['median']:7.0f} img/s{ratio('train_img_s_ratio'):9s}"
            f"  predict {f['predict_img_s']['median']:7.0f} img/s{ratio('predict_img_s_ratio')}"
        )


if __name__ == "__main__":
    main()
