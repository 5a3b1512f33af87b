#!/usr/bin/python3
"""Integration test of mirror mode (`tapflow run --mode mirror`).

Two namespaces talk through a veth pair; tapflow runs in the server's and
mirrors its end of the pair, plus interfaces matching a pattern. Checked:
- the traffic keeps working while mirrored (curl gets its 200s, UDP and ICMP
  echoes come back) and tapflow sees both directions: its flow records equal
  those `tapflow read` makes from tcpdump's capture of the mirrored interface;
- a filter someone else put after tapflow's on the same hook still sees
  every packet (tapflow's program hands packets on instead of ending the list);
- an interface created after the start is mirrored within the rescan
  interval, and forgotten when it is deleted;
- after SIGTERM no tapflow filter, no clsact qdisc tapflow created and no
  tapflow veth remain, while a foreign clsact and its filter stay;
- after SIGKILL the leftover pair and filters are there, and the next start
  replaces them and cleans everything up when it exits.

The far end is captured with AF_PACKET (one and two sockets) and, in a last
run, with AF_XDP.

Usage: test_mirror.py TAPFLOW
"""

import os
import re
import signal
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import live_run  # noqa: E402
import traffic  # noqa: E402

USAGE = __doc__.strip().splitlines()[-1]
VETH = "tfm0"
RESCAN_MS = 400
# Frames sent into extra veths inside the server namespace: private addresses
# that only ever exist in these frames.
EXTRA_SRC, EXTRA_DST = "10.77.1.1", "10.77.1.2"

CONFIG = """
capture:
  mirror:
    veth_name: {veth}
    rescan_interval: {rescan}ms
    capture: {capture}
  afpacket:
    threads: {threads}
    block_size: 128KiB     # 4 MiB of ring: a 1 MiB download fits even when the
    block_count: 32        # capture thread waits for a busy CPU
    block_timeout: 10ms
workers:
  count: 2
metrics:
  listen: 127.0.0.1:0
"""


def tc(tb, *args):
    return tb.ns_run(tb.server_ns, ["tc"] + list(args), check=False).stdout


def links(tb):
    out = tb.ns_run(tb.server_ns, ["ip", "-o", "link", "show"]).stdout
    return set(re.findall(r"^\d+: ([^:@]+)[@:]", out, re.M))


def tapflow_filters(tb, dev):
    """tapflow's filters on both hooks of `dev`, as `tc filter show` lists them."""
    found = []
    for hook in ("ingress", "egress"):
        out = tc(tb, "filter", "show", "dev", dev, hook)
        found += ["%s: %s" % (hook, line.strip()) for line in out.splitlines() if "tapflow_mirror" in line]
    return found


def has_clsact(tb, dev):
    return "qdisc clsact" in tc(tb, "qdisc", "show", "dev", dev)


def add_veth(tb, a, b):
    tb.ns_run(tb.server_ns, ["ip", "link", "add", a, "type", "veth", "peer", "name", b])
    for dev in (a, b):
        tb.ns_run(tb.server_ns, ["sysctl", "-q", "-w", "net.ipv6.conf.%s.disable_ipv6=1" % dev])
        tb.ns_run(tb.server_ns, ["ip", "link", "set", dev, "up"])


def send_frames(tb, iface, sport, count):
    tb.ns_run(tb.server_ns, [traffic.PYTHON, os.path.abspath(__file__), "send-frames", iface, str(sport), str(count)])


def tool_send_frames(iface, sport, count):
    """UDP/IPv4 frames out of `iface` (a raw packet socket, no routing involved)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    payload = b"tapflow mirror test"
    udp = struct.pack("!HHHH", sport, 9, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     socket.inet_aton(EXTRA_SRC), socket.inet_aton(EXTRA_DST))
    ip = ip[:10] + struct.pack("!H", traffic._checksum(ip)) + ip[12:]
    frame = b"\x02\x00\x00\x77\x01\x02" + b"\x02\x00\x00\x77\x01\x01" + b"\x08\x00" + ip + udp
    for _ in range(count):
        sock.send(frame)


def extra_flow(events, sport):
    """(packets, bytes) tapflow reported for the frames sent with source port `sport`."""
    got = [0, 0]
    for ev in events:
        if ev.get("type") == "flow" and ev["source"]["ip"] == EXTRA_SRC and ev["source"].get("port") == sport:
            got[0] += ev["network"]["packets"]
            got[1] += ev["network"]["bytes"]
    return tuple(got)


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def make_traffic(tb):
    """Raises when an answer does not come back: the mirrored link must keep working."""
    base4, base6 = "http://%s" % traffic.SERVER_V4, "http://[%s]" % traffic.SERVER_V6
    traffic._curl(tb, [base4 + "/", base4 + "/index.html", base4 + "/missing"], ["200", "200", "404"])
    # Paced: the check below wants no clone lost, and an unpaced 1 MiB burst
    # can overrun the veth's backlog on a loaded 2-core machine (seen once).
    traffic._curl(tb, [base4 + "/big.bin"], ["200"], limit_rate="8M")
    traffic._curl(tb, [base6 + "/"], ["200"])
    for dst in (traffic.SERVER_V4, traffic.SERVER_V6):
        tb.ns_run(tb.client_ns, [traffic.PYTHON, traffic.THIS_FILE, "udp-send", dst, "7777", "300", "3"])
        tb.ns_run(tb.client_ns, [traffic.PYTHON, traffic.THIS_FILE, "udp-send", dst, "7777", "4000", "2"])
        tb.ns_run(tb.client_ns, [traffic.PYTHON, traffic.THIS_FILE, "ping", dst, "56", "2"])


def start_tapflow(tb, tapflow, interfaces, tag, threads=1, capture="afpacket"):
    cfg = live_run.write_config(os.path.join(tb.workdir, "tapflow-%s.yaml" % tag),
                                CONFIG.format(veth=VETH, rescan=RESCAN_MS, threads=threads, capture=capture))
    args = ["-c", cfg, "--mode", "mirror"]
    for i in interfaces:
        args += ["-i", i]
    return live_run.LiveTapflow(tb, tb.server_ns, tapflow, args, os.path.join(tb.workdir, "live-%s.jsonl" % tag))


def gauge(m, family):
    return live_run.metric_sum(m, family, veth=VETH)


def check_mirrored_traffic(chk, name, tb, tapflow, live, tag):
    """Traffic while mirrored; returns the metrics read after it."""
    pcap = os.path.join(tb.workdir, "wire-%s.pcap" % tag)
    cap = tb.capture(pcap)
    try:
        make_traffic(tb)
        ok = True
    except RuntimeError as exc:
        ok = False
        chk.check("%s: traffic keeps working while mirrored" % name, False, str(exc))
    time.sleep(0.5)
    cap.stop()
    if ok:
        chk.check("%s: traffic keeps working while mirrored (HTTP 200s, UDP and ICMP echoes)" % name, True)
    time.sleep(0.3)
    return pcap


def check_no_loss(chk, name, m):
    """Nowhere between the tc program and the workers was a clone lost."""
    losses = {
        "clone_failed": live_run.metric_sum(m, "tapflow_mirror_program_packets_total", action="clone_failed"),
        "veth_dropped": live_run.metric_sum(m, "tapflow_mirror_veth_dropped_total"),
        "afpacket ring": live_run.metric_sum(m, "tapflow_afpacket_dropped_total"),
        "afxdp socket": live_run.metric_sum(m, "tapflow_afxdp_kernel_rx_dropped_total"),
        "xdp redirect": live_run.metric_sum(m, "tapflow_xdp_packets_total", action="redirect_failed"),
        "handoff": live_run.metric_sum(m, "tapflow_handoff_dropped_total"),
    }
    chk.check("%s: no clone lost: tc program, veth, ring, hand-off" % name, not any(losses.values()), str(losses))
    chk.check("%s: tapflow_mirror_veth_dropped_total is exposed" % name,
              ("tapflow_mirror_veth_dropped_total", frozenset({("veth", VETH)})) in m)


def main_case(chk, tapflow):
    name = "mirror"
    with traffic.Testbed(tag="mi") as tb:
        live_run.start_servers(tb)
        # An interface that already has a clsact qdisc and someone else's filter.
        # (This kernel has act_mirred but not act_gact: the foreign filter
        # mirrors into a spare veth, and its action counts what it saw.)
        add_veth(tb, "tfx0", "tfx1")
        add_veth(tb, "tfy0", "tfy1")
        tc(tb, "qdisc", "add", "dev", "tfx0", "clsact")
        tb.ns_run(tb.server_ns, ["tc", "filter", "add", "dev", "tfx0", "ingress", "pref", "100", "protocol", "all",
                                 "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "mirror", "dev",
                                 "tfy0"])
        live = start_tapflow(tb, tapflow, [tb.server_if, "tfx0", "tfnew*"], "main")
        if not chk.check("%s: tapflow starts" % name, live.wait_started(), live.stderr_text()[-2000:]):
            return
        chk.check("%s: tapflow's veth pair exists while running" % name, {VETH, VETH + "c"} <= links(tb))
        chk.equal("%s: filters on ingress and egress of the mirrored interface" % name,
                  len(tapflow_filters(tb, tb.server_if)), 2)
        chk.check("%s: tapflow created the clsact qdisc it needed" % name, has_clsact(tb, tb.server_if))

        pcap = check_mirrored_traffic(chk, name, tb, tapflow, live, "main")

        # Frames into tfx0: mirrored, and the foreign filter after tapflow's still sees them.
        send_frames(tb, "tfx1", 40001, 5)
        foreign = tc(tb, "-s", "filter", "show", "dev", "tfx0", "ingress")
        m = re.search(r"Sent \d+ bytes (\d+) pkt", foreign)
        chk.check("%s: the foreign filter after tapflow's on the same hook still sees the packets" % name,
                  m is not None and int(m.group(1)) >= 5, foreign)

        # An interface that appears after the start, matching tfnew*.
        add_veth(tb, "tfnew0", "tfz0")
        picked = wait_until(lambda: len(tapflow_filters(tb, "tfnew0")) == 2, 10 * RESCAN_MS / 1000.0)
        chk.check("%s: an interface created after the start is mirrored within the rescan interval" % name, picked,
                  str(tapflow_filters(tb, "tfnew0")))
        chk.check("%s: tapflow's own veth pair is never mirrored" % name,
                  not tapflow_filters(tb, VETH) and not tapflow_filters(tb, VETH + "c"))
        send_frames(tb, "tfz0", 40002, 3)
        time.sleep(0.3)
        m1 = live.metrics()
        chk.equal("%s: tapflow_mirror_interfaces counts the three mirrored interfaces" % name,
                  gauge(m1, "tapflow_mirror_interfaces"), 3)
        chk.check("%s: the tc program cloned packets and none failed" % name,
                  live_run.metric_sum(m1, "tapflow_mirror_program_packets_total", action="cloned") > 0 and
                  live_run.metric_sum(m1, "tapflow_mirror_program_packets_total", action="clone_failed") == 0)
        tb.ns_run(tb.server_ns, ["ip", "link", "del", "tfnew0"])
        forgotten = wait_until(lambda: gauge(live.metrics(), "tapflow_mirror_interfaces") == 2,
                               10 * RESCAN_MS / 1000.0)
        chk.check("%s: a deleted interface is forgotten at the next rescan" % name, forgotten)
        m2 = live.metrics()
        chk.equal("%s: tapflow_mirror_vanished_total counts it" % name,
                  gauge(m2, "tapflow_mirror_vanished_total"), 1)
        chk.equal("%s: no attach failure" % name, gauge(m2, "tapflow_mirror_attach_failures_total"), 0)

        check_no_loss(chk, name, m2)
        rc = live.stop()
        chk.equal("%s: SIGTERM stops tapflow with exit code 0" % name, rc, 0)
        events = live.events()
        live_flows = live_run.flows_between_test_ips(events)
        offline = live_run.flows_between_test_ips(
            live_run.read_pcap(tapflow, pcap, os.path.join(tb.workdir, "read-main.jsonl")))
        live_run.compare_flows(chk, name, live_flows, offline)
        chk.check("%s: both directions of every flow are seen" % name,
                  all(len(f["ends"]) == 2 and all(p > 0 for p, _ in f["ends"].values())
                      for f in live_flows.values() if f["transport"] in ("tcp", "udp")),
                  str([live_run.describe(f) for f in live_flows.values()]))
        chk.equal("%s: frames into a pre-existing interface are captured" % name, extra_flow(events, 40001)[0], 5)
        chk.equal("%s: frames into the interface that appeared later are captured" % name,
                  extra_flow(events, 40002)[0], 3)

        # Clean-up.
        chk.check("%s: no tapflow filter remains after exit" % name,
                  not tapflow_filters(tb, tb.server_if) and not tapflow_filters(tb, "tfx0"),
                  str(tapflow_filters(tb, tb.server_if) + tapflow_filters(tb, "tfx0")))
        chk.check("%s: the clsact qdisc tapflow created is removed" % name, not has_clsact(tb, tb.server_if),
                  tc(tb, "qdisc", "show", "dev", tb.server_if))
        chk.check("%s: a clsact qdisc someone else made stays, with their filter" % name,
                  has_clsact(tb, "tfx0") and "pref 100" in tc(tb, "filter", "show", "dev", "tfx0", "ingress"))
        chk.check("%s: tapflow's veth pair is deleted" % name, not ({VETH, VETH + "c"} & links(tb)), str(links(tb)))


def leftover_case(chk, tapflow):
    name = "mirror after SIGKILL"
    with traffic.Testbed(tag="mk") as tb:
        live_run.start_servers(tb)
        first = start_tapflow(tb, tapflow, [tb.server_if], "killed")
        if not chk.check("%s: first tapflow starts" % name, first.wait_started(), first.stderr_text()[-2000:]):
            return
        first.stop(signal.SIGKILL)
        chk.check("%s: the killed run left its veth pair" % name, {VETH, VETH + "c"} <= links(tb))
        chk.equal("%s: the killed run left its filters" % name, len(tapflow_filters(tb, tb.server_if)), 2)
        try:
            traffic._curl(tb, ["http://%s/" % traffic.SERVER_V4], ["200"])
            chk.check("%s: leftover filters do not disturb the traffic" % name, True)
        except RuntimeError as exc:
            chk.check("%s: leftover filters do not disturb the traffic" % name, False, str(exc))

        second = start_tapflow(tb, tapflow, [tb.server_if], "second", threads=2)
        if not chk.check("%s: the next start replaces the leftovers" % name, second.wait_started(),
                         second.stderr_text()[-2000:]):
            return
        chk.equal("%s: one tapflow filter per hook after the restart" % name,
                  len(tapflow_filters(tb, tb.server_if)), 2)
        pcap = check_mirrored_traffic(chk, name, tb, tapflow, second, "second")
        check_no_loss(chk, name, second.metrics())
        rc = second.stop()
        chk.equal("%s: SIGTERM stops the second run with exit code 0" % name, rc, 0)
        live_flows = live_run.flows_between_test_ips(second.events())
        offline = live_run.flows_between_test_ips(
            live_run.read_pcap(tapflow, pcap, os.path.join(tb.workdir, "read-second.jsonl")))
        live_run.compare_flows(chk, name + " (2 AF_PACKET sockets)", live_flows, offline)
        chk.check("%s: no tapflow filter remains" % name, not tapflow_filters(tb, tb.server_if),
                  str(tapflow_filters(tb, tb.server_if)))
        chk.check("%s: the clsact the killed run created is removed too" % name, not has_clsact(tb, tb.server_if),
                  tc(tb, "qdisc", "show", "dev", tb.server_if))
        chk.check("%s: no tapflow veth remains" % name, not ({VETH, VETH + "c"} & links(tb)), str(links(tb)))


def afxdp_case(chk, tapflow):
    """The veth's far end captured with AF_XDP (native XDP on the veth, copy mode)."""
    name = "mirror captured with AF_XDP"
    with traffic.Testbed(tag="mx") as tb:
        live_run.start_servers(tb)
        live = start_tapflow(tb, tapflow, [tb.server_if], "afxdp", capture="afxdp")
        if not chk.check("%s: tapflow starts" % name, live.wait_started(), live.stderr_text()[-2000:]):
            return
        chk.check("%s: the capture runs on the veth's far end" % name,
                  live_run.metric_sum(live.metrics(), "tapflow_afxdp_info", interface=VETH + "c") == 1)
        pcap = check_mirrored_traffic(chk, name, tb, tapflow, live, "afxdp")
        check_no_loss(chk, name, live.metrics())
        rc = live.stop()
        chk.equal("%s: SIGTERM stops tapflow with exit code 0" % name, rc, 0)
        live_flows = live_run.flows_between_test_ips(live.events())
        offline = live_run.flows_between_test_ips(
            live_run.read_pcap(tapflow, pcap, os.path.join(tb.workdir, "read-afxdp.jsonl")))
        live_run.compare_flows(chk, name, live_flows, offline)
        chk.check("%s: no filter, no clsact and no veth remain" % name,
                  not tapflow_filters(tb, tb.server_if) and not has_clsact(tb, tb.server_if) and
                  not ({VETH, VETH + "c"} & links(tb)))


def setup_errors(chk, tapflow):
    with traffic.Testbed(tag="me") as tb:
        out = os.path.join(tb.workdir, "none.jsonl")
        run = tb.ns_run(tb.server_ns, [tapflow, "run", "--mode", "mirror", "-i", "tfnosuch0", "-o", out],
                        check=False, timeout=30)
        chk.check("mirror of a missing interface exits 2 naming it",
                  run.returncode == 2 and "tfnosuch0" in run.stderr, "exit %d: %s" % (run.returncode, run.stderr))
        run = tb.ns_run(tb.server_ns, ["setpriv", "--bounding-set=-net_admin", tapflow, "run", "--mode", "mirror",
                                       "-i", tb.server_if, "-o", out], check=False, timeout=30)
        chk.check("mirror without CAP_NET_ADMIN exits 2 naming it",
                  run.returncode == 2 and "CAP_NET_ADMIN" in run.stderr,
                  "exit %d: %s" % (run.returncode, run.stderr))
        chk.check("a refused start leaves no veth pair and no filter",
                  not ({"tapflow0", "tapflow0c"} & links(tb)) and not tapflow_filters(tb, tb.server_if))


def main(argv):
    if len(argv) > 1 and argv[1] == "send-frames":
        tool_send_frames(argv[2], int(argv[3]), int(argv[4]))
        return 0
    if len(argv) != 2:
        sys.exit(USAGE)
    tapflow = os.path.abspath(argv[1])
    if os.geteuid() != 0:
        sys.exit("needs root: network namespaces, tc, veth pairs")
    chk = harness.Checker("mirror")
    main_case(chk, tapflow)
    leftover_case(chk, tapflow)
    afxdp_case(chk, tapflow)
    setup_errors(chk, tapflow)
    return chk.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
