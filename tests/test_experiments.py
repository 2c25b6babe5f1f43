"""The experiment's logic on tiny settings (8x8 digits, budgets of a few seconds), and
its fronts, hypervolumes and complexity check on hand-made examples."""

import contextlib
import csv
import io
import json

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from skhypernas import experiments  # noqa: E402
from skhypernas.experiments import (  # noqa: E402
    COLUMNS,
    SCALES,
    complexity_control,
    hypervolume,
    main,
    mlp_hidden_sizes,
    paper_scale_estimate,
    pareto_front,
    plan_time,
    time_search_step,
)

TINY_SEARCH = dict(
    channels=2, n_nodes=2, batch_size=32, path_samples=64, device="cpu", lambda_range=(1e-8, 1e-4), arch_lr=0.05
)
TINY_SCALE = dict(
    search=TINY_SEARCH,
    train=dict(batch_size=32, lr=0.05, device="cpu"),
    k=2,
    hyper_lambdas=(1e-6,),
    n_random=2,
    n_cnn=2,
    mlp_sizes=2,
    mlp_max_iter=5,
    time_budget=6.0,
    search_share=0.3,
    reserve_share=0.12,
    n_seeds=1,
    n_train=None,
    n_test=None,
    n_jobs=None,
)
FAMILIES = {
    "hyperdarts (inherited)",
    "hyperdarts (fine-tuned)",
    "darts (inherited)",
    "darts (scratch)",
    "random (scratch)",
    "plain_cnn (scratch)",
    "mlp (scratch)",
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The command line once on digits under a 6-second budget: its folder and its output."""
    output = tmp_path_factory.mktemp("experiment")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        patch.setitem(experiments.SCALES, "cpu", TINY_SCALE)
        main(["digits", "--n-train", "240", "--n-test", "160", "--output", str(output)])
    return output, out.getvalue()


def _read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_every_family_in_the_csv_under_one_per_model_budget(run):
    output, _ = run
    rows = _read(output / "results.csv")
    assert list(rows[0]) == list(COLUMNS)
    assert {f"{r['method']} ({r['weights']})" for r in rows} == FAMILIES
    picks = [r for r in rows if r["method"] == "hyperdarts" and r["setting"].startswith("pick")]
    tuned = [r for r in picks if r["weights"] == "fine-tuned"]
    inherited = [r for r in picks if r["weights"] == "inherited"]
    # Each pick appears inherited and fine-tuned; DARTS searched at the picks' lambdas.
    assert len(tuned) == len(inherited) >= 1
    assert [r["genotype"] for r in tuned] == [r["genotype"] for r in inherited]
    darts = [r for r in rows if r["method"] == "darts"]
    assert sorted({float(r["lambda"]) for r in darts}) == sorted(float(r["lambda"]) for r in inherited)
    # One budget for every per-model training: a budgeted fit stops after the step that spends it.
    per_model = json.loads((output / "summary.json").read_text())["time_plan"]["per_model"]
    trained = tuned + [r for r in rows if r["weights"] == "scratch" and r["method"] != "mlp"]
    assert all(float(r["train_seconds"]) >= per_model for r in trained)
    for r in rows:
        assert 0 <= float(r["test_accuracy"]) <= 1 and int(r["n_parameters"]) > 0
    assert (output / "accuracy_vs_parameters.png").stat().st_size > 5000


def test_fronts_summary_and_printed_plan(run):
    output, printed = run
    fronts = _read(output / "fronts.csv")
    rows = _read(output / "results.csv")
    assert {f["family"] for f in fronts} == FAMILIES
    for f in fronts:
        mine = [r for r in rows if f"{r['method']} ({r['weights']})" == f["family"]]
        points = {(int(r["n_parameters"]), float(r["test_accuracy"])) for r in mine}
        front = [tuple(p) for p in json.loads(f["front"])]
        assert set(front) <= points and int(f["n_models"]) == len(mine)
        assert float(f["hypervolume"]) == pytest.approx(hypervolume(points))
        assert float(f["wall_seconds"]) > 0
    summary = json.loads((output / "summary.json").read_text())
    plan = summary["time_plan"]
    assert plan["budget"] == 6.0 and plan["equal_per_search"] == pytest.approx(2 * plan["search"])
    assert set(summary["complexity_control"]) >= {"monotonic", "span", "holds"}
    for text in ("time budget 6.0 s", "equal budget per DARTS search", "Pareto fronts", "complexity control"):
        assert text in printed


def test_pareto_front_and_hypervolume_on_a_hand_made_example():
    params = [1_000, 20_000, 10_000, 500, 200_000, 10_000]
    accuracy = [0.85, 0.88, 0.90, 0.70, 0.95, 0.90]
    # 20K is beaten by 10K; the second 10K equals the first; the rest improve on all smaller ones.
    assert pareto_front(params, accuracy) == [3, 0, 2, 4]
    # Above 0.80 and up to 100K parameters: 0.05 over the decade 1K-10K, 0.10 over 10K-100K.
    points = list(zip(params, accuracy))
    assert hypervolume(points) == pytest.approx(1 * 0.05 + 1 * 0.10)
    assert hypervolume([points[i] for i in pareto_front(params, accuracy)]) == pytest.approx(0.15)
    assert hypervolume([(10_000, 0.90)], reference=(0.5, 1_000_000)) == pytest.approx(2 * 0.4)
    assert hypervolume([(500, 0.70), (200_000, 0.99)]) == 0.0 and hypervolume([]) == 0.0
    assert pareto_front([], []) == []


def test_complexity_control_holds_and_fails():
    holds = complexity_control([1e-4, 1e-8, 1e-6], [5_000, 60_000, 20_000])
    assert holds["monotonic"] and holds["span"] == pytest.approx(12) and holds["holds"]
    assert holds["lambdas"] == [1e-8, 1e-6, 1e-4] and holds["n_parameters"] == [60_000, 20_000, 5_000]
    rising = complexity_control([1e-8, 1e-6, 1e-4], [20_000, 60_000, 5_000])
    assert not rising["monotonic"] and not rising["holds"]
    narrow = complexity_control([1e-8, 1e-6, 1e-4], [30_000, 20_000, 15_000])
    assert narrow["monotonic"] and narrow["span"] == pytest.approx(2) and not narrow["holds"]


def test_time_plan_spends_the_budget_and_rejects_impossible_splits():
    plan = plan_time(3000, k=3, counts={"random": 4, "plain_cnn": 4}, n_jobs=2)
    assert (plan.search, plan.darts_search, plan.rounds, plan.reserve) == pytest.approx((900, 300, 8, 360))
    assert 2 * plan.search + plan.reserve + plan.rounds * plan.per_model == pytest.approx(3000)
    assert plan.equal_per_search == pytest.approx(2700)
    with pytest.raises(ValueError, match="search_share"):
        plan_time(100, k=3, counts={}, search_share=0.5)
    with pytest.raises(ValueError, match="k "):
        plan_time(100, k=0, counts={})
    with pytest.raises(ValueError, match="budget"):
        plan_time(0, k=3, counts={})


@pytest.mark.parametrize(
    "argv,message",
    [
        (["digits", "--time-budget", "-5"], "must be positive"),
        (["digits", "--k", "0"], "must be positive"),
        (["digits", "--search-share", "0.6"], "search_share"),
        (["mnist"], "invalid choice"),
        (["digits", "--scale", "gpu"], "invalid choice"),
    ],
)
def test_bad_arguments_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_paper_scale_refuses_a_cpu_without_force(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    # Patched where refuse_paper_scale_without_gpu looks it up.
    monkeypatch.setattr(experiments.time_plan, "time_search_step", lambda *args: 2.0)
    with pytest.raises(SystemExit) as exit_:
        main(["digits", "--scale", "paper"])
    message = str(exit_.value.code)
    hours = paper_scale_estimate(SCALES["paper"], 1257, 2.0) / 3600  # digits: 1,257 training images
    assert "--force" in message and "2.00 s" in message and f"about {hours:,.0f} hours" in message
    # 9 weight batches of 64 per epoch x 50 epochs x (1 + 5 DARTS) searches x 5 seeds x 2 s.
    assert hours == pytest.approx(9 * 50 * 6 * 5 * 2.0 / 3600)


def test_one_search_step_is_timed():
    seconds = time_search_step(dict(TINY_SEARCH, batch_size=64), image_shape=(1, 8, 8), batch=16)
    assert 0 < seconds < 20


def test_mlp_sizes_span_the_requested_parameter_range():
    hidden = mlp_hidden_sizes(784, 10, 20_000, 130_000, 4)
    counts = [785 * h + 10 * h + 10 for h in hidden]
    assert len(hidden) == 4 and counts == sorted(counts)
    assert counts[0] == pytest.approx(20_000, rel=0.05) and counts[-1] == pytest.approx(130_000, rel=0.05)
    assert np.all(np.diff(hidden) > 0)
