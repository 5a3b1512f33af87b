#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "packet/ip_text.h"
#include "xorshift.h"

using namespace tapflow;

TEST_CASE("addresses are written as dotted quads and RFC 5952 text") {
  IpAddress v4{};
  v4.bytes[0] = 192, v4.bytes[1] = 0, v4.bytes[2] = 2, v4.bytes[3] = 255;
  char out[46];
  formatIp(v4, 4, out);
  CHECK(std::string(out) == "192.0.2.255");
  IpAddress zero{};
  formatIp(zero, 4, out);
  CHECK(std::string(out) == "0.0.0.0");
  IpAddress v6{};
  v6.bytes[0] = 0xfd, v6.bytes[15] = 1;
  formatIp(v6, 6, out);
  CHECK(std::string(out) == "fd00::1");
}

TEST_CASE("IPv6 text is inet_ntop's, zero runs and embedded IPv4 included") {
  XorShift64 next{0x9e3779b97f4a7c15ull};
  for (int n = 0; n < 200000; ++n) {
    IpAddress ip{};
    const uint64_t r = next();
    for (int w = 0; w < 8; ++w) {
      // Mostly zero words, so every run length and position comes up.
      const uint16_t word = (r >> (w * 3)) & 3 ? 0 : uint16_t(next());
      ip.bytes[2 * w] = uint8_t(word >> 8), ip.bytes[2 * w + 1] = uint8_t(word);
    }
    if (n % 7 == 0) ip.bytes[10] = ip.bytes[11] = 0xff;  // ::ffff:a.b.c.d and its neighbours
    if (n % 11 == 0) ip.bytes[15] = uint8_t(r >> 60);     // small values: "::1", "::2"
    char ours[kIpTextMax], want[INET6_ADDRSTRLEN];
    const size_t len = formatIp(ip, 6, ours);
    inet_ntop(AF_INET6, ip.bytes, want, sizeof(want));
    CAPTURE(want);
    REQUIRE(std::string(ours) == want);
    REQUIRE(len == std::strlen(want));
  }
  for (int n = 0; n < 1000; ++n) {
    IpAddress ip{};
    const uint64_t r = next();
    std::memcpy(ip.bytes, &r, 4);
    char ours[kIpTextMax], want[INET_ADDRSTRLEN];
    const size_t len = formatIp(ip, 4, ours);
    inet_ntop(AF_INET, ip.bytes, want, sizeof(want));
    REQUIRE(std::string(ours) == want);
    REQUIRE(len == std::strlen(want));
  }
}
