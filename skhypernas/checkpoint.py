"""A search's checkpoint: its whole state in one file, refused when it belongs to another search,
and never the reason a search is lost."""

import os
import tempfile
import warnings
from pathlib import Path

import torch

from .atomic_files import _cause, _human_size, _remove_quietly, _write_bytes, _write_error, atomic_save  # noqa: F401

# -- search checkpoints -----------------------------------------------------------


class Checkpoint:
    """A search's state in one file, written atomically (see :func:`atomic_save`).

    The folder is created and checked here, so that an unusable one (not a folder,
    not writable) fails before the search starts. Later, a checkpoint that cannot be
    written (full disk, folder removed, permissions changed) costs the search nothing:
    :meth:`save` warns once, keeps the last good checkpoint and tries again next time.

    Parameters
    ----------
    path : path-like
    fingerprint : str
        What the search was started with (settings, data shape); a checkpoint with
        another fingerprint is refused rather than silently resumed.

    Raises
    ------
    OSError
        If the folder of ``path`` cannot be created or written to; the message names it
        and the cause.
    """

    #: Version of the checkpoint's layout, stored in the file.
    version = 1

    def __init__(self, path, fingerprint):
        self.path, self.fingerprint = Path(path), fingerprint
        self._warned = False
        self._check_folder()

    def _check_folder(self):
        """Create the folder and try writing in it: an OSError naming it if either fails."""
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # A real write, not os.access: it also catches read-only mounts, ACLs and quotas.
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            message = f"checkpoint folder {folder} is unusable: {_cause(exc, folder, None)}"
            raise (OSError(exc.errno, message) if exc.errno is not None else type(exc)(message)) from exc

    def exists(self):
        """Whether a checkpoint file is there to resume from."""
        return self.path.is_file()

    def save(self, state):
        """Write ``state`` (a search's ``state_dict()``) with the fingerprint beside it.

        A checkpoint is insurance: failing to write one must not cost the search it
        insures. A failure (an ``OSError``: full disk, folder removed, permissions
        changed) warns once per checkpoint object, leaves the previous checkpoint file
        intact, and the next call tries again.

        Parameters
        ----------
        state : dict

        Returns
        -------
        bool
            Whether the checkpoint was written.
        """
        try:
            atomic_save(dict(state, fingerprint=self.fingerprint, format=self.version), self.path)
        except OSError as exc:
            self._warn_once(exc)
            return False
        return True

    def _warn_once(self, exc):
        if self._warned:
            return
        self._warned = True
        kept = "the previous checkpoint is kept" if os.path.isfile(self.path) else "there is no earlier checkpoint"
        warnings.warn(
            f"search checkpoint not written to {self.path.parent}: {exc}. The search goes on; {kept}, "
            "and each later epoch tries again (this warning is not repeated).",
            RuntimeWarning,
            stacklevel=3,
        )

    def load(self):
        """The saved state; a damaged file or another search's is a ValueError."""
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several kinds on a damaged file
            raise ValueError(f"checkpoint {self.path} is truncated or corrupt ({type(exc).__name__}: {exc})") from None
        if state.get("fingerprint") != self.fingerprint:
            raise ValueError(
                f"checkpoint {self.path} belongs to another search (other data or settings); "
                "remove it or use another checkpoint_dir"
            )
        return state
