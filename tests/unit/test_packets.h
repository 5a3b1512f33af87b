// Decoded packets for unit tests that feed the flow table or the analyzers
// directly: a client 10.0.0.1 and a server 10.0.0.2.
#pragma once

#include <cstdint>

#include "packet/decoded_packet.h"

// A packet between the client and the server, headers only: the caller
// adds TCP fields, bytes and lengths.
inline tapflow::DecodedPacket packetBetween(bool from_client, uint8_t ip_proto, uint16_t client_port,
                                            uint16_t server_port, tapflow::Timestamp ts) {
  tapflow::DecodedPacket p;
  p.ip_version = 4;
  p.ip_proto = ip_proto;
  p.ts = ts;
  p.l4_offset = 34;  // Ethernet + IPv4: a transport header is present
  tapflow::IpAddress c{}, s{};
  c.bytes[0] = 10, c.bytes[3] = 1;
  s.bytes[0] = 10, s.bytes[3] = 2;
  p.src = from_client ? c : s;
  p.dst = from_client ? s : c;
  p.src_port = from_client ? client_port : server_port;
  p.dst_port = from_client ? server_port : client_port;
  return p;
}
