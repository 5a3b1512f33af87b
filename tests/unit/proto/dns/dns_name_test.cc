// Tests of DNS name decompression against hostile layouts: pointer loops,
// forward pointers, over-long names, extended labels, cut messages.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <algorithm>
#include <vector>

#include "proto/dns/dns_name.h"

namespace tapflow {
namespace {

using Bytes = std::vector<uint8_t>;

// A message whose first 12 bytes stand for the header, then `body`.
Bytes message(const Bytes& body) {
  Bytes m(kDnsHeaderLength + body.size(), 0);
  std::copy(body.begin(), body.end(), m.begin() + kDnsHeaderLength);
  return m;
}

// Labels of a dotted name, root octet included.
Bytes wireName(std::string_view dotted) {
  Bytes b;
  size_t start = 0;
  while (start < dotted.size()) {
    size_t dot = dotted.find('.', start);
    if (dot == std::string_view::npos) dot = dotted.size();
    b.push_back(static_cast<uint8_t>(dot - start));
    b.insert(b.end(), dotted.begin() + static_cast<long>(start), dotted.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  b.push_back(0);
  return b;
}

struct NameRead {
  DnsNameError error;
  std::string text;
  size_t pos;
};

NameRead read(const Bytes& m, size_t pos) {
  char out[kDnsMaxNameText];
  size_t len = 99;
  const DnsNameError error = readDnsName(m.data(), m.size(), pos, out, len);
  return {error, std::string(out, error == DnsNameError::kNone ? len : 0), pos};
}

TEST_CASE("a plain name reads as dotted labels and moves past its root octet") {
  const Bytes m = message(wireName("www.Example.com"));
  const NameRead r = read(m, 12);
  CHECK(r.error == DnsNameError::kNone);
  CHECK(r.text == "www.Example.com");
  CHECK(r.pos == 12 + 17);
}

TEST_CASE("the root name reads as a single dot") {
  const Bytes m = message({0});
  const NameRead r = read(m, 12);
  CHECK(r.error == DnsNameError::kNone);
  CHECK(r.text == ".");
  CHECK(r.pos == 13);
}

TEST_CASE("a compressed name follows its pointer and moves past the pointer only") {
  // 12: example.com  25: www + pointer to 12  31: pointer to 25
  Bytes body = wireName("example.com");
  body.insert(body.end(), {3, 'w', 'w', 'w', 0xC0, 12});
  body.insert(body.end(), {0xC0, 25, 0xAA});
  const Bytes m = message(body);
  NameRead r = read(m, 25);
  CHECK(r.error == DnsNameError::kNone);
  CHECK(r.text == "www.example.com");
  CHECK(r.pos == 31);
  r = read(m, 31);  // two hops, each strictly backwards
  CHECK(r.error == DnsNameError::kNone);
  CHECK(r.text == "www.example.com");
  CHECK(r.pos == 33);
}

TEST_CASE("a pointer to itself is refused as a loop") {
  const Bytes m = message({0xC0, 12});
  size_t pos = 12, len = 7;
  char out[kDnsMaxNameText];
  CHECK(readDnsName(m.data(), m.size(), pos, out, len) == DnsNameError::kPointerLoop);
  CHECK(pos == 12);
  CHECK(len == 0);
}

TEST_CASE("a pointer back into the same name is refused though it points backwards") {
  // 12: "a" then pointer to 12: backwards from the pointer, but a loop.
  const Bytes m = message({1, 'a', 0xC0, 12});
  CHECK(read(m, 12).error == DnsNameError::kPointerLoop);
}

TEST_CASE("a forward pointer, and a pointer back into the run it jumped to, are refused") {
  // 12: "a" + pointer to 12; 16: pointer to 12. From 16 every pointer points
  // back from where it sits, yet 12 -> 14 -> 12 loops: the second hop does not
  // land before the run that started at 12.
  const Bytes m = message({1, 'a', 0xC0, 12, 0xC0, 12, 0xC0, 18, 0});
  CHECK(read(m, 16).error == DnsNameError::kPointerLoop);
  CHECK(read(m, 16).pos == 16);
  CHECK(read(m, 14).error == DnsNameError::kPointerLoop);  // 14 -> 12 -> 14
  CHECK(read(m, 18).error == DnsNameError::kPointerLoop);  // points to itself
}

TEST_CASE("a pointer into the header is refused") {
  const Bytes m = message({0xC0, 4});
  CHECK(read(m, 12).error == DnsNameError::kPointerLoop);
}

TEST_CASE("128 pointer hops are followed and the 129th is refused") {
  // 12: root; then pointers at 13, 15, 17... each to the one before (13 -> 12).
  Bytes body = {0};
  size_t prev = 12;
  for (int i = 0; i < 130; ++i) {
    body.push_back(static_cast<uint8_t>(0xC0 | (prev >> 8)));
    body.push_back(static_cast<uint8_t>(prev));
    prev = 12 + body.size() - 2;
  }
  const Bytes m = message(body);
  const size_t hops128 = 13 + 2 * 127;  // its chain is 128 pointers long
  NameRead r = read(m, hops128);
  CHECK(r.error == DnsNameError::kNone);
  CHECK(r.text == ".");
  CHECK(r.pos == hops128 + 2);
  CHECK(read(m, hops128 + 2).error == DnsNameError::kPointerLoop);
}

TEST_CASE("a name of 255 bytes is read and one of 256 refused") {
  // 4 labels of 63 = 256 wire bytes, minus one byte from the last label = 255.
  std::string labels63 = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + ".";
  const std::string ok = labels63 + std::string(61, 'd');  // 3*64 + 62 + root = 255
  const std::string too_long = labels63 + std::string(62, 'd');
  NameRead r = read(message(wireName(ok)), 12);
  CHECK(r.error == DnsNameError::kNone);
  CHECK(r.text == ok);
  CHECK(r.text.size() == kDnsMaxNameText);
  CHECK(read(message(wireName(too_long)), 12).error == DnsNameError::kTooLong);
}

TEST_CASE("a name made too long through pointers is refused") {
  // 12: 63-byte label + root; then 4 more 63-byte labels each pointing back.
  Bytes body = wireName(std::string(63, 'x'));
  size_t prev = 12;
  for (int i = 0; i < 4; ++i) {
    const size_t here = 12 + body.size();
    body.push_back(63);
    body.insert(body.end(), 63, static_cast<uint8_t>('y'));
    body.push_back(static_cast<uint8_t>(0xC0 | (prev >> 8)));
    body.push_back(static_cast<uint8_t>(prev));
    prev = here;
  }
  const Bytes m = message(body);
  CHECK(read(m, prev).error == DnsNameError::kTooLong);
}

TEST_CASE("extended label types 0x40 and 0x80 are refused") {
  CHECK(read(message({0x41, 'a', 0}), 12).error == DnsNameError::kBadLabel);
  CHECK(read(message({1, 'a', 0x80, 0}), 12).error == DnsNameError::kBadLabel);
}

TEST_CASE("a name cut by the end of the message is truncated") {
  CHECK(read(message({3, 'w', 'w'}), 12).error == DnsNameError::kTruncated);
  CHECK(read(message({3, 'w', 'w', 'w'}), 12).error == DnsNameError::kTruncated);  // no root
  CHECK(read(message({1, 'a', 0xC0}), 12).error == DnsNameError::kTruncated);      // half a pointer
  CHECK(read(message({}), 12).error == DnsNameError::kTruncated);
}

TEST_CASE("a null output skips the copy but still validates and advances") {
  const Bytes m = message(wireName("a.b"));
  size_t pos = 12, len = 0;
  CHECK(readDnsName(m.data(), m.size(), pos, nullptr, len) == DnsNameError::kNone);
  CHECK(len == 3);
  CHECK(pos == 17);
}

}  // namespace
}  // namespace tapflow
