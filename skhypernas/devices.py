"""Which device a loaded model runs on: the one asked for when this machine has it, and a clear
error naming what it has when not."""

import torch


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
