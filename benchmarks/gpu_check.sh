#!/usr/bin/env bash
# One check of skhypernas on a CUDA machine, sized to finish within 8 minutes on one H100:
#
#     bash benchmarks/gpu_check.sh [OUTPUT_FOLDER]      (default: results/gpu_check)
#
# 1. the CUDA-marked tests (pytest -m cuda);
# 2. benchmarks/bench_search.py --device cuda --json, for the DARTS cells and, when this
#    skhypernas has it, the chain space (else "chain space not available", and on);
# 3. a few hundred search steps of the paper setting (PRESETS["paper"]: 16 channels,
#    second order) and of the chain space, timed, with the paper setting's full-search
#    time extrapolated (one search of 50 epochs over Fashion-MNIST's 60,000 images);
# 4. OUTPUT_FOLDER/gpu_check.json: the GPU's name, the versions, every stage's status,
#    time and figures (benchmarks/gpu_check.py report).
#
# Every stage runs under `timeout` (its limit in seconds below, or from the environment)
# and leaves its exit status, seconds and log in the folder whatever happens, so a stage
# that fails or runs out of time is a line of the report. Without a CUDA device it
# refuses to start (exit 2). Exit 0 when every stage passed or was skipped, 1 otherwise.
set -u

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# This tree's skhypernas, whatever else is installed (benchmarks/ scripts run from benchmarks/).
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# Deterministic cuBLAS kernels need it set before Python starts (tests/test_cuda.py).
export CUBLAS_WORKSPACE_CONFIG="${CUBLAS_WORKSPACE_CONFIG:-:4096:8}"
PYTHON="${PYTHON:-python}"
OUT="${1:-results/gpu_check}"

# Seconds per stage: 110 + 75 + 60 + 110 + 75 = 430, with startup and the report under 480.
TESTS_LIMIT="${TESTS_LIMIT:-110}"
BENCH_LIMIT="${BENCH_LIMIT:-75}"
BENCH_CHAIN_LIMIT="${BENCH_CHAIN_LIMIT:-60}"
PAPER_LIMIT="${PAPER_LIMIT:-110}"
CHAIN_LIMIT="${CHAIN_LIMIT:-75}"

"$PYTHON" benchmarks/gpu_check.py require-cuda || exit 2
mkdir -p "$OUT" || exit 2
# An earlier check's files go (only this check's names: the folder may hold others).
for name in cuda_tests bench_search_darts bench_search_chain paper_search chain_search; do
    rm -f "$OUT/$name".{rc,seconds,log,json,skipped,stdout}
done
rm -f "$OUT/gpu_check.json"

# stage NAME LIMIT STDOUT COMMAND...: run COMMAND under LIMIT seconds, its stdout to
# STDOUT (a file), its stderr to NAME.log; record NAME.rc and NAME.seconds.
stage() {
    local name="$1" limit="$2" stdout="$3"
    shift 3
    echo "== $name (at most $limit s): $*"
    local start=$SECONDS
    timeout -k 5 "$limit" "$@" > "$stdout" 2> "$OUT/$name.log"
    local rc=$?
    echo "$rc" > "$OUT/$name.rc"
    echo $((SECONDS - start)) > "$OUT/$name.seconds"
    echo "   exit $rc after $((SECONDS - start)) s"
}

stage cuda_tests "$TESTS_LIMIT" "$OUT/cuda_tests.stdout" \
    "$PYTHON" -m pytest -q -m cuda -p no:cacheprovider tests
cat "$OUT/cuda_tests.stdout" >> "$OUT/cuda_tests.log"
tail -n 3 "$OUT/cuda_tests.stdout"

stage bench_search_darts "$BENCH_LIMIT" "$OUT/bench_search_darts.json" \
    "$PYTHON" benchmarks/bench_search.py --device cuda --json

if "$PYTHON" benchmarks/gpu_check.py has-space chain; then
    stage bench_search_chain "$BENCH_CHAIN_LIMIT" "$OUT/bench_search_chain.json" \
        "$PYTHON" benchmarks/bench_search.py --search-space chain --device cuda --json
else
    echo "chain space not available"
    echo "chain space not available in this skhypernas" > "$OUT/bench_search_chain.skipped"
fi

stage paper_search "$PAPER_LIMIT" "$OUT/paper_search.stdout" \
    "$PYTHON" benchmarks/gpu_check.py time-search --space darts --steps 150 --max-seconds "$PAPER_LIMIT" \
    --output "$OUT/paper_search.json"
cat "$OUT/paper_search.stdout"

if "$PYTHON" benchmarks/gpu_check.py has-space chain; then
    stage chain_search "$CHAIN_LIMIT" "$OUT/chain_search.stdout" \
        "$PYTHON" benchmarks/gpu_check.py time-search --space chain --steps 150 --max-seconds "$CHAIN_LIMIT" \
        --output "$OUT/chain_search.json"
    cat "$OUT/chain_search.stdout"
else
    echo "chain space not available"
    echo "chain space not available in this skhypernas" > "$OUT/chain_search.skipped"
fi

timeout -k 5 60 "$PYTHON" benchmarks/gpu_check.py report "$OUT"
