// HEP v3 encoder: byte-exact packets against hand-built expectations, so a
// field in the wrong place, order or width shows up as a diff of bytes.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <string>

#include "export/hep_encoder.h"

using namespace tapflow;

namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s.push_back(char(v));
  return s;
}

IpAddress ip(int family, const char* text) {
  IpAddress a{};
  REQUIRE(inet_pton(family, text, a.bytes) == 1);
  return a;
}

// Walks the chunks; returns false when a length does not add up.
bool chunksAddUp(const std::string& packet) {
  if (packet.size() < 6 || packet.compare(0, 4, "HEP3") != 0) return false;
  const size_t total = (uint8_t(packet[4]) << 8) | uint8_t(packet[5]);
  if (total != packet.size()) return false;
  size_t pos = 6;
  while (pos + 6 <= total) {
    const size_t len = (uint8_t(packet[pos + 4]) << 8) | uint8_t(packet[pos + 5]);
    if (len < 6) return false;
    pos += len;
  }
  return pos == total;
}

}  // namespace

TEST_CASE("an IPv4 SIP message encodes every chunk byte for byte") {
  HepMessage m;
  m.proto_type = 1;
  m.ip_version = 4;
  m.ip_proto = 17;
  m.src_ip = ip(AF_INET, "10.0.0.1");
  m.dst_ip = ip(AF_INET, "10.0.0.2");
  m.src_port = 5060;
  m.dst_port = 5080;
  m.vlan = 100;
  m.ts = 1'700'000'000LL * kNanosPerSecond + 123'456'789;
  m.correlation_id = "abc@h";
  m.payload = "INVITE";
  HepIdentity id;
  id.agent_id = 0x01020304;
  id.auth_key = "key";
  id.node_name = "node-1";

  const std::string expected = "HEP3" + bytes({0x00, 0x91}) +                               // total 145
                               bytes({0, 0, 0, 0x01, 0, 7, 0x02}) +                         // IPv4
                               bytes({0, 0, 0, 0x02, 0, 7, 0x11}) +                         // UDP
                               bytes({0, 0, 0, 0x03, 0, 10, 10, 0, 0, 1}) +                 // src
                               bytes({0, 0, 0, 0x04, 0, 10, 10, 0, 0, 2}) +                 // dst
                               bytes({0, 0, 0, 0x07, 0, 8, 0x13, 0xc4}) +                   // 5060
                               bytes({0, 0, 0, 0x08, 0, 8, 0x13, 0xd8}) +                   // 5080
                               bytes({0, 0, 0, 0x09, 0, 10, 0x65, 0x53, 0xf1, 0x00}) +      // seconds
                               bytes({0, 0, 0, 0x0a, 0, 10, 0x00, 0x01, 0xe2, 0x40}) +      // 123456 us
                               bytes({0, 0, 0, 0x0b, 0, 7, 1}) +                            // SIP
                               bytes({0, 0, 0, 0x0c, 0, 10, 1, 2, 3, 4}) +                  // agent id
                               bytes({0, 0, 0, 0x0e, 0, 9}) + "key" +                       // auth key
                               bytes({0, 0, 0, 0x11, 0, 11}) + "abc@h" +                    // Call-ID
                               bytes({0, 0, 0, 0x12, 0, 8, 0, 100}) +                       // VLAN
                               bytes({0, 0, 0, 0x13, 0, 12}) + "node-1" +                   // node name
                               bytes({0, 0, 0, 0x0f, 0, 12}) + "INVITE";                    // payload
  REQUIRE(expected.size() == 145);

  std::string out;
  encodeHep3(m, id, out);
  CHECK(out == expected);
  CHECK(hep3EncodedSize(m, id) == 145);
  CHECK(chunksAddUp(out));
}

TEST_CASE("an IPv6 message without optional fields omits their chunks") {
  HepMessage m;
  m.proto_type = 1;
  m.ip_version = 6;
  m.ip_proto = 6;
  m.src_ip = ip(AF_INET6, "2001:db8::1");
  m.dst_ip = ip(AF_INET6, "2001:db8::2");
  m.src_port = 5061;
  m.dst_port = 40000;
  m.ts = 5 * kNanosPerSecond + 999;  // under a microsecond: 0 us
  m.payload = "BYE";
  HepIdentity id;  // agent 0, no auth key, no node name

  const std::string v6src = bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  const std::string v6dst = bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
  const std::string expected = "HEP3" + bytes({0x00, 0x7e}) +                  // total 126
                               bytes({0, 0, 0, 0x01, 0, 7, 10}) +              // AF_INET6
                               bytes({0, 0, 0, 0x02, 0, 7, 6}) +               // TCP
                               bytes({0, 0, 0, 0x05, 0, 22}) + v6src +         //
                               bytes({0, 0, 0, 0x06, 0, 22}) + v6dst +         //
                               bytes({0, 0, 0, 0x07, 0, 8, 0x13, 0xc5}) +      // 5061
                               bytes({0, 0, 0, 0x08, 0, 8, 0x9c, 0x40}) +      // 40000
                               bytes({0, 0, 0, 0x09, 0, 10, 0, 0, 0, 5}) +     //
                               bytes({0, 0, 0, 0x0a, 0, 10, 0, 0, 0, 0}) +     //
                               bytes({0, 0, 0, 0x0b, 0, 7, 1}) +               //
                               bytes({0, 0, 0, 0x0c, 0, 10, 0, 0, 0, 0}) +     // agent 0 is still sent
                               bytes({0, 0, 0, 0x0f, 0, 9}) + "BYE";
  REQUIRE(expected.size() == 126);

  std::string out;
  encodeHep3(m, id, out);
  CHECK(out == expected);
  CHECK(chunksAddUp(out));
}

TEST_CASE("encoding appends after what the buffer holds and reuses its capacity") {
  HepMessage m;
  m.payload = std::string(300, 'x');
  HepIdentity id;
  std::string out = "prefix";
  out.reserve(4096);
  const char* data = out.data();
  encodeHep3(m, id, out);
  CHECK(out.data() == data);  // no reallocation when the capacity suffices
  CHECK(out.compare(0, 6, "prefix") == 0);
  CHECK(out.size() == 6 + hep3EncodedSize(m, id));
  CHECK(chunksAddUp(out.substr(6)));
}

TEST_CASE("a message longer than HEP's 16-bit length appends nothing") {
  HepMessage m;
  HepIdentity id;
  m.payload.assign(kHep3MaxBytes, 'x');
  CHECK(hep3EncodedSize(m, id) > kHep3MaxBytes);
  std::string out = "kept";
  encodeHep3(m, id, out);
  CHECK(out == "kept");

  // The largest payload that fits gives a total length of exactly 65535.
  m.payload.assign(kHep3MaxBytes - (hep3EncodedSize(m, id) - m.payload.size()), 'x');
  out.clear();
  encodeHep3(m, id, out);
  CHECK(out.size() == kHep3MaxBytes);
  CHECK(uint8_t(out[4]) == 0xff);
  CHECK(uint8_t(out[5]) == 0xff);
  CHECK(chunksAddUp(out));
}

TEST_CASE("the pods of both ends go in tapflow's vendor chunks after the node name, before the payload") {
  HepMessage m;
  m.ip_version = 4;
  m.ip_proto = 17;
  m.src_ip = ip(AF_INET, "10.244.1.7");
  m.dst_ip = ip(AF_INET, "10.244.2.9");
  m.src_port = 5060;
  m.dst_port = 5060;
  m.ts = 2 * kNanosPerSecond + 3'000;
  m.correlation_id = "c1";
  m.src_pod = "shop/a-0";
  m.dst_pod = "voip/pbx-1";
  m.payload = "ACK";
  HepIdentity id;
  id.agent_id = 7;
  id.node_name = "n1";

  const std::string expected = "HEP3" + bytes({0x00, 0x94}) +                             // total 148
                               bytes({0, 0, 0, 0x01, 0, 7, 0x02}) +                       // IPv4
                               bytes({0, 0, 0, 0x02, 0, 7, 0x11}) +                       // UDP
                               bytes({0, 0, 0, 0x03, 0, 10, 10, 244, 1, 7}) +             // src
                               bytes({0, 0, 0, 0x04, 0, 10, 10, 244, 2, 9}) +             // dst
                               bytes({0, 0, 0, 0x07, 0, 8, 0x13, 0xc4}) +                 // 5060
                               bytes({0, 0, 0, 0x08, 0, 8, 0x13, 0xc4}) +                 // 5060
                               bytes({0, 0, 0, 0x09, 0, 10, 0, 0, 0, 2}) +                // seconds
                               bytes({0, 0, 0, 0x0a, 0, 10, 0, 0, 0, 3}) +                // 3 us
                               bytes({0, 0, 0, 0x0b, 0, 7, 1}) +                          // SIP
                               bytes({0, 0, 0, 0x0c, 0, 10, 0, 0, 0, 7}) +                // agent id
                               bytes({0, 0, 0, 0x11, 0, 8}) + "c1" +                      // Call-ID
                               bytes({0, 0, 0, 0x13, 0, 8}) + "n1" +                      // node name
                               bytes({0x74, 0x66, 0x74, 0x01, 0, 14}) + "shop/a-0" +      // tapflow: source pod
                               bytes({0x74, 0x66, 0x74, 0x02, 0, 16}) + "voip/pbx-1" +    // tapflow: destination pod
                               bytes({0, 0, 0, 0x0f, 0, 9}) + "ACK";                      // payload
  REQUIRE(expected.size() == 148);

  std::string out;
  encodeHep3(m, id, out);
  CHECK(out == expected);
  CHECK(hep3EncodedSize(m, id) == 148);
  CHECK(chunksAddUp(out));
  CHECK(hep_tapflow_chunk::kVendor == 0x7466);  // "tf", as docs/config.md says
}

TEST_CASE("an end that is no pod gets no pod chunk; the other end's is still written") {
  HepMessage m;
  m.src_ip = ip(AF_INET, "192.0.2.1");
  m.dst_ip = ip(AF_INET, "10.244.2.9");
  m.dst_pod = "voip/pbx-1";
  m.payload = "OPTIONS";
  HepIdentity id;
  std::string with_pod;
  encodeHep3(m, id, with_pod);
  const std::string dst_chunk = bytes({0x74, 0x66, 0x74, 0x02, 0, 16}) + "voip/pbx-1";
  const std::string payload_chunk = bytes({0, 0, 0, 0x0f, 0, 13}) + "OPTIONS";
  CHECK(hep3EncodedSize(m, id) == with_pod.size());
  CHECK(chunksAddUp(with_pod));
  // Right before the payload, and the source chunk nowhere.
  CHECK(with_pod.substr(with_pod.size() - payload_chunk.size() - dst_chunk.size()) == dst_chunk + payload_chunk);
  CHECK(with_pod.find(bytes({0x74, 0x66, 0x74, 0x01})) == std::string::npos);

  // Without pods the message is the one tapflow sent before Kubernetes: 16 bytes shorter.
  m.dst_pod.clear();
  std::string without;
  encodeHep3(m, id, without);
  CHECK(without.size() == with_pod.size() - dst_chunk.size());
  CHECK(hep3EncodedSize(m, id) == without.size());
  CHECK(without.find(bytes({0x74, 0x66})) == std::string::npos);
  CHECK(without.substr(6) == with_pod.substr(6, without.size() - 6 - payload_chunk.size()) + payload_chunk);
}

TEST_CASE("pod chunks count toward HEP's 16-bit length limit") {
  HepMessage m;
  HepIdentity id;
  m.src_pod = "shop/a-0";
  m.dst_pod = "shop/b-0";
  m.payload.assign(kHep3MaxBytes - (hep3EncodedSize(m, id) - m.payload.size()), 'x');
  CHECK(hep3EncodedSize(m, id) == kHep3MaxBytes);
  std::string out;
  encodeHep3(m, id, out);
  CHECK(out.size() == kHep3MaxBytes);
  CHECK(chunksAddUp(out));
  m.payload.push_back('x');
  out.clear();
  encodeHep3(m, id, out);
  CHECK(out.empty());
}
