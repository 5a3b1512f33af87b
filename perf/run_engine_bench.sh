#!/usr/bin/env bash
# The engine benchmark in one command: builds (release), generates the
# synthetic pcap if missing, runs bench_engine on it (in memory, one core),
# then times ndpiReader and `tapflow read` end to end on the same file and
# prints one table. Outputs go to perf/out/ (gitignored).
#
# Usage: perf/run_engine_bench.sh [--build-dir DIR] [--packets N] [--flows N]
#          [--runs N] [--ndpi-runs N] [--reps N] [--prefetch D] [--no-ndpi]
#          [--heaptrack]
# --prefetch D: bench_engine's prefetch distance (default: the capture
# loops', kPrefetchPackets); a second run times the same loops cold (0).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$ROOT/perf/out"
BUILD="$ROOT/build-perf"
PACKETS=1000000
FLOWS=100000
RUNS=3        # end-to-end runs of each tapflow configuration; the best is kept
NDPI_RUNS=3
REPS=5        # bench_engine runs per variant
PREFETCH=""   # bench_engine's prefetch distance; empty: its default, the capture loops' (8)
WITH_NDPI=1
HEAPTRACK=0

USAGE_LINES=2,11
source "$ROOT/perf/bench_lib.sh"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD=${2:?--build-dir needs a directory}; shift 2 ;;
    --packets) number "$1" "${2:-}"; PACKETS=$2; shift 2 ;;
    --flows) number "$1" "${2:-}"; FLOWS=$2; shift 2 ;;
    --runs) number "$1" "${2:-}"; RUNS=$2; shift 2 ;;
    --ndpi-runs) number "$1" "${2:-}"; NDPI_RUNS=$2; shift 2 ;;
    --reps) number "$1" "${2:-}"; REPS=$2; shift 2 ;;
    --prefetch) number "$1" "${2:-}"; PREFETCH=$2; shift 2 ;;
    --no-ndpi) WITH_NDPI=0; shift ;;
    --heaptrack) HEAPTRACK=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "run_engine_bench.sh: unknown argument $1" >&2; usage 1 ;;
  esac
done
[[ "$RUNS" -ge 1 && "$NDPI_RUNS" -ge 1 && "$REPS" -ge 1 ]] || { echo "run_engine_bench.sh: runs must be >= 1" >&2; exit 1; }
[[ "$BUILD" = /* ]] || BUILD="$PWD/$BUILD"

mkdir -p "$OUT"

# 1. Build (release) when needed.
build_targets "$BUILD" engine 2 tapflow perf/bench_engine perf/gen_synthetic_pcap || die "the build failed"
TAPFLOW="$BUILD/tapflow"
BENCH="$BUILD/perf/bench_engine"
GEN="$BUILD/perf/gen_synthetic_pcap"

# 2. The traffic: deterministic, so one file per size is enough.
PCAP="$OUT/synthetic_${PACKETS}p_${FLOWS}f.pcap"
if [[ ! -s "$PCAP" ]]; then
  log "generating $PCAP"
  "$GEN" "$PCAP.tmp" --packets "$PACKETS" --flows "$FLOWS" | tee "$OUT/generator.txt" >&2
  mv "$PCAP.tmp" "$PCAP"
fi

# 3. In memory, one core: first as tapflow's capture loops walk their rings
#    (each packet's headers prefetched a few packets ahead), then cold: no
#    prefetch, each packet's first touch waits for DRAM.
PREFETCH_ARGS=()
[[ -n "$PREFETCH" ]] && PREFETCH_ARGS=(--prefetch "$PREFETCH")
log "bench_engine (in memory, packets prefetched as the capture loops do), $REPS runs per variant"
"$BENCH" "$PCAP" --reps "$REPS" "${PREFETCH_ARGS[@]}" | tee "$OUT/bench_engine.txt" >&2
DISTANCE=$(awk '/^runs per variant:/ { for (i = 1; i <= NF; i++) if ($i == "distance:") { d = $(i + 1); sub(/;$/, "", d); print d } }' \
  "$OUT/bench_engine.txt")
log "bench_engine (in memory, cold: no prefetch)"
"$BENCH" "$PCAP" --reps "$REPS" --prefetch 0 --only floor,decode,engine |
  tee "$OUT/bench_engine_cold.txt" >&2

result() {  # file key field
  awk -v key="$2" -v field="$3" '$1 == "RESULT" && $2 == key {
    for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == field) print kv[2] } }' "$1"
}
PKTS=$(result "$OUT/bench_engine.txt" floor packets)
WIRE=$(result "$OUT/bench_engine.txt" floor wire_bytes)
[[ -n "$PKTS" && -n "$WIRE" ]] || { echo "run_engine_bench.sh: bench_engine printed no results" >&2; exit 1; }

# 4. End to end: the best wall time of several runs (the file is in the page
#    cache after the first read, for every tool alike).
best_time() {  # label runs cmd...
  local label=$1 runs=$2 best="" start end t i
  shift 2
  for ((i = 1; i <= runs; i++)); do
    start=$EPOCHREALTIME
    if ! "$@" >"$OUT/$label.stdout" 2>"$OUT/$label.stderr"; then
      echo "run_engine_bench.sh: $label failed; see $OUT/$label.stderr" >&2
      tail -5 "$OUT/$label.stderr" >&2
      exit 1
    fi
    end=$EPOCHREALTIME
    t=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
    log "$label run $i: $t s"
    if [[ -z "$best" ]] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best=$t; fi
  done
  echo "$best"
}

NDPI_S=""
if [[ "$WITH_NDPI" = 1 ]]; then
  command -v ndpiReader >/dev/null || { echo "run_engine_bench.sh: ndpiReader not found (apt-get install libndpi-bin), or use --no-ndpi" >&2; exit 1; }
  # -q: no per-flow dump; ndpiReader still dissects every packet (one thread for a file).
  NDPI_S=$(best_time ndpiReader "$NDPI_RUNS" ndpiReader -i "$PCAP" -q)
fi
TF1_S=$(best_time tapflow_w1 "$RUNS" "$TAPFLOW" read "$PCAP" -o /dev/null --workers 1)
TF2_S=$(best_time tapflow_w2 "$RUNS" "$TAPFLOW" read "$PCAP" -o /dev/null --workers 2)

# 5. One table.
CPU=$(cpu_model)
NCPU=$(nproc)
{
  echo "# tapflow engine benchmark"
  echo
  echo "- CPU: $CPU, $NCPU cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- pcap: $PCAP ($PKTS packets, $WIRE wire bytes)"
  echo "- build: $BUILD ($(meson introspect --buildoptions "$BUILD" 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys; o={x["name"]: x["value"] for x in json.load(sys.stdin)}; print("buildtype=%s optimization=%s cpp_args=%s" % (o["buildtype"], o["optimization"], " ".join(o.get("cpp_args", [])) or "-"))' 2>/dev/null || echo unknown))"
  echo "- in-memory rows: best of $REPS runs (thread CPU time), one core; end-to-end rows: best of $RUNS runs (ndpiReader: $NDPI_RUNS), wall time"
  echo
  echo "| what | packets | seconds | Mpps | Gbit/s | vs ndpiReader |"
  echo "|---|---:|---:|---:|---:|---:|"
  row() {  # label seconds
    awk -v label="$1" -v s="$2" -v p="$PKTS" -v w="$WIRE" -v n="$NDPI_S" 'BEGIN {
      vs = (n == "" ? "-" : sprintf("%.1fx", n / s))
      printf "| %s | %d | %.4f | %.2f | %.2f | %s |\n", label, p, s, p / s / 1e6, w * 8 / s / 1e9, vs }'
  }
  row "in memory, prefetch $DISTANCE: floor (read ethertype + IPs)" "$(result "$OUT/bench_engine.txt" floor best_s)"
  row "in memory, prefetch $DISTANCE: decode only" "$(result "$OUT/bench_engine.txt" decode best_s)"
  row "in memory, prefetch $DISTANCE: decode + defrag + flows (1 core)" "$(result "$OUT/bench_engine.txt" engine best_s)"
  row "in memory, prefetch $DISTANCE: decode + defrag + flows + JSON records" "$(result "$OUT/bench_engine.txt" engine_json best_s)"
  row "in memory: defrag + flows only (pre-decoded)" "$(result "$OUT/bench_engine.txt" flows_only best_s)"
  row "in memory, cold: floor" "$(result "$OUT/bench_engine_cold.txt" floor best_s)"
  row "in memory, cold: decode only" "$(result "$OUT/bench_engine_cold.txt" decode best_s)"
  row "in memory, cold: decode + defrag + flows" "$(result "$OUT/bench_engine_cold.txt" engine best_s)"
  if [[ -n "$NDPI_S" ]]; then row "ndpiReader -i FILE -q (end to end)" "$NDPI_S"; fi
  row "tapflow read -o /dev/null --workers 1 (end to end)" "$TF1_S"
  row "tapflow read -o /dev/null --workers 2 (end to end)" "$TF2_S"
  echo
  grep -E '^allocations during packet loop' "$OUT/bench_engine.txt" | sed 's/^/- /'
  # What tapflow read did for that time: its last log line counts events and
  # the flows its analyzers had no session for (0: every flow analyzed).
  for label in tapflow_w1 tapflow_w2; do
    /usr/bin/python3 - "$OUT/$label.stderr" "$label" <<'PY'
import json, sys
end = [json.loads(l) for l in open(sys.argv[1]) if '"capture finished"' in l]
if end:
    e = end[-1]
    print(f"- {sys.argv[2]}: {e.get('events', '?')} events ({e.get('flow_records', '?')} flow records), "
          f"{e.get('analyzer_sessions_dropped', '?')} flows or datagrams left unanalyzed for want of a session")
PY
  done
} | tee "$OUT/results.md"

# 6. Optional: heaptrack over the engine runs, to show where the heap is used.
if [[ "$HEAPTRACK" = 1 ]]; then
  command -v heaptrack >/dev/null || { echo "run_engine_bench.sh: heaptrack not found" >&2; exit 1; }
  log "heaptrack on bench_engine (one run of the engine variants)"
  rm -f "$OUT"/heaptrack.bench_engine.*
  heaptrack -o "$OUT/heaptrack.bench_engine" "$BENCH" "$PCAP" --quick --only engine,engine_json \
    >"$OUT/heaptrack.log" 2>&1
  TRACE=$(ls "$OUT"/heaptrack.bench_engine.*[a-z] 2>/dev/null | grep -E '\.(zst|gz)$' | head -1)
  [[ -n "$TRACE" ]] || { echo "run_engine_bench.sh: heaptrack wrote no trace; see $OUT/heaptrack.log" >&2; exit 1; }
  heaptrack_print -f "$TRACE" >"$OUT/heaptrack.txt" 2>/dev/null
  # One line per distinct stack with its number of allocation calls: the
  # packet loop's share is the stacks that pass through a pass function.
  heaptrack_print -f "$TRACE" --flamegraph-cost-type allocations -F "$OUT/heaptrack.stacks" >/dev/null 2>&1
  echo
  echo "## heaptrack: bench_engine $(basename "$PCAP") --quick --only engine,engine_json"
  echo
  echo '```'
  grep -E '^(total runtime|calls to allocation functions|temporary memory allocations|peak heap memory consumption|peak RSS)' \
    "$OUT/heaptrack.txt" || true
  awk '{ n = $NF; total += n; if ($0 ~ /enginePass|flowsOnlyPass/) loop += n }
       END { printf "allocation calls with a packet loop (enginePass) on the stack: %d of %d\n", loop, total }' \
    "$OUT/heaptrack.stacks"
  awk '$0 ~ /enginePass|flowsOnlyPass/ {
         n = $NF; line = $0; sub(/;? +[0-9]+$/, "", line); k = split(line, f, ";")
         calls[f[k] " <- " f[k-1] " <- " f[k-2] " <- " f[k-3]] += n }
       END { for (c in calls) printf "  %d call(s): %s\n", calls[c], c }' "$OUT/heaptrack.stacks" | sort -rn | head -10
  echo
  echo "top allocation sites by number of calls (start-up and construction):"
  awk '/^MOST CALLS TO ALLOCATION FUNCTIONS/ { on = 1; next } /^PEAK MEMORY CONSUMERS/ { on = 0 }
       on && /calls to allocation functions with/ { n++; if (n > 8) exit; print; getline; print "    at " $0 }' \
    "$OUT/heaptrack.txt"
  echo '```'
fi | tee -a "$OUT/results.md"
