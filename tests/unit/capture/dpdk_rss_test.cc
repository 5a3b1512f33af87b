#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "capture/dpdk_source.h"

using namespace tapflow;

namespace {

// The Toeplitz hash NICs compute for RSS, bit by bit as Microsoft specifies it.
uint32_t toeplitz(const std::vector<uint8_t>& key, const std::vector<uint8_t>& input) {
  REQUIRE(key.size() >= input.size() + 4);
  uint32_t window = uint32_t(key[0]) << 24 | uint32_t(key[1]) << 16 | uint32_t(key[2]) << 8 | key[3];
  uint32_t hash = 0;
  for (size_t i = 0; i < input.size(); ++i) {
    for (int bit = 7; bit >= 0; --bit) {
      if (input[i] & (1u << bit)) hash ^= window;
      window = window << 1 | ((key[i + 4] >> bit) & 1u);
    }
  }
  return hash;
}

// The RSS input of a TCP/UDP packet: source address, destination address, source port, destination port.
std::vector<uint8_t> tuple(const std::vector<uint8_t>& src, const std::vector<uint8_t>& dst, uint16_t sport,
                           uint16_t dport) {
  std::vector<uint8_t> in(src);
  in.insert(in.end(), dst.begin(), dst.end());
  for (uint16_t port : {sport, dport}) {
    in.push_back(uint8_t(port >> 8));
    in.push_back(uint8_t(port));
  }
  return in;
}

const std::vector<uint8_t> kMicrosoftKey = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

// Deterministic varied addresses and ports.
std::vector<uint8_t> bytes(size_t n, uint32_t& seed) {
  std::vector<uint8_t> out(n);
  for (auto& b : out) {
    seed = seed * 1103515245u + 12345u;
    b = uint8_t(seed >> 16);
  }
  return out;
}

}  // namespace

TEST_CASE("the Toeplitz reference of this test reproduces Microsoft's RSS verification hashes") {
  // 66.9.149.187:2794 -> 161.142.100.80:1766 and its IPv6 counterpart (Microsoft's "Verifying the RSS Hash Calculation").
  CHECK(toeplitz(kMicrosoftKey, tuple({66, 9, 149, 187}, {161, 142, 100, 80}, 2794, 1766)) == 0x51ccc178u);
  const std::vector<uint8_t> src6 = {0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x07};
  const std::vector<uint8_t> dst6 = {0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 0x01};
  CHECK(toeplitz(kMicrosoftKey, tuple(src6, dst6, 2794, 1766)) == 0x40207d3du);
}

TEST_CASE("the symmetric RSS key sends both directions of IPv4 and IPv6 flows to the same queue") {
  for (size_t key_size : {size_t(40), size_t(52)}) {
    CAPTURE(key_size);
    const std::vector<uint8_t> key = symmetricRssKey(key_size);
    REQUIRE(key.size() == key_size);
    uint32_t seed = 7;
    for (int i = 0; i < 200; ++i) {
      for (size_t address_bytes : {size_t(4), size_t(16)}) {
        const auto a = bytes(address_bytes, seed), b = bytes(address_bytes, seed);
        const auto ports = bytes(4, seed);
        const uint16_t pa = uint16_t(ports[0] << 8 | ports[1]), pb = uint16_t(ports[2] << 8 | ports[3]);
        CHECK(toeplitz(key, tuple(a, b, pa, pb)) == toeplitz(key, tuple(b, a, pb, pa)));
        // Addresses alone (RSS on IP only, and fragments): symmetric too.
        CHECK(toeplitz(key, tuple(a, b, 0, 0)) == toeplitz(key, tuple(b, a, 0, 0)));
      }
    }
  }
}

TEST_CASE("the default Microsoft RSS key splits a flow's directions, which is why tapflow replaces it") {
  uint32_t seed = 11;
  int asymmetric = 0;
  for (int i = 0; i < 50; ++i) {
    const auto a = bytes(4, seed), b = bytes(4, seed);
    if (toeplitz(kMicrosoftKey, tuple(a, b, 40000, 80)) != toeplitz(kMicrosoftKey, tuple(b, a, 80, 40000))) {
      ++asymmetric;
    }
  }
  CHECK(asymmetric > 40);
}

TEST_CASE("the symmetric RSS key repeats 0x6d5a") {
  const std::vector<uint8_t> key = symmetricRssKey(6);
  CHECK(key == std::vector<uint8_t>{0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a});
}
