// A small append-only JSON writer for events: no DOM, no allocation beyond
// the output string's growth (which callers reuse between events).
//
// Every event is a few dozen members, and each write through std::string's
// append is an out-of-line call and a memcpy through the PLT, which made
// encoding the larger part of a worker's time. So the writer opens the
// string up to its capacity once and writes through a pointer, inline; the
// string is cut back to the text when the outermost object or array closes,
// or when the writer goes. In between, `out` holds the text followed by
// scratch bytes: read it only after the outermost endObject().
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "packet/decoded_packet.h"
#include "packet/ip_text.h"
#include "packet/timestamp.h"

namespace tapflow {

// RFC 3339, UTC, nanoseconds: 2026-11-27T12:00:00.123456789Z (30 chars + NUL).
constexpr size_t kTimestampTextLength = 30;
void formatTimestamp(Timestamp ts, char out[31]);

class JsonWriter {
 public:
  // Appends to `out` after what it already holds.
  explicit JsonWriter(std::string& out);
  ~JsonWriter() { commit(); }
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  JsonWriter& beginObject() {
    *room(1)++ = '{';
    open();
    return *this;
  }
  JsonWriter& beginObject(std::string_view name) { return key(name).beginObject(); }
  JsonWriter& endObject() { return close('}'); }

  // A schema name: written as is, not escaped.
  JsonWriter& key(std::string_view name) {
    char* p = room(name.size() + 4);
    if (!first_) *p++ = ',';
    first_ = false;
    *p++ = '"';
    std::memcpy(p, name.data(), name.size());
    p += name.size();
    *p++ = '"';
    *p++ = ':';
    pos_ = p;
    return *this;
  }

  JsonWriter& field(std::string_view name, std::string_view value) {
    key(name);
    string(value);
    return *this;
  }
  JsonWriter& field(std::string_view name, const char* value) { return field(name, std::string_view(value)); }
  JsonWriter& field(std::string_view name, uint64_t value) { return integer(name, value); }
  JsonWriter& field(std::string_view name, int64_t value) { return integer(name, value); }
  JsonWriter& field(std::string_view name, int value) { return integer(name, int64_t(value)); }
  JsonWriter& field(std::string_view name, unsigned value) { return integer(name, uint64_t(value)); }
  JsonWriter& field(std::string_view name, bool value) {
    key(name);
    raw(value ? std::string_view("true") : std::string_view("false"));
    return *this;
  }
  // Text taken from packets: escaped like any string, and bytes that are not
  // valid UTF-8 become U+FFFD, so every consumer can parse the event.
  JsonWriter& textField(std::string_view name, std::string_view value) {
    key(name);
    text(value);
    return *this;
  }
  JsonWriter& ipField(std::string_view name, const IpAddress& ip, uint8_t version) {
    key(name);
    ip_(ip, version);
    return *this;
  }
  JsonWriter& timeField(std::string_view name, Timestamp ts) {
    key(name);
    char* p = room(kTimestampTextLength + 3);  // quotes, and formatTimestamp's NUL (overwritten)
    *p++ = '"';
    formatTimestamp(ts, p);
    p += kTimestampTextLength;
    *p++ = '"';
    pos_ = p;
    return *this;
  }

  // Arrays: beginArray(key), then elements, then endArray().
  JsonWriter& beginArray(std::string_view name) {
    key(name);
    *room(1)++ = '[';
    open();
    return *this;
  }
  JsonWriter& endArray() { return close(']'); }
  JsonWriter& element(uint64_t value) {
    separator();
    number(value);
    return *this;
  }
  JsonWriter& textElement(std::string_view value) {  // packet text, as textField
    separator();
    text(value);
    return *this;
  }
  JsonWriter& ipElement(const IpAddress& ip, uint8_t version) {
    separator();
    ip_(ip, version);
    return *this;
  }
  JsonWriter& beginObjectElement() {  // an object inside an array; close with endObject()
    separator();
    return beginObject();
  }

 private:
  // Makes room for n bytes at pos_ and returns pos_ itself, so that
  // `*room(1)++ = c` writes and advances.
  char*& room(size_t n) {
    if (size_t(end_ - pos_) < n) grow(n);
    return pos_;
  }
  void grow(size_t n);
  void commit();
  void open() {
    first_ = true;
    ++depth_;
  }
  JsonWriter& close(char c) {
    *room(1)++ = c;
    first_ = false;
    if (--depth_ == 0) commit();
    return *this;
  }
  void separator() {
    if (!first_) *room(1)++ = ',';
    first_ = false;
  }
  void raw(std::string_view s) {
    char* p = room(s.size());
    std::memcpy(p, s.data(), s.size());
    pos_ = p + s.size();
  }
  template <typename Integer>
  void number(Integer value) {
    char* p = room(24);
    pos_ = std::to_chars(p, p + 24, value).ptr;
  }
  template <typename Integer>
  JsonWriter& integer(std::string_view name, Integer value) {
    key(name);
    number(value);
    return *this;
  }
  void ip_(const IpAddress& ip, uint8_t version) {
    char* p = room(kIpTextMax + 2);
    *p++ = '"';
    p += formatIp(ip, version, p);
    *p++ = '"';
    pos_ = p;
  }
  // A string: plain characters copied as they are, quotes, backslashes and
  // control characters escaped.
  void string(std::string_view s);
  void text(std::string_view s);

  std::string& out_;
  char* pos_;  // next byte to write, inside out_'s buffer
  char* end_;  // end of out_'s buffer as opened
  int depth_ = 0;
  bool opened_ = false;  // out_ is resized past the text (grow() since the last commit())
  bool first_ = true;  // no member written yet in the current object or array
};

}  // namespace tapflow
