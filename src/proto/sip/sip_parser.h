// Stateless SIP and SDP text parsing: start lines, header fields (compact forms,
// folded lines), addresses, Content-Length framing and SDP media. Every read stays
// inside the string_view it is given; results are views into it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/sip/sip_message.h"
#include "proto/sip/sip_stats.h"

namespace tapflow {

// True if `line` (without its line end) is a SIP/2.0 request line ("INVITE sip:b@h SIP/2.0")
// or status line ("SIP/2.0 180 Ringing").
bool isSipStartLine(std::string_view line);

// Offset just past the empty line that ends the head of the message starting at text[0]
// (CRLF or bare LF line ends), or npos. `from` lets a caller resume a scan of a growing text:
// pass the previous text size minus 2.
size_t findSipHeadEnd(std::string_view text, size_t from = 0);

// The header fields of a head (the lines after the start line), one at a time. Folded
// continuation lines are joined into the value (the view then spans the line ends).
class SipHeaderReader {
 public:
  explicit SipHeaderReader(std::string_view header_lines) : text_(header_lines) {}
  // False at the empty line or the end. Lines without a colon or a token name are skipped
  // and counted in badLines().
  bool next(std::string_view& name, std::string_view& value);
  uint32_t badLines() const { return bad_lines_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  uint32_t bad_lines_ = 0;
};

enum class SipHeader : uint8_t {
  kOther,
  kCallId,         // Call-ID, i
  kFrom,           // From, f
  kTo,             // To, t
  kVia,            // Via, v
  kCSeq,           // CSeq
  kContentLength,  // Content-Length, l
  kContentType,    // Content-Type, c
  kUserAgent,      // User-Agent
  kPAssertedIdentity,
};
SipHeader classifySipHeader(std::string_view name);  // case-insensitive, compact forms

enum class SipLength : uint8_t { kAbsent, kOk, kBad };
// The Content-Length of a message head (start line included), for TCP framing. kBad: not a
// decimal number, or two Content-Length headers that disagree.
SipLength sipContentLength(std::string_view head, uint64_t& length);

// A From/To/P-Asserted-Identity value: `"Alice" <sip:alice@h>;tag=1` or `sip:alice@h;tag=1`.
struct SipAddress {
  std::string_view uri;  // without angle brackets and header parameters
  std::string_view tag;  // value of the tag parameter, "" if none
};
bool parseSipAddress(std::string_view value, SipAddress& out);

// Where the user part of a URI is: the userinfo of sip:/sips:/other URIs with an '@'
// (user[:password]), or the number of a tel: URI. False if the URI names no user.
bool findSipUriUser(std::string_view uri, size_t& begin, size_t& end);

// Value of parameter `name` in ";a=1;name=v;b" (stops at a ',' that starts another value).
std::string_view sipParam(std::string_view params, std::string_view name);

// Parses a whole SIP message into `out` (all fields but dir, ts and privacy). `datagram`:
// the body is what Content-Length says, or the rest of the datagram when absent; otherwise
// (TCP, framed by the caller) the body is everything after the head. Counts what is malformed.
enum class SipParseResult : uint8_t { kOk, kMalformed };
SipParseResult parseSipMessage(std::string_view bytes, bool datagram, SipMessage& out, SipStats& stats);

// Fills out.media from an SDP body: each m= line with the c= in effect and its codecs.
void parseSdp(std::string_view body, SipMessage& out, SipStats& stats);

// RFC 3551 name of a static RTP payload type ("PCMU/8000"), or "" if not static.
std::string_view staticPayloadName(std::string_view payload_type);

}  // namespace tapflow
