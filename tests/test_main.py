"""``python -m skhypernas``, the README's main job, end to end on digits."""

import json

import matplotlib

matplotlib.use("Agg")

from skhypernas.__main__ import main  # noqa: E402
from skhypernas.presets import PRESETS  # noqa: E402


def test_main_job_prints_and_writes_the_path(tmp_path, capsys):
    main(["--dataset", "digits", "--max-epochs", "1", "--channels", "2", "--n-train", "300", "--output", str(tmp_path)])
    out = capsys.readouterr().out
    assert "architectures on the complexity path" in out
    summary = json.loads((tmp_path / "complexity_path.json").read_text())
    assert summary["n_train"] == 300 and summary["settings"]["channels"] == 2
    path = summary["path"]
    assert path and all(row["n_parameters"] > 0 and 0 <= row["heldout_accuracy"] <= 1 for row in path)
    # Both ends of the range are scored on the test set.
    assert path[0]["test_accuracy"] is not None and path[-1]["test_accuracy"] is not None
    # The model is kept, and the printed lines load it.
    import skhypernas

    assert f'skhypernas.load("{tmp_path / "model.skh"}")' in out
    clf = skhypernas.load(tmp_path / "model.skh")
    assert [g.to_json() for g in clf.complexity_path_["genotype"]] == [row["genotype"] for row in path]
    for name in ("complexity_path.png", "complexity_path.csv", "cells_smallest_lambda.png", "cells_largest_lambda.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_cpu_preset_is_a_valid_estimator_setting():
    from skhypernas import HyperDARTSClassifier

    params = HyperDARTSClassifier(**PRESETS["cpu"]).get_params()
    assert all(params[name] == value for name, value in PRESETS["cpu"].items())
