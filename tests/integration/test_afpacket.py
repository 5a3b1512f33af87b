#!/usr/bin/python3
"""Integration test of the AF_PACKET source (`tapflow run --mode afpacket`).

Two namespaces joined by a two-queue veth pair; tapflow captures the server's
end while tcpdump captures it too. Real traffic (curl against nginx over IPv4
and IPv6, UDP echoes of small and fragmented datagrams, ICMP echo) crosses the
link. With one socket, and with two sockets in a hash fanout group, the flow
records tapflow reports live equal those `tapflow read` makes from tcpdump's
capture: same flows, same packets and bytes per direction, same TCP flags,
same kernel timestamps; every packet the kernel passed is processed once and
none is dropped. A ring too small for a burst drops, and every drop is
counted. A missing interface or CAP_NET_RAW exits 2 naming it.

Usage: test_afpacket.py TAPFLOW [--keep DIR]
"""

import os
import shutil
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import live_run  # noqa: E402
import traffic  # noqa: E402

USAGE = __doc__.strip().splitlines()[-1]

CONFIG = """
capture:
  afpacket:
    threads: {threads}
    block_size: {block_size}
    block_count: {block_count}
    block_timeout: 10ms
    fanout: {fanout}
workers:
  count: 2
metrics:
  listen: 127.0.0.1:0
"""


def make_traffic(tb):
    """curl (keep-alive, separate connections, 1 MiB body, IPv6), UDP echoes
    (small, and 5000 bytes: fragments both ways), ICMP echo."""
    base4, base6 = "http://%s" % traffic.SERVER_V4, "http://[%s]" % traffic.SERVER_V6
    traffic._curl(tb, [base4 + "/", base4 + "/index.html", base4 + "/missing"], ["200", "200", "404"])
    traffic._curl(tb, [base4 + "/big.bin"], ["200"])
    traffic._curl(tb, [base6 + "/", base6 + "/missing"], ["200", "404"])
    for dst in (traffic.SERVER_V4, traffic.SERVER_V6):
        tb.ns_run(tb.client_ns, [traffic.PYTHON, traffic.THIS_FILE, "udp-send", dst, "7777", "200", "4"])
        tb.ns_run(tb.client_ns, [traffic.PYTHON, traffic.THIS_FILE, "udp-send", dst, "7777", "5000", "2"])
        tb.ns_run(tb.client_ns, [traffic.PYTHON, traffic.THIS_FILE, "ping", dst, "56", "2"])


def exact_case(chk, tapflow, threads, fanout, keep):
    name = "afpacket %d socket%s (%s)" % (threads, "s" if threads > 1 else "", fanout)
    with traffic.Testbed(tag="ap", queues=2) as tb:
        live_run.start_servers(tb)
        # 4 MiB of ring per socket: a 1 MiB download fits even when the
        # capture thread waits for a busy CPU.
        cfg = live_run.write_config(os.path.join(tb.workdir, "tapflow.yaml"), CONFIG.format(
            threads=threads, fanout=fanout, block_size="128KiB", block_count=32))
        live = live_run.LiveTapflow(tb, tb.server_ns, tapflow,
                                    ["-c", cfg, "--mode", "afpacket", "-i", tb.server_if],
                                    os.path.join(tb.workdir, "live.jsonl"))
        if not chk.check("%s: tapflow starts" % name, live.wait_started(), live.stderr_text()[-2000:]):
            return
        pcap = os.path.join(tb.workdir, "wire.pcap")
        cap = tb.capture(pcap)
        make_traffic(tb)
        time.sleep(0.5)
        cap.stop()
        # The capture thread reads the kernel's ring statistics once a second.
        time.sleep(1.5)
        m = live.metrics()
        rc = live.stop()
        chk.equal("%s: SIGTERM stops tapflow with exit code 0" % name, rc, 0)

        live_flows = live_run.flows_between_test_ips(live.events())
        offline = live_run.flows_between_test_ips(
            live_run.read_pcap(tapflow, pcap, os.path.join(tb.workdir, "read.jsonl")))
        live_run.compare_flows(chk, name, live_flows, offline, times=True)
        chk.check("%s: both directions of every TCP flow seen" % name,
                  all(len(f["ends"]) == 2 and all(p > 0 for p, _ in f["ends"].values())
                      for f in live_flows.values() if f["transport"] == "tcp"))

        sockets = live_run.metric_values(m, "tapflow_afpacket_kernel_packets_total")
        chk.equal("%s: one socket per thread in /metrics" % name,
                  sorted(dict(ls)["socket"] for ls in sockets), [str(i) for i in range(threads)])
        captured = live_run.metric_sum(m, "tapflow_capture_packets_total")
        kernel = live_run.metric_sum(m, "tapflow_afpacket_kernel_packets_total")
        drops = live_run.metric_sum(m, "tapflow_afpacket_dropped_total")
        chk.check("%s: every packet the kernel passed was processed once (%d)" % (name, kernel),
                  kernel == captured and captured >= live_run.packets_in(offline),
                  "kernel %d, captured %d, test flows %d" % (kernel, captured, live_run.packets_in(offline)))
        chk.equal("%s: no ring drop, no bad frame" % name, drops, 0)
        chk.equal("%s: no hand-off drop" % name, live_run.metric_sum(m, "tapflow_handoff_dropped_total"), 0)
        if keep:
            shutil.copy(pcap, os.path.join(keep, "afpacket-%d.pcap" % threads))


def blast(dst, port, count, size):
    """Runs inside the client namespace: `count` UDP datagrams as fast as the socket takes them."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = b"x" * size
    for _ in range(count):
        sock.sendto(payload, (dst, port))


def overload_case(chk, tapflow):
    """Two 4 KiB blocks hold a handful of frames: a burst sent while tapflow is
    stopped (SIGSTOP) overflows them. Stopped, because a fast enough machine
    keeps up with any burst a Python sender makes, and the test must not depend
    on the machine's speed."""
    name = "afpacket small ring"
    with traffic.Testbed(tag="ao") as tb:
        time.sleep(1.0)
        cfg = live_run.write_config(os.path.join(tb.workdir, "tapflow.yaml"), CONFIG.format(
            threads=1, fanout="hash", block_size="4KiB", block_count=2))
        live = live_run.LiveTapflow(tb, tb.server_ns, tapflow,
                                    ["-c", cfg, "--mode", "afpacket", "-i", tb.server_if],
                                    os.path.join(tb.workdir, "live.jsonl"))
        if not chk.check("%s: tapflow starts" % name, live.wait_started(), live.stderr_text()[-2000:]):
            return
        sent = 2000
        # `ip netns exec` execs tapflow: the process we started is tapflow itself.
        os.kill(live.proc.pid, signal.SIGSTOP)
        try:
            tb.ns_run(tb.client_ns, [traffic.PYTHON, os.path.abspath(__file__), "blast", traffic.SERVER_V4, "9",
                                     str(sent), "1200"], timeout=60)
        finally:
            os.kill(live.proc.pid, signal.SIGCONT)
        time.sleep(1.5)
        m = live.metrics()
        live.stop()
        captured = live_run.metric_sum(m, "tapflow_capture_packets_total")
        kernel = live_run.metric_sum(m, "tapflow_afpacket_kernel_packets_total")
        drops = live_run.metric_sum(m, "tapflow_afpacket_dropped_total", reason="ring_full")
        chk.check("%s: the kernel dropped part of a %d-datagram burst, counted" % (name, sent), drops > 0,
                  "captured %d, kernel %d, drops %d" % (captured, kernel, drops))
        chk.check("%s: kernel packets = captured + dropped (%d = %d + %d)" % (name, kernel, captured, drops),
                  kernel == captured + drops and kernel >= sent)


def setup_errors(chk, tapflow):
    with traffic.Testbed(tag="ae") as tb:
        events = os.path.join(tb.workdir, "none.jsonl")
        run = tb.ns_run(tb.server_ns, [tapflow, "run", "--mode", "afpacket", "-i", "tfnosuch0", "-o", events],
                        check=False, timeout=30)
        chk.check("a missing interface exits 2 naming it", run.returncode == 2 and "tfnosuch0" in run.stderr,
                  "exit %d: %s" % (run.returncode, run.stderr[-500:]))
        # Root without CAP_NET_RAW in its bounding set: execve leaves it out.
        run = tb.ns_run(tb.server_ns, ["setpriv", "--bounding-set=-net_raw", tapflow, "run", "--mode",
                                       "afpacket", "-i", tb.server_if, "-o", events], check=False, timeout=30)
        chk.check("without CAP_NET_RAW tapflow exits 2 naming it",
                  run.returncode == 2 and "CAP_NET_RAW" in run.stderr,
                  "exit %d: %s" % (run.returncode, run.stderr[-500:]))


def main(argv):
    if len(argv) > 1 and argv[1] == "blast":
        blast(argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
        return 0
    (tapflow,), keep = harness.live_test_args(argv, 1, USAGE, "network namespaces, AF_PACKET sockets")
    chk = harness.Checker("afpacket")
    exact_case(chk, tapflow, 1, "hash", keep)
    exact_case(chk, tapflow, 2, "hash", keep)
    overload_case(chk, tapflow)
    setup_errors(chk, tapflow)
    return chk.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
