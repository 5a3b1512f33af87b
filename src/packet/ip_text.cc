#include "packet/ip_text.h"

#include <cstring>

namespace tapflow {

namespace {

// The decimal text of every byte value, and its length in the fourth byte.
constexpr auto kByteText = [] {
  struct Table {
    char text[256][4];
  } table{};
  for (int v = 0; v < 256; ++v) {
    char* t = table.text[v];
    int n = 0;
    if (v >= 100) t[n++] = char('0' + v / 100);
    if (v >= 10) t[n++] = char('0' + v / 10 % 10);
    t[n++] = char('0' + v % 10);
    t[3] = char(n);
  }
  return table;
}();

char* dottedQuad(const uint8_t* bytes, char* o) {
  for (int i = 0; i < 4; ++i) {
    if (i) *o++ = '.';
    const char* t = kByteText.text[bytes[i]];
    std::memcpy(o, t, 3);  // out has room: 46 bytes for at most 15
    o += t[3];
  }
  return o;
}

}  // namespace

// By hand, to the letter of glibc's inet_ntop (which goes through sprintf,
// a tenth of an event's encoding): the first longest run of two or more zero
// words becomes "::", and ::/96 and ::ffff:0:0/96 end in a dotted quad.
size_t formatIp(const IpAddress& ip, uint8_t version, char out[kIpTextMax]) {
  char* o = out;
  if (version == 4) {
    o = dottedQuad(ip.bytes, o);
    *o = '\0';
    return size_t(o - out);
  }
  uint16_t words[8];
  for (int i = 0; i < 8; ++i) words[i] = uint16_t(ip.bytes[2 * i] << 8 | ip.bytes[2 * i + 1]);
  int best_base = -1, best_len = 0, cur_base = -1, cur_len = 0;
  for (int i = 0; i < 8; ++i) {
    if (words[i] == 0) {
      if (cur_base == -1) cur_base = i, cur_len = 0;
      ++cur_len;
    } else if (cur_base != -1) {
      if (best_base == -1 || cur_len > best_len) best_base = cur_base, best_len = cur_len;
      cur_base = -1;
    }
  }
  if (cur_base != -1 && (best_base == -1 || cur_len > best_len)) best_base = cur_base, best_len = cur_len;
  if (best_base != -1 && best_len < 2) best_base = -1;
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 8; ++i) {
    if (best_base != -1 && i >= best_base && i < best_base + best_len) {
      if (i == best_base) *o++ = ':';
      continue;
    }
    if (i != 0) *o++ = ':';
    if (i == 6 && best_base == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff))) {
      o = dottedQuad(ip.bytes + 12, o);
      *o = '\0';
      return size_t(o - out);
    }
    const uint16_t w = words[i];
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const unsigned nibble = (w >> shift) & 15;
      if (nibble != 0 || started || shift == 0) {
        *o++ = kHex[nibble];
        started = true;
      }
    }
  }
  if (best_base != -1 && best_base + best_len == 8) *o++ = ':';
  *o = '\0';
  return size_t(o - out);
}

}  // namespace tapflow
