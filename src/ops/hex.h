// Lowercase hex of bytes: digests in events (JA3, JA4, hashed SIP users) and
// in the tests that check them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tapflow {

// Writes 2 * n characters to `out` (no terminator).
inline void hexEncode(const uint8_t* bytes, size_t n, char* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
}

inline std::string hexString(const uint8_t* bytes, size_t n) {
  std::string s(2 * n, '\0');
  hexEncode(bytes, n, s.data());
  return s;
}

}  // namespace tapflow
