import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from skhypernas import HyperDARTSClassifier

#: The smallest configuration that still exercises every part: normal and reduction
#: cells, 2 nodes, a few channels, one short epoch.
TINY = dict(channels=2, n_nodes=2, max_epochs=1, batch_size=32, path_samples=64, device="cpu")


@pytest.fixture(scope="session", autouse=True)
def latency_cache(tmp_path_factory):
    """Latency tables measured by the tests go to a temporary folder, never the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("latency-cache")
        patch.setenv("SKHYPERNAS_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="session")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture(scope="session")
def fitted(digits):
    X, y = digits
    return HyperDARTSClassifier(random_state=0, **TINY).fit(X[:300], y[:300])


def pytest_collection_modifyitems(config, items):
    """Skip the tests marked ``cuda`` on a machine without a CUDA device."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)
