import gzip

import numpy as np
import pytest

from skhypernas.datasets import SYSTEM_FASHION_MNIST, load_fashion_mnist, read_idx


def write_idx(path, array, code=0x08):
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


@pytest.fixture
def tiny_home(tmp_path):
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, size=(5, 28, 28)).astype(np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    return tmp_path, images, labels


def test_loads_idx_files_from_data_home(tiny_home):
    home, images, labels = tiny_home
    X, y = load_fashion_mnist("test", data_home=home, download_if_missing=False)
    assert X.shape == (5, 784) and X.dtype == np.float32
    np.testing.assert_array_equal(X, images.reshape(5, -1))
    np.testing.assert_array_equal(y, labels)


def test_read_idx_handles_wider_types(tmp_path):
    values = np.arange(12, dtype=np.int32).reshape(3, 4) - 5
    write_idx(tmp_path / "a.idx", values, code=0x0C)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), values)


def test_truncated_or_foreign_files_are_clear_errors(tmp_path, tiny_home):
    home, _, _ = tiny_home
    raw = (home / "t10k-labels-idx1-ubyte").read_bytes()
    (tmp_path / "short").write_bytes(raw[:-2])
    with pytest.raises(ValueError, match="promises"):
        read_idx(tmp_path / "short")
    (tmp_path / "text").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not an IDX"):
        read_idx(tmp_path / "text")
    (tmp_path / "broken.gz").write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(ValueError, match="cannot read"):
        read_idx(tmp_path / "broken.gz")


def test_missing_data_names_every_place_searched(tmp_path, monkeypatch):
    monkeypatch.setattr("skhypernas.datasets.SYSTEM_FASHION_MNIST", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist("train", data_home=tmp_path, download_if_missing=False)
    assert str(tmp_path) in str(info.value) and "nowhere" in str(info.value)
    with pytest.raises(ValueError, match="subset"):
        load_fashion_mnist("validation", data_home=tmp_path)


def test_real_fashion_mnist_from_the_system_copy():
    # CI installs Debian's dataset-fashion-mnist; its absence is a setup error, not a skip.
    assert SYSTEM_FASHION_MNIST.is_dir(), "apt-get install dataset-fashion-mnist"
    X, y = load_fashion_mnist("test", data_home="/nonexistent", download_if_missing=False)
    assert X.shape == (10000, 784) and y.shape == (10000,)
    assert X.min() == 0 and X.max() == 255
    np.testing.assert_array_equal(np.bincount(y), [1000] * 10)
    X, y = load_fashion_mnist("train", data_home="/nonexistent", download_if_missing=False)
    assert X.shape == (60000, 784)


def test_download_through_torchvision_lands_where_the_loader_reads(tmp_path, monkeypatch):
    import torchvision.datasets

    monkeypatch.setattr("skhypernas.datasets.SYSTEM_FASHION_MNIST", tmp_path / "nowhere")
    calls = []

    def fake_download(root, train, download):
        # torchvision's layout: <root>/FashionMNIST/raw/<name>
        calls.append((root, train, download))
        raw = tmp_path / "home" / "FashionMNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        write_idx(raw / "train-images-idx3-ubyte", np.full((2, 28, 28), 7, dtype=np.uint8))
        write_idx(raw / "train-labels-idx1-ubyte", np.array([1, 2], dtype=np.uint8))

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", fake_download)
    X, y = load_fashion_mnist("train", data_home=tmp_path / "home")
    assert calls == [(str(tmp_path / "home"), True, True)]
    assert X.shape == (2, 784) and list(y) == [1, 2]


def test_a_failed_download_is_named_in_the_error(tmp_path, monkeypatch):
    import torchvision.datasets

    monkeypatch.setattr("skhypernas.datasets.SYSTEM_FASHION_MNIST", tmp_path / "nowhere")

    def offline(root, train, download):
        raise RuntimeError("no route to host")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", offline)
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist("test", data_home=tmp_path / "home")
    message = str(info.value)
    for place in (tmp_path / "home", tmp_path / "home" / "fashion-mnist", tmp_path / "nowhere"):
        assert str(place) in message
    assert "torchvision" in message and "no route to host" in message
