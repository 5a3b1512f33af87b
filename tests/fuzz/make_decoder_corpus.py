#!/usr/bin/python3
"""Writes the seed corpus of fuzz_decoder: one file per packet kind the decoder handles.

Each file is one selector byte (link type in the low 3 bits, 0x80 = capture cut
short, see fuzz_decoder.cc) followed by the packet, built with scapy.
Run with Debian's /usr/bin/python3 (it has scapy):
    /usr/bin/python3 tests/fuzz/make_decoder_corpus.py [output-dir]
"""

import os
import sys

from scapy.all import (
    ARP, GRE, ICMP, IP, SCTP, TCP, UDP, CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether, ICMPv6EchoRequest, IPv6,
    IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, Raw, raw)
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III, ERSPAN_PlatformSpecific
from scapy.contrib.geneve import GENEVE
from scapy.layers.ipsec import AH
from scapy.layers.vxlan import VXLAN

ETHERNET, RAW, SLL, SLL2, IPV4, IPV6 = 0, 1, 2, 3, 4, 5
TRUNCATED = 0x80

OUT = "10.0.0.1", "10.0.0.2"
IN4 = "192.168.1.1", "192.168.1.2"
IN6 = "fd00::1", "fd00::2"


def eth():
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def ip(src_dst=OUT, **kw):
    return IP(src=src_dst[0], dst=src_dst[1], **kw)


def ip6(src_dst=("2001:db8::1", "2001:db8::2"), **kw):
    return IPv6(src=src_dst[0], dst=src_dst[1], **kw)


def inner_tcp4():
    return ip(IN4, ttl=9) / TCP(sport=5555, dport=443, flags="PA") / Raw(b"hi")


def inner_udp6():
    return ip6(IN6, hlim=3) / UDP(sport=5353, dport=53) / Raw(b"q")


def vxlan_udp():
    return UDP(sport=49152, dport=4789)  # a high source port, so tshark's cross-check picks VXLAN


def geneve_udp():
    return UDP(sport=49152, dport=6081)


SYN_OPTIONS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)]
DATA_OPTIONS = [("NOP", None), ("NOP", None), ("Timestamp", (5, 6))]

PACKETS = {
    # Link layers.
    "eth_ipv4_tcp_syn": (ETHERNET, eth() / ip() / TCP(sport=40000, dport=80, flags="S", options=SYN_OPTIONS)),
    "eth_ipv4_tcp_sack": (ETHERNET, eth() / ip() / TCP(flags="A", options=[("NOP", None), ("NOP", None),
                                                                          ("SAck", (100, 200, 300, 400))])),
    "eth_ipv4_udp_padded": (ETHERNET, eth() / ip() / UDP(sport=1000, dport=53) / Raw(b"ab")),
    "eth_ipv4_tcp_truncated": (ETHERNET | TRUNCATED, eth() / ip() / TCP(dport=80, options=DATA_OPTIONS) /
                               Raw(b"a" * 200)),
    "raw_ipv4_udp": (RAW, ip() / UDP(sport=1, dport=2)),
    "raw_ipv6_tcp": (RAW, ip6() / TCP(dport=22)),
    "linktype_ipv4_icmp": (IPV4, ip() / ICMP(type=8) / Raw(b"ping")),
    "linktype_ipv6_icmpv6": (IPV6, ip6() / ICMPv6EchoRequest()),
    "sll_ipv4_tcp": (SLL, CookedLinux(proto=0x0800, lladdrlen=6) / ip() / TCP(dport=8080)),
    "sll_vlan_ipv4_udp": (SLL, CookedLinux(proto=0x8100, lladdrlen=6) / Dot1Q(vlan=42) / ip() / UDP(dport=9)),
    "sll2_ipv6_udp": (SLL2, CookedLinuxV2(proto=0x86dd, lladdrlen=6) / ip6() / UDP(sport=7, dport=9)),
    "eth_arp": (ETHERNET, eth() / ARP()),
    # VLANs.
    "eth_vlan_ipv4_tcp": (ETHERNET, eth() / Dot1Q(vlan=100) / ip() / TCP()),
    "eth_qinq_ipv6_udp": (ETHERNET, eth() / Dot1AD(vlan=10) / Dot1Q(vlan=20) / ip6() / UDP()),
    # IPv4 options and fragments.
    "eth_ipv4_options_icmp": (ETHERNET, eth() / ip(options=b"\x07\x07\x04\x00\x00\x00\x00\x00") / ICMP()),
    "eth_ipv4_first_fragment": (ETHERNET, eth() / ip(id=0xbeef, flags="MF") / TCP(dport=22) / Raw(b"x" * 16)),
    "eth_ipv4_later_fragment": (ETHERNET, eth() / ip(id=0xbeef, frag=185, proto=17) / Raw(b"y" * 24)),
    # IPv6 extension headers.
    "eth_ipv6_ext_chain_tcp": (ETHERNET, eth() / ip6() / IPv6ExtHdrHopByHop() / IPv6ExtHdrRouting() /
                               IPv6ExtHdrDestOpt() / TCP(dport=993)),
    "eth_ipv6_ah_udp": (ETHERNET, eth() / ip6(nh=51) / AH(nh=17, payloadlen=4, icv=b"\0" * 12) / UDP(dport=500)),
    "eth_ipv6_first_fragment": (ETHERNET, eth() / ip6() / IPv6ExtHdrFragment(id=7, m=1, nh=17) / UDP(dport=53) /
                                Raw(b"q" * 32)),
    "eth_ipv6_later_fragment": (ETHERNET, eth() / ip6() / IPv6ExtHdrFragment(id=7, offset=154, nh=6) / Raw(b"p" * 40)),
    "eth_ipv6_no_next_header": (ETHERNET, eth() / ip6(nh=59)),
    "eth_ipv4_sctp": (ETHERNET, eth() / ip() / SCTP(sport=2905, dport=2906)),
    # Tunnels.
    "vxlan": (ETHERNET, eth() / ip() / vxlan_udp() / VXLAN(vni=0x123456) / eth() /
              Dot1Q(vlan=300) / inner_tcp4()),
    "geneve_eth": (ETHERNET, eth() / ip() / geneve_udp() /
                   GENEVE(vni=77, proto=0x6558, optionlen=2, options=b"\x01\x02\x03\x01\x00\x00\x00\x00") /
                   eth() / inner_udp6()),
    "geneve_ipv4": (ETHERNET, eth() / ip6() / geneve_udp() / GENEVE(vni=9, proto=0x0800) / inner_tcp4()),
    "gre_teb_key": (ETHERNET, eth() / ip() / GRE(key_present=1, key=0xabcdef01, proto=0x6558) / eth() / inner_tcp4()),
    "gre_ipv4_csum_key_seq": (ETHERNET, eth() / ip() / GRE(chksum_present=1, key_present=1, key=5, seqnum_present=1,
                                                           seqence_number=9, proto=0x0800) / inner_tcp4()),
    "gre_ipv6": (ETHERNET, eth() / ip() / GRE(proto=0x86dd) / inner_udp6()),
    "gre_unknown_protocol": (ETHERNET, eth() / ip() / GRE(proto=0x880b) / Raw(b"\0" * 20)),
    "erspan2": (ETHERNET, eth() / ip() / GRE(seqnum_present=1, proto=0x88be) / ERSPAN_II(ver=1, session_id=0x2a5) /
                eth() / inner_tcp4()),
    "erspan1": (ETHERNET, eth() / ip() / GRE(proto=0x88be) / eth() / inner_tcp4()),
    "erspan3": (ETHERNET, eth() / ip() / GRE(seqnum_present=1, proto=0x22eb) / ERSPAN_III(session_id=17) / eth() /
                inner_tcp4()),
    "erspan3_platform": (ETHERNET, eth() / ip() / GRE(seqnum_present=1, proto=0x22eb) /
                         ERSPAN_III(session_id=1023, o=1) / ERSPAN_PlatformSpecific() / eth() / inner_udp6()),
    "ipip": (ETHERNET, eth() / ip() / inner_tcp4()),
    "ip6_in_ip": (ETHERNET, eth() / ip() / inner_udp6()),
    "ipip_over_ipv6": (ETHERNET, eth() / ip6() / inner_tcp4()),
    "gre_over_vxlan_nested": (ETHERNET, eth() / ip() / GRE(key_present=1, key=3, proto=0x0800) /
                              ip(("172.16.0.1", "172.16.0.2")) / vxlan_udp() / VXLAN(vni=1000) / eth() /
                              inner_tcp4()),
    "vxlan_outer_fragment": (ETHERNET, eth() / ip(flags="MF") / vxlan_udp() / VXLAN(vni=9) / eth() /
                             inner_tcp4()),
    "vxlan_arp": (ETHERNET, eth() / ip() / vxlan_udp() / VXLAN(vni=12) / eth() / ARP()),
}


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "decoder")
    os.makedirs(out_dir, exist_ok=True)
    for name, (selector, packet) in PACKETS.items():
        data = raw(packet)
        if name == "eth_ipv4_udp_padded":
            data += b"\xee" * (60 - len(data))
        if selector & TRUNCATED:
            data = data[:96]  # a common snap length
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(bytes([selector]) + data)
    print(f"wrote {len(PACKETS)} seeds to {out_dir}")


if __name__ == "__main__":
    main()
