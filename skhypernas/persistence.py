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

import json
import math
import os
from pathlib import Path

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .atomic_files import atomic_save, csv_writer, write_atomically, write_files  # noqa: F401  (public here)
from .checkpoint import Checkpoint  # noqa: F401  (public here)
from .devices import _requested_device, available_device  # noqa: F401  (public here)
from .latency import LatencyTable
from .pickling import DevicePortablePickleMixin
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
    if isinstance(value, LatencyTable):  # as its own JSON text: its keys are not markers
        return {"__latency_table__": json.dumps(value.to_dict(), sort_keys=True)}
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
    if "__latency_table__" in value:
        return LatencyTable.from_dict(json.loads(value["__latency_table__"]))
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


# -- the file format --------------------------------------------------------------


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
