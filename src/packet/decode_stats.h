// Counters of the decoder: what it saw and, by reason, what it refused.
#pragma once

#include "ops/counter.h"

namespace tapflow {

#define TF_DECODE_STATS(C)                                                                \
  C(packets, "Packets given to the decoder")                                              \
  C(bytes, "Captured bytes given to the decoder")                                         \
  C(ipv4, "Packets whose innermost network layer is IPv4")                                \
  C(ipv6, "Packets whose innermost network layer is IPv6")                                \
  C(non_ip, "Packets without an IP layer (ARP, LLDP, ...), passed over")                  \
  C(tcp, "TCP segments")                                                                  \
  C(udp, "UDP datagrams")                                                                 \
  C(sctp, "SCTP packets")                                                                 \
  C(icmp, "ICMP and ICMPv6 packets")                                                      \
  C(other_transport, "IP packets with another transport protocol")                        \
  C(vlan, "Packets with at least one 802.1Q/802.1ad tag")                                 \
  C(tunnelled, "Packets decapsulated from a tunnel (VXLAN, Geneve, GRE, ERSPAN, IP-in-IP)") \
  C(fragments, "IP fragments")                                                            \
  C(truncated, "Packets captured shorter than their wire length (snap length)")           \
  C(malformed_link_layer, "Malformed: link layer shorter than its header")                \
  C(malformed_unknown_link_type, "Malformed: unsupported link type")                      \
  C(malformed_vlan, "Malformed: VLAN tag cut short or too many tags")                     \
  C(malformed_ipv4_header, "Malformed: IPv4 header too short, bad IHL or version")        \
  C(malformed_ipv4_length, "Malformed: IPv4 total length shorter than its header")        \
  C(malformed_ipv4_options, "Malformed: IPv4 options run past the header")                \
  C(malformed_ipv6_header, "Malformed: IPv6 header cut short or bad version")             \
  C(malformed_ipv6_ext_header, "Malformed: IPv6 extension header chain cut short or too long") \
  C(malformed_tcp_header, "Malformed: TCP header cut short or bad data offset")           \
  C(malformed_tcp_options, "Malformed: TCP option with a bad length")                     \
  C(malformed_udp_header, "Malformed: UDP header cut short or bad length")                \
  C(malformed_sctp_header, "Malformed: SCTP common header cut short")                     \
  C(malformed_icmp_header, "Malformed: ICMP header cut short")                            \
  C(malformed_tunnel, "Malformed: tunnel header cut short or unsupported version")        \
  C(malformed_tunnel_depth, "Malformed: tunnels nested deeper than the decoder follows")

struct DecodeStats {
  TF_DECODE_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_DECODE_STATS(TF_VISIT_COUNTER)
  }
};

}  // namespace tapflow
