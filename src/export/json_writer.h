// A small append-only JSON writer for events: no DOM, no allocation beyond
// the output string's growth (which callers reuse between events).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "packet/decoded_packet.h"
#include "packet/timestamp.h"

namespace tapflow {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& beginObject();
  JsonWriter& beginObject(std::string_view key);
  JsonWriter& endObject();
  JsonWriter& key(std::string_view key);  // a schema name: written as is, not escaped
  JsonWriter& field(std::string_view key, std::string_view value);
  JsonWriter& field(std::string_view key, const char* value) { return field(key, std::string_view(value)); }
  JsonWriter& field(std::string_view key, uint64_t value);
  JsonWriter& field(std::string_view key, int64_t value);
  JsonWriter& field(std::string_view key, int value) { return field(key, int64_t(value)); }
  JsonWriter& field(std::string_view key, unsigned value) { return field(key, uint64_t(value)); }
  JsonWriter& field(std::string_view key, bool value);
  // Text taken from packets: escaped like any string, and bytes that are not
  // valid UTF-8 become U+FFFD, so every consumer can parse the event.
  JsonWriter& textField(std::string_view key, std::string_view value);
  JsonWriter& ipField(std::string_view key, const IpAddress& ip, uint8_t version);
  JsonWriter& timeField(std::string_view key, Timestamp ts);

  // Arrays: beginArray(key), then elements, then endArray().
  JsonWriter& beginArray(std::string_view key);
  JsonWriter& endArray();
  JsonWriter& element(uint64_t value);
  JsonWriter& textElement(std::string_view value);  // packet text, as textField
  JsonWriter& ipElement(const IpAddress& ip, uint8_t version);
  JsonWriter& beginObjectElement();  // an object inside an array; close with endObject()

 private:
  template <typename Integer>
  JsonWriter& integer(std::string_view key, Integer value);
  void separator();
  void string(std::string_view s);
  void text(std::string_view s);

  std::string& out_;
  bool first_ = true;  // no member written yet in the current object
};

// RFC 3339, UTC, nanoseconds: 2026-11-27T12:00:00.123456789Z (30 chars + NUL).
void formatTimestamp(Timestamp ts, char out[31]);
// Dotted quad or RFC 5952 text; NUL-terminated, at most 46 bytes.
void formatIp(const IpAddress& ip, uint8_t version, char out[46]);

}  // namespace tapflow
