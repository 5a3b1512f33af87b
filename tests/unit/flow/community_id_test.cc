#include <arpa/inet.h>
#include <doctest/doctest.h>

#include <string>

#include "flow/flow_key.h"
#include "flow/sha1.h"

using namespace tapflow;

namespace {

IpAddress parseIp(const char* text, uint8_t& version) {
  IpAddress ip{};
  if (inet_pton(AF_INET, text, ip.bytes) == 1) {
    version = 4;
  } else {
    REQUIRE(inet_pton(AF_INET6, text, ip.bytes) == 1);
    version = 6;
  }
  return ip;
}

std::string communityIdOf(uint8_t proto, const char* src, const char* dst, int sport, int dport) {
  DecodedPacket pkt;
  pkt.src = parseIp(src, pkt.ip_version);
  pkt.dst = parseIp(dst, pkt.ip_version);
  pkt.ip_proto = proto;
  pkt.src_port = uint16_t(sport);
  pkt.dst_port = uint16_t(dport);
  FlowKey key;
  makeFlowKey(pkt, true, key);
  char out[kCommunityIdLength + 1];
  communityId(key, out);
  return out;
}

using Sha1Fn = void (*)(const uint8_t*, size_t, uint8_t*);

std::string sha1Hex(Sha1Fn hash, const std::string& message) {
  uint8_t digest[20];
  hash(reinterpret_cast<const uint8_t*>(message.data()), message.size(), digest);
  char out[41];
  for (int i = 0; i < 20; ++i) snprintf(out + 2 * i, 3, "%02x", digest[i]);
  return std::string(out, 40);
}

// Bytes (i * 31 + 7) mod 256: not a repeated letter, so a byte-order slip shows.
std::string patternOfLength(size_t len) {
  std::string s(len, '\0');
  for (size_t i = 0; i < len; ++i) s[i] = char((i * 31 + 7) & 255);
  return s;
}

}  // namespace

TEST_CASE("sha1 portable and accelerated both match the FIPS 180 test vectors") {
  const Sha1Fn implementations[] = {sha1, sha1Portable, sha1Accelerated};
  const std::string million_a(1000000, 'a');
  for (Sha1Fn hash : implementations) {
    CHECK(sha1Hex(hash, "abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
    CHECK(sha1Hex(hash, "") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    CHECK(sha1Hex(hash, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    CHECK(sha1Hex(hash, million_a) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  }
}

// 55 and 56 bytes straddle the one-or-two padding blocks; 64 and 128 are whole blocks.
TEST_CASE("sha1 is exact on both sides of each padding and block boundary") {
  const struct {
    size_t len;
    const char* hex;
  } vectors[] = {
      {55, "749bbefb28edc4638b28b2b9a9e03ab9a4032b90"},  {56, "a5b6e9c29d201c774753ff8e7fb64931656f5e63"},
      {63, "d1a454409359fc372b4d22b3cea6488d6ba1be00"},  {64, "39a0d8b645ad85f1f976731ed112ac9455e28b78"},
      {65, "d0c96e18890114a14716e9686528d2e3fdba8d9e"},  {119, "562ecf8a430f8e1056e3619bae33628e9a1d0a4e"},
      {120, "353f6d2bf0e91aa91b74a2e0b3f297510f7d825f"}, {128, "0060f2a7e34b6e4d459f560197ef93243732a400"},
  };
  for (const auto& v : vectors) {
    CAPTURE(v.len);
    CHECK(sha1Hex(sha1Portable, patternOfLength(v.len)) == v.hex);
    CHECK(sha1Hex(sha1Accelerated, patternOfLength(v.len)) == v.hex);
  }
}

TEST_CASE("sha1 accelerated and portable agree on every length from 0 to 200") {
  if (!sha1AcceleratedAvailable()) MESSAGE("no SHA extensions on this CPU: both are the portable code");
  const std::string message = patternOfLength(200);
  for (size_t len = 0; len <= 200; ++len) {
    CAPTURE(len);
    const std::string prefix = message.substr(0, len);
    CHECK(sha1Hex(sha1Accelerated, prefix) == sha1Hex(sha1Portable, prefix));
  }
}

// The baseline of the Community ID spec (corelight/community-id-spec, baseline_deflt.json).
TEST_CASE("community id matches the spec baseline in both directions") {
  struct Vector {
    uint8_t proto;
    const char* src;
    const char* dst;
    int sport, dport;
    const char* id;
  } vectors[] = {
      {58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
      {58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
      {58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136, "1:zavyT/cezQr1fmImYCwYnMXbgck="},
      {58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 135, "1:zavyT/cezQr1fmImYCwYnMXbgck="},
      {58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0, "1:2ObVBgIn28oZvibYZhZMBgh7WdQ="},
      {58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4,
       "1:hLZd0XGWojozrvxqE0dWB1iM6R0="},
      {58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 129, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="},
      {58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 128, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="},
      {58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="},
      {58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 133, "1:pkvHqCL88/tg1k4cPigmZXUtL00="},
      {1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
      {1, "192.168.0.1", "192.168.0.89", 0, 8, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
      {1, "10.0.0.1", "10.0.0.2", 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM="},
      {6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
       "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
      {6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943,
       "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
      {132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="},
      {132, "192.168.170.56", "192.168.170.8", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="},
      {6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
      {6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
      {17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
      {17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
      {46, "10.1.12.1", "10.1.12.2", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
      {46, "10.1.12.2", "10.1.12.1", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
  };
  for (const auto& v : vectors) {
    CAPTURE(v.src);
    CAPTURE(v.dst);
    CAPTURE(v.sport);
    CHECK(communityIdOf(v.proto, v.src, v.dst, v.sport, v.dport) == v.id);
  }
}

TEST_CASE("both directions of a conversation share one flow key and worker") {
  DecodedPacket a;
  a.ip_version = 4;
  a.ip_proto = 6;
  uint8_t v;
  a.src = parseIp("10.1.0.1", v);
  a.dst = parseIp("10.1.0.2", v);
  a.src_port = 40000;
  a.dst_port = 80;
  DecodedPacket b = a;
  std::swap(b.src, b.dst);
  std::swap(b.src_port, b.dst_port);
  FlowKey ka, kb;
  bool fa = makeFlowKey(a, true, ka);
  bool fb = makeFlowKey(b, true, kb);
  CHECK(ka == kb);
  CHECK(fa != fb);
  CHECK(flowKeyHash(ka) == flowKeyHash(kb));
  CHECK(workerHash(a) == workerHash(b));
}

TEST_CASE("a fragment without ports goes to the same worker as its flow") {
  DecodedPacket first;
  first.ip_version = 4;
  first.ip_proto = 17;
  uint8_t v;
  first.src = parseIp("10.1.0.1", v);
  first.dst = parseIp("10.1.0.2", v);
  first.src_port = 5060;
  first.dst_port = 5060;
  DecodedPacket later = first;
  later.src_port = later.dst_port = 0;
  later.is_fragment = true;
  CHECK(workerHash(first) == workerHash(later));
}

TEST_CASE("the vlan id is part of the key only when configured") {
  DecodedPacket a;
  a.ip_version = 4;
  a.ip_proto = 17;
  a.vlan_count = 1;
  a.vlan_ids[0] = 100;
  DecodedPacket b = a;
  b.vlan_ids[0] = 200;
  FlowKey ka, kb;
  makeFlowKey(a, true, ka);
  makeFlowKey(b, true, kb);
  CHECK_FALSE(ka == kb);
  makeFlowKey(a, false, ka);
  makeFlowKey(b, false, kb);
  CHECK(ka == kb);
}
