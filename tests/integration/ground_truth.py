#!/usr/bin/python3
"""Flow ground truth from tshark, independent of tapflow's decoder.

tshark reads the pcap with IP reassembly off, so every frame (every fragment)
is one row. Each row is reduced to its innermost IP header (the last one before
any ICMP payload, which may quote another IP header) and the transport header
right after it. Non-first fragments have no ports: they are attributed to the
flow of their datagram's first fragment, found through (version, src, dst, id).

Flows are bidirectional and keyed like tapflow's: the unordered pair of
(ip, port) endpoints, the IP protocol and the outermost VLAN id. ICMP "ports"
follow the Community ID spec (type, and the paired reply type or the code), so
an echo request and its reply are one flow.

Run by hand: ground_truth.py FILE.pcap prints the flows it found.
"""

import base64
import collections
import decimal
import hashlib
import ipaddress
import struct
import subprocess
import sys

TSHARK_FIELDS = [
    "frame.number", "frame.time_epoch", "frame.protocols", "vlan.id", "ieee8021ad.id",
    "ip.src", "ip.dst", "ip.len", "ip.id", "ip.proto", "ip.flags.mf", "ip.frag_offset",
    "ipv6.src", "ipv6.dst", "ipv6.plen", "ipv6.nxt",
    "ipv6.fraghdr.ident", "ipv6.fraghdr.offset", "ipv6.fraghdr.more",
    "tcp.srcport", "tcp.dstport", "tcp.flags",
    "udp.srcport", "udp.dstport", "sctp.srcport", "sctp.dstport",
    "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
    "communityid",
]

TRANSPORT_TOKENS = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "icmpv6": 58}
PORT_PROTOS = (6, 17, 132)
ICMP_PROTOS = (1, 58)
IPV6_EXT_HEADERS = (0, 43, 44, 60, 51, 50, 135, 139, 140)

TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK = 0x01, 0x02, 0x04, 0x10
TCP_FLAG_LETTERS = ((0x02, "S"), (0x10, "A"), (0x01, "F"), (0x04, "R"), (0x08, "P"), (0x20, "U"), (0x40, "E"),
                    (0x80, "C"))
ICMP_REQUESTS = {1: (8, 13, 15, 10, 17), 58: (128, 133, 135, 130, 139, 144)}

# Community ID spec: ICMP types that have a reply type pair up into one flow.
ICMP4_PAIRS = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
ICMP6_PAIRS = {128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130,
               139: 140, 140: 139, 144: 145, 145: 144}


class GroundTruthError(Exception):
    pass


def icmp_ports(proto, icmp_type, icmp_code):
    """(sport, dport, one_way) as the Community ID spec maps ICMP type/code."""
    pairs = ICMP4_PAIRS if proto == 1 else ICMP6_PAIRS
    if icmp_type in pairs:
        return icmp_type, pairs[icmp_type], False
    return icmp_type, icmp_code, True


def community_id(proto, src, dst, sport, dport, seed=0):
    """Community ID v1 (https://github.com/corelight/community-id-spec), for
    TCP/UDP/SCTP (ports), ICMP/ICMPv6 (sport=type, dport=code as on the wire)
    and any other protocol (no ports)."""
    saddr = ipaddress.ip_address(src).packed
    daddr = ipaddress.ip_address(dst).packed
    one_way = False
    if proto in ICMP_PROTOS:
        sport, dport, one_way = icmp_ports(proto, sport, dport)
    if not one_way and (saddr > daddr or (saddr == daddr and sport > dport)):
        saddr, daddr, sport, dport = daddr, saddr, dport, sport
    data = struct.pack("!H", seed) + saddr + daddr + struct.pack("!BB", proto, 0)
    if proto in PORT_PROTOS or proto in ICMP_PROTOS:
        data += struct.pack("!HH", sport, dport)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def flow_key(proto, src, sport, dst, dport, vlan):
    """Direction-free key; ICMP ports mapped as Community ID does."""
    if proto in ICMP_PROTOS:
        sport, dport, one_way = icmp_ports(proto, sport, dport)
        if one_way:
            return (proto, vlan, ("->", (src, sport), (dst, dport)))
    ends = tuple(sorted([(src, sport), (dst, dport)], key=lambda e: (ipaddress.ip_address(e[0]).packed, e[1])))
    return (proto, vlan, ends)


def _split(value):
    return value.split(",") if value else []


def _int(value):
    if value in ("", None):
        return None
    if value in ("True", "False"):
        return 1 if value == "True" else 0
    return int(value, 0)


def _nth(fields, name, idx):
    values = _split(fields[name])
    if idx < 0 or idx >= len(values):
        raise GroundTruthError("frame %s: no occurrence %d of %s (%r)" % (fields["frame.number"], idx, name,
                                                                           fields[name]))
    return values[idx]


class Packet:
    """One frame reduced to what flows need."""
    __slots__ = ("number", "ts_ns", "vlan", "inner_vlan", "version", "src", "dst", "proto", "ip_bytes",
                 "sport", "dport", "frag_key", "first_fragment", "last_fragment", "is_fragment", "tcp_flags",
                 "tshark_cid", "tunnelled")


def _parse_row(fields):
    tokens = fields["frame.protocols"].split(":")
    # ICMP may quote the IP header that caused an error: nothing after it counts.
    for i, tok in enumerate(tokens):
        if tok in ("icmp", "icmpv6"):
            scope = tokens[:i + 1]
            break
    else:
        scope = tokens
    ip_positions = [i for i, tok in enumerate(scope) if tok in ("ip", "ipv6")]
    if not ip_positions:
        return None  # ARP and other non-IP frames: not flows
    inner = ip_positions[-1]
    version = 4 if scope[inner] == "ip" else 6
    occurrence = scope[:inner].count(scope[inner])

    p = Packet()
    p.number = int(fields["frame.number"])
    p.ts_ns = int(decimal.Decimal(fields["frame.time_epoch"]) * 1000000000)
    p.tunnelled = len(ip_positions) > 1
    # Tags of the outermost frame, outer first: 802.1ad (S-tag) and 802.1Q have separate fields.
    ids = {"vlan": [int(v) for v in _split(fields["vlan.id"])],
           "ieee8021ad": [int(v) for v in _split(fields["ieee8021ad.id"])]}
    tags = []
    for tok in scope[:ip_positions[0]]:
        if tok in ids:
            tags.append(ids[tok].pop(0))
    p.vlan = tags[0] if tags else None
    p.inner_vlan = tags[1] if len(tags) > 1 else None
    p.version = version
    if version == 4:
        p.src = _nth(fields, "ip.src", occurrence)
        p.dst = _nth(fields, "ip.dst", occurrence)
        p.ip_bytes = int(_nth(fields, "ip.len", occurrence))
        mf = _int(_nth(fields, "ip.flags.mf", occurrence))
        offset = int(_nth(fields, "ip.frag_offset", occurrence))
        p.is_fragment = bool(mf) or offset != 0
        p.first_fragment = p.is_fragment and offset == 0
        p.last_fragment = p.is_fragment and not mf
        ip_proto = int(_nth(fields, "ip.proto", occurrence))
        p.frag_key = (4, p.src, p.dst, int(_nth(fields, "ip.id", occurrence), 0), ip_proto) if p.is_fragment else None
    else:
        p.src = _nth(fields, "ipv6.src", occurrence)
        p.dst = _nth(fields, "ipv6.dst", occurrence)
        p.ip_bytes = 40 + int(_nth(fields, "ipv6.plen", occurrence))
        ip_proto = int(_nth(fields, "ipv6.nxt", occurrence))
        # A fragment header of the innermost IPv6 layer appears after it in the token list.
        p.is_fragment = "ipv6.fraghdr" in scope[inner:]
        if p.is_fragment:
            frag_idx = scope[:inner].count("ipv6.fraghdr")
            offset = int(_nth(fields, "ipv6.fraghdr.offset", frag_idx))
            more = _int(_nth(fields, "ipv6.fraghdr.more", frag_idx))
            p.first_fragment = offset == 0
            p.last_fragment = not more
            p.frag_key = (6, p.src, p.dst, int(_nth(fields, "ipv6.fraghdr.ident", frag_idx), 0))
        else:
            p.first_fragment = p.last_fragment = False
            p.frag_key = None

    # The transport header right after the innermost IP header (and its extension headers).
    p.sport = p.dport = None
    p.tcp_flags = None
    transport = None
    for tok in scope[inner + 1:]:
        if tok in ("ip", "ipv6"):
            break
        if tok in TRANSPORT_TOKENS:
            transport = tok
            break
    non_first_fragment = p.is_fragment and not p.first_fragment
    if transport and not non_first_fragment:
        p.proto = TRANSPORT_TOKENS[transport]
        idx = scope[:scope.index(transport, inner)].count(transport)
        if transport in ("tcp", "udp", "sctp"):
            p.sport = int(_nth(fields, transport + ".srcport", idx))
            p.dport = int(_nth(fields, transport + ".dstport", idx))
            if transport == "tcp":
                p.tcp_flags = int(_nth(fields, "tcp.flags", idx), 16) & 0xFF
        else:
            p.sport = int(_nth(fields, transport + ".type", idx))
            p.dport = int(_nth(fields, transport + ".code", idx))
    elif non_first_fragment:
        p.proto = None  # from the first fragment
    else:
        if version == 6 and ip_proto in IPV6_EXT_HEADERS:
            raise GroundTruthError("frame %d: cannot tell the protocol after IPv6 extension headers" % p.number)
        p.proto = ip_proto
        p.sport = p.dport = 0
    cids = _split(fields["communityid"])
    p.tshark_cid = cids[-1] if cids else None
    return p


# tshark's TCP analysis, for the per-direction counters of real traffic.
TCP_ANALYSIS = {
    "retransmissions": "tcp.analysis.retransmission || tcp.analysis.fast_retransmission"
                       " || tcp.analysis.spurious_retransmission",
    "out_of_order": "tcp.analysis.out_of_order",
    "zero_windows": "tcp.analysis.zero_window",
}


def tcp_analysis_frames(pcap):
    """{counter name: set of frame numbers tshark flags with it}."""
    result = {}
    for name, display_filter in TCP_ANALYSIS.items():
        cmd = ["tshark", "-n", "-r", pcap, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
               "-o", "tcp.desegment_tcp_streams:FALSE", "-Y", display_filter, "-T", "fields", "-e", "frame.number"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise GroundTruthError("tshark failed on %s: %s" % (pcap, proc.stderr))
        result[name] = {int(x) for x in proc.stdout.split()}
    return result


def read_packets(pcap):
    cmd = ["tshark", "-n", "-r", pcap, "--enable-protocol", "communityid",
           "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
           "-o", "tcp.desegment_tcp_streams:FALSE", "-o", "udp.try_heuristic_first:FALSE",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise GroundTruthError("tshark failed on %s: %s" % (pcap, proc.stderr))
    packets = []
    for line in proc.stdout.splitlines():
        values = line.split("\t")
        if len(values) != len(TSHARK_FIELDS):
            raise GroundTruthError("tshark row with %d fields: %r" % (len(values), line))
        p = _parse_row(dict(zip(TSHARK_FIELDS, values)))
        if p is not None:
            packets.append(p)
    return packets


class Flow:
    def __init__(self, key, proto, vlan, inner_vlan):
        self.key = key
        self.proto = proto
        self.version = None
        self.vlan = vlan
        self.inner_vlan = inner_vlan
        self.packets = collections.Counter()  # (src ip, sport) of the sender -> packets
        self.bytes = collections.Counter()
        self.first_ts = None
        self.last_ts = None
        self.first_sender = None     # (ip, port) that sent the first packet
        self.first_receiver = None
        self.syn_sender = None       # (ip, port) that sent a SYN without ACK
        self.fins_from = set()
        self.rst_seen = False
        self.tshark_cids = set()
        self.tcp_flags = collections.Counter()  # sender -> OR of the TCP flags it sent
        self.syn_ts = self.synack_ts = self.handshake_ack_ts = None
        self.icmp = None          # (type, code) of the first packet
        self.icmp_request = None  # (type, code) of the first request (echo, ...), if any
        self.icmp_request_sender = None
        self.community_id = None     # this module's own Community ID
        # sender -> {"retransmissions": n, "out_of_order": n, "zero_windows": n}, from tshark's analysis
        self.tcp_analysis = collections.defaultdict(collections.Counter)
        self.tunnelled = False
        self.frames = []

    def endpoints(self):
        ends = {self.first_sender, self.first_receiver}
        return ends

    def describe(self):
        ends = sorted(self.endpoints(), key=str)
        return "%s %s vlan=%s" % (proto_name(self.proto), " <-> ".join("%s:%s" % e for e in ends), self.vlan)


def proto_name(proto):
    return {6: "tcp", 17: "udp", 132: "sctp", 1: "icmp", 58: "ipv6-icmp"}.get(proto, str(proto))


def flows_from_packets(packets, exclude_datagrams=(), analysis=None):
    """Groups packets into flows. exclude_datagrams: (version, src, dst, id) of
    fragmented datagrams that the reader is expected to drop (overlaps)."""
    # Pass 1: the 5-tuple of each fragmented datagram, from its first fragment.
    first = {}
    has_last = set()
    for p in packets:
        if p.is_fragment:
            if p.first_fragment:
                first[p.frag_key[:4]] = p
            if p.last_fragment:
                has_last.add(p.frag_key[:4])
    excluded = set(tuple(x) for x in exclude_datagrams)
    flows = {}
    unattributed = []
    for p in packets:
        proto, sport, dport, tcp_flags = p.proto, p.sport, p.dport, p.tcp_flags
        if p.is_fragment:
            dkey = p.frag_key[:4]
            if dkey in excluded or dkey not in first or dkey not in has_last:
                # Never completed (or dropped on purpose): a reassembling reader does not count it.
                unattributed.append(p)
                continue
            head = first[dkey]
            proto, sport, dport, tcp_flags = head.proto, head.sport, head.dport, head.tcp_flags
            if not p.first_fragment:
                tcp_flags = None
        key = flow_key(proto, p.src, sport, p.dst, dport, p.vlan)
        flow = flows.get(key)
        if flow is None:
            flow = flows[key] = Flow(key, proto, p.vlan, p.inner_vlan)
            flow.version = p.version
            flow.first_sender = (p.src, sport)
            flow.first_receiver = (p.dst, dport)
            flow.first_ts = p.ts_ns
            flow.community_id = community_id(proto, p.src, p.dst, sport, dport)
            if proto in ICMP_PROTOS:
                flow.icmp = (sport, dport)
        sender = (p.src, sport)
        if sender not in (flow.first_sender, flow.first_receiver):
            # ICMP: the reply's "port" is its own type; map it back to the endpoint.
            sender = flow.first_sender if p.src == flow.first_sender[0] else flow.first_receiver
        if proto in ICMP_PROTOS and flow.icmp_request is None and sport in ICMP_REQUESTS[proto]:
            flow.icmp_request = (sport, dport)
            flow.icmp_request_sender = sender
        flow.packets[sender] += 1
        flow.bytes[sender] += p.ip_bytes
        flow.first_ts = min(flow.first_ts, p.ts_ns)
        flow.last_ts = max(flow.last_ts or p.ts_ns, p.ts_ns)
        flow.tunnelled = flow.tunnelled or p.tunnelled
        flow.frames.append(p.number)
        for name, frames in (analysis or {}).items():
            if p.number in frames:
                flow.tcp_analysis[sender][name] += 1
        if tcp_flags is not None:
            flow.tcp_flags[sender] |= tcp_flags
            syn_ack = tcp_flags & (TCP_SYN | TCP_ACK)
            if syn_ack == TCP_SYN:
                if flow.syn_sender is None:
                    flow.syn_sender = sender
                if flow.syn_ts is None:
                    flow.syn_ts = p.ts_ns
            elif syn_ack == TCP_SYN | TCP_ACK:
                if flow.synack_ts is None and flow.syn_ts is not None:
                    flow.synack_ts = p.ts_ns
            elif (tcp_flags & TCP_ACK and flow.synack_ts is not None and flow.handshake_ack_ts is None
                  and sender == flow.syn_sender):
                flow.handshake_ack_ts = p.ts_ns
            if tcp_flags & TCP_FIN:
                flow.fins_from.add(sender)
            if tcp_flags & TCP_RST:
                flow.rst_seen = True
        if p.tshark_cid and (not p.is_fragment or p.first_fragment):
            flow.tshark_cids.add(p.tshark_cid)
    return list(flows.values()), unattributed


def ground_truth(pcap, exclude_datagrams=()):
    return flows_from_packets(read_packets(pcap), exclude_datagrams, tcp_analysis_frames(pcap))


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: ground_truth.py FILE.pcap")
    flows, unattributed = ground_truth(argv[1])
    for f in sorted(flows, key=lambda f: f.first_ts):
        a, b = f.first_sender, f.first_receiver
        print("%-60s %s->%s %d pkts %d bytes, back %d pkts %d bytes cid=%s tshark=%s" % (
            f.describe(), a, b, f.packets[a], f.bytes[a], f.packets[b], f.bytes[b], f.community_id,
            ",".join(sorted(f.tshark_cids))))
    if unattributed:
        print("unattributed fragments: frames %s" % [p.number for p in unattributed])


if __name__ == "__main__":
    main(sys.argv)
