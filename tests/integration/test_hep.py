#!/usr/bin/python3
"""HEP v3 output end to end, judged by real HEP consumers.

1. SIP made by real peers (sipp's caller and callee over UDP and TCP between two
   network namespaces, analyzer_traffic.py's sip scenario, captured by tcpdump)
   is read by `tapflow read` with a hep output to three destinations:
     - sngrep listening for HEP over UDP (`sngrep -L udp:...`, with the auth key
       configured, so a wrong or missing key is dropped) writes what it got to a
       pcap: its SIP messages must be the ones tshark reads in the original pcap
       (count, Call-IDs, methods and status codes, per message and per call, and
       the bytes, addresses, ports and microsecond times), and the dialogs it
       counts are the sipp calls;
     - hep_receiver.js (hep-js, sipcapture's decoder) over UDP and over TCP must
       decode every chunk of every message to the expected value: addressing,
       ports and transport of the message as tshark saw it, seconds and
       microseconds of its frame (over TCP: of the segment that completed it),
       protocol type 1, capture id, auth key, Call-ID as correlation id, node
       name, and the payload byte for byte the whole SIP message (over TCP:
       one HEP message per SIP message, never a raw segment).
   The output named on the command line (-o hep:// -o hep+tcp:// with -c
   CONF, which gives it its agent id and auth key, then -o hep+tcp:// with no
   config: capture id 0, no auth key), on a scapy-made pcap of VLAN-tagged
   (802.1Q, and QinQ: the outer id counts) SIP over IPv4 and IPv6, UDP and
   TCP, with messages split over segments and several in one segment, gives
   the VLAN chunk, the IPv6 address chunks and the node name from $NODE_NAME.
2. TCP receiver restart: `tapflow run` reads a pcap stream from a FIFO (20 SIP
   messages a second, 1.4 KB of HEP each) and sends HEP over TCP with a 64 KiB
   buffer and reconnect_max 500ms; the receiver is killed (at a quiet moment:
   see tcp_restart) for 5 s and started again on the same port: while it is
   away tapflow says disconnected and buffers; the first message arrives
   within 2 s of its return; buffered messages arrive, none twice, in order;
   received + tapflow_hep_dropped_total{buffer_full} equals the SIP messages
   in the stream (and tapflow made one sip event for each), sent equals
   received, connects 2, disconnects 1.
3. `tapflow check-config` refuses an auth key over plain UDP unless
   allow_auth_key_over_udp says so (exit 1, naming file, line and key), and
   so must `-o hep://` taking the auth key from the config; the run that
   allows it logs a warning; the key itself never appears in tapflow's output.

Needs root (namespaces), sipp, tcpdump, tshark, sngrep, node and the receiver's
node modules: `npm ci --prefix tests/integration/hep`.

Usage: test_hep.py TAPFLOW [--keep DIR] [--only sipp,vlan,restart,auth]
"""

import base64
import collections
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import analyzer_traffic  # noqa: E402
import analyzer_truth  # noqa: E402
import harness  # noqa: E402
import live_run  # noqa: E402
import traffic  # noqa: E402
from pcapfile import pcap_header, pcap_record, read_pcap  # noqa: E402

PARTS = ("sipp", "vlan", "restart", "auth")
USAGE = "Usage: test_hep.py TAPFLOW [--keep DIR] [--only %s]" % ",".join(PARTS)
HERE = os.path.dirname(os.path.abspath(__file__))
RECEIVER_JS = os.path.join(HERE, "hep", "hep_receiver.js")
NODE_MODULES = os.path.join(HERE, "hep", "node_modules", "hep-js")

AGENT_ID = 4242
NODE_NAME = "k8s-node-hep-test"
ENV_NODE_NAME = "node-from-env-7"
AUTH_ENV = "TAPFLOW_TEST_HEP_AUTH_KEY"
AUTH_KEY = "hep-canary-7f3a9c2e"  # a canary: must never show up in a log line
AF_INET, AF_INET6 = 2, 10         # HEP's ip family chunk carries the BSD/Linux values
HEP_SIP = 1

# The TCP restart scenario.
STREAM_RATE = 20            # SIP messages per second into the FIFO
STREAM_BUFFER_BYTES = 65536  # hep buffer_bytes (its minimum): about 45 of the stream's messages, 2.3 s
RECEIVER_AWAY_S = 5.0


def log(msg):
    print(msg, flush=True)


# -- pcap files and the SIP messages in them ------------------------------------

PCAP_NS_HEADER = pcap_header(1)  # Ethernet, nanosecond timestamps


class Packet:
    __slots__ = ("vlans", "version", "src", "dst", "proto", "sport", "dport", "seq", "flags", "payload")


def parse_frame(frame):
    """An Ethernet frame (any number of 802.1Q/802.1ad tags) with IPv4/IPv6 and UDP/TCP, else None."""
    if len(frame) < 14:
        return None
    p = Packet()
    p.vlans = []
    off = 12
    ethertype = struct.unpack_from("!H", frame, off)[0]
    while ethertype in (0x8100, 0x88A8, 0x9100) and len(frame) >= off + 6:
        p.vlans.append(struct.unpack_from("!H", frame, off + 2)[0] & 0x0FFF)
        off += 4
        ethertype = struct.unpack_from("!H", frame, off)[0]
    off += 2
    if ethertype == 0x0800 and len(frame) >= off + 20:
        ihl = (frame[off] & 0x0F) * 4
        total = struct.unpack_from("!H", frame, off + 2)[0]
        if struct.unpack_from("!H", frame, off + 6)[0] & 0x3FFF:
            return None  # fragments: none in these captures
        p.version, p.proto = 4, frame[off + 9]
        p.src = str(ipaddress.ip_address(frame[off + 12:off + 16]))
        p.dst = str(ipaddress.ip_address(frame[off + 16:off + 20]))
        l4 = frame[off + ihl:off + total]
    elif ethertype == 0x86DD and len(frame) >= off + 40:
        plen = struct.unpack_from("!H", frame, off + 4)[0]
        p.version, p.proto = 6, frame[off + 6]
        p.src = str(ipaddress.ip_address(frame[off + 8:off + 24]))
        p.dst = str(ipaddress.ip_address(frame[off + 24:off + 40]))
        l4 = frame[off + 40:off + 40 + plen]
    else:
        return None
    if p.proto == 17 and len(l4) >= 8:
        p.sport, p.dport = struct.unpack_from("!HH", l4, 0)
        p.seq, p.flags, p.payload = None, 0, l4[8:]
    elif p.proto == 6 and len(l4) >= 20:
        p.sport, p.dport, p.seq = struct.unpack_from("!HHI", l4, 0)
        p.flags = l4[13]
        p.payload = l4[(l4[12] >> 4) * 4:]
    else:
        return None
    return p


HEADER_RE = re.compile(rb"^(call-id|i|content-length|l)[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?$", re.I | re.M)


def sip_headers(head):
    out = {}
    for m in HEADER_RE.finditer(head):
        name = m.group(1).lower()
        name = {b"i": b"call-id", b"l": b"content-length"}.get(name, name)
        out.setdefault(name.decode(), m.group(2).decode("latin-1"))
    return out


class TruthError(Exception):
    pass


def sip_messages(pcap):
    """Every SIP message of a capture, in the order tshark dissects them: a UDP
    datagram at its frame, a TCP message at the segment that completes it (each
    direction's bytes in sequence order, split by the head and Content-Length).
    Each is a dict: frame, ts_ns, transport, version, src, sport, dst, dport,
    vlan (outermost tag, 0: none), raw (the message's bytes), call_id, first_line."""
    _, records = read_pcap(pcap)
    out = []
    streams = {}  # (src, sport, dst, dport) -> {"next": seq, "buf": bytes}
    for number, (ts, frame) in enumerate(records, 1):
        p = parse_frame(frame)
        if p is None or 5060 not in (p.sport, p.dport):
            continue
        base = {"frame": number, "ts_ns": ts, "transport": "udp" if p.proto == 17 else "tcp", "version": p.version,
                "src": p.src, "sport": p.sport, "dst": p.dst, "dport": p.dport, "vlan": p.vlans[0] if p.vlans else 0}
        if p.proto == 17:
            data = p.payload.lstrip(b"\r\n")
            if data:
                out.append(_sip_message(base, data))
            continue
        key = (p.src, p.sport, p.dst, p.dport)
        if p.flags & 0x02:  # SYN
            streams[key] = {"next": (p.seq + 1) & 0xFFFFFFFF, "buf": b""}
            continue
        if not p.payload:
            continue
        st = streams.get(key)
        if st is None or p.seq != st["next"]:
            raise TruthError("frame %d: TCP segment out of sequence; this test's truth reads in-order streams only"
                             % number)
        st["next"] = (p.seq + len(p.payload)) & 0xFFFFFFFF
        st["buf"] += p.payload
        while True:
            buf = st["buf"].lstrip(b"\r\n")
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                st["buf"] = buf
                break
            head = buf[:end + 4]
            length = int(sip_headers(head).get("content-length", "0"))
            if len(buf) < len(head) + length:
                st["buf"] = buf
                break
            out.append(_sip_message(base, buf[:len(head) + length]))
            st["buf"] = buf[len(head) + length:]
    return out


def _sip_message(base, raw):
    m = dict(base)
    m["raw"] = raw
    end = raw.find(b"\r\n\r\n")
    m["call_id"] = sip_headers(raw[:end + 4] if end >= 0 else raw).get("call-id")
    m["first_line"] = raw.split(b"\r\n", 1)[0].decode("latin-1")
    return m


def describe_sip(first_line):
    """"INVITE" for a request, "486" for a response."""
    parts = first_line.split(" ")
    return parts[1] if parts[0].startswith("SIP/") and len(parts) > 1 else parts[0]


def tshark_view(pcap):
    """What tshark dissects: [(frame, ts_ns, src, sport, dst, dport, call_id, method or status)]."""
    out = []
    for m in analyzer_truth.sip_messages(pcap):
        out.append((m["frame"], m["ts_ns"], str(ipaddress.ip_address(m["src"][0])), m["src"][1],
                    str(ipaddress.ip_address(m["dst"][0])), m["dst"][1], m["call_id"],
                    m["method"] if m["method"] is not None else str(m["status"])))
    return out


def own_view(messages):
    return [(m["frame"], m["ts_ns"], m["src"], m["sport"], m["dst"], m["dport"], m["call_id"],
             describe_sip(m["first_line"])) for m in messages]


def check_truth(chk, name, pcap, messages):
    """This test's own split of the capture into SIP messages must be tshark's, message for message."""
    theirs, ours = tshark_view(pcap), own_view(messages)
    diff = [x for x in theirs if x not in ours][:3] + [x for x in ours if x not in theirs][:3]
    return chk.check("%s: tshark and this test find the same %d SIP messages (frame, time, addressing, Call-ID, "
                     "method or status)" % (name, len(theirs)), theirs == ours and len(ours) > 0,
                     "tshark %d, test %d; first differences: %s" % (len(theirs), len(ours), diff))


# -- what a HEP consumer should get -----------------------------------------------

FIELDS = ("ip_family", "protocol", "src_ip", "dst_ip", "src_port", "dst_port", "time_sec", "time_usec",
          "proto_type", "capture_id", "auth_key", "correlation_id", "vlan", "node_name", "payload_b64")


def expected_hep(m, capture_id, auth_key, node_name):
    """The chunk values a SIP message must arrive with (None: the chunk must be absent)."""
    return (AF_INET if m["version"] == 4 else AF_INET6, 17 if m["transport"] == "udp" else 6, m["src"], m["dst"],
            m["sport"], m["dport"], m["ts_ns"] // 10**9, m["ts_ns"] % 10**9 // 1000, HEP_SIP, capture_id, auth_key,
            m["call_id"], m["vlan"] or None, node_name, base64.b64encode(m["raw"]).decode())


def expected_chunks(m, auth_key, node_name):
    """The chunk types each message must carry once: family, protocol, addresses,
    ports, seconds, microseconds, protocol type, capture id, payload, correlation
    id; the auth key, node name and VLAN when there are any."""
    types = {1, 2, 7, 8, 9, 10, 11, 12, 15, 17}
    types |= {3, 4} if m["version"] == 4 else {5, 6}
    if auth_key is not None:
        types.add(14)
    if node_name:
        types.add(19)
    if m["vlan"]:
        types.add(18)
    return types


def got_hep(line):
    f = line["fields"]
    return tuple(f.get(k) for k in FIELDS)


def field_diff(want, got):
    return ", ".join("%s got %r, want %r" % (k, g, w) for k, w, g in zip(FIELDS, want, got)
                     if w != g and k != "payload_b64") or "payload differs"


def compare_hep(chk, name, messages, lines, capture_id, auth_key, node_name):
    """Every SIP message arrived exactly once with every chunk as expected."""
    want = collections.Counter(expected_hep(m, capture_id, auth_key, node_name) for m in messages)
    got = collections.Counter(got_hep(line) for line in lines)
    missing, extra = want - got, got - want
    details = []
    by_payload = collections.defaultdict(list)
    for g in extra:
        by_payload[g[-1]].append(g)
    for w in list(missing)[:4]:
        near = by_payload.get(w[-1])
        details.append("%s %s: %s" % (w[2], w[11], field_diff(w, near[0]) if near else "not received"))
    chk.check("%s: every SIP message (%d) arrived once, every chunk with the expected value (addresses, ports, "
              "transport, seconds and microseconds of its frame, proto type 1, capture id %s, auth key, Call-ID, "
              "vlan, node name, payload bytes)" % (name, len(messages), capture_id),
              not missing and not extra and len(lines) == len(messages),
              "received %d; %d expected not received, %d unexpected; %s" % (
                  len(lines), sum(missing.values()), sum(extra.values()), "; ".join(details)))
    problems = [(line["fields"].get("correlation_id"), line["problems"]) for line in lines if line["problems"]]
    chk.check("%s: hep-js decodes every message; lengths and chunk sizes are sound" % name, lines and not problems,
              "%d messages; %s" % (len(lines), problems[:3]))
    by_raw = {base64.b64encode(m["raw"]).decode(): m for m in messages}
    bad_chunks = []
    for line in lines:
        m = by_raw.get(line["fields"].get("payload_b64"))
        types = [t for v, t, _ in line["chunks"] if v == 0]
        if m is not None and (sorted(types) != sorted(expected_chunks(m, auth_key, node_name))):
            bad_chunks.append("%s: %s" % (m["call_id"], sorted(types)))
    chk.check("%s: each message carries each expected chunk once and no other" % name, lines and not bad_chunks,
              "%d messages; %s" % (len(lines), "; ".join(bad_chunks[:3])))
    text_bad = [line["fields"].get("correlation_id") for line in lines
                if line["fields"].get("payload") != base64.b64decode(line["fields"].get("payload_b64") or "")
                .decode("utf-8", "replace")]
    chk.check("%s: hep-js's payload text is the SIP message" % name, lines and not text_bad,
              "%d messages; %s" % (len(lines), text_bad[:3]))


# -- processes -------------------------------------------------------------------

_procs = []


def start(cmd, stdout, stderr=subprocess.STDOUT, env=None):
    """A process in its own group; traffic._stop_process() stops it (and
    returns its exit code), stop_all() at the latest."""
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env, start_new_session=True)
    _procs.append(proc)
    return proc


def stop_all():
    for proc in reversed(_procs):
        try:
            traffic._stop_process(proc, timeout=5)
        except Exception as exc:  # noqa: BLE001 - keep cleaning up the rest
            log("cleanup: could not stop pid %d: %s" % (proc.pid, exc))
    _procs.clear()


class Receiver:
    """hep_receiver.js listening on 127.0.0.1; its JSON lines go to a file."""

    def __init__(self, workdir, name, udp=None, tcp=None):
        self.path = os.path.join(workdir, name + ".jsonl")
        args = ["node", RECEIVER_JS]
        if udp is not None:
            args += ["--udp", str(udp)]
        if tcp is not None:
            args += ["--tcp", str(tcp)]
        self._out = open(self.path, "w")
        self.proc = start(args, self._out)
        deadline = time.monotonic() + 15
        self.listening = None
        while self.listening is None:
            for line in self.lines():
                if line.get("kind") == "listening":
                    self.listening = line
            if self.listening is None:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("hep_receiver.js did not start: " + open(self.path).read()[-2000:])
                time.sleep(0.02)
        self.udp, self.tcp = self.listening["udp"], self.listening["tcp"]

    def lines(self):
        out = []
        with open(self.path) as f:
            for text in f:
                if text.endswith("\n"):
                    out.append(json.loads(text))
        return out

    def messages(self, transport=None):
        return [x for x in self.lines() if x.get("kind") == "message" and transport in (None, x["transport"])]

    def wait_messages(self, count, transport=None, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            got = self.messages(transport)
            if len(got) >= count or time.monotonic() > deadline or self.proc.poll() is not None:
                return got
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM):
        traffic._stop_process(self.proc, sig, timeout=10)
        self._out.close()


class Sngrep:
    """sngrep without its interface, listening for HEP over UDP, writing what it
    parsed to a pcap; auth_key set: messages without that key are dropped."""

    def __init__(self, workdir, port, auth_key):
        self.pcap = os.path.join(workdir, "sngrep.pcap")
        self.out_path = os.path.join(workdir, "sngrep.out")
        rc = os.path.join(workdir, "sngreprc")
        with open(rc, "w") as f:
            f.write("set eep.listen.pass %s\n" % auth_key)
        self._out = open(self.out_path, "w")
        # -F: not the machine's own ~/.sngreprc; -f: ours.
        self.proc = start(["sngrep", "-F", "-f", rc, "-L", "udp:127.0.0.1:%d" % port, "-N", "-O", self.pcap],
                          self._out)
        # It binds at start-up: wait until the port is taken.
        deadline = time.monotonic() + 10
        while not udp_port_bound(port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("sngrep did not start: " + open(self.out_path).read()[-2000:])
            time.sleep(0.05)

    def stop(self):
        """SIGTERM: sngrep closes the pcap file and exits."""
        rc = traffic._stop_process(self.proc, signal.SIGTERM, timeout=10)
        self._out.close()
        return rc

    def dialog_count(self):
        """The last "Dialog count: N" sngrep printed in no-interface mode."""
        counts = re.findall(r"Dialog count: (\d+)", open(self.out_path, errors="replace").read())
        return int(counts[-1]) if counts else None


def free_port(kind):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def udp_port_bound(port):
    """Whether a UDP socket is bound to 127.0.0.1:port or *:port (read from /proc, without racing its owner)."""
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local = line.split()[1]
                if int(local.rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def sanitizer_reports(chk, name, text):
    for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer", "ThreadSanitizer"):
        if marker in text:
            chk.check("%s: no %s report" % (name, marker), False, text[-1500:])


# -- 1. tapflow read -> sngrep and hep-js ------------------------------------------

def hep_config(workdir, name, destinations, extra=""):
    path = os.path.join(workdir, name + ".yaml")
    with open(path, "w") as f:
        f.write("outputs:\n  - type: hep\n    destinations: [%s]\n%s" % (", ".join(destinations), extra))
    return path


def read_to_consumers(chk, tapflow, workdir, pcap):
    """The sipp capture through `tapflow read` to sngrep and hep-js (UDP and TCP)."""
    name = "sipp calls"
    messages = sip_messages(pcap)
    if not check_truth(chk, name, pcap, messages):
        return
    sngrep_port = free_port("udp")
    sng = Sngrep(workdir, sngrep_port, AUTH_KEY)
    rcv = Receiver(workdir, "read_sipp", udp=0, tcp=0)
    dests = ["hep://127.0.0.1:%d" % sngrep_port, "hep://127.0.0.1:%d" % rcv.udp, "hep+tcp://127.0.0.1:%d" % rcv.tcp]
    conf = hep_config(workdir, "read_sipp", dests,
                      "    agent_id: %d\n    auth_key: {env: %s}\n    allow_auth_key_over_udp: true\n"
                      "    node_name: %s\n" % (AGENT_ID, AUTH_ENV, NODE_NAME))
    env = dict(os.environ, **{AUTH_ENV: AUTH_KEY})
    env.pop("NODE_NAME", None)
    t0 = time.monotonic()
    proc = subprocess.run([tapflow, "read", pcap, "-c", conf], capture_output=True, env=env, timeout=120)
    stderr = proc.stderr.decode("utf-8", "replace")
    chk.check("%s: tapflow read exits 0 (%.1fs)" % (name, time.monotonic() - t0), proc.returncode == 0,
              "rc=%s: %s" % (proc.returncode, stderr[-1500:]))
    sanitizer_reports(chk, name, stderr)
    warnings = [e for e in harness.log_entries(stderr) if e.get("level") == "warn" and re.search("auth", json.dumps(e), re.I)
                and re.search("udp", json.dumps(e), re.I)]
    chk.check("%s: tapflow warns that the auth key goes over plain UDP" % name, len(warnings) >= 1, stderr[-1500:])
    chk.check("%s: the auth key never appears in tapflow's log" % name, AUTH_KEY not in stderr + proc.stdout.decode(
        "utf-8", "replace"), "found in the output")
    rcv.wait_messages(len(messages), "udp", timeout=10)
    rcv.wait_messages(len(messages), "tcp", timeout=10)
    # sngrep reads the same burst on its own socket: wait for its calls, then a little more for their last messages.
    calls = {m["call_id"] for m in messages if describe_sip(m["first_line"]) == "INVITE"}
    deadline = time.monotonic() + 10
    while sng.dialog_count() != len(calls) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    rcv.stop()
    sng_rc = sng.stop()
    compare_hep(chk, name + " over UDP (hep-js)", messages, rcv.messages("udp"), AGENT_ID, AUTH_KEY, NODE_NAME)
    lines = rcv.messages("udp")
    bad = [x["fields"].get("correlation_id") for x in lines if x["datagram_bytes"] != x["length"]]
    chk.check("%s over UDP: one HEP message fills exactly one datagram (%d)" % (name, len(lines)),
              not bad and lines, str(bad[:3]))
    compare_hep(chk, name + " over TCP (hep-js)", messages, rcv.messages("tcp"), AGENT_ID, AUTH_KEY, NODE_NAME)
    conns = [x for x in rcv.lines() if x["kind"] in ("connect", "close", "error")]
    chk.check("%s over TCP: one connection, framed by the HEP length, nothing left over" % name,
              [x["kind"] for x in conns] in (["connect"], ["connect", "close"]) and
              all(not x.get("leftover_bytes") and not x.get("error") for x in conns), str(conns))
    check_sngrep(chk, name, pcap, messages, sng, sng_rc)


def check_sngrep(chk, name, pcap, messages, sng, sng_rc):
    """sngrep's pcap (one UDP frame per HEP message it accepted) against the original."""
    name += " (sngrep)"
    chk.check("%s: sngrep stops on SIGTERM and wrote its pcap" % name, sng_rc is not None and os.path.exists(sng.pcap),
              "rc=%s: %s" % (sng_rc, open(sng.out_path, errors="replace").read()[-500:]))
    if not os.path.exists(sng.pcap):
        return
    _, records = read_pcap(sng.pcap)
    got = []
    for ts, frame in records:
        p = parse_frame(frame)
        if p is not None:
            got.append((ts, p.src, p.sport, p.dst, p.dport, p.payload))
    want = [(m["ts_ns"] // 1000 * 1000, m["src"], m["sport"], m["dst"], m["dport"], m["raw"]) for m in messages]
    missing = collections.Counter(want) - collections.Counter(got)
    extra = collections.Counter(got) - collections.Counter(want)
    chk.check("%s: got every SIP message once (%d), with its bytes, addresses, ports and microsecond time" % (
        name, len(want)), not missing and not extra and len(records) == len(want),
        "%d frames; not received: %s; unexpected: %s" % (
            len(records), [(w[0], w[5][:40]) for w in list(missing)[:3]], [(g[0], g[5][:40]) for g in list(extra)[:3]]))
    # tshark on both captures: the same SIP, message for message and call by call.
    theirs = [x[6:] for x in tshark_view(sng.pcap)]
    ours = [x[6:] for x in own_view(messages)]
    chk.equal("%s: tshark reads the same SIP in sngrep's pcap as in the original (Call-ID, method or status; "
              "per message)" % name, sorted(theirs), sorted(ours))
    per_call = collections.defaultdict(list)
    for call_id, what in theirs:
        per_call[call_id].append(what)
    want_calls = collections.defaultdict(list)
    for call_id, what in ours:
        want_calls[call_id].append(what)
    chk.equal("%s: each call's messages in the original order" % name, dict(per_call), dict(want_calls))
    calls = sorted({m["call_id"] for m in messages if describe_sip(m["first_line"]) == "INVITE"})
    sipp_calls = sum(analyzer_traffic.read_expectation(pcap)["sip_calls"].values())
    sng_calls = sorted({c for c, what in theirs if what == "INVITE"})
    chk.check("%s: shows the %d sipp calls (dialog count %s), the same Call-IDs" % (name, sipp_calls,
                                                                                   sng.dialog_count()),
              sng.dialog_count() == sipp_calls and sng_calls == calls and len(calls) == sipp_calls,
              "sngrep calls %s, calls in the capture %s" % (sng_calls, calls))


def vlan_pcap(path):
    """SIP that sipp cannot make here: VLAN-tagged (802.1Q, QinQ), IPv6, and TCP
    streams where a message spans segments and a segment holds several messages."""
    from scapy.all import IP, TCP, UDP, Dot1AD, Dot1Q, Ether, IPv6, Raw, wrpcap  # noqa: E402 - slow to import

    def sip(first, call_id, cseq, via, transport=b"UDP", extra=b"", body=b""):
        return (b"%s\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK-%s\r\nFrom: <sip:alice@tapflow.test>;tag=a1\r\n"
                b"To: <sip:bob@tapflow.test>\r\nCall-ID: %s\r\nCSeq: %s\r\n%sContent-Length: %d\r\n\r\n%s" % (
                    first, transport, via.encode(), call_id.split(b"@")[0], call_id, cseq, extra, len(body), body))

    sdp = (b"v=0\r\no=alice 1 1 IN IP4 10.88.0.3\r\ns=-\r\nc=IN IP4 10.88.0.3\r\nt=0 0\r\n"
           b"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
    mac = dict(src="02:00:00:88:00:01", dst="02:00:00:88:00:02")
    pkts = []
    t = [1_700_000_000_123_456_789]

    def add(pkt, gap_ns=7_000_431):
        pkt.time = t[0] / 1e9  # scapy keeps float seconds; the exact ns go in below
        pkts.append((t[0], pkt))
        t[0] += gap_ns

    v4a, v4b, v4c = "10.88.0.1", "10.88.0.2", "10.88.0.3"
    v6a, v6b = "fd00:88::1", "fd00:88::2"
    # UDP: 802.1Q 100 over IPv4, 802.1Q 200 over IPv6, QinQ 300/400, untagged.
    add(Ether(**mac) / Dot1Q(vlan=100) / IP(src=v4a, dst=v4b) / UDP(sport=5080, dport=5060) /
        Raw(sip(b"INVITE sip:bob@10.88.0.2 SIP/2.0", b"vlan100-udp@tapflow.test", b"1 INVITE", v4a + ":5080",
                extra=b"Content-Type: application/sdp\r\n", body=sdp)))
    add(Ether(**mac) / Dot1Q(vlan=100) / IP(src=v4b, dst=v4a) / UDP(sport=5060, dport=5080) /
        Raw(sip(b"SIP/2.0 100 Trying", b"vlan100-udp@tapflow.test", b"1 INVITE", v4a + ":5080")))
    add(Ether(**mac) / Dot1Q(vlan=200) / IPv6(src=v6a, dst=v6b) / UDP(sport=5080, dport=5060) /
        Raw(sip(b"OPTIONS sip:bob@[fd00:88::2] SIP/2.0", b"vlan200-udp6@tapflow.test", b"1 OPTIONS",
                "[%s]:5080" % v6a)))
    add(Ether(**mac) / Dot1AD(vlan=300) / Dot1Q(vlan=400) / IP(src=v4a, dst=v4b) / UDP(sport=5080, dport=5060) /
        Raw(sip(b"MESSAGE sip:bob@10.88.0.2 SIP/2.0", b"qinq300-udp@tapflow.test", b"1 MESSAGE", v4a + ":5080")))
    add(Ether(**mac) / IP(src=v4a, dst=v4b) / UDP(sport=5080, dport=5060) /
        Raw(sip(b"OPTIONS sip:bob@10.88.0.2 SIP/2.0", b"untagged-udp@tapflow.test", b"1 OPTIONS", v4a + ":5080")))

    def tcp_conn(l2, ip, cli, srv, cport, client_writes, server_writes):
        """A handshake, then each side's writes as segments (a write is a list of
        pieces, each piece one segment), alternating client and server, then FINs."""
        cseq, sseq = 1000, 5000
        add(l2() / ip(src=cli, dst=srv) / TCP(sport=cport, dport=5060, flags="S", seq=cseq - 1))
        add(l2() / ip(src=srv, dst=cli) / TCP(sport=5060, dport=cport, flags="SA", seq=sseq - 1, ack=cseq))
        add(l2() / ip(src=cli, dst=srv) / TCP(sport=cport, dport=5060, flags="A", seq=cseq, ack=sseq))
        for i in range(max(len(client_writes), len(server_writes))):
            for pieces, is_client in ((client_writes[i] if i < len(client_writes) else [], True),
                                      (server_writes[i] if i < len(server_writes) else [], False)):
                for piece in pieces:
                    if is_client:
                        add(l2() / ip(src=cli, dst=srv) / TCP(sport=cport, dport=5060, flags="PA", seq=cseq,
                                                               ack=sseq) / Raw(piece))
                        cseq += len(piece)
                    else:
                        add(l2() / ip(src=srv, dst=cli) / TCP(sport=5060, dport=cport, flags="PA", seq=sseq,
                                                               ack=cseq) / Raw(piece))
                        sseq += len(piece)
        add(l2() / ip(src=cli, dst=srv) / TCP(sport=cport, dport=5060, flags="FA", seq=cseq, ack=sseq))
        add(l2() / ip(src=srv, dst=cli) / TCP(sport=5060, dport=cport, flags="FA", seq=sseq, ack=cseq + 1))
        add(l2() / ip(src=cli, dst=srv) / TCP(sport=cport, dport=5060, flags="A", seq=cseq + 1, ack=sseq + 1))

    cid = b"vlan42-tcp@tapflow.test"
    via, sdp_type = v4c + ":40000", b"Content-Type: application/sdp\r\n"
    invite = sip(b"INVITE sip:bob@10.88.0.2 SIP/2.0", cid, b"1 INVITE", via, b"TCP", sdp_type, sdp)
    trying = sip(b"SIP/2.0 100 Trying", cid, b"1 INVITE", via, b"TCP")
    ringing = sip(b"SIP/2.0 180 Ringing", cid, b"1 INVITE", via, b"TCP")
    ok = sip(b"SIP/2.0 200 OK", cid, b"1 INVITE", via, b"TCP", sdp_type, sdp)
    bye = sip(b"BYE sip:alice@10.88.0.3 SIP/2.0", cid, b"1 BYE", v4b + ":5060", b"TCP")
    ack = sip(b"ACK sip:bob@10.88.0.2 SIP/2.0", cid, b"1 ACK", via, b"TCP")
    tcp_conn(lambda: Ether(**mac) / Dot1Q(vlan=42), IP, v4c, v4b, 40000,
             # INVITE over three segments (the cut inside the head, then inside the body).
             [[invite[:100], invite[100:len(invite) - 30], invite[len(invite) - 30:]], [ack]],
             # 100 and 180 in one segment; 200 OK ends in the segment that starts a BYE.
             [[trying + ringing, ok[:200], ok[200:] + bye[:50], bye[50:]]])
    cid6 = b"v6-tcp@tapflow.test"
    options = sip(b"OPTIONS sip:bob@[fd00:88::2] SIP/2.0", cid6, b"1 OPTIONS", "[%s]:40001" % v6a, b"TCP")
    tcp_conn(lambda: Ether(**mac), IPv6, v6a, v6b, 40001, [[options[:60], options[60:]]],
             [[sip(b"SIP/2.0 200 OK", cid6, b"1 OPTIONS", "[%s]:40001" % v6a, b"TCP")]])
    wrpcap(path, [p for _, p in pkts], linktype=1)
    # scapy writes microseconds: rewrite the records with the nanosecond times.
    _, records = read_pcap(path)
    with open(path, "wb") as f:
        f.write(PCAP_NS_HEADER)
        f.writelines(pcap_record(ts, frame) for (ts, _), (_, frame) in zip(pkts, records))


def read_vlan_cli(chk, tapflow, workdir):
    """Outputs named on the command line: -o hep:// -o hep+tcp:// with -c CONF,
    whose hep output gives them its identity (agent id, auth key, node name ""
    meaning $NODE_NAME), then -o hep+tcp:// alone: every setting its default
    (capture id 0, no auth key, node name $NODE_NAME)."""
    base = "vlan/ipv6/tcp-split pcap"
    pcap = os.path.join(workdir, "sip_vlan.pcap")
    vlan_pcap(pcap)
    messages = sip_messages(pcap)
    if not check_truth(chk, base, pcap, messages):
        return
    vlans = sorted({m["vlan"] for m in messages})
    chk.equal("%s: the capture has 802.1Q ids 42, 100, 200, QinQ outer 300 and untagged SIP" % base, vlans,
              [0, 42, 100, 200, 300])
    conf = hep_config(workdir, "read_vlan", ["hep+tcp://127.0.0.1:9"],
                      "    agent_id: %d\n    auth_key: {env: %s}\n    allow_auth_key_over_udp: true\n" % (
                          AGENT_ID + 1, AUTH_ENV))
    env = dict(os.environ, NODE_NAME=ENV_NODE_NAME, **{AUTH_ENV: AUTH_KEY})
    runs = ((base + ", -o hep:// -o hep+tcp:// -c CONF", ("udp", "tcp"), ["-c", conf], AGENT_ID + 1, AUTH_KEY),
            (base + ", -o hep+tcp:// without a config", ("tcp",), [], 0, None))
    for name, transports, args, capture_id, auth_key in runs:
        rcv = Receiver(workdir, "read_vlan_%d" % len(args), udp=0, tcp=0)
        outs = []
        for transport in transports:
            outs += ["-o", "%s://127.0.0.1:%d" % ("hep" if transport == "udp" else "hep+tcp",
                                                 rcv.udp if transport == "udp" else rcv.tcp)]
        proc = subprocess.run([tapflow, "read", pcap] + outs + args, capture_output=True, env=env, timeout=120)
        stderr = proc.stderr.decode("utf-8", "replace")
        chk.check("%s: tapflow read exits 0" % name, proc.returncode == 0,
                  "rc=%s: %s" % (proc.returncode, stderr[-1500:]))
        sanitizer_reports(chk, name, stderr)
        chk.check("%s: the auth key never appears in tapflow's log" % name, AUTH_KEY not in stderr)
        for transport in transports:
            rcv.wait_messages(len(messages), transport, timeout=10)
        rcv.stop()
        for transport in transports:
            compare_hep(chk, "%s, %s" % (name, transport), messages, rcv.messages(transport), capture_id, auth_key,
                        ENV_NODE_NAME)


# -- 2. TCP receiver killed and restarted ------------------------------------------

def stream_message(i):
    """The i-th message of the stream: a SIP MESSAGE with its own Call-ID and a
    1000-byte body (about 1.4 KB of HEP), as an Ethernet/IPv4/UDP frame."""
    call_id = "hep-stream-%05d@tapflow.test" % i
    body = ("message %05d " % i).encode() * 50 + b"\r\n" * 150
    sip = ("MESSAGE sip:probe@10.99.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.99.0.1:5070;branch=z9hG4bK-s%05d\r\n"
           "From: <sip:monitor@tapflow.test>;tag=s%05d\r\nTo: <sip:probe@tapflow.test>\r\nCall-ID: %s\r\n"
           "CSeq: %d MESSAGE\r\nMax-Forwards: 70\r\nUser-Agent: tapflow-hep-test\r\nContent-Type: text/plain\r\n"
           "Content-Length: %d\r\n\r\n" % (i, i, call_id, i + 1, len(body))).encode() + body
    udp = struct.pack("!HHHH", 5070, 5060, 8 + len(sip), 0) + sip
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                     socket.inet_aton("10.99.0.1"), socket.inet_aton("10.99.0.2"))
    csum = sum(struct.unpack("!10H", ip))
    while csum >> 16:
        csum = (csum & 0xFFFF) + (csum >> 16)
    ip = ip[:10] + struct.pack("!H", ~csum & 0xFFFF) + ip[12:]
    frame = b"\x02\x00\x00\x99\x00\x02\x02\x00\x00\x99\x00\x01\x08\x00" + ip + udp
    return call_id, sip, frame


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return live_run.parse_metrics(r.read().decode())


def hep_metric(samples, family, dest, **labels):
    return live_run.metric_sum(samples, family, destination=dest, **labels)


def wait_log(path, pattern, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in harness.log_entries(open(path).read()):
            if re.search(pattern, entry.get("msg", "")):
                return entry
        if proc.poll() is not None:
            return None
        time.sleep(0.05)
    return None


class StreamWriter:
    """Writes stream_message(0, 1, ...) into a FIFO as a pcap, STREAM_RATE a
    second, on its own thread; pause() holds it (the receiver can then be
    stopped with nothing in flight), resume() goes on, finish() closes the FIFO."""

    def __init__(self, fifo):
        self.fifo = fifo
        self.count = 0
        self.error = None
        self._running = threading.Event()
        self._running.set()
        self._done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            with open(self.fifo, "wb") as f:
                f.write(PCAP_NS_HEADER)
                f.flush()
                base_ts = time.time_ns()
                next_at = time.monotonic()
                while not self._done.is_set():
                    if not self._running.is_set():
                        self._running.wait(0.1)
                        next_at = time.monotonic()
                        continue
                    _, _, frame = stream_message(self.count)
                    # Packet times move on at the stream's rate, whatever the pauses.
                    f.write(pcap_record(base_ts + self.count * (10**9 // STREAM_RATE), frame))
                    f.flush()
                    self.count += 1
                    next_at += 1.0 / STREAM_RATE
                    time.sleep(max(0.0, next_at - time.monotonic()))
        except OSError as exc:
            self.error = exc

    def pause(self):
        self._running.clear()
        time.sleep(0.1)  # a write under way ends

    def resume(self):
        self._running.set()

    def finish(self):
        self._done.set()
        self._running.set()
        self.thread.join(10)
        return not self.thread.is_alive() and self.error is None

    def unblock(self):
        """For cleanup: a writer still blocked opening the FIFO gets a reader, then EPIPE."""
        self._done.set()
        self._running.set()
        try:
            os.close(os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK))
        except OSError:
            pass
        self.thread.join(5)


def wait_quiet(rcv, quiet_s=1.0, timeout=20):
    """Waits until the receiver got nothing for quiet_s: tapflow has sent all it will for now."""
    deadline = time.monotonic() + timeout
    count, since = len(rcv.messages()), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = len(rcv.messages())
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return True
    return False


def tcp_restart(chk, tapflow, workdir):
    """A receiver killed while tapflow streams to it, back after RECEIVER_AWAY_S.
    It is killed while nothing is in flight (the FIFO writer paused, the receiver
    quiet): HEP has no acknowledgements of its own, so bytes a receiver's kernel
    acknowledged and its process never read are lost to any sender."""
    name = "tcp restart"
    rcv1 = Receiver(workdir, "restart_1", tcp=0)
    port = rcv1.tcp
    dest = "hep+tcp://127.0.0.1:%d" % port
    fifo = os.path.join(workdir, "stream.fifo")
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)
    events = os.path.join(workdir, "stream_events.jsonl")
    conf = os.path.join(workdir, "stream.yaml")
    with open(conf, "w") as f:
        f.write("""capture:
  source: pcap
  pcap:
    path: %s
workers:
  count: 1
outputs:
  - type: jsonl
    path: %s
  - type: hep
    destinations: [%s]
    buffer_bytes: %d
    reconnect_min: 100ms
    reconnect_max: 500ms
    shutdown_grace: 10s
metrics:
  listen: 127.0.0.1:0
""" % (fifo, events, dest, STREAM_BUFFER_BYTES))
    stderr_path = os.path.join(workdir, "stream_tapflow.log")
    proc = start([tapflow, "run", "-c", conf], subprocess.DEVNULL, open(stderr_path, "w"))
    writer = StreamWriter(fifo)
    rcv2 = None
    try:
        serving = wait_log(stderr_path, "serving /metrics", proc)
        if not chk.check(name + ": tapflow run starts and serves /metrics", serving is not None,
                         open(stderr_path).read()[-1500:]):
            return
        mport = int(serving["port"])
        first = rcv1.wait_messages(int(2.5 * STREAM_RATE), timeout=30)
        if not chk.check(name + ": the receiver gets the stream (%d messages)" % len(first),
                         len(first) >= int(2.5 * STREAM_RATE), open(stderr_path).read()[-1500:]):
            return
        writer.pause()
        quiet = wait_quiet(rcv1)
        chk.check(name + ": with the writer paused, the receiver goes quiet", quiet)
        before = scrape(mport)
        written_before = hep_metric(before, "tapflow_hep_written_total", dest)
        rcv1.stop(signal.SIGKILL)
        killed_at = time.monotonic()
        writer.resume()
        # Away: once tapflow has tried to send again, it knows the receiver is gone.
        deadline = time.monotonic() + 15
        while hep_metric(scrape(mport), "tapflow_hep_written_total", dest) <= written_before and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        away = scrape(mport)
        connected = hep_metric(away, "tapflow_hep_connected", dest)
        buffered = hep_metric(away, "tapflow_hep_buffered_bytes", dest)
        chk.check(name + ": while the receiver is away, connected is 0 and messages are buffered (%d of %d bytes)" % (
            buffered, STREAM_BUFFER_BYTES), connected == 0 and 0 < buffered <= STREAM_BUFFER_BYTES,
            "connected %s, buffered %s, written %s (before the kill %s)" % (
                connected, buffered, hep_metric(away, "tapflow_hep_written_total", dest), written_before))
        time.sleep(max(0.0, killed_at + RECEIVER_AWAY_S - time.monotonic()))
        returned_at_count = writer.count
        rcv2 = Receiver(workdir, "restart_2", tcp=port)
        back = rcv2.wait_messages(1, timeout=15)
        delay_ms = back[0]["recv_ms"] - rcv2.listening["recv_ms"] if back else None
        chk.check(name + ": after %.1fs away, the first message arrives %s ms after the receiver is back (<= 2000)" % (
            RECEIVER_AWAY_S, delay_ms), delay_ms is not None and delay_ms <= 2000, "nothing received")
        # Let the stream run on a little with the receiver back, then end it.
        time.sleep(3.0)
        chk.check(name + ": the FIFO took the stream", writer.finish(), str(writer.error))
        total = writer.count
        ended = wait_log(stderr_path, "source ended", proc, timeout=30)
        chk.check(name + ": the pcap source ends after %d messages" % total, ended is not None,
                  open(stderr_path).read()[-1500:])
        # The outputs stop after the source: wait until every message is accounted for.
        deadline = time.monotonic() + 30
        while True:
            final = scrape(mport)
            sent = hep_metric(final, "tapflow_hep_sent_total", dest)
            dropped = hep_metric(final, "tapflow_hep_dropped_total", dest)
            if sent + dropped >= total or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        rcv2.wait_messages(int(sent) - len(rcv1.messages()), timeout=10)
        back_now = scrape(mport)
        with open(events) as f:
            sip_events = [e for e in map(json.loads, filter(str.strip, f)) if e.get("type") == "sip"]
        chk.equal(name + ": tapflow made one sip event per message of the stream", len(sip_events), total)
        index = {stream_message(i)[0]: i for i in range(total)}
        got1 = [x["fields"].get("correlation_id") for x in rcv1.messages()]
        got2 = [x["fields"].get("correlation_id") for x in rcv2.messages()]
        order = [index.get(c, -1) for c in got1 + got2]
        chk.check(name + ": every message received is one of the stream's, none twice, in order (%d)" % len(order),
                  -1 not in order and order == sorted(set(order)), "unknown or repeated: %s" % [
                      c for c, n in collections.Counter(got1 + got2).items() if n > 1 or c not in index][:5])
        bad = [x["fields"].get("correlation_id") for x in rcv1.messages() + rcv2.messages()
               if x["problems"] or x["fields"].get("correlation_id") not in index or
               base64.b64decode(x["fields"].get("payload_b64") or "") !=
               stream_message(index[x["fields"]["correlation_id"]])[1]]
        chk.check(name + ": each arrives whole, decoded by hep-js", not bad, str(bad[:3]))
        overflow = hep_metric(final, "tapflow_hep_dropped_total", dest, reason="buffer_full")
        by_reason = {dict(ls).get("reason"): v for ls, v in live_run.metric_values(
            final, "tapflow_hep_dropped_total").items()}
        chk.check(name + ": received %d + dropped{buffer_full} %d == %d messages in the stream, no other drops" % (
            len(order), overflow, total), len(order) + overflow == total and dropped == overflow,
            "dropped by reason: %s" % by_reason)
        chk.check(name + ": tapflow_hep_sent_total (%d) == messages received" % sent, sent == len(order))
        # Messages written to the FIFO while the receiver was away, received after its return: the buffer's.
        from_buffer = [index[c] for c in got2 if c in index and index[c] < returned_at_count]
        chk.check(name + ": the receiver was away long enough to overflow the buffer (%d dropped), and messages "
                  "buffered while it was away arrived after its return (%d)" % (overflow, len(from_buffer)),
                  overflow > 0 and len(from_buffer) > 0)
        closed = wait_log(stderr_path, "^hep output closed$", proc, timeout=1) or {}
        chk.equal(name + ": the closing log line says the same (written, sent, dropped)",
                  (closed.get("written"), closed.get("sent"), closed.get("dropped")),
                  (str(total), str(len(order)), str(total - len(order))))
        chk.equal(name + ": connections counted: the first and the one after the return",
                  hep_metric(back_now, "tapflow_hep_connects_total", dest), 2)
        chk.equal(name + ": disconnects counted: the receiver's death",
                  hep_metric(back_now, "tapflow_hep_disconnects_total", dest), 1)
        rc = traffic._stop_process(proc, signal.SIGTERM, timeout=30)
        log_text = open(stderr_path).read()
        chk.check(name + ": SIGTERM stops tapflow with exit code 0", rc == 0, "rc=%s: %s" % (rc, log_text[-1500:]))
        sanitizer_reports(chk, name, log_text)
    finally:
        writer.unblock()
        if proc.poll() is None:
            traffic._stop_process(proc, signal.SIGKILL, timeout=10)
        for r in (rcv1, rcv2):
            if r is not None:
                r.stop()


# -- 3. the auth key over plain UDP ------------------------------------------------

def auth_over_udp(chk, tapflow, workdir):
    name = "auth key over UDP"
    body = ("outputs:\n"
            "  - type: hep\n"
            "    destinations: [hep+tcp://127.0.0.1:9061, hep://127.0.0.1:9060]\n"
            "    agent_id: 7\n"
            "    auth_key: {env: %s}\n" % AUTH_ENV)
    refused = os.path.join(workdir, "auth_udp_refused.yaml")
    with open(refused, "w") as f:
        f.write(body)
    line = body.splitlines().index("    auth_key: {env: %s}" % AUTH_ENV) + 1
    env = dict(os.environ, **{AUTH_ENV: AUTH_KEY})
    proc = subprocess.run([tapflow, "check-config", refused], capture_output=True, text=True, env=env, timeout=30)
    out = proc.stdout + proc.stderr
    chk.check("%s: check-config refuses it without allow_auth_key_over_udp (exit 1)" % name, proc.returncode == 1,
              "rc=%s: %s" % (proc.returncode, out[-800:]))
    chk.check("%s: the error names the file, line %d and auth_key" % (name, line),
              ("%s:%d:" % (refused, line)) in out and "auth_key" in out and "allow_auth_key_over_udp" in out,
              out[-800:])
    chk.check("%s: the error does not print the key" % name, AUTH_KEY not in out, out[-800:])
    allowed = os.path.join(workdir, "auth_udp_allowed.yaml")
    with open(allowed, "w") as f:
        f.write(body + "    allow_auth_key_over_udp: true\n")
    proc = subprocess.run([tapflow, "check-config", allowed], capture_output=True, text=True, env=env, timeout=30)
    chk.check("%s: with allow_auth_key_over_udp: true, check-config accepts it" % name, proc.returncode == 0,
              "rc=%s: %s" % (proc.returncode, (proc.stdout + proc.stderr)[-800:]))
    tcp_only = os.path.join(workdir, "auth_tcp.yaml")
    with open(tcp_only, "w") as f:
        f.write(body.replace(", hep://127.0.0.1:9060", ""))
    proc = subprocess.run([tapflow, "check-config", tcp_only], capture_output=True, text=True, env=env, timeout=30)
    chk.check("%s: an auth key over TCP alone needs no permission" % name, proc.returncode == 0,
              "rc=%s: %s" % (proc.returncode, (proc.stdout + proc.stderr)[-800:]))
    # -o hep:// takes the auth key from the config's hep output: the same permission applies.
    pcap = os.path.join(workdir, "sip_vlan.pcap")
    if not os.path.exists(pcap):
        vlan_pcap(pcap)
    rcv = Receiver(workdir, "auth_cli", udp=0)
    proc = subprocess.run([tapflow, "read", pcap, "-o", "hep://127.0.0.1:%d" % rcv.udp, "-c", tcp_only],
                          capture_output=True, text=True, env=env, timeout=60)
    out = proc.stdout + proc.stderr
    time.sleep(0.5)
    rcv.stop()
    chk.check("%s: -o hep:// with the config's auth key and no allow_auth_key_over_udp is refused (exit %s), "
              "naming allow_auth_key_over_udp, nothing sent" % (name, proc.returncode),
              proc.returncode not in (0, None) and "allow_auth_key_over_udp" in out and not rcv.messages(),
              "received %d messages: %s" % (len(rcv.messages()), out[-800:]))
    chk.check("%s: that refusal does not print the key" % name, AUTH_KEY not in out, out[-800:])


# -- main ---------------------------------------------------------------------------

def parse_args(argv):
    """harness.parse_args without --no-traffic (every part makes its own), --only naming PARTS."""
    opts = harness.parse_args(argv, USAGE)
    opts["only"] = opts["only"] or set(PARTS)
    if not opts["traffic"] or not opts["only"] <= set(PARTS):
        sys.exit(USAGE)
    if opts["keep"]:
        opts["keep"] = os.path.abspath(opts["keep"])
    return opts


def main(argv):
    opts = parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("test_hep.py needs root (network namespaces for sipp)")
    for tool in ("node", "sngrep", "sipp", "tcpdump", "tshark"):
        if shutil.which(tool) is None:
            sys.exit("test_hep.py needs %s on PATH" % tool)
    if not os.path.isdir(NODE_MODULES):
        sys.exit("hep-js is not installed: npm ci --prefix %s" % os.path.join(HERE, "hep"))
    workdir = opts["keep"] or tempfile.mkdtemp(prefix="tapflow-it-hep-")
    os.makedirs(workdir, exist_ok=True)
    chk = harness.Checker("hep")
    t0 = time.monotonic()
    try:
        if "sipp" in opts["only"]:
            pcap = analyzer_traffic.make_pcaps(workdir, ["sip"])["sip"]
            chk.guarded("sipp calls", read_to_consumers, chk, opts["tapflow"], workdir, pcap)
            stop_all()
        if "vlan" in opts["only"]:
            chk.guarded("vlan", read_vlan_cli, chk, opts["tapflow"], workdir)
            stop_all()
        if "restart" in opts["only"]:
            chk.guarded("tcp restart", tcp_restart, chk, opts["tapflow"], workdir)
            stop_all()
        if "auth" in opts["only"]:
            chk.guarded("auth key over UDP", auth_over_udp, chk, opts["tapflow"], workdir)
    finally:
        stop_all()
        if not opts["keep"]:
            shutil.rmtree(workdir, ignore_errors=True)
    print("hep: %.1fs" % (time.monotonic() - t0), flush=True)
    return chk.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
