"""A run's output folder as it fills: one small file per (stage, seed), so a run can be
done in parts.

A run longer than a working session must not be lost with it. Every stage of a seed
(a family's rows: ``hyperdarts (inherited)``, ``darts (scratch)``, ...) is written to
``seed-<seed>/<stage>.json`` as soon as it finishes, atomically, with its rows and its
wall time; the searches that a later stage starts from are saved beside it
(``seed-<seed>/models/<name>.skh``). A rerun with the same output folder reads what
is there and runs only the rest. ``run.json`` holds the run's settings: a rerun with
other settings is refused rather than mixed into the earlier results.
"""

import json
import re
from pathlib import Path

from ..atomic_files import write_files
from ..persistence import load

#: The file that records a run's settings in its output folder.
RUN_FILE = "run.json"


def _plain(value):
    """``value`` as JSON reads it back (tuples become lists), so two settings compare as stored."""
    return json.loads(json.dumps(value, default=repr))


def check_run_settings(output, settings):
    """Record a run's ``settings`` in ``output/run.json``, or check that the earlier run's match.

    Parameters
    ----------
    output : path-like
        The run's output folder, created if needed.
    settings : dict
        What must not change between the parts of one run (data, scale, budget,
        workers); JSON-serialisable, or turned into text by ``repr``.

    Returns
    -------
    bool
        True when an earlier run's settings were found (and match).

    Raises
    ------
    ValueError
        When ``output`` holds a run with other settings; the message names them.
    OSError
        When ``run.json`` can be neither read nor written.
    """
    output = Path(output)
    path = output / RUN_FILE
    settings = _plain(settings)
    if path.is_file():
        earlier = json.loads(path.read_text())
        changed = sorted(k for k in set(earlier) | set(settings) if earlier.get(k) != settings.get(k))
        if changed:
            details = "; ".join(f"{k}: {earlier.get(k)!r} then, {settings.get(k)!r} now" for k in changed)
            raise ValueError(
                f"{output} holds a run with other settings ({details}). Rerun with the earlier settings to "
                f"resume it, or choose another --output"
            )
        return True
    failed = write_files(output, {RUN_FILE: lambda tmp: tmp.write_text(json.dumps(settings, indent=1))})
    if failed:
        raise OSError(f"could not record the run's settings in {path} (see above)")
    return False


def _json_value(value):
    """numpy scalars (a count, a lambda) as the Python numbers they hold; anything else is an error."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    raise TypeError(f"a stage's record cannot hold a {type(value).__name__}: {value!r}")


def _file_name(name):
    # "hyperdarts (fine-tuned)" -> "hyperdarts-fine-tuned": a name without spaces or brackets.
    return re.sub(r"[^A-Za-z0-9._]+", "-", name).strip("-")


class SeedParts:
    """One seed's finished stages and saved searches under ``output/seed-<seed>/``.

    Parameters
    ----------
    output : path-like
        The run's output folder.
    seed : int
    """

    def __init__(self, output, seed):
        self.folder = Path(output) / f"seed-{seed}"
        self.seed = seed
        #: Files that could not be written (each reported on stderr when it failed).
        self.failed = []

    def path(self, stage):
        """Where ``stage``'s record lives."""
        return self.folder / f"{_file_name(stage)}.json"

    def model_path(self, name):
        """Where the search ``name`` is saved."""
        return self.folder / "models" / f"{_file_name(name)}.skh"

    def read(self, stage):
        """``stage``'s record (``rows``, ``seconds``, ``models`` and what the stage noted),
        or None when it has not been written."""
        try:
            return json.loads(self.path(stage).read_text())
        except FileNotFoundError:
            return None

    def write(self, stage, record):
        """Write ``stage``'s record atomically; a failure is reported on stderr and kept in
        :attr:`failed`, and costs only a rerun of that stage.

        Returns
        -------
        bool
            Whether it was written.
        """
        record = {"stage": stage, "seed": self.seed, **record}
        text = json.dumps(record, indent=1, default=_json_value)
        path = self.path(stage)
        failed = write_files(path.parent, {path.name: lambda tmp: tmp.write_text(text)})
        self.failed += [str(path) for _ in failed]
        return not failed

    def save_model(self, name, estimator):
        """Save the fitted search ``name`` (atomically, without pickle).

        Returns
        -------
        bool
            Whether it was saved; a failure is reported on stderr and kept in :attr:`failed`.
        """
        path = self.model_path(name)
        failed = write_files(path.parent, {path.name: lambda tmp: estimator.save(tmp)})
        self.failed += [str(path) for _ in failed]
        return not failed

    def load_model(self, name):
        """The saved search ``name``, or None when it was not saved (or cannot be read)."""
        path = self.model_path(name)
        if not path.is_file():
            return None
        try:
            return load(path)  # on the device it was fitted on, when this machine has it
        except (OSError, ValueError) as exc:
            print(f"could not read {path} ({exc}); its search runs again", flush=True)
            return None
