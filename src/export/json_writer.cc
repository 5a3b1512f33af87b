#include "export/json_writer.h"

#include <arpa/inet.h>

#include <charconv>
#include <ctime>

namespace tapflow {

void JsonWriter::separator() {
  if (!first_) out_.push_back(',');
  first_ = false;
}

void JsonWriter::string(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out_.push_back('"');
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out_.push_back('\\');
      out_.push_back(c);
    } else if (u < 0x20) {
      out_.append("\\u00");
      out_.push_back(kHex[u >> 4]);
      out_.push_back(kHex[u & 15]);
    } else {
      out_.push_back(c);
    }
  }
  out_.push_back('"');
}

JsonWriter& JsonWriter::beginObject() {
  out_.push_back('{');
  first_ = true;
  return *this;
}

JsonWriter& JsonWriter::beginObject(std::string_view name) {
  key(name);
  return beginObject();
}

JsonWriter& JsonWriter::endObject() {
  out_.push_back('}');
  first_ = false;
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  separator();
  string(name);
  out_.push_back(':');
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view name, std::string_view value) {
  key(name);
  string(value);
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view name, uint64_t value) {
  key(name);
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), value);
  out_.append(buf, r.ptr);
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view name, int64_t value) {
  key(name);
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), value);
  out_.append(buf, r.ptr);
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view name, bool value) {
  key(name);
  out_.append(value ? "true" : "false");
  return *this;
}

JsonWriter& JsonWriter::ipField(std::string_view name, const IpAddress& ip, uint8_t version) {
  char buf[46];
  formatIp(ip, version, buf);
  return field(name, std::string_view(buf));
}

JsonWriter& JsonWriter::timeField(std::string_view name, Timestamp ts) {
  char buf[31];
  formatTimestamp(ts, buf);
  return field(name, std::string_view(buf));
}

void formatTimestamp(Timestamp ts, char out[31]) {
  time_t secs = time_t(ts / kNanosPerSecond);
  int64_t nanos = ts % kNanosPerSecond;
  if (nanos < 0) {
    nanos += kNanosPerSecond;
    secs -= 1;
  }
  struct tm tm;
  gmtime_r(&secs, &tm);
  size_t n = strftime(out, 31, "%Y-%m-%dT%H:%M:%S", &tm);
  out[n++] = '.';
  for (int i = 8; i >= 0; --i) {
    out[n + i] = char('0' + nanos % 10);
    nanos /= 10;
  }
  n += 9;
  out[n++] = 'Z';
  out[n] = '\0';
}

void formatIp(const IpAddress& ip, uint8_t version, char out[46]) {
  inet_ntop(version == 4 ? AF_INET : AF_INET6, ip.bytes, out, 46);
}

}  // namespace tapflow
