#!/usr/bin/env bash
# The live capture benchmark in one command (root): a veth pair between two
# network namespaces it creates, trafgen (netsniff-ng) offering the same valid
# UDP traffic to each capture in turn, and one table of offered, received,
# lost and CPU per packet for tcpdump (AF_PACKET, the reference) and
# tapflow's AF_XDP path, on a veth with 1 RX queue, then 2. Phases run one
# after the other: an XDP redirect takes packets away from AF_PACKET, so the
# two cannot watch the same packets at once. Everything it creates (namespaces,
# veth, processes) is removed on exit, also on failure or Ctrl-C.
#
# Usage: perf/run_live_bench.sh [--build-dir DIR] [--tapflow BIN]
#          [--rates "50000 200000 max"] [--seconds N] [--max-packets N]
#          [--queues "1 2"] [--workers N] [--afxdp-ring N]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$ROOT/perf/out/live"
BUILD="$ROOT/build-perf"
TAPFLOW=""
RATES="50000 200000 max"
SECONDS_PER_PHASE=4     # rate-limited phases send rate x this many packets
MAX_PACKETS=2000000     # what the unlimited ("max") phase sends
QUEUE_SETS="1 2"
WORKERS=1
AFXDP_RING=0            # 0: tapflow's defaults; else rx_ring = fill_ring = N
NS_GEN="tfbench-gen-$$"
NS_CAP="tfbench-cap-$$"
DEV_GEN="tfbg$$"
DEV_CAP="tfbc$$"

USAGE_LINES=2,13
source "$ROOT/perf/bench_lib.sh"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD=${2:?--build-dir needs a directory}; shift 2 ;;
    --tapflow) TAPFLOW=${2:?--tapflow needs a binary}; shift 2 ;;
    --rates) RATES=${2:?--rates needs a list}; shift 2 ;;
    --seconds) number "$1" "${2:-}"; SECONDS_PER_PHASE=$2; shift 2 ;;
    --max-packets) number "$1" "${2:-}"; MAX_PACKETS=$2; shift 2 ;;
    --queues) QUEUE_SETS=${2:?--queues needs a list}; shift 2 ;;
    --workers) number "$1" "${2:-}"; WORKERS=$2; shift 2 ;;
    --afxdp-ring) number "$1" "${2:-}"; AFXDP_RING=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run_live_bench.sh: unknown argument $1" >&2; usage 1 ;;
  esac
done
for r in $RATES; do [[ "$r" == max || "$r" =~ ^[1-9][0-9]*$ ]] || die "--rates: '$r' is neither a number nor max"; done
for q in $QUEUE_SETS; do [[ "$q" =~ ^[1-9]$ ]] || die "--queues: '$q' must be 1..9"; done
[[ "$WORKERS" -ge 1 ]] || die "--workers must be >= 1"
[[ "$AFXDP_RING" -eq 0 ]] || (( (AFXDP_RING & (AFXDP_RING - 1)) == 0 && AFXDP_RING >= 64 && AFXDP_RING <= 32768 )) ||
  die "--afxdp-ring must be a power of two, 64..32768"
[[ $EUID -eq 0 ]] || die "needs root (network namespaces, XDP)"
[[ "$BUILD" = /* ]] || BUILD="$PWD/$BUILD"

# Tools. trafgen comes with Debian's netsniff-ng; install it when missing, as
# the other perf/ tooling is installed on demand (it is not a build or test
# dependency, so scripts/install-deps.sh does not list it).
if ! command -v trafgen >/dev/null; then
  log "installing netsniff-ng (trafgen)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends netsniff-ng >/dev/null ||
    die "cannot install netsniff-ng (trafgen)"
fi
for t in trafgen tcpdump ip curl; do command -v "$t" >/dev/null || die "$t is missing"; done

mkdir -p "$OUT"
if [[ -z "$TAPFLOW" ]]; then
  build_targets "$BUILD" live 2 tapflow || die "build failed"
  TAPFLOW="$BUILD/tapflow"
fi
[[ -x "$TAPFLOW" ]] || die "no tapflow binary at $TAPFLOW"

# ---------------------------------------------------------------- tidy-up
# The capture running now (one at a time); cleared once it has been waited
# for, so a reused pid is never signalled.
CAPTURE_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$CAPTURE_PID" ]]; then
    kill -TERM "$CAPTURE_PID" 2>/dev/null || true
    wait "$CAPTURE_PID" 2>/dev/null || true
  fi
  ip netns del "$NS_GEN" 2>/dev/null || true   # takes the veth pair with it
  ip netns del "$NS_CAP" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

in_gen() { ip netns exec "$NS_GEN" "$@"; }
in_cap() { ip netns exec "$NS_CAP" "$@"; }

# A fresh pair per queue count: NS_GEN/DEV_GEN sends, NS_CAP/DEV_CAP captures.
make_veth() {  # queues
  local q=$1
  ip netns del "$NS_GEN" 2>/dev/null || true
  ip netns del "$NS_CAP" 2>/dev/null || true
  ip netns add "$NS_GEN"
  ip netns add "$NS_CAP"
  ip link add "$DEV_GEN" numrxqueues "$q" numtxqueues "$q" netns "$NS_GEN" type veth \
    peer name "$DEV_CAP" numrxqueues "$q" numtxqueues "$q" netns "$NS_CAP"
  in_gen ip link set lo up
  in_cap ip link set lo up
  # No IPv6 (router solicitations, DAD) and no addresses: only trafgen's
  # packets cross the pair, so tx_packets counts exactly what was offered.
  in_gen sysctl -qw "net.ipv6.conf.$DEV_GEN.disable_ipv6=1"
  in_cap sysctl -qw "net.ipv6.conf.$DEV_CAP.disable_ipv6=1"
  in_gen ip link set "$DEV_GEN" address 02:00:00:00:00:01 up
  in_cap ip link set "$DEV_CAP" address 02:00:00:00:00:03 up
  # The frames go to another MAC than DEV_CAP's: the stack drops them at
  # once (PACKET_OTHERHOST) instead of answering each with ICMP, and every
  # capture still sees them.
}

# trafgen's packets: valid Ethernet/IPv4/UDP (checksums computed by trafgen),
# 60-byte frames, 256 flows (source ports). A veth delivers a packet to the
# peer's RX queue numbered like the sender's TX queue, and that is picked by
# flow hash only on the qdisc path (--qdisc-path): trafgen's default bypass
# picks the TX queue from the sending CPU, so one trafgen process would feed
# one queue.
cat >"$OUT/trafgen.cfg" <<'EOF'
{
  eth(da=02:00:00:00:00:02, sa=02:00:00:00:00:01),
  ipv4(saddr=10.77.0.1, daddr=10.77.0.2, ttl=64),
  udp(sp=dinc(10000, 10255), dp=5000),
  fill(0x41, 18)
}
EOF

cat >"$OUT/tapflow-live.yaml" <<EOF
# Written by perf/run_live_bench.sh: AF_XDP (rings: $([[ "$AFXDP_RING" -gt 0 ]] && echo "$AFXDP_RING" || echo "tapflow's defaults")),
# /metrics on a free port (logged), $WORKERS worker(s), events discarded.
capture:
  source: afxdp
$(if [[ "$AFXDP_RING" -gt 0 ]]; then
  # 2 KiB frames, twice as many as the ring: the fill ring stays full while
  # the RX ring is.
  printf '  afxdp:\n    frame_size: 2048\n    frames: %d\n    rx_ring: %d\n    fill_ring: %d\n' \
    $((AFXDP_RING * 2)) "$AFXDP_RING" "$AFXDP_RING"
fi)
workers:
  count: $WORKERS
metrics:
  listen: "127.0.0.1:0"
EOF

sys_stat() { in_gen cat "/sys/class/net/$DEV_GEN/statistics/$1"; }
# utime+stime of a process in clock ticks (fields 14 and 15 of /proc/PID/stat).
proc_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
# The same for tapflow's capture threads alone (named tf-captureN).
capture_ticks() {
  local t sum=0
  for t in /proc/"$1"/task/*; do
    [[ "$(cat "$t/comm" 2>/dev/null)" == tf-capture* ]] || continue
    sum=$((sum + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$t/stat")))
  done
  echo "$sum"
}
# Machine-wide softirq ticks: the kernel's share (veth NAPI, XDP, the copy
# into the AF_XDP frame or the AF_PACKET ring) is charged here, not to the
# capturing process.
softirq_ticks() { awk '/^cpu /{ print $8; exit }' /proc/stat; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# Sends one phase's traffic; sets OFFERED (sender veth tx_packets delta),
# TG_SENT (what trafgen says it sent) and TG_SECONDS.
send_traffic() {  # rate
  local rate=$1 args=(-o "$DEV_GEN" -c "$OUT/trafgen.cfg" --cpus 1 --qdisc-path --no-sock-mem --notouch-irq --no-cpu-stats) n
  if [[ "$rate" == max ]]; then n=$MAX_PACKETS; else n=$((rate * SECONDS_PER_PHASE)); args+=(-b "${rate}pps"); fi
  local tx0 t0 t1
  tx0=$(sys_stat tx_packets)
  t0=$(date +%s.%N)
  in_gen timeout 60 trafgen "${args[@]}" -n "$n" >"$OUT/trafgen.log" 2>&1 || die "trafgen failed: $(tail -3 "$OUT/trafgen.log")"
  t1=$(date +%s.%N)
  OFFERED=$(($(sys_stat tx_packets) - tx0))
  TG_SENT=$(tr '\r' '\n' <"$OUT/trafgen.log" | awk '/packets outgoing/ { print $1; exit }')
  TG_SECONDS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}

ROWS=()
add_row() {  # tool queues rate offered seconds received ring handoff cpu_ticks capture_ticks softirq_ticks
  local tool=$1 q=$2 rate=$3 offered=$4 secs=$5 recv=$6 ring=$7 handoff=$8 ticks=$9 cticks=${10} sirq=${11}
  ROWS+=("$(awk -v tool="$tool" -v q="$q" -v rate="$rate" -v off="$offered" -v secs="$secs" -v recv="$recv" \
      -v ring="$ring" -v ho="$handoff" -v ticks="$ticks" -v cticks="$cticks" -v sirq="$sirq" -v tick="$TICK_US" 'BEGIN {
    pps = secs > 0 ? off / secs : 0
    delivered = recv - (ho == "-" ? 0 : ho)
    other = off - recv - ring; if (other < 0) other = 0
    loss = off > 0 ? 100 * (off - delivered) / off : 0
    cpu = recv > 0 ? ticks * tick / recv : 0
    ccpu = recv > 0 ? cticks * tick / recv : 0
    ks = off > 0 ? sirq * tick / off : 0
    printf "| %s | %d | %s | %.0f | %d | %d | %d | %s | %d | %.2f | %.2f | %.2f | %.2f |", tool, q, rate, pps, off, recv,
           ring, ho, other, loss, cpu, ccpu, ks }')")
}

# Port /metrics listens on, from tapflow's JSON log line.
metrics_port() { grep -m1 'serving /metrics' "$1" | sed -n 's/.*"port":"\{0,1\}\([0-9]*\).*/\1/p'; }
metric_sum() {  # file regex: sum of every sample whose name matches
  awk -v re="$2" '$1 ~ re { s += $NF } END { printf "%.0f", s }' "$1"
}

phase_tcpdump() {  # queues rate
  local q=$1 rate=$2 err="$OUT/tcpdump.err"
  # Not through in_cap: a backgrounded function is a subshell, and $! would
  # name it rather than tcpdump.
  ip netns exec "$NS_CAP" tcpdump -i "$DEV_CAP" -n -w /dev/null >/dev/null 2>"$err" &
  local pid=$!
  CAPTURE_PID=$pid
  for _ in $(seq 50); do grep -q 'listening on' "$err" && break; sleep 0.1; done
  grep -q 'listening on' "$err" || die "tcpdump did not start: $(cat "$err")"
  local c0 s0 c1 s1
  c0=$(proc_ticks "$pid"); s0=$(softirq_ticks)
  send_traffic "$rate"
  sleep 1  # the ring drains
  c1=$(proc_ticks "$pid"); s1=$(softirq_ticks)
  # SIGTERM, not SIGINT: a background job of a script ignores SIGINT. tcpdump
  # prints the same summary on either.
  kill -TERM "$pid"; wait "$pid" || true
  CAPTURE_PID=""
  local captured dropped
  captured=$(awk '/packets captured/ { print $1 }' "$err")
  dropped=$(awk '/dropped by kernel/ { print $1 }' "$err")
  [[ -n "$captured" && -n "$dropped" ]] || die "no tcpdump summary: $(cat "$err")"
  add_row tcpdump "$q" "$rate" "$OFFERED" "$TG_SECONDS" "$captured" "$dropped" - $((c1 - c0)) $((c1 - c0)) $((s1 - s0))
  log "tcpdump q=$q rate=$rate: offered $OFFERED (trafgen $TG_SENT), captured $captured, dropped by kernel $dropped"
}

phase_tapflow() {  # queues rate
  local q=$1 rate=$2 err="$OUT/tapflow.log" m0="$OUT/metrics.before" m1="$OUT/metrics.after"
  ip netns exec "$NS_CAP" "$TAPFLOW" run -c "$OUT/tapflow-live.yaml" -i "$DEV_CAP" --mode afxdp -o /dev/null 2>"$err" &
  local pid=$!
  CAPTURE_PID=$pid
  local port=""
  for _ in $(seq 100); do
    grep -q 'AF_XDP capture ready' "$err" && port=$(metrics_port "$err") && [[ -n "$port" ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n "$port" ]] || die "tapflow did not start: $(tail -5 "$err")"
  local url="http://127.0.0.1:$port/metrics"
  in_cap curl -sf "$url" >"$m0" || die "cannot scrape $url"
  local c0 s0 c1 s1 k0 k1
  c0=$(proc_ticks "$pid"); k0=$(capture_ticks "$pid"); s0=$(softirq_ticks)
  send_traffic "$rate"
  sleep 1
  c1=$(proc_ticks "$pid"); k1=$(capture_ticks "$pid"); s1=$(softirq_ticks)
  in_cap curl -sf "$url" >"$m1" || die "cannot scrape $url"
  local rc=0
  kill -TERM "$pid"; wait "$pid" || rc=$?
  CAPTURE_PID=""
  [[ $rc -eq 0 ]] || die "tapflow exited with $rc (log: $err)"
  local k='^tapflow_afxdp_kernel_rx_(dropped|ring_full|invalid_descs)_total'
  local recv ring ho
  recv=$(($(metric_sum "$m1" '^tapflow_capture_packets_total') - $(metric_sum "$m0" '^tapflow_capture_packets_total')))
  ring=$(($(metric_sum "$m1" "$k") - $(metric_sum "$m0" "$k")))
  ho=$(($(metric_sum "$m1" '^tapflow_handoff_dropped_total') - $(metric_sum "$m0" '^tapflow_handoff_dropped_total')))
  grep '^tapflow_afxdp_kernel_rx_\|^tapflow_afxdp_info' "$m1" >"$OUT/afxdp-q$q-$rate.metrics" || true
  add_row tapflow-afxdp "$q" "$rate" "$OFFERED" "$TG_SECONDS" "$recv" "$ring" "$ho" $((c1 - c0)) $((k1 - k0)) $((s1 - s0))
  local per_queue
  per_queue=$(sed -n 's/^tapflow_capture_packets_total{capture="[^"]*:\([0-9]*\)"} \([0-9]*\)$/ q\1=\2/p' "$m1" | paste -sd,)
  log "tapflow q=$q rate=$rate: offered $OFFERED (trafgen $TG_SENT), received $recv (since start:$per_queue), ring $ring, hand-off $ho"
}

log "tapflow: $TAPFLOW; rates: $RATES; ${SECONDS_PER_PHASE}s per limited phase, $MAX_PACKETS packets at max"
for q in $QUEUE_SETS; do
  make_veth "$q"
  for rate in $RATES; do
    phase_tcpdump "$q" "$rate"
    phase_tapflow "$q" "$rate"
  done
done

{
  echo "| tool | queues | rate asked | offered pps | offered | received | lost: kernel ring | lost: hand-off | lost: before the socket | loss % | CPU µs/pkt (process) | CPU µs/pkt (capture thread) | softirq µs/pkt (machine) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
} | tee "$OUT/table.md"
echo "(60-byte UDP frames, 256 flows, trafgen --cpus 1; $(nproc) CPUs; tapflow workers=$WORKERS; table also in $OUT/table.md)"
