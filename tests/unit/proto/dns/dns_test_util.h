// Helpers of the DNS analyzer tests: a message builder that tracks offsets
// (for compression pointers) and a sink that copies every event.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proto/dns/dns_session.h"

namespace tapflow::dnstest {

using Bytes = std::vector<uint8_t>;

class Msg {
 public:
  Msg(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns = 0, uint16_t ar = 0) {
    u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  }
  Msg& u8(uint32_t v) {
    b.push_back(static_cast<uint8_t>(v));
    return *this;
  }
  Msg& u16(uint32_t v) { return u8(v >> 8).u8(v); }
  Msg& u32(uint32_t v) { return u16(v >> 16).u16(v & 0xFFFF); }
  Msg& raw(std::string_view s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Msg& bytes(const Bytes& x) {
    b.insert(b.end(), x.begin(), x.end());
    return *this;
  }
  // Labels of `dotted` (may be empty), then a pointer to `ptr` or the root.
  // Returns the offset where the name starts.
  size_t name(std::string_view dotted, int ptr = -1) {
    const size_t at = b.size();
    size_t start = 0;
    while (start < dotted.size()) {
      size_t dot = dotted.find('.', start);
      if (dot == std::string_view::npos) dot = dotted.size();
      u8(static_cast<uint32_t>(dot - start)).raw(dotted.substr(start, dot - start));
      start = dot + 1;
    }
    if (ptr >= 0) {
      u16(0xC000u | static_cast<uint32_t>(ptr));
    } else {
      u8(0);
    }
    return at;
  }
  Msg& question(std::string_view dotted, uint16_t type, uint16_t cls = 1) {
    name(dotted);
    return u16(type).u16(cls);
  }
  // Fixed part of a record whose owner name was just written; rdata follows,
  // closed by endRdata().
  Msg& rr(uint16_t type, uint32_t ttl, uint16_t cls = 1) {
    u16(type).u16(cls).u32(ttl);
    rdlength_at_ = b.size();
    return u16(0);
  }
  Msg& endRdata() {
    const size_t n = b.size() - rdlength_at_ - 2;
    b[rdlength_at_] = static_cast<uint8_t>(n >> 8);
    b[rdlength_at_ + 1] = static_cast<uint8_t>(n);
    return *this;
  }
  size_t size() const { return b.size(); }
  Bytes tcp() const {  // with the 2-byte length prefix
    Bytes t(2 + b.size());
    t[0] = static_cast<uint8_t>(b.size() >> 8);
    t[1] = static_cast<uint8_t>(b.size());
    std::copy(b.begin(), b.end(), t.begin() + 2);
    return t;
  }

  Bytes b;

 private:
  size_t rdlength_at_ = 0;
};

struct Answer {
  std::string name;
  uint16_t type = 0, dns_class = 0;
  uint32_t ttl = 0;
  std::string data;
  bool operator==(const Answer&) const = default;
};

struct Event {
  bool has_query = false, has_response = false, over_tcp = false;
  uint16_t id = 0;
  std::string name;
  uint16_t qtype = 0, qclass = 0;
  uint8_t opcode = 0, rcode = 0;
  bool truncated = false, authoritative = false, recursion_desired = false, recursion_available = false;
  bool malformed = false;
  std::vector<Answer> answers;
  uint16_t answer_count = 0;
  Timestamp query_ts = 0, response_ts = 0;
  bool operator==(const Event&) const = default;
};

class RecordingSink : public DnsEventSink {
 public:
  void onDnsTransaction(const DnsTransaction& t) override {
    Event e;
    e.has_query = t.has_query;
    e.has_response = t.has_response;
    e.over_tcp = t.over_tcp;
    e.id = t.id;
    e.name = std::string(t.name);
    e.qtype = t.qtype;
    e.qclass = t.qclass;
    e.opcode = t.opcode;
    e.rcode = t.rcode;
    e.truncated = t.truncated;
    e.authoritative = t.authoritative;
    e.recursion_desired = t.recursion_desired;
    e.recursion_available = t.recursion_available;
    e.malformed = t.malformed;
    for (size_t i = 0; i < t.answers_reported; ++i) {
      const DnsAnswer& a = t.answers[i];
      e.answers.push_back({std::string(a.name), a.type, a.dns_class, a.ttl, std::string(a.data)});
    }
    e.answer_count = t.answer_count;
    e.query_ts = t.query_ts;
    e.response_ts = t.response_ts;
    events.push_back(std::move(e));
  }
  std::vector<Event> events;
};

// All counters as (name, value), to compare two runs whole.
inline std::vector<std::pair<std::string, uint64_t>> counters(const DnsStats& s) {
  std::vector<std::pair<std::string, uint64_t>> out;
  s.forEach([&](const char* name, const char*, const Counter& c) { out.emplace_back(name, c.value()); });
  return out;
}

}  // namespace tapflow::dnstest
