"""``python -m skhypernas``, the README's main job, end to end on digits."""

import json

import matplotlib
import pytest

matplotlib.use("Agg")

from skhypernas.__main__ import main  # noqa: E402
from skhypernas.presets import PRESETS  # noqa: E402


def test_main_job_prints_and_writes_the_path(tmp_path, capsys):
    args = ["--dataset", "digits", "--max-epochs", "1", "--channels", "2", "--n-train", "300", "--time-budget", "0"]
    main([*args, "--fine-tune", "2", "--output", str(tmp_path)])
    out = capsys.readouterr().out
    assert "architectures on the complexity path" in out
    summary = json.loads((tmp_path / "complexity_path.json").read_text())
    assert summary["n_train"] == 300 and summary["settings"]["channels"] == 2
    path = summary["path"]
    assert path and all(row["n_parameters"] > 0 and 0 <= row["heldout_accuracy"] <= 1 for row in path)
    # Both ends of the range are scored on the test set.
    assert path[0]["test_accuracy"] is not None and path[-1]["test_accuracy"] is not None
    # Two picks, the largest and the smallest architecture, fine-tuned (one epoch without a budget).
    tuned = [row for row in path if row["finetuned_test_accuracy"] is not None]
    counts = [row["n_parameters"] for row in path]
    assert [row["n_parameters"] for row in tuned] == sorted({max(counts), min(counts)}, reverse=True)
    assert all(row["test_accuracy"] is not None for row in tuned)
    assert summary["time_budget"] is None
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


def test_main_job_meets_its_time_budget_and_fine_tunes_within_it(tmp_path, capsys):
    args = ["--dataset", "digits", "--channels", "2", "--n-train", "300", "--time-budget", "20"]
    main([*args, "--output", str(tmp_path)])
    summary = json.loads((tmp_path / "complexity_path.json").read_text())
    # Search, test set and three fine-tunings in 20 s, within 10%, besides the path:
    # a fixed cost (117 architectures here) that the search's half of the budget
    # leaves room for on Fashion-MNIST, not at this toy size on every host.
    path_seconds = summary["fit_seconds"] - summary["search_seconds"]
    assert summary["time_budget"] == 20 and summary["total_seconds"] - max(0, path_seconds - 5) <= 22
    tuned = [row for row in summary["path"] if row["finetuned_test_accuracy"] is not None]
    assert len(tuned) == 3
    # A few seconds of fine-tuning from the search's weights beat chance (0.1) by far.
    assert all(row["finetuned_test_accuracy"] > 0.5 for row in tuned)
    assert "tuned" in capsys.readouterr().out


def test_fine_tune_picks_spread_over_the_parameter_range():
    from skhypernas.__main__ import fine_tune_picks

    counts = [64000, 60000, 30000, 16000, 8000, 6400]
    assert fine_tune_picks(counts, 3) == [0, 3, 5]
    assert fine_tune_picks(counts, 1) == [0]
    assert fine_tune_picks(counts, 0) == []
    assert fine_tune_picks([5000, 5000], 3) == [0]
    # Entries left out (networks no better than a guess) are never picked.
    usable = [True, True, True, True, False, False]
    assert fine_tune_picks(counts, 3, usable) == [0, 2, 3]
    assert fine_tune_picks(counts, 3, [False] * 6) == []


def test_main_job_prices_the_cost_it_is_given(tmp_path, capsys):
    args = ["--dataset", "digits", "--max-epochs", "1", "--channels", "2", "--n-train", "300", "--time-budget", "0"]
    main([*args, "--cost", "latency", "--fine-tune", "0", "--output", str(tmp_path)])
    summary = json.loads((tmp_path / "complexity_path.json").read_text())
    assert summary["settings"]["cost"] == "latency" and summary["cost_scale"] > 0
    assert summary["latency_table"]["batch_size"] == 256
    assert all(row["latency_ms"] > 0 and row["n_flops"] > 0 for row in summary["path"])
    assert "ms/image" in capsys.readouterr().out


def test_lambda_range_overrides_the_preset_and_bad_ones_are_refused(capsys):
    from skhypernas.__main__ import parse_args, search_settings

    args, budget = parse_args(["--search-space", "chain", "--cost", "latency", "--lambda-range", "1e-10", "1e-8"])
    assert search_settings(args, budget)["lambda_range"] == (1e-10, 1e-8)
    with pytest.raises(SystemExit):
        parse_args(["--lambda-range", "1e-6", "1e-8"])
    assert "--lambda-range needs 0 < LOW < HIGH" in capsys.readouterr().err


def test_a_cost_preset_adjusts_its_space_s_preset_and_no_other():
    from skhypernas import HyperDARTSClassifier
    from skhypernas.__main__ import parse_args, search_settings
    from skhypernas.presets import COST_PRESETS, SPACE_PRESETS

    settings = search_settings(*parse_args(["--search-space", "chain", "--cost", "latency"]))
    assert {k: settings[k] for k in COST_PRESETS["chain", "latency"]} == COST_PRESETS["chain", "latency"]
    assert HyperDARTSClassifier(**settings).get_params()["arch_weight_decay"] == 0.0
    chain = SPACE_PRESETS["chain"]["cpu"]
    for argv, preset in [(["--search-space", "chain"], chain), (["--cost", "latency"], PRESETS["cpu"])]:
        settings = search_settings(*parse_args(argv))
        assert settings["lambda_range"] == preset["lambda_range"] and "arch_weight_decay" not in settings
    # --lambda-range still has the last word.
    argv = ["--search-space", "chain", "--cost", "latency", "--lambda-range", "1e-9", "1e-7"]
    assert search_settings(*parse_args(argv))["lambda_range"] == (1e-9, 1e-7)
