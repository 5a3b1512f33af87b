#include "export/json_writer.h"

#include <algorithm>
#include <charconv>
#include <climits>

namespace tapflow {

JsonWriter::JsonWriter(std::string& out) : out_(out) {
  pos_ = end_ = out_.data() + out_.size();  // the first write opens the buffer
}

void JsonWriter::grow(size_t n) {
  const size_t used = size_t(pos_ - out_.data());
  // Open the string a step at a time: resize() zeroes what it opens, so
  // opening a large recycled buffer whole would cost more than the event.
  constexpr size_t kStep = 1024;
  size_t size = used + std::max(n, kStep);
  if (size > out_.capacity()) size = std::max(size, 2 * out_.capacity());
  out_.resize(size);
  pos_ = out_.data() + used;
  end_ = out_.data() + out_.size();
  opened_ = true;
}

void JsonWriter::commit() {
  if (!opened_) return;  // nothing written since the last commit: out_ may have moved on
  opened_ = false;
  out_.resize(size_t(pos_ - out_.data()));
  pos_ = end_ = out_.data() + out_.size();
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

// Writes s as a JSON string body, escaping quotes, backslashes and control
// characters; with `utf8`, bytes that are not valid UTF-8 become U+FFFD.
// Each input byte takes at most 6 output bytes ("\u00XX", or U+FFFD's 3), so
// a chunk of input is checked for room once.
//
// Eight bytes are checked at once (SWAR): names, URLs and header values are
// plain text, so the loop mostly strides.
template <bool kUtf8>
bool plainWord(const char* at) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  uint64_t v;
  std::memcpy(&v, at, 8);
  const auto has_zero = [](uint64_t x) { return (x - kOnes) & ~x & kHigh; };
  // A byte below 0x20 borrows in v - 0x20..; bytes at or above 0x80 are
  // masked out by ~v (they are checked separately, or plain without kUtf8).
  uint64_t special = ((v - 0x20 * kOnes) & ~v & kHigh) | has_zero(v ^ ('"' * kOnes)) | has_zero(v ^ ('\\' * kOnes));
  if (kUtf8) special |= v & kHigh;
  return special == 0;
}

template <bool kUtf8>
char* escape(std::string_view s, size_t& i, size_t chunk_end, char* p) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t run = i;
  while (i < chunk_end) {
    if (i + 8 <= chunk_end && plainWord<kUtf8>(s.data() + i)) {
      i += 8;
      continue;
    }
    const unsigned char u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u != '"' && u != '\\' && (!kUtf8 || u < 0x80)) {
      ++i;
      continue;
    }
    std::memcpy(p, s.data() + run, i - run);
    p += i - run;
    if (u >= 0x80) {  // kUtf8 only
      if (const size_t n = utf8SequenceLength(s, i)) {
        std::memcpy(p, s.data() + i, n);  // may run past chunk_end by up to 3: room was asked per byte
        p += n;
        i += n;
      } else {
        std::memcpy(p, "\xEF\xBF\xBD", 3);
        p += 3;
        ++i;
      }
    } else if (u == '"' || u == '\\') {
      *p++ = '\\';
      *p++ = char(u);
      ++i;
    } else {
      std::memcpy(p, "\\u00", 4);
      p += 4;
      *p++ = kHex[u >> 4];
      *p++ = kHex[u & 15];
      ++i;
    }
    run = i;
  }
  std::memcpy(p, s.data() + run, i - run);
  return p + (i - run);
}

}  // namespace

void JsonWriter::string(std::string_view s) {
  *room(1)++ = '"';
  // Chunks bound the room asked for: a long header value does not make the
  // buffer six times its size.
  constexpr size_t kChunk = 512;
  for (size_t i = 0; i < s.size();) {
    const size_t chunk_end = std::min(s.size(), i + kChunk);
    char* p = room(6 * (chunk_end - i));
    pos_ = escape<false>(s, i, chunk_end, p);
  }
  *room(1)++ = '"';
}

void JsonWriter::text(std::string_view s) {
  *room(1)++ = '"';
  constexpr size_t kChunk = 512;
  for (size_t i = 0; i < s.size();) {
    const size_t chunk_end = std::min(s.size(), i + kChunk);
    // A UTF-8 sequence that starts in the chunk may end up to 3 bytes past it.
    char* p = room(6 * (chunk_end - i) + 3);
    pos_ = escape<true>(s, i, chunk_end, p);
  }
  *room(1)++ = '"';
}

namespace {

void digits(char* out, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = char('0' + value % 10);
    value /= 10;
  }
}

// "YYYY-MM-DDTHH:MM:SS" of a second since the epoch.
void formatSecond(int64_t secs, char out[19]) {
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
}

}  // namespace

void formatTimestamp(Timestamp ts, char out[31]) {
  int64_t secs = ts / kNanosPerSecond;
  int64_t nanos = ts % kNanosPerSecond;
  if (nanos < 0) {
    nanos += kNanosPerSecond;
    secs -= 1;
  }
  // The events a worker encodes in a row mostly fall in the same second:
  // each thread keeps the text of the last one.
  thread_local int64_t last_second = INT64_MIN;
  thread_local char last_text[19];
  if (secs != last_second) {
    formatSecond(secs, last_text);
    last_second = secs;
  }
  std::memcpy(out, last_text, 19);
  out[19] = '.';
  digits(out + 20, nanos, 9);
  out[29] = 'Z';
  out[30] = '\0';
}

}  // namespace tapflow
