#include "export/json_writer.h"

#include <arpa/inet.h>

#include <charconv>

namespace tapflow {

void JsonWriter::separator() {
  if (!first_) out_.push_back(',');
  first_ = false;
}

void JsonWriter::string(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out_.push_back('"');
  // Append runs of plain characters at once; only quotes, backslashes and
  // control characters need escaping.
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u != '"' && u != '\\') continue;
    out_.append(s.data() + run, i - run);
    run = i + 1;
    if (u == '"' || u == '\\') {
      out_.push_back('\\');
      out_.push_back(char(u));
    } else {
      out_.append("\\u00");
      out_.push_back(kHex[u >> 4]);
      out_.push_back(kHex[u & 15]);
    }
  }
  out_.append(s.data() + run, s.size() - run);
  out_.push_back('"');
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one
// (overlong forms, surrogates and code points past U+10FFFF included).
size_t utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  const auto continuation = [&](size_t k) { return k < s.size() && (byte(k) & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) return continuation(i + 1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!continuation(i + 1) || !continuation(i + 2)) return 0;
    const unsigned char b1 = byte(i + 1);
    if (b0 == 0xE0 && b1 < 0xA0) return 0;  // overlong
    if (b0 == 0xED && b1 >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!continuation(i + 1) || !continuation(i + 2) || !continuation(i + 3)) return 0;
    const unsigned char b1 = byte(i + 1);
    if (b0 == 0xF0 && b1 < 0x90) return 0;  // overlong
    if (b0 == 0xF4 && b1 >= 0x90) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

void JsonWriter::text(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i;
  if (i == s.size()) {
    string(s);  // the common case: plain ASCII
    return;
  }
  // Rebuild with invalid bytes replaced, then escape as usual.
  std::string clean(s.substr(0, i));
  while (i < s.size()) {
    const unsigned char u = static_cast<unsigned char>(s[i]);
    if (u < 0x80) {
      clean.push_back(char(u));
      ++i;
    } else if (size_t n = utf8SequenceLength(s, i)) {
      clean.append(s.substr(i, n));
      i += n;
    } else {
      clean.append("\xEF\xBF\xBD");  // U+FFFD
      ++i;
    }
  }
  string(clean);
}

JsonWriter& JsonWriter::textField(std::string_view name, std::string_view value) {
  key(name);
  text(value);
  return *this;
}

JsonWriter& JsonWriter::beginArray(std::string_view name) {
  key(name);
  out_.push_back('[');
  first_ = true;
  return *this;
}

JsonWriter& JsonWriter::endArray() {
  out_.push_back(']');
  first_ = false;
  return *this;
}

JsonWriter& JsonWriter::element(uint64_t value) {
  separator();
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), value);
  out_.append(buf, r.ptr);
  return *this;
}

JsonWriter& JsonWriter::textElement(std::string_view value) {
  separator();
  text(value);
  return *this;
}

JsonWriter& JsonWriter::ipElement(const IpAddress& ip, uint8_t version) {
  char buf[46];
  formatIp(ip, version, buf);
  separator();
  string(std::string_view(buf));
  return *this;
}

JsonWriter& JsonWriter::beginObjectElement() {
  separator();
  return beginObject();
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
  // Keys are the schema's own names (plain ASCII, nothing to escape).
  separator();
  out_.push_back('"');
  out_.append(name);
  out_.append("\":", 2);
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view name, std::string_view value) {
  key(name);
  string(value);
  return *this;
}

template <typename Integer>
JsonWriter& JsonWriter::integer(std::string_view name, Integer value) {
  key(name);
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), value);
  out_.append(buf, r.ptr);
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view name, uint64_t value) { return integer(name, value); }
JsonWriter& JsonWriter::field(std::string_view name, int64_t value) { return integer(name, value); }

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

namespace {

void digits(char* out, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = char('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

void formatTimestamp(Timestamp ts, char out[31]) {
  int64_t secs = ts / kNanosPerSecond;
  int64_t nanos = ts % kNanosPerSecond;
  if (nanos < 0) {
    nanos += kNanosPerSecond;
    secs -= 1;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  // Civil date from days since the epoch (H. Hinnant's algorithm): no
  // gmtime_r, whose time-zone lock every worker would take per record.
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);

  digits(out, year, 4);
  out[4] = '-';
  digits(out + 5, month, 2);
  out[7] = '-';
  digits(out + 8, day, 2);
  out[10] = 'T';
  digits(out + 11, rem / 3600, 2);
  out[13] = ':';
  digits(out + 14, rem / 60 % 60, 2);
  out[16] = ':';
  digits(out + 17, rem % 60, 2);
  out[19] = '.';
  digits(out + 20, nanos, 9);
  out[29] = 'Z';
  out[30] = '\0';
}

void formatIp(const IpAddress& ip, uint8_t version, char out[46]) {
  if (version != 4) {
    inet_ntop(AF_INET6, ip.bytes, out, 46);
    return;
  }
  // Dotted quad by hand: glibc's inet_ntop formats IPv4 through sprintf.
  char* o = out;
  for (int i = 0; i < 4; ++i) {
    if (i) *o++ = '.';
    o = std::to_chars(o, o + 3, unsigned(ip.bytes[i])).ptr;
  }
  *o = '\0';
}

}  // namespace tapflow
