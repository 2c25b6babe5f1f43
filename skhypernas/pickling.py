"""Pickles of fitted estimators that load on any machine, with or without CUDA."""

import io

import torch

from .devices import available_device

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
