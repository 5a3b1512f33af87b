// HTTP/1.x message syntax (RFC 9112) the session parser is built on: start
// lines, header fields, Content-Length and Transfer-Encoding values. Pure
// functions over bytes already in memory, so they are tested on their own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tapflow {

// Lines are passed without their line ending (CR LF or a bare LF).
struct RequestLine {
  std::string_view method, target, version;  // version "1.1" (without "HTTP/")
};
struct StatusLine {
  std::string_view version;  // "1.1"
  uint16_t status_code = 0;
  std::string_view reason;  // may be empty
};

// "METHOD SP target SP HTTP/1.x": the method is 1..kMaxMethodLen characters
// of A-Z, '-' and '_' (every registered method is); the target is what lies
// between the first and the last space, so unencoded spaces are tolerated.
bool parseRequestLine(std::string_view line, RequestLine& out);
// "HTTP/1.x SP 3DIGIT [SP reason]"; the reason may be missing.
bool parseStatusLine(std::string_view line, StatusLine& out);

constexpr size_t kMaxMethodLen = 20;
// How many first bytes of a line the couldStart* checks look at.
constexpr size_t kStartLinePrefixLen = kMaxMethodLen + 1;

// Whether a line starting with `prefix` (which may include the line ending)
// can still be a request line / status line, or an empty line. They let the
// parser give up on non-HTTP bytes without waiting for a line end. Only the
// first kStartLinePrefixLen bytes are looked at, and once false they stay
// false for any longer prefix, so the answer does not depend on how the
// stream was cut into pieces.
bool couldStartRequestLine(std::string_view prefix);
bool couldStartStatusLine(std::string_view prefix);

// A registered method name followed by a space at the start of the bytes
// (GET, POST, HEAD, PUT, DELETE, OPTIONS, PATCH, TRACE, CONNECT, WebDAV).
bool startsWithKnownMethod(std::string_view bytes);

// Anchors the parser looks for anywhere in the bytes to resynchronize after
// an error or a gap: a known method and a space, or "HTTP/1.x ". kPartial:
// the bytes end before it is decided.
enum class AnchorMatch : uint8_t { kNo, kPartial, kYes };
AnchorMatch matchRequestAnchor(std::string_view bytes);
AnchorMatch matchStatusAnchor(std::string_view bytes);
constexpr size_t kMaxAnchorLen = 10;  // "PROPPATCH "

struct HeaderField {
  std::string_view name, value;  // value without surrounding spaces and tabs
};
enum class HeaderLineKind : uint8_t {
  kField,  // name ":" value
  kFold,   // starts with a space or tab: obsolete line folding (RFC 9112 5.2)
  kBad,    // no colon, empty name, or a name with spaces or non-token bytes
};
HeaderLineKind parseHeaderLine(std::string_view line, HeaderField& out);

// A Content-Length value: decimal digits, or a comma list of identical ones
// (RFC 9110 8.6). False for anything else, including values over 19 digits.
bool parseContentLength(std::string_view value, uint64_t& out);

// Whether the last transfer coding in a Transfer-Encoding value is "chunked".
bool lastCodingIsChunked(std::string_view value);

bool equalsIgnoreCase(std::string_view a, std::string_view b);

// Removes a trailing LF and then a trailing CR.
std::string_view withoutLineEnd(std::string_view line);

}  // namespace tapflow
