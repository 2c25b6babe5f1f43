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
    hyperdarts_families,
    hypervolume,
    main,
    mlp_hidden_sizes,
    paper_scale_estimate,
    pareto_front,
    plan_time,
    search_seconds_estimate,
    time_search_step,
)
from skhypernas.spaces import ChainSpace  # noqa: E402

TINY_SEARCH = dict(
    channels=2, n_nodes=2, batch_size=32, path_samples=64, device="cpu", lambda_range=(1e-8, 1e-4), arch_lr=0.05
)
TINY_SCALE = dict(
    search=TINY_SEARCH,
    # Two HyperDARTS families: the DARTS cells, and a small chain space (a space object
    # brings its own shape: the DARTS cells' parameters go back to their defaults).
    hyperdarts={
        "hyperdarts": {"search_space": "darts"},
        "hyperdarts-chain": {"search_space": ChainSpace(stages=(1, 1), widths=(4, 8)), "channels": 16, "n_nodes": 4},
    },
    train=dict(batch_size=32, lr=0.05, device="cpu"),
    k=2,
    hyper_lambdas=(1e-6,),
    n_random=2,
    n_cnn=2,
    mlp_sizes=2,
    mlp_max_iter=5,
    time_budget=6.0,
    search_share=0.2,
    reserve_share=0.12,
    n_seeds=1,
    n_train=None,
    n_test=None,
    n_jobs=None,
)
FAMILIES = {
    "hyperdarts (inherited)",
    "hyperdarts (fine-tuned)",
    "hyperdarts-chain (inherited)",
    "hyperdarts-chain (fine-tuned)",
    "darts (inherited)",
    "darts (fine-tuned)",
    "darts (scratch)",
    "random (scratch)",
    "plain_cnn (scratch)",
    "mlp (scratch)",
}
DARTS_TUNED = ("darts", "fine-tuned")
FIRST = ("hyperdarts", "pick", "inherited")
ARGV = ["digits", "--n-train", "240", "--n-test", "160", "--seeds", "2"]


def _main(argv):
    """The command line with the tiny scale: what it printed."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        patch.setitem(experiments.SCALES, "cpu", TINY_SCALE)
        main(argv)
    return out.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The command line once on digits, two seeds of a 6-second budget: its folder and its output."""
    output = tmp_path_factory.mktemp("experiment")
    return output, _main([*ARGV, "--output", str(output)])


def _read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_every_family_and_seed_in_the_csv_under_one_per_model_budget(run):
    output, _ = run
    rows = _read(output / "results.csv")
    assert list(rows[0]) == list(COLUMNS)
    assert {f"{r['method']} ({r['weights']})" for r in rows} == FAMILIES
    assert {r["seed"] for r in rows} == {"0", "1"}
    for seed in ("0", "1"):
        mine = [r for r in rows if r["seed"] == seed]
        for family in ("hyperdarts", "hyperdarts-chain"):
            picks = [r for r in mine if r["method"] == family and r["setting"].startswith("pick")]
            tuned = [r for r in picks if r["weights"] == "fine-tuned"]
            inherited = [r for r in picks if r["weights"] == "inherited"]
            # Each pick appears inherited and fine-tuned.
            assert len(tuned) == len(inherited) >= 1
            assert [r["genotype"] for r in tuned] == [r["genotype"] for r in inherited]
        # DARTS at lambda 0, then at the first family's picks' lambdas upward.
        darts = [r for r in mine if r["method"] == "darts" and r["weights"] == "inherited"]
        firsts = sorted(float(r["lambda"]) for r in mine if (r["method"], r["setting"][:4], r["weights"]) == FIRST)
        assert [float(r["lambda"]) for r in darts] == [0.0, *firsts][: len(darts)]
        assert darts[0]["setting"] == "lambda 0 (the authors' DARTS)"
        # A collapsed search ends the list; those before it did not collapse.
        assert all(r["collapsed"] == "False" for r in darts[:-1])
        for weights in ("fine-tuned", "scratch"):
            trained = [r for r in mine if r["method"] == "darts" and r["weights"] == weights]
            assert [(r["lambda"], r["genotype"], r["collapsed"]) for r in trained] == [
                (r["lambda"], r["genotype"], r["collapsed"]) for r in darts
            ]
    # The collapsed column: True or False for cell architectures, empty for the references.
    for r in rows:
        assert r["collapsed"] in (("",) if r["method"] in ("plain_cnn", "mlp") else ("True", "False"))
    # One budget for every per-model training: a budgeted fit stops after the step that spends it.
    per_model = json.loads((output / "summary.json").read_text())["time_plan"]["per_model"]
    trained = [r for r in rows if r["weights"] in ("fine-tuned", "scratch") and r["method"] != "mlp"]
    assert all(float(r["train_seconds"]) >= per_model for r in trained)
    for r in rows:
        assert 0 <= float(r["test_accuracy"]) <= 1 and int(r["n_parameters"]) > 0
    assert (output / "accuracy_vs_parameters.png").stat().st_size > 5000


def test_fronts_give_the_hypervolume_over_seeds_and_the_summary_each_seeds_time(run):
    output, printed = run
    fronts = _read(output / "fronts.csv")
    rows = _read(output / "results.csv")
    assert {f["family"] for f in fronts} == FAMILIES
    for f in fronts:
        mine = [r for r in rows if f"{r['method']} ({r['weights']})" == f["family"]]
        per_seed = json.loads(f["fronts"])
        assert sorted(per_seed) == ["0", "1"] and int(f["n_seeds"]) == 2 and int(f["n_models"]) == len(mine)
        volumes = []
        for seed, front in per_seed.items():
            points = {(int(r["n_parameters"]), float(r["test_accuracy"])) for r in mine if r["seed"] == seed}
            assert {tuple(p) for p in front} <= points
            volumes.append(hypervolume(points))
        assert float(f["hypervolume"]) == pytest.approx(np.mean(volumes))
        assert (float(f["hypervolume_min"]), float(f["hypervolume_max"])) == pytest.approx((min(volumes), max(volumes)))
        assert float(f["wall_seconds"]) > 0
    summary = json.loads((output / "summary.json").read_text())
    plan = summary["time_plan"]
    assert plan["budget"] == 6.0 and plan["n_hyperdarts"] == 2
    assert plan["equal_per_search"] == pytest.approx(3 * plan["search"])  # k + 1 DARTS searches
    for seed in ("0", "1"):
        stages = summary["seeds"][seed]["stage_seconds"]
        assert set(stages) == FAMILIES - {"darts (inherited)"} | {"darts (inherited)"}
        assert summary["seeds"][seed]["seconds"] == pytest.approx(sum(stages.values()))
        for family in ("hyperdarts", "hyperdarts-chain"):
            assert set(summary["complexity_control"][family][seed]) >= {"monotonic", "span", "holds"}
    assert summary["collapsed"]["darts (inherited)"]["models"] == sum(
        r["method"] == "darts" and r["weights"] == "inherited" for r in rows
    )
    for text in ("time budget per seed 6.0 s", "equal budget per DARTS search", "Pareto fronts", "complexity control"):
        assert text in printed
    assert "seed 1: " in printed and "s of stages" in printed
    # Every stage of every seed was written as it finished, the searches beside it.
    for seed in (0, 1):
        folder = output / f"seed-{seed}"
        assert {p.stem for p in folder.glob("*.json")} >= {"hyperdarts-inherited", "darts-fine-tuned", "mlp-scratch"}
        assert (folder / "models" / "hyperdarts-inherited-search-1.skh").is_file()


def test_a_rerun_into_the_same_folder_runs_only_what_is_missing(run, tmp_path):
    import shutil

    earlier, _ = run
    output = tmp_path / "resumed"
    shutil.copytree(earlier, output)
    # As if the session had ended during seed 1's DARTS fine-tuning.
    for name in ("darts-fine-tuned", "darts-scratch", "random-scratch", "plain_cnn-scratch", "mlp-scratch"):
        (output / "seed-1" / f"{name}.json").unlink()
    printed = _main([*ARGV, "--output", str(output)])
    assert "resuming" in printed
    assert printed.count("written earlier") == 2 * len(FAMILIES) - 5
    assert "seed 1: darts (fine-tuned): " in printed and "seed 1: darts (inherited): written earlier" in printed
    before, after = _read(earlier / "results.csv"), _read(output / "results.csv")
    assert len(after) == len(before)
    kept = [r for r in before if r["seed"] == "0" or r["weights"] == "inherited" or r["method"].startswith("hyper")]
    assert all(r in after for r in kept)

    # The fine-tuning started from the saved DARTS searches: the same architectures.
    def tuned(rows):
        return [r["genotype"] for r in rows if r["seed"] == "1" and (r["method"], r["weights"]) == DARTS_TUNED]

    assert tuned(after) == tuned(before) and tuned(after)


def test_a_rerun_with_other_settings_is_refused(run, capsys):
    output, _ = run
    with pytest.raises(SystemExit) as exit_:
        _main([*ARGV, "--k", "3", "--output", str(output)])
    message = str(exit_.value.code)
    assert "holds a run with other settings" in message and "scale.k: 2 then, 3 now" in message


def test_darts_stops_at_the_first_collapsed_search(digits_setting, monkeypatch):
    from skhypernas.experiments import families

    # As if every search with a complexity term collapsed.
    monkeypatch.setattr(families, "collapsed", lambda estimator: getattr(estimator, "complexity", 0) > 0)
    logged = []
    rows, searches, skipped = families.darts_inherited(digits_setting, [1e-4, 1e-6, 1e-5], 0.3, logged.append)
    assert [r["lambda"] for r in rows] == [0.0, 1e-6] and [r["collapsed"] for r in rows] == [False, True]
    assert skipped == [1e-5, 1e-4] and "lambdas 1e-05, 0.0001 skipped" in logged[0]
    assert [d.complexity for d in searches] == [0.0, 1e-6] and all(hasattr(d, "supernet_") for d in searches)
    tuned = families.fine_tuned(digits_setting, rows, [d.supernet_ for d in searches])
    assert [(r["lambda"], r["weights"], r["setting"]) for r in tuned] == [
        (0.0, "fine-tuned", "lambda 0 (the authors' DARTS)"),
        (1e-6, "fine-tuned", "search at pick 1's lambda"),
    ]


@pytest.fixture(scope="module")
def digits_setting():
    from sklearn.datasets import load_digits

    from skhypernas.experiments.families import Setting

    X, y = load_digits(return_X_y=True)
    X = (X[:200] / 16.0).astype(np.float32)
    split = [(np.arange(150), np.arange(150, 200))]
    train = dict(batch_size=32, lr=0.05, device="cpu", max_epochs=1, random_state=0)
    search = dict(TINY_SEARCH, max_epochs=1, random_state=0)
    return Setting(X, y[:200], split, None, search, train, dict(channels=2, n_nodes=2))


def test_hyperdarts_families_name_a_family_per_search_space_with_its_preset():
    from skhypernas.presets import SPACE_PRESETS

    assert hyperdarts_families(["darts"]) == {"hyperdarts": {"search_space": "darts"}}
    families = hyperdarts_families(["darts", "chain"], "cpu")
    assert list(families) == ["hyperdarts", "hyperdarts-chain"]
    assert families["hyperdarts-chain"] == {**SPACE_PRESETS["chain"]["cpu"], "search_space": "chain"}
    assert hyperdarts_families(["darts", "chain"], "paper")["hyperdarts-chain"] == {"search_space": "chain"}
    assert SCALES["cpu"]["hyperdarts"] == {"hyperdarts": {"search_space": "darts"}}
    # --search-spaces darts,chain: two searches' shares, checked before any data loads.
    with pytest.raises(SystemExit) as exit_:
        main(["digits", "--search-spaces", "darts,chain", "--search-share", "0.4"])
    assert exit_.value.code == 2


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
    # K + 1 = 4 DARTS searches; fits: 3 fine-tunings, 4 + 4 DARTS, 4 random, 4 CNNs, two at a time.
    assert (plan.search, plan.darts_search, plan.rounds, plan.reserve) == pytest.approx((900, 225, 10, 360))
    assert 2 * plan.search + plan.reserve + plan.rounds * plan.per_model == pytest.approx(3000)
    assert plan.equal_per_search == pytest.approx(3600)
    two = plan_time(3000, k=3, counts={"random": 4, "plain_cnn": 4}, n_jobs=2, search_share=0.25, n_hyperdarts=2)
    assert two.rounds == 12 and 3 * two.search + two.reserve + two.rounds * two.per_model == pytest.approx(3000)
    assert "hyperdarts, hyperdarts-chain: one search of 750 s each" in "\n".join(
        two.describe({"random": 4, "plain_cnn": 4}, ["hyperdarts", "hyperdarts-chain"])
    )
    with pytest.raises(ValueError, match="search_share"):
        plan_time(100, k=3, counts={}, search_share=0.5)
    with pytest.raises(ValueError, match=r"search_share must be in \(0, 0.333\)"):
        plan_time(100, k=3, counts={}, search_share=0.4, n_hyperdarts=2)
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
        (["digits", "--seeds", "0"], "must be positive"),
        (["digits", "--search-spaces", "darts,chainz"], "'chainz' is not available in this skhypernas (it has: "),
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
    # 9 weight batches of 64 per epoch x 50 epochs x (1 + 5 + 1 DARTS) searches x 5 seeds x 2 s.
    assert hours == pytest.approx(9 * 50 * 7 * 5 * 2.0 / 3600)
    with pytest.raises(SystemExit) as exit_:
        main(["digits", "--scale", "paper", "--seeds", "2"])
    assert f"about {hours * 2 / 5:,.0f} hours" in str(exit_.value.code)


def test_one_search_step_is_timed():
    seconds = time_search_step(dict(TINY_SEARCH, batch_size=64), image_shape=(1, 8, 8), batch=16)
    assert 0 < seconds < 20
    # Several steps an epoch, the full batch: a GPU's timing, here on the CPU.
    assert 0 < time_search_step(TINY_SEARCH, image_shape=(1, 8, 8), batch=32, steps=3) < 20
    # 2,000 images, half for the weights: 31 steps of 32 per epoch.
    assert search_seconds_estimate(dict(TINY_SEARCH, max_epochs=4), 2000, 0.5) == pytest.approx(31 * 4 * 0.5)


def test_mlp_sizes_span_the_requested_parameter_range():
    hidden = mlp_hidden_sizes(784, 10, 20_000, 130_000, 4)
    counts = [785 * h + 10 * h + 10 for h in hidden]
    assert len(hidden) == 4 and counts == sorted(counts)
    assert counts[0] == pytest.approx(20_000, rel=0.05) and counts[-1] == pytest.approx(130_000, rel=0.05)
    assert np.all(np.diff(hidden) > 0)


def test_seed_parts_write_read_and_refuse_other_settings(tmp_path, capsys):
    from skhypernas.experiments import SeedParts, check_run_settings

    parts = SeedParts(tmp_path, 3)
    assert parts.read("darts (scratch)") is None and parts.load_model("darts (inherited) search 1") is None
    rows = [dict(method="darts", n_parameters=np.int64(5), test_accuracy=np.float32(0.5), collapsed=True)]
    assert parts.write("darts (scratch)", dict(seconds=1.5, rows=rows, models=[], notes={}))
    record = parts.read("darts (scratch)")
    assert parts.path("darts (scratch)") == tmp_path / "seed-3" / "darts-scratch.json"
    assert record["rows"] == [dict(method="darts", n_parameters=5, test_accuracy=0.5, collapsed=True)]
    assert (record["stage"], record["seed"], record["seconds"]) == ("darts (scratch)", 3, 1.5)
    # A record that cannot be written is reported and counted, and costs only itself.
    parts.path("mlp (scratch)").mkdir()
    assert not parts.write("mlp (scratch)", dict(seconds=1.0, rows=[], models=[], notes={}))
    assert parts.failed == [str(parts.path("mlp (scratch)"))] and "could not write" in capsys.readouterr().err

    settings = dict(dataset="digits", k=2, lambdas=(1e-8, 1e-6))
    assert check_run_settings(tmp_path, settings) is False  # recorded
    assert check_run_settings(tmp_path, dict(settings)) is True  # the same, tuples as stored
    with pytest.raises(ValueError, match=r"other settings \(k: 2 then, 3 now\)"):
        check_run_settings(tmp_path, dict(settings, k=3))
