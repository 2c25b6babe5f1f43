"""Dataset loaders that follow scikit-learn's ``fetch_*`` conventions."""

import gzip
import os
from pathlib import Path

import numpy as np

#: Where Debian's ``dataset-fashion-mnist`` package puts the files.
SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Read an IDX file (optionally gzipped) into a numpy array.

    Raises
    ------
    ValueError
        If the file is not IDX or is truncated.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path}: cannot read IDX data ({exc})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{path}: IDX body holds {len(data) - header} bytes, its header promises {expected}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find(directory, name):
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def get_data_home(data_home=None):
    """``data_home``, else ``$SKHYPERNAS_DATA``, else ``~/skhypernas_data``."""
    return Path(data_home or os.environ.get("SKHYPERNAS_DATA", "~/skhypernas_data")).expanduser()


def load_fashion_mnist(subset="train", *, data_home=None, download_if_missing=True, return_X_y=True):
    """Load Fashion-MNIST as flat rows of 784 pixels (0-255) and integer labels.

    Looks in ``data_home`` (and its ``fashion-mnist`` folder), then in Debian's system
    copy (``apt-get install dataset-fashion-mnist``), then downloads through
    torchvision into ``data_home``.

    Parameters
    ----------
    subset : {"train", "test"}
    data_home : str or path-like, optional
    download_if_missing : bool, default=True
    return_X_y : bool, default=True
        Only ``(X, y)`` is supported; kept for sklearn's signature.

    Returns
    -------
    X : ndarray of shape (n_samples, 784), float32
    y : ndarray of shape (n_samples,), int64
    """
    if subset not in _FILES:
        raise ValueError(f'subset must be "train" or "test"; got {subset!r}')
    if not return_X_y:
        raise ValueError("load_fashion_mnist only returns (X, y)")
    home = get_data_home(data_home)
    places = [home, home / "fashion-mnist", home / "FashionMNIST" / "raw", SYSTEM_FASHION_MNIST]
    for directory in places:
        found = [_find(directory, name) for name in _FILES[subset]]
        if all(found):
            return _load_pair(*found)
    if download_if_missing:
        try:
            from torchvision.datasets import FashionMNIST

            FashionMNIST(str(home), train=subset == "train", download=True)
        except Exception as exc:  # torchvision raises many kinds on a failed download
            places.append(f"download through torchvision ({type(exc).__name__}: {exc})")
        else:
            return load_fashion_mnist(subset, data_home=data_home, download_if_missing=False)
    raise FileNotFoundError(
        "Fashion-MNIST not found; looked in: "
        + "; ".join(str(p) for p in places)
        + ". Install Debian's dataset-fashion-mnist or pass data_home."
    )


def _load_pair(images_path, labels_path):
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{images_path} and {labels_path} do not hold matching images and labels")
    return images.reshape(len(images), -1).astype(np.float32), labels.astype(np.int64)


def load_train_test(dataset, n_train=None):
    """A scaled train/test split of ``"fashion-mnist"`` or ``"digits"``, for the commands.

    Fashion-MNIST keeps its own split, pixels divided by 255; scikit-learn's 8x8
    digits (offline) are divided by 16 and split 70/30, stratified, with seed 0.

    Parameters
    ----------
    dataset : {"fashion-mnist", "digits"}
    n_train : int or None, default=None
        Keep only the first ``n_train`` training samples.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
    """
    if dataset == "digits":
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.3, stratify=y, random_state=0)
    elif dataset == "fashion-mnist":
        (X_train, y_train), (X_test, y_test) = load_fashion_mnist("train"), load_fashion_mnist("test")
        X_train, X_test = X_train / 255.0, X_test / 255.0
    else:
        raise ValueError(f'dataset must be "fashion-mnist" or "digits"; got {dataset!r}')
    if n_train:
        X_train, y_train = X_train[:n_train], y_train[:n_train]
    return X_train, X_test, y_train, y_test
