"""benchmarks/bench_cores.py's logic on tiny settings: the budgets, the comparison, the report."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "bench_cores.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_cores", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_setting_gets_the_same_wall_time(bench):
    # Four fits in 1,200 s: four rounds of 300 s one at a time, two rounds of 600 s two at a time.
    assert bench.per_fit_seconds(1200, 4, 1) == 300 and bench.per_fit_seconds(1200, 4, 2) == 600
    assert bench.per_fit_seconds(1200, 3, 2) == 600  # a round with one fit still costs a round


def test_the_comparison_picks_the_higher_mean_accuracy(bench):
    one = dict(workers=1, per_fit_seconds=300, wall_seconds=1210, accuracy=[0.80, 0.84], images=[1000, 1400])
    two = dict(workers=2, per_fit_seconds=600, wall_seconds=1205, accuracy=[0.85, 0.87], images=[1500, 1900])
    report = bench.compare([one, two])
    assert report["best_workers"] == 2 and report["accuracy_gain"] == pytest.approx(0.04)
    assert report["modes"][0]["mean_accuracy"] == pytest.approx(0.82)
    assert report["modes"][1]["images_per_wall_second"] == pytest.approx(3400 / 1205)


def test_a_tiny_measurement_writes_one_report(bench, tmp_path):
    out = tmp_path / "cores.json"
    argv = ["digits", "--wall", "1", "--fits", "2", "--workers", "1,2", "--channels", "2", "--output", str(out)]
    bench.main(argv)
    report = json.loads(out.read_text())
    assert [m["workers"] for m in report["modes"]] == [1, 2] and report["best_workers"] in (1, 2)
    for mode in report["modes"]:
        assert len(mode["accuracy"]) == len(mode["images"]) == len(mode["threads"]) == 2
        assert all(0 <= a <= 1 for a in mode["accuracy"]) and all(i > 0 for i in mode["images"])
        assert all(t >= 1 for t in mode["threads"])
        # Each fit ran to its budget: the setting took at least its rounds' time.
        assert mode["wall_seconds"] >= mode["per_fit_seconds"] * 2 / mode["workers"] - 1e-6
    assert report["machine"]["cpu_count"] >= 1 and report["params"]["channels"] == 2
