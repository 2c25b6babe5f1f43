"""A derived network as a standalone TorchScript or ONNX model that outputs probabilities."""

import warnings
from pathlib import Path

import torch
from torch import nn

from .inference import fold_batch_norms

FORMATS = ("torchscript", "onnx")


class ProbabilityModel(nn.Module):
    """``softmax(network(x))``: what ``predict_proba`` computes, as one module."""

    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, x):
        return torch.softmax(self.network(x), dim=1)


def export_network(network, image_shape, path, format="torchscript"):
    """Write ``softmax(network(x))`` to ``path`` as TorchScript or ONNX.

    The exported model takes float32 images of shape ``(n, C, H, W)``, with
    ``(C, H, W) = image_shape`` and any ``n``, and returns float32 class
    probabilities of shape ``(n, n_classes)``. It runs on the CPU.

    Parameters
    ----------
    network : torch.nn.Module
        Maps images to logits; a copy is exported in eval mode, its batch norms
        folded into the convolutions before them
        (:func:`~skhypernas.inference.fold_batch_norms`).
    image_shape : tuple (C, H, W)
    path : path-like
    format : {"torchscript", "onnx"}

    Returns
    -------
    pathlib.Path
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}; got {format!r}")
    if format == "onnx":
        try:
            import onnx  # noqa: F401  torch's TorchScript-based exporter writes through it
        except ImportError:
            raise ImportError('format="onnx" needs the onnx package: pip install "skhypernas[onnx]"') from None
    path = Path(path)
    model = ProbabilityModel(fold_batch_norms(network).cpu().float())
    # Two rows, so that batch norm in eval mode and the batch axis trace generically.
    example = torch.zeros(2, *image_shape)
    with torch.no_grad(), warnings.catch_warnings():
        # torch marks tracing and the TorchScript exporter as deprecated in favour of
        # torch.export; they remain the formats other runtimes load.
        warnings.simplefilter("ignore", (DeprecationWarning, FutureWarning))
        # The exporter's note that strided slices are not constant-folded: harmless.
        warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
        if format == "torchscript":
            # Tracing fixes the cell's Python control flow (its kept edges) into the graph.
            torch.jit.trace(model, example).save(str(path))
        else:
            torch.onnx.export(
                model,
                (example,),
                str(path),
                input_names=["images"],
                output_names=["probabilities"],
                dynamic_axes={"images": {0: "n"}, "probabilities": {0: "n"}},
                dynamo=False,
            )
    return path
