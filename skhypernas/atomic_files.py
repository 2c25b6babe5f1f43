"""Files written whole or not at all: a temporary file in the same folder, then a rename.

A full disk, a missing or read-only folder, or a crash leaves the earlier file (or
none) under the real name, and the error says which path failed and why.
"""

import csv
import errno
import io
import os
import shutil
import sys
import uuid
from pathlib import Path

import torch

# -- writing files atomically ------------------------------------------------------

#: errno values that mean "the disk is full": the message then says how much space the file needs.
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _human_size(n_bytes):
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{n_bytes} bytes"


def _cause(exc, folder, size):
    """Why writing into ``folder`` failed, in words a user can act on."""
    code = exc.errno
    if code in _NO_SPACE:
        cause = "no space left on device" if code == errno.ENOSPC else "disk quota exceeded"
        if size is not None:
            cause += f": the file needs about {_human_size(size)}"
            try:
                cause += f", {_human_size(shutil.disk_usage(folder).free)} are free there"
            except OSError:
                pass
        return cause
    if code == errno.ENOENT and not os.path.isdir(folder):
        return f"the folder {folder} does not exist"
    if code == errno.ENOTDIR:
        return f"{folder}, or a folder above it, is a file"
    if code in (errno.EACCES, errno.EPERM):
        return f"permission denied: the folder {folder} is not writable by this user"
    if code == errno.EROFS:
        return f"the folder {folder} is on a read-only file system"
    return exc.strerror or str(exc)


def _write_error(path, exc, size):
    """An OSError of ``exc``'s kind (same errno, so the same subclass) that names ``path`` and the cause."""
    message = f"could not write {path}: {_cause(exc, path.parent, size)}"
    if os.path.isfile(path):  # os.path: False, not another error, when the folder is unreadable
        message += " (the earlier file there is unchanged)"
    return OSError(exc.errno, message) if exc.errno is not None else type(exc)(message)


def _remove_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass  # never written, or its folder is gone: nothing to clean up


def _sync_to_disk(path):
    """Flush ``path``'s data to the disk before it replaces the earlier file.

    Without it a crash soon after the rename can leave an empty file under the real
    name; some file systems also report a full disk only here.
    """
    if os.name != "posix":  # Windows needs a writable handle to flush; the rename is atomic there too
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path, write, *, size=None):
    """Write a file through a temporary file in the same folder and a rename.

    ``write(tmp_path)`` writes the whole file to ``tmp_path``; it is then flushed to the
    disk and renamed over ``path`` (:func:`os.replace`, atomic on one file system). A
    failure at any point removes the temporary file and leaves ``path`` as it was: the
    earlier file, or none, never a half-written one.

    Parameters
    ----------
    path : path-like
        The file to write.
    write : callable
        ``write(tmp_path)`` with ``tmp_path`` a :class:`pathlib.Path`; writes the file
        there (for example ``lambda tmp: frame.to_csv(tmp)``).
    size : int, optional
        The file's size in bytes, if known: a failure for a full disk then says how
        much space the file needs.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OSError
        When the file cannot be written or renamed: a missing folder
        (:class:`FileNotFoundError`), a read-only one (:class:`PermissionError`), a full
        disk (``errno.ENOSPC``), ... The error keeps the original's errno, hence its
        subclass, and its message names ``path`` and the cause; the original is its
        ``__cause__``. Other exceptions from ``write`` propagate unchanged, after the
        temporary file is removed.
    """
    path = Path(path)
    # A name of its own per call: two writers of one path never write into each other's file.
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        write(tmp)
        _sync_to_disk(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        _remove_quietly(tmp)
        raise _write_error(path, exc, size) from exc
    except BaseException:  # a bug in write, Ctrl-C: still no temporary file left behind
        _remove_quietly(tmp)
        raise
    return path


def write_files(folder, files, stream=None):
    """Write each of ``files`` into ``folder`` with :func:`write_atomically`, as many as can be.

    A command's results are worth most when as many of them as possible land: a file
    that cannot be written (full disk, read-only or missing folder) is reported on
    ``stream`` with its path and cause, and the others are still written.

    Parameters
    ----------
    folder : path-like
        Created if needed.
    files : dict
        ``{name: write}``, ``write(tmp_path)`` writing the file ``name``.
    stream : file-like, default=sys.stderr

    Returns
    -------
    list of str
        The names that could not be written; empty when all were.
    """
    stream = sys.stderr if stream is None else stream
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"could not create the output folder {folder}: {exc.strerror or exc}", file=stream)
        return list(files)
    failed = []
    for name, write in files.items():
        try:
            write_atomically(folder / name, write)
        except OSError as exc:
            print(exc.strerror or exc, file=stream)
            failed.append(name)
    return failed


def csv_writer(rows, columns):
    """A ``write(tmp_path)`` for :func:`write_files`: ``rows``
    (dicts) as CSV with a header of ``columns``; other keys are left out."""

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    return write


def _write_bytes(path, data):
    with open(path, "wb") as file:
        file.write(data)


def atomic_save(obj, path):
    """``torch.save`` ``obj`` to ``path`` through :func:`write_atomically`.

    ``obj`` is serialised in memory first: torch's archive writer turns a failed write
    into a ``RuntimeError`` that no longer says why, whereas Python's own write raises
    the ``OSError`` (full disk, permissions) and the file's size is known for the message.

    Parameters
    ----------
    obj : object
        Anything ``torch.save`` accepts.
    path : path-like

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    OSError
        If the file cannot be written; see :func:`write_atomically`. An earlier file at
        ``path`` is then unchanged and no temporary file is left.
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    data = buffer.getbuffer()
    return write_atomically(path, lambda tmp: _write_bytes(tmp, data), size=len(data))
