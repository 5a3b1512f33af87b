#include "flow/flow_key.h"

#include <bit>

#include "flow/sha1.h"

namespace tapflow {

int icmpCounterpart(uint8_t proto, uint16_t type) {
  if (proto == 1) {
    switch (type) {
      case 8: return 0;
      case 0: return 8;
      case 13: return 14;
      case 14: return 13;
      case 15: return 16;
      case 16: return 15;
      case 10: return 9;
      case 9: return 10;
      case 17: return 18;
      case 18: return 17;
      default: return -1;
    }
  }
  switch (type) {
    case 128: return 129;
    case 129: return 128;
    case 130: return 131;
    case 131: return 130;
    case 133: return 134;
    case 134: return 133;
    case 135: return 136;
    case 136: return 135;
    case 139: return 140;
    case 140: return 139;
    case 144: return 145;
    case 145: return 144;
    default: return -1;
  }
}

uint32_t workerHash(const DecodedPacket& pkt) {
  // XOR of the two addresses is symmetric; fold it and mix in the protocol.
  uint64_t a[2], b[2];
  std::memcpy(a, pkt.src.bytes, 16);
  std::memcpy(b, pkt.dst.bytes, 16);
  uint64_t h = (a[0] ^ b[0]) * 0x9E3779B97F4A7C15ull ^ (a[1] ^ b[1]) ^ pkt.ip_proto;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return uint32_t(h);
}

void communityId(const FlowKey& key, char out[kCommunityIdLength + 1], uint16_t seed) {
  uint8_t input[2 + 16 + 16 + 2 + 4];
  size_t addr_len = key.ip_version == 4 ? 4 : 16;
  size_t n = 0;
  input[n++] = uint8_t(seed >> 8);
  input[n++] = uint8_t(seed);
  std::memcpy(input + n, key.lo.bytes, addr_len);
  n += addr_len;
  std::memcpy(input + n, key.hi.bytes, addr_len);
  n += addr_len;
  input[n++] = key.proto;
  input[n++] = 0;
  if (protoHasPorts(key.proto)) {
    input[n++] = uint8_t(key.port_lo >> 8);
    input[n++] = uint8_t(key.port_lo);
    input[n++] = uint8_t(key.port_hi >> 8);
    input[n++] = uint8_t(key.port_hi);
  }
  uint8_t digest[20];
  sha1(input, n, digest);

  static constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char* o = out;
  *o++ = '1';
  *o++ = ':';
  for (int i = 0; i < 18; i += 3) {
    uint32_t v = uint32_t(digest[i]) << 16 | uint32_t(digest[i + 1]) << 8 | digest[i + 2];
    *o++ = kBase64[(v >> 18) & 63];
    *o++ = kBase64[(v >> 12) & 63];
    *o++ = kBase64[(v >> 6) & 63];
    *o++ = kBase64[v & 63];
  }
  uint32_t v = uint32_t(digest[18]) << 16 | uint32_t(digest[19]) << 8;
  *o++ = kBase64[(v >> 18) & 63];
  *o++ = kBase64[(v >> 12) & 63];
  *o++ = kBase64[(v >> 6) & 63];
  *o++ = '=';
  *o = '\0';
}

}  // namespace tapflow
