#!/usr/bin/env bash
# The output benchmark in one command: builds (release) bench_outputs and the
# integration tests' kafka_mock_cluster, then runs bench_outputs: Kafka (flow
# JSON + KafkaSink against librdkafka's own producer loop, same messages, a
# fresh mock cluster in its own process per run) and HEP over UDP (HepSink
# against bare send() of the same datagrams), and prints one table with the
# ratios. Outputs go to perf/out/ (gitignored).
#
# Usage: perf/run_output_bench.sh [--build-dir DIR] [--events N] [--runs N]
#          [--jobs N] [--only kafka,hep] [--in-process-mock] [--property K=V]...
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$ROOT/perf/out"
BUILD="$ROOT/build-perf"
EVENTS=200000
RUNS=3
JOBS=2
ONLY="kafka,hep"
IN_PROCESS=0
PROPERTIES=()

USAGE_LINES=2,10
source "$ROOT/perf/bench_lib.sh"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD=${2:?--build-dir needs a directory}; shift 2 ;;
    --events) positive "$1" "${2:-}"; EVENTS=$2; shift 2 ;;
    --runs) positive "$1" "${2:-}"; RUNS=$2; shift 2 ;;
    --jobs) positive "$1" "${2:-}"; JOBS=$2; shift 2 ;;
    --only) ONLY=${2:?--only needs kafka, hep or kafka,hep}; shift 2 ;;
    --in-process-mock) IN_PROCESS=1; shift ;;
    --property) PROPERTIES+=(--property "${2:?--property needs NAME=VALUE}"); shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run_output_bench.sh: unknown argument $1" >&2; usage 1 ;;
  esac
done
[[ "$BUILD" = /* ]] || BUILD="$PWD/$BUILD"

mkdir -p "$OUT"

# 1. Build (release) when needed.
build_targets "$BUILD" outputs "$JOBS" perf/bench_outputs tests/integration/kafka_mock_cluster || die "the build failed"
BENCH="$BUILD/perf/bench_outputs"
MOCK="$BUILD/tests/integration/kafka_mock_cluster"

# 2. The runs. With the mock cluster in its own process, this process's CPU
#    time is the producer's alone (the brokers' work is not counted).
ARGS=(--events "$EVENTS" --runs "$RUNS" --only "$ONLY")
[[ "$IN_PROCESS" = 1 ]] || ARGS+=(--mock "$MOCK")
ARGS+=("${PROPERTIES[@]}")
log "bench_outputs ${ARGS[*]}"
"$BENCH" "${ARGS[@]}" >"$OUT/bench_outputs.txt" 2>"$OUT/bench_outputs.stderr" || {
  tail -20 "$OUT/bench_outputs.stderr" >&2
  exit 1
}

# 3. One table.
CPU=$(cpu_model)
{
  echo "# tapflow output benchmark"
  echo
  echo "- CPU: $CPU, $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- librdkafka $(pkg-config --modversion rdkafka 2>/dev/null || echo '?'); mock cluster: $([[ "$IN_PROCESS" = 1 ]] && echo 'in the bench process' || echo 'kafka_mock_cluster, its own process'), 3 brokers, a fresh one per run"
  echo "- $EVENTS events per run, $RUNS runs per side alternating, median run shown; CPU s: the bench process (all its threads)"
  echo "- extra librdkafka properties (both sides): ${PROPERTIES[*]:-none}"
  grep -E '^\|' "$OUT/bench_outputs.txt"
  echo
  grep -E '^(RESULT|RATIO) ' "$OUT/bench_outputs.txt" | sed 's/^/    /'
} | tee "$OUT/results-outputs.md"
