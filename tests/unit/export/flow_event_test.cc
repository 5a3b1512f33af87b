#include <doctest/doctest.h>

#include <cstring>
#include <ctime>
#include <string>

#include "export/flow_event.h"
#include "export/json_writer.h"
#include "xorshift.h"

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


namespace {

// The writer's escaping as it was first written: invalid UTF-8 replaced, then
// quotes, backslashes and control characters escaped, byte by byte.
std::string referenceString(std::string_view s, bool utf8) {
  std::string clean;
  for (size_t i = 0; i < s.size();) {
    const unsigned char u = static_cast<unsigned char>(s[i]);
    size_t n = 1;
    if (utf8 && u >= 0x80) {
      n = 0;
      const auto cont = [&](size_t k) { return k < s.size() && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80; };
      const unsigned char b1 = i + 1 < s.size() ? static_cast<unsigned char>(s[i + 1]) : 0;
      if (u >= 0xC2 && u <= 0xDF && cont(i + 1)) n = 2;
      if (u >= 0xE0 && u <= 0xEF && cont(i + 1) && cont(i + 2) && !(u == 0xE0 && b1 < 0xA0) && !(u == 0xED && b1 >= 0xA0)) n = 3;
      if (u >= 0xF0 && u <= 0xF4 && cont(i + 1) && cont(i + 2) && cont(i + 3) && !(u == 0xF0 && b1 < 0x90) &&
          !(u == 0xF4 && b1 >= 0x90)) {
        n = 4;
      }
      if (n == 0) {
        clean += "\xEF\xBF\xBD";
        ++i;
        continue;
      }
    }
    clean.append(s.substr(i, n));
    i += n;
  }
  std::string out = "\"";
  for (unsigned char u : clean) {
    if (u == '"' || u == '\\') {
      out += '\\';
      out += char(u);
    } else if (u < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += char(u);
    }
  }
  return out + "\"";
}

}  // namespace

TEST_CASE("long strings escape the same across the writer's chunks, with or without UTF-8 checks") {
  XorShift64 next{0x2545f4914f6cdd1dull};
  for (int n = 0; n < 3000; ++n) {
    std::string s(next() % 2000, 'a');
    for (char& c : s) {
      const uint64_t r = next() % 16;
      // Plain letters mostly; quotes, controls, UTF-8 lead and continuation bytes, 0xFF.
      c = r < 10 ? char('a' + r) : "\"\\\x01\xC3\xA9\xE2\xFF"[r - 10];
    }
    std::string out = "prefix:";
    {
      JsonWriter w(out);
      w.beginObject().field("s", s).textField("t", s).endObject();
    }
    CHECK(out == "prefix:{\"s\":" + referenceString(s, false) + ",\"t\":" + referenceString(s, true) + "}");
  }
}

TEST_CASE("the text is whole once the outermost object closes, and later appends are the caller's") {
  std::string out;
  out.reserve(4);  // the writer must grow it many times over
  {
    JsonWriter w(out);
    w.beginObject().beginArray("a");
    for (uint64_t i = 0; i < 1000; ++i) w.element(i);
    w.endArray().beginObject("o").field("k", true).endObject();
    w.endObject();
    CHECK(out.size() > 3000);
    CHECK(out.substr(0, 11) == "{\"a\":[0,1,2");
    CHECK(out.substr(out.size() - 24) == "998,999],\"o\":{\"k\":true}}");
    out.push_back('\n');  // as the log line does while its writer is alive
  }
  CHECK(out.back() == '\n');
}

TEST_CASE("a special byte is found at every offset of plain text, as the writer strides over it") {
  for (size_t len = 1; len <= 40; ++len) {
    for (size_t at = 0; at < len; ++at) {
      for (const char special : {'"', '\\', '\x00', '\x1f', '\x7f', ' ', '\xc3', '\xff'}) {
        std::string s(len, 'k');
        s[at] = special;
        std::string out;
        {
          JsonWriter w(out);
          w.beginObject().field("s", s).textField("t", s).endObject();
        }
        CAPTURE(len);
        CAPTURE(at);
        CAPTURE(int(static_cast<unsigned char>(special)));
        REQUIRE(out == "{\"s\":" + referenceString(s, false) + ",\"t\":" + referenceString(s, true) + "}");
      }
    }
  }
}
