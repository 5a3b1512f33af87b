#!/usr/bin/python3
"""Deterministic pcaps of what the kernel here cannot make: VLAN and QinQ tags,
tunnels (VXLAN, Geneve, GRE, ERSPAN II/III, IP-in-IP, IPv6-in-IPv4), IPv4
options, IPv6 extension headers, IPv6 fragments behind extension headers,
overlapping IPv4/IPv6 fragments, Linux cooked captures (SLL, SLL2), raw IP,
pcapng, idle/active timeouts, snaplen-cut packets, and malformed input.

Packets are built with scapy and written by the small pcap/pcapng writers below
(nanosecond timestamps, exact caplen/wirelen). Fixed timestamps and seeds: the
same bytes on every run.

Run by hand: make_fixtures.py OUTDIR writes every fixture there.
"""

import os
import random
import struct
import sys
import warnings
from dataclasses import dataclass, field

warnings.filterwarnings("ignore")
import logging  # noqa: E402

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

from scapy.all import conf, raw  # noqa: E402
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III, ERSPAN_PlatformSpecific  # noqa: E402
from scapy.contrib.geneve import GENEVE, GeneveOptions  # noqa: E402
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_NOP, IPOption_Router_Alert, IPOption_RR  # noqa: E402
from scapy.layers.inet6 import (ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6PacketTooBig, IPv6,  # noqa: E402
                                IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                                IPv6ExtHdrRouting, RouterAlert, PadN)
from scapy.layers.l2 import GRE, CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether  # noqa: E402
from scapy.layers.sctp import (SCTP, SCTPChunkCookieAck, SCTPChunkCookieEcho, SCTPChunkData,  # noqa: E402
                               SCTPChunkInit, SCTPChunkInitAck, SCTPChunkSACK)
from scapy.layers.vxlan import VXLAN  # noqa: E402

conf.verb = 0

LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_SLL, LINKTYPE_SLL2 = 1, 101, 113, 276

# 2026-11-27T12:00:00Z; each fixture starts at its own whole second after it.
BASE_NS = 1795780800 * 10**9

CLIENT_MAC, SERVER_MAC = "02:00:00:00:0c:01", "02:00:00:00:0c:02"


@dataclass
class Fixture:
    name: str
    path: str
    description: str
    linktype: int = LINKTYPE_ETHERNET
    fmt: str = "pcap"
    # "exact": flows, counts and attributes are checked against tshark.
    # "robust": malformed input; tapflow must exit 0 and emit only valid events.
    # "truncated_file": the file itself ends mid-record; exit 0 or 2, no crash.
    kind: str = "exact"
    # Fragmented datagrams a reassembling reader drops (overlaps): (version, src, dst, id).
    exclude_datagrams: list = field(default_factory=list)
    # (frozenset of the two inner IPs, proto) -> the expected "tunnel" object.
    tunnels: dict = field(default_factory=dict)
    # (frozenset of the two IPs, proto) -> number of records expected (timeouts).
    records: dict = field(default_factory=dict)
    # (frozenset of the two IPs, 6) -> {"client": {...}, "server": {...}} TCP counters by design.
    tcp_counters: dict = field(default_factory=dict)
    # YAML (without the capture section) the test passes with -c, for settings the fixture relies on.
    config: str = ""


class Clock:
    """Deterministic timestamps: a start and a fixed, odd step (exercises all 9 digits)."""

    def __init__(self, index, step_ns=1234567):
        self.now = BASE_NS + index * 10**9 + 123456789
        self.step = step_ns

    def tick(self, gap_ns=None):
        self.now += self.step if gap_ns is None else gap_ns
        return self.now


def write_pcap(path, linktype, records):
    """records: (ts_ns, bytes, wirelen or None). Nanosecond pcap (magic a1b23c4d)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, linktype))
        for ts, data, wirelen in records:
            f.write(struct.pack("<IIII", ts // 10**9, ts % 10**9, len(data), wirelen or len(data)))
            f.write(data)


def _pcapng_block(block_type, body):
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def _pcapng_option(code, value):
    pad = (-len(value)) % 4
    return struct.pack("<HH", code, len(value)) + value + b"\0" * pad


def write_pcapng(path, linktype, records):
    """One section, one interface with if_tsresol=9, enhanced packet blocks."""
    with open(path, "wb") as f:
        shb_opts = _pcapng_option(4, b"tapflow make_fixtures.py") + _pcapng_option(0, b"")
        f.write(_pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + shb_opts))
        idb_opts = _pcapng_option(2, b"mirror0") + _pcapng_option(9, b"\x09") + _pcapng_option(0, b"")
        f.write(_pcapng_block(1, struct.pack("<HHI", linktype, 0, 262144) + idb_opts))
        for ts, data, wirelen in records:
            pad = (-len(data)) % 4
            body = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(data), wirelen or len(data))
            f.write(_pcapng_block(6, body + data + b"\0" * pad))


# -- sessions: lists of (direction, L3 packet); direction "c" (client) or "s" ----

def ip_layer(src, dst, **kw):
    return IPv6(src=src, dst=dst, **kw) if ":" in src else IP(src=src, dst=dst, **kw)


def tcp_session(cli, srv, sport, dport, exchanges, close="fin", ipkw=None, syn=True):
    """A whole TCP connection: handshake, request/response pairs, FIN or RST close."""
    ipkw = ipkw or {}
    c_seq, s_seq = 1000 + sport, 7000 + dport
    out = []

    def c(flags, payload=b""):
        nonlocal c_seq
        p = ip_layer(cli, srv, **ipkw) / TCP(sport=sport, dport=dport, flags=flags, seq=c_seq, ack=s_seq,
                                             window=502) / payload
        c_seq += len(payload) + (1 if "S" in flags or "F" in flags else 0)
        out.append(("c", p))

    def s(flags, payload=b""):
        nonlocal s_seq
        p = ip_layer(srv, cli, **ipkw) / TCP(sport=dport, dport=sport, flags=flags, seq=s_seq, ack=c_seq,
                                             window=509) / payload
        s_seq += len(payload) + (1 if "S" in flags or "F" in flags else 0)
        out.append(("s", p))

    if syn:
        opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (100, 0)), ("NOP", None), ("WScale", 7)]
        out.append(("c", ip_layer(cli, srv, **ipkw) / TCP(sport=sport, dport=dport, flags="S", seq=c_seq,
                                                         window=64240, options=opts)))
        c_seq += 1
        out.append(("s", ip_layer(srv, cli, **ipkw) / TCP(sport=dport, dport=sport, flags="SA", seq=s_seq,
                                                         ack=c_seq, window=65160, options=opts)))
        s_seq += 1
        c("A")
    for request, response in exchanges:
        c("PA", request)
        s("A")
        s("PA", response)
        c("A")
    if close == "fin":
        c("FA")
        s("FA")
        c("A")
    elif close == "rst":
        c("RA")
    return out


def udp_exchange(cli, srv, sport, dport, payloads, ipkw=None):
    ipkw = ipkw or {}
    out = []
    for direction, payload in payloads:
        if direction == "c":
            out.append(("c", ip_layer(cli, srv, **ipkw) / UDP(sport=sport, dport=dport) / payload))
        else:
            out.append(("s", ip_layer(srv, cli, **ipkw) / UDP(sport=dport, dport=sport) / payload))
    return out


HTTP_REQ = b"GET /index.html HTTP/1.1\r\nHost: example.test\r\nUser-Agent: fixture\r\n\r\n"
HTTP_RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\nhello world\n"
DNS_Q = bytes.fromhex("abcd01000001000000000000") + b"\x07example\x04test\x00\x00\x01\x00\x01"
DNS_R = bytes.fromhex("abcd81800001000100000000") + b"\x07example\x04test\x00\x00\x01\x00\x01" + \
    bytes.fromhex("c00c000100010000003c0004c0000201")


def interleave(*sessions):
    """Round-robin merge, so flows overlap in time as on a real link."""
    out = []
    iters = [iter(s) for s in sessions]
    while iters:
        for it in list(iters):
            try:
                out.append(next(it))
            except StopIteration:
                iters.remove(it)
    return out


def eth(direction, payload, vlans=(), outer_tpid=0x8100):
    src, dst = (CLIENT_MAC, SERVER_MAC) if direction == "c" else (SERVER_MAC, CLIENT_MAC)
    frame = Ether(src=src, dst=dst)
    for i, vid in enumerate(vlans):
        if i == 0 and outer_tpid == 0x88A8:
            frame = frame / Dot1AD(vlan=vid, prio=1)
        else:
            frame = frame / Dot1Q(vlan=vid, prio=0)
    return frame / payload


class Builder:
    """Collects (timestamp, frame bytes, wirelen) for one fixture."""

    def __init__(self, index):
        self.clock = Clock(index)
        self.records = []

    def add(self, frame, gap_ns=None, caplen=None):
        data = raw(frame)
        wirelen = len(data)
        if caplen is not None:
            data = data[:caplen]
        self.records.append((self.clock.tick(gap_ns), data, wirelen))


def _fixture(outdir, name, description, builder, **kw):
    fx = Fixture(name=name, path=os.path.join(outdir, name + (".pcapng" if kw.get("fmt") == "pcapng" else ".pcap")),
                 description=description, **kw)
    (write_pcapng if fx.fmt == "pcapng" else write_pcap)(fx.path, fx.linktype, builder.records)
    return fx


def tunnel_expect(ttype, tid, outer_src, outer_dst):
    t = {"type": ttype, "source": {"ip": outer_src}, "destination": {"ip": outer_dst}}
    if tid is not None:
        t["id"] = tid
    return t


# -- the fixtures -------------------------------------------------------------

def fx_vlan(outdir, i):
    b = Builder(i)
    s10 = tcp_session("10.1.0.1", "10.1.0.2", 40001, 80, [(HTTP_REQ, HTTP_RESP)])
    s20 = tcp_session("10.1.0.1", "10.1.0.2", 40001, 80, [(HTTP_REQ, HTTP_RESP)])  # same 5-tuple, VLAN 20
    u = udp_exchange("10.1.0.1", "10.1.0.3", 40002, 53, [("c", DNS_Q), ("s", DNS_R)])
    u6 = udp_exchange("fd00:1::1", "fd00:1::3", 40003, 53, [("c", DNS_Q), ("s", DNS_R)])
    for tag, sess in interleave([(10, x) for x in s10], [(20, x) for x in s20], [(None, x) for x in u],
                                [(10, x) for x in u6]):
        d, p = sess
        b.add(eth(d, p, vlans=() if tag is None else (tag,)))
    return _fixture(outdir, "vlan", "802.1Q: one 5-tuple on VLANs 10 and 20 (two flows), untagged and tagged UDP", b)


def fx_qinq(outdir, i):
    b = Builder(i)
    s = tcp_session("10.2.0.1", "10.2.0.2", 40010, 443, [(b"\x16\x03\x01" + b"x" * 200, b"\x16\x03\x03" + b"y" * 900)])
    u = udp_exchange("fd00:2::1", "fd00:2::2", 40011, 123, [("c", b"\x23" + b"\0" * 47), ("s", b"\x24" + b"\0" * 47)])
    for d, p in s:
        b.add(eth(d, p, vlans=(100, 200), outer_tpid=0x88A8))
    for d, p in u:
        b.add(eth(d, p, vlans=(300, 400)))  # 802.1Q in 802.1Q
    return _fixture(outdir, "qinq", "802.1ad (0x88a8) outer 100 / inner 200, and 0x8100 double tag 300/400", b)


def fx_vxlan(outdir, i):
    b = Builder(i)
    vteps = ("192.0.2.1", "192.0.2.2")
    tunnels = {}

    def wrap(d, inner, vni, outer_vlan=None, sport=49152):
        osrc, odst = vteps if d == "c" else vteps[::-1]
        outer = Ether(src=CLIENT_MAC, dst=SERVER_MAC)
        if outer_vlan:
            outer = outer / Dot1Q(vlan=outer_vlan)
        return (outer / IP(src=osrc, dst=odst, id=0, flags="DF") / UDP(sport=sport, dport=4789) /
                VXLAN(vni=vni, flags=0x08) / eth(d, inner))

    s = tcp_session("10.3.0.1", "10.3.0.2", 40020, 80, [(HTTP_REQ, HTTP_RESP)] * 2)
    u6 = udp_exchange("fd00:3::1", "fd00:3::2", 40021, 53, [("c", DNS_Q), ("s", DNS_R)])
    s30 = tcp_session("10.3.1.1", "10.3.1.2", 40022, 8080, [(HTTP_REQ, HTTP_RESP)])
    for tag, (d, p) in interleave([("a", x) for x in s], [("b", x) for x in u6], [("c", x) for x in s30]):
        if tag == "a":
            b.add(wrap(d, p, 42))
        elif tag == "b":
            b.add(wrap(d, p, 43, sport=50000))
        else:
            b.add(wrap(d, p, 44, outer_vlan=30, sport=51000))
    tunnels[(frozenset({"10.3.0.1", "10.3.0.2"}), 6)] = tunnel_expect("vxlan", 42, *vteps)
    tunnels[(frozenset({"fd00:3::1", "fd00:3::2"}), 17)] = tunnel_expect("vxlan", 43, *vteps)
    tunnels[(frozenset({"10.3.1.1", "10.3.1.2"}), 6)] = tunnel_expect("vxlan", 44, *vteps)
    return _fixture(outdir, "vxlan", "VXLAN (UDP 4789) VNIs 42/43/44, inner IPv4 and IPv6; VNI 44 with an outer "
                    "802.1Q tag 30 (the flow's VLAN)", b, tunnels=tunnels)


def fx_geneve(outdir, i):
    b = Builder(i)
    vteps = ("2001:db8::a", "2001:db8::b")
    opt = GeneveOptions(classid=0x0102, type=0x80, length=1, data=b"\x00\x00\x00\x2a")
    s = tcp_session("10.4.0.1", "10.4.0.2", 40030, 80, [(HTTP_REQ, HTTP_RESP)])
    u = udp_exchange("10.4.0.1", "10.4.0.3", 40031, 53, [("c", DNS_Q), ("s", DNS_R)])
    for tag, (d, p) in interleave([("opt", x) for x in s], [("plain", x) for x in u]):
        osrc, odst = vteps if d == "c" else vteps[::-1]
        gen = GENEVE(vni=4242, proto=0x6558, options=[opt]) if tag == "opt" else GENEVE(vni=4243, proto=0x6558)
        b.add(Ether(src=CLIENT_MAC, dst=SERVER_MAC) / IPv6(src=osrc, dst=odst) / UDP(sport=52000, dport=6081) /
              gen / eth(d, p))
    tunnels = {(frozenset({"10.4.0.1", "10.4.0.2"}), 6): tunnel_expect("geneve", 4242, *vteps),
               (frozenset({"10.4.0.1", "10.4.0.3"}), 17): tunnel_expect("geneve", 4243, *vteps)}
    return _fixture(outdir, "geneve", "Geneve (UDP 6081) over IPv6, with and without a TLV option", b,
                    tunnels=tunnels)


def fx_gre(outdir, i):
    b = Builder(i)
    ends = ("198.51.100.1", "198.51.100.2")
    s = tcp_session("10.5.0.1", "10.5.0.2", 40040, 80, [(HTTP_REQ, HTTP_RESP)])
    s6 = tcp_session("fd00:5::1", "fd00:5::2", 40041, 443, [(b"q" * 300, b"r" * 1200)])
    u = udp_exchange("10.5.1.1", "10.5.1.2", 40042, 53, [("c", DNS_Q), ("s", DNS_R)])
    seq = 0
    for tag, (d, p) in interleave([("key", x) for x in s], [("all", x) for x in s6], [("nokey", x) for x in u]):
        osrc, odst = ends if d == "c" else ends[::-1]
        outer = Ether(src=CLIENT_MAC, dst=SERVER_MAC) / IP(src=osrc, dst=odst, proto=47)
        if tag == "key":
            g = GRE(key_present=1, key=1234, proto=0x0800)
        elif tag == "all":
            seq += 1
            g = GRE(chksum_present=1, key_present=1, seqnum_present=1, key=5678, sequence_number=seq, proto=0x86DD)
        else:
            g = GRE(proto=0x0800)
        b.add(outer / g / p)
    tunnels = {(frozenset({"10.5.0.1", "10.5.0.2"}), 6): tunnel_expect("gre", 1234, *ends),
               (frozenset({"fd00:5::1", "fd00:5::2"}), 6): tunnel_expect("gre", 5678, *ends),
               (frozenset({"10.5.1.1", "10.5.1.2"}), 17): tunnel_expect("gre", None, *ends)}
    return _fixture(outdir, "gre", "GRE with key 1234 (IPv4 inside), with checksum+key 5678+sequence (IPv6 "
                    "inside), and without key", b, tunnels=tunnels)


def fx_erspan2(outdir, i):
    b = Builder(i)
    ends = ("203.0.113.10", "203.0.113.20")  # the switch mirrors both directions to one collector
    s = tcp_session("10.6.0.1", "10.6.0.2", 40050, 80, [(HTTP_REQ, HTTP_RESP)])
    u = udp_exchange("10.6.0.1", "10.6.0.3", 40051, 53, [("c", DNS_Q), ("s", DNS_R)])
    for n, (d, p) in enumerate(interleave(s, u)):
        b.add(Ether(src=CLIENT_MAC, dst=SERVER_MAC) / IP(src=ends[0], dst=ends[1], proto=47) /
              GRE(seqnum_present=1, sequence_number=n + 1, proto=0x88BE) /
              ERSPAN_II(ver=1, vlan=0, session_id=77, index=3) / eth(d, p))
    t = tunnel_expect("erspan2", 77, *ends)
    return _fixture(outdir, "erspan2", "ERSPAN type II (GRE 0x88be with sequence numbers), session 77", b,
                    tunnels={(frozenset({"10.6.0.1", "10.6.0.2"}), 6): t,
                             (frozenset({"10.6.0.1", "10.6.0.3"}), 17): t})


def fx_erspan3(outdir, i):
    b = Builder(i)
    ends = ("203.0.113.30", "203.0.113.40")
    s = tcp_session("10.7.0.1", "10.7.0.2", 40060, 80, [(HTTP_REQ, HTTP_RESP)])
    s6 = tcp_session("fd00:7::1", "fd00:7::2", 40061, 22, [(b"SSH-2.0-x\r\n", b"SSH-2.0-y\r\n")])
    for n, (tag, (d, p)) in enumerate(interleave([("plain", x) for x in s], [("plat", x) for x in s6])):
        hdr = ERSPAN_III(ver=2, vlan=0, session_id=99 if tag == "plain" else 100, timestamp=1000 + n,
                         o=0 if tag == "plain" else 1)
        if tag == "plat":
            hdr = hdr / ERSPAN_PlatformSpecific(platf_id=3, info1=0, info2=n)
        b.add(Ether(src=CLIENT_MAC, dst=SERVER_MAC) / IP(src=ends[0], dst=ends[1], proto=47) /
              GRE(seqnum_present=1, sequence_number=n + 1, proto=0x22EB) / hdr / eth(d, p))
    return _fixture(outdir, "erspan3", "ERSPAN type III (GRE 0x22eb), session 99, and session 100 with the "
                    "platform-specific subheader", b,
                    tunnels={(frozenset({"10.7.0.1", "10.7.0.2"}), 6): tunnel_expect("erspan3", 99, *ends),
                             (frozenset({"fd00:7::1", "fd00:7::2"}), 6): tunnel_expect("erspan3", 100, *ends)})


def fx_ipip(outdir, i):
    b = Builder(i)
    e4 = ("192.0.2.100", "192.0.2.200")
    e6 = ("2001:db8:1::1", "2001:db8:1::2")
    s = tcp_session("10.8.0.1", "10.8.0.2", 40070, 80, [(HTTP_REQ, HTTP_RESP)])
    u = udp_exchange("10.8.1.1", "10.8.1.2", 40071, 53, [("c", DNS_Q), ("s", DNS_R)])
    for tag, (d, p) in interleave([("4in4", x) for x in s], [("4in6", x) for x in u]):
        if tag == "4in4":
            osrc, odst = e4 if d == "c" else e4[::-1]
            b.add(eth(d, IP(src=osrc, dst=odst, proto=4) / p))
        else:
            osrc, odst = e6 if d == "c" else e6[::-1]
            b.add(eth(d, IPv6(src=osrc, dst=odst, nh=4) / p))
    return _fixture(outdir, "ipip", "IPv4-in-IPv4 (protocol 4) and IPv4-in-IPv6 (next header 4)", b,
                    tunnels={(frozenset({"10.8.0.1", "10.8.0.2"}), 6): tunnel_expect("ipip", None, *e4),
                             (frozenset({"10.8.1.1", "10.8.1.2"}), 17): tunnel_expect("ipip", None, *e6)})


def fx_ip6ip(outdir, i):
    b = Builder(i)
    e4 = ("192.0.2.101", "192.0.2.201")
    e6 = ("2001:db8:2::1", "2001:db8:2::2")
    s = tcp_session("fd00:9::1", "fd00:9::2", 40080, 80, [(HTTP_REQ, HTTP_RESP)])
    u = udp_exchange("fd00:9::1", "fd00:9::3", 40081, 53, [("c", DNS_Q), ("s", DNS_R)])
    for tag, (d, p) in interleave([("6in4", x) for x in s], [("6in6", x) for x in u]):
        if tag == "6in4":
            osrc, odst = e4 if d == "c" else e4[::-1]
            b.add(eth(d, IP(src=osrc, dst=odst, proto=41) / p))
        else:
            osrc, odst = e6 if d == "c" else e6[::-1]
            b.add(eth(d, IPv6(src=osrc, dst=odst, nh=41) / p))
    return _fixture(outdir, "ip6ip", "IPv6-in-IPv4 (protocol 41, 6in4/SIT) and IPv6-in-IPv6", b,
                    tunnels={(frozenset({"fd00:9::1", "fd00:9::2"}), 6): tunnel_expect("ip6ip", None, *e4),
                             (frozenset({"fd00:9::1", "fd00:9::3"}), 17): tunnel_expect("ip6ip", None, *e6)})


def fx_ipv4_options(outdir, i):
    b = Builder(i)
    opts_rr = {"options": [IPOption_RR(length=11, routers=["10.10.0.254", "10.10.0.253"])]}
    opts_ra = {"options": [IPOption_Router_Alert(), IPOption_NOP(), IPOption_NOP(), IPOption_NOP(),
                           IPOption_NOP()]}
    s = tcp_session("10.10.0.1", "10.10.0.2", 40090, 80, [(HTTP_REQ, HTTP_RESP)], ipkw=opts_rr)
    u = udp_exchange("10.10.0.1", "10.10.0.3", 40091, 53, [("c", DNS_Q), ("s", DNS_R)], ipkw=opts_ra)
    for d, p in interleave(s, u):
        b.add(eth(d, p))
    return _fixture(outdir, "ipv4_options", "IPv4 with options: record route (IHL 8) and router alert + NOPs", b)


def fx_ipv6_ext(outdir, i):
    b = Builder(i)
    hbh = IPv6ExtHdrHopByHop(options=[RouterAlert(value=0), PadN(optdata=b"\0\0")])
    dst = IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)])
    rt = IPv6ExtHdrRouting(type=0, segleft=0, addresses=["fd00:a::99"])
    out = []
    # TCP behind hop-by-hop + destination options.
    for d, p in tcp_session("fd00:a::1", "fd00:a::2", 40100, 80, [(HTTP_REQ, HTTP_RESP)]):
        l4 = p[TCP]
        out.append(("t", d, IPv6(src=p.src, dst=p.dst) / hbh / dst / l4))
    # UDP behind hop-by-hop + routing (segments left 0) + destination options.
    for d, p in udp_exchange("fd00:a::1", "fd00:a::3", 40101, 53, [("c", DNS_Q), ("s", DNS_R)]):
        out.append(("u", d, IPv6(src=p.src, dst=p.dst) / hbh / rt / dst / p[UDP]))
    # ICMPv6 echo behind a destination options header.
    out.append(("i", "c", IPv6(src="fd00:a::1", dst="fd00:a::2") / dst /
                ICMPv6EchoRequest(id=7, seq=1, data=b"p" * 32)))
    out.append(("i", "s", IPv6(src="fd00:a::2", dst="fd00:a::1") / dst /
                ICMPv6EchoReply(id=7, seq=1, data=b"p" * 32)))
    for _, d, p in out:
        b.add(eth(d, p))
    return _fixture(outdir, "ipv6_ext", "IPv6 extension headers: hop-by-hop, destination options, routing "
                    "(type 0, segments left 0) before TCP, UDP and ICMPv6", b)


def _frag4(pkt, pieces, ident):
    """IPv4 fragments of pkt at the given (offset, length) byte ranges of its payload, in that order."""
    payload = raw(pkt[IP].payload)
    out = []
    for off, length in pieces:
        last = off + length >= len(payload)
        out.append(IP(src=pkt[IP].src, dst=pkt[IP].dst, id=ident, proto=pkt[IP].proto,
                      flags=0 if last else "MF", frag=off // 8) / payload[off:off + length])
    return out


def _frag6(src, dst, unfrag, next_header, payload, pieces, ident):
    """IPv6 fragments: unfragmentable ext headers `unfrag`, then a fragment header."""
    out = []
    for off, length in pieces:
        last = off + length >= len(payload)
        hdr = IPv6(src=src, dst=dst)
        if unfrag is not None:
            hdr = hdr / unfrag.copy()
        out.append(hdr / IPv6ExtHdrFragment(nh=next_header, offset=off // 8, m=0 if last else 1, id=ident) /
                   payload[off:off + length])
    return out


def fx_ipv6_frag(outdir, i):
    b = Builder(i)
    hbh = IPv6ExtHdrHopByHop(options=[RouterAlert(value=0), PadN(optdata=b"\0\0")])
    frames = []
    # UDP 3000 bytes: hop-by-hop before the fragment header, fragments in order.
    # scapy computes the checksum over the pseudo header only with an IPv6 below.
    udp_c = raw((IPv6(src="fd00:b::1", dst="fd00:b::2") / UDP(sport=40110, dport=9999) / (b"a" * 3000))[UDP])
    for p in _frag6("fd00:b::1", "fd00:b::2", hbh, 17, udp_c, [(0, 1448), (1448, 1448), (2896, 112)], 0x1001):
        frames.append(("c", p))
    udp_s = raw((IPv6(src="fd00:b::2", dst="fd00:b::1") / UDP(sport=9999, dport=40110) / (b"b" * 3000))[UDP])
    # The reply arrives out of order: last fragment first.
    for p in _frag6("fd00:b::2", "fd00:b::1", hbh, 17, udp_s, [(2896, 112), (1448, 1448), (0, 1448)], 0x2002):
        frames.append(("s", p))
    # A destination options header inside the fragmentable part, then ICMPv6 echo.
    echo = (IPv6(src="fd00:b::1", dst="fd00:b::3") / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)]) /
            ICMPv6EchoRequest(id=9, seq=1, data=b"e" * 2000))
    echo = IPv6(raw(echo))  # checksum filled in over the whole datagram
    for p in _frag6("fd00:b::1", "fd00:b::3", None, 60, raw(echo[IPv6ExtHdrDestOpt]), [(0, 1232), (1232, 1232)],
                    0x3003):
        frames.append(("c", p))
    reply = raw(IPv6(raw(IPv6(src="fd00:b::3", dst="fd00:b::1") / ICMPv6EchoReply(id=9, seq=1, data=b"e" * 2000)))
                [ICMPv6EchoReply])
    for p in _frag6("fd00:b::3", "fd00:b::1", None, 58, reply, [(0, 1232), (1232, 1232)], 0x4004):
        frames.append(("s", p))
    # An unfragmented TCP connection between the same hosts, for contrast.
    frames += tcp_session("fd00:b::1", "fd00:b::2", 40111, 80, [(HTTP_REQ, HTTP_RESP)])
    for d, p in frames:
        b.add(eth(d, p))
    return _fixture(outdir, "ipv6_frag", "IPv6 fragments behind a hop-by-hop header (one datagram out of order), "
                    "and fragments whose fragmentable part starts with destination options", b)


def fx_ip_overlap(outdir, i):
    b = Builder(i)
    frames = []
    # Overlapping IPv4 fragments (the third overlaps the first two with different bytes).
    dgram = IP(src="10.12.0.1", dst="10.12.0.2") / UDP(sport=40120, dport=9999) / (b"o" * 3000)
    dgram = IP(raw(dgram))
    frags = _frag4(dgram, [(0, 1480), (1480, 1480)], 0x0BAD)
    bad = IP(src="10.12.0.1", dst="10.12.0.2", id=0x0BAD, proto=17, flags="MF", frag=1000 // 8) / (b"X" * 800)
    last = _frag4(dgram, [(2960, 48)], 0x0BAD)
    frames += [("c", f) for f in frags + [bad] + last]
    # A healthy fragmented datagram, out of order (last fragment first), reply unfragmented.
    good = IP(raw(IP(src="10.12.0.1", dst="10.12.0.2") / UDP(sport=40121, dport=9999) / (b"g" * 4000)))
    frames += [("c", f) for f in _frag4(good, [(2960, 1048), (0, 1480), (1480, 1480)], 0x0600D)]
    frames += udp_exchange("10.12.0.1", "10.12.0.2", 40121, 9999, [("s", b"ok")])
    # Overlapping IPv6 fragments (RFC 5722: the whole datagram is dropped).
    udp6 = raw((IPv6(src="fd00:c::1", dst="fd00:c::2") / UDP(sport=40122, dport=9999) / (b"6" * 2000))[UDP])
    f6 = _frag6("fd00:c::1", "fd00:c::2", None, 17, udp6, [(0, 1232), (800, 1208)], 0xBAD6)
    frames += [("c", f) for f in f6]
    # A TCP connection that must be unaffected.
    frames += tcp_session("10.12.0.1", "10.12.0.2", 40123, 80, [(HTTP_REQ, HTTP_RESP)])
    for d, p in frames:
        b.add(eth(d, p))
    return _fixture(outdir, "ip_overlap", "overlapping IPv4 and IPv6 fragments (dropped), an out-of-order "
                    "IPv4 datagram (kept)", b,
                    exclude_datagrams=[(4, "10.12.0.1", "10.12.0.2", 0x0BAD), (6, "fd00:c::1", "fd00:c::2", 0xBAD6)])


def fx_ipv4_frag(outdir, i):
    b = Builder(i)
    frames = []
    # ICMP echo of 3000 bytes and its reply, both fragmented, the reply's fragments interleaved with TCP.
    req = IP(raw(IP(src="10.13.0.1", dst="10.13.0.2", id=0x100) / ICMP(type=8, id=1, seq=1) / (b"i" * 3000)))
    rep = IP(raw(IP(src="10.13.0.2", dst="10.13.0.1", id=0x200) / ICMP(type=0, id=1, seq=1) / (b"i" * 3000)))
    tcp = tcp_session("10.13.0.1", "10.13.0.2", 40130, 80, [(HTTP_REQ, HTTP_RESP)])
    frames += [("c", f) for f in _frag4(req, [(0, 1480), (1480, 1480), (2960, 48)], 0x100)]
    rep_frags = [("s", f) for f in _frag4(rep, [(0, 1480), (1480, 1480), (2960, 48)], 0x200)]
    frames += interleave(rep_frags, tcp)
    # Tiny fragments: the first holds only the 8-byte UDP header.
    u = IP(raw(IP(src="10.13.0.1", dst="10.13.0.3") / UDP(sport=40131, dport=53) / DNS_Q))
    frames += [("c", f) for f in _frag4(u, [(0, 8), (8, 16), (24, len(raw(u[UDP])) - 24)], 0x300)]
    for d, p in frames:
        b.add(eth(d, p))
    return _fixture(outdir, "ipv4_frag", "IPv4 fragments: fragmented ICMP echo both ways interleaved with TCP, "
                    "tiny fragments", b)


def fx_sll(outdir, i):
    b = Builder(i)
    frames = interleave(tcp_session("10.14.0.1", "10.14.0.2", 40140, 80, [(HTTP_REQ, HTTP_RESP)]),
                        udp_exchange("fd00:e::1", "fd00:e::2", 40141, 53, [("c", DNS_Q), ("s", DNS_R)]))
    for d, p in frames:
        proto = 0x86DD if isinstance(p, IPv6) else 0x0800
        b.add(CookedLinux(pkttype=4 if d == "c" else 0, lladdrtype=1, lladdrlen=6,
                          src=bytes.fromhex("02000000" + ("0c01" if d == "c" else "0c02")) + b"\0\0", proto=proto) / p)
    return _fixture(outdir, "sll", "Linux cooked capture v1 (LINKTYPE 113, tcpdump -i any)", b,
                    linktype=LINKTYPE_SLL)


def fx_sll2(outdir, i):
    b = Builder(i)
    frames = interleave(tcp_session("10.15.0.1", "10.15.0.2", 40150, 80, [(HTTP_REQ, HTTP_RESP)]),
                        udp_exchange("fd00:f::1", "fd00:f::2", 40151, 53, [("c", DNS_Q), ("s", DNS_R)]))
    for d, p in frames:
        proto = 0x86DD if isinstance(p, IPv6) else 0x0800
        b.add(CookedLinuxV2(proto=proto, ifindex=7, lladdrtype=1, pkttype=4 if d == "c" else 0, lladdrlen=6,
                            src=bytes.fromhex("02000000" + ("0c01" if d == "c" else "0c02")) + b"\0\0") / p)
    return _fixture(outdir, "sll2", "Linux cooked capture v2 (LINKTYPE 276)", b, linktype=LINKTYPE_SLL2)


def fx_raw(outdir, i):
    b = Builder(i)
    frames = interleave(tcp_session("10.16.0.1", "10.16.0.2", 40160, 80, [(HTTP_REQ, HTTP_RESP)]),
                        udp_exchange("fd00:10::1", "fd00:10::2", 40161, 53, [("c", DNS_Q), ("s", DNS_R)]))
    for _, p in frames:
        b.add(p)
    return _fixture(outdir, "raw", "raw IP (LINKTYPE 101), IPv4 and IPv6 mixed", b, linktype=LINKTYPE_RAW)


def fx_pcapng(outdir, i):
    b = Builder(i)
    frames = interleave([(None, x) for x in tcp_session("10.17.0.1", "10.17.0.2", 40170, 80,
                                                         [(HTTP_REQ, HTTP_RESP)])],
                        [(50, x) for x in udp_exchange("10.17.0.1", "10.17.0.3", 40171, 53,
                                                       [("c", DNS_Q), ("s", DNS_R)])])
    for tag, (d, p) in frames:
        b.add(eth(d, p, vlans=(tag,) if tag else ()))
    return _fixture(outdir, "pcapng", "pcapng (nanosecond if_tsresol, options) with TCP and VLAN-tagged UDP", b,
                    fmt="pcapng")


def fx_misc(outdir, i):
    b = Builder(i)
    frames = []
    # SCTP association: INIT, INIT-ACK, COOKIE-ECHO, COOKIE-ACK, DATA, SACK.
    a, z = "10.18.0.1", "10.18.0.2"
    frames += [("c", IP(src=a, dst=z) / SCTP(sport=40180, dport=3868, tag=0) /
                SCTPChunkInit(init_tag=0x1111, a_rwnd=65535, n_out_streams=2, n_in_streams=2, init_tsn=1)),
               ("s", IP(src=z, dst=a) / SCTP(sport=3868, dport=40180, tag=0x1111) /
                SCTPChunkInitAck(init_tag=0x2222, a_rwnd=65535, n_out_streams=2, n_in_streams=2, init_tsn=1)),
               ("c", IP(src=a, dst=z) / SCTP(sport=40180, dport=3868, tag=0x2222) /
                SCTPChunkCookieEcho(cookie=b"c" * 16)),
               ("s", IP(src=z, dst=a) / SCTP(sport=3868, dport=40180, tag=0x1111) / SCTPChunkCookieAck()),
               ("c", IP(src=a, dst=z) / SCTP(sport=40180, dport=3868, tag=0x2222) /
                SCTPChunkData(tsn=1, stream_id=0, proto_id=46, data=b"diameter" * 8)),
               ("s", IP(src=z, dst=a) / SCTP(sport=3868, dport=40180, tag=0x1111) / SCTPChunkSACK(cumul_tsn_ack=1))]
    # An IP protocol tapflow has no decoder for (253, experimentation), IPv4 and IPv6.
    frames += [("c", IP(src=a, dst="10.18.0.3", proto=253) / (b"\x01" * 40)),
               ("s", IP(src="10.18.0.3", dst=a, proto=253) / (b"\x02" * 60)),
               ("c", IPv6(src="fd00:12::1", dst="fd00:12::2", nh=253) / (b"\x03" * 20))]
    # ICMP echo, and a port unreachable quoting the UDP datagram that caused it.
    frames += [("c", IP(src=a, dst=z) / ICMP(type=8, id=5, seq=1) / (b"p" * 56)),
               ("s", IP(src=z, dst=a) / ICMP(type=0, id=5, seq=1) / (b"p" * 56))]
    probe = IP(src=a, dst="10.18.0.4") / UDP(sport=40181, dport=33434) / (b"t" * 20)
    frames += [("c", probe),
               ("s", IP(src="10.18.0.4", dst=a) / ICMP(type=3, code=3) / raw(probe)[:28 + 8])]
    frames += [("c", IPv6(src="fd00:12::1", dst="fd00:12::3") / ICMPv6EchoRequest(id=6, seq=1, data=b"q" * 56)),
               ("s", IPv6(src="fd00:12::3", dst="fd00:12::1") / ICMPv6EchoReply(id=6, seq=1, data=b"q" * 56)),
               ("s", IPv6(src="fd00:12::3", dst="fd00:12::1") /
                ICMPv6PacketTooBig(mtu=1280) / raw(IPv6(src="fd00:12::1", dst="fd00:12::3") /
                                                   UDP(sport=40182, dport=443) / (b"z" * 64)))]
    # Mid-stream TCP (no handshake seen) whose first packet comes from the server (port 80).
    frames += tcp_session("10.18.1.1", "10.18.1.2", 45000, 80, [(b"more request", b"more response")],
                          syn=False)[1:]
    # A UDP answer seen before (without) its question: the port-53 side is still the server.
    frames += [("s", IP(src="10.18.1.3", dst="10.18.1.1") / UDP(sport=53, dport=45001) / DNS_R)]
    # A TCP connection reset by the server's RST after the handshake.
    rst = tcp_session("10.18.2.1", "10.18.2.2", 45002, 443, [])[:3]
    rst.append(("s", IP(src="10.18.2.2", dst="10.18.2.1") / TCP(sport=443, dport=45002, flags="RA",
                                                                 seq=rst[1][1][TCP].seq + 1, ack=rst[2][1][TCP].seq)))
    frames += rst
    for d, p in frames:
        b.add(eth(d, p))
    return _fixture(outdir, "misc", "SCTP, IP protocol 253, ICMP echo and errors (v4, v6), mid-stream TCP, a "
                    "reply-only UDP flow, a reset connection", b)


def fx_timeouts(outdir, i):
    """Read with idle timeout 60 s and active timeout 300 s (the defaults, stated)."""
    b = Builder(i)
    # UDP: two exchanges 120 s apart -> two flows (idle timeout between them).
    for d, p in udp_exchange("10.19.0.1", "10.19.0.2", 40190, 53, [("c", DNS_Q), ("s", DNS_R)]):
        b.add(eth(d, p))
    gap = True
    for d, p in udp_exchange("10.19.0.1", "10.19.0.2", 40190, 53, [("c", DNS_Q), ("s", DNS_R)]):
        b.add(eth(d, p), gap_ns=120 * 10**9 if gap else None)
        gap = False
    # TCP: a connection alive for 700 s, a request every 25 s -> records at the active timeout.
    sess = tcp_session("10.19.1.1", "10.19.1.2", 40191, 80, [(HTTP_REQ, HTTP_RESP)] * 28)
    for n, (d, p) in enumerate(sess):
        b.add(eth(d, p), gap_ns=25 * 10**9 if (n > 3 and p[TCP].flags == "PA" and d == "c") else None)
    return _fixture(outdir, "timeouts", "a UDP flow idle for 120 s (two flows), a TCP connection of 700 s "
                    "(interim records at the 300 s active timeout)", b,
                    records={(frozenset({"10.19.0.1", "10.19.0.2"}), 17): 2,
                             (frozenset({"10.19.1.1", "10.19.1.2"}), 6): 3},
                    config="flows:\n  idle_timeout: 60s\n  active_timeout: 5m\n")


def fx_tcp_anomalies(outdir, i):
    """A connection with a retransmission each way, a segment that fills a hole
    (out of order) and a zero-window advertisement; counts are by design."""
    b = Builder(i)
    cli, srv, sport, dport = "10.23.0.1", "10.23.0.2", 40230, 80
    sess = tcp_session(cli, srv, sport, dport, [])[:3]  # handshake only
    c_seq = sess[2][1][TCP].seq
    s_seq = sess[1][1][TCP].seq + 1

    def c(flags, seq, payload=b"", window=502):
        return ("c", IP(src=cli, dst=srv) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=s_ack,
                                                window=window) / payload)

    def s(flags, seq, payload=b""):
        return ("s", IP(src=srv, dst=cli) / TCP(sport=dport, dport=sport, flags=flags, seq=seq, ack=c_ack,
                                                window=509) / payload)

    s_ack, c_ack = s_seq, c_seq
    frames = list(sess)
    request = b"r" * 100
    frames.append(c("PA", c_seq, request))
    frames.append(c("PA", c_seq, request))          # client retransmission
    c_ack = c_seq + 100
    frames.append(s("A", s_seq))
    seg = [b"1" * 500, b"2" * 500, b"3" * 500]
    frames.append(s("A", s_seq, seg[0]))
    frames.append(s("PA", s_seq + 1000, seg[2]))   # jumps ahead: a hole of 500 bytes
    frames.append(s("A", s_seq + 500, seg[1]))      # fills the hole: out of order
    s_ack = s_seq + 1500
    frames.append(c("A", c_seq + 100, window=0))    # zero window
    frames.append(c("A", c_seq + 100))              # window update
    frames.append(s("PA", s_seq + 1000, seg[2]))   # server retransmission
    frames.append(c("FA", c_seq + 100))
    c_ack = c_seq + 101
    frames.append(s("FA", s_seq + 1500))
    s_ack = s_seq + 1501
    frames.append(c("A", c_seq + 101))
    for d, p in frames:
        b.add(eth(d, p))
    counters = {"client": {"retransmissions": 1, "out_of_order": 0, "zero_windows": 1},
                "server": {"retransmissions": 1, "out_of_order": 1, "zero_windows": 0}}
    return _fixture(outdir, "tcp_anomalies", "TCP retransmissions both ways, a hole filled out of order, a zero "
                    "window", b, tcp_counters={(frozenset({cli, srv}), 6): counters})


def fx_snaplen(outdir, i):
    b = Builder(i)
    frames = interleave(tcp_session("10.20.0.1", "10.20.0.2", 40200, 80, [(HTTP_REQ, HTTP_RESP * 10)]),
                        udp_exchange("fd00:14::1", "fd00:14::2", 40201, 53, [("c", DNS_Q), ("s", DNS_R)]),
                        [(d, IP(src="10.20.0.1", dst="10.20.0.3") / GRE(key_present=1, key=9, proto=0x0800) / p)
                         for d, p in udp_exchange("10.20.1.1", "10.20.1.2", 40202, 53, [("c", DNS_Q)])])
    for d, p in frames:
        b.add(eth(d, p), caplen=96)  # tcpdump -s 96: headers whole, payload cut
    return _fixture(outdir, "snaplen", "packets captured with snaplen 96 (caplen < wirelen): counts still from "
                    "the IP headers", b,
                    tunnels={(frozenset({"10.20.1.1", "10.20.1.2"}), 17):
                             tunnel_expect("gre", 9, "10.20.0.1", "10.20.0.3")})


# -- malformed input: no ground truth, only "exit 0, valid events, no crash" ----

def fx_truncated(outdir, i, good_fixtures):
    rng = random.Random(4242)
    b = Builder(i)
    # Every frame of the good fixtures' Ethernet captures, cut at a random point
    # (wirelen keeps the original length, as a short snaplen would).
    for fx in good_fixtures:
        if fx.linktype != LINKTYPE_ETHERNET or fx.fmt != "pcap":
            continue
        for _, data, _ in read_pcap(fx.path)[1]:
            b.records.append((b.clock.tick(), data[:rng.randrange(0, len(data) + 1)], len(data)))
    # Hand-made header lies.
    bad = []
    ip_ok = IP(src="10.21.0.1", dst="10.21.0.2") / UDP(sport=1, dport=2) / (b"x" * 20)
    r = bytearray(raw(ip_ok))
    for ihl in (0, 3, 4, 15):
        x = bytearray(r)
        x[0] = 0x40 | ihl
        bad.append(bytes(x))
    for total in (0, 10, 19, 2000, 65535):
        x = bytearray(r)
        x[2:4] = struct.pack("!H", total)
        bad.append(bytes(x))
    bad.append(raw(IP(src="10.21.0.1", dst="10.21.0.2", flags="MF", frag=8189, proto=17) / (b"y" * 64)))
    bad.append(raw(IP(src="10.21.0.1", dst="10.21.0.2", frag=8190, proto=17) / (b"y" * 64)))
    bad.append(raw(IP(src="10.21.0.1", dst="10.21.0.2", proto=17, flags="MF", frag=0) / b"\x00\x01"))
    tcp_bad = bytearray(raw(IP(src="10.21.0.1", dst="10.21.0.2") / TCP(sport=1, dport=2)))
    for off in (0, 2, 15):
        x = bytearray(tcp_bad)
        x[20 + 12] = off << 4
        bad.append(bytes(x))
    v6 = bytearray(raw(IPv6(src="fd00:15::1", dst="fd00:15::2") / UDP(sport=1, dport=2) / (b"z" * 8)))
    x = bytearray(v6)
    x[4:6] = struct.pack("!H", 60000)
    bad.append(bytes(x))
    chain = IPv6(src="fd00:15::1", dst="fd00:15::2")
    for _ in range(40):
        chain = chain / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)])
    bad.append(raw(chain / UDP(sport=1, dport=2)))
    hbh_lie = bytearray(raw(IPv6(src="fd00:15::1", dst="fd00:15::2") / IPv6ExtHdrHopByHop() / UDP(sport=1, dport=2)))
    hbh_lie[41] = 255  # hop-by-hop length runs far past the packet
    bad.append(bytes(hbh_lie))
    bad.append(raw(IPv6(src="fd00:15::1", dst="fd00:15::2") / IPv6ExtHdrFragment(nh=17, offset=0, m=1, id=5) / b"\x00"))
    # Tunnels nested deeper than any decoder should follow.
    deep = IP(src="10.21.9.1", dst="10.21.9.2") / UDP(sport=3, dport=4) / b"deep"
    for n in range(12):
        deep = IP(src="10.21.8.%d" % n, dst="10.21.7.%d" % n, proto=4) / deep
    bad.append(raw(deep))
    vx = IP(src="10.21.9.1", dst="10.21.9.2") / UDP(sport=3, dport=4) / b"deep"
    for n in range(8):
        vx = IP(src="10.21.6.%d" % n, dst="10.21.5.%d" % n) / UDP(sport=4789, dport=4789) / VXLAN(vni=n) / \
            Ether(src=CLIENT_MAC, dst=SERVER_MAC) / vx
    bad.append(raw(vx))
    bad.append(raw(IP(src="10.21.0.1", dst="10.21.0.2") / UDP(sport=5, dport=4789) / b"\x08\x00"))
    bad.append(raw(IP(src="10.21.0.1", dst="10.21.0.2") / UDP(sport=5, dport=6081) / (bytes([0x3f, 0, 0x65, 0x58]) +
                   b"\0" * 4)))
    bad.append(raw(IP(src="10.21.0.1", dst="10.21.0.2", proto=47) / bytes([0xf0, 0x01, 0x08, 0x00])))
    bad.append(raw(IP(src="10.21.0.1", dst="10.21.0.2", proto=47) / GRE(proto=0x88BE) / b"\x10"))
    bad.append(raw(IP(src="10.21.0.1", dst="10.21.0.2", proto=47) / GRE(proto=0x22EB) / (b"\x20" * 12)))
    bad.append(raw(IP(src="10.21.0.1", dst="10.21.0.2") / ICMP(type=3, code=3) / b"\x45"))
    for payload in bad:
        b.add(Ether(src=CLIENT_MAC, dst=SERVER_MAC, type=0x86DD if payload[0] >> 4 == 6 else 0x0800) / payload)
    # Link layer lies: empty and tiny frames, a stack of 10 VLAN tags, a tag with nothing after it.
    for frame in (b"", b"\x02", b"\x02" * 13, raw(Ether(type=0x8100)) + b"\x00",
                  raw(Ether() / Dot1Q() / Dot1Q() / Dot1Q() / Dot1Q() / Dot1Q() / Dot1Q() / Dot1Q() / Dot1Q() /
                      Dot1Q() / Dot1Q() / ip_ok)):
        b.records.append((b.clock.tick(), frame, max(len(frame), 60)))
    return _fixture(outdir, "truncated", "every frame of the Ethernet fixtures cut at a random length, plus "
                    "hand-made header lies (lengths, offsets, extension chains, deep tunnels)", b, kind="robust")


def fx_random(outdir, i):
    rng = random.Random(1337)
    b = Builder(i)
    prefixes = [b"", raw(Ether(src=CLIENT_MAC, dst=SERVER_MAC, type=0x0800))[:14],
                raw(Ether(type=0x86DD))[:14], raw(Ether() / Dot1Q(vlan=5, type=0x0800))[:18],
                raw(Ether() / IP(src="10.22.0.1", dst="10.22.0.2", proto=47))[:34],
                raw(Ether() / IP(src="10.22.0.1", dst="10.22.0.2") / UDP(sport=9, dport=4789))[:42],
                raw(Ether() / IP(src="10.22.0.1", dst="10.22.0.2") / UDP(sport=9, dport=6081))[:42]]
    for n in range(600):
        prefix = prefixes[n % len(prefixes)]
        body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 1600)))
        data = prefix + body
        b.records.append((b.clock.tick(), data, len(data)))
    return _fixture(outdir, "random", "600 frames of seeded random bytes, some behind valid Ethernet, IP, GRE, "
                    "VXLAN and Geneve headers", b, kind="robust")


def fx_random_raw(outdir, i):
    rng = random.Random(7)
    b = Builder(i)
    for n in range(300):
        first = rng.choice([0x45, 0x46, 0x4f, 0x60, 0x00])
        body = bytes([first]) + bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 200)))
        b.records.append((b.clock.tick(), body, len(body)))
    return _fixture(outdir, "random_raw", "300 random raw-IP packets (LINKTYPE 101)", b, linktype=LINKTYPE_RAW,
                    kind="robust")


def fx_cut_file(outdir, i, source):
    path = os.path.join(outdir, "cut_file.pcap")
    with open(source.path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) - 37])  # the last record ends mid-packet
    return Fixture(name="cut_file", path=path, description="a pcap whose last record is cut off (writer killed)",
                   kind="truncated_file")


def read_pcap(path):
    """(linktype, [(ts_ns, data, wirelen)]) of a file written by write_pcap."""
    with open(path, "rb") as f:
        data = f.read()
    magic, _, _, _, _, _, linktype = struct.unpack_from("<IHHiIII", data, 0)
    assert magic == 0xA1B23C4D
    off, out = 24, []
    while off + 16 <= len(data):
        sec, nsec, caplen, wirelen = struct.unpack_from("<IIII", data, off)
        out.append((sec * 10**9 + nsec, data[off + 16:off + 16 + caplen], wirelen))
        off += 16 + caplen
    return linktype, out


EXACT = [fx_vlan, fx_qinq, fx_vxlan, fx_geneve, fx_gre, fx_erspan2, fx_erspan3, fx_ipip, fx_ip6ip,
         fx_ipv4_options, fx_ipv6_ext, fx_ipv4_frag, fx_ipv6_frag, fx_ip_overlap, fx_sll, fx_sll2, fx_raw,
         fx_pcapng, fx_misc, fx_timeouts, fx_tcp_anomalies, fx_snaplen]


def make_fixtures(outdir):
    """Writes every fixture into outdir; returns the list of Fixture."""
    os.makedirs(outdir, exist_ok=True)
    fixtures = [fn(outdir, n) for n, fn in enumerate(EXACT)]
    n = len(fixtures)
    fixtures.append(fx_truncated(outdir, n, list(fixtures)))
    fixtures.append(fx_random(outdir, n + 1))
    fixtures.append(fx_random_raw(outdir, n + 2))
    fixtures.append(fx_cut_file(outdir, n + 3, fixtures[0]))
    return fixtures


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: make_fixtures.py OUTDIR")
    for fx in make_fixtures(argv[1]):
        print("%-13s %-7s %s  %s" % (fx.name, fx.kind, os.path.basename(fx.path), fx.description))


if __name__ == "__main__":
    main(sys.argv)
