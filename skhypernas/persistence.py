"""Fitted estimators on disk: a pickle-free file format, and pickles that load without CUDA.

The file format is one ``torch.save`` archive read back with
``torch.load(weights_only=True)``, so loading it runs no code. It holds

- ``format`` (``"skhypernas"``) and ``version`` (:data:`FORMAT_VERSION`);
- ``estimator``: the class name, looked up among the classes passed to :func:`register`;
- ``params``: ``get_params(deep=False)`` as JSON;
- ``state``: the fitted attributes as JSON, with every tensor and numeric array replaced
  by a reference into ``tensors``, genotypes (architectures of any search space) as
  their own JSON, tagged with their space, and search spaces as their ``to_dict()``;
- ``tensors``: all the tensors, on the CPU, packed into one flat tensor per dtype
  (``{"float32": ..., "int64": ...}``); a reference is ``[dtype, offset, shape]``.
  A list of dicts of tensors (the complexity path's batch-norm buffers, one dict per
  path entry) is stored as one stacked tensor per distinct key, shape and dtype.

One record per tensor made version 1 files (``tensors``: ``{key: tensor}``, a
reference is the key) several times the size of their tensors: the archive pads and
indexes every record, and a path of 129 entries has some 17,000 small buffers.
Version 1 files still load.

Every file is written to a temporary file in the same folder, then renamed over the
target (:func:`write_atomically`): a full disk, a missing or read-only folder or a crash
leaves the earlier file, or none, under the real name, never a half-written one.

An estimator joins by defining ``_fitted_state()`` (a dict of plain values, arrays,
tensors and genotypes; torch modules as their ``state_dict``) and
``_restore_fitted_state(state)`` (rebuilds its modules on ``self.device_``), and by
decorating its class with :func:`register`.
"""

import csv
import errno
import io
import json
import math
import os
import shutil
import sys
import tempfile
import uuid
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .spaces import ARCHITECTURES, SearchSpace, as_architecture, space_from_dict

FORMAT = "skhypernas"
#: Version of the file layout; a file of a newer version is refused, not misread.
#: 2: tensors packed into one flat tensor per dtype; 1: one record per tensor (still read).
FORMAT_VERSION = 2

_REGISTRY = {}


def register(cls):
    """Class decorator: let :func:`load` rebuild estimators of ``cls`` by name."""
    _REGISTRY[cls.__name__] = cls
    return cls


def available_device(device):
    """``device`` if this machine has it, else the CPU (a GPU fit read on a laptop)."""
    device = torch.device(device)
    if device.type == "cuda" and not (torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()):
        return torch.device("cpu")
    if device.type not in ("cpu", "cuda"):
        return torch.device("cpu")
    return device


def _device_present(device):
    """Whether this machine has ``device`` (a ``torch.device``)."""
    if device.type == "cpu":
        return True
    if device.type == "mps":
        return torch.backends.mps.is_available()
    # cuda, and the backends built the same way (xpu, ...): a module with is_available.
    backend = getattr(torch, device.type, None)
    if backend is None or not hasattr(backend, "is_available") or not backend.is_available():
        return False
    count = backend.device_count() if hasattr(backend, "device_count") else 1
    return (device.index or 0) < count


def _devices_here():
    """The devices this machine has, as strings: ``["cpu", "cuda:0", ...]``."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def _requested_device(device):
    """The ``torch.device`` a caller asked for by name, checked against this machine.

    Asked for explicitly, a device is never swapped for another one silently: a model
    loaded onto a GPU this machine lacks would fail later, deep inside torch.

    Parameters
    ----------
    device : str or torch.device
        A torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...) or ``"auto"`` (CUDA
        when available, else the CPU).

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If ``device`` is not a device name, or names a device this machine lacks; the
        message lists the devices it has.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"device={device!r} is not a torch device ({exc})") from None
    if not _device_present(parsed):
        raise ValueError(
            f"device={str(parsed)!r} is not available on this machine; it has: {', '.join(_devices_here())}"
        )
    return parsed


# -- JSON with tensors on the side ------------------------------------------------


class _TensorPacker:
    """Collects a file's tensors, to store those of one dtype as one flat tensor.

    Every tensor in a ``torch.save`` archive is a record of its own, padded and indexed;
    thousands of small buffers make a file several times the size of their values.
    """

    def __init__(self):
        self._parts = {}  # dtype name -> flattened tensors, in the order added
        self._sizes = {}  # dtype name -> elements so far

    def add(self, tensor):
        """Keep ``tensor``; returns its reference, ``[dtype, offset, shape]``."""
        tensor = tensor.detach().cpu()
        dtype = str(tensor.dtype).removeprefix("torch.")
        offset = self._sizes.get(dtype, 0)
        self._parts.setdefault(dtype, []).append(tensor.reshape(-1))
        self._sizes[dtype] = offset + tensor.numel()
        return [dtype, offset, list(tensor.shape)]

    def packed(self):
        """``{dtype: flat tensor}``, the file's ``tensors`` entry."""
        return {dtype: torch.cat(parts) for dtype, parts in self._parts.items()}


class _PackedTensors:
    """Reads references ``[dtype, offset, shape]`` out of a version-2 file's flat tensors."""

    def __init__(self, packed):
        if not isinstance(packed, dict) or not all(isinstance(t, torch.Tensor) for t in packed.values()):
            raise ValueError("its 'tensors' entry is not a dict of flat tensors")
        self._packed = packed

    def __getitem__(self, reference):
        try:
            dtype, offset, shape = reference
            flat = self._packed[dtype]
            size = math.prod(shape)
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"a tensor reference {reference!r} names no tensor of the file") from None
        if not 0 <= offset <= flat.numel() - size:
            raise ValueError(f"a tensor reference {reference!r} points past the file's {dtype} tensors")
        # A copy, not a view: each restored tensor owns its memory, so the model does not
        # keep (nor a later pickle carry) the whole flat tensor alive through one buffer.
        return flat[offset : offset + size].reshape(shape).clone()


def _is_tensor_dicts(value):
    """Whether ``value`` is a list of two or more dicts of tensors (string keys)."""
    return (
        isinstance(value, list)
        and len(value) > 1
        and all(isinstance(d, dict) for d in value)
        and all(isinstance(k, str) and isinstance(t, torch.Tensor) for d in value for k, t in d.items())
    )


def _encode_tensor_dicts(dicts, tensors):
    """A list of dicts of tensors as a few stacked tensors (the path's batch-norm buffers).

    Entries share most keys but not all (each path entry is another architecture), so
    each distinct (key, shape, dtype) is a column holding one stacked tensor of the
    values of the entries that have it; ``index`` lists each entry's columns in the
    entry's own key order, ``lengths`` how many each entry has.
    """
    columns, names, values, index = {}, [], [], []
    for entry in dicts:
        for key, tensor in entry.items():
            column = columns.setdefault((key, tuple(tensor.shape), tensor.dtype), len(names))
            if column == len(names):
                names.append(key)
                values.append([])
            values[column].append(tensor.detach().cpu())
            index.append(column)
    index_dtype = torch.int16 if len(names) <= torch.iinfo(torch.int16).max else torch.int32
    return {
        "columns": names,
        "values": [_encode(torch.stack(column), tensors) for column in values],
        "index": _encode(torch.tensor(index, dtype=index_dtype), tensors),
        "lengths": _encode(torch.tensor([len(entry) for entry in dicts], dtype=torch.int64), tensors),
    }


def _decode_tensor_dicts(value, tensors):
    """The list of dicts :func:`_encode_tensor_dicts` stored; every tensor a copy of its own."""
    names = value["columns"]
    values = [_decode(v, tensors) for v in value["values"]]
    index, lengths = _decode(value["index"], tensors).tolist(), _decode(value["lengths"], tensors).tolist()
    rows, start, dicts = [0] * len(names), 0, []
    for length in lengths:
        entry = {}
        for column in index[start : start + length]:
            entry[names[column]] = values[column][rows[column]].clone()
            rows[column] += 1
        dicts.append(entry)
        start += length
    return dicts


def _encode(value, tensors):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, tuple(ARCHITECTURES.values())):  # any space's, tagged with it
        return {"__genotype__": value.to_json()}
    if isinstance(value, SearchSpace):  # a search_space parameter
        return {"__space__": value.to_dict()}
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    if isinstance(value, torch.Tensor):
        return {"__tensor__": tensors.add(value)}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            return {"__array__": _encode(torch.from_numpy(np.ascontiguousarray(value)), tensors)}
        # Labels (strings, objects) and genotypes: element by element.
        return {"__list_array__": [_encode(v, tensors) for v in value.tolist()], "dtype": value.dtype.str}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in value]}
    if _is_tensor_dicts(value):
        return {"__tensor_dicts__": _encode_tensor_dicts(value, tensors)}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"cannot save a dict with non-string keys: {list(value)[:3]}")
        return {"__dict__": {k: _encode(v, tensors) for k, v in value.items()}}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot save a value of type {type(value).__name__} in a skhypernas file: {value!r}")


def _decode(value, tensors):
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__genotype__" in value:
        return as_architecture(value["__genotype__"])
    if "__space__" in value:
        return space_from_dict(value["__space__"])
    if "__device__" in value:
        return torch.device(value["__device__"])
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__array__" in value:
        return _decode(value["__array__"], tensors).numpy()
    if "__list_array__" in value:
        items = [_decode(v, tensors) for v in value["__list_array__"]]
        dtype = np.dtype(value["dtype"])
        if dtype.kind == "O":
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out
        return np.array(items, dtype=dtype)
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode(v, tensors) for k, v in value["__dict__"].items()}
    if "__tensor_dicts__" in value:
        return _decode_tensor_dicts(value["__tensor_dicts__"], tensors)
    raise ValueError(f"unknown entry in a skhypernas file: {sorted(value)}")


def _saveable_params(estimator):
    params = estimator.get_params(deep=False)
    if isinstance(params.get("random_state"), np.random.RandomState):
        # A generator's state is not a hyperparameter anyone reads back; the fitted
        # model does not depend on it.
        params["random_state"] = None
    if params.get("init") is not None:
        # The weights a fine-tuning started from live on in the fitted network.
        params["init"] = None
    return params


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


# -- the file format --------------------------------------------------------------


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


def save(estimator, path):
    """Write a fitted estimator to ``path`` without pickle.

    Parameters
    ----------
    estimator : fitted skhypernas estimator
    path : path-like

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    OSError
        If the file cannot be written (a missing or read-only folder, a full disk); the
        message names the path and the cause. An earlier file at ``path`` is then
        unchanged and no temporary file is left.
    """
    check_is_fitted(estimator)
    if type(estimator).__name__ not in _REGISTRY:
        raise TypeError(f"{type(estimator).__name__} is not a registered skhypernas estimator")
    tensors = _TensorPacker()
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "params": json.dumps(_encode(_saveable_params(estimator), tensors)),
        "state": json.dumps(_encode(estimator._fitted_state(), tensors)),
    }
    payload["tensors"] = tensors.packed()
    return atomic_save(payload, path)


def load(path, *, device=None):
    """Read an estimator written by :func:`save`; loading runs no code.

    Parameters
    ----------
    path : path-like
    device : str or torch.device, optional
        Where the model runs: a torch device this machine has, or ``"auto"`` (CUDA when
        available). Default: the device it was fitted on when this machine has it,
        else the CPU.

    Returns
    -------
    estimator
        Fitted, predicting exactly as the saved one did.

    Raises
    ------
    ValueError
        If ``path`` is not a skhypernas model file, or one of a newer format version, or
        if ``device`` names a device this machine lacks.
    """
    path = Path(path)
    # Checked before the file is read: a mistyped device fails at once, not deep in torch.
    device = None if device is None else _requested_device(device)
    if not path.is_file():
        raise FileNotFoundError(f"no skhypernas model file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch's restricted unpickler raises many kinds on foreign files
        raise ValueError(f"{path} is not a skhypernas model file ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a skhypernas model file (no 'format': '{FORMAT}' entry)")
    version = payload.get("version")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"{path} has an invalid skhypernas format version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} was written in skhypernas format version {version}; this skhypernas reads "
            f"versions up to {FORMAT_VERSION}: upgrade skhypernas to load it"
        )
    name = payload.get("estimator")
    if name not in _REGISTRY:
        raise ValueError(f"{path} holds a {name!r}, which this skhypernas does not know")
    try:
        # Version 1 stored {key: tensor}, and a reference was the key: a dict reads it.
        tensors = payload["tensors"] if version == 1 else _PackedTensors(payload["tensors"])
        params = _decode(json.loads(payload["params"]), tensors)
        state = _decode(json.loads(payload["state"]), tensors)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is a damaged skhypernas model file ({type(exc).__name__}: {exc})") from None
    estimator = _REGISTRY[name](**params)
    saved_device = state.pop("device_", "cpu")
    # Asked for explicitly, a device is used as is (checked above): no silent fallback.
    estimator.device_ = available_device(saved_device) if device is None else device
    estimator._restore_fitted_state(state)
    return estimator


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


# -- pickle -----------------------------------------------------------------------


class DevicePortablePickleMixin:
    """Pickles whose torch state loads on any machine.

    ``__getstate__`` puts every fitted attribute into one ``torch.save`` blob;
    ``__setstate__`` reads it back with ``map_location`` set to the fitted device when
    this machine has it and the CPU otherwise, so a model fitted on a GPU predicts on a
    CPU-only machine. Unfitted estimators pickle as usual.
    """

    def __getstate__(self):
        state = super().__getstate__()
        fitted = {k: v for k, v in state.items() if k.endswith("_") and not k.startswith("__")}
        if not fitted:
            return state
        state = {k: v for k, v in state.items() if k not in fitted}
        buffer = io.BytesIO()
        torch.save(fitted, buffer)
        state["_fitted_blob"] = buffer.getvalue()
        state["_fitted_device"] = str(fitted.get("device_", "cpu"))
        return state

    def __setstate__(self, state):
        state = dict(state)
        blob = state.pop("_fitted_blob", None)
        saved_device = state.pop("_fitted_device", "cpu")
        super().__setstate__(state)
        if blob is None:
            return
        device = available_device(saved_device)
        # The blob is part of a pickle the user chose to trust; it holds modules.
        fitted = torch.load(io.BytesIO(blob), map_location=device, weights_only=False)
        if "device_" in fitted:
            fitted["device_"] = device
        self.__dict__.update(fitted)


class PersistenceMixin(DevicePortablePickleMixin):
    """``save``/``load`` in the pickle-free format, and device-portable pickles.

    Classes using it are decorated with :func:`register` and define
    ``_fitted_state()`` and ``_restore_fitted_state(state)``.
    """

    def save(self, path):
        """Write the fitted estimator to ``path`` in skhypernas' pickle-free format.

        The file holds the hyperparameters, the fitted state (weights, genotypes,
        batch-norm statistics, history) and a format version; :meth:`load` or
        :func:`skhypernas.load` reads it with ``torch.load(weights_only=True)``, so
        loading it runs no code.

        Parameters
        ----------
        path : path-like

        Returns
        -------
        pathlib.Path
        """
        return save(self, path)

    @classmethod
    def load(cls, path, *, device=None):
        """Read an estimator of this class written by :meth:`save`.

        Parameters
        ----------
        path : path-like
        device : str or torch.device, optional
            A torch device or ``"auto"``. Default: the fitted device when this
            machine has it, else the CPU.

        Returns
        -------
        estimator
        """
        estimator = load(path, device=device)
        if not isinstance(estimator, cls):
            raise TypeError(f"{path} holds a {type(estimator).__name__}, not a {cls.__name__}")
        return estimator
