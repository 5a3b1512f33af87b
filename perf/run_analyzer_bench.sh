#!/usr/bin/env bash
# The analyzer benchmark in one command: builds tapflow (release), generates an
# HTTP-heavy and a SIP-heavy pcap if missing, counts tapflow's events on each
# against what the generator wrote, then times `tapflow read FILE --workers 1`
# and its peers (tshark with its HTTP/SIP dissectors, ndpiReader) on the same
# files, best of N, and prints one table. Outputs go to perf/out/ (gitignored).
#
# Usage: perf/run_analyzer_bench.sh [--build-dir DIR] [--no-build] [--runs N]
#          [--peer-runs N] [--connections N] [--calls N] [--pairs N]
#          [--only http|sip] [--no-tshark] [--no-ndpi] [--no-peers]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$ROOT/perf/out"
GEN="$ROOT/perf/make_analyzer_pcaps.py"
BUILD="$ROOT/build-perf"
BUILD_IT=1
RUNS=5          # timed runs of tapflow per pcap; the best is kept
PEER_RUNS=3     # timed runs of each peer per pcap
CONNECTIONS=20000
CALLS=16000
PAIRS=300
KINDS="http sip"
WITH_TSHARK=1
WITH_NDPI=1

USAGE_LINES=2,10
source "$ROOT/perf/bench_lib.sh"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD=${2:?--build-dir needs a directory}; shift 2 ;;
    --no-build) BUILD_IT=0; shift ;;
    --runs) number "$1" "${2:-}"; RUNS=$2; shift 2 ;;
    --peer-runs) number "$1" "${2:-}"; PEER_RUNS=$2; shift 2 ;;
    --connections) number "$1" "${2:-}"; CONNECTIONS=$2; shift 2 ;;
    --calls) number "$1" "${2:-}"; CALLS=$2; shift 2 ;;
    --pairs) number "$1" "${2:-}"; PAIRS=$2; shift 2 ;;
    --only)
      case "${2:-}" in http|sip) KINDS=$2 ;; *) echo "run_analyzer_bench.sh: --only takes http or sip" >&2; exit 1 ;; esac
      shift 2 ;;
    --no-tshark) WITH_TSHARK=0; shift ;;
    --no-ndpi) WITH_NDPI=0; shift ;;
    --no-peers) WITH_TSHARK=0; WITH_NDPI=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "run_analyzer_bench.sh: unknown argument $1" >&2; usage 1 ;;
  esac
done
[[ "$RUNS" -ge 1 && "$PEER_RUNS" -ge 1 ]] || { echo "run_analyzer_bench.sh: runs must be >= 1" >&2; exit 1; }
[[ "$CONNECTIONS" -ge 1 && "$CALLS" -ge 1 && "$PAIRS" -ge 1 ]] || { echo "run_analyzer_bench.sh: sizes must be >= 1" >&2; exit 1; }
[[ "$BUILD" = /* ]] || BUILD="$PWD/$BUILD"

mkdir -p "$OUT"

if [[ "$WITH_TSHARK" = 1 ]] && ! command -v tshark >/dev/null; then
  die "tshark not found (apt-get install tshark), or use --no-tshark"
fi
if [[ "$WITH_NDPI" = 1 ]] && ! command -v ndpiReader >/dev/null; then
  die "ndpiReader not found (apt-get install libndpi-bin), or use --no-ndpi"
fi

# 1. Build (release) when needed. One compile job: the machine is shared.
TAPFLOW="$BUILD/tapflow"
if [[ "$BUILD_IT" = 1 ]]; then
  build_targets "$BUILD" analyzer 1 tapflow ||
    die "the build failed (log: $OUT/analyzer-build.log); --no-build times the binary already in $BUILD"
fi
[[ -x "$TAPFLOW" ]] || die "no $TAPFLOW (build it, or drop --no-build)"
TAPFLOW_BUILT=$(date -r "$TAPFLOW" '+%Y-%m-%d %H:%M')

# 2. The traffic: deterministic, so it is made once per size (again when the
#    generator changed since).
pcap_of() {  # kind
  case "$1" in
    http) echo "$OUT/analyzer_http_${CONNECTIONS}c.pcap" ;;
    sip) echo "$OUT/analyzer_sip_${CALLS}calls_${PAIRS}pairs.pcap" ;;
  esac
}
for kind in $KINDS; do
  pcap=$(pcap_of "$kind")
  if [[ ! -s "$pcap" || ! -s "$pcap.manifest" || "$GEN" -nt "$pcap.manifest" ]]; then
    log "generating $pcap"
    case "$kind" in
      http) python3 "$GEN" http "$pcap.tmp" --connections "$CONNECTIONS" ;;
      sip) python3 "$GEN" sip "$pcap.tmp" --calls "$CALLS" --pairs "$PAIRS" ;;
    esac
    mv "$pcap.tmp.manifest" "$pcap.manifest"
    mv "$pcap.tmp" "$pcap"
  fi
done

value() {  # file key: the value of key=value in file, 0 if absent
  awk -F= -v k="$2" '$1 == k { v = $2 } END { print (v == "" ? 0 : v) }' "$1"
}

# 3. What tapflow finds: one run writing its events to a file, counted under
#    the manifest's keys.
declare -A EVENTS_OK
for kind in $KINDS; do
  pcap=$(pcap_of "$kind")
  events="$OUT/analyzer_${kind}.events.jsonl"
  log "counting tapflow's events on $(basename "$pcap")"
  "$TAPFLOW" read "$pcap" --workers 1 -o "$events" 2>"$OUT/analyzer_${kind}.count.stderr" ||
    { tail -5 "$OUT/analyzer_${kind}.count.stderr" >&2; die "tapflow read $pcap failed"; }
  python3 "$GEN" count "$events" >"$OUT/analyzer_${kind}.tapflow_counts"
  if [[ "$(value "$OUT/analyzer_${kind}.tapflow_counts" "events_$kind")" -gt 0 ]]; then
    EVENTS_OK[$kind]=1
  else
    EVENTS_OK[$kind]=0
  fi
done

# 4. Timed runs: the best wall time of several, with the user + system CPU
#    time of that run. The files are in the page cache after the first read,
#    for every tool alike.
time_runs() {  # label runs cmd... ; sets BEST_WALL and BEST_CPU (of the same run)
  local label=$1 runs=$2 i wall user sys cpu TIMEFORMAT='%R %U %S'
  shift 2
  BEST_WALL=""
  for ((i = 1; i <= runs; i++)); do
    if ! { time "$@" >"$OUT/$label.stdout" 2>"$OUT/$label.stderr"; } 2>"$OUT/$label.time"; then
      tail -5 "$OUT/$label.stderr" >&2
      die "$label failed; see $OUT/$label.stderr"
    fi
    read -r wall user sys <"$OUT/$label.time"
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')
    log "$label run $i: $wall s (CPU $cpu s)"
    if [[ -z "$BEST_WALL" ]] || awk -v t="$wall" -v b="$BEST_WALL" 'BEGIN { exit !(t < b) }'; then
      BEST_WALL=$wall
      BEST_CPU=$cpu
      cp "$OUT/$label.stdout" "$OUT/$label.best.stdout"
    fi
  done
}

# tshark does the same work: TCP reassembly (out-of-order segments included,
# which is not its default) and the HTTP or SIP+SDP dissectors, their
# statistics taps counting messages. What tapflow does not do is switched off:
# dissecting HTTP bodies by content type (JSON, JPEG, text lines, XML, PNG).
TSHARK_COMMON=(-q -n -o tcp.desegment_tcp_streams:TRUE -o tcp.reassemble_out_of_order:TRUE)
TSHARK_HTTP=(-z "http,tree" --disable-protocol json --disable-protocol image-jfif --disable-protocol data-text-lines
             --disable-protocol xml --disable-protocol png)
TSHARK_SIP=(-z "sip,stat")

declare -A WALL CPU OWN
for kind in $KINDS; do
  pcap=$(pcap_of "$kind")
  time_runs "analyzer_${kind}_tapflow" "$RUNS" "$TAPFLOW" read "$pcap" --workers 1 -o /dev/null
  WALL[$kind,tapflow]=$BEST_WALL CPU[$kind,tapflow]=$BEST_CPU
  if [[ "$WITH_TSHARK" = 1 ]]; then
    if [[ "$kind" = http ]]; then extra=("${TSHARK_HTTP[@]}"); else extra=("${TSHARK_SIP[@]}"); fi
    time_runs "analyzer_${kind}_tshark" "$PEER_RUNS" tshark -r "$pcap" "${TSHARK_COMMON[@]}" "${extra[@]}"
    WALL[$kind,tshark]=$BEST_WALL CPU[$kind,tshark]=$BEST_CPU
    stats="$OUT/analyzer_${kind}_tshark.best.stdout"
    if [[ "$kind" = http ]]; then
      OWN[$kind,tshark]=$(awk '/HTTP Request Packets/ { q = $4 } /HTTP Response Packets/ { r = $4 }
        END { printf "%d requests, %d responses", q, r }' "$stats")
    else
      OWN[$kind,tshark]=$(awk -F: '/Number of SIP messages/ { gsub(/ /, "", $2); m = $2 }
        END { printf "%d messages", m }' "$stats")
    fi
  fi
  if [[ "$WITH_NDPI" = 1 ]]; then
    # -q: no per-flow dump; every packet is still read, each flow dissected
    # until nDPI has classified it.
    time_runs "analyzer_${kind}_ndpiReader" "$PEER_RUNS" ndpiReader -i "$pcap" -q
    WALL[$kind,ndpi]=$BEST_WALL CPU[$kind,ndpi]=$BEST_CPU
    # One more run without -q, untimed, for what it classified.
    ndpiReader -i "$pcap" >"$OUT/analyzer_${kind}_ndpiReader.report" 2>&1 || true
    proto=$([[ "$kind" = http ]] && echo HTTP || echo SIP)
    OWN[$kind,ndpi]=$(awk -v p="$proto" '/^Detected protocols:/ { on = 1; next } on && NF == 0 { on = 0 }
      on && $1 == p { for (i = 2; i <= NF; i++) if ($i == "flows:") f = $(i + 1) }
      END { printf "%d flows classified %s", f, p }' "$OUT/analyzer_${kind}_ndpiReader.report")
  fi
done

# 5. The checks and one table.
CPU_MODEL=$(cpu_model)
{
  echo "# tapflow analyzer benchmark"
  echo
  echo "- CPU: $CPU_MODEL, $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- tapflow: $TAPFLOW (built $TAPFLOW_BUILT; $(meson introspect --buildoptions "$BUILD" 2>/dev/null |
    python3 -c 'import json,sys; o={x["name"]: x["value"] for x in json.load(sys.stdin)}; print("buildtype=%s" % o["buildtype"])' 2>/dev/null || echo "buildtype unknown"))"
  for kind in $KINDS; do
    pcap=$(pcap_of "$kind")
    m="$pcap.manifest"
    echo "- $kind pcap: $pcap ($(value "$m" packets) packets, $(value "$m" wire_bytes) wire bytes, $(value "$m" capture_seconds) s of traffic)"
  done
  echo "- tapflow: \`tapflow read FILE --workers 1 -o /dev/null\`, best of $RUNS; peers best of $PEER_RUNS; wall time, file in the page cache"
  echo

  for kind in $KINDS; do
    m="$(pcap_of "$kind").manifest"
    c="$OUT/analyzer_${kind}.tapflow_counts"
    echo "## $kind: what the generator wrote against what tapflow reported"
    echo
    if [[ "${EVENTS_OK[$kind]}" = 0 ]]; then
      echo "**tapflow wrote no \`$kind\` events for this pcap** ($(value "$c" events_flow) flow records only):"
      echo "this build of tapflow has no $kind analyzer wired in yet, or it did not recognize the traffic."
      echo "Its row below times decode + flows + flow records only; no transactions/s is given for it."
      echo
      continue
    fi
    echo "| what | generator | tapflow | |"
    echo "|---|---:|---:|---|"
    if [[ "$kind" = http ]]; then
      keys="http_transactions http_request_body_bytes http_response_body_bytes http_method_GET http_method_POST
            http_method_PUT http_method_DELETE http_status_200 http_status_304 http_status_404"
    else
      keys="sip_messages sip_messages_udp sip_messages_tcp sip_requests_INVITE sip_requests_ACK sip_requests_BYE
            sip_requests_CANCEL sip_requests_OPTIONS sip_responses_100 sip_responses_180 sip_responses_200
            sip_responses_486 sip_responses_487 sip_calls sip_calls_bye sip_calls_failure sip_calls_cancel"
    fi
    for key in $keys; do
      g=$(value "$m" "$key"); t=$(value "$c" "$key")
      echo "| $key | $g | $t | $([[ "$g" = "$t" ]] && echo ok || echo '**differs**') |"
    done
    if [[ "$kind" = http ]]; then
      echo "| (http events with a request or response missing or incomplete) | 0 | $(value "$c" http_partial) | $([[ "$(value "$c" http_partial)" = 0 ]] && echo ok || echo '**differs**') |"
    fi
    echo
  done

  echo "## Throughput"
  echo
  echo "| pcap | tool | seconds | CPU s | Gbit/s | transactions/s | calls/s | the tool's own count | time vs tapflow | CPU vs tapflow |"
  echo "|---|---|---:|---:|---:|---:|---:|---|---:|---:|"
  for kind in $KINDS; do
    m="$(pcap_of "$kind").manifest"
    c="$OUT/analyzer_${kind}.tapflow_counts"
    wire=$(value "$m" wire_bytes)
    if [[ "$kind" = http ]]; then
      txn=$(value "$m" http_transactions); calls=""
      tf_own="$(value "$c" events_http) http events ($(value "$c" http_transactions) complete)"
    else
      txn=$(value "$m" sip_messages); calls=$(value "$m" sip_calls)
      tf_own="$(value "$c" events_sip) sip, $(value "$c" events_sip_call) sip_call events"
    fi
    base=${WALL[$kind,tapflow]}
    base_cpu=${CPU[$kind,tapflow]}
    row() {  # tool seconds cpu own rates(1|0)
      awk -v kind="$kind" -v tool="$1" -v s="$2" -v cpu="$3" -v own="$4" -v rates="$5" -v w="$wire" -v n="$txn" \
          -v calls="$calls" -v base="$base" -v base_cpu="$base_cpu" 'BEGIN {
        tps = rates ? sprintf("%.0f", n / s) : "-"
        cps = (rates && calls != "") ? sprintf("%.0f", calls / s) : "-"
        printf "| %s | %s | %.3f | %.3f | %.3f | %s | %s | %s | %.1fx | %.1fx |\n",
               kind, tool, s, cpu, w * 8 / s / 1e9, tps, cps, own, s / base, cpu / base_cpu }'
    }
    row "tapflow read --workers 1" "$base" "${CPU[$kind,tapflow]}" "$tf_own" "${EVENTS_OK[$kind]}"
    if [[ "$WITH_TSHARK" = 1 ]]; then
      row "tshark -z $([[ "$kind" = http ]] && echo http,tree || echo sip,stat)" "${WALL[$kind,tshark]}" \
        "${CPU[$kind,tshark]}" "${OWN[$kind,tshark]}" 1
    fi
    if [[ "$WITH_NDPI" = 1 ]]; then
      row "ndpiReader -q" "${WALL[$kind,ndpi]}" "${CPU[$kind,ndpi]}" "${OWN[$kind,ndpi]}" 0
    fi
  done
  echo
  echo "- transactions: HTTP request/response pairs, or SIP messages; calls: SIP INVITE dialogs. Rates are the"
  echo "  generator's counts over the tool's time (given for a tool that extracts them; ndpiReader only classifies flows)."
  echo "- tapflow's time includes encoding every event and flow record as JSON (written to /dev/null); its capture"
  echo "  thread (reading the file) and output thread run beside the one worker."
  echo "- CPU s: user + system time of all the tool's threads in the best run. On a loaded machine wall time also"
  echo "  counts time spent waiting for a core; CPU time does not."
  echo "- time (CPU) vs tapflow: the tool's seconds (CPU seconds) over tapflow's; above 1, tapflow is that many times faster."
  for kind in $KINDS; do
    if [[ "${EVENTS_OK[$kind]}" = 0 ]]; then
      echo "- **no $kind events from tapflow**: its $kind row measures decode + flows + flow records, not the analyzer."
    fi
  done
} | tee "$OUT/analyzer_results.md"
