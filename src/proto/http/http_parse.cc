// HTTP/1.x syntax pieces: every read is an index checked against the view's size.
#include "proto/http/http_parse.h"

#include <array>

namespace tapflow {
namespace {

bool isMethodChar(char c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isSpaceOrTab(char c) { return c == ' ' || c == '\t'; }

// RFC 9110 5.6.2 tchar.
bool isTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trimSpaces(std::string_view s) {
  while (!s.empty() && isSpaceOrTab(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpaceOrTab(s.back())) s.remove_suffix(1);
  return s;
}

// "HTTP/1.x" with x a digit; out = "1.x".
bool parseVersion(std::string_view s, std::string_view& out) {
  if (s.size() != 8 || s.substr(0, 7) != "HTTP/1." || !isDigit(s[7])) return false;
  out = s.substr(5);
  return true;
}

// An empty line (the line end alone), or a prefix of one.
bool isEmptyLinePrefix(std::string_view prefix) {
  return prefix == "\r" || prefix == "\r\n" || prefix == "\n";
}

constexpr std::array<std::string_view, 16> kKnownMethods = {
    "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT",
    "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK"};

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view withoutLineEnd(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool parseRequestLine(std::string_view line, RequestLine& out) {
  const size_t first_space = line.find(' ');
  const size_t last_space = line.rfind(' ');
  if (first_space == std::string_view::npos || first_space == 0 || first_space > kMaxMethodLen ||
      last_space <= first_space + 1) {
    return false;
  }
  for (size_t i = 0; i < first_space; ++i) {
    if (!isMethodChar(line[i])) return false;
  }
  std::string_view version;
  if (!parseVersion(line.substr(last_space + 1), version)) return false;
  out.method = line.substr(0, first_space);
  out.target = line.substr(first_space + 1, last_space - first_space - 1);
  out.version = version;
  return true;
}

bool parseStatusLine(std::string_view line, StatusLine& out) {
  // "HTTP/1.1 200" is the shortest form.
  if (line.size() < 12 || line[8] != ' ') return false;
  std::string_view version;
  if (!parseVersion(line.substr(0, 8), version)) return false;
  if (!isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) || line[9] == '0') return false;
  if (line.size() > 12 && line[12] != ' ') return false;
  out.version = version;
  out.status_code = static_cast<uint16_t>((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
  // An empty reason still points into the line, at its end.
  out.reason = line.substr(line.size() > 13 ? 13 : line.size());
  return true;
}

bool couldStartRequestLine(std::string_view prefix) {
  if (prefix.empty()) return true;
  if (prefix[0] == '\r' || prefix[0] == '\n') return isEmptyLinePrefix(prefix);
  const size_t n = prefix.size() < kStartLinePrefixLen ? prefix.size() : kStartLinePrefixLen;
  for (size_t i = 0; i < n; ++i) {
    if (prefix[i] == ' ') return i > 0;
    if (!isMethodChar(prefix[i])) return false;
  }
  return n < kStartLinePrefixLen;  // no space after kMaxMethodLen method characters
}

bool couldStartStatusLine(std::string_view prefix) {
  if (prefix.empty()) return true;
  if (prefix[0] == '\r' || prefix[0] == '\n') return isEmptyLinePrefix(prefix);
  // "HTTP/1.x ddd": the fixed part, digit by digit.
  static constexpr std::string_view kShape = "HTTP/1.# ###";
  const size_t n = prefix.size() < kShape.size() ? prefix.size() : kShape.size();
  for (size_t i = 0; i < n; ++i) {
    if (kShape[i] == '#' ? !isDigit(prefix[i]) : prefix[i] != kShape[i]) return false;
  }
  return true;
}

bool startsWithKnownMethod(std::string_view bytes) {
  for (std::string_view m : kKnownMethods) {
    if (bytes.size() > m.size() && bytes.substr(0, m.size()) == m && bytes[m.size()] == ' ') return true;
  }
  return false;
}

namespace {

AnchorMatch matchAnchor(std::string_view bytes, std::string_view anchor, bool digit_at_7) {
  const size_t n = bytes.size() < anchor.size() ? bytes.size() : anchor.size();
  for (size_t i = 0; i < n; ++i) {
    const bool ok = digit_at_7 && i == 7 ? isDigit(bytes[i]) : bytes[i] == anchor[i];
    if (!ok) return AnchorMatch::kNo;
  }
  return n == anchor.size() ? AnchorMatch::kYes : AnchorMatch::kPartial;
}

}  // namespace

AnchorMatch matchRequestAnchor(std::string_view bytes) {
  // Methods with a common prefix (PUT, PATCH) may both be partial matches.
  AnchorMatch best = AnchorMatch::kNo;
  char method_and_space[kMaxAnchorLen];
  for (std::string_view m : kKnownMethods) {
    for (size_t i = 0; i < m.size(); ++i) method_and_space[i] = m[i];
    method_and_space[m.size()] = ' ';
    const AnchorMatch match = matchAnchor(bytes, std::string_view(method_and_space, m.size() + 1), false);
    if (match == AnchorMatch::kYes) return match;
    if (match == AnchorMatch::kPartial) best = match;
  }
  return best;
}

AnchorMatch matchStatusAnchor(std::string_view bytes) { return matchAnchor(bytes, "HTTP/1.# ", true); }

HeaderLineKind parseHeaderLine(std::string_view line, HeaderField& out) {
  if (line.empty()) return HeaderLineKind::kBad;
  if (isSpaceOrTab(line[0])) return HeaderLineKind::kFold;
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return HeaderLineKind::kBad;
  for (size_t i = 0; i < colon; ++i) {
    if (!isTokenChar(line[i])) return HeaderLineKind::kBad;
  }
  out.name = line.substr(0, colon);
  out.value = trimSpaces(line.substr(colon + 1));
  return HeaderLineKind::kField;
}

bool parseContentLength(std::string_view value, uint64_t& out) {
  bool have = false;
  uint64_t first = 0;
  while (true) {
    const size_t comma = value.find(',');
    const std::string_view part = trimSpaces(value.substr(0, comma));
    // 19 digits always fit in 64 bits.
    if (part.empty() || part.size() > 19) return false;
    uint64_t n = 0;
    for (char c : part) {
      if (!isDigit(c)) return false;
      n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (have && n != first) return false;
    have = true;
    first = n;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  out = first;
  return true;
}

bool lastCodingIsChunked(std::string_view value) {
  // The last non-empty list element, without its parameters.
  std::string_view last;
  while (true) {
    const size_t comma = value.find(',');
    const std::string_view part = trimSpaces(value.substr(0, comma));
    if (!part.empty()) last = part;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  const size_t semicolon = last.find(';');
  return equalsIgnoreCase(trimSpaces(last.substr(0, semicolon)), "chunked");
}

}  // namespace tapflow
