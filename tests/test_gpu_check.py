"""benchmarks/gpu_check.sh and gpu_check.py on the CPU: the refusal without CUDA, the
stages' records, the report's shape on fake figures, the step timing on tiny settings."""

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location("gpu_check", BENCHMARKS / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="with a CUDA device the script runs the whole check")
def test_the_script_refuses_to_start_without_cuda(tmp_path):
    done = subprocess.run(
        ["bash", str(BENCHMARKS / "gpu_check.sh"), str(tmp_path / "out")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "no CUDA device here" in done.stderr and "GPU machine only" in done.stderr
    assert not (tmp_path / "out").exists()  # nothing started


def test_stage_records_and_the_report(check, tmp_path):
    files = {
        "cuda_tests.rc": "0",
        "cuda_tests.seconds": "41",
        "cuda_tests.log": "\n".join(f"line {i}" for i in range(8)) + "\n5 passed in 40.1s",
        "bench_search_darts.rc": "124",
        "bench_search_darts.seconds": "75",
        "bench_search_darts.json": '{"figures": {"weight_st',  # cut short by the time limit
        "bench_search_chain.skipped": "chain space not available in this skhypernas",
        "paper_search.rc": "0",
        "paper_search.seconds": "98",
        "paper_search.json": json.dumps(dict(step_seconds=0.3, steps_timed=300, estimated_search_seconds=7020.0)),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    stages = {name: check.stage_record(tmp_path, name) for name in check.STAGES}
    tail = ["line 4", "line 5", "line 6", "line 7", "5 passed in 40.1s"]
    assert stages["cuda_tests"] == dict(status="passed", exit_code=0, seconds=41.0, log_tail=tail)
    assert stages["bench_search_darts"]["status"] == "timed out" and stages["bench_search_darts"]["figures"] is None
    assert stages["bench_search_chain"] == dict(status="skipped", reason="chain space not available in this skhypernas")
    assert stages["paper_search"]["figures"]["step_seconds"] == 0.3
    assert stages["chain_search"] == dict(status="not run")

    gpu = dict(name="NVIDIA H100 80GB HBM3", capability="9.0", memory_gib=79.2, count=1)
    versions = dict(torch="2.14.1", cuda="13.0", cudnn=92400, commit="abc1234")
    report = check.build_report(gpu, versions, stages)
    assert list(report) == ["gpu", "versions", "ok", "paper_full_search_seconds", "paper_full_search_hours", "stages"]
    assert report["gpu"]["name"] == "NVIDIA H100 80GB HBM3" and report["versions"] == versions
    assert report["paper_full_search_seconds"] == 7020.0 and report["paper_full_search_hours"] == pytest.approx(1.95)
    assert report["ok"] is False  # a stage timed out, one did not run
    passing = {name: dict(status="passed" if name != "bench_search_chain" else "skipped") for name in check.STAGES}
    assert check.build_report(gpu, versions, passing)["ok"] is True
    assert check.build_report(gpu, versions, passing)["paper_full_search_hours"] is None
    json.dumps(report)  # the report is JSON as it stands


def test_search_steps_are_timed_and_a_full_search_extrapolated(check):
    params = dict(channels=2, n_nodes=2, batch_size=32, max_epochs=4, lambda_range=(1e-8, 1e-4))
    saved = []
    figures = check.time_search(params, 12, "cpu", 60.0, image_shape=(1, 8, 8), n_train=2000, save=saved.append)
    # The calibration's figures first, then those of two epochs of 12 steps.
    assert [f["steps_timed"] for f in saved] == [20, 24] and figures == saved[-1]
    # 1,000 weight-half images in batches of 32 a step, 4 epochs.
    assert figures["full_search_steps"] == 31 * 4
    assert figures["estimated_search_seconds"] == pytest.approx(31 * 4 * figures["step_seconds"])
    assert figures["estimated_search_hours"] == pytest.approx(figures["estimated_search_seconds"] / 3600)


def test_what_is_timed_for_each_space(check):
    from skhypernas.presets import PRESETS, SPACE_PRESETS

    assert check.search_settings("darts") == (PRESETS["paper"], "paper")
    assert check.search_settings("chain") == ({**SPACE_PRESETS["chain"]["cpu"], "search_space": "chain"}, "cpu")
    assert check.search_settings("toy") == ({**PRESETS["paper"], "search_space": "toy"}, "paper")
