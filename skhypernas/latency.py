"""Latency tables: what each part of a search space's networks costs to run, measured.

A search space names what to time (:meth:`~skhypernas.spaces.SearchSpace.latency_entries`:
every candidate operation at its shape, in the derived networks' memory layout, and
the parts every network has); this module times those modules with
``torch.utils.benchmark`` in their inference form, stores the medians in a
:class:`LatencyTable`, caches tables on disk, and refuses a table measured for other
shapes. The space then prices an architecture by adding up the entries its network
runs (:meth:`~skhypernas.spaces.SearchSpace.cost`). Nothing here knows a space's
operations.
"""

import dataclasses
import hashlib
import json
import os
import platform
import warnings
from pathlib import Path

import numpy as np
import torch

from .atomic_files import write_atomically

#: The environment variable that moves the latency cache (tests point it at a temporary folder).
CACHE_ENV = "SKHYPERNAS_CACHE_DIR"
#: Seconds each entry is timed for at least, after a warm-up: with :data:`REPEATS`
#: blocks of at least one call each, a table of a few dozen entries takes seconds.
MIN_RUN_TIME = 0.02
#: Blocks of calls per entry; the table keeps the median block's time per call.
REPEATS = 5
#: Whole networks (the space's random architectures) timed to scale the entries' sum
#: to what a network takes (docs/benchmarks.md, "Latency tables").
CALIBRATION_NETWORKS = 3
#: The format of a table's JSON file, and of what its entries time: part of the disk
#: cache's key, so that a change to either measures tables again (2: the chain
#: space's entries run channels-last, as its networks now do).
TABLE_VERSION = 2
#: Versions whose files read: 1 has the same fields (its chain entries were timed in
#: torch's default layout), so models saved with one still load.
READABLE_VERSIONS = (1, 2)


@dataclasses.dataclass(frozen=True)
class LatencyEntry:
    """One thing a latency table times: a module at its inputs' shapes.

    Parameters
    ----------
    key : str
        The entry's name in the table; the space's costs look it up. Keys name
        shapes (``"sep_conv_3x3 c8 s1 28x28"``), so a table measured for another
        network lacks them and is refused.
    make : callable
        ``make()`` returns the module, with any weights (the timing folds its batch
        norms with the space's :meth:`~skhypernas.spaces.SearchSpace.fold`).
    input_shapes : tuple of tuple of int
        Each input's shape without the batch axis, e.g. ``((8, 28, 28),)``.
    channels_last : bool, default=True
        Whether 4-d inputs come in channels-last memory layout (as inside a derived
        network) rather than NCHW (as the images a network is given).
    """

    key: str
    make: object
    input_shapes: tuple
    channels_last: bool = True

    def __post_init__(self):
        object.__setattr__(self, "input_shapes", tuple(tuple(int(v) for v in s) for s in self.input_shapes))

    def inputs(self, batch_size, device):
        """Random inputs of ``batch_size`` images in the entry's layout."""
        tensors = []
        for shape in self.input_shapes:
            x = torch.randn(batch_size, *shape, device=device)
            if self.channels_last and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            tensors.append(x)
        return tensors


class LatencyTable:
    """Measured milliseconds per image of a space's latency entries, and where they were measured.

    Build one with :func:`measure_latency_table`; ``save`` and ``load`` ship it to
    another machine as JSON.

    Parameters
    ----------
    ms : dict of str to float
        Median milliseconds per image of each entry.
    shapes : dict of str to list
        Each entry's input shapes and layout, as measured (what :meth:`check` compares).
    host : dict
        Where and how: device, CPU model, vector extensions, threads, torch version,
        batch size, and the space and image shape it was measured for.
    scale : float, default=1.0
        What every entry is multiplied by: whole networks take longer than the sum of
        their parts timed alone (memory that a network's many tensors fault in again,
        caches that one module's repeated calls keep warm), and
        :func:`measure_latency_table` measures by how much on a few networks.
    """

    def __init__(self, ms, shapes, host, scale=1.0):
        # Read-only once built: tables key caches by their content.
        self.ms = {str(k): float(v) for k, v in ms.items()}
        self.shapes = {str(k): _shape_record(v) for k, v in shapes.items()}
        self.host = dict(host)
        self.scale = float(scale)

    def __getitem__(self, key):
        """Milliseconds per image of entry ``key``, scaled (see ``scale``)."""
        try:
            return self.scale * self.ms[key]
        except KeyError:
            raise ValueError(f"the latency table has no entry {key!r}; check it against the space first") from None

    def __len__(self):
        return len(self.ms)

    def __eq__(self, other):
        return isinstance(other, LatencyTable) and self.to_dict() == other.to_dict()

    def __hash__(self):
        # Tables key the spaces' cost caches, looked up at every architecture step.
        if getattr(self, "_hash", None) is None:
            self._hash = hash(self.digest())
        return self._hash

    def __repr__(self):
        host = self.host
        return (
            f"LatencyTable({len(self.ms)} entries, {host.get('device')}, {host.get('cpu')}, "
            f"{host.get('threads')} threads, batch {host.get('batch_size')}, {self.digest()[:8]})"
        )

    def digest(self):
        """A hash of the table's content: names one table among others."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def check(self, space):
        """Refuse a table that does not hold ``space``'s entries at their shapes.

        Parameters
        ----------
        space : SearchSpace
            A bound space.

        Returns
        -------
        LatencyTable
            This table.

        Raises
        ------
        ValueError
            Naming the entries it lacks or measured at other shapes, and what it was
            measured for.
        """
        needed = {entry.key: _shape_record(entry) for entry in space.latency_entries()}
        missing = [key for key in needed if key not in self.ms]
        other = [key for key in needed if key in self.ms and self.shapes.get(key) != needed[key]]
        if missing or other:
            problems = []
            if missing:
                problems.append(f"lacks {len(missing)} of its {len(needed)} entries ({_first(missing)})")
            if other:
                problems.append(f"measured {len(other)} at other shapes or layouts ({_first(other)})")
            raise ValueError(
                f"the latency table does not match this network: it {' and '.join(problems)}. It was "
                f"measured for {self.host.get('space')} at image shape {self.host.get('image_shape')}; "
                "measure one for this network with skhypernas.latency.measure_latency_table"
            )
        return self

    def to_dict(self):
        """The table as plain values (see :meth:`from_dict`)."""
        return {"version": TABLE_VERSION, "ms": self.ms, "shapes": self.shapes, "host": self.host, "scale": self.scale}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`."""
        try:
            if data.get("version") not in READABLE_VERSIONS:
                raise ValueError(f"version {data.get('version')!r}, this skhypernas reads {READABLE_VERSIONS}")
            return cls(data["ms"], data["shapes"], data["host"], data["scale"])
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a latency table ({type(exc).__name__}: {exc})") from None

    def save(self, path):
        """Write the table as JSON (atomically); returns the path."""
        text = json.dumps(self.to_dict(), indent=1, sort_keys=True)
        return write_atomically(path, lambda tmp: tmp.write_text(text))

    @classmethod
    def load(cls, path):
        """A table written by :meth:`save`."""
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not a latency table: {exc}") from None
        return cls.from_dict(data)


def _shape_record(value):
    """An entry's shapes and layout as JSON values: ``[[shape, ...], channels_last]``."""
    if isinstance(value, LatencyEntry):
        return [[list(s) for s in value.input_shapes], bool(value.channels_last)]
    shapes, channels_last = value
    return [[[int(v) for v in s] for s in shapes], bool(channels_last)]


def _first(keys, n=3):
    return ", ".join(repr(k) for k in keys[:n]) + (", ..." if len(keys) > n else "")


# -- measuring -------------------------------------------------------------------------


def cpu_model():
    """The CPU's model name, as Linux reports it (``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_description(device, n_threads, batch_size):
    """What a measurement depends on besides the shapes: the key of the disk cache."""
    from . import __version__

    device = torch.device(device)
    host = {
        "skhypernas": __version__,
        "table_version": TABLE_VERSION,
        "device": str(device),
        "cpu": cpu_model(),
        "vector_extensions": torch.backends.cpu.get_cpu_capability(),
        "threads": int(n_threads),
        "torch": torch.__version__,
        "batch_size": int(batch_size),
    }
    if device.type == "cuda":
        host["gpu"] = torch.cuda.get_device_name(device)
    return host


def time_entries(entries, fold, device, batch_size, n_threads, min_run_time=MIN_RUN_TIME):
    """Median milliseconds per image of every entry (each key once), timed in inference mode.

    Parameters
    ----------
    entries : list of LatencyEntry
    fold : callable
        The inference form of a module (the space's :meth:`~skhypernas.spaces.SearchSpace.fold`).
    device : torch.device
    batch_size, n_threads : int
    min_run_time : float
        Seconds of timing per entry after the warm-up.

    Returns
    -------
    dict of str to float
    """
    # Imported here: torch.utils.benchmark imports the C++ extension builder, which
    # warns about a missing CUDA toolkit on every CPU-only machine at import time.
    from torch.utils import benchmark

    device = torch.device(device)
    times = {}
    # The modules' random weights and inputs leave the caller's random streams as
    # they were: a fit measuring a table searches exactly as one that does not.
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(0)
        for entry in entries:
            if entry.key in times:
                continue
            module = fold(entry.make()).to(device).eval()
            if device.type == "cuda":
                module = module.to(memory_format=torch.channels_last)
            inputs = entry.inputs(batch_size, device)
            timer = benchmark.Timer(
                "module(*inputs)", globals={"module": module, "inputs": inputs}, num_threads=int(n_threads)
            )
            times[entry.key] = 1e3 * _median_call(timer, min_run_time) / batch_size
    return times


def _median_call(timer, min_run_time, repeats=REPEATS):
    """Seconds per call: the median of ``repeats`` blocks that together run at least
    ``min_run_time``.

    ``Timer.blocked_autorange`` sizes its blocks so that a slow module gets a single
    one; here every entry gets ``repeats`` blocks whatever its speed. ``Timer.timeit``
    warms up before each block (two calls, or 1% of the block).
    """
    # Inference mode is per thread, and the timer runs the statement in this one.
    with torch.inference_mode():
        once = timer.timeit(1).median
        number = max(1, round(min_run_time / repeats / max(once, 1e-9)))
        return float(np.median([timer.timeit(number).median for _ in range(repeats)]))


def calibrate(space, table, image_shape, device, n_threads, n_networks=CALIBRATION_NETWORKS):
    """Time ``n_networks`` of the space's random architectures whole; the median of
    measured over the table's sum, and each network's figures.

    Parameters
    ----------
    space : SearchSpace
        Bound to ``image_shape``.
    table : LatencyTable
        The space's entries, unscaled.
    image_shape : (int, int, int)
    device : torch.device
    n_threads, n_networks : int

    Returns
    -------
    scale : float
    networks : list of dict
        ``predicted_ms`` (unscaled) and ``measured_ms`` per image of each network.
    """
    batch_size = table.host["batch_size"]
    from torch.utils import benchmark

    rng = np.random.RandomState(0)
    networks = []
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(0)
        for _ in range(n_networks):
            architecture = space.random_architecture(rng)
            network = space.fold(space.build(architecture)).to(device).eval()
            x = torch.randn(batch_size, *image_shape, device=device)
            if device.type == "cuda":
                network, x = (v.to(memory_format=torch.channels_last) for v in (network, x))
            timer = benchmark.Timer("network(x)", globals={"network": network, "x": x}, num_threads=int(n_threads))
            # A whole network is slow: one block of two calls after timeit's two
            # warm-up calls; the median is over the networks.
            with torch.inference_mode():
                measured = 1e3 * timer.timeit(2).median / batch_size
            networks.append({"predicted_ms": float(space.cost(architecture, table)), "measured_ms": measured})
    scale = float(np.median([n["measured_ms"] / n["predicted_ms"] for n in networks])) if networks else 1.0
    return scale, networks


def cache_dir():
    """The latency cache's folder.

    Returns
    -------
    pathlib.Path
        ``$SKHYPERNAS_CACHE_DIR``, else ``skhypernas`` in the user's cache folder
        (``$XDG_CACHE_HOME``, or ``~/.cache``).
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "skhypernas"


def _cache_file(folder, host, entries):
    shapes = sorted({entry.key: _shape_record(entry) for entry in entries}.items())
    key = json.dumps({"host": host, "entries": shapes}, sort_keys=True)
    return Path(folder) / f"latency-{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def measure_latency_table(
    search_space,
    image_shape,
    n_classes=10,
    *,
    batch_size=None,
    n_threads=None,
    device="cpu",
    min_run_time=MIN_RUN_TIME,
    calibration_networks=CALIBRATION_NETWORKS,
    cache=True,
):
    """Measure a latency table of a search space's networks on this machine.

    Times every entry the space names (each candidate operation at its shape, in the
    derived networks' memory layout, and the parts every network has: stem,
    preprocessing, classifier, ...) in its inference form, with
    ``torch.utils.benchmark``: the median of several blocks of calls, in milliseconds
    per image. Run it on the machine the model will serve on and pass the table (or
    its file, :meth:`LatencyTable.save`) as ``latency_table=`` to fit for that
    machine.

    Parameters
    ----------
    search_space : str or SearchSpace
        The space the estimator searches, e.g. ``DartsSpace(channels=8)`` for the CPU
        preset (``"darts"`` is its default shape).
    image_shape : (int, int, int)
        ``(C, H, W)`` of the images, as the fitted estimator's ``image_shape_``.
    n_classes : int, default=10
    batch_size : int or None, default=None
        Images per call; None: the batch ``predict`` uses for these images.
    n_threads : int or None, default=None
        CPU threads; None: ``torch.get_num_threads()``, what ``predict`` uses.
    device : str or torch.device, default="cpu"
    min_run_time : float, default=0.02
        Seconds of timing per entry at least, after a warm-up.
    calibration_networks : int, default=3
        Whole networks (random architectures of the space) timed to scale the
        entries' sum to what a network takes (``LatencyTable.scale``); 0 leaves it 1.
    cache : bool or path-like, default=True
        Read the table from, and write it to, a cache folder keyed by device, CPU
        model, vector extensions, threads, torch version, batch size and the entries'
        shapes: True uses :func:`cache_dir`, a path that folder, False none.

    Returns
    -------
    LatencyTable
    """
    from ._base import predict_batch_size
    from .spaces import resolve_space

    image_shape = tuple(int(v) for v in image_shape)
    if len(image_shape) != 3 or min(image_shape) < 1:
        raise ValueError(f"image_shape must be (C, H, W) of positive sizes; got {image_shape!r}")
    space = resolve_space(search_space).bind(image_shape[0], n_classes, image_size=image_shape[1:])
    batch_size = predict_batch_size(image_shape) if batch_size is None else int(batch_size)
    n_threads = torch.get_num_threads() if n_threads is None else int(n_threads)
    if batch_size < 1 or n_threads < 1:
        raise ValueError(f"batch_size and n_threads must be at least 1; got {batch_size} and {n_threads}")
    device = torch.device(device)
    entries = space.latency_entries()
    host = host_description(device, n_threads, batch_size)
    host["calibration_networks"] = int(calibration_networks)
    path = None if cache is False else _cache_file(cache_dir() if cache is True else cache, host, entries)
    if path is not None and path.is_file():
        try:
            return LatencyTable.load(path).check(space)
        except (OSError, ValueError) as exc:
            warnings.warn(f"ignoring the cached latency table {path}: {exc}", RuntimeWarning, stacklevel=2)
    ms = time_entries(entries, space.fold, device, batch_size, n_threads, min_run_time)
    described = {
        **host,
        "space": space.to_dict(),
        "image_shape": list(image_shape),
        "min_run_time": float(min_run_time),
    }
    table = LatencyTable(ms, {entry.key: entry for entry in entries}, _plain(described))
    scale, networks = calibrate(space, table, image_shape, device, n_threads, int(calibration_networks))
    described["calibration"] = networks
    table = LatencyTable(ms, table.shapes, _plain(described), scale)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            table.save(path)
        except OSError as exc:
            warnings.warn(f"could not cache the latency table: {exc}", RuntimeWarning, stacklevel=2)
    return table


def _plain(value):
    """JSON values of a dict of tuples, numpy scalars and the like."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if isinstance(v, np.generic) else str(v)))


def as_latency_table(value):
    """A :class:`LatencyTable` from a table, its dict or its JSON file.

    Parameters
    ----------
    value : LatencyTable, dict or path-like

    Returns
    -------
    LatencyTable

    Raises
    ------
    TypeError
        For any other type.
    """
    if isinstance(value, LatencyTable):
        return value
    if isinstance(value, dict):
        return LatencyTable.from_dict(value)
    if isinstance(value, (str, os.PathLike)):
        return LatencyTable.load(value)
    raise TypeError(f"a latency table is a LatencyTable, its dict or its JSON file; got {type(value).__name__}")
