"""The experiment end to end at a tiny scale on 8x8 digits."""

import csv

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from skhypernas.experiments import COLUMNS, main, mlp_hidden_sizes, run_experiment, write_results  # noqa: E402

TINY_SCALE = dict(
    search=dict(
        channels=2,
        n_nodes=2,
        max_epochs=1,
        batch_size=32,
        path_samples=64,
        device="cpu",
        lambda_range=(1e-8, 1e-4),
        arch_lr=0.05,
    ),
    lambdas=(1e-8, 1e-4),
    hyper_lambdas=(1e-6,),
    n_random=2,
    train=dict(channels=2, max_epochs=1, batch_size=32, device="cpu"),
    mlp_sizes=2,
    mlp_max_iter=5,
    n_train=None,
    n_test=None,
    n_jobs=None,
)


@pytest.fixture(scope="module")
def split(digits):
    X, y = digits
    return X[:240], y[:240], X[240:400], y[240:400]


@pytest.mark.parametrize("retrain,n_jobs", [(False, None), (True, 2)], ids=["inherited", "retrained-2-jobs"])
def test_experiment_runs_every_family_and_writes_csv_and_plot(split, tmp_path, retrain, n_jobs):
    lines = []
    rows = run_experiment(*split, scale=TINY_SCALE, retrain=retrain, n_jobs=n_jobs, random_state=0, log=lines.append)
    methods = [r["method"] for r in rows]
    assert methods.count("hyperdarts") == 3 and methods.count("darts") == 2
    assert methods.count("random") == 2 and methods.count("mlp") >= 1
    assert len(lines) == 4
    for r in rows:
        assert set(r) == set(COLUMNS)
        assert 0 <= r["test_accuracy"] <= 1 and r["n_parameters"] > 0
        assert r["search_seconds"] >= 0 and r["train_seconds"] >= 0
    hyper = [r for r in rows if r["method"] == "hyperdarts"]
    assert [r["lambda"] for r in hyper] == sorted(r["lambda"] for r in hyper)
    # One search for the whole family: every row reports the same search.
    assert len({r["search_seconds"] for r in hyper}) == 1 and hyper[0]["search_seconds"] > 0
    assert {r["weights"] for r in hyper} == {"retrained" if retrain else "inherited"}
    if retrain:
        assert all(r["train_seconds"] > 0 for r in hyper + [r for r in rows if r["method"] == "darts"])
    random = [r for r in rows if r["method"] == "random"]
    assert random[0]["n_parameters"] > random[1]["n_parameters"]  # p_parameter_free 0, then 1
    table, figure = write_results(rows, tmp_path)
    with open(table) as f:
        read = list(csv.DictReader(f))
    assert len(read) == len(rows) and list(read[0]) == list(COLUMNS)
    assert figure.stat().st_size > 5000


def test_mlp_sizes_span_the_requested_parameter_range():
    hidden = mlp_hidden_sizes(784, 10, 20_000, 130_000, 4)
    counts = [785 * h + 10 * h + 10 for h in hidden]
    assert len(hidden) == 4 and counts == sorted(counts)
    assert counts[0] == pytest.approx(20_000, rel=0.05) and counts[-1] == pytest.approx(130_000, rel=0.05)


def test_command_line_on_digits(tmp_path, capsys, monkeypatch):
    import skhypernas.experiments as experiments

    monkeypatch.setitem(experiments.SCALES, "cpu", TINY_SCALE)
    main(["digits", "--n-train", "200", "--n-test", "100", "--n-random", "1", "--output", str(tmp_path)])
    out = capsys.readouterr().out
    assert "all done" in out and "hyperdarts" in out and "mlp" in out
    assert (tmp_path / "results.csv").is_file() and (tmp_path / "accuracy_vs_parameters.png").is_file()
    assert np.isfinite(len(out))
