// DNS name decompression, bounded against hostile messages (see dns_name.h).
#include "proto/dns/dns_name.h"

#include <cstring>

namespace tapflow {

DnsNameError readDnsName(const uint8_t* msg, size_t msg_len, size_t& pos, char* out, size_t& out_len) {
  out_len = 0;
  size_t at = pos;
  // Start of the bytes read since the last jump: the next pointer must land
  // before it, so the places read only ever move backwards and cannot loop.
  size_t run_start = pos;
  size_t end = 0;  // where the name ends as written at `pos`
  bool jumped = false;
  size_t wire = 0;  // uncompressed octets so far, root excluded
  size_t text_len = 0;
  unsigned hops = 0;
  for (;;) {
    if (at >= msg_len) return DnsNameError::kTruncated;
    const uint8_t b = msg[at];
    const uint8_t kind = b & 0xC0;
    if (kind == 0xC0) {
      if (at + 1 >= msg_len) return DnsNameError::kTruncated;
      const size_t target = (static_cast<size_t>(b & 0x3F) << 8) | msg[at + 1];
      if (!jumped) {
        end = at + 2;
        jumped = true;
      }
      if (target >= run_start || target < kDnsHeaderLength || ++hops > kDnsMaxPointerHops) {
        return DnsNameError::kPointerLoop;
      }
      at = run_start = target;
      continue;
    }
    if (kind != 0) return DnsNameError::kBadLabel;
    if (b == 0) {
      if (!jumped) end = at + 1;
      break;
    }
    if (b >= msg_len - at) return DnsNameError::kTruncated;  // needs at + 1 + b <= msg_len
    wire += 1 + static_cast<size_t>(b);
    if (wire + 1 > kDnsMaxNameWire) return DnsNameError::kTooLong;
    // text = wire - 1 <= 253 here: labels and the dots between them.
    if (out != nullptr) {
      if (text_len > 0) out[text_len] = '.';
      std::memcpy(out + text_len + (text_len > 0), msg + at + 1, b);
    }
    text_len += (text_len > 0) + static_cast<size_t>(b);
    at += 1 + static_cast<size_t>(b);
  }
  if (text_len == 0) {
    if (out != nullptr) out[0] = '.';
    text_len = 1;
  }
  out_len = text_len;
  pos = end;
  return DnsNameError::kNone;
}

}  // namespace tapflow
