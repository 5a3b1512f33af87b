#!/usr/bin/python3
"""DPDK capture (`capture.source: dpdk`) against the pcap path, without hugepages.

1. net_pcap: every Ethernet pcap the other integration tests use (real
   traffic from traffic.py, the exact scapy fixtures, config/demo.pcap) plus
   jumbo frames that arrive as chained mbufs, read by DPDK as two RX queues per
   port, give the same flows as `tapflow read` on each file: per direction of
   every 5-tuple, the same packets and bytes. Packet times differ (DPDK stamps
   each burst with the wall clock), so records split by timeouts are compared
   by their sums. Port counters and xstats equal the files' packet counts.
2. Live: curl against nginx between two namespaces, the server's veth mirrored
   with tc into a veth pair whose far end DPDK captures: with net_af_xdp, with
   net_af_packet on two queues (kernel fanout), and through the command line's
   `tapflow run --mode dpdk -i IF`. Each time the flows and records equal
   those of `tapflow read` on tcpdump's capture of the same link, and DPDK
   counted every packet once. No XDP program is left afterwards.
3. Set-up errors exit 2 with one message naming the problem, and DPDK's
   runtime directory (/var/run/dpdk/PREFIX) is removed after every run,
   stale ones of crashed runs too.

Usage: test_dpdk.py TAPFLOW [--keep DIR]   (as root)
"""

import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import make_fixtures  # noqa: E402
import traffic  # noqa: E402

from scapy.all import IP, TCP, UDP, Ether, IPv6, rdpcap, wrpcap  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "config", "demo.pcap")
RUNTIME_BASE = "/var/run/dpdk"
EAL_BASE = ["--no-huge", "-m", "512", "--no-pci"]
REAL_SCENARIOS = ["http", "http6", "dns", "sip", "icmp_frag"]

check = None  # the harness.Checker
made_dirs = []  # removed at the end, whatever happened


# -- running tapflow as a daemon ----------------------------------------------

class Tapflow:
    """`tapflow run` in the background; its JSON log lines are collected as they come."""

    def __init__(self, tapflow, args):
        self.proc = subprocess.Popen([tapflow, "run"] + args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.metrics_port = None

    def _read(self):
        for line in self.proc.stderr:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def log(self):
        with self._lock:
            return list(self.lines)

    def wait_log(self, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log():
                if re.search(pattern, line):
                    return line
            if self.proc.poll() is not None:
                self._reader.join(timeout=2)
                for line in self.log():
                    if re.search(pattern, line):
                        return line
                return None
            time.sleep(0.05)
        return None

    def wait_started(self):
        """True once capture runs; remembers the /metrics port."""
        serving = self.wait_log(r'"msg":"serving /metrics')
        if serving is None or self.wait_log(r'"msg":"capture started"') is None:
            return False
        self.metrics_port = int(json.loads(serving)["port"])
        return True

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port, timeout=5) as r:
            return parse_metrics(r.read().decode())

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            rc = self.proc.wait()
        self._reader.join(timeout=5)
        return rc


def parse_metrics(text):
    """{(family, frozenset(labels)): value} from the Prometheus text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^(\w+)(?:\{(.*)\})? (\S+)$', line)
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def metric_sum(metrics, family, **want):
    return sum(v for (f, labels), v in metrics.items()
               if f == family and all((k, str(w)) in labels for k, w in want.items()))


def wait_for_packets(run, expected, timeout=60):
    """Polls /metrics until the capture threads counted `expected` packets and
    the count stayed put for a second (a later packet would show up). Returns the metrics."""
    deadline = time.monotonic() + timeout
    metrics, last, steady_since = {}, None, None
    while time.monotonic() < deadline and run.proc.poll() is None:
        metrics = run.metrics()
        got = metric_sum(metrics, "tapflow_capture_packets_total")
        if got != last:
            last, steady_since = got, time.monotonic()
        elif got >= expected and time.monotonic() - steady_since >= 1.0:
            break
        time.sleep(0.2)
    # Port counters are copied once a second on the capture threads.
    time.sleep(1.2)
    return run.metrics() if run.proc.poll() is None else metrics


# Live runs: a worker that loses the CPU for a while to the other jobs of a
# shared 2-core machine must not make the hand-off drop (a live source drops
# rather than wait). Many small batches instead of the default 64 large ones.
LIVE_WORKERS = "  queue_batches: 2048\n  batch_packets: 16\n  batch_bytes: 16384\n"
LIVE_CAPTURE = "  snaplen: 2048\n"


def write_config(path, eal_args, events, dpdk="", capture="", workers=""):
    with open(path, "w") as f:
        f.write("capture:\n  source: dpdk\n%s  dpdk:\n" % capture)
        if eal_args is not None:
            f.write("    eal_args: %s\n" % json.dumps(eal_args))
        f.write(dpdk)
        f.write("workers:\n  count: 2\n%s" % workers)
        if events is not None:
            f.write("outputs:\n  - type: jsonl\n    path: %s\n" % events)
        f.write("metrics:\n  listen: 127.0.0.1:0\n")


# -- flows --------------------------------------------------------------------

def read_events(path):
    events = []
    with open(path) as f:
        for line in f:
            if line.strip():
                events.append(json.loads(line))
    return [e for e in events if e.get("type") == "flow"]


def endpoint(e, side):
    return e[side]["ip"], e[side].get("port")


def flow_key(e):
    vlan = e["network"].get("vlan", {}).get("id")
    a, b = sorted([endpoint(e, "source"), endpoint(e, "destination")], key=repr)
    return e["network"]["iana_number"], vlan, a, b


def directed_totals(events):
    """(protocol, vlan, from, to) -> [packets, bytes], summed over every record:
    invariant under how records were split (timeouts) and who was called client."""
    totals = collections.defaultdict(lambda: [0, 0])
    for e in events:
        proto = e["network"]["iana_number"]
        vlan = e["network"].get("vlan", {}).get("id")
        src, dst = endpoint(e, "source"), endpoint(e, "destination")
        for a, b, side in ((src, dst, "source"), (dst, src, "destination")):
            if e[side]["packets"]:
                t = totals[(proto, vlan, a, b)]
                t[0] += e[side]["packets"]
                t[1] += e[side]["bytes"]
    return {k: tuple(v) for k, v in totals.items()}


def record_counts(events):
    return dict(collections.Counter(flow_key(e) for e in events))


def compare(name, got, want, context=""):
    """One check; on failure lists up to ten differing keys (and `context`)."""
    if got == want:
        return check.check(name, True)
    diffs = []
    for k in sorted(set(got) | set(want), key=repr):
        if got.get(k) != want.get(k):
            diffs.append("%r: dpdk %r, pcap path %r" % (k, got.get(k), want.get(k)))
    return check.check(name, False, "%d keys differ (of %d / %d); %s%s" % (len(diffs), len(got), len(want),
                                                                           "; ".join(diffs[:10]), context))


def read_reference(tapflow, pcaps):
    """`tapflow read` on each file; the flow events of all of them."""
    events = []
    for path in pcaps:
        run = harness.run_tapflow(tapflow, ["read", path])
        if run.returncode != 0:
            check.check("tapflow read %s" % os.path.basename(path), False, run.stderr[-500:])
            continue
        events += [e for e in run.events if e.get("type") == "flow"]
    return events


def frame_count(path):
    return len(rdpcap(path))


# -- DPDK's runtime directory -----------------------------------------------------

def runtime_dir(prefix):
    return os.path.join(RUNTIME_BASE, prefix)


def check_runtime_dir_removed(what, prefix):
    path = runtime_dir(prefix)
    ok = not os.path.exists(path)
    check.check("%s: DPDK's runtime directory %s is removed on exit" % (what, path), ok)
    if not ok:
        shutil.rmtree(path, ignore_errors=True)


def dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# -- 1. net_pcap against `tapflow read` ----------------------------------------

def make_jumbo_pcap(path):
    """9000-byte frames: larger than an mbuf, so net_pcap hands them over as chains."""
    cmac, smac = "02:00:00:00:0d:01", "02:00:00:00:0d:02"
    frames = []
    for i in range(4):
        frames.append(Ether(src=cmac, dst=smac) / IP(src="10.66.0.1", dst="10.66.0.2") /
                      UDP(sport=40200, dport=9000) / (bytes([i]) * 8500))
        frames.append(Ether(src=smac, dst=cmac) / IP(src="10.66.0.2", dst="10.66.0.1") /
                      UDP(sport=9000, dport=40200) / (bytes([i + 1]) * (3000 + i)))
    frames.append(Ether(src=cmac, dst=smac) / IPv6(src="fd00:66::1", dst="fd00:66::2") /
                  TCP(sport=40201, dport=80, flags="PA", seq=1, ack=1) / (b"j" * 8900))
    t = 1795780800.0
    for f in frames:
        f.time = t
        t += 0.001
    wrpcap(path, frames)
    return path


def test_net_pcap(tapflow, workdir):
    pcaps = list(traffic.make_real_pcaps(os.path.join(workdir, "real"), REAL_SCENARIOS).values())
    for fx in make_fixtures.make_fixtures(os.path.join(workdir, "fixtures")):
        # net_pcap reads Ethernet only; malformed ("robust") fixtures are cut
        # copies of the others and would mix their fragments across queues.
        if fx.kind == "exact" and fx.linktype == make_fixtures.LINKTYPE_ETHERNET:
            pcaps.append(fx.path)
    pcaps.append(DEMO)
    pcaps.append(make_jumbo_pcap(os.path.join(workdir, "jumbo.pcap")))
    counts = {p: frame_count(p) for p in pcaps}
    total = sum(counts.values())
    print("net_pcap: %d files, %d frames" % (len(pcaps), total), flush=True)

    # Two files per port, one per RX queue: multi-queue ports and several ports.
    empty = os.path.join(workdir, "empty.pcap")
    wrpcap(empty, [])
    if len(pcaps) % 2:
        pcaps.append(empty)
        counts[empty] = 0
    eal = list(EAL_BASE)
    port_frames = []
    for i in range(0, len(pcaps), 2):
        eal += ["--vdev", "net_pcap%d,rx_pcap=%s,rx_pcap=%s" % (i // 2, pcaps[i], pcaps[i + 1])]
        port_frames.append(counts[pcaps[i]] + counts[pcaps[i + 1]])

    # A runtime directory a crashed tapflow left: removed when the next one starts.
    stale = runtime_dir("tapflow-%d" % dead_pid())
    made_dirs.append(stale)
    os.makedirs(stale, exist_ok=True)
    open(os.path.join(stale, "config"), "w").close()

    events = os.path.join(workdir, "net_pcap.jsonl")
    config = os.path.join(workdir, "net_pcap.yaml")
    write_config(config, eal, events,
                 dpdk="    rx_queues: 2\n    rx_descriptors: 256\n    mbufs: 2047\n    mbuf_cache: 64\n")
    run = Tapflow(tapflow, ["-c", config])
    try:
        if not check.check("net_pcap: tapflow run starts DPDK with %d ports" % len(port_frames), run.wait_started(),
                           "\n".join(run.log()[-15:])):
            return
        m = wait_for_packets(run, total)
        prefix_line = run.wait_log(r'"msg":"starting DPDK"')
        prefix = re.search(r"--file-prefix (\S+?)\"", prefix_line).group(1)
    finally:
        rc = run.stop()
    check.equal("net_pcap: SIGTERM stops tapflow with exit code 0", rc, 0)
    check.equal("net_pcap: the capture threads counted every frame of every file",
                metric_sum(m, "tapflow_capture_packets_total"), total)
    check.equal("net_pcap: one capture thread per (port, queue)",
                len([k for k in m if k[0] == "tapflow_capture_packets_total"]), 2 * len(port_frames))
    check.equal("net_pcap: each port's rx_packets counter equals its files' frames",
                [metric_sum(m, "tapflow_dpdk_rx_packets_total", port=p) for p in range(len(port_frames))],
                port_frames)
    check.equal("net_pcap: the xstats rx_good_packets equal them too",
                [metric_sum(m, "tapflow_dpdk_xstats_total", port=p, name="rx_good_packets")
                 for p in range(len(port_frames))], port_frames)
    check.equal("net_pcap: no imissed, rx_nombuf or ierrors",
                [metric_sum(m, "tapflow_dpdk_imissed_total"), metric_sum(m, "tapflow_dpdk_rx_nombuf_total"),
                 metric_sum(m, "tapflow_dpdk_ierrors_total")], [0, 0, 0])
    check.equal("net_pcap: no packet was dropped at the hand-off", metric_sum(m, "tapflow_handoff_dropped_total"), 0)
    check.check("net_pcap: jumbo frames arrived as mbuf chains and were linearised",
                metric_sum(m, "tapflow_dpdk_queue_multi_segment_total") >= 9,
                "multi_segment %r" % metric_sum(m, "tapflow_dpdk_queue_multi_segment_total"))
    check.check("net_pcap: the mbuf pools' free counts are exposed",
                any(k[0] == "tapflow_dpdk_mbufs_available" for k in m))
    check_runtime_dir_removed("net_pcap", prefix)
    check.check("net_pcap: a crashed run's runtime directory (dead pid, unlocked) was replaced",
                not os.path.exists(stale))

    got = read_events(events)
    want = read_reference(tapflow, [p for p in pcaps if p != empty])
    check.check("net_pcap: flow events were written", len(got) > 50, "%d events" % len(got))
    compare("net_pcap: packets and bytes per direction of every flow equal `tapflow read` on the files",
            directed_totals(got), directed_totals(want))


# -- 2. live traffic through a mirror --------------------------------------------

def live_http(tb, pcap, big):
    """curl against nginx, captured by tcpdump on the server's veth: keep-alive
    requests, a 404, IPv6, and with `big` a 1 MiB body at a moderate rate
    (exact counts against tcpdump hold at moderate rates, see TESTBED.md)."""
    base, base6 = "http://%s" % traffic.SERVER_V4, "http://[%s]" % traffic.SERVER_V6
    cap = tb.capture(pcap)
    traffic._curl(tb, [base + "/", base + "/index.html", base + "/missing"], ["200", "200", "404"])
    traffic._curl(tb, [base6 + "/", base6 + "/missing"], ["200", "404"])
    if big:
        out = tb.ns_run(tb.client_ns, ["curl", "-sS", "--max-time", "20", "--limit-rate", "2M", "-o", "/dev/null",
                                       "-w", "%{http_code}", base + "/big.bin"]).stdout
        if out != "200":
            raise RuntimeError("curl big.bin answered %r" % out)
    time.sleep(0.3)
    cap.stop()


class Mirror:
    """A veth pair: one end in the server namespace receives a tc mirror of the
    server's veth (both directions), the other end, in this namespace, is what
    DPDK captures. Deleted with the server namespace, and here explicitly."""

    def __init__(self, tb, tag):
        self.tb = tb
        self.near = ("tfm%s%d" % (tag, os.getpid()))[:15]   # in the server namespace
        self.far = ("tfd%s%d" % (tag, os.getpid()))[:15]    # captured by DPDK
        # No addresses, no IPv6: the pair carries only the mirrored packets.
        traffic.mirror_link(tb.server_ns, tb.server_if, self.near, None, self.far)

    def close(self):
        traffic.run(["ip", "link", "del", self.far], check=False)
        traffic.unmirror(self.tb.server_ns, self.tb.server_if)


def live_run(tapflow, name, args, tb, pcap, big=True):
    """Runs tapflow with `args`, makes the traffic, waits until it saw as many
    packets as tcpdump, stops it. Returns (exit code, metrics, log lines)."""
    run = Tapflow(tapflow, args)
    m, rc = {}, None
    try:
        if not check.check("%s: tapflow run starts DPDK" % name, run.wait_started(), "\n".join(run.log()[-15:])):
            return None, {}, run.log()
        live_http(tb, pcap, big)
        m = wait_for_packets(run, frame_count(pcap), timeout=30)
    finally:
        rc = run.stop()
    return rc, m, run.log()


def is_ipv6_multicast(e):
    return e["destination"]["ip"].startswith("ff")


def compare_live(tapflow, name, pcap, events, m, rc):
    frames = frame_count(pcap)
    check.equal("%s: SIGTERM stops tapflow with exit code 0" % name, rc, 0)
    got = read_events(events)
    # The kernel's MLD reports (to ff02::16) after the test's interfaces came
    # up: tcpdump's filter leaves them out (traffic.Testbed.capture), DPDK,
    # started earlier, may see them. Everything else must match exactly.
    chatter = sum(e["network"]["packets"] for e in got if is_ipv6_multicast(e))
    got = [e for e in got if not is_ipv6_multicast(e)]
    check.equal("%s: DPDK received every packet tcpdump saw on the link, once" % name,
                metric_sum(m, "tapflow_capture_packets_total") - chatter, frames)
    check.equal("%s: the port's rx_packets counter agrees" % name,
                metric_sum(m, "tapflow_dpdk_rx_packets_total") - chatter, frames)
    want = read_reference(tapflow, [pcap])
    check.check("%s: flow events were written" % name, len(got) >= 2, "%d events" % len(got))
    losses = "; counted losses: imissed %d, rx_nombuf %d, hand-off %d" % (
        metric_sum(m, "tapflow_dpdk_imissed_total"), metric_sum(m, "tapflow_dpdk_rx_nombuf_total"),
        metric_sum(m, "tapflow_handoff_dropped_total"))
    compare("%s: packets and bytes per direction of every flow equal `tapflow read` on tcpdump's capture" % name,
            directed_totals(got), directed_totals(want), losses)
    compare("%s: the same flows, with as many records each" % name, record_counts(got), record_counts(want))


def test_live(tapflow, workdir):
    with traffic.Testbed(tag="dk") as tb:
        traffic._start_nginx(tb)
        mirror = Mirror(tb, "m")
        try:
            # net_af_xdp, configured in the file, with a prefix of our own.
            prefix = "tfdpdk-test-%d" % os.getpid()
            pcap = os.path.join(workdir, "afxdp.pcap")
            events = os.path.join(workdir, "afxdp.jsonl")
            config = os.path.join(workdir, "afxdp.yaml")
            write_config(config, EAL_BASE + ["--file-prefix", prefix, "--vdev",
                                             "net_af_xdp0,iface=%s,start_queue=0,queue_count=1" % mirror.far],
                         events, dpdk="    rx_descriptors: 4096\n", capture=LIVE_CAPTURE, workers=LIVE_WORKERS)
            rc, m, log = live_run(tapflow, "net_af_xdp", ["-c", config], tb, pcap)
            if rc is not None:
                check.check("net_af_xdp: the port ran the af_xdp driver",
                            any('"driver":"net_af_xdp"' in line for line in log))
                compare_live(tapflow, "net_af_xdp", pcap, events, m, rc)
            link = traffic.run(["ip", "link", "show", mirror.far]).stdout
            check.check("net_af_xdp: no XDP program is left on %s" % mirror.far, "xdp" not in link, link)
            check_runtime_dir_removed("net_af_xdp", prefix)

            # net_af_packet with two queues, spread by the kernel's fanout hash.
            pcap = os.path.join(workdir, "afpacket.pcap")
            events = os.path.join(workdir, "afpacket.jsonl")
            config = os.path.join(workdir, "afpacket.yaml")
            write_config(config, EAL_BASE + ["--vdev", "net_af_packet0,iface=%s,qpairs=2,framecnt=8192" % mirror.far],
                         events, dpdk="    rx_queues: 2\n", capture=LIVE_CAPTURE, workers=LIVE_WORKERS)
            rc, m, log = live_run(tapflow, "net_af_packet", ["-c", config], tb, pcap)
            if rc is not None:
                check.equal("net_af_packet: two capture threads, one per queue",
                            len([k for k in m if k[0] == "tapflow_capture_packets_total"]), 2)
                compare_live(tapflow, "net_af_packet", pcap, events, m, rc)

            # The command line's short form, `tapflow run --mode dpdk -i IF`.
            pcap = os.path.join(workdir, "cli.pcap")
            events = os.path.join(workdir, "cli.jsonl")
            config = os.path.join(workdir, "cli.yaml")
            write_config(config, None, None, capture=LIVE_CAPTURE, workers=LIVE_WORKERS)
            rc, m, log = live_run(tapflow, "run --mode dpdk -i",
                                  ["-c", config, "--mode", "dpdk", "-i", mirror.far, "-o", events], tb, pcap,
                                  big=False)
            if rc is not None:
                check.check("run --mode dpdk -i: the interface was opened with net_af_packet",
                            any('"driver":"net_af_packet"' in line for line in log))
                compare_live(tapflow, "run --mode dpdk -i", pcap, events, m, rc)
                started = [line for line in log if '"msg":"starting DPDK"' in line]
                auto = re.search(r"--file-prefix (tapflow-\d+)", started[0]) if started else None
                if check.check("run --mode dpdk -i: tapflow chose a file prefix of its own", auto is not None):
                    check_runtime_dir_removed("run --mode dpdk -i", auto.group(1))
        finally:
            mirror.close()


# -- 3. set-up errors -----------------------------------------------------------

def expect_setup_error(tapflow, workdir, name, eal_args, extra, patterns):
    events = os.path.join(workdir, "error.jsonl")
    config = os.path.join(workdir, "error.yaml")
    write_config(config, eal_args, events, dpdk=extra)
    run = harness.run_tapflow(tapflow, ["run", "-c", config], timeout=60)
    check.equal("%s: exits 2" % name, run.returncode, 2)
    errors = [line for line in run.stderr.splitlines() if '"level":"error"' in line and "component" not in line]
    last = errors[-1] if errors else ""
    check.check("%s: one message names the problem" % name,
                len(errors) == 1 and all(re.search(p, last) for p in patterns), run.stderr[-1500:])
    prefix = re.search(r"--file-prefix (\S+?)\"", run.stderr)
    if prefix:
        check_runtime_dir_removed(name, prefix.group(1))


def free_hugepages():
    total = 0
    base = "/sys/kernel/mm/hugepages"
    for d in os.listdir(base) if os.path.isdir(base) else []:
        with open(os.path.join(base, d, "free_hugepages")) as f:
            total += int(f.read())
    return total


def test_errors(tapflow, workdir):
    vdev = ["--vdev", "net_pcap0,rx_pcap=%s" % DEMO]
    expect_setup_error(tapflow, workdir, "a port that does not exist", EAL_BASE + vdev, "    ports: [7]\n",
                       [r"DPDK port 7 \(capture.dpdk.ports\) does not exist", r"0 \(net_pcap0\)"])
    expect_setup_error(tapflow, workdir, "a device DPDK cannot open",
                       EAL_BASE + ["--vdev", "net_pcap0,rx_pcap=%s/missing.pcap" % workdir], "",
                       [r"DPDK found no ports", r"missing\.pcap"])
    expect_setup_error(tapflow, workdir, "an unknown EAL argument", EAL_BASE + ["--frobnicate"] + vdev, "",
                       [r"invalid EAL arguments in capture.dpdk.eal_args"])
    expect_setup_error(tapflow, workdir, "more queues than the device has", EAL_BASE + vdev,
                       "    rx_queues: 4\n", [r"at most 1 RX queue", r"capture.dpdk.rx_queues is 4"])
    if free_hugepages() == 0:
        expect_setup_error(tapflow, workdir, "no hugepages", ["--no-pci"] + vdev, "",
                           [r"hugepages", r"--no-huge -m 256"])
    else:
        print("skip no-hugepages check: this machine has free hugepages")


def main(argv):
    global check
    (tapflow,), keep = harness.live_test_args(argv, 1, "usage: test_dpdk.py TAPFLOW [--keep DIR]",
                                              "DPDK, network namespaces, tc")
    check = harness.Checker("dpdk")
    workdir = keep or tempfile.mkdtemp(prefix="tapflow-dpdk-")
    os.makedirs(workdir, exist_ok=True)
    try:
        test_errors(tapflow, workdir)
        test_net_pcap(tapflow, workdir)
        test_live(tapflow, workdir)
    finally:
        for d in made_dirs:
            shutil.rmtree(d, ignore_errors=True)
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return check.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
