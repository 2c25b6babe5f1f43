"""Turning a user's X into a batch of images, and back to sklearn's 2-D view."""

import math
import numbers

import numpy as np


def flatten_images(X):
    """``(n, C, H, W)`` or ``(n, H, W)`` arrays become ``(n, d)`` rows; returns (X, shape).

    ``shape`` is the per-sample image shape of an n-d input, else None. 2-D input
    (arrays, lists, DataFrames) passes through untouched so that sklearn's validation
    still sees feature names.
    """
    if hasattr(X, "columns") or hasattr(X, "tocsr"):
        return X, None
    # ``ndim`` of the array view, not ``np.ndim``: array-likes may refuse numpy's
    # function protocol, and sklearn's checks feed exactly such objects.
    ndim = X.ndim if hasattr(X, "ndim") else np.asarray(X).ndim
    if ndim <= 2:
        return X, None
    X = np.asarray(X)
    if X.ndim == 3:
        return X.reshape(len(X), -1), (1, *X.shape[1:])
    if X.ndim == 4:
        return X.reshape(len(X), -1), X.shape[1:]
    raise ValueError(f"X must be 2-D rows, (n, H, W) or (n, C, H, W) images; got {X.ndim} dimensions")


def resolve_image_shape(image_shape, n_features, input_shape=None):
    """The (C, H, W) of each sample.

    An explicit ``image_shape`` wins ((H, W) means one channel); then the shape of
    n-d input; then square single-channel rows; anything else is a 1 x d strip.
    """
    if image_shape is not None:
        shape = tuple(image_shape)
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3 or not all(isinstance(v, numbers.Integral) and v > 0 for v in shape):
            raise ValueError(f"image_shape must be (H, W) or (C, H, W) of positive ints; got {image_shape!r}")
        if math.prod(shape) != n_features:
            raise ValueError(
                f"image_shape={image_shape!r} holds {math.prod(shape)} values per sample, "
                f"but X has {n_features} features"
            )
        return tuple(int(v) for v in shape)
    if input_shape is not None:
        return tuple(int(v) for v in input_shape)
    side = math.isqrt(n_features)
    if side * side == n_features and side > 1:
        return (1, side, side)
    return (1, 1, n_features)
