#include <doctest/doctest.h>

#include <ctime>
#include <string>

#include "export/flow_event.h"
#include "export/json_writer.h"

using namespace tapflow;

TEST_CASE("timestamps are RFC 3339 UTC with nanoseconds") {
  char out[31];
  formatTimestamp(1'700'000'000LL * kNanosPerSecond + 5, out);
  CHECK(std::string(out) == "2023-11-14T22:13:20.000000005Z");
  formatTimestamp(0, out);
  CHECK(std::string(out) == "1970-01-01T00:00:00.000000000Z");
}

TEST_CASE("strings are escaped so any byte makes valid JSON") {
  std::string out;
  JsonWriter w(out);
  w.beginObject().field("k", std::string_view("a\"b\\c\n\x01", 7)).endObject();
  CHECK(out == "{\"k\":\"a\\\"b\\\\c\\u000a\\u0001\"}");
}

TEST_CASE("a flow event names the client as source and carries the documented fields") {
  Flow f;
  f.key.ip_version = 4;
  f.key.proto = 6;
  f.key.lo.bytes[0] = 10, f.key.lo.bytes[3] = 1;
  f.key.hi.bytes[0] = 10, f.key.hi.bytes[3] = 2;
  f.key.port_lo = 80;
  f.key.port_hi = 40000;
  f.client = 1;  // hi → lo: 10.0.0.2:40000 is the client
  f.dir[1].packets = 3;
  f.dir[1].bytes = 200;
  f.dir[1].tcp_flags = tcp_flags::kSyn | tcp_flags::kAck;
  f.dir[0].packets = 2;
  f.dir[0].bytes = 1500;
  f.record_start = f.first_ts = 1'700'000'000LL * kNanosPerSecond;
  f.last_ts = f.first_ts + 1500;
  f.syn_ts = f.first_ts;
  f.synack_ts = f.first_ts + 2'000'000;
  f.vlan_count = 2;
  f.vlan_ids[0] = 100;
  f.vlan_ids[1] = 200;
  std::string out;
  encodeFlowEvent(f, FlowEndReason::kFin, true, out);
  CHECK(out.find("\"schema\":1,\"type\":\"flow\"") != std::string::npos);
  CHECK(out.find("\"source\":{\"ip\":\"10.0.0.2\",\"port\":40000,\"packets\":3,\"bytes\":200}") != std::string::npos);
  CHECK(out.find("\"destination\":{\"ip\":\"10.0.0.1\",\"port\":80,\"packets\":2,\"bytes\":1500}") !=
        std::string::npos);
  CHECK(out.find("\"reason\":\"fin\"") != std::string::npos);
  CHECK(out.find("\"duration\":1500") != std::string::npos);
  CHECK(out.find("\"transport\":\"tcp\",\"iana_number\":\"6\",\"type\":\"ipv4\",\"packets\":5,\"bytes\":1700") !=
        std::string::npos);
  CHECK(out.find("\"vlan\":{\"id\":100},\"inner\":{\"vlan\":{\"id\":200}}") != std::string::npos);
  CHECK(out.find("\"client\":{\"flags\":\"SA\"") != std::string::npos);
  CHECK(out.find("\"rtt\":{\"server_us\":2000}") != std::string::npos);
  CHECK(out.find("\"community_id\":\"1:") != std::string::npos);
  CHECK(out.find("tunnel") == std::string::npos);
  CHECK(out.front() == '{');
  CHECK(out.back() == '}');
}

TEST_CASE("timestamps match gmtime for dates across leap years and centuries") {
  for (int64_t secs : {int64_t(951782400), int64_t(951868799), int64_t(4107542400), int64_t(1709164800),
                       int64_t(7258118399), int64_t(86399), int64_t(1798675200)}) {
    char ours[31];
    formatTimestamp(secs * kNanosPerSecond + 123456789, ours);
    time_t t = time_t(secs);
    struct tm tm;
    gmtime_r(&t, &tm);
    char want[40];
    strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
    CAPTURE(secs);
    CHECK(std::string(ours) == std::string(want) + ".123456789Z");
  }
}

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
