#!/usr/bin/python3
"""Kubernetes in HEP end to end (issue 6): HEP messages carry the node name and,
in tapflow's vendor chunks (vendor 0x7466, type 0x7401 source pod, 0x7402
destination pod, each "namespace/pod"), the pods of both ends.

Network namespaces stand in for the pods test_k8s_enrich.py's fake API server
reports (the client is shop/checkout-..., the server shop/web-0, both
dual-stack; the server namespace also holds node-a's InternalIP, which is a
host-network pod's address, and an address the API does not know). Real SIP
between them, captured by tcpdump:
  - sipp's caller and callee, client pod -> server pod, 2 calls over UDP and
    1 over TCP (the TCP messages come from the reassembled stream);
  - OPTIONS and its 200 (this file's own SIP tools) over IPv6 between the
    pods, from the client pod to the node's address, and from the unknown
    address into the client pod.
`tapflow read` of that capture with kubernetes.enabled (fake_kube_api.py) and
NODE_NAME=node-a sends HEP over UDP to hep_receiver.js (hep-js, with tapflow's
vendor chunks registered), to sngrep, and its JSON events to stdout:
  - hep-js: every SIP message arrives once with every generic chunk as
    test_hep.py expects it (addresses, ports, times, Call-ID, node name "node-a",
    payload bytes), and the source and destination pod chunks exactly the
    namespace/pod of each end that is a pod, no pod chunk for the node's or the
    unknown address, each pod chunk at most once; hep-js's strings are the
    chunk bytes;
  - tshark has no HEP dissector (Wireshark 4.0): a tcpdump of the HEP
    datagrams on loopback is read with tshark (udp.payload), and this test
    walks the chunks of what tshark shows: the same messages, the vendor
    chunks with vendor 0x7466, the payload and ports decoded past them;
  - sngrep, whose HEP parser knows nothing of vendor 0x7466, still takes every
    SIP message (its pcap holds each message's bytes once);
  - the JSON sip events name the same pods as the HEP chunks.
The same capture without kubernetes: the same HEP messages, chunk for chunk,
without any vendor chunk.

Needs root (namespaces), sipp, tcpdump, tshark, sngrep, node and the receiver's
node modules (npm ci --prefix tests/integration/hep).
Usage: test_k8s_hep.py TAPFLOW [--keep DIR]
"""

import base64
import collections
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fake_kube_api as fk  # noqa: E402
import harness  # noqa: E402
import test_hep as th  # noqa: E402  (SIP truth, hep_receiver.js and sngrep helpers)
import test_k8s_enrich as ke  # noqa: E402  (the cluster the fake API server reports)
import traffic  # noqa: E402
from pcapfile import read_pcap  # noqa: E402
from traffic import CLIENT_V4, CLIENT_V6, PYTHON, SERVER_MAC, SERVER_V4, SERVER_V6  # noqa: E402

THIS_FILE = os.path.abspath(__file__)
NODE_NAME = "node-a"
TAPFLOW_VENDOR, SOURCE_POD, DESTINATION_POD = 0x7466, 0x7401, 0x7402
CLIENT_POD = "shop/" + ke.CLIENT_POD
SERVER_POD = "shop/" + ke.SERVER_POD
# What each address is in HEP: its pod, or None (the node's address: a host-network pod's; unknown).
POD_OF = {CLIENT_V4: CLIENT_POD, CLIENT_V6: CLIENT_POD, SERVER_V4: SERVER_POD, SERVER_V6: SERVER_POD,
          ke.NODE_IP: None, ke.UNKNOWN_IP: None}
SIPP_UDP_CALLS, SIPP_TCP_CALLS = 2, 1


def log(msg):
    print(msg, flush=True)


# -- SIP tools that run inside a namespace ----------------------------------------

def _family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def _uri_host(addr):
    return "[%s]" % addr if ":" in addr else addr


def _header(msg, name):
    for line in msg.split(b"\r\n")[1:]:
        if line.lower().startswith(name.lower() + b":"):
            return line
    raise SystemExit("no %s header in %r" % (name, msg[:80]))


def tool_sip_uas(addr, port):
    """Answers every SIP request on addr:port with a 200 OK (prints "ready" once bound)."""
    sock = socket.socket(_family(addr), socket.SOCK_DGRAM)
    sock.bind((addr, int(port)))
    print("ready", flush=True)
    while True:
        data, peer = sock.recvfrom(65535)
        if data.startswith(b"SIP/2.0"):
            continue
        reply = b"\r\n".join([b"SIP/2.0 200 OK", _header(data, b"Via"), _header(data, b"From"),
                              _header(data, b"To") + b";tag=uas-1", _header(data, b"Call-ID"),
                              _header(data, b"CSeq"), b"Content-Length: 0", b"", b""])
        sock.sendto(reply, peer)


def tool_sip_options(src, dst, port, call_id):
    """One OPTIONS from src:5062 to dst:port, and its 200 OK."""
    sock = socket.socket(_family(src), socket.SOCK_DGRAM)
    sock.bind((src, 5062))
    sock.settimeout(5)
    request = ("OPTIONS sip:pbx@{d}:{p} SIP/2.0\r\nVia: SIP/2.0/UDP {s}:5062;branch=z9hG4bK-{c}\r\n"
               "Max-Forwards: 70\r\nFrom: <sip:probe@{s}>;tag=uac-1\r\nTo: <sip:pbx@{d}>\r\nCall-ID: {c}\r\n"
               "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").format(
                   d=_uri_host(dst), s=_uri_host(src), p=port, c=call_id).encode()
    sock.sendto(request, (dst, int(port)))
    reply = sock.recv(65535)
    if not reply.startswith(b"SIP/2.0 200 OK"):
        raise SystemExit("no 200 OK: %r" % reply[:80])


# -- traffic -------------------------------------------------------------------------

def make_pcap(work):
    """tcpdump's capture of every exchange. Returns (pcap, the OPTIONS exchanges as (src, dst, Call-ID))."""
    pcap = os.path.join(work, "sip.pcap")
    options = []
    with traffic.Testbed(tag="kh") as tb:
        for addr in (ke.NODE_IP, ke.UNKNOWN_IP):
            tb.ns_run(tb.server_ns, ["ip", "addr", "add", addr + "/24", "dev", tb.server_if])
            tb.ns_run(tb.client_ns, ["ip", "neigh", "replace", addr, "lladdr", SERVER_MAC, "dev", tb.client_if,
                                     "nud", "permanent"])
        d = os.path.join(tb.workdir, "sipp")
        os.makedirs(d)
        cap = tb.capture(pcap)
        for transport, calls in (("udp", SIPP_UDP_CALLS), ("tcp", SIPP_TCP_CALLS)):
            extra = ["-t", "t1"] if transport == "tcp" else []
            uas = th.analyzer_traffic._sipp_uas(tb, d, "uas_" + transport, ["-sn", "uas"] + extra)
            th.analyzer_traffic._sipp_uac(tb, d, ["-sn", "uac"] + extra, calls)
            tb.stop(uas)

        def uas(ns, addr):
            proc = tb.popen(ns, [PYTHON, THIS_FILE, "sip-uas", addr, "5060"], stdout=subprocess.PIPE, text=True)
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("SIP responder on %s did not start" % addr)
            return proc

        for ns, uas_addr, from_ns, src in ((tb.server_ns, SERVER_V6, tb.client_ns, CLIENT_V6),
                                           (tb.server_ns, ke.NODE_IP, tb.client_ns, CLIENT_V4),
                                           (tb.client_ns, CLIENT_V4, tb.server_ns, ke.UNKNOWN_IP)):
            responder = uas(ns, uas_addr)
            call_id = "options-%d@tapflow.test" % (len(options) + 1)
            tb.ns_run(from_ns, [PYTHON, THIS_FILE, "sip-options", src, uas_addr, "5060", call_id])
            options.append((src, uas_addr, call_id))
            tb.stop(responder)
        time.sleep(0.3)
        cap.stop()
    return pcap, options


# -- HEP on the wire, as tshark shows it ------------------------------------------------

def walk_chunks(data):
    """[(vendor, type, value bytes)] of one HEP message; raises ValueError when it does not add up."""
    if data[:4] != b"HEP3" or struct.unpack_from("!H", data, 4)[0] != len(data):
        raise ValueError("not one whole HEP3 message: %r" % data[:8])
    out, pos = [], 6
    while pos < len(data):
        vendor, ctype, length = struct.unpack_from("!HHH", data, pos)
        if length < 6 or pos + length > len(data):
            raise ValueError("chunk %d/%d at %d has length %d" % (vendor, ctype, pos, length))
        out.append((vendor, ctype, data[pos + 6:pos + length]))
        pos += length
    return out


def tshark_hep(pcap, port):
    """Each HEP datagram to `port` in the loopback capture, as tshark shows its bytes: the protocols it
    dissects in the frame, and the UDP payload."""
    out = subprocess.run(["tshark", "-r", pcap, "-Y",
                          "udp.dstport == %d" % port, "-T", "fields", "-E", "separator=|",
                          "-e", "frame.protocols", "-e", "udp.payload"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    rows = []
    for line in out.splitlines():
        protocols, payload = line.split("|")
        rows.append((protocols, bytes.fromhex(payload.replace(":", ""))))
    return rows


class LoopbackCapture:
    """tcpdump on lo for the HEP datagrams to one UDP port."""

    def __init__(self, work, name, port):
        self.path = os.path.join(work, name + ".pcap")
        self.log_path = os.path.join(work, name + ".tcpdump.log")
        self._log = open(self.log_path, "w+")
        self.proc = th.start(["tcpdump", "-i", "lo", "-w", self.path, "-n", "-U", "-s", "0", "-B", "32768",
                              "--immediate-mode", "udp and dst port %d" % port], subprocess.DEVNULL, self._log)
        deadline = time.monotonic() + 10
        while "listening on" not in open(self.log_path).read():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("tcpdump did not start: " + open(self.log_path).read())
            time.sleep(0.02)

    def stop(self):
        traffic._stop_process(self.proc, signal.SIGINT, timeout=10)
        self._log.close()
        return open(self.log_path).read()


# -- running tapflow ---------------------------------------------------------------

def start_sngrep(work, name, port):
    """sngrep without its interface, listening for HEP over UDP, writing what it parsed to a pcap."""
    pcap = os.path.join(work, name + ".pcap")
    out = open(os.path.join(work, name + ".out"), "w")
    rc = os.path.join(work, name + ".sngreprc")
    open(rc, "w").close()
    proc = th.start(["sngrep", "-F", "-f", rc, "-L", "udp:127.0.0.1:%d" % port, "-N", "-O", pcap], out)
    deadline = time.monotonic() + 10
    while not th.udp_port_bound(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("sngrep did not start")
        time.sleep(0.05)
    return proc, pcap, out


def read_to_consumers(chk, tapflow, work, name, pcap, messages, kube_yaml):
    """`tapflow read` with a hep output to hep-js and sngrep and jsonl to stdout.
    Returns (hep-js message lines, tshark rows of the datagrams to hep-js, sngrep's pcap, JSON events)."""
    rcv = th.Receiver(work, name, udp=0)
    sngrep_port = th.free_port("udp")
    sng, sng_pcap, sng_out = start_sngrep(work, name + "-sngrep", sngrep_port)
    lo = LoopbackCapture(work, name + "-hep", rcv.udp)
    conf = ke.write(os.path.join(work, name + ".yaml"),
                    "outputs:\n  - type: jsonl\n    path: \"-\"\n  - type: hep\n"
                    "    destinations: [hep://127.0.0.1:%d, hep://127.0.0.1:%d]\n%s" % (rcv.udp, sngrep_port,
                                                                                     kube_yaml))
    env = dict(os.environ, NODE_NAME=NODE_NAME)
    t0 = time.monotonic()
    try:
        proc = subprocess.run([tapflow, "read", pcap, "-c", conf], capture_output=True, env=env, timeout=120)
    except subprocess.TimeoutExpired:
        proc = None
    stderr = proc.stderr.decode("utf-8", "replace") if proc else "timed out"
    chk.check("%s: tapflow read exits 0 (%.1fs)" % (name, time.monotonic() - t0), proc and proc.returncode == 0,
              stderr[-1500:])
    th.sanitizer_reports(chk, name, stderr)
    rcv.wait_messages(len(messages), "udp", timeout=20)
    # sngrep reads the same burst on its own socket; anything beyond what was
    # expected has time to show up as extra.
    time.sleep(1.0)
    rcv.stop()
    lo_log = lo.stop()
    sng_rc = traffic._stop_process(sng, signal.SIGTERM, timeout=10)
    sng_out.close()
    chk.check("%s: sngrep stops on SIGTERM" % name, sng_rc is not None, "killed")
    chk.check("%s: tcpdump on lo lost nothing" % name, "0 packets dropped by kernel" in lo_log, lo_log)
    events = []
    if proc:
        events = [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]
    return rcv.messages("udp"), tshark_hep(lo.path, rcv.udp), sng_pcap, events


# -- checks ------------------------------------------------------------------------

def want_pods(m):
    """(source pod, destination pod) a SIP message must carry; None: no such chunk."""
    return POD_OF.get(m["src"]), POD_OF.get(m["dst"])


def check_hepjs(chk, name, messages, lines, enriched):
    th.compare_hep(chk, name + " (hep-js)", messages, lines, 0, None, NODE_NAME)
    by_raw = {base64.b64encode(m["raw"]).decode(): m for m in messages}
    wrong, twice, raw_differs = [], [], []
    pairs = collections.Counter()
    for line in lines:
        m = by_raw.get(line["fields"].get("payload_b64"))
        if m is None:
            continue  # compare_hep has said so
        want = want_pods(m) if enriched else (None, None)
        got = (line["fields"].get("src_pod"), line["fields"].get("dst_pod"))
        pairs[(m["src"], m["dst"], got)] += 1
        if got != want:
            wrong.append("%s %s -> %s: pods %r, want %r" % (m["first_line"][:20], m["src"], m["dst"], got, want))
        vendor = collections.Counter(t for v, t, _ in line["chunks"] if v == TAPFLOW_VENDOR)
        if any(n > 1 for n in vendor.values()) or set(vendor) - {SOURCE_POD, DESTINATION_POD}:
            twice.append("%s: vendor chunks %r" % (m["call_id"], dict(vendor)))
        raw = line.get("pod_chunks_raw", {})
        if (raw.get(str(SOURCE_POD)), raw.get(str(DESTINATION_POD))) != got:
            raw_differs.append("%s: chunk bytes %r, hep-js %r" % (m["call_id"], raw, got))
    what = "the namespace/pod of each end that is a pod, none for the node's and the unknown address" if enriched \
        else "no pod chunk at all"
    chk.check("%s: hep-js reads %s (%d messages)" % (name, what, len(lines)), lines and not wrong,
              "; ".join(wrong[:4]))
    chk.check("%s: each of tapflow's chunks at most once, no other vendor chunk" % name, not twice,
              "; ".join(twice[:3]))
    chk.check("%s: hep-js's pod strings are the chunks' bytes" % name, not raw_differs, "; ".join(raw_differs[:3]))
    return pairs


def check_tshark(chk, name, messages, rows, enriched):
    """The datagrams as tshark shows them, walked chunk by chunk here."""
    want = collections.Counter()
    for m in messages:
        src_pod, dst_pod = want_pods(m) if enriched else (None, None)
        vendor = []
        if src_pod:
            vendor.append((TAPFLOW_VENDOR, SOURCE_POD, src_pod.encode()))
        if dst_pod:
            vendor.append((TAPFLOW_VENDOR, DESTINATION_POD, dst_pod.encode()))
        want[(m["raw"], m["sport"], m["dport"], NODE_NAME.encode(), tuple(vendor))] += 1
    got, bad = collections.Counter(), []
    for protocols, data in rows:
        try:
            chunks = walk_chunks(data)
        except ValueError as exc:
            bad.append(str(exc))
            continue
        generic = {t: v for vend, t, v in chunks if vend == 0}
        vendor = tuple((vend, t, v) for vend, t, v in chunks if vend != 0)
        got[(generic.get(15), struct.unpack("!H", generic.get(7, b"\0\0"))[0],
             struct.unpack("!H", generic.get(8, b"\0\0"))[0], generic.get(19), vendor)] += 1
    protocols = sorted({p for p, _ in rows})
    log("%s: tshark shows the HEP datagrams as %s (it has no HEP dissector)" % (name, protocols))
    missing, extra = want - got, got - want
    chk.check("%s (tshark): %d HEP datagrams on the wire, each one whole HEP3 message" % (name, len(rows)),
              len(rows) == len(messages) and not bad, "%d datagrams for %d messages; %s" % (
                  len(rows), len(messages), bad[:3]))
    chk.check("%s (tshark): the vendor chunks as expected, and past them the ports, node name and payload of "
              "every SIP message" % name, not missing and not extra,
              "missing %s; unexpected %s" % ([(k[0][:30], k[4]) for k in list(missing)[:3]],
                                             [(k[0][:30], k[4]) for k in list(extra)[:3]]))


def check_sngrep(chk, name, messages, sng_pcap):
    """sngrep's pcap holds each message it took. sngrep 1.6 writes the SIP of an
    IPv6 HEP message with 0.0.0.0 for both addresses (with or without vendor
    chunks): for those only the bytes and ports are compared."""
    if not os.path.exists(sng_pcap):
        chk.check("%s (sngrep): wrote its pcap" % name, False)
        return

    def key(version, src, sport, dst, dport, payload):
        return (src, dst, sport, dport, payload) if version == 4 else ("v6", "v6", sport, dport, payload)

    got = collections.Counter()
    for _, frame in read_pcap(sng_pcap)[1]:
        p = th.parse_frame(frame)
        if p is not None:
            v6_as_zero = p.version == 4 and p.src == p.dst == "0.0.0.0"
            got[key(6 if v6_as_zero else p.version, p.src, p.sport, p.dst, p.dport, p.payload)] += 1
    want = collections.Counter(key(m["version"], m["src"], m["sport"], m["dst"], m["dport"], m["raw"])
                               for m in messages)
    chk.check("%s (sngrep): every SIP message taken once, with its bytes, addresses and ports (%d), the vendor "
              "chunks notwithstanding" % (name, len(messages)), got == want,
              "not taken: %d, unexpected: %d; e.g. %s" % (sum((want - got).values()), sum((got - want).values()),
                                                        [k[:2] + (k[4][:30],) for k in list(want - got)[:2]]))


def check_events(chk, name, events, pairs):
    """The JSON sip events name the pods the HEP chunks name."""
    sip = [e for e in events if e.get("type") == "sip"]
    got = collections.Counter()
    for e in sip:
        ends = []
        for end in ("source", "destination"):
            k = e.get(end, {}).get("kubernetes") or {}
            ends.append("%s/%s" % (k["namespace"], k["pod"]) if "pod" in k else None)
        got[(e["source"]["ip"], e["destination"]["ip"], tuple(ends))] += 1
    want = collections.Counter({(s, d, got_pods): n for (s, d, got_pods), n in pairs.items()})
    chk.check("%s: the %d sip events name the same pods as the HEP chunks, end for end" % (name, len(sip)),
              got == want, "events %s; HEP %s" % (sorted(got.items())[:3], sorted(want.items())[:3]))


# -- main -----------------------------------------------------------------------------

def run(chk, tapflow, work):
    pcap, options = make_pcap(work)
    messages = th.sip_messages(pcap)
    if not th.check_truth(chk, "capture", pcap, messages):
        return
    calls = SIPP_UDP_CALLS + SIPP_TCP_CALLS
    # sipp's uac/uas scenarios: INVITE, 180, 200, ACK, BYE, 200 per call; OPTIONS and 200 per exchange.
    chk.equal("capture: the SIP messages made (6 per sipp call, 2 per OPTIONS)", len(messages),
              6 * calls + 2 * len(options))
    ends = {(m["src"], m["dst"], m["transport"]) for m in messages}
    chk.check("capture: every kind of end is there (pod to pod over IPv4 UDP and TCP and IPv6, pod to node, "
              "unknown to pod, and back)",
              {(CLIENT_V4, SERVER_V4, "udp"), (SERVER_V4, CLIENT_V4, "tcp"), (CLIENT_V6, SERVER_V6, "udp"),
               (CLIENT_V4, ke.NODE_IP, "udp"), (ke.NODE_IP, CLIENT_V4, "udp"), (ke.UNKNOWN_IP, CLIENT_V4, "udp")}
              <= ends, repr(sorted(ends)))
    api = fk.FakeKubeApi(work, token=ke.TOKEN)
    try:
        ke.populate(api)
        kubeconfig = fk.write_kubeconfig(os.path.join(work, "kubeconfig"), api.url, api.cert, ke.TOKEN)
        results = {}
        for name, kube_yaml in (("enriched", ke.kube_config(kubeconfig)), ("without kubernetes", "")):
            lines, rows, sng_pcap, events = read_to_consumers(chk, tapflow, work, name.replace(" ", "-"), pcap,
                                                              messages, kube_yaml)
            enriched = bool(kube_yaml)
            pairs = check_hepjs(chk, name, messages, lines, enriched)
            check_tshark(chk, name, messages, rows, enriched)
            check_sngrep(chk, name, messages, sng_pcap)
            check_events(chk, name, events, pairs)
            results[name] = lines
    finally:
        api.close()

    def generic(line):
        f = dict(line["fields"])
        f.pop("src_pod", None), f.pop("dst_pod", None)
        return json.dumps(f, sort_keys=True), tuple(tuple(c) for c in line["chunks"] if c[0] == 0)

    plain = collections.Counter(generic(x) for x in results.get("without kubernetes", []))
    rich = collections.Counter(generic(x) for x in results.get("enriched", []))
    chk.check("with and without kubernetes: the same HEP messages, generic chunk for chunk (%d)" % sum(plain.values()),
              plain == rich and plain, "%d differ" % sum((plain - rich).values()))


def main(argv):
    if len(argv) > 1 and argv[1] == "sip-uas":
        tool_sip_uas(argv[2], argv[3])
        return 0
    if len(argv) > 1 and argv[1] == "sip-options":
        tool_sip_options(argv[2], argv[3], argv[4], argv[5])
        return 0
    (tapflow,), keep = harness.live_test_args(argv, 1, __doc__, "network namespaces, tcpdump")
    for tool in ("node", "sngrep", "sipp", "tcpdump", "tshark"):
        if shutil.which(tool) is None:
            sys.exit("test_k8s_hep.py needs %s on PATH" % tool)
    if not os.path.isdir(th.NODE_MODULES):
        sys.exit("hep-js is not installed: npm ci --prefix %s" % os.path.join(th.HERE, "hep"))
    work = keep or tempfile.mkdtemp(prefix="tapflow-k8s-hep-")
    chk = harness.Checker("k8s_hep")
    t0 = time.monotonic()
    try:
        chk.guarded("k8s hep", run, chk, tapflow, work)
    finally:
        th.stop_all()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    log("k8s_hep: %.1fs" % (time.monotonic() - t0))
    return chk.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
