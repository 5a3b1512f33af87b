#!/usr/bin/python3
"""Integration test of TCP stream reassembly under edited streams and floods.

1. Differential, end to end: the real HTTP, SIP, DNS and TLS pcaps of
   analyzer_traffic.py, with every TCP segment carrying payload rewritten into
     one_byte   one-byte segments (same timestamps),
     reordered  each direction's bytes cut at random points (fixed seed) and
                adjacent pieces swapped,
     duplicated every segment sent twice, plus an overlapping retransmission of
                the bytes around it and now and then a late copy of older bytes,
   must give the same analyzer events as the original pcap (as a multiset, with
   the fields that depend on packet timing removed). SYN, RST, FIN (split off
   a FIN that carries data) and pure ACKs stay as they are. tshark, with
   out-of-order reassembly on, must dissect the same application fields in the
   variants as in the original, so the edited streams are still valid.

2. Memory caps under a flood: a generated pcap of 2032 TCP connections to port
   80 (handshake, then 40 rounds of out-of-order one-byte segments over 2000
   connections that never fill their first hole, and a few connections that
   hit the per-connection caps, duplicate a request or reset) is fed to
   `tapflow run` (one worker) through a FIFO, phase by phase. After each phase
   and at the end of input, /metrics must show exactly the reassembly counters
   and gauges the generator's arithmetic predicts (drops at each cap included),
   the worker's reassembly memory and segments must never be above
   tcp_reassembly.max_buffered_bytes / max_buffered_segments (also sampled
   continuously), and the reassembler's byte identity (tcp_reassembly_stats.h)
   must hold:
     payload = delivered + retransmitted + dropped{flow_cap,worker_cap,out_of_window}
               + released_at_end + discarded + after_end + still buffered.
   Twice: with the worker's byte cap binding first, then its segment cap.

Packets are built here with struct, not scapy: scapy takes about 1 ms per
packet and the one-byte HTTP variant alone has 1.3 million. scapy instead
checks a sample of every generated pcap: it recomputes the IP length, IP
checksum and TCP checksum of each sampled packet and must get the same bytes.

Usage: test_stream_edits.py TAPFLOW [--keep DIR] [--no-traffic] [--only differential,flood]
  --no-traffic reuses the analyzer pcaps a previous --keep DIR run left there.
"""

import array
import collections
import json
import os
import random
import re
import shutil
import signal
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
import harness  # noqa: E402
from pcapfile import pcap_header, pcap_record, read_pcap, write_pcap  # noqa: E402

USAGE = "Usage: test_stream_edits.py TAPFLOW [--keep DIR] [--no-traffic] [--only differential,flood]"
APP_TYPES = ("http", "sip", "sip_call", "dns", "tls")
SEED = 20261127
MAX_DIFF_LINES = 12

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MAX_PIECE = 1448  # the captures' MSS: no rebuilt segment is longer


# -- pcap files ---------------------------------------------------------------

# -- TCP segments: dissect and rebuild ----------------------------------------

def checksum(data):
    """Internet checksum, as the bytes to store (computed on native-order words,
    which is byte-order independent when the result is stored natively too)."""
    if len(data) & 1:
        data += b"\0"
    s = sum(array.array("H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return struct.pack("=H", ~s & 0xFFFF)


class Segment:
    """One TCP packet split into what a rebuilt copy keeps (link, IP and TCP
    headers) and what it changes (sequence number, flags, payload)."""
    __slots__ = ("link", "version", "ip", "tcp", "src", "dst", "sport", "dport", "seq", "flags", "payload")

    @property
    def direction(self):
        return (self.src, self.sport, self.dst, self.dport)

    @property
    def connection(self):
        return tuple(sorted([(self.src, self.sport), (self.dst, self.dport)]))


def dissect(frame):
    """A Segment for an Ethernet (optionally VLAN-tagged) IPv4/IPv6 TCP frame, else None."""
    off = 12
    ethertype = struct.unpack_from("!H", frame, off)[0] if len(frame) >= 14 else 0
    while ethertype in (0x8100, 0x88A8) and len(frame) >= off + 6:
        off += 4
        ethertype = struct.unpack_from("!H", frame, off)[0]
    off += 2
    seg = Segment()
    seg.link = frame[:off]
    if ethertype == 0x0800 and len(frame) >= off + 20:
        ihl = (frame[off] & 0x0F) * 4
        total = struct.unpack_from("!H", frame, off + 2)[0]
        frag = struct.unpack_from("!H", frame, off + 6)[0]
        if frame[off + 9] != 6 or frag & 0x3FFF or len(frame) < off + total:
            return None
        seg.version, seg.ip = 4, frame[off:off + ihl]
        seg.src, seg.dst = frame[off + 12:off + 16], frame[off + 16:off + 20]
        l4 = frame[off + ihl:off + total]
    elif ethertype == 0x86DD and len(frame) >= off + 40:
        plen = struct.unpack_from("!H", frame, off + 4)[0]
        if frame[off + 6] != 6 or len(frame) < off + 40 + plen:
            return None
        seg.version, seg.ip = 6, frame[off:off + 40]
        seg.src, seg.dst = frame[off + 8:off + 24], frame[off + 24:off + 40]
        l4 = frame[off + 40:off + 40 + plen]
    else:
        return None
    if len(l4) < 20 or len(l4) < (l4[12] >> 4) * 4:
        return None
    doff = (l4[12] >> 4) * 4
    seg.tcp = l4[:doff]
    seg.sport, seg.dport, seg.seq = struct.unpack_from("!HHI", l4, 0)
    seg.flags = l4[13]
    seg.payload = l4[doff:]
    return seg


def build(seg, seq, flags, payload):
    """The frame of `seg` with another sequence number, flags and payload; IP
    length, IP checksum and TCP checksum recomputed."""
    tcp = bytearray(seg.tcp)
    struct.pack_into("!I", tcp, 4, seq & 0xFFFFFFFF)
    tcp[13] = flags
    tcp[16:18] = b"\0\0"
    tcp_len = len(tcp) + len(payload)
    ip = bytearray(seg.ip)
    if seg.version == 4:
        struct.pack_into("!H", ip, 2, len(ip) + tcp_len)
        ip[10:12] = b"\0\0"
        ip[10:12] = checksum(bytes(ip))
        pseudo = seg.src + seg.dst + struct.pack("!HH", 6, tcp_len)
    else:
        struct.pack_into("!H", ip, 4, tcp_len)
        pseudo = seg.src + seg.dst + struct.pack("!II", tcp_len, 6)
    tcp[16:18] = checksum(pseudo + bytes(tcp) + payload)
    return seg.link + bytes(ip) + bytes(tcp) + payload


def is_data(seg):
    """A segment this test rewrites: payload, and neither SYN nor RST."""
    return seg is not None and seg.payload and not seg.flags & (SYN | RST)


# -- the three edits ------------------------------------------------------------

def edit_one_byte(records, rng):
    """Every payload byte in a segment of its own, at the original's time."""
    out = []
    for ts, frame in records:
        seg = dissect(frame)
        if not is_data(seg):
            out.append((ts, frame))
            continue
        flags = seg.flags & ~FIN
        out.extend((ts, build(seg, seg.seq + i, flags, seg.payload[i:i + 1])) for i in range(len(seg.payload)))
        if seg.flags & FIN:
            out.append((ts, build(seg, seg.seq + len(seg.payload), seg.flags, b"")))
    return out


def piece_sizes(rng, total):
    """Random cut points: many tiny pieces, some mid-sized, some full-sized."""
    sizes = []
    while total > 0:
        r = rng.random()
        n = rng.randint(1, 8) if r < 0.35 else rng.randint(9, 300) if r < 0.75 else rng.randint(301, MAX_PIECE)
        n = min(n, total)
        sizes.append(n)
        total -= n
    return sizes


def edit_reordered(records, rng):
    """Each direction's bytes cut at random points and adjacent pieces swapped.

    The bytes a side sends between two payload packets of the other side (a
    "flight") are cut and reordered among themselves only, and a swapped pair
    goes out at the time and place of its earlier piece's first byte. So every
    byte is on the wire no later than in the original: no ACK of the other side
    acknowledges a byte not yet seen (which tapflow would rightly skip as lost
    by the capture), and no message overtakes the other side's answer it
    depends on (which would change the conversation, not just its packets)."""
    slots = [[] for _ in records]
    flights = {}  # direction -> [(slot, segment)], one contiguous run of sequence space

    def flush(direction):
        parts = flights.pop(direction, None)
        if not parts:
            return
        data = b"".join(seg.payload for _, seg in parts)
        base = parts[0][1].seq
        starts = []  # (offset of the packet's first byte, slot, segment)
        at = 0
        for slot, seg in parts:
            starts.append((at, slot, seg))
            at += len(seg.payload)
        pieces = []  # (offset, length, slot, template)
        at, k = 0, 0
        for n in piece_sizes(rng, len(data)):
            while k + 1 < len(starts) and starts[k + 1][0] <= at:
                k += 1
            pieces.append((at, n, starts[k][1], starts[k][2]))
            at += n
        order = []
        for j in range(0, len(pieces), 2):
            pair = pieces[j:j + 2]
            order.extend((pieces[j][2], p) for p in reversed(pair))
        for slot, (off, n, _, tmpl) in order:
            slots[slot].append(build(tmpl, base + off, tmpl.flags & ~FIN, data[off:off + n]))

    for i, (ts, frame) in enumerate(records):
        seg = dissect(frame)
        if seg is None:
            slots[i].append(frame)
            continue
        d = seg.direction
        back = (seg.dst, seg.dport, seg.src, seg.sport)
        if seg.payload or seg.flags & (SYN | FIN | RST):
            flush(back)  # the other side's flight ends where this side speaks
        if not is_data(seg):
            flush(d)
            slots[i].append(frame)
            continue
        run = flights.get(d)
        if run and (run[-1][1].seq + len(run[-1][1].payload)) & 0xFFFFFFFF != seg.seq:
            flush(d)  # not contiguous (a retransmission in the original): a new run
        flights.setdefault(d, []).append((i, seg))
        if seg.flags & FIN:
            flush(d)
            slots[i].append(build(seg, seg.seq + len(seg.payload), seg.flags, b""))
    for d in list(flights):
        flush(d)
    return [(records[i][0], frame) for i, frames in enumerate(slots) for frame in frames]


def edit_duplicated(records, rng):
    """Every segment twice, then an overlapping retransmission of the bytes
    around its start (the same bytes), and now and then a late copy of older
    bytes. Nothing is sent earlier than in the original."""
    out = []
    sent = {}  # direction -> (sequence number of byte 0, bytearray of what was sent so far)
    for ts, frame in records:
        seg = dissect(frame)
        if not is_data(seg):
            out.append((ts, frame))
            continue
        base, history = sent.setdefault(seg.direction, (seg.seq, bytearray()))
        start = (seg.seq - base) & 0xFFFFFFFF
        flags = seg.flags & ~FIN
        payload = seg.payload
        copy = build(seg, seg.seq, flags, payload)
        out += [(ts, copy), (ts, copy)]
        if start <= len(history):
            # Only a contiguous history is replayed: its bytes are known.
            del history[start:]
            history += payload
            before = min(start, 700)
            if before > 0:
                k = rng.randint(1, before)
                m = rng.randint(1, min(len(payload), MAX_PIECE - 700))
                out.append((ts, build(seg, seg.seq - k, flags, bytes(history[start - k:start + m]))))
            elif len(payload) > 1:
                out.append((ts, build(seg, seg.seq, flags, payload[:rng.randint(1, len(payload) - 1)])))
            if start > 0 and rng.random() < 0.3:
                a = rng.randrange(start)
                b = rng.randint(a + 1, min(start, a + MAX_PIECE))
                out.append((ts, build(seg, base + a, flags, bytes(history[a:b]))))
        if seg.flags & FIN:
            out.append((ts, build(seg, seg.seq + len(payload), seg.flags, b"")))
    return out


EDITS = {"one_byte": edit_one_byte, "reordered": edit_reordered, "duplicated": edit_duplicated}


def scapy_check(records, sample, rng, originals=frozenset()):
    """Problems scapy finds in a sample of rebuilt TCP frames (those not in
    `originals`, whose checksums are often left to the NIC by the sender): it
    recomputes IP length and checksum and the TCP checksum; the bytes must not
    change."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    problems = []
    rebuilt = [r for r in records if r[1] not in originals]
    for ts, frame in rng.sample(rebuilt, min(sample, len(rebuilt))):
        pkt = Ether(frame)
        if TCP not in pkt:
            continue
        again = pkt.copy()
        if IP in again:
            del again[IP].len
            del again[IP].chksum
        elif IPv6 in again:
            del again[IPv6].plen
        else:
            continue
        del again[TCP].chksum
        if bytes(again) != frame:
            problems.append("frame at %d: scapy rebuilds it as %s, it is %s" % (ts, bytes(again).hex()[:120],
                                                                                  frame.hex()[:120]))
    return problems


# -- events ---------------------------------------------------------------------

# Fields that depend on when bytes arrive, not on what they are. one_byte and
# duplicated keep every byte's first arrival at its original time, and change
# none of them (the check names which fields differed, and how often). But a
# reordered piece goes out at the time of the earlier piece it is swapped
# with, so a message's first or last byte may be seen earlier: event.start,
# event.end and event.duration (end - start) move, and so do the intervals
# computed from them: http.latency_us, dns.latency_us, sip.call.setup_us,
# ring_us and duration_us. Everything else (methods, URLs, status codes, body
# byte counts, DNS answers, SIP fields, JA3/JA4, ...) must be identical.
TIMING_FIELDS = ("event.start", "event.end", "event.duration", "http.latency_us", "dns.latency_us",
                 "sip.call.setup_us", "sip.call.ring_us", "sip.call.duration_us")


def without_timing(ev):
    ev = json.loads(json.dumps(ev))
    for path in TIMING_FIELDS:
        *parents, last = path.split(".")
        obj = ev
        for key in parents:
            obj = obj.get(key, {}) if isinstance(obj, dict) else {}
        if isinstance(obj, dict):
            obj.pop(last, None)
    return json.dumps(ev, sort_keys=True)


def field(ev, path):
    for key in path.split("."):
        if not isinstance(ev, dict) or key not in ev:
            return None
        ev = ev[key]
    return ev


def timing_differences(base_events, variant_events):
    """Which timing fields differ between events that are otherwise the same
    (paired in order of start time within equal stripped events)."""
    groups = collections.defaultdict(lambda: ([], []))
    for side, events in ((0, base_events), (1, variant_events)):
        for ev in events:
            groups[without_timing(ev)][side].append(ev)
    differ = collections.Counter()
    for a, b in groups.values():
        key = lambda ev: (field(ev, "event.start") or "", json.dumps(ev, sort_keys=True))  # noqa: E731
        for x, y in zip(sorted(a, key=key), sorted(b, key=key)):
            for path in TIMING_FIELDS:
                if field(x, path) != field(y, path):
                    differ[path] += 1
    return differ


def diff_lines(want, got):
    w, g = collections.Counter(want), collections.Counter(got)
    lines = ["  only in the original: %s" % x[:400] for x in sorted((w - g).elements())]
    lines += ["  only in the variant:  %s" % x[:400] for x in sorted((g - w).elements())]
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + ["  ... and %d more" % (len(lines) - MAX_DIFF_LINES)]
    return "\n" + "\n".join(lines)


def flow_summary(ev):
    """What an edit must not change in a flow record: the connection, how it ended, the flags."""
    return json.dumps([ev["network"]["community_id"], ev["event"]["reason"], strip_counts(ev["source"]),
                       strip_counts(ev["destination"]),
                       field(ev, "tcp.client.flags"), field(ev, "tcp.server.flags")], sort_keys=True)


def strip_counts(end):
    return {k: v for k, v in end.items() if k not in ("packets", "bytes")}


def check_run(chk, name, run):
    ok = chk.check("%s: tapflow read exits 0 and prints JSON lines" % name,
                   run.returncode == 0 and not run.bad_lines,
                   "rc=%s bad=%s stderr=%s" % (run.returncode, run.bad_lines[:2], run.stderr[-800:]))
    for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        if marker in run.stderr:
            chk.check("%s: no %s report" % (name, marker), False, run.stderr[-1500:])
            ok = False
    return ok


# -- tshark: are the variants still valid streams? ------------------------------

# Per scenario, the application fields tshark must dissect identically (as a
# multiset of (stream, field, value)): out-of-order reassembly on, and
# retransmitted segments not dissected a second time. Except the status codes
# on a connection with pipelined requests: tshark 4.0 pairs a pipelined HEAD's
# answer with the wrong request, expects a body and swallows the next answer
# (see analyzer_truth.py), and where that happens depends on how the bytes are
# cut (http.desegment_body off, as analyzer_truth.py does, loses answers too
# once a header no longer starts a segment).
TSHARK_FIELDS = {
    "http": ("http.request || http.response", ["http.request.method", "http.request.uri", "http.host",
                                                "http.response.code"]),
    "sip": ("sip", ["sip.Request-Line", "sip.Status-Line", "sip.Call-ID", "sip.CSeq", "sdp.media"]),
    "dns": ("dns", ["dns.id", "dns.qry.name", "dns.qry.type", "dns.flags.rcode", "dns.a", "dns.aaaa",
                    "dns.cname"]),
    "tls": ("tls.handshake.type == 1 || tls.handshake.type == 2",
            ["tls.handshake.type", "tls.handshake.extensions_server_name", "tls.handshake.ja3",
             "tls.handshake.ja3s"]),
}


def tshark_fields(pcap, kind):
    display, fields = TSHARK_FIELDS[kind]
    cmd = ["tshark", "-n", "-r", pcap, "-o", "tcp.reassemble_out_of_order:TRUE",
           "-o", "tcp.no_subdissector_on_error:TRUE", "-Y", display, "-T", "fields",
           "-E", "separator=\t", "-E", "aggregator=\x1f", "-e", "tcp.stream", "-e", "udp.stream"]
    for f in fields:
        cmd += ["-e", f]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError("tshark failed on %s: %s" % (pcap, proc.stderr[-800:]))
    items = []
    pipelined = set()
    for line in proc.stdout.splitlines():
        cols = line.split("\t")
        stream = ("tcp" + cols[0]) if cols[0] else ("udp" + cols[1])
        if kind == "http" and cols[2].count("\x1f") > 0:
            pipelined.add(stream)
        for name, value in zip(fields, cols[2:]):
            items += ["%s %s %s" % (stream, name, v) for v in value.split("\x1f")
                      if v and (name != "tls.handshake.type" or v in ("1", "2"))]
    return items, pipelined


def unpipelined(items, pipelined):
    return [x for x in items if not (x.split(" ")[0] in pipelined and x.split(" ")[1] == "http.response.code")]


# -- part 1: the differential test ----------------------------------------------

def differential(chk, tapflow, workdir, pcaps):
    rng = random.Random(SEED)
    for kind, pcap in pcaps.items():
        base = harness.run_tapflow(tapflow, ["read", pcap])
        name = "original %s" % kind
        if not check_run(chk, name, base):
            continue
        base_app = [ev for ev in base.events if ev.get("type") in APP_TYPES]
        base_flows = [ev for ev in base.events if ev.get("type") == "flow"]
        chk.check("%s: the original gives analyzer events (%d)" % (name, len(base_app)), len(base_app) > 0)
        linktype, records = read_pcap(pcap)
        originals = frozenset(frame for _, frame in records)
        data = [seg for seg in map(dissect, (frame for _, frame in records)) if is_data(seg)]
        data_segments = len(data)
        # one_byte turns a data segment into one packet per byte, plus the bare FIN split off it.
        one_byte_added = sum(len(seg.payload) - 1 + bool(seg.flags & FIN) for seg in data)
        base_tshark, pipelined = tshark_fields(pcap, kind)
        base_tshark = unpipelined(base_tshark, pipelined)
        chk.check("%s: tshark dissects its application fields (%d)" % (name, len(base_tshark)), len(base_tshark) > 0)
        for edit, fn in EDITS.items():
            t0 = time.monotonic()
            out = fn(records, rng)
            vname = "%s %s" % (kind, edit)
            path = os.path.join(workdir, "edit_%s_%s.pcap" % (kind, edit))
            write_pcap(path, linktype, out)
            made = time.monotonic() - t0
            problems = scapy_check(out, 300, rng, originals)
            chk.check("%s: scapy finds the IP length, IP and TCP checksums of sampled packets right" % vname,
                      not problems, "\n  " + "\n  ".join(problems[:5]))
            run = harness.run_tapflow(tapflow, ["read", path])
            if not check_run(chk, vname, run):
                continue
            app = [ev for ev in run.events if ev.get("type") in APP_TYPES]
            flows = [ev for ev in run.events if ev.get("type") == "flow"]
            differ = timing_differences(base_app, app)
            note = ", ".join("%s %d" % kv for kv in sorted(differ.items())) or "none"
            chk.check("%s: the same %d analyzer events as the original, timing fields aside (%d packets, %.1fs to "
                      "make; timing fields that differ: %s)" % (vname, len(base_app), len(out), made, note),
                      sorted(map(without_timing, app)) == sorted(map(without_timing, base_app)),
                      diff_lines(map(without_timing, base_app), map(without_timing, app)))
            chk.check("%s: the same flows, end reasons and TCP flags" % vname,
                      sorted(map(flow_summary, flows)) == sorted(map(flow_summary, base_flows)),
                      diff_lines(map(flow_summary, base_flows), map(flow_summary, flows)))
            # The edit really is in the variant, as tapflow's own flow records count it.
            packets = sum(ev["network"]["packets"] for ev in flows)
            retrans = sum(field(ev, "tcp.%s.retransmissions" % s) or 0 for ev in flows for s in ("client", "server"))
            ooo = sum(field(ev, "tcp.%s.out_of_order" % s) or 0 for ev in flows for s in ("client", "server"))
            if edit == "one_byte":
                chk.equal("%s: flow records count every one-byte segment" % vname, packets,
                          sum(ev["network"]["packets"] for ev in base_flows) + one_byte_added)
            elif edit == "reordered":
                chk.check("%s: tapflow saw out-of-order segments (%d)" % (vname, ooo), ooo > 0)
            else:
                chk.check("%s: tapflow saw at least one retransmission per data segment (%d >= %d)" % (
                    vname, retrans, data_segments), retrans >= data_segments)
            if kind == "http" and edit == "one_byte":
                continue  # 1.3 million one-byte segments: minutes of tshark, and the other edits cover HTTP
            got = unpipelined(tshark_fields(path, kind)[0], pipelined)
            chk.check("%s: tshark dissects the same application fields as in the original (%d)" % (vname, len(got)),
                      collections.Counter(got) == collections.Counter(base_tshark), diff_lines(base_tshark, got))


# -- part 2: the flood ------------------------------------------------------------

FLOOD_CAP_BYTES = 1 << 20  # tcp_reassembly.max_buffered_bytes
BLOCK = 512                # kTcpReassemblyBlockSize: a buffered one-byte run takes a whole block
CAP_BLOCKS = FLOOD_CAP_BYTES // BLOCK
FLOW_CAP_SEGMENTS = 64     # max_flow_buffered_segments
FLOW_CAP_BYTES = 1024      # max_flow_buffered_bytes
FLUSH_EVERY = 256          # the pcap source hands packets to the workers in bursts of this many
SERVER_IP = bytes([10, 201, 0, 1])
CLIENT_MAC, SERVER_MAC = bytes.fromhex("020000c80001"), bytes.fromhex("020000c90001")
BASE_TS = 1795780800 * 10**9  # 2026-11-27T00:00:00Z

# The groups of connections, in the order they are sent.
GREEDY_FLOWS, GREEDY_SEGMENTS = 8, 100
BIG_FLOWS, BIG_LEN = 4, 1400
DUP_FLOWS = 10
RESET_FLOWS, RESET_RUNS, RESET_PAYLOAD = 10, 5, 7
ROUND_FLOWS, ROUNDS = 2000, 40
CHECKED_ROUNDS = (1, 2, 10, 20, 30, 40)  # rounds after which /metrics is checked
DUP_REQUEST = b"GET /duplicate HTTP/1.1\r\nHost: flood.test\r\nX-Pad: " + b"p" * 46 + b"\r\n\r\n"
assert len(DUP_REQUEST) == 100

# Counters the generator predicts, as /metrics names them (without the prefix).
LEDGER_KEYS = ("segments", "payload_bytes", "bytes_delivered", "retransmitted_bytes", "out_of_order_segments",
               "gaps_flow_cap", "gap_bytes", "flow_cap_segments", "flow_cap_bytes", "worker_cap_segments",
               "worker_cap_bytes", "released_at_end_segments", "released_at_end_bytes", "discarded_bytes",
               "segments_after_end", "bytes_after_end", "buffered_bytes", "buffered_segments", "memory_bytes",
               "midstream_pickups", "gaps_peer_ack", "out_of_window_bytes", "gaps", "gaps_close", "syn_resyncs",
               "overlap_conflicts", "out_of_window_segments", "ignored_fins", "depth_limited_streams")


def flood_template(i, to_server):
    """A Segment to build packets of flood connection i from (IPv4, no TCP options)."""
    client_ip = bytes([10, 200, i // 250, i % 250 + 1])
    sport = 20000 + i
    seg = Segment()
    seg.version = 4
    src, dst = (client_ip, SERVER_IP) if to_server else (SERVER_IP, client_ip)
    seg.link = (SERVER_MAC + CLIENT_MAC if to_server else CLIENT_MAC + SERVER_MAC) + b"\x08\x00"
    seg.ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, i & 0xFFFF, 0x4000, 64, 6, 0, src, dst)
    seg.src, seg.dst = src, dst
    seg.sport, seg.dport = (sport, 80) if to_server else (80, sport)
    seg.flags = 0
    return seg


class Flood:
    """Builds the flood phase by phase, keeping what each phase should leave
    in tapflow's counters: the arithmetic of every group is in its method."""

    def __init__(self, max_runs):
        self.max_runs = max_runs  # runs the worker may hold: each one-byte run is a block and a segment
        self.phases = []  # (name, [frames], ledger after the phase)
        self.ledger = collections.Counter()
        self.frames = []
        self.blocks = 0   # reassembly blocks the worker holds (one per buffered one-byte run)
        self.ts = BASE_TS
        self.conns = []   # per connection: (client template, server template, client ISN, server ISN)
        self.packets = 0
        self.round_buffered = 0        # round-robin connections holding their first run
        self.later_rounds_buffered = False

    def emit(self, seg, seq, flags, payload=b"", ack=0):
        seg.tcp = struct.pack("!HHIIBBHHH", seg.sport, seg.dport, 0, ack & 0xFFFFFFFF, 5 << 4, 0, 65535, 0, 0)
        self.ts += 1000
        self.frames.append((self.ts, build(seg, seq, flags, payload)))
        self.ledger["segments"] += 1
        self.ledger["payload_bytes"] += len(payload)

    def connect(self, i):
        # Flow 0's client starts just below 2^32: its stream wraps around.
        cisn = 0xFFFFFFF0 if i == 0 else (i * 2654435761) & 0xFFFFFFFF
        sisn = (i * 40503 + 12345) & 0xFFFFFFFF
        c, s = flood_template(i, True), flood_template(i, False)
        self.emit(c, cisn, SYN)
        self.emit(s, sisn, SYN | ACK, ack=cisn + 1)
        self.emit(c, cisn + 1, ACK, ack=sisn + 1)
        self.conns.append((c, s, cisn, sisn))
        return len(self.conns) - 1

    def data(self, conn, offset, payload, flags=ACK | PSH):
        """A client segment at stream offset `offset` (0 is the byte after the SYN)."""
        c, _, cisn, sisn = self.conns[conn]
        self.emit(c, cisn + 1 + offset, flags, payload, ack=sisn + 1)

    def end_phase(self, name):
        """Pads the phase with UDP datagrams (a flow no analyzer takes) to a whole
        burst, so the reader hands all of it to the worker before it waits for more."""
        while len(self.frames) % FLUSH_EVERY:
            self.ts += 1000
            udp = struct.pack("!HHHH", 40000, 40001, 8 + 4, 0) + b"pad!"
            ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                                       bytes([10, 202, 0, 1]), bytes([10, 202, 0, 2])))
            ip[10:12] = checksum(bytes(ip))
            self.frames.append((self.ts, CLIENT_MAC + SERVER_MAC + b"\x08\x00" + bytes(ip) + udp))
        self.snapshot()
        self.phases.append((name, self.frames, collections.Counter(self.ledger)))
        self.packets += len(self.frames)
        self.frames = []

    def snapshot(self):
        self.ledger["buffered_bytes"] = self.ledger["buffered_segments"] = self.blocks
        self.ledger["memory_bytes"] = self.blocks * BLOCK
        self.ledger["gaps"] = self.ledger["gaps_flow_cap"] + self.ledger["gaps_close"] + self.ledger["gaps_peer_ack"]

    def end_of_input(self):
        """What the end of the input does: every open flow ends, and each stream
        still holding runs or missing bytes up to the highest byte seen gives
        them up as gaps (gaps_close), delivering the runs between them."""
        # Greedy connections: the next byte is at offset 2 * (100 - 64) + 1, the
        # 64 runs after it each follow a 1-byte hole.
        self.ledger["gaps_close"] += GREEDY_FLOWS * FLOW_CAP_SEGMENTS
        self.ledger["gap_bytes"] += GREEDY_FLOWS * FLOW_CAP_SEGMENTS
        self.ledger["bytes_delivered"] += GREEDY_FLOWS * FLOW_CAP_SEGMENTS
        # The dropped big segment was seen: one hole up to its end.
        self.ledger["gaps_close"] += BIG_FLOWS
        self.ledger["gap_bytes"] += BIG_FLOWS * (1 + BIG_LEN)
        # Round-robin connections saw bytes up to offset 2 * ROUNDS (dropped ones count as seen).
        # With its first run buffered: a 2-byte hole, the run, the hole after it;
        # without: one hole over everything. (The worker was full before round 2.)
        assert not self.later_rounds_buffered, "the arithmetic below assumes at most one run per connection"
        seen_end = 2 * ROUNDS + 1
        unbuffered = ROUND_FLOWS - self.round_buffered
        self.ledger["gaps_close"] += 2 * self.round_buffered + unbuffered
        self.ledger["gap_bytes"] += self.round_buffered * (seen_end - 1) + unbuffered * seen_end
        self.ledger["bytes_delivered"] += self.round_buffered
        self.blocks = 0
        self.snapshot()
        return collections.Counter(self.ledger)

    def greedy(self):
        """GREEDY_SEGMENTS one-byte segments at offsets 2, 4, 6, ...: each a run
        of its own behind the hole at 0. The first 64 fill the connection's
        segment cap; each later one makes the stream give up its first hole
        (2 bytes the first time, then the 1-byte holes between runs) and deliver
        the run after it, so one buffered run makes room for the new one."""
        conns = [self.connect(i) for i in range(GREEDY_FLOWS)]
        for conn in conns:
            for k in range(GREEDY_SEGMENTS):
                self.data(conn, 2 * (k + 1), b"g")
            over = GREEDY_SEGMENTS - FLOW_CAP_SEGMENTS
            self.ledger["out_of_order_segments"] += GREEDY_SEGMENTS
            self.ledger["gaps_flow_cap"] += over
            self.ledger["gap_bytes"] += 2 + (over - 1)
            self.ledger["bytes_delivered"] += over
            self.blocks += FLOW_CAP_SEGMENTS
        self.end_phase("greedy connections at their segment cap")

    def big_dup_reset(self):
        """A 1400-byte segment behind a 1-byte hole is alone larger than the
        connection's byte cap: dropped (flow_cap). A 100-byte in-order request
        sent twice: delivered once, retransmitted once. Five buffered runs, then
        a RST carrying 7 bytes (discarded), which ends the stream and releases
        the runs, then a byte after the end."""
        for i in range(BIG_FLOWS):
            conn = self.connect(len(self.conns))
            self.data(conn, 1, b"B" * BIG_LEN)
            self.ledger["out_of_order_segments"] += 1
            self.ledger["flow_cap_segments"] += 1
            self.ledger["flow_cap_bytes"] += BIG_LEN
        for i in range(DUP_FLOWS):
            conn = self.connect(len(self.conns))
            self.data(conn, 0, DUP_REQUEST)
            self.data(conn, 0, DUP_REQUEST)
            self.ledger["bytes_delivered"] += len(DUP_REQUEST)
            self.ledger["retransmitted_bytes"] += len(DUP_REQUEST)
        resets = []
        for i in range(RESET_FLOWS):
            conn = self.connect(len(self.conns))
            for k in range(RESET_RUNS):
                self.data(conn, 2 * (k + 1), b"r")
            self.ledger["out_of_order_segments"] += RESET_RUNS
            self.blocks += RESET_RUNS
            resets.append(conn)
        self.end_phase("a segment over the byte cap, duplicates, runs before a reset")
        for conn in resets:
            self.data(conn, 0, b"R" * RESET_PAYLOAD, flags=RST | ACK)
            self.data(conn, RESET_PAYLOAD, b"a")
            self.ledger["discarded_bytes"] += RESET_PAYLOAD
            self.ledger["released_at_end_segments"] += RESET_RUNS
            self.ledger["released_at_end_bytes"] += RESET_RUNS
            self.ledger["segments_after_end"] += 1
            self.ledger["bytes_after_end"] += 1
            self.blocks -= RESET_RUNS
        self.end_phase("resets release their runs")

    def rounds(self):
        """ROUND_FLOWS connections take turns, each round one one-byte segment per
        connection at offset 2, 4, ...: every connection stays far below its own
        caps, so the worker's cap decides. A run takes a 512-byte block; while
        blocks are left a segment is buffered, after that every one is dropped
        (worker_cap) and its byte becomes a hole."""
        conns = [self.connect(len(self.conns)) for _ in range(ROUND_FLOWS)]
        self.end_phase("handshakes of %d connections" % ROUND_FLOWS)
        for r in range(ROUNDS):
            for conn in conns:
                self.data(conn, 2 * (r + 1), b"x")
                self.ledger["out_of_order_segments"] += 1
                if self.blocks < self.max_runs:
                    self.blocks += 1
                    self.round_buffered += 1
                    self.later_rounds_buffered |= r > 0
                else:
                    self.ledger["worker_cap_segments"] += 1
                    self.ledger["worker_cap_bytes"] += 1
            if r + 1 in CHECKED_ROUNDS:
                self.end_phase("%d of %d rounds of one-byte segments over %d connections" % (
                    r + 1, ROUNDS, ROUND_FLOWS))

    def make(self):
        self.greedy()
        self.big_dup_reset()
        self.rounds()
        return self


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    values = collections.Counter()
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$', line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        reason = re.search(r'reason="([^"]*)"', labels)
        if name == "tapflow_tcp_reassembly_dropped_total" and reason:
            name = reason.group(1)
        elif name.startswith("tapflow_tcp_reassembly_"):
            name = name[len("tapflow_tcp_reassembly_"):]
            if name.endswith("_total"):
                name = name[:-len("_total")]
        values[name] += value  # summed over workers (there is one)
    return values


IDENTITY_OUT = ("bytes_delivered", "retransmitted_bytes", "flow_cap_bytes", "worker_cap_bytes", "out_of_window_bytes",
                "released_at_end_bytes", "discarded_bytes", "bytes_after_end", "buffered_bytes")


def wait_log(path, pattern, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path) as f:
            for line in f:
                if re.search(pattern, line):
                    return json.loads(line)
        if proc.poll() is not None:
            return None
        time.sleep(0.02)
    return None


def flood(chk, tapflow, workdir, max_segments, tag):
    """One run of the flood; max_segments is tcp_reassembly.max_buffered_segments."""
    t0 = time.monotonic()
    fl = Flood(min(CAP_BLOCKS, max_segments)).make()
    all_frames = [f for _, frames, _ in fl.phases for f in frames]
    path = os.path.join(workdir, tag.replace(" ", "_") + ".pcap")
    write_pcap(path, 1, all_frames)  # kept for a look with tshark; tapflow reads it through the FIFO
    problems = scapy_check(all_frames, 300, random.Random(SEED))
    chk.check(tag + ": %d packets in %d phases (%.1fs to make); scapy finds sampled packets right" % (
        fl.packets, len(fl.phases), time.monotonic() - t0), not problems, "\n  " + "\n  ".join(problems[:5]))
    fifo = os.path.join(workdir, tag.replace(" ", "_") + ".fifo")
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)
    events = os.path.join(workdir, tag.replace(" ", "_") + "_events.jsonl")
    config = os.path.join(workdir, tag.replace(" ", "_") + ".yaml")
    with open(config, "w") as f:
        f.write("""capture:
  source: pcap
  pcap:
    path: %s
workers:
  count: 1
flows:
  idle_timeout: 1h
outputs:
  - type: jsonl
    path: %s
metrics:
  listen: 127.0.0.1:0
tcp_reassembly:
  max_buffered_bytes: 1MiB
  max_buffered_segments: %d
  max_flow_buffered_segments: %d
  max_flow_buffered_bytes: %d
""" % (fifo, events, max_segments, FLOW_CAP_SEGMENTS, FLOW_CAP_BYTES))
    stderr_path = os.path.join(workdir, tag.replace(" ", "_") + "_tapflow.log")
    proc = subprocess.Popen([tapflow, "run", "-c", config], stdout=subprocess.DEVNULL,
                            stderr=open(stderr_path, "w"))
    # The reader opens the FIFO at start-up: open our end in a thread, so
    # neither side waits for the other.
    go = [threading.Event() for _ in fl.phases]
    close = threading.Event()
    writer_error = []

    def writer():
        try:
            with open(fifo, "wb") as f:
                f.write(pcap_header(1))
                f.flush()
                for event, (_, frames, _) in zip(go, fl.phases):
                    event.wait(60)
                    f.write(b"".join(pcap_record(ts, frame) for ts, frame in frames))
                    f.flush()
                close.wait(60)
        except OSError as exc:
            writer_error.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    samples = []  # memory_bytes seen by the background sampler
    stop_sampling = threading.Event()
    try:
        serving = wait_log(stderr_path, "serving /metrics", proc)
        if not chk.check(tag + ": tapflow run starts and serves /metrics", serving is not None,
                         open(stderr_path).read()[-1500:]):
            return
        port = int(serving["port"])

        def sampler():
            while not stop_sampling.is_set():
                try:
                    sample = scrape(port)
                    samples.append((sample["memory_bytes"], sample["buffered_segments"]))
                except Exception:  # noqa: BLE001 - tapflow going away; the main thread reports it
                    pass
                time.sleep(0.005)

        sampling = threading.Thread(target=sampler, daemon=True)
        sampling.start()
        written = 0
        for event, (name, frames, ledger) in zip(go, fl.phases):
            written += len(frames)
            event.set()
            deadline = time.monotonic() + 20
            while True:
                got = scrape(port)
                if got["tapflow_worker_packets_total"] >= written or time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            if not chk.check(tag + ", %s: the worker processed the %d packets written so far" % (name, written),
                             got["tapflow_worker_packets_total"] == written,
                             "worker packets %d, capture packets %d" % (got["tapflow_worker_packets_total"],
                                                                       got["tapflow_capture_packets_total"])):
                return
            wrong = ["%s %d, predicted %d" % (k, got[k], ledger[k]) for k in LEDGER_KEYS if got[k] != ledger[k]]
            chk.check(tag + ", %s: every reassembly counter and gauge as predicted (memory %d of %d bytes, "
                      "worker-cap drops %d)" % (name, got["memory_bytes"], FLOOD_CAP_BYTES,
                                                got["worker_cap_segments"]), not wrong, "; ".join(wrong))
            out = sum(got[k] for k in IDENTITY_OUT)
            chk.check(tag + ", %s: payload bytes (%d) = delivered + retransmitted + dropped + released + "
                      "discarded + after end + still buffered (%d)" % (name, got["payload_bytes"], out),
                      got["payload_bytes"] == out,
                      ", ".join("%s %d" % (k, got[k]) for k in IDENTITY_OUT))
        last = fl.phases[-1][2]
        # The binding cap: all blocks in use, or all segments (then fewer blocks).
        full = (got["memory_bytes"] == FLOOD_CAP_BYTES if max_segments >= CAP_BLOCKS
                else got["buffered_segments"] == max_segments)
        chk.check(tag + ": the caps were really hit: the worker full (%s), drops at the worker's cap (%d), drops "
                  "and gaps at the connections' caps (%d, %d), as predicted" % (
                      "max_buffered_bytes" if max_segments >= CAP_BLOCKS else "max_buffered_segments",
                      last["worker_cap_segments"], last["flow_cap_segments"], last["gaps_flow_cap"]),
                  full and last["worker_cap_segments"] > 0 and
                  last["flow_cap_segments"] > 0 and last["gaps_flow_cap"] > 0 and
                  all(got[k] == last[k] for k in ("worker_cap_segments", "flow_cap_segments", "gaps_flow_cap")),
                  "memory %d, worker_cap_segments %d, flow_cap_segments %d, gaps_flow_cap %d" % (
                      got["memory_bytes"], got["worker_cap_segments"], got["flow_cap_segments"],
                      got["gaps_flow_cap"]))
        close.set()
        thread.join(10)
        chk.check(tag + ": the FIFO took every phase", not thread.is_alive() and not writer_error, str(writer_error))
        ended = wait_log(stderr_path, "source ended", proc)
        final = scrape(port)
        stop_sampling.set()
        sampling.join(5)
        chk.check(tag + ": the source ended with every packet read (%d)" % fl.packets,
                  ended is not None and final["tapflow_capture_packets_total"] == fl.packets,
                  "capture packets %d" % final["tapflow_capture_packets_total"])
        want = fl.end_of_input()
        wrong = ["%s %d, predicted %d" % (k, final[k], want[k]) for k in LEDGER_KEYS if final[k] != want[k]]
        chk.check(tag + ", end of input: the flows ended, holes given up as predicted, nothing left buffered "
                  "(gaps_close %d)" % final["gaps_close"], not wrong, "; ".join(wrong))
        out = sum(final[k] for k in IDENTITY_OUT)
        chk.check(tag + ", end of input: payload bytes (%d) = delivered + ... (%d)" % (final["payload_bytes"], out),
                  final["payload_bytes"] == out, ", ".join("%s %d" % (k, final[k]) for k in IDENTITY_OUT))
        chk.check(tag + ": memory and segments never above max_buffered_bytes and max_buffered_segments in %d samples "
                  "while reading (max %d bytes, %d segments)" % (
                      len(samples), max([m for m, _ in samples] or [0]), max([n for _, n in samples] or [0])),
                  samples and max(m for m, _ in samples) <= FLOOD_CAP_BYTES and
                  max(n for _, n in samples) <= max_segments)
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            rc = None
        log_text = open(stderr_path).read()
        chk.check(tag + ": SIGTERM stops tapflow with exit code 0", rc == 0, "rc=%s: %s" % (rc, log_text[-1500:]))
        for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            if marker in log_text:
                chk.check(tag + ": no %s report" % marker, False, log_text[-1500:])
        with open(events) as f:
            evs = [json.loads(line) for line in f if line.strip()]
        reasons = collections.Counter(ev["event"]["reason"] for ev in evs if ev["type"] == "flow")
        chk.equal(tag + ": one final flow record per connection and the padding flow, by end reason", dict(reasons),
                  {"rst": RESET_FLOWS, "end_of_input": len(fl.conns) + 1 - RESET_FLOWS})
        # The request sent twice is one request; the one-byte garbage behind holes is none.
        requests = collections.Counter((ev["type"], field(ev, "http.request.method"), field(ev, "url.original"))
                                       for ev in evs if ev["type"] != "flow")
        chk.equal(tag + ": one http event per connection that sent a request twice, and no other event",
                  dict(requests), {("http", "GET", "/duplicate"): DUP_FLOWS})
    finally:
        stop_sampling.set()
        for event in go + [close]:
            event.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        # A writer still blocked on the FIFO gets EPIPE or an opener now.
        try:
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError:
            pass
        thread.join(5)


# -- main -----------------------------------------------------------------------

def parse_args(argv):
    args = list(argv[1:])
    opts = {"tapflow": None, "traffic": True, "keep": None, "only": ["differential", "flood"]}
    while args:
        a = args.pop(0)
        if a == "--no-traffic":
            opts["traffic"] = False
        elif a == "--keep" and args:
            opts["keep"] = os.path.abspath(args.pop(0))
        elif a == "--only" and args:
            opts["only"] = args.pop(0).split(",")
        elif opts["tapflow"] is None and not a.startswith("-"):
            opts["tapflow"] = os.path.abspath(a)
        else:
            sys.exit(USAGE)
    if opts["tapflow"] is None:
        sys.exit(USAGE)
    if not os.access(opts["tapflow"], os.X_OK):
        sys.exit("not an executable: %s" % opts["tapflow"])
    if not opts["traffic"] and not opts["keep"]:
        sys.exit("--no-traffic needs --keep DIR holding the pcaps of an earlier run")
    return opts



def main(argv):
    opts = parse_args(argv)
    workdir = opts["keep"] or tempfile.mkdtemp(prefix="tapflow-it-edits-")
    os.makedirs(workdir, exist_ok=True)
    chk = harness.Checker("stream_edits")
    start = time.monotonic()
    try:
        if "differential" in opts["only"]:
            if opts["traffic"]:
                if os.geteuid() != 0:
                    sys.exit("the scenarios need root (network namespaces); run as root or reuse pcaps with "
                             "--no-traffic --keep DIR")
                pcaps = analyzer_traffic.make_pcaps(workdir)
            else:
                pcaps = {k: os.path.join(workdir, "analyzer_%s.pcap" % k) for k in analyzer_traffic.SCENARIOS}
                missing = [p for p in pcaps.values() if not os.path.exists(p)]
                if missing:
                    sys.exit("no pcap from an earlier run: %s" % missing)
            chk.guarded("differential", differential, chk, opts["tapflow"], workdir, pcaps)
        if "flood" in opts["only"]:
            # The worker's byte cap binds first (2048 blocks, 4096 segments allowed), then its segment cap.
            chk.guarded("flood", flood, chk, opts["tapflow"], workdir, 4096, "flood")
            chk.guarded("flood", flood, chk, opts["tapflow"], workdir, 1500, "flood, segment cap")
    finally:
        if not opts["keep"]:
            shutil.rmtree(workdir, ignore_errors=True)
    print("stream_edits: %.1fs" % (time.monotonic() - start), flush=True)
    return chk.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
