"""Nothing is lost when storage fails: full disks, missing or read-only folders.

No test needs root or a real full disk: a full disk is a file writer that raises
ENOSPC after a number of bytes, a read-only folder is ``chmod`` where that stops this
user (not root) and a monkeypatched ``open``/``os.replace`` raising PermissionError
everywhere.
"""

import builtins
import errno
import os
import re
import shutil
import tempfile
import warnings

import numpy as np
import pytest
import torch
from conftest import TINY

import skhypernas
from skhypernas import HyperDARTSClassifier, atomic_files, persistence
from skhypernas.search import BilevelSearch

SEARCH = dict(TINY, batch_size=8, max_epochs=4)


class FillingDisk:
    """A stand-in for ``open`` on a disk with ``free`` bytes left.

    Files opened for writing write for real until the disk is "full", then raise
    ``OSError(ENOSPC)``, as a write on a full file system does; what was written stays
    on disk, so the tests see whether the half-written file is cleaned up.
    """

    def __init__(self, free):
        self.free = free

    def __call__(self, path, mode="r", *args, **kwargs):
        file = builtins.open(path, mode, *args, **kwargs)
        return _Filling(file, self) if "w" in mode else file


class _Filling:
    def __init__(self, file, disk):
        self.file, self.disk = file, disk

    def write(self, data):
        data = memoryview(data).cast("B")
        room = min(len(data), self.disk.free)
        self.file.write(data[:room])
        self.disk.free -= room
        if room < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return room

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()


def refuse(exc_type, code):
    """A stand-in for ``open``/``os.replace``/... that always raises ``exc_type(code)``."""

    def refused(*args, **kwargs):
        raise exc_type(code, os.strerror(code))

    return refused


def chmod_read_only_or_skip(folder):
    folder.chmod(0o555)
    try:
        (folder / "probe").write_bytes(b"")
    except PermissionError:
        return
    (folder / "probe").unlink()
    folder.chmod(0o755)
    pytest.skip("chmod does not stop this user from writing (root): see the monkeypatched variant")


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def data():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X[:240] / 16.0).astype(np.float32), y[:240]


# -- write_atomically ----------------------------------------------------------------


def test_write_atomically_writes_a_temporary_file_beside_the_target_then_renames_it(tmp_path):
    target = tmp_path / "out.csv"
    seen = []

    def write(tmp):
        seen.append(tmp)
        assert tmp.parent == tmp_path and tmp != target and not target.exists()
        tmp.write_text("a,b\n")

    assert persistence.write_atomically(target, write) == target
    assert target.read_text() == "a,b\n" and not seen[0].exists() and leftovers(tmp_path) == []


def test_write_atomically_on_a_full_disk_keeps_the_earlier_file(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    target.write_bytes(b"earlier")
    monkeypatch.setattr(atomic_files, "open", FillingDisk(free=10), raising=False)
    with pytest.raises(OSError) as caught:
        persistence.write_atomically(target, lambda tmp: atomic_files._write_bytes(tmp, b"x" * 100), size=100)
    assert caught.value.errno == errno.ENOSPC
    message = str(caught.value)
    assert str(target) in message and "no space left on device" in message and "needs about 100 bytes" in message
    assert isinstance(caught.value.__cause__, OSError)
    assert target.read_bytes() == b"earlier" and leftovers(tmp_path) == []


def test_write_atomically_into_a_missing_folder_is_a_file_not_found_error(tmp_path):
    target = tmp_path / "missing" / "folder" / "out.txt"
    with pytest.raises(FileNotFoundError, match="does not exist") as caught:
        persistence.write_atomically(target, lambda tmp: tmp.write_text("x"))
    assert str(target) in str(caught.value) and str(target.parent) in str(caught.value)


def test_write_atomically_when_the_rename_is_refused_removes_the_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("earlier")
    monkeypatch.setattr(os, "replace", refuse(PermissionError, errno.EACCES))
    with pytest.raises(PermissionError, match="permission denied") as caught:
        persistence.write_atomically(target, lambda tmp: tmp.write_text("new"))
    assert str(target) in str(caught.value)
    assert target.read_text() == "earlier" and leftovers(tmp_path) == []


def test_write_atomically_lets_other_errors_through_and_still_cleans_up(tmp_path):
    def broken(tmp):
        tmp.write_text("half")
        raise ZeroDivisionError("a bug in the writer")

    with pytest.raises(ZeroDivisionError):
        persistence.write_atomically(tmp_path / "out.txt", broken)
    assert list(tmp_path.iterdir()) == []


# -- save ------------------------------------------------------------------------------


@pytest.fixture()
def earlier(fitted, tmp_path):
    """A model file already at the target path, and what it predicts."""
    path = fitted.save(tmp_path / "model.skh")
    return path, path.read_bytes()


def assert_untouched(earlier, fitted, digits):
    path, content = earlier
    assert path.read_bytes() == content and leftovers(path.parent) == []
    X = digits[0][:20]
    np.testing.assert_array_equal(skhypernas.load(path).predict_proba(X), fitted.predict_proba(X))


def test_save_on_a_full_disk_says_how_much_space_it_needs(fitted, digits, earlier, monkeypatch):
    path = earlier[0]
    size = path.stat().st_size  # saving the same model again writes as many bytes
    monkeypatch.setattr(atomic_files, "open", FillingDisk(free=size // 2), raising=False)
    with pytest.raises(OSError) as caught:
        fitted.save(path)
    message = str(caught.value)
    assert caught.value.errno == errno.ENOSPC and str(path) in message
    assert f"the file needs about {atomic_files._human_size(size)}" in message
    monkeypatch.undo()
    assert_untouched(earlier, fitted, digits)


def test_save_into_a_missing_folder_is_an_os_error_naming_it(fitted, tmp_path):
    target = tmp_path / "missing" / "folder" / "model.skh"
    with pytest.raises(FileNotFoundError, match=re.escape(f"the folder {target.parent} does not exist")) as caught:
        fitted.save(target)
    assert isinstance(caught.value, OSError) and str(target) in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_save_into_a_read_only_folder(fitted, digits, earlier):
    folder = earlier[0].parent
    chmod_read_only_or_skip(folder)
    try:
        with pytest.raises(PermissionError, match="not writable") as caught:
            fitted.save(earlier[0])
    finally:
        folder.chmod(0o755)
    assert str(earlier[0]) in str(caught.value)
    assert_untouched(earlier, fitted, digits)


def test_save_into_a_read_only_folder_as_root_sees_it(fitted, digits, earlier, monkeypatch):
    # chmod does not stop root (CI runs as root): the refusal as the system gives it.
    monkeypatch.setattr(atomic_files, "open", refuse(PermissionError, errno.EACCES), raising=False)
    with pytest.raises(PermissionError, match="not writable") as caught:
        fitted.save(earlier[0])
    assert str(earlier[0]) in str(caught.value)
    monkeypatch.undo()
    assert_untouched(earlier, fitted, digits)


# -- checkpoints -----------------------------------------------------------------------


def checkpoint_warnings(record):
    return [str(w.message) for w in record if "checkpoint" in str(w.message)]


def test_a_checkpoint_that_cannot_be_written_warns_once_keeps_the_last_and_tries_again(tmp_path, monkeypatch):
    checkpoint = persistence.Checkpoint(tmp_path / "search.pt", "fp")
    assert checkpoint.save({"epoch": 1})
    disk = FillingDisk(free=0)
    monkeypatch.setattr(atomic_files, "open", disk, raising=False)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert not checkpoint.save({"epoch": 2})
        assert not checkpoint.save({"epoch": 3})
    messages = checkpoint_warnings(record)
    assert len(messages) == 1 and record[0].category is RuntimeWarning
    assert str(tmp_path) in messages[0] and "no space left on device" in messages[0]
    assert "previous checkpoint is kept" in messages[0]
    assert checkpoint.load()["epoch"] == 1 and leftovers(tmp_path) == []
    disk.free = 10**9  # space freed: the next epoch's checkpoint is written
    assert checkpoint.save({"epoch": 4}) and checkpoint.load()["epoch"] == 4


def test_a_checkpoint_whose_rename_is_refused_warns_and_keeps_the_last(tmp_path, monkeypatch):
    checkpoint = persistence.Checkpoint(tmp_path / "search.pt", "fp")
    checkpoint.save({"epoch": 1})
    monkeypatch.setattr(os, "replace", refuse(PermissionError, errno.EACCES))
    with pytest.warns(RuntimeWarning, match="permission denied"):
        assert not checkpoint.save({"epoch": 2})
    monkeypatch.undo()
    assert checkpoint.load()["epoch"] == 1 and leftovers(tmp_path) == []


def test_a_disk_filling_up_midway_does_not_cost_the_search(tmp_path, monkeypatch):
    X, y = data()
    first = {}

    class FullAfterTheFirstCheckpoint(FillingDisk):
        def __call__(self, path, mode="r", *args, **kwargs):
            if "w" in mode and not first:
                first["done"] = True
                return builtins.open(path, mode, *args, **kwargs)
            return super().__call__(path, mode, *args, **kwargs)

    monkeypatch.setattr(atomic_files, "open", FullAfterTheFirstCheckpoint(free=1000), raising=False)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        clf = HyperDARTSClassifier(random_state=0, checkpoint_dir=tmp_path, **SEARCH).fit(X, y)
    messages = checkpoint_warnings(record)
    assert len(messages) == 1 and str(tmp_path) in messages[0] and "no space left" in messages[0]
    # The whole model, and the checkpoint of epoch 1 intact beside no temporary files.
    assert [h["epoch"] for h in clf.history_] == [1, 2, 3, 4]
    assert clf.predict(X).shape == (len(X),) and len(clf.complexity_path_["n_parameters"]) > 0
    assert torch.load(tmp_path / "search.pt", weights_only=True)["loop"]["epoch"] == 1
    assert leftovers(tmp_path) == []


def test_a_checkpoint_folder_removed_between_epochs_does_not_cost_the_search(tmp_path, monkeypatch):
    X, y = data()
    folder = tmp_path / "checkpoints"
    save = persistence.Checkpoint.save

    def save_then_remove_the_folder(self, state):
        written = save(self, state)
        if state["loop"]["epoch"] == 1:
            shutil.rmtree(folder)
        return written

    monkeypatch.setattr(persistence.Checkpoint, "save", save_then_remove_the_folder)
    with pytest.warns(RuntimeWarning, match=re.escape(str(folder)) + ".*does not exist") as record:
        clf = HyperDARTSClassifier(random_state=0, checkpoint_dir=folder, **SEARCH).fit(X, y)
    assert len(checkpoint_warnings(record)) == 1
    assert len(clf.history_) == 4 and clf.predict(X).shape == (len(X),)
    assert not folder.exists()  # not silently recreated (it may have been a mount that went away)


@pytest.fixture()
def no_search(monkeypatch):
    """Fail the test if a search starts."""

    def run(*args, **kwargs):
        raise AssertionError("the search started")

    monkeypatch.setattr(BilevelSearch, "run", run)


def test_a_checkpoint_dir_that_is_a_file_fails_before_the_search(tmp_path, no_search):
    X, y = data()
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(OSError, match="checkpoint folder .*taken is unusable"):
        HyperDARTSClassifier(random_state=0, checkpoint_dir=tmp_path / "taken", **SEARCH).fit(X, y)


def test_a_read_only_checkpoint_dir_fails_before_the_search(tmp_path, no_search):
    X, y = data()
    chmod_read_only_or_skip(tmp_path)
    try:
        with pytest.raises(PermissionError, match=re.escape(f"checkpoint folder {tmp_path} is unusable")):
            HyperDARTSClassifier(random_state=0, checkpoint_dir=tmp_path, **SEARCH).fit(X, y)
    finally:
        tmp_path.chmod(0o755)


def test_a_read_only_checkpoint_dir_fails_before_the_search_as_root_too(tmp_path, no_search, monkeypatch):
    X, y = data()
    monkeypatch.setattr(tempfile, "TemporaryFile", refuse(PermissionError, errno.EACCES))
    with pytest.raises(
        PermissionError, match=re.escape(f"checkpoint folder {tmp_path} is unusable") + ".*not writable"
    ):
        HyperDARTSClassifier(random_state=0, checkpoint_dir=tmp_path, **SEARCH).fit(X, y)


# -- devices ---------------------------------------------------------------------------


def test_load_onto_a_device_this_machine_lacks_names_it_and_what_there_is(fitted, tmp_path, monkeypatch):
    path = fitted.save(tmp_path / "model.skh")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    for device in ("cuda", "cuda:1", torch.device("cuda")):
        with pytest.raises(ValueError, match=r"device='cuda(:1)?' is not available on this machine; it has: cpu$"):
            skhypernas.load(path, device=device)
    with pytest.raises(ValueError, match="'gpu' is not a torch device"):
        skhypernas.load(path, device="gpu")
    assert skhypernas.load(path, device="cpu").device_ == torch.device("cpu")


def test_load_onto_a_gpu_index_past_the_last(fitted, tmp_path, monkeypatch):
    path = fitted.save(tmp_path / "model.skh")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(
        ValueError, match="device='cuda:2' is not available on this machine; it has: cpu, cuda:0, cuda:1"
    ):
        skhypernas.load(path, device="cuda:2")


# -- the commands' outputs ---------------------------------------------------------


def test_write_files_reports_a_failing_file_and_still_writes_the_others(tmp_path, capsys):
    (tmp_path / "b.csv").mkdir()  # a folder where the file should go: its rename fails
    (tmp_path / "b.csv" / "kept").write_text("x")
    files = {name: (lambda tmp, name=name: tmp.write_text(name)) for name in ("a.json", "b.csv", "c.png")}
    failed = persistence.write_files(tmp_path, files)
    assert failed == ["b.csv"]
    assert (tmp_path / "a.json").read_text() == "a.json" and (tmp_path / "c.png").read_text() == "c.png"
    err = capsys.readouterr().err
    assert "could not write" in err and str(tmp_path / "b.csv") in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.csv", "c.png"]  # no temporary file


def test_write_files_into_a_folder_that_cannot_be_made(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert persistence.write_files(tmp_path / "file" / "out", {"a": lambda tmp: tmp.write_text("a")}) == ["a"]
    assert "could not create the output folder" in capsys.readouterr().err


def test_the_experiments_results_survive_one_unwritable_file(tmp_path, capsys):
    from skhypernas.experiments import ExperimentResult, write_results

    rows = [
        dict(method="mlp", weights="scratch", n_parameters=1000, test_accuracy=0.9, fit_seconds=1.0),
        dict(method="plain_cnn", weights="scratch", n_parameters=2000, test_accuracy=0.92, fit_seconds=1.0),
    ]
    (tmp_path / "summary.json").mkdir()
    result = ExperimentResult(rows=rows, plan=None, seconds={"mlp": 1.0, "plain_cnn": 1.0}, complexity_control={})
    paths = write_results(result, tmp_path)
    assert sorted(paths) == ["accuracy_vs_parameters.png", "fronts.csv", "results.csv"]
    assert all(p.stat().st_size > 0 for p in paths.values())
    assert "summary.json" in capsys.readouterr().err
