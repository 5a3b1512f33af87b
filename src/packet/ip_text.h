// Addresses as text, on the packet path (events, DNS answers): by hand, as
// glibc's inet_ntop writes them, without its sprintf.
#pragma once

#include <cstddef>
#include <cstdint>

#include "packet/decoded_packet.h"

namespace tapflow {

// Dotted quad, or RFC 5952 text as glibc's inet_ntop writes it (an IPv4
// address embedded in ::ffff:0:0/96 and ::/96 in dotted form); NUL-terminated,
// at most 46 bytes. Returns the length.
constexpr size_t kIpTextMax = 46;
size_t formatIp(const IpAddress& ip, uint8_t version, char out[kIpTextMax]);

}  // namespace tapflow
