// SIP and SDP text parsing (see sip_parser.h). Lenient where real devices
// differ (bare LF line ends, folded headers, extra parameters), strict where a
// mistake would mis-frame a stream or mis-attribute a call.
#include "proto/sip/sip_parser.h"

#include <array>

namespace tapflow {
namespace {

constexpr size_t npos = std::string_view::npos;

bool isSpace(char c) { return c == ' ' || c == '\t'; }
bool isWs(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

// RFC 3261 token characters (methods, header names, parameter names).
bool isTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c)) return true;
  switch (c) {
    case '-': case '.': case '!': case '%': case '*': case '_': case '+': case '`': case '\'': case '~':
      return true;
    default:
      return false;
  }
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!isTokenChar(c)) return false;
  }
  return true;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equalsNoCase(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isWs(s.front())) s.remove_prefix(1);
  while (!s.empty() && isWs(s.back())) s.remove_suffix(1);
  return s;
}

// The line starting at `pos` without its line end; `next` gets the start of the next line.
std::string_view lineAt(std::string_view text, size_t pos, size_t& next) {
  const size_t nl = text.find('\n', pos);
  const size_t end = nl == npos ? text.size() : nl;
  next = nl == npos ? text.size() : nl + 1;
  std::string_view line = text.substr(pos, end - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// Decimal number of at most `max_digits` digits, nothing else.
bool parseDecimal(std::string_view s, size_t max_digits, uint64_t& value) {
  if (s.empty() || s.size() > max_digits) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (!isDigit(c)) return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  value = v;
  return true;
}

// A Content-Length value: up to 18 digits, so the sum with a head length cannot overflow.
bool parseContentLength(std::string_view value, uint64_t& length) { return parseDecimal(trim(value), 18, length); }

const std::string_view kSipVersion = "SIP/2.0";

// The start line alone, so that checking a line costs no SipMessage.
struct StartLine {
  bool is_request = false;
  std::string_view method, request_uri, reason;
  uint16_t status_code = 0;
};

bool parseRequestLine(std::string_view line, StartLine& out) {
  const size_t sp1 = line.find(' ');
  if (sp1 == npos || sp1 == 0 || sp1 > 32) return false;
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == npos || sp2 == sp1 + 1) return false;
  const std::string_view method = line.substr(0, sp1);
  const std::string_view uri = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!isToken(method) || !equalsNoCase(version, kSipVersion)) return false;
  if (uri.find(':') == npos || uri.find('\t') != npos) return false;
  out.is_request = true;
  out.method = method;
  out.request_uri = uri;
  return true;
}

bool parseStatusLine(std::string_view line, StartLine& out) {
  // "SIP/2.0 ddd reason"; the reason may be empty.
  if (line.size() < kSipVersion.size() + 4 || !startsWithNoCase(line, kSipVersion) || line[kSipVersion.size()] != ' ')
    return false;
  const std::string_view code = line.substr(kSipVersion.size() + 1, 3);
  uint64_t status = 0;
  if (!parseDecimal(code, 3, status) || status < 100 || status > 699) return false;
  const std::string_view rest = line.substr(kSipVersion.size() + 4);
  if (!rest.empty() && rest[0] != ' ') return false;
  out.is_request = false;
  out.status_code = static_cast<uint16_t>(status);
  out.reason = trim(rest);
  return true;
}

bool parseStartLine(std::string_view line, StartLine& out) {
  if (startsWithNoCase(line, "SIP/")) return parseStatusLine(line, out);
  return parseRequestLine(line, out);
}

// "314159 INVITE"
bool parseCSeq(std::string_view value, SipMessage& out) {
  size_t i = 0;
  while (i < value.size() && isDigit(value[i])) ++i;
  uint64_t number = 0;
  if (!parseDecimal(value.substr(0, i), 10, number) || number > UINT32_MAX) return false;
  const std::string_view method = trim(value.substr(i));
  if (i == value.size() || !isWs(value[i]) || !isToken(method)) return false;
  out.cseq_number = static_cast<uint32_t>(number);
  out.cseq_method = method;
  return true;
}

// Skips a quoted string starting at s[i] == '"'; returns the index after the closing quote or npos.
size_t skipQuoted(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;  // escaped character (bounds checked by the loop condition)
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return npos;
}

}  // namespace

bool isSipStartLine(std::string_view line) {
  StartLine scratch;
  return parseStartLine(line, scratch);
}

size_t findSipHeadEnd(std::string_view text, size_t from) {
  for (size_t i = text.find('\n', from); i != npos; i = text.find('\n', i + 1)) {
    if (i + 1 < text.size() && text[i + 1] == '\n') return i + 2;
    if (i + 2 < text.size() && text[i + 1] == '\r' && text[i + 2] == '\n') return i + 3;
  }
  return npos;
}

bool SipHeaderReader::next(std::string_view& name, std::string_view& value) {
  while (pos_ < text_.size()) {
    size_t next = 0;
    const size_t line_begin = pos_;
    const std::string_view line = lineAt(text_, pos_, next);
    pos_ = next;
    if (line.empty()) {  // the empty line ending the head
      pos_ = text_.size();
      return false;
    }
    const size_t colon = line.find(':');
    if (isSpace(line[0]) || colon == npos) {  // continuation without a field, or no colon
      ++bad_lines_;
      continue;
    }
    std::string_view field_name = line.substr(0, colon);
    while (!field_name.empty() && isSpace(field_name.back())) field_name.remove_suffix(1);
    if (!isToken(field_name)) {
      ++bad_lines_;
      continue;
    }
    const size_t value_begin = line_begin + colon + 1;
    size_t value_end = line_begin + line.size();
    // Folded continuation lines (RFC 3261 LWS) belong to this value.
    while (pos_ < text_.size()) {
      const std::string_view more = lineAt(text_, pos_, next);
      if (more.empty() || !isSpace(more[0])) break;
      value_end = pos_ + more.size();
      pos_ = next;
    }
    name = field_name;
    value = trim(text_.substr(value_begin, value_end - value_begin));
    return true;
  }
  return false;
}

SipHeader classifySipHeader(std::string_view name) {
  if (name.size() == 1) {
    switch (lower(name[0])) {
      case 'i': return SipHeader::kCallId;
      case 'f': return SipHeader::kFrom;
      case 't': return SipHeader::kTo;
      case 'v': return SipHeader::kVia;
      case 'l': return SipHeader::kContentLength;
      case 'c': return SipHeader::kContentType;
      default: return SipHeader::kOther;
    }
  }
  struct Entry {
    std::string_view name;
    SipHeader header;
  };
  static constexpr Entry kNames[] = {
      {"call-id", SipHeader::kCallId},          {"from", SipHeader::kFrom},
      {"to", SipHeader::kTo},                   {"via", SipHeader::kVia},
      {"cseq", SipHeader::kCSeq},               {"content-length", SipHeader::kContentLength},
      {"content-type", SipHeader::kContentType}, {"user-agent", SipHeader::kUserAgent},
      {"p-asserted-identity", SipHeader::kPAssertedIdentity},
  };
  for (const Entry& e : kNames) {
    if (equalsNoCase(name, e.name)) return e.header;
  }
  return SipHeader::kOther;
}

SipLength sipContentLength(std::string_view head, uint64_t& length) {
  size_t after_start_line = 0;
  lineAt(head, 0, after_start_line);
  SipHeaderReader reader(head.substr(after_start_line));
  std::string_view name, value;
  SipLength result = SipLength::kAbsent;
  while (reader.next(name, value)) {
    if (classifySipHeader(name) != SipHeader::kContentLength) continue;
    uint64_t v = 0;
    if (!parseContentLength(value, v)) return SipLength::kBad;
    if (result == SipLength::kOk && v != length) return SipLength::kBad;
    length = v;
    result = SipLength::kOk;
  }
  return result;
}

bool parseSipAddress(std::string_view value, SipAddress& out) {
  // Find '<' outside the quoted display name.
  size_t lt = npos;
  bool quoted = false;
  for (size_t i = 0; i < value.size();) {
    if (value[i] == '"') {
      i = skipQuoted(value, i);
      if (i == npos) return false;
      quoted = true;
      continue;
    }
    if (value[i] == '<') {
      lt = i;
      break;
    }
    ++i;
  }
  std::string_view uri, params;
  if (lt != npos) {
    const size_t gt = value.find('>', lt + 1);
    if (gt == npos) return false;
    uri = trim(value.substr(lt + 1, gt - lt - 1));
    params = value.substr(gt + 1);
  } else {
    // addr-spec: parameters after the URI are header parameters (RFC 3261 20.10).
    if (quoted) return false;
    const size_t stop = value.find_first_of(";,");
    uri = trim(value.substr(0, stop));
    params = stop == npos ? std::string_view() : value.substr(stop);
  }
  if (uri.empty() || uri.find(':') == npos) return false;
  for (char c : uri) {
    if (isWs(c) || c == '<' || c == '>') return false;
  }
  out.uri = uri;
  out.tag = sipParam(params, "tag");
  return true;
}

bool findSipUriUser(std::string_view uri, size_t& begin, size_t& end) {
  const size_t colon = uri.find(':');
  if (colon == npos) return false;
  if (equalsNoCase(uri.substr(0, colon), "tel")) {
    begin = colon + 1;
    end = uri.find(';', begin);
    if (end == npos) end = uri.size();
    return end > begin;
  }
  const size_t at = uri.find('@', colon + 1);
  if (at == npos) return false;
  begin = colon + 1;
  end = at;
  return true;
}

std::string_view sipParam(std::string_view params, std::string_view name) {
  size_t pos = 0;
  while (pos < params.size()) {
    const size_t semi = params.find(';', pos);
    if (semi == npos) break;
    // Stop at a ',' between values (Via, P-Asserted-Identity lists).
    const size_t comma = params.find(',', pos);
    if (comma != npos && comma < semi) break;
    size_t end = params.find_first_of(";,", semi + 1);
    if (end == npos) end = params.size();
    const std::string_view param = params.substr(semi + 1, end - semi - 1);
    const size_t eq = param.find('=');
    if (equalsNoCase(trim(param.substr(0, eq)), name)) {
      return eq == npos ? std::string_view() : trim(param.substr(eq + 1));
    }
    pos = end;
  }
  return {};
}

SipParseResult parseSipMessage(std::string_view bytes, bool datagram, SipMessage& out, SipStats& stats) {
  size_t headers_begin = 0;
  StartLine start;
  if (!parseStartLine(lineAt(bytes, 0, headers_begin), start)) {
    stats.malformed_start_line.add();
    return SipParseResult::kMalformed;
  }
  out.is_request = start.is_request;
  out.method = start.method;
  out.request_uri = start.request_uri;
  out.status_code = start.status_code;
  out.reason = start.reason;
  // A datagram without the empty line has headers up to its end and no body.
  size_t head_end = findSipHeadEnd(bytes, 0);
  if (head_end == npos) head_end = bytes.size();

  bool have_call_id = false, have_cseq = false, have_from = false, have_to = false, have_via = false;
  bool have_user_agent = false, have_pai = false, bad_cseq = false, bad_address = false, bad_length = false;
  bool have_length = false;
  uint64_t content_length = 0;
  std::string_view content_type;
  SipHeaderReader reader(bytes.substr(headers_begin, head_end - headers_begin));
  std::string_view name, value;
  while (reader.next(name, value)) {
    const SipHeader header = classifySipHeader(name);
    switch (header) {
      case SipHeader::kCallId:
        if (!have_call_id && !value.empty()) {
          out.call_id = value;
          have_call_id = true;
        }
        break;
      case SipHeader::kFrom:
      case SipHeader::kTo: {
        const bool is_from = header == SipHeader::kFrom;
        bool& have = is_from ? have_from : have_to;
        if (have) break;
        have = true;
        SipAddress address;
        if (!parseSipAddress(value, address)) {
          bad_address = true;
          break;
        }
        (is_from ? out.from_uri : out.to_uri) = address.uri;
        (is_from ? out.from_tag : out.to_tag) = address.tag;
        break;
      }
      case SipHeader::kVia:
        if (!have_via) {
          have_via = true;
          const size_t semi = value.find(';');
          if (semi != npos) out.via_branch = sipParam(value.substr(semi), "branch");
        }
        break;
      case SipHeader::kCSeq:
        if (!have_cseq) {
          have_cseq = true;
          bad_cseq = !parseCSeq(value, out);
        }
        break;
      case SipHeader::kContentLength: {
        uint64_t v = 0;
        if (!parseContentLength(value, v) || (have_length && v != content_length)) bad_length = true;
        content_length = v;
        have_length = true;
        break;
      }
      case SipHeader::kContentType:
        content_type = trim(value.substr(0, value.find(';')));
        break;
      case SipHeader::kUserAgent:
        if (!have_user_agent) {
          out.user_agent = value;
          have_user_agent = true;
        }
        break;
      case SipHeader::kPAssertedIdentity:
        if (!have_pai) {
          have_pai = true;
          SipAddress address;
          if (parseSipAddress(value, address)) out.pai_uri = address.uri;
        }
        break;
      case SipHeader::kOther:
        break;
    }
  }
  stats.bad_header_lines.add(reader.badLines());

  if (!have_call_id) {
    stats.malformed_missing_call_id.add();
    return SipParseResult::kMalformed;
  }
  if (!have_cseq) {
    stats.malformed_missing_cseq.add();
    return SipParseResult::kMalformed;
  }
  if (bad_cseq) {
    stats.malformed_bad_cseq.add();
    return SipParseResult::kMalformed;
  }
  if (!have_from) {
    stats.malformed_missing_from.add();
    return SipParseResult::kMalformed;
  }
  if (!have_to) {
    stats.malformed_missing_to.add();
    return SipParseResult::kMalformed;
  }
  if (bad_address) {
    stats.malformed_bad_address.add();
    return SipParseResult::kMalformed;
  }
  if (bad_length) {
    stats.malformed_bad_content_length.add();
    return SipParseResult::kMalformed;
  }

  std::string_view body = bytes.substr(head_end);
  if (datagram && have_length) {
    if (content_length > body.size()) {
      stats.malformed_truncated_datagram.add();
      return SipParseResult::kMalformed;
    }
    body = body.substr(0, content_length);  // bytes past Content-Length are ignored (RFC 3261 18.3)
  }
  out.raw = bytes.substr(0, head_end + body.size());
  if (!body.empty() && equalsNoCase(content_type, "application/sdp")) parseSdp(body, out, stats);
  return SipParseResult::kOk;
}

std::string_view staticPayloadName(std::string_view payload_type) {
  // RFC 3551 tables 4 and 5; "" for dynamic or unassigned numbers.
  static constexpr std::array<std::string_view, 35> kNames = {
      "PCMU/8000", "", "", "GSM/8000", "G723/8000", "DVI4/8000", "DVI4/16000", "LPC/8000",
      "PCMA/8000", "G722/8000", "L16/44100/2", "L16/44100", "QCELP/8000", "CN/8000", "MPA/90000",
      "G728/8000", "DVI4/11025", "DVI4/22050", "G729/8000", "", "", "", "", "", "", "CelB/90000",
      "JPEG/90000", "", "nv/90000", "", "", "H261/90000", "MPV/90000", "MP2T/90000", "H263/90000",
  };
  uint64_t pt = 0;
  if (!parseDecimal(payload_type, 2, pt) || pt >= kNames.size()) return {};
  return kNames[pt];
}

namespace {

// Splits `s` at single spaces: the next token, advancing `pos`.
std::string_view nextToken(std::string_view s, size_t& pos) {
  while (pos < s.size() && isSpace(s[pos])) ++pos;
  const size_t begin = pos;
  while (pos < s.size() && !isSpace(s[pos])) ++pos;
  return s.substr(begin, pos - begin);
}

// "IN IP4 192.0.2.1/127" -> "192.0.2.1"
bool parseConnection(std::string_view value, std::string_view& address) {
  size_t pos = 0;
  const std::string_view net = nextToken(value, pos);
  const std::string_view addr_type = nextToken(value, pos);
  std::string_view addr = nextToken(value, pos);
  if (net.empty() || addr_type.empty() || addr.empty()) return false;
  addr = addr.substr(0, addr.find('/'));
  if (addr.empty()) return false;
  address = addr;
  return true;
}

}  // namespace

void parseSdp(std::string_view body, SipMessage& out, SipStats& stats) {
  std::string_view session_address;
  SipMedia* media = nullptr;  // current media section, null if none or not reported
  bool in_media = false;      // past the first m= line: c= lines are media level
  std::string_view formats[SipMedia::kMaxCodecs];  // payload numbers of the current media, for a=rtpmap
  size_t pos = 0;
  while (pos < body.size()) {
    size_t next = 0;
    const std::string_view line = lineAt(body, pos, next);
    pos = next;
    if (line.size() < 2 || line[1] != '=') continue;
    const std::string_view value = line.substr(2);
    switch (line[0]) {
      case 'c': {
        std::string_view address;
        if (!parseConnection(value, address)) {
          stats.sdp_bad_lines.add();
        } else if (!in_media) {
          session_address = address;
        } else if (media != nullptr) {
          media->address = address;
        }
        break;
      }
      case 'm': {
        in_media = true;
        media = nullptr;
        size_t p = 0;
        const std::string_view type = nextToken(value, p);
        const std::string_view port_text = nextToken(value, p);
        const std::string_view protocol = nextToken(value, p);
        uint64_t port = 0;
        if (type.empty() || protocol.empty() || !parseDecimal(port_text.substr(0, port_text.find('/')), 5, port) ||
            port > 65535) {
          stats.sdp_bad_lines.add();
          break;
        }
        if (out.media_count == SipMessage::kMaxMedia) {
          stats.sdp_media_truncated.add();
          break;
        }
        media = &out.media[out.media_count++];
        *media = SipMedia{};
        media->type = type;
        media->address = session_address;
        media->protocol = protocol;
        media->port = static_cast<uint16_t>(port);
        for (std::string_view format = nextToken(value, p); !format.empty(); format = nextToken(value, p)) {
          if (media->codec_count == SipMedia::kMaxCodecs) {
            stats.sdp_codecs_truncated.add();
            continue;
          }
          const std::string_view name = staticPayloadName(format);
          formats[media->codec_count] = format;
          media->codecs[media->codec_count++] = name.empty() ? format : name;
        }
        break;
      }
      case 'a': {
        // a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]
        if (media == nullptr || value.substr(0, 7) != "rtpmap:") break;
        size_t p = 7;
        const std::string_view payload_type = nextToken(value, p);
        const std::string_view encoding = trim(value.substr(p));
        if (payload_type.empty() || encoding.empty()) break;
        for (size_t i = 0; i < media->codec_count; ++i) {
          if (formats[i] == payload_type) media->codecs[i] = encoding;
        }
        break;
      }
      default:
        break;
    }
  }
}

}  // namespace tapflow
