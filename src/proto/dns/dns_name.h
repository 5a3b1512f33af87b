// Reading a DNS name (RFC 1035 4.1.4) out of a message whose bytes are hostile.
// Compression pointers must point strictly before the bytes read so far for
// this name (so no loop can form) and past the 12-byte header; hops, label
// lengths and the uncompressed length are bounded. No recursion, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tapflow {

constexpr size_t kDnsHeaderLength = 12;
constexpr size_t kDnsMaxNameWire = 255;   // uncompressed, length octets and root included (RFC 1035 2.3.4)
constexpr size_t kDnsMaxNameText = 253;   // the longest text such a name gives
constexpr unsigned kDnsMaxPointerHops = 128;

enum class DnsNameError : uint8_t {
  kNone,
  kTruncated,    // a label or pointer runs past the end of the message
  kPointerLoop,  // pointer not strictly backwards, into the header, or too many hops
  kTooLong,      // more than 255 bytes uncompressed
  kBadLabel,     // label type 0x40 or 0x80 (RFC 6891 extended labels, obsolete)
};

// Reads the name starting at msg[pos]. On success `pos` moves past the name
// as written at that place (past the first pointer, if any) and `out` gets
// the labels joined by '.', bytes as sent, no trailing dot; the root name is
// ".". `out` must hold kDnsMaxNameText bytes, or be null to skip the copy.
// On error `pos` is left unchanged and `out_len` is 0.
DnsNameError readDnsName(const uint8_t* msg, size_t msg_len, size_t& pos, char* out, size_t& out_len);

}  // namespace tapflow
